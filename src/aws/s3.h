/*
 * S3 bucket and object calls the workflows need, typed.  The multipart
 * upload itself lives in src/transfer/ (it drives many requests at once);
 * these are the single requests around it.
 */
#ifndef VMIE_AWS_S3_H
#define VMIE_AWS_S3_H

#include <stdint.h>

#include "aws/client.h"
#include "base/buf.h"
#include "base/kv.h"
#include "vmie.h"

typedef enum vs3_bucket_state {
	VS3_BUCKET_EXISTS,    /* ours (or at least reachable) */
	VS3_BUCKET_MISSING,   /* 404: nobody has it */
	VS3_BUCKET_FORBIDDEN, /* 403: someone else's */
} vs3_bucket_state;

/* HeadBucket: the state, or a status with err set for anything else.
 * *region (may be NULL; free it) is the x-amz-bucket-region S3 answered
 * with, when it did: for a bucket in another region the answer is a 301
 * or a 400 that carries it, and the bucket counts as existing. */
int vs3_head_bucket(vaws_client *c, const char *bucket, vs3_bucket_state *state,
		    char **region, vmie_error *err);
/* GetBucketLocation, normalised: "" is us-east-1 and "EU" eu-west-1. */
int vs3_bucket_region(vaws_client *c, const char *bucket, char **region,
		      vmie_error *err);
/* CreateBucket in region (no LocationConstraint for us-east-1);
 * BucketAlreadyOwnedByYou counts as success. */
int vs3_create_bucket(vaws_client *c, const char *bucket, const char *region,
		      vmie_error *err);
/* All four public-access blocks on. */
int vs3_put_public_access_block(vaws_client *c, const char *bucket,
				vmie_error *err);
/* Default encryption SSE-S3 (AES256). */
int vs3_put_bucket_encryption_sse_s3(vaws_client *c, const char *bucket,
				     vmie_error *err);

/* A lifecycle rule for the whole bucket: incomplete multipart uploads
 * are aborted `days` after they began (what nothing else cleans up:
 * the upload of a run nobody resumed).  Replaces the bucket's lifecycle
 * configuration: for buckets vmie creates. */
int vs3_put_lifecycle_abort_uploads(vaws_client *c, const char *bucket,
				    unsigned days, vmie_error *err);

/* GetBucketEncryption: *algorithm is "AES256", "aws:kms", "aws:kms:dsse"
 * (the first rule's SSEAlgorithm), or NULL when the bucket has no
 * default encryption configuration
 * (ServerSideEncryptionConfigurationNotFoundError). */
int vs3_bucket_encryption(vaws_client *c, const char *bucket, char **algorithm,
			  vmie_error *err);

typedef struct vs3_object {
	uint64_t size;
	char *etag;
	char *checksum_crc32c;
	char *storage_class;
} vs3_object;
void vs3_object_free(vs3_object *o);

/* HeadObject: 0 found (out filled), VS3_NOT_FOUND for a 404 (err
 * cleared), or a status with err set. */
#define VS3_NOT_FOUND 1
int vs3_head_object(vaws_client *c, const char *bucket, const char *key,
		    vs3_object *out, vmie_error *err);
/* GetObject of bytes [off, off+len): appended to out. */
int vs3_get_range(vaws_client *c, const char *bucket, const char *key,
		  uint64_t off, uint64_t len, vbuf *out, vmie_error *err);

/* Small objects for coordination (s3_objects.c). */

/* PutObject of body only if the key does not exist (If-None-Match: *):
 * 0 written, VS3_EXISTS when S3 answers 412 (the key exists) or 409
 * ConditionalRequestConflict (a concurrent write to it is in flight),
 * err cleared; else a status with err set. */
#define VS3_EXISTS 2
int vs3_put_if_absent(vaws_client *c, const char *bucket, const char *key,
		      const char *body, vmie_error *err);
/* DeleteObject (also 0 when the key was not there). */
int vs3_delete_object(vaws_client *c, const char *bucket, const char *key,
		      vmie_error *err);
/* ListObjectsV2 under prefix, every page: each key is appended to keys
 * (with an empty value). */
int vs3_list_keys(vaws_client *c, const char *bucket, const char *prefix,
		  vkv *keys, vmie_error *err);

#endif
