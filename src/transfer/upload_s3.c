/*
 * The upload's control calls, through vaws_rest: CreateMultipartUpload
 * (CRC32C, storage class, metadata), CompleteMultipartUpload (every part's
 * ETag and CRC32C), AbortMultipartUpload, and ListParts for a resume.
 */
#include "transfer/upload_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/awserr.h"
#include "aws/s3.h"
#include "aws/xml.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/log.h"
#include "base/xalloc.h"

/* Complete answers 200 and may still have failed (S3 reports errors met
 * after it started answering in the body); such answers are retried. */
#define COMPLETE_ATTEMPTS 3

/* "?uploads": a query name with no value. */
static void add_bare(vkv *q, const char *name)
{
	vkv_add(q, name, "");
	free(q->items[q->n - 1].value);
	q->items[q->n - 1].value = NULL;
}

static int unreadable(const char *op, const vhttp_response *rs,
		      vmie_error *err)
{
	verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
		 "S3 %s: the answer (HTTP %ld) is not the XML S3 sends", op,
		 rs->status);
	verr_hint(err, "check that --endpoint-url / AWS_ENDPOINT_URL points "
		       "at S3 or a compatible service");
	if (err) {
		err->service = xstrdup("s3");
		err->operation = xstrdup(op);
		err->http_status = rs->status;
	}
	return VMIE_ERR_AWS_S3_UPLOAD_FAILED;
}

int vup_s3_create(vup_run *r, vmie_error *err)
{
	const vupload_opts *o = r->o;
	vkv q = VKV_INIT, h = VKV_INIT;
	vbuf name = VBUF_INIT;
	add_bare(&q, "uploads");
	vkv_add(&h, "x-amz-checksum-algorithm", "CRC32C");
	if (o->storage_class && *o->storage_class)
		vkv_add(&h, "x-amz-storage-class", o->storage_class);
	for (size_t i = 0; o->metadata && i < o->metadata->n; i++) {
		vbuf_reset(&name);
		vbuf_addf(&name, "x-amz-meta-%s", o->metadata->items[i].key);
		vkv_add(&h, vbuf_str(&name), o->metadata->items[i].value);
	}
	/* Not idempotent, but a retry after a lost answer only leaves an
	 * empty upload behind, while giving up fails the import. */
	vaws_rest_request rq = {
		.operation = "CreateMultipartUpload",
		.method = "POST",
		.bucket = o->bucket,
		.key = o->key,
		.query = &q,
		.headers = &h,
		.safe_to_retry = true,
	};
	vhttp_response rs = {0};
	vxml *doc = NULL;
	int rc = vaws_rest(o->client, &rq, &rs, err);
	if (rc == 0) {
		doc = vxml_parse(rs.body.data, rs.body.len);
		r->upload_id = doc ? vxml_text(vxml_root(doc), "UploadId")
				   : NULL;
		if (!r->upload_id || !*r->upload_id)
			rc = unreadable("CreateMultipartUpload", &rs, err);
	}
	vxml_free(doc);
	vhttp_response_free(&rs);
	vbuf_free(&name);
	vkv_free(&q);
	vkv_free(&h);
	return rc;
}

static void add_escaped(vbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': vbuf_adds(b, "&amp;"); break;
		case '<': vbuf_adds(b, "&lt;"); break;
		case '>': vbuf_adds(b, "&gt;"); break;
		default: vbuf_addch(b, *s); break;
		}
	}
}

static void complete_body(const vup_run *r, vbuf *b)
{
	vbuf_adds(b, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/"
		     "doc/2006-03-01/\">");
	for (unsigned i = 0; i < r->parts_done; i++) {
		char crc[9];
		vcrc32c_b64(r->parts[i].crc, crc);
		vbuf_addf(b, "<Part><ChecksumCRC32C>%s</ChecksumCRC32C><ETag>",
			  crc);
		add_escaped(b, r->parts[i].etag);
		vbuf_addf(b, "</ETag><PartNumber>%u</PartNumber></Part>",
			  i + 1);
	}
	vbuf_adds(b, "</CompleteMultipartUpload>");
}

/* A 200 whose body is an <Error>: fills err, returns whether a retry may
 * help. */
static bool error_in_200(const vhttp_response *rs, vmie_error *err)
{
	vawserr_info info = {0};
	vawserr_parse(rs, &info);
	vretry_outcome o = {VHTTP_OK, 500, info.code};
	bool transient = vretry_is_transient(&o) ||
			 vretry_is_throttling(info.code);
	vawserr_fill(err, "s3", "CompleteMultipartUpload", rs->status, &info);
	vawserr_info_free(&info);
	return transient;
}

int vup_s3_complete(vup_run *r, char **etag, char **checksum,
		    vmie_error *err)
{
	const vupload_opts *o = r->o;
	*etag = *checksum = NULL;
	vkv q = VKV_INIT;
	vbuf body = VBUF_INIT;
	vkv_add(&q, "uploadId", r->upload_id);
	complete_body(r, &body);
	vaws_rest_request rq = {
		.operation = "CompleteMultipartUpload",
		.method = "POST",
		.bucket = o->bucket,
		.key = o->key,
		.query = &q,
		.body = body.data,
		.body_len = body.len,
		/* S3 answers a repeated Complete as it did the first. */
		.safe_to_retry = true,
	};
	vhttp_response rs = {0};
	int rc = 0;
	for (int attempt = 1;; attempt++) {
		rc = vaws_rest(o->client, &rq, &rs, err);
		if (rc != 0)
			break;
		vxml *doc = vxml_parse(rs.body.data, rs.body.len);
		vxml_node *root = doc ? vxml_root(doc) : NULL;
		if (root && strcmp(vxml_name(root), "Error") == 0) {
			rc = VMIE_ERR_AWS_REQUEST_FAILED;
			bool again = error_in_200(&rs, err);
			vxml_free(doc);
			if (again && attempt < COMPLETE_ATTEMPTS) {
				struct timespec ts = {attempt, 0};
				nanosleep(&ts, NULL);
				continue;
			}
			break;
		}
		if (root && strcmp(vxml_name(root),
				   "CompleteMultipartUploadResult") == 0) {
			*etag = vxml_text(root, "ETag");
			*checksum = vxml_text(root, "ChecksumCRC32C");
		}
		vxml_free(doc);
		if (!*etag)
			rc = unreadable("CompleteMultipartUpload", &rs, err);
		break;
	}
	vhttp_response_free(&rs);
	vbuf_free(&body);
	vkv_free(&q);
	return rc;
}

bool vupload_abort(vaws_client *c, const char *bucket, const char *key,
		   const char *upload_id)
{
	vkv q = VKV_INIT;
	vkv_add(&q, "uploadId", upload_id);
	vaws_rest_request rq = {
		.operation = "AbortMultipartUpload",
		.method = "DELETE",
		.bucket = bucket,
		.key = key,
		.query = &q,
	};
	vhttp_response rs = {0};
	vmie_error err = {0};
	int rc = vaws_rest(c, &rq, &rs, &err);
	bool ok = rc == 0 || rs.status == 404;
	if (ok) {
		vlog_debug("aborted the multipart upload of s3://%s/%s", bucket, key);
	} else {
		vlog_warn("could not abort the multipart upload of s3://%s/%s "
			  "(%s); its parts are billed until it is aborted: aws "
			  "s3api abort-multipart-upload --bucket %s --key %s "
			  "--upload-id %s",
			  bucket, key, err.message ? err.message : "unknown error",
			  bucket, key, upload_id);
	}
	vmie_error_clear(&err);
	vhttp_response_free(&rs);
	vkv_free(&q);
	return ok;
}

void vup_s3_abort(vup_run *r)
{
	if (r->upload_id)
		vupload_abort(r->o->client, r->o->bucket, r->o->key, r->upload_id);
}

int vup_s3_completed(vup_run *r, const char *composite, char **etag)
{
	vs3_object obj = {0};
	vmie_error e = {0};
	int found = vs3_head_object(r->o->client, r->o->bucket, r->o->key, &obj, &e) == 0 &&
		    obj.checksum_crc32c && strcmp(obj.checksum_crc32c, composite) == 0;
	if (found) {
		free(*etag);
		*etag = obj.etag;
		obj.etag = NULL;
	}
	vs3_object_free(&obj);
	vmie_error_clear(&e);
	return found;
}

void vupload_part_infos_free(vupload_part_info *parts, size_t n)
{
	for (size_t i = 0; parts && i < n; i++)
		free(parts[i].etag);
	free(parts);
}

/* One page of ListParts into *parts; *next the marker of the next page,
 * 0 when this was the last. */
static int list_page(vaws_client *c, const vaws_rest_request *rq,
		     vupload_part_info **parts, size_t *n, size_t *cap,
		     unsigned *next, vmie_error *err)
{
	vhttp_response rs = {0};
	vxml *doc = NULL;
	int rc = vaws_rest(c, rq, &rs, err);
	*next = 0;
	if (rc != 0) {
		if (rs.status == 404 && err && err->aws_code &&
		    strcmp(err->aws_code, "NoSuchUpload") == 0) {
			vmie_error_clear(err);
			rc = VUPLOAD_NO_SUCH_UPLOAD;
		}
		goto out;
	}
	doc = vxml_parse(rs.body.data, rs.body.len);
	vxml_node *root = doc ? vxml_root(doc) : NULL;
	if (!root || strcmp(vxml_name(root), "ListPartsResult") != 0) {
		rc = unreadable("ListParts", &rs, err);
		goto out;
	}
	for (vxml_node *p = vxml_child(root, "Part"); p; p = vxml_next(p, "Part")) {
		char *num = vxml_text(p, "PartNumber"), *size = vxml_text(p, "Size");
		char *crc = vxml_text(p, "ChecksumCRC32C");
		xgrow((void **)parts, cap, *n + 1, sizeof(**parts));
		vupload_part_info *pi = &(*parts)[(*n)++];
		memset(pi, 0, sizeof(*pi));
		pi->number = num ? (unsigned)strtoul(num, NULL, 10) : 0;
		pi->size = size ? strtoull(size, NULL, 10) : 0;
		pi->etag = vxml_text(p, "ETag");
		pi->has_crc = crc && vcrc32c_from_b64(crc, &pi->crc);
		free(num);
		free(size);
		free(crc);
		if (!pi->number || !pi->etag) {
			rc = unreadable("ListParts", &rs, err);
			goto out;
		}
	}
	char *trunc = vxml_text(root, "IsTruncated");
	char *marker = vxml_text(root, "NextPartNumberMarker");
	if (trunc && strcmp(trunc, "true") == 0 && marker)
		*next = (unsigned)strtoul(marker, NULL, 10);
	free(trunc);
	free(marker);
out:
	vxml_free(doc);
	vhttp_response_free(&rs);
	return rc;
}

int vupload_list_parts(vaws_client *c, const char *bucket, const char *key,
		       const char *upload_id, vupload_part_info **parts,
		       size_t *n, vmie_error *err)
{
	size_t cap = 0;
	unsigned marker = 0;
	int rc;
	*parts = NULL;
	*n = 0;
	do {
		char m[16];
		vkv q = VKV_INIT;
		vkv_add(&q, "uploadId", upload_id);
		if (marker) {
			snprintf(m, sizeof m, "%u", marker);
			vkv_add(&q, "part-number-marker", m);
		}
		vaws_rest_request rq = {.operation = "ListParts", .method = "GET",
					.bucket = bucket, .key = key, .query = &q};
		unsigned prev = marker;
		rc = list_page(c, &rq, parts, n, &cap, &marker, err);
		vkv_free(&q);
		/* A marker that does not move on would loop forever. */
		if (rc == 0 && marker && marker <= prev)
			rc = verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
				      "S3 ListParts: the next page starts where "
				      "this one did (part %u)", marker);
	} while (rc == 0 && marker);
	if (rc != 0) {
		vupload_part_infos_free(*parts, *n);
		*parts = NULL;
		*n = 0;
	}
	return rc;
}

int vupload_list_uploads(vaws_client *c, const char *bucket, const char *key,
			 long long since, char ***ids, size_t *n, vmie_error *err)
{
	vkv q = VKV_INIT;
	add_bare(&q, "uploads");
	vkv_add(&q, "prefix", key);
	vaws_rest_request rq = {.operation = "ListMultipartUploads", .method = "GET",
				.bucket = bucket, .query = &q};
	vhttp_response rs = {0};
	vxml *doc = NULL;
	size_t cap = 0;
	*ids = NULL;
	*n = 0;
	int rc = vaws_rest(c, &rq, &rs, err);
	if (rc == 0) {
		doc = vxml_parse(rs.body.data, rs.body.len);
		vxml_node *root = doc ? vxml_root(doc) : NULL;
		if (!root || strcmp(vxml_name(root), "ListMultipartUploadsResult") != 0)
			rc = unreadable("ListMultipartUploads", &rs, err);
		for (vxml_node *u = root ? vxml_child(root, "Upload") : NULL; rc == 0 && u;
		     u = vxml_next(u, "Upload")) {
			char *k = vxml_text(u, "Key"), *id = vxml_text(u, "UploadId");
			char *at = vxml_text(u, "Initiated");
			time_t t = 0;
			if (k && id && strcmp(k, key) == 0 && visotime_parse(at, &t) == 0 &&
			    (long long)t >= since) {
				xgrow((void **)ids, &cap, *n + 1, sizeof(**ids));
				(*ids)[(*n)++] = id;
				id = NULL;
			}
			free(k);
			free(id);
			free(at);
		}
	}
	vxml_free(doc);
	vhttp_response_free(&rs);
	vkv_free(&q);
	return rc;
}
