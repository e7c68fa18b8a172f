/*
 * The batch manifest as CSV, as RFC 4180 writes it and a VMware inventory
 * export gives it: a header row naming the columns, commas, values in
 * quotes with doubled quotes inside, CRLF or LF, line breaks inside quoted
 * values (counted, so each row knows the line it starts on), Excel's byte
 * order mark and empty trailing rows.  Untrusted input: every length is
 * bounded (batch.h) and any byte may come.
 */
#include "workflow/batch.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

struct csv {
	const char *p, *end;
	unsigned line;     /* the line p is on */
};

struct record {
	char **v;
	size_t n, cap;
	unsigned line;     /* where it starts */
	const char *bad;   /* a problem of this record (static text) */
};

static void record_clear(struct record *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	r->n = 0;
	r->bad = NULL;
}

static bool end_of_field(const struct csv *c)
{
	return c->p >= c->end || *c->p == ',' || *c->p == '\n' || *c->p == '\r';
}

/* A quoted value: c->p is just past the opening quote. */
static int quoted(struct csv *c, vbuf *f, unsigned open_line, vmie_error *err)
{
	for (;;) {
		if (c->p >= c->end)
			return verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "line %u: a "
					"quoted value never closes", open_line);
		if (f->len >= VBATCH_MAX_CELL)
			return verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "line %u: a "
					"value longer than %u bytes", open_line,
					VBATCH_MAX_CELL);
		char ch = *c->p++;
		if (ch == '"') {
			if (c->p < c->end && *c->p == '"') {
				c->p++;
				vbuf_addch(f, '"');
				continue;
			}
			return 0;
		}
		if (ch == '\n')
			c->line++;
		vbuf_addch(f, ch);
	}
}

/* One field into f; 0, or an error that makes the rest unreadable. */
static int field(struct csv *c, struct record *rec, vbuf *f, vmie_error *err)
{
	while (c->p < c->end && blank(*c->p))
		c->p++;
	if (c->p < c->end && *c->p == '"') {
		c->p++;
		int rc = quoted(c, f, c->line, err);
		if (rc != 0)
			return rc;
		while (c->p < c->end && blank(*c->p))
			c->p++;
		if (!end_of_field(c)) { /* `"a"b`: say so, skip the rest */
			rec->bad = "text after the closing quote of a value";
			while (!end_of_field(c))
				c->p++;
		}
		return 0;
	}
	while (!end_of_field(c)) {
		if (f->len >= VBATCH_MAX_CELL)
			return verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "line %u: a "
					"value longer than %u bytes", c->line,
					VBATCH_MAX_CELL);
		vbuf_addch(f, *c->p++);
	}
	vbuf_rtrim(f);
	return 0;
}

/* 1: a record read; 0: the end; else an error. */
static int csv_record(struct csv *c, struct record *rec, vmie_error *err)
{
	record_clear(rec);
	if (c->p >= c->end)
		return 0;
	rec->line = c->line;
	for (;;) {
		vbuf f = VBUF_INIT;
		int rc = field(c, rec, &f, err);
		if (rc != 0) {
			vbuf_free(&f);
			return rc;
		}
		if (rec->n == VBATCH_MAX_CELLS) {
			vbuf_free(&f);
			return verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "line %u: more "
					"than %u values", rec->line, VBATCH_MAX_CELLS);
		}
		if (f.len && !vbatch_clean_text(f.data, f.len))
			rec->bad = "a value that is not UTF-8 text, or holds a "
				   "control character";
		xgrow((void **)&rec->v, &rec->cap, rec->n + 1, sizeof(*rec->v));
		rec->v[rec->n++] = f.data ? vbuf_detach(&f) : xstrdup("");
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == '\r')
			c->p++;
		if (c->p < c->end && *c->p == '\n')
			c->p++;
		c->line++;
		return 1;
	}
}

static bool record_empty(const struct record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		if (rec->v[i][0])
			return false;
	return true;
}

struct header {
	char **names;
	size_t n;
};

static void header_free(struct header *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
}

static int read_header(const struct record *rec, struct header *h, vmie_error *err)
{
	h->names = xcalloc(rec->n, sizeof(*h->names));
	for (size_t i = 0; i < rec->n; i++) {
		h->names[i] = vbatch_column_name(rec->v[i]);
		h->n++;
		if (!h->names[i][0])
			continue; /* an unnamed column: only empty cells allowed */
		if (!vbatch_known_column(h->names[i], err)) {
			verr_prefix(err, "line %u, column %zu", rec->line, i + 1);
			return err ? err->status : VMIE_ERR_INVALID_ARGUMENT;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->names[j], h->names[i]) == 0 &&
			    strcmp(h->names[i], "tag") != 0) {
				verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "line %u: column "
					 "'%s' appears twice", rec->line, h->names[i]);
				return verr_hint(err, "only 'tag' may repeat; remove "
						 "or rename one");
			}
	}
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->names[i], "source") == 0)
			return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "line %u: the header has no "
		 "'source' column", rec->line);
	return verr_hint(err, "the first line names the columns, e.g. "
			 "name,source,s3-key,description");
}

static void csv_row(vbatch_manifest *m, size_t *cap, const struct header *h,
		    const struct record *rec)
{
	vbatch_row *r = vbatch_new_row(m, cap, rec->line);
	if (rec->bad)
		vbatch_row_problem(r, "fix the row (RFC 4180 CSV, UTF-8)", "line %u: %s",
			    rec->line, rec->bad);
	for (size_t i = 0; i < rec->n; i++) {
		if (!rec->v[i][0])
			continue;
		if (i >= h->n || !h->names[i][0]) {
			vbatch_row_problem(r, "add a column name to the header, or remove "
				    "the value", "line %u: a value in column %zu, "
				    "which the header does not name", rec->line, i + 1);
			continue;
		}
		vbatch_add_cell(r, h->names[i], rec->v[i]);
	}
}

int vbatch_parse_csv(const char *text, size_t len, vbatch_manifest *m,
		     vmie_error *err)
{
	struct csv c = {text, text + len, 1};
	struct record rec = {0};
	struct header h = {0};
	size_t cap = 0;
	int rc, got;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		c.p += 3; /* Excel's UTF-8 byte order mark */
	while ((got = csv_record(&c, &rec, err)) == 1 && record_empty(&rec))
		;
	if (got != 1) {
		rc = got ? got : verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "no header "
					  "row and no rows");
		goto out;
	}
	if (rec.bad) {
		rc = verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "line %u: the header "
			      "has %s", rec.line, rec.bad);
		goto out;
	}
	if ((rc = read_header(&rec, &h, err)) != 0)
		goto out;
	while ((got = csv_record(&c, &rec, err)) == 1) {
		if (record_empty(&rec))
			continue; /* blank lines, Excel's trailing ",,," rows */
		if (m->n == VBATCH_MAX_ROWS) {
			got = verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "more than %u "
				       "rows", VBATCH_MAX_ROWS);
			break;
		}
		csv_row(m, &cap, &h, &rec);
	}
	rc = got;
out:
	record_clear(&rec);
	free(rec.v);
	header_free(&h);
	return rc;
}
