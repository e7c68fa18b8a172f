#include "aws/http.h"
#include "check.h"
#include "http_stub.h"

#include <stdlib.h>

static void test_methods_and_headers(http_stub *s, vhttp *h)
{
	http_stub_add(s, "POST", "/q", 200, "x-amzn-RequestId: r-1\r\n", "ok-body");
	vbuf url = VBUF_INIT;
	vbuf_addf(&url, "%s/q?a=1", http_stub_url(s));
	vkv hdr = VKV_INIT;
	vkv_add(&hdr, "X-Amz-Date", "20150830T123600Z");
	vkv_add(&hdr, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
	vhttp_request rq = {"POST", vbuf_str(&url), &hdr, "Action=X", 8, 5000};
	vhttp_response rs = {0};
	CHECK_INT(vhttp_send(h, &rq, &rs), 0);
	CHECK_INT(rs.status, 200);
	CHECK_STR(vbuf_str(&rs.body), "ok-body");
	CHECK_STR(vkv_get_ci(&rs.headers, "X-AMZN-REQUESTID"), "r-1");

	http_stub_request got = {0};
	CHECK(http_stub_request_get(s, 0, &got));
	CHECK_STR(got.method, "POST");
	CHECK_STR(got.target, "/q?a=1");
	CHECK_STR(got.body, "Action=X");
	char *v = http_stub_header(&got, "x-amz-date");
	CHECK_STR(v, "20150830T123600Z");
	free(v);
	v = http_stub_header(&got, "content-type");
	CHECK_STR(v, "application/x-www-form-urlencoded; charset=utf-8");
	free(v);
	/* curl's own Accept and Expect would go out unsigned: blanked. */
	v = http_stub_header(&got, "accept");
	CHECK(v == NULL);
	free(v);
	v = http_stub_header(&got, "expect");
	CHECK(v == NULL);
	free(v);
	http_stub_request_free(&got);

	/* PUT with an empty body, HEAD without one */
	http_stub_add(s, "PUT", "/p", 200, NULL, "");
	http_stub_add(s, "HEAD", "/h", 404, "x-amz-request-id: h-1\r\n", NULL);
	vbuf_reset(&url);
	vbuf_addf(&url, "%s/p", http_stub_url(s));
	vhttp_request put = {"PUT", vbuf_str(&url), NULL, NULL, 0, 5000};
	CHECK_INT(vhttp_send(h, &put, &rs), 0);
	CHECK_INT(rs.status, 200);
	CHECK_INT(http_stub_count(s, "PUT", "/p"), 1);
	vbuf_reset(&url);
	vbuf_addf(&url, "%s/h", http_stub_url(s));
	vhttp_request head = {"HEAD", vbuf_str(&url), NULL, NULL, 0, 5000};
	CHECK_INT(vhttp_send(h, &head, &rs), 0);
	CHECK_INT(rs.status, 404);
	CHECK_INT(rs.body.len, 0);
	CHECK_STR(vkv_get_ci(&rs.headers, "x-amz-request-id"), "h-1");

	vhttp_response_free(&rs);
	vkv_free(&hdr);
	vbuf_free(&url);
}

static void test_failures(http_stub *s, vhttp *h)
{
	vhttp_response rs = {0};
	/* Refused: nothing listens on port 9 of loopback. */
	vhttp_request refused = {"GET", "http://127.0.0.1:9/", NULL, NULL, 0, 5000};
	CHECK_INT(vhttp_send(h, &refused, &rs), -1);
	CHECK_INT(rs.transport, VHTTP_CONNECT);
	CHECK(rs.transport_error != NULL);

	/* Only http and https. */
	vhttp_request ftp = {"GET", "ftp://127.0.0.1/x", NULL, NULL, 0, 5000};
	CHECK_INT(vhttp_send(h, &ftp, &rs), -1);
	CHECK(rs.transport != VHTTP_OK);

	/* A request timeout. */
	http_stub_add_delayed(s, "GET", "/slow", 200, NULL, "late", 1500);
	vbuf url = VBUF_INIT;
	vbuf_addf(&url, "%s/slow", http_stub_url(s));
	vhttp_request slow = {"GET", vbuf_str(&url), NULL, NULL, 0, 300};
	CHECK_INT(vhttp_send(h, &slow, &rs), -1);
	CHECK_INT(rs.transport, VHTTP_TIMEOUT);

	vhttp_response_free(&rs);
	vbuf_free(&url);
}

static void test_uri_encode(void)
{
	vbuf b = VBUF_INIT;
	vhttp_uri_encode(&b, "a b/c~d+é", strlen("a b/c~d+é"), 1);
	CHECK_STR(vbuf_str(&b), "a%20b/c~d%2B%C3%A9");
	vbuf_reset(&b);
	vhttp_uri_encode(&b, "a/b=c", 5, 0);
	CHECK_STR(vbuf_str(&b), "a%2Fb%3Dc");
	vbuf_free(&b);
}

int main(void)
{
	test_uri_encode();
	http_stub *s = http_stub_start();
	vhttp *h = vhttp_new(NULL);
	CHECK(s != NULL && h != NULL);
	if (s && h) {
		test_methods_and_headers(s, h);
		test_failures(s, h);
	}
	vhttp_free(h);
	http_stub_stop(s);
	return check_done("http");
}
