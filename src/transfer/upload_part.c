/*
 * One UploadPart on the wire: signed when it starts (credentials that
 * refresh mid-upload are picked up), with Content-Length, the part's
 * CRC32C (S3 checks it) and an UNSIGNED-PAYLOAD hash, sent from the part
 * buffer by a reused easy handle (inflight.c owns the handles and the
 * options every transfer shares).
 */
#include "transfer/upload_internal.h"

#include <stdio.h>
#include <stddef.h>

#include "aws/sigv4.h"

/* curl adds Accept, Content-Type (for a body) and Expect (100-continue
 * for large bodies) on its own: unsigned, and the last costs a round
 * trip per part, so each is sent blank. */
static const char *const blank_headers[] = {"Accept", "Content-Type", "Expect", NULL};

int vup_part_start(vup_run *r, vxfer *x, vxfer_slot *sl, vmie_error *err)
{
	vup_buf *b = (vup_buf *)((char *)sl->job - offsetof(vup_buf, job));
	char num[16], len[24], crc[9], what[32];
	snprintf(num, sizeof num, "%u", b->part);
	snprintf(len, sizeof len, "%zu", b->len);
	snprintf(what, sizeof what, "part %u", b->part);
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
	int rc = vxfer_prepare(x, sl, &rq, blank_headers, err);
	if (rc == 0) {
		CURL *e = sl->easy;
		/* Fewer, larger writes to the socket. */
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
		/* Read from the part buffer (POSTFIELDS does not copy it). */
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)b->len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS,
				 b->len ? (const void *)b->data
					: (const void *)"");
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
		rc = vxfer_add(x, sl, what, err);
	}
	vkv_free(&q);
	vkv_free(&h);
	return rc;
}
