/*
 * One ranged GetObject on the wire: signed when it starts (credentials
 * that refresh mid-download are picked up), with Range and If-Match (the
 * object must not change under the download), received into the slot's
 * block and written at the chunk's offset as each block fills; CRC32C
 * (and the part's MD5 when the ETag check needs it) computed on the way.
 * An error answer's body is kept for the error parser instead.
 */
#include "transfer/download_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/client_sign.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "transfer/curl_headers.h"
#include "codec/crc32c.h"

#define MAX_ERROR_BODY (64u << 10)

/* curl's own Accept would go unsigned: sent blank. */
static const char *const blank_headers[] = {"Accept", NULL};

/* Writes what the block holds (digests first: they see every byte). */
static int flush(vdl_slot *sl)
{
	vdl_chunk *c = sl->chunk;
	if (!sl->blen)
		return 0;
	sl->crc = vcrc32c(sl->crc, sl->buf, sl->blen);
	if (sl->md5)
		EVP_DigestUpdate(sl->md5, sl->buf, sl->blen);
	uint64_t off = c->off + sl->got - sl->blen;
	int e = vdl_target_write(&sl->r->t, sl->buf, sl->blen, off,
				 sl->r->skip_zero && !c->stale, &sl->skipped);
	sl->blen = 0;
	return e;
}

/* The answer is the range asked for: 206 with that Content-Range, or a
 * 200 of the whole object when that is the range. */
static bool right_range(vdl_slot *sl, long status)
{
	const vdl_chunk *c = sl->chunk;
	uint64_t size = sl->r->obj.size;
	if (status == 200)
		return c->off == 0 && c->len == size;
	const char *cr = vkv_get_ci(&sl->rs.headers, "Content-Range");
	unsigned long long a, b, total;
	return cr && sscanf(cr, "bytes %llu-%llu/%llu", &a, &b, &total) == 3 &&
	       a == c->off && b + 1 == c->off + c->len && total == size;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	vdl_slot *sl = ctx;
	size_t len = size * n;
	if (sl->body == 0) {
		long status = 0;
		curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &status);
		sl->body = status == 200 || status == 206 ? 1 : -1;
		if (sl->body == 1 && !right_range(sl, status)) {
			sl->bad_range = true;
			return 0;
		}
	}
	if (sl->body < 0) {
		if (sl->rs.body.len + len <= MAX_ERROR_BODY)
			vbuf_add(&sl->rs.body, p, len);
		return len;
	}
	if (sl->got + len > sl->chunk->len) {
		sl->bad_range = true;
		return 0;
	}
	sl->r->fetched += len;
	while (len > 0) {
		size_t take = VDL_BLOCK - sl->blen;
		if (take > len)
			take = len;
		memcpy(sl->buf + sl->blen, p, take);
		sl->blen += take;
		sl->got += take;
		p += take;
		len -= take;
		if (sl->blen == VDL_BLOCK && (sl->write_errno = flush(sl)))
			return 0;
	}
	return size * n;
}

static void setup_easy(vdl_slot *sl, const char *ca_bundle, const char *url)
{
	CURL *e = sl->easy;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_bundle)
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_bundle);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "vmie/" VMIE_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sl->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, sl);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, vhttp_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &sl->rs);
	curl_easy_setopt(e, CURLOPT_PRIVATE, sl);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L << 10);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl->hdrs);
}

/* A new attempt starts the chunk over: its digests and its count. */
static void reset_attempt(vdl_slot *sl)
{
	vhttp_response_free(&sl->rs);
	sl->errbuf[0] = '\0';
	sl->blen = 0;
	sl->got = sl->skipped = 0;
	sl->crc = 0;
	sl->write_errno = 0;
	sl->body = 0;
	sl->bad_range = false;
	if (sl->md5) {
		EVP_MD_CTX_free(sl->md5);
		sl->md5 = NULL;
	}
	if (sl->chunk->whole_part && (sl->r->obj.verify == VDL_VERIFY_MD5 ||
				      sl->r->obj.verify == VDL_VERIFY_MD5_MULTIPART)) {
		sl->md5 = EVP_MD_CTX_new();
		if (sl->md5 && !EVP_DigestInit_ex(sl->md5, EVP_md5(), NULL)) {
			EVP_MD_CTX_free(sl->md5);
			sl->md5 = NULL;
		}
	}
	if (!sl->buf)
		sl->buf = xmalloc(VDL_BLOCK);
}

int vdl_get_start(vdl_run *r, vdl_slot *sl, CURLM *multi,
		  const char *ca_bundle, vmie_error *err)
{
	vdl_chunk *c = sl->chunk;
	char range[64];
	snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, c->off,
		 c->off + c->len - 1);
	vkv h = VKV_INIT;
	vkv_add(&h, "Range", range);
	vkv_add(&h, "If-Match", r->obj.etag);
	vaws_rest_request rq = {
		.operation = "GetObject",
		.method = "GET",
		.bucket = r->o->bucket,
		.key = r->o->key,
		.headers = &h,
	};
	vaws_signed_request sr = {0};
	int rc = vaws_client_sign_rest(r->o->client, &rq, &sr, err);
	if (rc == 0) {
		sl->r = r;
		reset_attempt(sl);
		sl->hdrs = vxfer_curl_headers(&sr.headers, blank_headers);
		setup_easy(sl, ca_bundle, sr.url);
		if (curl_multi_add_handle(multi, sl->easy) != CURLM_OK) {
			vxfer_curl_headers_free(sl->hdrs);
			sl->hdrs = NULL;
			rc = verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
				      "cannot start the transfer of bytes "
				      "%" PRIu64 "-%" PRIu64,
				      c->off, c->off + c->len - 1);
		}
	}
	vaws_signed_request_free(&sr);
	vkv_free(&h);
	return rc;
}

long vdl_get_end(vdl_slot *sl, CURLcode cc)
{
	vhttp_response *rs = &sl->rs;
	long connects = 0;
	curl_easy_getinfo(sl->easy, CURLINFO_NUM_CONNECTS, &connects);
	vxfer_curl_headers_free(sl->hdrs);
	sl->hdrs = NULL;
	if (sl->body == 1 && !sl->write_errno && !sl->bad_range)
		sl->write_errno = flush(sl);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE,
				  &rs->status);
		rs->transport = VHTTP_OK;
	} else if (sl->bad_range) {
		rs->status = 0;
		rs->transport = VHTTP_IO;
		rs->transport_error = xstrdup("S3 answered with another range "
					      "than the one asked for");
	} else {
		rs->status = 0;
		rs->transport = vhttp_classify(cc);
		rs->transport_error = xstrdup(sl->errbuf[0]
						      ? sl->errbuf
						      : curl_easy_strerror(cc));
	}
	return connects;
}

void vdl_slot_free(vdl_slot *sl, CURLM *multi)
{
	if (sl->hdrs)
		curl_multi_remove_handle(multi, sl->easy);
	vxfer_curl_headers_free(sl->hdrs);
	vhttp_response_free(&sl->rs);
	if (sl->easy)
		curl_easy_cleanup(sl->easy);
	if (sl->md5)
		EVP_MD_CTX_free(sl->md5);
	free(sl->buf);
	memset(sl, 0, sizeof(*sl));
}
