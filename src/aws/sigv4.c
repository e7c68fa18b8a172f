/*
 * AWS Signature Version 4.
 *
 * The signer is pure: it reads the request, builds the canonical request
 * and string to sign, derives the signing key and returns the signature.
 * It never logs, and it wipes every buffer that held the secret key or a
 * key derived from it before freeing it.
 *
 * Conformance notes (each is pinned by a case of ../shared/sigv4-suite or
 * an AWS documentation example in tests/unit/test_sigv4.c):
 *  - header values are trimmed and each run of whitespace (including the
 *    line breaks of a folded header) becomes one space; repeated header
 *    names are joined with ',' in request order;
 *  - query keys and values are decoded and then re-encoded per RFC 3986,
 *    so "%E1%88%B4" and the raw UTF-8 bytes sign the same, then sorted by
 *    key and value;
 *  - the path is encoded once more for every service but S3 (whose keys
 *    the caller has already encoded), after optional dot-segment removal.
 */
#include "aws/sigv4.h"
#include "base/xalloc.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SHA256_LEN 32
/* A presigned URL lives at most seven days. */
#define MAX_EXPIRES (7L * 24 * 3600)

/*
 * Headers a client or proxy may add, drop or rewrite after signing
 * (curl adds Expect and Transfer-Encoding itself), so signing them would
 * only produce spurious SignatureDoesNotMatch errors.
 */
static const char *const unsigned_headers[] = {
	"authorization", "connection", "expect", "transfer-encoding",
	"user-agent", "x-amzn-trace-id", NULL,
};

/* ---- encoding ---- */

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* True when s[i..] (of n bytes) starts with a well-formed "%XX". */
static bool is_escape(const char *s, size_t n, size_t i)
{
	return s[i] == '%' && i + 2 < n &&
	       hexval((unsigned char)s[i + 1]) >= 0 &&
	       hexval((unsigned char)s[i + 2]) >= 0;
}

static void add_escape(vbuf *out, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = { '%', hex[c >> 4], hex[c & 15] };

	vbuf_add(out, e, sizeof e);
}

/*
 * RFC 3986 encoding of s[0..n): unreserved bytes stay, the rest become
 * %XX.  keep_slash keeps '/' (paths); keep_escapes keeps well-formed %XX
 * sequences as they are (S3 paths, already encoded by the caller).
 */
static void uri_encode(vbuf *out, const char *s, size_t n, bool keep_slash,
		       bool keep_escapes)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			vbuf_addch(out, (char)c);
		} else if (keep_escapes && is_escape(s, n, i)) {
			vbuf_add(out, s + i, 3);
			i += 2;
		} else {
			add_escape(out, c);
		}
	}
}

/* Percent-decode s[0..n); a '%' not followed by two hex digits is kept. */
static void uri_decode(vbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (is_escape(s, n, i)) {
			int c = hexval((unsigned char)s[i + 1]) << 4 |
				hexval((unsigned char)s[i + 2]);

			vbuf_addch(out, (char)c);
			i += 2;
		} else {
			vbuf_addch(out, s[i]);
		}
	}
}

/* ---- path ---- */

/*
 * RFC 3986 dot-segment removal plus collapsing of empty segments:
 * "//a/./b/../" -> "/a/".  A trailing '/' (or a trailing "." or "..",
 * which name a directory) is kept once any segment remains.
 */
static void normalize_path(vbuf *out, const char *path)
{
	size_t n = strlen(path), nseg = 0, cap = 1;
	bool trailing = n > 0 && path[n - 1] == '/';

	for (size_t i = 0; i < n; i++)
		cap += path[i] == '/';
	size_t *start = xcalloc(cap, sizeof(*start));
	size_t *len = xcalloc(cap, sizeof(*len));

	for (size_t i = 0, j; i < n; i = j + 1) {
		for (j = i; j < n && path[j] != '/'; j++)
			;
		size_t sl = j - i;
		bool dot = sl == 1 && path[i] == '.';
		bool dotdot = sl == 2 && path[i] == '.' && path[i + 1] == '.';

		if (dotdot && nseg > 0)
			nseg--;
		else if (sl > 0 && !dot && !dotdot && nseg < cap) {
			start[nseg] = i;
			len[nseg++] = sl;
		}
		if (j == n && (dot || dotdot))
			trailing = true;
	}
	vbuf_addch(out, '/');
	for (size_t k = 0; k < nseg; k++) {
		if (k > 0)
			vbuf_addch(out, '/');
		vbuf_add(out, path + start[k], len[k]);
	}
	if (nseg > 0 && trailing)
		vbuf_addch(out, '/');
	free(start);
	free(len);
}

static void canonical_path(vbuf *out, const vsigv4_params *p, const char *path)
{
	vbuf norm = VBUF_INIT;

	if (path == NULL || *path == '\0')
		path = "/";
	if (p->normalize_path) {
		normalize_path(&norm, path);
		path = vbuf_str(&norm);
	}
	if (*path != '/')
		vbuf_addch(out, '/');
	uri_encode(out, path, strlen(path), true, !p->double_encode_path);
	vbuf_free(&norm);
}

/* ---- query ---- */

typedef struct qparam {
	char *key; /* encoded */
	char *value;
} qparam;

typedef struct qlist {
	qparam *items;
	size_t n, cap;
} qlist;

static void qlist_add_encoded(qlist *q, const char *k, size_t kl,
			      const char *v, size_t vl)
{
	vbuf ek = VBUF_INIT, ev = VBUF_INIT;
	void *items = q->items;

	xgrow(&items, &q->cap, q->n + 1, sizeof(qparam));
	q->items = items;
	uri_encode(&ek, k, kl, false, false);
	uri_encode(&ev, v, vl, false, false);
	q->items[q->n].key = vbuf_detach(&ek);
	q->items[q->n].value = vbuf_detach(&ev);
	q->n++;
}

static void qlist_add(qlist *q, const char *k, const char *v)
{
	qlist_add_encoded(q, k, strlen(k), v, strlen(v));
}

static void qlist_free(qlist *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->items[i].key);
		xfree_secret(q->items[i].value); /* may be a session token */
	}
	free(q->items);
	memset(q, 0, sizeof(*q));
}

/* The signer's own parameters: a stale copy from an earlier signing must
 * not be signed again next to the fresh one. */
static bool is_auth_param(const char *encoded_key)
{
	static const char *const names[] = {
		"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
		"X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Security-Token",
		"X-Amz-Signature", NULL,
	};

	for (size_t i = 0; names[i]; i++)
		if (strcmp(encoded_key, names[i]) == 0)
			return true;
	return false;
}

/* One "key=value" (or bare "key") of n bytes: decode, re-encode, add. */
static void add_pair(qlist *q, const char *s, size_t n, bool drop_auth)
{
	const char *eq = memchr(s, '=', n);
	size_t kl = eq ? (size_t)(eq - s) : n;
	vbuf dk = VBUF_INIT, dv = VBUF_INIT;

	uri_decode(&dk, s, kl);
	if (eq)
		uri_decode(&dv, eq + 1, n - kl - 1);
	qlist_add_encoded(q, vbuf_str(&dk), dk.len, vbuf_str(&dv), dv.len);
	if (drop_auth && is_auth_param(q->items[q->n - 1].key)) {
		q->n--;
		free(q->items[q->n].key);
		xfree_secret(q->items[q->n].value);
	}
	vbuf_free(&dk);
	vbuf_free_secret(&dv);
}

/* Split "a=1&b&c=3" on '&'; empty pieces ("a&&b") sign as nothing. */
static void parse_query(qlist *q, const char *query, bool drop_auth)
{
	if (query == NULL)
		return;
	for (const char *s = query; *s;) {
		size_t n = strcspn(s, "&");

		if (n > 0)
			add_pair(q, s, n, drop_auth);
		s += n;
		if (*s == '&')
			s++;
	}
}

static int qparam_cmp(const void *a, const void *b)
{
	const qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

static void canonical_query(vbuf *out, qlist *q)
{
	if (q->n > 1)
		qsort(q->items, q->n, sizeof(qparam), qparam_cmp);
	for (size_t i = 0; i < q->n; i++) {
		if (i > 0)
			vbuf_addch(out, '&');
		vbuf_addf(out, "%s=%s", q->items[i].key, q->items[i].value);
	}
}

/* ---- headers ---- */

typedef struct hdr {
	char *name;        /* trimmed, lowercase */
	const char *value; /* raw, points into the request's vkv */
	size_t order;
} hdr;

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *lower_trimmed(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && is_space(s[n - 1]))
		n--;
	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	char *r = xstrndup(s, n);
	for (char *c = r; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return r;
}

/* Trimmed, inner whitespace runs (folded lines too) as one space. */
static void add_header_value(vbuf *out, const char *v)
{
	bool pending = false;

	while (is_space(*v))
		v++;
	for (; *v; v++) {
		if (is_space(*v)) {
			pending = true;
			continue;
		}
		if (pending)
			vbuf_addch(out, ' ');
		pending = false;
		vbuf_addch(out, *v);
	}
}

static int hdr_cmp(const void *a, const void *b)
{
	const hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static bool skip_header(const char *name, bool skip_token)
{
	if (*name == '\0')
		return true;
	if (skip_token && strcmp(name, "x-amz-security-token") == 0)
		return true;
	for (size_t i = 0; unsigned_headers[i]; i++)
		if (strcmp(name, unsigned_headers[i]) == 0)
			return true;
	return false;
}

/*
 * canon gets "name:value\n" lines, names gets "a;b;c".  Duplicate names
 * become one line whose values are joined with ',' in request order.
 */
static void canonical_headers(vbuf *canon, vbuf *names, const vkv *headers,
			      bool skip_token)
{
	hdr *h = xcalloc(headers->n ? headers->n : 1, sizeof(*h));
	size_t n = 0;

	for (size_t i = 0; i < headers->n; i++) {
		char *name = lower_trimmed(headers->items[i].key);

		if (skip_header(name, skip_token)) {
			free(name);
			continue;
		}
		h[n].name = name;
		h[n].value = headers->items[i].value;
		h[n].order = i;
		n++;
	}
	qsort(h, n, sizeof(*h), hdr_cmp);
	for (size_t i = 0; i < n; i++) {
		bool same = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;

		if (same) {
			vbuf_addch(canon, ',');
		} else {
			if (i > 0) {
				vbuf_addch(canon, '\n');
				vbuf_addch(names, ';');
			}
			vbuf_adds(names, h[i].name);
			vbuf_adds(canon, h[i].name);
			vbuf_addch(canon, ':');
		}
		add_header_value(canon, h[i].value ? h[i].value : "");
	}
	if (n > 0)
		vbuf_addch(canon, '\n');
	for (size_t i = 0; i < n; i++)
		free(h[i].name);
	free(h);
}

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
	canonical_path(cr, p, rq->path);
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
	qlist q = { 0 };
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
	canonical_headers(&s.canon_hdrs, &s.signed_names, rq->headers,
			  p->omit_session_token);
	parse_query(&q, rq->query, false);
	canonical_query(&cq, &q);
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
	qlist_free(&q);
	vbuf_free_secret(&cq);
	if (rc < 0 || out == &local)
		vsigv4_result_free(out);
	return rc;
}

int vsigv4_presign(const vsigv4_params *p, vsigv4_request *rq,
		   vsigv4_result *out)
{
	qlist q = { 0 };
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

	canonical_headers(&s.canon_hdrs, &s.signed_names, rq->headers, false);
	parse_query(&q, rq->query, true);
	vbuf_addf(&cred, "%s/%s", p->key.access_key_id, vbuf_str(&s.scope));
	snprintf(expires, sizeof expires, "%ld", p->expires);
	qlist_add(&q, "X-Amz-Algorithm", ALGORITHM);
	qlist_add(&q, "X-Amz-Credential", vbuf_str(&cred));
	qlist_add(&q, "X-Amz-Date", s.amz_date);
	qlist_add(&q, "X-Amz-Expires", expires);
	if (token && !p->omit_session_token)
		qlist_add(&q, "X-Amz-Security-Token", token);
	qlist_add(&q, "X-Amz-SignedHeaders", vbuf_str(&s.signed_names));
	canonical_query(&cq, &q);
	if (finish(p, rq, &s, vbuf_str(&cq), out) < 0)
		goto out;

	vbuf_add(&out->signed_query, cq.data, cq.len);
	if (token && p->omit_session_token) {
		vbuf_adds(&out->signed_query, "&X-Amz-Security-Token=");
		uri_encode(&out->signed_query, token, strlen(token), false,
			   false);
	}
	vbuf_addf(&out->signed_query, "&X-Amz-Signature=%s", out->signature);
	rc = 0;
out:
	signing_free(&s);
	qlist_free(&q);
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
