/*
 * The batch manifest into rows of cells: CSV (batch_csv.c) or JSON Lines
 * with the same keys (here), and what both readers share: the text checks,
 * the column names, the cells.  The file is untrusted input: every length is
 * bounded (batch.h), any byte may come, and tests/fuzz/fuzz_batch_manifest
 * feeds it garbage.  What the cells mean is batch_rows.c's business; here
 * a row is only its line number and its column -> text pairs.
 */
#include "workflow/batch.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

void vbatch_outcome_free(vbatch_outcome *o)
{
	free(o->ami_id);
	free(o->sanbootable_ami_id);
	free(o->export_url);
	free(o->s3_url);
	free(o->import_task_id);
	free(o->export_task_id);
	free(o->error_code);
	free(o->error);
	free(o->hint);
	memset(o, 0, sizeof(*o));
}

void vbatch_manifest_free(vbatch_manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		vbatch_row *r = &m->rows[i];
		vkv_free(&r->cells);
		free(r->problem);
		free(r->hint);
		free(r->name);
		free(r->tags);
		vbatch_outcome_free(&r->out);
	}
	free(m->rows);
	memset(m, 0, sizeof(*m));
}

/* --- text checks ------------------------------------------------------ */

/* Valid UTF-8 (no overlongs, no surrogates) without control characters
 * other than tab: what any option value can be. */
bool vbatch_clean_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned c = *p, len, min;
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return false;
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			min = 0x10000;
		} else {
			return false;
		}
		if ((size_t)(end - p) < len)
			return false;
		unsigned cp = c & (0x7f >> len);
		for (unsigned i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += len;
	}
	return true;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* "--Source " -> "source": columns are option names, spelled loosely. */
char *vbatch_column_name(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (s[0] == '-' && s[1] == '-')
		s += 2;
	char *n = xstrdup(s);
	size_t len = strlen(n);
	while (len && (n[len - 1] == ' ' || n[len - 1] == '\t'))
		n[--len] = '\0';
	for (char *p = n; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return n;
}

vbatch_row *vbatch_new_row(vbatch_manifest *m, size_t *cap, unsigned line)
{
	xgrow((void **)&m->rows, cap, m->n + 1, sizeof(*m->rows));
	vbatch_row *r = &m->rows[m->n++];
	memset(r, 0, sizeof(*r));
	r->line = line;
	r->out.exit_status = -1;
	return r;
}

void vbatch_row_problem(vbatch_row *r, const char *hint, const char *fmt, ...)
{
	vbuf b = VBUF_INIT;
	va_list ap;
	if (r->problem)
		return; /* the first says enough */
	va_start(ap, fmt);
	vbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	r->problem = vbuf_detach(&b);
	r->hint = xstrdup(hint);
}

/* A tag cell may hold several, "KEY=VALUE;KEY2=VALUE2": one cell each. */
void vbatch_add_cell(vbatch_row *r, const char *name, const char *value)
{
	if (strcmp(name, "tag") != 0) {
		vkv_add(&r->cells, name, value);
		return;
	}
	while (*value) {
		size_t n = strcspn(value, ";");
		const char *s = value, *e = value + n;
		while (s < e && blank(*s))
			s++;
		while (e > s && blank(e[-1]))
			e--;
		if (e > s)
			vkv_addn(&r->cells, name, strlen(name), s, (size_t)(e - s));
		value += n + (value[n] == ';');
	}
}

/* --- JSON Lines ------------------------------------------------------- */

/* A value as cell text: strings as they are, booleans as true/false,
 * integers in decimal; anything else is the row's problem. */
static bool cell_text(json_t *v, vbuf *out)
{
	if (json_is_string(v))
		vbuf_add(out, json_string_value(v), json_string_length(v));
	else if (json_is_true(v))
		vbuf_adds(out, "true");
	else if (json_is_false(v))
		vbuf_adds(out, "false");
	else if (json_is_integer(v))
		vbuf_addf(out, "%lld", (long long)json_integer_value(v));
	else
		return false;
	return true;
}

static void json_cell(vbatch_row *r, const char *name, json_t *v)
{
	vbuf t = VBUF_INIT;
	if (json_is_null(v))
		return;
	if (strcmp(name, "tag") == 0 && json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			json_cell(r, name, e);
		return;
	}
	if (strcmp(name, "tag") == 0 && json_is_object(v)) {
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e) {
			vbuf_reset(&t);
			vbuf_addf(&t, "%s=", k);
			if (!cell_text(e, &t))
				vbatch_row_problem(r, "write \"tag\": {\"KEY\": \"VALUE\"}",
					    "line %u: tag %s is not text", r->line, k);
			else
				vbatch_add_cell(r, name, vbuf_str(&t));
		}
		vbuf_free(&t);
		return;
	}
	if (!cell_text(v, &t))
		vbatch_row_problem(r, "use a string, true/false or a whole number",
			    "line %u: the value of \"%s\" is not text", r->line, name);
	else if (t.len > VBATCH_MAX_CELL || !vbatch_clean_text(vbuf_str(&t), t.len))
		vbatch_row_problem(r, "shorten it; no control characters",
			    "line %u: the value of \"%s\" is too long or holds a "
			    "control character", r->line, name);
	else
		vbatch_add_cell(r, name, vbuf_str(&t));
	vbuf_free(&t);
}

static void json_row(vbatch_manifest *m, size_t *cap, const char *s, size_t n,
		     unsigned line)
{
	json_error_t jerr;
	json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	vbatch_row *r = vbatch_new_row(m, cap, line);
	if (!json_is_object(o)) {
		vbatch_row_problem(r, "each line is one JSON object: "
			    "{\"source\": \"disk.vmdk\", \"name\": \"web01\"}",
			    "line %u: not a JSON object%s%s", line, o ? "" : ": ",
			    o ? "" : jerr.text);
		json_decref(o);
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		char *name = vbatch_column_name(k);
		vmie_error e = {0};
		if (!vbatch_known_column(name, &e))
			vbatch_row_problem(r, e.hint ? e.hint : "", "line %u: %s", line,
				    e.message ? e.message : "unknown key");
		else
			json_cell(r, name, v);
		vmie_error_clear(&e);
		free(name);
	}
	json_decref(o);
}

static int parse_jsonl(const char *text, size_t len, vbatch_manifest *m,
		       vmie_error *err)
{
	const char *p = text, *end = text + len;
	size_t cap = 0;
	for (unsigned line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		const char *s = p;
		while (s < stop && (blank(*s) || *s == '\r'))
			s++;
		if (s < stop) {
			if (m->n == VBATCH_MAX_ROWS)
				return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
						"more than %u rows", VBATCH_MAX_ROWS);
			json_row(m, &cap, s, (size_t)(stop - s), line);
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* --- the file ---------------------------------------------------------- */

static bool json_lines(const char *name, const char *text, size_t len)
{
	const char *dot = strrchr(name, '.');
	if (dot && (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0 ||
		    strcasecmp(dot, ".json") == 0))
		return true;
	for (size_t i = 0; i < len; i++)
		if (!blank(text[i]) && text[i] != '\n' && text[i] != '\r')
			return text[i] == '{';
	return false;
}

int vbatch_parse(const char *name, const char *text, size_t len,
		 vbatch_manifest *m, vmie_error *err)
{
	memset(m, 0, sizeof(*m));
	if (len > VBATCH_MAX_BYTES)
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "the manifest is "
				"larger than %u MiB", VBATCH_MAX_BYTES >> 20);
	if (memchr(text, '\0', len)) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "the manifest holds a NUL "
			 "byte: it is not a text file");
		return verr_hint(err, "save the inventory as CSV (UTF-8) or JSON Lines");
	}
	int rc = json_lines(name, text, len) ? parse_jsonl(text, len, m, err)
					      : vbatch_parse_csv(text, len, m, err);
	if (rc == 0 && !m->n) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "the manifest has no rows");
		rc = verr_hint(err, "one row per VM, under a header row naming the "
			       "columns (source, name, s3-key, ...)");
	}
	if (rc != 0)
		vbatch_manifest_free(m);
	return rc;
}
