/*
 * AWS Signature Version 4.
 *
 * The signer is pure: it reads the request, builds the canonical request
 * (sigv4_canon.c) and string to sign, derives the signing key and returns
 * the signature.  It never logs, and it wipes every buffer that held the
 * secret key or a key derived from it before freeing it.
 */
#include "aws/sigv4.h"
#include "aws/sigv4_canon.h"
#include "base/xalloc.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SHA256_LEN 32
/* A presigned URL lives at most seven days. */
#define MAX_EXPIRES (7L * 24 * 3600)

/* ---- crypto ---- */

static int hmac256(const void *key, size_t klen, const void *msg, size_t mlen,
		   unsigned char out[SHA256_LEN])
{
	unsigned int len = SHA256_LEN;

	if (HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len) == NULL ||
	    len != SHA256_LEN)
		return -1;
	return 0;
}

void vsigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_LEN];
	unsigned int mdlen = 0;

	if (data == NULL)
		data = "";
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != SHA256_LEN) {
		/* Only a broken libcrypto gets here; sign nothing valid. */
		memset(out, '0', 64);
		out[64] = '\0';
		return;
	}
	for (size_t i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

void vsigv4_amz_date(time_t when, char out[17])
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		memcpy(out, "19700101T000000Z", 17);
}

/*
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request").  Every intermediate key is wiped.
 */
static int derive_key(const vsigv4_params *p, const char *date,
		      unsigned char key[SHA256_LEN])
{
	const char *parts[] = { date, p->region, p->service, "aws4_request" };
	size_t slen = strlen(p->key.secret_access_key);
	char *first = xmalloc(slen + 5);
	unsigned char k[SHA256_LEN], next[SHA256_LEN];
	int rc = -1;

	memcpy(first, "AWS4", 4);
	memcpy(first + 4, p->key.secret_access_key, slen + 1);
	if (hmac256(first, slen + 4, parts[0], strlen(parts[0]), k) < 0)
		goto out;
	for (size_t i = 1; i < 4; i++) {
		if (hmac256(k, sizeof k, parts[i], strlen(parts[i]), next) < 0)
			goto out;
		memcpy(k, next, sizeof k);
	}
	memcpy(key, k, sizeof k);
	rc = 0;
out:
	secure_zero(k, sizeof k);
	secure_zero(next, sizeof next);
	secure_zero(first, slen + 5);
	free(first);
	return rc;
}

/* ---- the two forms ---- */

/* What both forms share once the canonical pieces are known. */
typedef struct signing {
	char amz_date[17];
	char date[9];
	vbuf scope;        /* 20150830/us-east-1/service/aws4_request */
	vbuf canon_hdrs;
	vbuf signed_names; /* host;x-amz-date */
	const char *payload_hash;
	char body_hash[65];
} signing;

static void signing_free(signing *s)
{
	vbuf_free(&s->scope);
	vbuf_free_secret(&s->canon_hdrs); /* may hold the session token */
	vbuf_free(&s->signed_names);
}

static bool valid_input(const vsigv4_params *p, const vsigv4_request *rq)
{
	return p && rq && rq->method && *rq->method && rq->headers &&
	       p->key.access_key_id && *p->key.access_key_id &&
	       p->key.secret_access_key && p->region && *p->region &&
	       p->service && *p->service &&
	       (rq->body || rq->body_len == 0) &&
	       vkv_get_ci(rq->headers, "host");
}

static void signing_init(signing *s, const vsigv4_params *p,
			 const vsigv4_request *rq)
{
	memset(s, 0, sizeof(*s));
	vsigv4_amz_date(p->when, s->amz_date);
	memcpy(s->date, s->amz_date, 8);
	s->date[8] = '\0';
	vbuf_addf(&s->scope, "%s/%s/%s/aws4_request", s->date, p->region,
		  p->service);
	s->payload_hash = p->payload_hash;
	if (s->payload_hash == NULL) {
		vsigv4_sha256_hex(rq->body, rq->body_len, s->body_hash);
		s->payload_hash = s->body_hash;
	}
}

/* Canonical request, string to sign and signature into out. */
static int finish(const vsigv4_params *p, const vsigv4_request *rq,
		  const signing *s, const char *canon_query, vsigv4_result *out)
{
	unsigned char key[SHA256_LEN], sig[SHA256_LEN];
	char crhash[65];
	vbuf *cr = &out->canonical_request, *sts = &out->string_to_sign;
	int rc = -1;

	vbuf_adds(cr, rq->method);
	vbuf_addch(cr, '\n');
	vsigv4_canonical_path(cr, p, rq->path);
	vbuf_addf(cr, "\n%s\n", canon_query);
	vbuf_add(cr, s->canon_hdrs.data, s->canon_hdrs.len);
	vbuf_addf(cr, "\n%s\n%s", vbuf_str(&s->signed_names), s->payload_hash);

	vsigv4_sha256_hex(cr->data, cr->len, crhash);
	vbuf_addf(sts, ALGORITHM "\n%s\n%s\n%s", s->amz_date,
		  vbuf_str(&s->scope), crhash);

	if (derive_key(p, s->date, key) < 0)
		goto out;
	if (hmac256(key, sizeof key, sts->data, sts->len, sig) < 0)
		goto out;
	for (size_t i = 0; i < SHA256_LEN; i++)
		snprintf(out->signature + 2 * i, 3, "%02x", sig[i]);
	rc = 0;
out:
	secure_zero(key, sizeof key);
	secure_zero(sig, sizeof sig);
	return rc;
}

int vsigv4_sign_headers(const vsigv4_params *p, vsigv4_request *rq,
			vsigv4_result *out)
{
	vsigv4_result local = { 0 };
	vsigv4_qlist q = { 0 };
	vbuf cq = VBUF_INIT;
	const char *token;
	signing s;
	int rc = -1;

	if (out == NULL)
		out = &local;
	memset(out, 0, sizeof(*out));
	if (!valid_input(p, rq))
		return -1;
	signing_init(&s, p, rq);
	token = p->key.session_token;
	if (token && *token == '\0')
		token = NULL;

	vkv_remove_ci(rq->headers, "Authorization");
	vkv_remove_ci(rq->headers, "X-Amz-Date");
	vkv_add(rq->headers, "X-Amz-Date", s.amz_date);
	if (token) {
		vkv_remove_ci(rq->headers, "X-Amz-Security-Token");
		vkv_add(rq->headers, "X-Amz-Security-Token", token);
	}
	if (p->content_sha256_header) {
		vkv_remove_ci(rq->headers, "x-amz-content-sha256");
		vkv_add(rq->headers, "x-amz-content-sha256", s.payload_hash);
	}
	vsigv4_canonical_headers(&s.canon_hdrs, &s.signed_names, rq->headers,
				 p->omit_session_token);
	vsigv4_parse_query(&q, rq->query, false);
	vsigv4_canonical_query(&cq, &q);
	if (finish(p, rq, &s, vbuf_str(&cq), out) < 0)
		goto out;
	vbuf_addf(&out->authorization,
		  ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		  p->key.access_key_id, vbuf_str(&s.scope),
		  vbuf_str(&s.signed_names), out->signature);
	vkv_add(rq->headers, "Authorization", vbuf_str(&out->authorization));
	rc = 0;
out:
	signing_free(&s);
	vsigv4_qlist_free(&q);
	vbuf_free_secret(&cq);
	if (rc < 0 || out == &local)
		vsigv4_result_free(out);
	return rc;
}

int vsigv4_presign(const vsigv4_params *p, vsigv4_request *rq,
		   vsigv4_result *out)
{
	vsigv4_qlist q = { 0 };
	vbuf cq = VBUF_INIT, cred = VBUF_INIT;
	const char *token;
	char expires[24];
	signing s;
	int rc = -1;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (!valid_input(p, rq) || p->expires < 1 || p->expires > MAX_EXPIRES)
		return -1;
	signing_init(&s, p, rq);
	/* S3 cannot know the body of a URL signed in advance. */
	if (p->payload_hash == NULL && strcmp(p->service, "s3") == 0)
		s.payload_hash = VSIGV4_UNSIGNED_PAYLOAD;
	token = p->key.session_token;
	if (token && *token == '\0')
		token = NULL;

	vsigv4_canonical_headers(&s.canon_hdrs, &s.signed_names, rq->headers,
				 false);
	vsigv4_parse_query(&q, rq->query, true);
	vbuf_addf(&cred, "%s/%s", p->key.access_key_id, vbuf_str(&s.scope));
	snprintf(expires, sizeof expires, "%ld", p->expires);
	vsigv4_qlist_add(&q, "X-Amz-Algorithm", ALGORITHM);
	vsigv4_qlist_add(&q, "X-Amz-Credential", vbuf_str(&cred));
	vsigv4_qlist_add(&q, "X-Amz-Date", s.amz_date);
	vsigv4_qlist_add(&q, "X-Amz-Expires", expires);
	if (token && !p->omit_session_token)
		vsigv4_qlist_add(&q, "X-Amz-Security-Token", token);
	vsigv4_qlist_add(&q, "X-Amz-SignedHeaders", vbuf_str(&s.signed_names));
	vsigv4_canonical_query(&cq, &q);
	if (finish(p, rq, &s, vbuf_str(&cq), out) < 0)
		goto out;

	vbuf_add(&out->signed_query, cq.data, cq.len);
	if (token && p->omit_session_token) {
		vbuf_adds(&out->signed_query, "&X-Amz-Security-Token=");
		vsigv4_uri_encode(&out->signed_query, token, strlen(token),
				  false, false);
	}
	vbuf_addf(&out->signed_query, "&X-Amz-Signature=%s", out->signature);
	rc = 0;
out:
	signing_free(&s);
	vsigv4_qlist_free(&q);
	vbuf_free_secret(&cq);
	vbuf_free(&cred);
	if (rc < 0)
		vsigv4_result_free(out);
	return rc;
}

void vsigv4_result_free(vsigv4_result *r)
{
	if (r == NULL)
		return;
	/* The canonical forms and the query carry the session token. */
	vbuf_free_secret(&r->canonical_request);
	vbuf_free_secret(&r->string_to_sign);
	vbuf_free(&r->authorization);
	vbuf_free_secret(&r->signed_query);
	secure_zero(r->signature, sizeof r->signature);
}
