/*
 * The canonical pieces of a SigV4 request: path, query and headers.
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
#include "aws/sigv4_canon.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

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

void vsigv4_uri_encode(vbuf *out, const char *s, size_t n, bool keep_slash,
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

void vsigv4_canonical_path(vbuf *out, const vsigv4_params *p,
			   const char *path)
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
	vsigv4_uri_encode(out, path, strlen(path), true,
			  !p->double_encode_path);
	vbuf_free(&norm);
}

/* ---- query ---- */

static void qlist_add_encoded(vsigv4_qlist *q, const char *k, size_t kl,
			      const char *v, size_t vl)
{
	vbuf ek = VBUF_INIT, ev = VBUF_INIT;
	void *items = q->items;

	xgrow(&items, &q->cap, q->n + 1, sizeof(vsigv4_qparam));
	q->items = items;
	vsigv4_uri_encode(&ek, k, kl, false, false);
	vsigv4_uri_encode(&ev, v, vl, false, false);
	q->items[q->n].key = vbuf_detach(&ek);
	q->items[q->n].value = vbuf_detach(&ev);
	q->n++;
}

void vsigv4_qlist_add(vsigv4_qlist *q, const char *k, const char *v)
{
	qlist_add_encoded(q, k, strlen(k), v, strlen(v));
}

void vsigv4_qlist_free(vsigv4_qlist *q)
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
static void add_pair(vsigv4_qlist *q, const char *s, size_t n, bool drop_auth)
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
void vsigv4_parse_query(vsigv4_qlist *q, const char *query, bool drop_auth)
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
	const vsigv4_qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

void vsigv4_canonical_query(vbuf *out, vsigv4_qlist *q)
{
	if (q->n > 1)
		qsort(q->items, q->n, sizeof(vsigv4_qparam), qparam_cmp);
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

void vsigv4_canonical_headers(vbuf *canon, vbuf *names, const vkv *headers,
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
