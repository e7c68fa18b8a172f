/*
 * The AWS shared-file INI dialect, as botocore reads it (Python's
 * RawConfigParser plus configloader._parse_nested):
 *   - "[header]" opens a section; text after the closing ']' is ignored;
 *   - "key = value" or "key: value", split at the first '=' or ':';
 *     keys are lower-cased (configparser's optionxform), values trimmed;
 *   - lines starting (after blanks) with '#' or ';' are comments; there are
 *     no inline comments;
 *   - a line indented deeper than the key before it continues that key:
 *     under an empty value the continuation lines are nested "sub = v"
 *     pairs, reported as "key.sub"; otherwise they extend the value,
 *     joined with '\n'.
 * The files are untrusted: lines longer than VAWS_INI_MAX_LINE, lines with
 * NUL bytes and lines that are neither header, key nor comment are skipped
 * and reported through the return value, never fatal.
 */
#include "aws/config.h"
#include "base/buf.h"
#include "base/xalloc.h"

#include <stdbool.h>
#include <string.h>

#define VAWS_INI_MAX_LINE (64 * 1024)

typedef struct ini_state {
	vaws_ini_fn fn;
	void *ctx;
	vbuf section;
	bool in_section;
	vbuf key;      /* the pending key, reported once its value is whole */
	vbuf value;
	bool pending;
	bool nested;   /* the pending key's value turned into sub-keys */
	size_t key_indent;
	size_t bad_line; /* first malformed line, 1-based; 0: none */
} ini_state;

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

static void add_lower(vbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		vbuf_addch(b, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
	}
}

/* Split "key = value" at the first '=' or ':'; false without one or with
 * an empty key. */
static bool split_kv(const char *s, size_t n, const char **k, size_t *kn,
		     const char **v, size_t *vn)
{
	size_t i = 0;
	while (i < n && s[i] != '=' && s[i] != ':')
		i++;
	if (i == n)
		return false;
	*k = s;
	*kn = i;
	*v = s + i + 1;
	*vn = n - i - 1;
	trim(k, kn);
	trim(v, vn);
	return *kn > 0;
}

static void flush(ini_state *st)
{
	if (st->pending && !st->nested)
		st->fn(st->ctx, vbuf_str(&st->section), vbuf_str(&st->key),
		       vbuf_str(&st->value));
	st->pending = false;
	st->nested = false;
	vbuf_reset(&st->key);
	/* values may be secrets (aws_secret_access_key) */
	if (st->value.data)
		secure_zero(st->value.data, st->value.cap);
	vbuf_reset(&st->value);
}

static void bad(ini_state *st, size_t lineno)
{
	if (!st->bad_line)
		st->bad_line = lineno;
}

static void continuation(ini_state *st, const char *s, size_t n,
			 size_t lineno)
{
	if (!st->nested && st->value.len > 0) {
		vbuf_addch(&st->value, '\n');
		vbuf_add(&st->value, s, n);
		return;
	}
	const char *k, *v;
	size_t kn, vn;
	if (!split_kv(s, n, &k, &kn, &v, &vn)) {
		bad(st, lineno);
		return;
	}
	st->nested = true;
	vbuf full = VBUF_INIT;
	vbuf_add(&full, st->key.data, st->key.len);
	vbuf_addch(&full, '.');
	add_lower(&full, k, kn);
	char *val = xstrndup(v, vn);
	st->fn(st->ctx, vbuf_str(&st->section), vbuf_str(&full), val);
	xfree_secret(val);
	vbuf_free(&full);
}

static void line(ini_state *st, const char *s, size_t n, size_t lineno)
{
	if (n > VAWS_INI_MAX_LINE || memchr(s, '\0', n)) {
		flush(st);
		bad(st, lineno);
		return;
	}
	size_t indent = 0;
	while (indent < n && is_blank(s[indent]))
		indent++;
	const char *t = s;
	size_t tn = n;
	trim(&t, &tn);
	if (tn == 0 || t[0] == '#' || t[0] == ';')
		return;
	if (st->pending && indent > st->key_indent) {
		continuation(st, t, tn, lineno);
		return;
	}
	flush(st);
	if (t[0] == '[') {
		const char *close = NULL;
		for (size_t i = tn; i > 1; i--)
			if (t[i - 1] == ']') {
				close = t + i - 1;
				break;
			}
		const char *h = t + 1;
		size_t hn = close ? (size_t)(close - h) : 0;
		trim(&h, &hn);
		if (!close || hn == 0) {
			bad(st, lineno);
			st->in_section = false;
			return;
		}
		vbuf_reset(&st->section);
		vbuf_add(&st->section, h, hn);
		st->in_section = true;
		st->fn(st->ctx, vbuf_str(&st->section), NULL, NULL);
		return;
	}
	const char *k, *v;
	size_t kn, vn;
	if (!st->in_section || !split_kv(t, tn, &k, &kn, &v, &vn)) {
		bad(st, lineno);
		return;
	}
	add_lower(&st->key, k, kn);
	vbuf_add(&st->value, v, vn);
	st->pending = true;
	st->key_indent = indent;
}

int vaws_ini_parse(const char *text, size_t len, vaws_ini_fn fn, void *ctx)
{
	ini_state st = {.fn = fn, .ctx = ctx};
	size_t pos = 0, lineno = 0;
	/* A UTF-8 byte order mark, as Windows editors write. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		line(&st, text + pos, end - pos, ++lineno);
		pos = end + 1;
	}
	flush(&st);
	vbuf_free(&st.section);
	vbuf_free(&st.key);
	vbuf_free_secret(&st.value);
	return (int)(st.bad_line > (size_t)0x7fffffff ? 0x7fffffff
						      : st.bad_line);
}
