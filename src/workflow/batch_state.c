/*
 * The results of a batch, which are also its state: results.json (or
 * results-shard-I-of-N.json) says for every row of the shard what its run
 * made and how it ended, and results.csv says the same for a spreadsheet.
 * Both are rewritten atomically whenever a row changes, so a batch killed
 * at any moment leaves a true account, and running it again reads it back:
 * rows are found by their stable key, so an edited or reordered manifest
 * (or another shard count) still finds what was done.
 *
 * The JSON is read back, so it is treated as untrusted: a size bound, and
 * only fields of the expected type are taken.
 */
#include "workflow/batch.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/isotime.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/batch_child.h"

#define STATE_MAX (64u << 20)

static const char *const status_names[] = {
	[VBATCH_PENDING] = "pending",         [VBATCH_RUNNING] = "running",
	[VBATCH_SUCCEEDED] = "succeeded",     [VBATCH_FAILED] = "failed",
	[VBATCH_INVALID] = "invalid",         [VBATCH_INTERRUPTED] = "interrupted",
};

const char *vbatch_status_name(vbatch_status s)
{
	return s <= VBATCH_INTERRUPTED ? status_names[s] : "pending";
}

int vbatch_status_parse(const char *s)
{
	for (int i = 0; s && i <= VBATCH_INTERRUPTED; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return -1;
}

int vbatch_files_open(vbatch_files *f, const char *dir, unsigned shard,
		      unsigned shards, vmie_error *err)
{
	vbuf b = VBUF_INIT;
	memset(f, 0, sizeof(*f));
	f->dir = xstrdup(dir);
	vbuf_addf(&b, "%s/rows", dir);
	f->rows = vbuf_detach(&b);
	if (shards)
		vbuf_addf(&b, "%s/results-shard-%u-of-%u", dir, shard, shards);
	else
		vbuf_addf(&b, "%s/results", dir);
	size_t base = b.len;
	vbuf_adds(&b, ".json");
	f->json = xstrdup(vbuf_str(&b));
	b.len = base;
	vbuf_adds(&b, ".csv");
	f->csv = vbuf_detach(&b);
	int e = vfile_mkdirs(f->rows, 0700);
	if (e) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED, "cannot create %s: %s",
			 f->rows, strerror(e));
		return verr_hint(err, "choose a writable directory with --results");
	}
	return 0;
}

void vbatch_files_free(vbatch_files *f)
{
	free(f->dir);
	free(f->json);
	free(f->csv);
	free(f->rows);
	memset(f, 0, sizeof(*f));
}

char *vbatch_row_file(const vbatch_files *f, const vbatch_row *row, const char *ext)
{
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s/%s%s", f->rows, row->key[0] ? row->key : "line", ext);
	if (!row->key[0]) /* no source, so no key: the line names it */
		vbuf_addf(&b, ".%u", row->line);
	return vbuf_detach(&b);
}

/* --- writing ------------------------------------------------------------ */

static json_t *str_or_null(const char *s)
{
	json_t *j = s ? json_string(s) : NULL;
	return j ? j : json_null(); /* cells are UTF-8 (checked); AWS's text too */
}

static json_t *time_or_null(long long t)
{
	char buf[VISOTIME_LEN];
	if (!t)
		return json_null();
	visotime_format((time_t)t, buf);
	return json_string(buf);
}

static json_t *row_json(const vbatch_files *f, const vbatch_row *r)
{
	const vbatch_outcome *o = &r->out;
	json_t *j = json_object();
	char *log = vbatch_row_file(f, r, ".log");
	json_object_set_new(j, "line", json_integer(r->line));
	json_object_set_new(j, "key", str_or_null(r->key[0] ? r->key : NULL));
	json_object_set_new(j, "name", str_or_null(r->name));
	json_object_set_new(j, "source", str_or_null(r->opts.source));
	json_object_set_new(j, "operation",
			    json_string(vmie_operation_name(vbatch_row_op(r))));
	json_object_set_new(j, "status", json_string(vbatch_status_name(o->status)));
	json_object_set_new(j, "ami_id", str_or_null(o->ami_id));
	json_object_set_new(j, "sanbootable_ami_id", str_or_null(o->sanbootable_ami_id));
	json_object_set_new(j, "export_url", str_or_null(o->export_url));
	json_object_set_new(j, "s3_url", str_or_null(o->s3_url));
	json_object_set_new(j, "import_task_id", str_or_null(o->import_task_id));
	json_object_set_new(j, "export_task_id", str_or_null(o->export_task_id));
	if (o->error)
		json_object_set_new(j, "error", json_pack("{s:o, s:o, s:o}",
			"code", str_or_null(o->error_code), "message", str_or_null(o->error),
			"hint", str_or_null(o->hint)));
	else
		json_object_set_new(j, "error", json_null());
	json_object_set_new(j, "exit_status", o->exit_status >= 0
				? json_integer(o->exit_status) : json_null());
	json_object_set_new(j, "started", time_or_null(o->started));
	json_object_set_new(j, "finished", time_or_null(o->finished));
	json_object_set_new(j, "seconds", json_real(o->seconds));
	json_object_set_new(j, "uploaded_bytes", json_integer((json_int_t)o->uploaded));
	json_object_set_new(j, "attempts", json_integer(o->attempts));
	json_object_set_new(j, "earlier", json_boolean(o->earlier));
	json_object_set_new(j, "log", str_or_null(o->attempts ? log : NULL));
	free(log);
	return j;
}

/* RFC 4180, and a cell a spreadsheet would run as a formula gets a
 * leading apostrophe (an error message can start with '='). */
static void csv_cell(vbuf *b, const char *s, bool last)
{
	s = s ? s : "";
	bool formula = *s == '=' || *s == '+' || *s == '-' || *s == '@';
	if (formula || s[strcspn(s, ",\"\r\n")]) {
		vbuf_addch(b, '"');
		if (formula)
			vbuf_addch(b, '\'');
		for (; *s; s++) {
			if (*s == '"')
				vbuf_addch(b, '"');
			vbuf_addch(b, *s);
		}
		vbuf_addch(b, '"');
	} else {
		vbuf_adds(b, s);
	}
	vbuf_adds(b, last ? "\r\n" : ",");
}

static void csv_row(vbuf *b, json_t *j)
{
	static const char *const cols[] = {
		"line", "name", "source", "operation", "status", "ami_id",
		"sanbootable_ami_id", "export_url", "error", "started", "finished",
		"seconds", "uploaded_bytes", "log"};
	size_t n = sizeof(cols) / sizeof(cols[0]);
	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;
		if (!j) { /* the header */
			csv_cell(b, cols[i], last);
			continue;
		}
		json_t *v = json_object_get(j, cols[i]);
		if (strcmp(cols[i], "error") == 0)
			v = json_object_get(v, "message");
		char num[32];
		const char *s = json_string_value(v);
		if (json_is_integer(v))
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(num, sizeof(num), "%.1f", json_real_value(v));
		csv_cell(b, json_is_number(v) ? num : s, last);
	}
}

int vbatch_state_save(const vbatch_files *f, const vbatch_manifest *m,
		      const char *manifest, unsigned shard, unsigned shards,
		      vmie_error *err)
{
	char now[VISOTIME_LEN], sh[32];
	json_t *rows = json_array();
	vbuf csv = VBUF_INIT;
	int e = 0;

	visotime_format(time(NULL), now);
	snprintf(sh, sizeof(sh), "%u/%u", shard, shards);
	csv_row(&csv, NULL);
	for (size_t i = 0; i < m->n; i++) {
		if (!m->rows[i].mine)
			continue;
		json_t *j = row_json(f, &m->rows[i]);
		csv_row(&csv, j);
		json_array_append_new(rows, j);
	}
	json_t *doc = json_pack("{s:i, s:o, s:o, s:s, s:o}", "vmie_batch", 1,
				"manifest", str_or_null(manifest),
				"shard", shards ? json_string(sh) : json_null(),
				"updated", now, "rows", rows);
	char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
	if (!text)
		e = ENOMEM;
	if (!e)
		e = vfile_write_atomic(f->json, text, strlen(text), 0600);
	if (!e)
		e = vfile_write_atomic(f->csv, csv.data, csv.len, 0600);
	free(text);
	json_decref(doc);
	vbuf_free(&csv);
	if (e) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED, "cannot write the "
			 "results in %s: %s", f->dir, strerror(e));
		return verr_hint(err, "check the free space and permissions there");
	}
	return 0;
}

/* --- reading back -------------------------------------------------------- */

static char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? xstrdup(s) : NULL;
}

static long long jtime(json_t *o, const char *k)
{
	time_t t;
	const char *s = json_string_value(json_object_get(o, k));
	return s && visotime_parse(s, &t) == 0 ? (long long)t : 0;
}

/* A row left "running" by a batch that died: what did its vmie say? */
static void settle_from_events(const vbatch_files *f, vbatch_row *r)
{
	char *path = vbatch_row_file(f, r, ".events");
	vbuf text = VBUF_INIT;
	json_t *final = NULL;
	if (vfile_read(path, STATE_MAX, &text) == 0) {
		vbatch_events_results(vbuf_str(&text), text.len, &r->out);
		final = vbatch_events_final(vbuf_str(&text), text.len);
	}
	vbatch_outcome_settle(r, final, -1);
	vlog_debug("line %u: the earlier batch stopped while it ran; its vmie %s: %s",
		   r->line, final ? "left a result" : "left no result",
		   vbatch_status_name(r->out.status));
	json_decref(final);
	vbuf_free(&text);
	free(path);
}

static void take_entry(const vbatch_files *f, vbatch_row *r, json_t *j)
{
	vbatch_outcome *o = &r->out;
	int st = vbatch_status_parse(json_string_value(json_object_get(j, "status")));
	long long fin = jtime(j, "finished"), start = jtime(j, "started");
	if (st < 0 || (o->attempts && (fin ? fin : start) < (o->finished ? o->finished
									: o->started)))
		return; /* not readable, or older than what another file said */
	vbatch_outcome_free(o);
	json_t *e = json_object_get(j, "error");
	o->status = (vbatch_status)st;
	o->ami_id = jstr(j, "ami_id");
	o->sanbootable_ami_id = jstr(j, "sanbootable_ami_id");
	o->export_url = jstr(j, "export_url");
	o->s3_url = jstr(j, "s3_url");
	o->import_task_id = jstr(j, "import_task_id");
	o->export_task_id = jstr(j, "export_task_id");
	o->error_code = jstr(e, "code");
	o->error = jstr(e, "message");
	o->hint = jstr(e, "hint");
	json_t *x = json_object_get(j, "exit_status");
	o->exit_status = json_is_integer(x) ? (int)json_integer_value(x) : -1;
	o->started = start;
	o->finished = fin;
	o->seconds = json_number_value(json_object_get(j, "seconds"));
	x = json_object_get(j, "uploaded_bytes");
	o->uploaded = json_is_integer(x) && json_integer_value(x) > 0
			      ? (uint64_t)json_integer_value(x) : 0;
	x = json_object_get(j, "attempts");
	o->attempts = json_is_integer(x) && json_integer_value(x) > 0 &&
				      json_integer_value(x) < 1000000
			      ? (unsigned)json_integer_value(x) : 1;
	if (o->status == VBATCH_RUNNING)
		settle_from_events(f, r);
}

static void load_file(const vbatch_files *f, vbatch_manifest *m, const char *path)
{
	vbuf text = VBUF_INIT;
	json_error_t jerr;
	int e = vfile_read(path, STATE_MAX, &text);
	json_t *doc = e ? NULL : json_loadb(vbuf_str(&text), text.len, 0, &jerr);
	json_t *rows = json_object_get(doc, "rows");
	size_t i;
	json_t *j;
	if (!json_is_array(rows))
		vlog_warn("%s is not a vmie batch results file (%s): ignored", path,
			  e ? strerror(e) : doc ? "no rows" : jerr.text);
	json_array_foreach(rows, i, j) {
		const char *key = json_string_value(json_object_get(j, "key"));
		for (size_t k = 0; key && k < m->n; k++) {
			vbatch_row *r = &m->rows[k];
			if (r->mine && r->key[0] && strcmp(r->key, key) == 0)
				take_entry(f, r, j);
		}
	}
	json_decref(doc);
	vbuf_free(&text);
}

void vbatch_state_load(const vbatch_files *f, vbatch_manifest *m)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (strncmp(de->d_name, "results", 7) != 0 || n < 12 ||
		    strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		vbuf path = VBUF_INIT;
		vbuf_addf(&path, "%s/%s", f->dir, de->d_name);
		load_file(f, m, vbuf_str(&path));
		vbuf_free(&path);
	}
	if (d)
		closedir(d);
}
