/*
 * S3 single requests (s3.h) over vaws_rest.
 */
#include "aws/s3.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/kv.h"
#include "base/xalloc.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* Content-MD5: S3 requires it (or a flexible checksum) on the bucket
 * configuration calls. */
static void content_md5(vkv *h, const char *body)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	unsigned char b64[64];
	EVP_Digest(body, strlen(body), md, &n, EVP_md5(), NULL);
	EVP_EncodeBlock(b64, md, (int)n);
	vkv_add(h, "Content-MD5", (const char *)b64);
}

/* A PUT of a small XML document to a bucket subresource. */
static int put_config(vaws_client *c, const char *op, const char *bucket,
		      const char *subresource, const char *body, vmie_error *err)
{
	vkv q = VKV_INIT, h = VKV_INIT;
	vhttp_response rs = {0};
	if (subresource)
		vkv_add(&q, subresource, "");
	content_md5(&h, body);
	vkv_add(&h, "Content-Type", "application/xml");
	vaws_rest_request rq = {
		.operation = op, .method = "PUT", .bucket = bucket,
		.query = &q, .headers = &h, .body = body, .body_len = strlen(body),
	};
	int rc = vaws_rest(c, &rq, &rs, err);
	vhttp_response_free(&rs);
	vkv_free(&q);
	vkv_free(&h);
	return rc;
}

int vs3_head_bucket(vaws_client *c, const char *bucket, vs3_bucket_state *state,
		    char **region, vmie_error *err)
{
	vhttp_response rs = {0};
	vmie_error e = {0};
	vaws_rest_request rq = {.operation = "HeadBucket", .method = "HEAD",
				.bucket = bucket};
	int rc = vaws_rest(c, &rq, &rs, &e);
	const char *where = vkv_get_ci(&rs.headers, "x-amz-bucket-region");

	*state = VS3_BUCKET_EXISTS;
	*region = where && *where ? xstrdup(where) : NULL;
	/* A 403 is someone else's bucket, unless the client found that AWS
	 * refuses our credentials altogether (vaws_explain_forbidden). */
	if (rc != 0 && (rs.status == 404 || rs.status == 403) &&
	    e.status != VMIE_ERR_AWS_CREDENTIALS_INVALID) {
		*state = rs.status == 404 ? VS3_BUCKET_MISSING : VS3_BUCKET_FORBIDDEN;
		vmie_error_clear(&e);
		rc = 0;
	} else if (rc != 0 && (rs.status == 301 || (rs.status == 400 && *region))) {
		/* In another region (a regional endpoint redirects; a request
		 * signed for the wrong region is refused): it exists, and the
		 * answer says where. */
		vmie_error_clear(&e);
		rc = 0;
	}
	verr_move(err, &e);
	vhttp_response_free(&rs);
	return rc;
}

int vs3_bucket_region(vaws_client *c, const char *bucket, char **region,
		      vmie_error *err)
{
	vkv q = VKV_INIT;
	vhttp_response rs = {0};
	vkv_add(&q, "location", "");
	vaws_rest_request rq = {.operation = "GetBucketLocation", .method = "GET",
				.bucket = bucket, .query = &q};
	int rc = vaws_rest(c, &rq, &rs, err);
	vkv_free(&q);
	*region = NULL;
	if (rc == 0) {
		vxml *doc = vxml_parse(rs.body.data ? rs.body.data : "", rs.body.len);
		char *v = doc ? vxml_text(vxml_root(doc), NULL) : NULL;
		vxml_free(doc);
		if (!doc) {
			rc = verr_set(err, VMIE_ERR_AWS_REQUEST_FAILED,
				      "S3 GetBucketLocation: unreadable answer");
		} else if (!v || !*v) {
			*region = xstrdup("us-east-1");
		} else if (strcmp(v, "EU") == 0) {
			*region = xstrdup("eu-west-1");
		} else {
			*region = v;
			v = NULL;
		}
		free(v);
	}
	vhttp_response_free(&rs);
	return rc;
}

int vs3_create_bucket(vaws_client *c, const char *bucket, const char *region,
		      vmie_error *err)
{
	vbuf body = VBUF_INIT;
	vhttp_response rs = {0};
	vmie_error e = {0};

	if (strcmp(region, "us-east-1") != 0)
		vbuf_addf(&body, "<CreateBucketConfiguration xmlns=\"" S3_NS "\">"
			  "<LocationConstraint>%s</LocationConstraint>"
			  "</CreateBucketConfiguration>", region);
	vaws_rest_request rq = {.operation = "CreateBucket", .method = "PUT",
				.bucket = bucket, .body = body.data,
				.body_len = body.len};
	int rc = vaws_rest(c, &rq, &rs, &e);
	if (rc != 0 && e.aws_code && strcmp(e.aws_code, "BucketAlreadyOwnedByYou") == 0) {
		vmie_error_clear(&e);
		rc = 0;
	}
	verr_move(err, &e);
	vhttp_response_free(&rs);
	vbuf_free(&body);
	return rc;
}

int vs3_put_public_access_block(vaws_client *c, const char *bucket,
				vmie_error *err)
{
	return put_config(c, "PutPublicAccessBlock", bucket, "publicAccessBlock",
			  "<PublicAccessBlockConfiguration xmlns=\"" S3_NS "\">"
			  "<BlockPublicAcls>true</BlockPublicAcls>"
			  "<IgnorePublicAcls>true</IgnorePublicAcls>"
			  "<BlockPublicPolicy>true</BlockPublicPolicy>"
			  "<RestrictPublicBuckets>true</RestrictPublicBuckets>"
			  "</PublicAccessBlockConfiguration>", err);
}

int vs3_put_bucket_encryption_sse_s3(vaws_client *c, const char *bucket,
				     vmie_error *err)
{
	return put_config(c, "PutBucketEncryption", bucket, "encryption",
			  "<ServerSideEncryptionConfiguration xmlns=\"" S3_NS "\">"
			  "<Rule><ApplyServerSideEncryptionByDefault>"
			  "<SSEAlgorithm>AES256</SSEAlgorithm>"
			  "</ApplyServerSideEncryptionByDefault></Rule>"
			  "</ServerSideEncryptionConfiguration>", err);
}

int vs3_put_lifecycle_abort_uploads(vaws_client *c, const char *bucket,
				    unsigned days, vmie_error *err)
{
	char body[512];
	snprintf(body, sizeof body,
		 "<LifecycleConfiguration xmlns=\"" S3_NS "\"><Rule>"
		 "<ID>vmie-abort-incomplete-multipart-uploads</ID>"
		 "<Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
		 "<AbortIncompleteMultipartUpload><DaysAfterInitiation>%u"
		 "</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
		 "</Rule></LifecycleConfiguration>", days);
	return put_config(c, "PutBucketLifecycleConfiguration", bucket, "lifecycle",
			  body, err);
}

void vs3_object_free(vs3_object *o)
{
	if (!o)
		return;
	free(o->etag);
	free(o->checksum_crc32c);
	free(o->storage_class);
	memset(o, 0, sizeof(*o));
}

int vs3_head_object(vaws_client *c, const char *bucket, const char *key,
		    vs3_object *out, vmie_error *err)
{
	vhttp_response rs = {0};
	vmie_error e = {0};
	vkv h = VKV_INIT;
	vkv_add(&h, "x-amz-checksum-mode", "ENABLED");
	vaws_rest_request rq = {.operation = "HeadObject", .method = "HEAD",
				.bucket = bucket, .key = key, .headers = &h};
	int rc = vaws_rest(c, &rq, &rs, &e);

	memset(out, 0, sizeof(*out));
	if (rc != 0 && rs.status == 404) {
		vmie_error_clear(&e);
		rc = VS3_NOT_FOUND;
	} else if (rc == 0) {
		const char *len = vkv_get_ci(&rs.headers, "Content-Length");
		out->size = len ? strtoull(len, NULL, 10) : 0;
		out->etag = xstrdup(vkv_get_ci(&rs.headers, "ETag"));
		out->checksum_crc32c = xstrdup(vkv_get_ci(&rs.headers, "x-amz-checksum-crc32c"));
		out->storage_class = xstrdup(vkv_get_ci(&rs.headers, "x-amz-storage-class"));
	}
	verr_move(err, &e);
	vkv_free(&h);
	vhttp_response_free(&rs);
	return rc;
}

int vs3_get_range(vaws_client *c, const char *bucket, const char *key,
		  uint64_t off, uint64_t len, vbuf *out, vmie_error *err)
{
	vhttp_response rs = {0};
	vkv h = VKV_INIT;
	vbuf range = VBUF_INIT;

	if (!len)
		return 0;
	vbuf_addf(&range, "bytes=%llu-%llu", (unsigned long long)off,
		  (unsigned long long)(off + len - 1));
	vkv_add(&h, "Range", vbuf_str(&range));
	vaws_rest_request rq = {.operation = "GetObject", .method = "GET",
				.bucket = bucket, .key = key, .headers = &h};
	int rc = vaws_rest(c, &rq, &rs, err);
	if (rc == 0)
		vbuf_add(out, rs.body.data, rs.body.len);
	vkv_free(&h);
	vbuf_free(&range);
	vhttp_response_free(&rs);
	return rc;
}

int vs3_bucket_encryption(vaws_client *c, const char *bucket, char **algorithm,
			  vmie_error *err)
{
	vkv q = VKV_INIT;
	vhttp_response rs = {0};
	vmie_error e = {0};
	vkv_add(&q, "encryption", "");
	vaws_rest_request rq = {.operation = "GetBucketEncryption", .method = "GET",
				.bucket = bucket, .query = &q};
	int rc = vaws_rest(c, &rq, &rs, &e);

	*algorithm = NULL;
	if (rc != 0 && e.aws_code &&
	    strcmp(e.aws_code, "ServerSideEncryptionConfigurationNotFoundError") == 0) {
		/* Buckets made before 2023 may have no default encryption. */
		vmie_error_clear(&e);
		rc = 0;
	} else if (rc == 0) {
		vxml *doc = vxml_parse(rs.body.data ? rs.body.data : "", rs.body.len);
		if (!doc)
			rc = verr_set(&e, VMIE_ERR_AWS_REQUEST_FAILED,
				      "S3 GetBucketEncryption: unreadable answer");
		else
			*algorithm = vxml_text(vxml_root(doc),
					       "Rule/ApplyServerSideEncryptionByDefault/SSEAlgorithm");
		vxml_free(doc);
	}
	verr_move(err, &e);
	vkv_free(&q);
	vhttp_response_free(&rs);
	return rc;
}
