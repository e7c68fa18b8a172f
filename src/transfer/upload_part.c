/*
 * One UploadPart on the wire: signed when it starts (credentials that
 * refresh mid-upload are picked up), with Content-Length, the part's
 * CRC32C (S3 checks it) and an UNSIGNED-PAYLOAD hash, sent from the part
 * buffer by a reused easy handle; its answer captured for the sender.
 * TLS settings are vhttp's: always verified, the configured CA bundle.
 */
#include "transfer/upload_internal.h"

#include <stdlib.h>
#include <string.h>

#include "aws/client_sign.h"
#include "aws/sigv4.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "transfer/curl_headers.h"

/* An UploadPart answer is headers and at most an error document. */
#define MAX_RESPONSE_BODY (64u << 10)

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	vhttp_response *rs = ctx;
	size_t len = size * n;
	if (rs->body.len + len <= MAX_RESPONSE_BODY)
		vbuf_add(&rs->body, p, len);
	return len;
}

/* curl adds Accept, Content-Type (for a body) and Expect (100-continue
 * for large bodies) on its own: unsigned, and the last costs a round
 * trip per part, so each is sent blank. */
static const char *const blank_headers[] = {"Accept", "Content-Type", "Expect", NULL};

static void setup_easy(vup_slot *sl, const char *ca_bundle,
		       const char *url)
{
	CURL *e = sl->easy;
	vup_buf *b = sl->buf;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_bundle)
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_bundle);
	/* One connection per part in flight: S3 speaks HTTP/1.1 only. */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "vmie/" VMIE_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sl->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &sl->rs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, vhttp_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &sl->rs);
	curl_easy_setopt(e, CURLOPT_PRIVATE, sl);
	/* Fewer, larger writes to the socket. */
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
	/* Read from the part buffer (POSTFIELDS does not duplicate it). */
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS,
			 b->len ? (const void *)b->data : (const void *)"");
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl->hdrs);
}

int vup_part_start(vup_run *r, vup_slot *sl, CURLM *multi,
		   const char *ca_bundle, vmie_error *err)
{
	vup_buf *b = sl->buf;
	char num[16], len[24], crc[9];
	snprintf(num, sizeof num, "%u", b->part);
	snprintf(len, sizeof len, "%zu", b->len);
	vcrc32c_b64(b->crc, crc);
	vkv q = VKV_INIT, h = VKV_INIT;
	vkv_add(&q, "partNumber", num);
	vkv_add(&q, "uploadId", r->upload_id);
	vkv_add(&h, "Content-Length", len);
	vkv_add(&h, "x-amz-checksum-crc32c", crc);
	vaws_rest_request rq = {
		.operation = "UploadPart",
		.method = "PUT",
		.bucket = r->o->bucket,
		.key = r->o->key,
		.query = &q,
		.headers = &h,
		.payload_hash = VSIGV4_UNSIGNED_PAYLOAD,
	};
	vaws_signed_request sr = {0};
	int rc = vaws_client_sign_rest(r->o->client, &rq, &sr, err);
	if (rc == 0) {
		vhttp_response_free(&sl->rs);
		sl->errbuf[0] = '\0';
		sl->hdrs = vxfer_curl_headers(&sr.headers, blank_headers);
		setup_easy(sl, ca_bundle, sr.url);
		if (curl_multi_add_handle(multi, sl->easy) != CURLM_OK) {
			vxfer_curl_headers_free(sl->hdrs);
			sl->hdrs = NULL;
			rc = verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
				      "cannot start the transfer of part %u",
				      b->part);
		}
	}
	vaws_signed_request_free(&sr);
	vkv_free(&q);
	vkv_free(&h);
	return rc;
}

long vup_part_end(vup_slot *sl, CURLcode cc)
{
	vhttp_response *rs = &sl->rs;
	long connects = 0;
	curl_easy_getinfo(sl->easy, CURLINFO_NUM_CONNECTS, &connects);
	vxfer_curl_headers_free(sl->hdrs);
	sl->hdrs = NULL;
	if (cc == CURLE_OK) {
		curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE,
				  &rs->status);
		rs->transport = VHTTP_OK;
	} else {
		rs->status = 0;
		rs->transport = vhttp_classify(cc);
		rs->transport_error = xstrdup(sl->errbuf[0]
						      ? sl->errbuf
						      : curl_easy_strerror(cc));
	}
	return connects;
}

void vup_slot_free(vup_slot *sl, CURLM *multi)
{
	if (sl->hdrs)
		curl_multi_remove_handle(multi, sl->easy);
	vxfer_curl_headers_free(sl->hdrs);
	vhttp_response_free(&sl->rs);
	if (sl->easy)
		curl_easy_cleanup(sl->easy);
	memset(sl, 0, sizeof(*sl));
}
