/*
 * One ranged GetObject on the wire: signed when it starts (credentials
 * that refresh mid-download are picked up), with Range and If-Match (the
 * object must not change under the download), received into the slot's
 * block and written at the chunk's offset as each block fills; CRC32C
 * (and the part's MD5 when the ETag check needs it) computed on the way.
 * An error answer's body is kept for the error parser instead.  The easy
 * handle and the options every transfer shares are inflight.c's.
 */
#include "transfer/download_internal.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"
#include "codec/crc64nvme.h"

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
	if (sl->r->obj.verify == VDL_VERIFY_CRC64)
		sl->crc64 = vcrc64nvme(sl->crc64, sl->buf, sl->blen);
	if (sl->md5)
		EVP_DigestUpdate(sl->md5, sl->buf, sl->blen);
	uint64_t off = c->off + sl->got - sl->blen;
	int e = vdl_target_write(&sl->r->t, sl->buf, sl->blen, off,
				 sl->r->skip_zero && !c->stale, &sl->skipped);
	sl->blen = 0;
	return e;
}

bool vdl_right_range(const vxfer_slot *xs, long status, uint64_t off,
		     uint64_t len, uint64_t size)
{
	if (status == 200)
		return off == 0 && len == size;
	const char *cr = vkv_get_ci(&xs->rs.headers, "Content-Range");
	unsigned long long a, b, total;
	return cr && sscanf(cr, "bytes %llu-%llu/%llu", &a, &b, &total) == 3 &&
	       a == off && b + 1 == off + len && total == size;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	vdl_slot *sl = ctx;
	size_t len = size * n;
	if (!vxfer_receive(sl->xs, len))
		return CURL_WRITEFUNC_PAUSE;
	if (sl->body == 0) {
		long status = 0;
		curl_easy_getinfo(sl->xs->easy, CURLINFO_RESPONSE_CODE, &status);
		sl->body = status == 200 || status == 206 ? 1 : -1;
		if (sl->body == 1 &&
		    !vdl_right_range(sl->xs, status, sl->chunk->off,
				     sl->chunk->len, sl->r->obj.size)) {
			sl->bad_range = true;
			return 0;
		}
	}
	if (sl->body < 0) {
		if (sl->xs->rs.body.len + len <= MAX_ERROR_BODY)
			vbuf_add(&sl->xs->rs.body, p, len);
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

/* A new attempt starts the chunk over: its digests and its count. */
static void reset_attempt(vdl_slot *sl)
{
	sl->blen = 0;
	sl->got = sl->skipped = 0;
	sl->crc = 0;
	sl->crc64 = 0;
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

int vdl_get_send(vdl_run *r, vxfer *x, vxfer_slot *xs, uint64_t off,
		 uint64_t end, curl_write_callback sink, void *ctx,
		 vmie_error *err)
{
	char range[64], what[80];
	snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, off,
		 end - 1);
	snprintf(what, sizeof what, "bytes %" PRIu64 "-%" PRIu64, off,
		 end - 1);
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
	int rc = vxfer_prepare(x, xs, &rq, blank_headers, err);
	if (rc == 0) {
		curl_easy_setopt(xs->easy, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(xs->easy, CURLOPT_WRITEDATA, ctx);
		curl_easy_setopt(xs->easy, CURLOPT_BUFFERSIZE, 512L << 10);
		curl_easy_setopt(xs->easy, CURLOPT_HTTPGET, 1L);
		rc = vxfer_add(x, xs, what, err);
	}
	vkv_free(&h);
	return rc;
}

int vdl_get_start(vdl_run *r, vxfer *x, vxfer_slot *xs, vmie_error *err)
{
	vdl_slot *sl = xs->data;
	vdl_chunk *c = vdl_chunk_of(xs->job);
	sl->r = r;
	sl->chunk = c;
	reset_attempt(sl);
	return vdl_get_send(r, x, xs, c->off, c->off + c->len, on_body, sl,
			    err);
}

void vdl_get_bad_range(vhttp_response *rs)
{
	rs->status = 0;
	rs->transport = VHTTP_IO;
	free(rs->transport_error);
	rs->transport_error = xstrdup("S3 answered with another range than "
				      "the one asked for");
}

void vdl_get_end(vdl_slot *sl)
{
	vhttp_response *rs = &sl->xs->rs;
	if (sl->body == 1 && !sl->write_errno && !sl->bad_range)
		sl->write_errno = flush(sl);
	if (sl->bad_range)
		vdl_get_bad_range(rs);
}

void vdl_slot_free(vdl_slot *sl)
{
	if (sl->md5)
		EVP_MD_CTX_free(sl->md5);
	free(sl->buf);
	memset(sl, 0, sizeof(*sl));
}
