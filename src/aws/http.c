/*
 * vhttp over one libcurl easy handle.  Reusing the handle keeps its
 * connection cache, so consecutive calls to the same endpoint skip the TCP
 * and TLS handshakes.  TLS verification is never turned off: there is no
 * option to do so.
 */
#include "aws/http.h"
#include "base/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* No AWS control-plane answer comes near this; a larger body means we are
 * talking to something that is not AWS. */
#define VHTTP_MAX_BODY (64u << 20)

struct vhttp {
	CURL *curl;
	char *ca_bundle;
	long connect_timeout_ms;
	long low_speed_time_s;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

vhttp *vhttp_new(const vhttp_opts *opts)
{
	pthread_once(&curl_once, curl_init_once);
	vhttp *h = xcalloc(1, sizeof(*h));
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return NULL;
	}
	h->ca_bundle = xstrdup(opts ? opts->ca_bundle : NULL);
	h->connect_timeout_ms =
		opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
	h->low_speed_time_s =
		opts && opts->low_speed_time_s ? opts->low_speed_time_s : 60;
	return h;
}

void vhttp_free(vhttp *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h->ca_bundle);
	free(h);
}

void vhttp_response_free(vhttp_response *rs)
{
	vkv_free(&rs->headers);
	vbuf_free(&rs->body);
	free(rs->transport_error);
	memset(rs, 0, sizeof(*rs));
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	vhttp_response *rs = ctx;
	size_t len = size * n;
	if (rs->body.len + len > VHTTP_MAX_BODY)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	vbuf_add(&rs->body, p, len);
	return len;
}

size_t vhttp_header_cb(char *p, size_t size, size_t n, void *ctx)
{
	vhttp_response *rs = ctx;
	size_t len = size * n;
	/* A new status line (after 100 Continue) starts a new header set. */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		vkv_free(&rs->headers);
		return len;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return len;
	size_t klen = (size_t)(colon - p);
	const char *v = colon + 1;
	const char *end = p + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
			   end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (klen > 0)
		vkv_addn(&rs->headers, p, klen, v, (size_t)(end - v));
	return len;
}

char *vhttp_transport_words(void *easy, int code, const char *errbuf)
{
	const char *text = errbuf && errbuf[0] ? errbuf : curl_easy_strerror((CURLcode)code);
	long os = 0;
	curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os);
	if (os != ECONNREFUSED || strstr(text, "refused"))
		return xstrdup(text);
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s (connection refused)", text);
	return vbuf_detach(&b);
}

vhttp_transport vhttp_classify(int code)
{
	CURLcode rc = (CURLcode)code;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return VHTTP_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return VHTTP_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return VHTTP_TLS;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return VHTTP_IO;
	default:
		return VHTTP_OTHER;
	}
}

/* Headers as curl wants them.  curl adds Accept, Content-Type (for POST),
 * and Expect (for large bodies) on its own; those would go out unsigned or
 * change the exchange, so each is blanked unless the caller set it. */
static struct curl_slist *build_headers(const vkv *hdrs)
{
	struct curl_slist *list = NULL;
	static const char *const blank[] = {"Accept", "Content-Type", "Expect"};
	vbuf line = VBUF_INIT;
	for (size_t i = 0; hdrs && i < hdrs->n; i++) {
		vbuf_reset(&line);
		if (hdrs->items[i].value[0])
			vbuf_addf(&line, "%s: %s", hdrs->items[i].key,
				  hdrs->items[i].value);
		else /* "Name;" is curl's way to send an empty value */
			vbuf_addf(&line, "%s;", hdrs->items[i].key);
		list = curl_slist_append(list, vbuf_str(&line));
	}
	for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
		if (hdrs && vkv_get_ci(hdrs, blank[i]))
			continue;
		vbuf_reset(&line);
		vbuf_addf(&line, "%s:", blank[i]);
		list = curl_slist_append(list, vbuf_str(&line));
	}
	vbuf_free(&line);
	return list;
}

void vhttp_easy_defaults(void *easy, const char *url, const char *ca_bundle,
			 long connect_timeout_ms, long low_speed_time_s,
			 char *errbuf, vhttp_response *rs)
{
	CURL *c = easy;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_bundle)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_bundle);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, low_speed_time_s);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vmie/" VMIE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, vhttp_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
}

int vhttp_send(vhttp *h, const vhttp_request *rq, vhttp_response *rs)
{
	CURL *c = h->curl;
	char errbuf[CURL_ERROR_SIZE] = "";
	vhttp_response_free(rs);

	vhttp_easy_defaults(c, rq->url, h->ca_bundle, h->connect_timeout_ms,
			    h->low_speed_time_s, errbuf, rs);
	if (rq->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);

	const char *m = rq->method ? rq->method : "GET";
	if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "GET") != 0 || rq->body) {
		/* POSTFIELDS sends the body from memory for any method; an
		 * empty body still needs a non-NULL pointer. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)rq->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
				 rq->body ? rq->body : (const void *)"");
		if (strcmp(m, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	}
	struct curl_slist *hl = build_headers(rq->headers);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	/* Keep the handle from pointing at stack memory after we return. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		rs->transport = rc == CURLE_WRITE_ERROR ? VHTTP_IO : vhttp_classify(rc);
		rs->transport_error = rc == CURLE_WRITE_ERROR
					      ? xstrdup("response body too large")
					      : vhttp_transport_words(c, rc, errbuf);
		rs->status = 0;
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	rs->transport = VHTTP_OK;
	return 0;
}

void vhttp_uri_encode(vbuf *out, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~' || (keep_slash && ch == '/')) {
			vbuf_addch(out, (char)ch);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			vbuf_add(out, e, 3);
		}
	}
}
