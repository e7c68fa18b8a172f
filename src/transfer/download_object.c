/*
 * What the downloader learns before the first byte: HeadObject with
 * checksum mode (size, ETag, CRC32C or CRC-64/NVME, encryption), how the
 * bytes can be verified, and, when a check works part by part (a multipart
 * ETag, a COMPOSITE CRC32C), where the parts begin: HeadObject
 * ?partNumber=N answers with part N's length (Content-Length) and, from S3,
 * its range (Content-Range; some S3-compatible servers leave it out).
 * Uploaders cut every part but the last to one size, so parts 1 and N give
 * the layout of any object in two calls; the verification asks for every
 * part only if that layout fails the check (vdl_object_exact_layout).
 */
#include "transfer/download_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

void vdl_object_free(vdl_object *ob)
{
	if (!ob)
		return;
	free(ob->etag);
	free(ob->crc32c);
	free(ob->crc64nvme);
	free(ob->part_off);
	memset(ob, 0, sizeof(*ob));
}

unsigned vdl_etag_parts(const char *etag, bool *is_md5)
{
	*is_md5 = false;
	if (!etag)
		return 0;
	const char *s = etag[0] == '"' ? etag + 1 : etag;
	size_t n = strlen(s);
	if (n && s[n - 1] == '"')
		n--;
	for (size_t i = 0; i < 32; i++)
		if (i >= n || !isxdigit((unsigned char)s[i]))
			return 0;
	if (n == 32) {
		*is_md5 = true;
		return 0;
	}
	if (s[32] != '-' || n == 33)
		return 0;
	unsigned long parts = 0;
	for (size_t i = 33; i < n; i++) {
		if (!isdigit((unsigned char)s[i]) || parts > 100000)
			return 0;
		parts = parts * 10 + (unsigned long)(s[i] - '0');
	}
	if (parts < 1 || parts > 10000)
		return 0;
	*is_md5 = true;
	return (unsigned)parts;
}

/* "xxxx==-N": N; 0 for a full-object value. */
static unsigned checksum_parts(const char *v)
{
	const char *d = strrchr(v, '-');
	if (!d)
		return 0;
	unsigned long n = strtoul(d + 1, NULL, 10);
	return n >= 1 && n <= 10000 ? (unsigned)n : 0;
}

static int head(vaws_client *c, const char *bucket, const char *key,
		unsigned part, vhttp_response *rs, vmie_error *err)
{
	vkv h = VKV_INIT, q = VKV_INIT;
	char num[16];
	vkv_add(&h, "x-amz-checksum-mode", "ENABLED");
	if (part) {
		snprintf(num, sizeof num, "%u", part);
		vkv_add(&q, "partNumber", num);
	}
	vaws_rest_request rq = {.operation = "HeadObject", .method = "HEAD",
				.bucket = bucket, .key = key, .headers = &h,
				.query = part ? &q : NULL};
	int rc = vaws_rest(c, &rq, rs, err);
	if (rc != 0 && rs->status == 404) {
		vmie_error_clear(err);
		verr_set(err, VMIE_ERR_AWS_REQUEST_FAILED,
			 "s3://%s/%s: no such object (or no such bucket)",
			 bucket, key);
		verr_hint(err, "check the bucket, the key and the region "
			       "(aws s3 ls s3://%s/)",
			  bucket);
		if (err) {
			err->service = xstrdup("s3");
			err->operation = xstrdup("HeadObject");
			err->aws_code = xstrdup("NoSuchKey");
			err->http_status = 404;
		}
	}
	vkv_free(&h);
	vkv_free(&q);
	return rc;
}

/* Part n's length from its HeadObject answer, and its first byte when the
 * answer has a Content-Range (*start is UINT64_MAX when it has not: the
 * caller knows it from the parts before, or from the object's end). */
static int part_range(vaws_client *c, const char *bucket, const char *key,
		      unsigned n, uint64_t *start, uint64_t *len,
		      vmie_error *err)
{
	vhttp_response rs = {0};
	int rc = head(c, bucket, key, n, &rs, err);
	if (rc == 0) {
		const char *cr = vkv_get_ci(&rs.headers, "Content-Range");
		const char *cl = vkv_get_ci(&rs.headers, "Content-Length");
		unsigned long long a, b, total;
		char *end = NULL;
		if (cr && sscanf(cr, "bytes %llu-%llu/%llu", &a, &b, &total) == 3 &&
		    b >= a) {
			*start = a;
			*len = b - a + 1;
		} else if (cl && *cl && (*len = strtoull(cl, &end, 10), !*end)) {
			*start = n == 1 ? 0 : UINT64_MAX;
		} else {
			rc = verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				      "S3 HeadObject ?partNumber=%u of "
				      "s3://%s/%s: neither Content-Range nor "
				      "Content-Length",
				      n, bucket, key);
		}
	}
	vhttp_response_free(&rs);
	return rc;
}

static int bad_layout(const vdl_object *ob, const char *bucket,
		      const char *key, vmie_error *err)
{
	verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
		 "s3://%s/%s: its %u parts do not add up to its %" PRIu64
		 " bytes",
		 bucket, key, ob->parts, ob->size);
	return verr_hint(err, "the object may have changed while it was "
			      "read: run the download again");
}

int vdl_object_exact_layout(vaws_client *c, const char *bucket,
			    const char *key, vdl_object *ob, vmie_error *err)
{
	uint64_t *off = xcalloc((size_t)ob->parts + 1, sizeof(*off));
	int rc = 0;
	for (unsigned n = 1; n <= ob->parts && rc == 0; n++) {
		uint64_t start, len;
		rc = part_range(c, bucket, key, n, &start, &len, err);
		if (rc == 0 && start == UINT64_MAX)
			start = off[n - 1];
		if (rc == 0 && start != off[n - 1])
			rc = bad_layout(ob, bucket, key, err);
		if (rc == 0)
			off[n] = start + len;
	}
	if (rc == 0 && off[ob->parts] != ob->size)
		rc = bad_layout(ob, bucket, key, err);
	if (rc != 0) {
		free(off);
		return rc;
	}
	free(ob->part_off);
	ob->part_off = off;
	ob->layout_assumed = false;
	return 0;
}

/* Parts 1 and N; every part when they do not describe equal parts. */
static int layout(vaws_client *c, const char *bucket, const char *key,
		  vdl_object *ob, vmie_error *err)
{
	unsigned n = ob->parts;
	uint64_t s1, p1, sn = 0, pn = 0;
	int rc = part_range(c, bucket, key, 1, &s1, &p1, err);
	if (rc == 0 && n > 1)
		rc = part_range(c, bucket, key, n, &sn, &pn, err);
	if (rc != 0)
		return rc;
	/* Without Content-Range the last part ends where the object does. */
	if (n > 1 && sn == UINT64_MAX)
		sn = pn <= ob->size ? ob->size - pn : UINT64_MAX;
	if (n == 1) {
		if (s1 != 0 || p1 != ob->size)
			return bad_layout(ob, bucket, key, err);
		sn = 0;
		pn = p1;
	}
	if (n > 1 && (s1 != 0 || !p1 || sn != (uint64_t)(n - 1) * p1 ||
		      sn + pn != ob->size || pn > p1))
		return vdl_object_exact_layout(c, bucket, key, ob, err);
	ob->part_off = xcalloc((size_t)n + 1, sizeof(*ob->part_off));
	for (unsigned i = 0; i < n; i++)
		ob->part_off[i] = (uint64_t)i * p1;
	ob->part_off[n] = ob->size;
	ob->layout_assumed = n > 2;
	return 0;
}

static void choose_check(vdl_object *ob, const vhttp_response *rs)
{
	const char *sse = vkv_get_ci(&rs->headers,
				     "x-amz-server-side-encryption");
	const char *ssec = vkv_get_ci(
		&rs->headers,
		"x-amz-server-side-encryption-customer-algorithm");
	/* S3's ETag is the MD5 only under SSE-S3 or no encryption. */
	ob->etag_not_md5 = ssec || (sse && strncmp(sse, "aws:kms", 7) == 0);
	bool is_md5;
	unsigned etag_parts = vdl_etag_parts(ob->etag, &is_md5);
	if (ob->crc32c && *ob->crc32c) {
		ob->parts = checksum_parts(ob->crc32c);
		ob->verify = ob->parts ? VDL_VERIFY_CRC_COMPOSITE
				       : VDL_VERIFY_CRC_FULL;
		if (!ob->parts)
			ob->parts = etag_parts;
	} else if (ob->crc64nvme && *ob->crc64nvme) {
		/* Before an MD5 ETag: a whole-object value (no part layout
		 * to learn), and cheaper to compute than MD5. */
		ob->parts = etag_parts;
		ob->verify = VDL_VERIFY_CRC64;
	} else if (is_md5 && !ob->etag_not_md5) {
		ob->parts = etag_parts;
		ob->verify = etag_parts ? VDL_VERIFY_MD5_MULTIPART
					: VDL_VERIFY_MD5;
	} else {
		ob->parts = etag_parts;
		ob->verify = VDL_VERIFY_NONE;
	}
}

int vdl_object_head(vaws_client *c, const char *bucket, const char *key,
		    vdl_object *ob, vmie_error *err)
{
	vhttp_response rs = {0};
	memset(ob, 0, sizeof(*ob));
	int rc = head(c, bucket, key, 0, &rs, err);
	if (rc == 0) {
		const char *len = vkv_get_ci(&rs.headers, "Content-Length");
		const char *etag = vkv_get_ci(&rs.headers, "ETag");
		const char *crc = vkv_get_ci(&rs.headers,
					     "x-amz-checksum-crc32c");
		const char *crc64 = vkv_get_ci(&rs.headers,
					       "x-amz-checksum-crc64nvme");
		ob->size = len ? strtoull(len, NULL, 10) : 0;
		ob->etag = xstrdup(etag ? etag : "");
		ob->crc32c = crc ? xstrdup(crc) : NULL;
		ob->crc64nvme = crc64 ? xstrdup(crc64) : NULL;
		choose_check(ob, &rs);
		if (!len || !etag || !*etag)
			rc = verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				      "S3 HeadObject of s3://%s/%s: no "
				      "Content-Length or ETag",
				      bucket, key);
	}
	vhttp_response_free(&rs);
	if (rc == 0 && ob->parts &&
	    (ob->verify == VDL_VERIFY_CRC_COMPOSITE ||
	     ob->verify == VDL_VERIFY_MD5_MULTIPART))
		rc = layout(c, bucket, key, ob, err);
	if (rc != 0)
		vdl_object_free(ob);
	return rc;
}
