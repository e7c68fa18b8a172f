/*
 * AWS Signature Version 4: the Authorization-header form and the query
 * (presigned URL) form.  Conformant byte for byte with the AWS signing
 * test suite (../shared/sigv4-suite) and with S3's rules.
 *
 * The signer works on a request that is already laid out: method, the
 * path exactly as it will go on the wire, the raw query string, headers and
 * the payload (or its hash).  It never logs anything: the canonical request
 * and string to sign are returned only when the caller asks (tests, debug).
 */
#ifndef VMIE_AWS_SIGV4_H
#define VMIE_AWS_SIGV4_H

#include <stdbool.h>
#include <time.h>

#include "base/buf.h"
#include "base/kv.h"

#define VSIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define VSIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct vsigv4_key {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;   /* NULL when the credentials have none */
} vsigv4_key;

typedef struct vsigv4_params {
	vsigv4_key key;
	const char *region;          /* signing region ("us-east-1" for IAM) */
	const char *service;         /* signing name: "ec2", "s3", "iam", ... */
	time_t when;                 /* request time (UTC seconds) */
	/* Remove "." and ".." segments and collapse "//" in the path before
	 * encoding it.  true for every service except S3. */
	bool normalize_path;
	/* URI-encode the path (already-encoded octets get encoded again, as
	 * the suite requires).  true for every service except S3, whose keys
	 * are encoded exactly once by the caller: when false, only bytes that
	 * are neither unreserved, '/' nor part of a valid %XX escape are
	 * encoded (a stray space or UTF-8 byte), escapes are kept as given. */
	bool double_encode_path;
	/* Add an x-amz-content-sha256 header carrying the payload hash (S3
	 * always; elsewhere when asked).  Header form only. */
	bool content_sha256_header;
	/* Session token sent but not signed (the suite's omit_session_token;
	 * some services want it added after signing). */
	bool omit_session_token;
	/* Precomputed payload hash: hex SHA-256, "UNSIGNED-PAYLOAD" or a
	 * STREAMING-* value.  NULL: hash body/body_len (except a presigned
	 * S3 URL, which then signs "UNSIGNED-PAYLOAD"). */
	const char *payload_hash;
	long expires;                /* query form: X-Amz-Expires, 1..604800 */
} vsigv4_params;

typedef struct vsigv4_request {
	const char *method;
	const char *path;            /* "/a/b" as on the wire (no query) */
	const char *query;           /* raw query after '?', or NULL */
	vkv *headers;                /* must hold Host; the signer adds to it */
	const void *body;
	size_t body_len;
} vsigv4_request;

/* Zero it before first use; vsigv4_result_free() between uses (the
 * signers overwrite it).  The canonical request and the signed query may
 * hold the session token, so vsigv4_result_free() wipes them. */
typedef struct vsigv4_result {
	vbuf canonical_request;
	vbuf string_to_sign;
	char signature[65];          /* lowercase hex */
	/* Header form: the Authorization value (also added to headers).
	 * Query form: the full signed query string, X-Amz-Signature included,
	 * to put after '?'. */
	vbuf authorization;
	vbuf signed_query;
} vsigv4_result;

/*
 * Header form: adds X-Amz-Date, X-Amz-Security-Token (when a token is
 * given), x-amz-content-sha256 (when asked) and Authorization to
 * rq->headers, replacing any earlier copy (so a retry can sign again).
 * Every header is signed except those a transport may add or rewrite
 * after signing: Authorization, Connection, Expect, Transfer-Encoding,
 * User-Agent, X-Amzn-Trace-Id.  out may be NULL.
 * Returns 0, or -1 on a malformed request (no Host, missing key, region
 * or service, body_len without body).
 */
int vsigv4_sign_headers(const vsigv4_params *p, vsigv4_request *rq,
			vsigv4_result *out);

/* Query form (presigned URL): headers are signed but not changed; any
 * X-Amz-Signature, X-Amz-Date, ... already in rq->query is dropped.  The
 * URL's query is out->signed_query (out required).  Same -1 cases, plus
 * expires out of range. */
int vsigv4_presign(const vsigv4_params *p, vsigv4_request *rq,
		   vsigv4_result *out);

void vsigv4_result_free(vsigv4_result *r);

/* Hex SHA-256 of data into out[65]. */
void vsigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* "20150830T123600Z" into out[17]. */
void vsigv4_amz_date(time_t when, char out[17]);

#endif
