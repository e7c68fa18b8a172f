/*
 * What a manifest row means: the columns are vmie import's and convert's
 * per-VM options by their long names (one table below says which, and
 * where each lands in vmie_options), plus `name` (how the row is shown),
 * `export` (the row is a convert) and `tag` (repeatable).  The batch's own
 * options (the bucket, the region, the role) cannot vary by row: one
 * bucket and one role step serve every VM.
 *
 * Each row also gets its stable key, SHA-256 of its source and s3-key:
 * the same VM keeps its key when the manifest is reordered or edited
 * elsewhere, so the results of an earlier run still find it, and the key
 * (not the line) decides the row's shard, so every shard agrees.
 */
#include "workflow/batch.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

enum col_kind { COL_TEXT, COL_FLAG, COL_TAG, COL_NAME, COL_EXPORT };

struct column {
	const char *name;
	enum col_kind kind;
	size_t off;       /* COL_TEXT: const char *, COL_FLAG: bool, in vmie_options */
	bool export_only; /* means something only on a row that exports */
};

#define TEXT(n, f, x) {n, COL_TEXT, offsetof(vmie_options, f), x}
#define FLAG(n, f, x) {n, COL_FLAG, offsetof(vmie_options, f), x}

static const struct column columns[] = {
	{"name", COL_NAME, 0, false},
	{"export", COL_EXPORT, 0, false},
	{"tag", COL_TAG, 0, false},
	TEXT("source", source, false),
	TEXT("s3-key", s3_key, false),
	TEXT("description", description, false),
	TEXT("license-type", license_type, false),
	TEXT("usage-operation", usage_operation, false),
	TEXT("boot-mode", boot_mode, false),
	TEXT("architecture", architecture, false),
	TEXT("platform", platform, false),
	TEXT("storage-class", storage_class, false),
	FLAG("encrypted", encrypted, false),
	TEXT("kms-key-id", kms_key_id, false),
	FLAG("force", force, false),
	FLAG("install-sanbootable", install_sanbootable, false),
	TEXT("instance-profile", instance_profile, false),
	TEXT("instance-type", instance_type, false),
	TEXT("subnet-id", subnet_id, false),
	TEXT("export-format", export_format, true),
	TEXT("s3-export-prefix", s3_export_prefix, true),
	TEXT("download", download_path, true),
	TEXT("download-format", download_format, true),
	FLAG("sparse", sparse, true),
	FLAG("overwrite", overwrite, true),
};

/* Options that exist but belong to the batch, and why. */
static const struct {
	const char *name, *why;
} batch_only[] = {
	{"s3-bucket", "one bucket serves the whole batch"},
	{"region", "the batch runs in one region"},
	{"role-name", "one VM Import role serves the whole batch"},
	{"profile", "the batch uses one AWS profile"},
	{"endpoint-url", "the batch uses one endpoint"},
	{"max-tasks", "the quota is the region's, for the whole batch"},
	{"max-instances", "the limit is the whole batch's"},
	{"lease-prefix", "every VM shares the batch's leases"},
	{"upload-only", "a batch imports (or converts) each VM"},
	{"ami-id", "a batch imports its VMs; vmie export exports an AMI"},
};

static const struct column *column_of(const char *name)
{
	for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
		if (strcmp(columns[i].name, name) == 0)
			return &columns[i];
	return NULL;
}

bool vbatch_known_column(const char *name, vmie_error *err)
{
	if (column_of(name))
		return true;
	for (size_t i = 0; i < sizeof(batch_only) / sizeof(batch_only[0]); i++) {
		if (strcmp(batch_only[i].name, name) != 0)
			continue;
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "'%s' cannot vary by "
			 "row: %s", name, batch_only[i].why);
		verr_hint(err, "remove the column and give --%s on the vmie batch "
			  "command line", name);
		return false;
	}
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "unknown column '%s'", name);
	verr_hint(err, "the columns are name, source, s3-key, description, "
		  "license-type, usage-operation, boot-mode, architecture, "
		  "platform, storage-class, encrypted, kms-key-id, force, tag, "
		  "install-sanbootable, instance-profile, instance-type, "
		  "subnet-id, export, export-format, s3-export-prefix, download, "
		  "download-format, sparse, overwrite");
	return false;
}

/* yes/no in the spellings spreadsheets use; -1 for anything else. */
static int flag_value(const char *s)
{
	static const char *const yes[] = {"true", "yes", "y", "1", "x", "on"};
	static const char *const no[] = {"false", "no", "n", "0", "off"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}

/* The file name in a path or URL (without query), compression suffix
 * off: what vmie import names the object when the row gives no s3-key. */
static char *base_name(const char *src, bool strip_compression)
{
	size_t end = strcspn(src, strstr(src, "://") ? "?#" : "");
	size_t start = end;
	while (start && src[start - 1] != '/')
		start--;
	char *n = xstrndup(src + start, end - start);
	static const char *const sfx[] = {".gz", ".xz", ".bz2", ".zst", ".zstd"};
	for (size_t i = 0; strip_compression && i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t len = strlen(n), sl = strlen(sfx[i]);
		if (len > sl && strcasecmp(n + len - sl, sfx[i]) == 0) {
			n[len - sl] = '\0';
			break;
		}
	}
	return n;
}

static void hash_key(vbatch_row *r, const char *source, const char *s3_key,
		     unsigned char md[32])
{
	vbuf b = VBUF_INIT;
	unsigned int n = 0;
	vbuf_addf(&b, "%s\n%s", source, s3_key ? s3_key : "");
	EVP_Digest(b.data, b.len, md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(r->key + 2 * i, 3, "%02x", md[i]);
	vbuf_free(&b);
}

/* The cells over the defaults. */
static void apply_cells(vbatch_row *r, const vbatch_plan *p)
{
	const vmie_options *d = p->defaults;
	size_t ntags = 0;

	r->opts = *d;
	r->is_export = p->export_all;
	r->tags = xcalloc(d->ntags + r->cells.n + 1, sizeof(*r->tags));
	for (size_t i = 0; i < r->cells.n; i++) {
		const char *k = r->cells.items[i].key, *v = r->cells.items[i].value;
		const struct column *c = column_of(k);
		int f;
		if (!c)
			continue; /* the parser let none through */
		switch (c->kind) {
		case COL_NAME:
			free(r->name);
			r->name = xstrdup(v);
			break;
		case COL_TEXT:
			*(const char **)((char *)&r->opts + c->off) = v;
			break;
		case COL_TAG:
			r->tags[ntags++] = v;
			break;
		case COL_FLAG:
		case COL_EXPORT:
			if ((f = flag_value(v)) < 0) {
				vbatch_row_problem(r, "write true or false (or yes, no, 1, 0)",
					"line %u: %s is '%s', not true or false", r->line,
					k, v);
				break;
			}
			if (c->kind == COL_EXPORT)
				r->is_export = f;
			else
				*(bool *)((char *)&r->opts + c->off) = f;
			break;
		}
	}
	/* The defaults' tags, unless the row gives the same key. */
	for (size_t i = 0; i < d->ntags; i++) {
		size_t klen = strcspn(d->tags[i], "=");
		bool mine = false;
		for (size_t j = 0; j < ntags && !mine; j++)
			mine = strncmp(r->tags[j], d->tags[i], klen) == 0 &&
			       r->tags[j][klen] == '=';
		if (!mine)
			r->tags[ntags++] = d->tags[i];
	}
	r->opts.tags = r->tags;
	r->opts.ntags = ntags;
}

static void check_export_cells(vbatch_row *r)
{
	if (r->is_export)
		return;
	for (size_t i = 0; i < r->cells.n; i++) {
		const struct column *c = column_of(r->cells.items[i].key);
		if (c && c->export_only)
			vbatch_row_problem(r, "set the row's export column to true, or "
					   "empty the cell", "line %u: %s without export",
					   r->line, c->name);
	}
}

/* Two rows for one object: the same key, or the same upload target. */
static void check_twins(vbatch_manifest *m, size_t i)
{
	vbatch_row *r = &m->rows[i];
	char *target = NULL;
	const char *src = r->opts.source;
	bool uploads = strncmp(src, "s3://", 5) != 0 &&
		       !(strlen(src) > 5 && strcasecmp(src + strlen(src) - 5, ".json") == 0);
	if (uploads)
		target = r->opts.s3_key ? xstrdup(r->opts.s3_key) : base_name(src, true);
	for (size_t j = 0; j < i && !r->problem; j++) {
		vbatch_row *o = &m->rows[j];
		if (!o->opts.source || o->key[0] == '\0')
			continue;
		if (strcmp(o->key, r->key) == 0) {
			vbatch_row_problem(r, "remove one, or give each its own s3-key",
				"line %u: the same source and s3-key as line %u", r->line,
				o->line);
		} else if (target) {
			char *other = o->opts.s3_key ? xstrdup(o->opts.s3_key)
						     : base_name(o->opts.source, true);
			if (strcmp(other, target) == 0)
				vbatch_row_problem(r, "give one of them another s3-key",
					"line %u uploads to the same s3://%s/%s as line %u",
					r->line, r->opts.s3_bucket ? r->opts.s3_bucket : "",
					target, o->line);
			free(other);
		}
	}
	free(target);
}

void vbatch_rows_prepare(vbatch_manifest *m, const vbatch_plan *p)
{
	for (size_t i = 0; i < m->n; i++) {
		vbatch_row *r = &m->rows[i];
		unsigned char md[32];
		apply_cells(r, p);
		if (!r->opts.source || !*r->opts.source) {
			r->opts.source = NULL;
			vbatch_row_problem(r, "every row names its image in the source column",
				"line %u: no source", r->line);
			r->mine = p->shards == 0 || i % p->shards == p->shard;
			continue;
		}
		hash_key(r, r->opts.source, r->opts.s3_key, md);
		if (!r->name || !*r->name) {
			free(r->name);
			r->name = base_name(r->opts.source, false);
		}
		uint64_t h = 0;
		for (int b = 0; b < 8; b++)
			h = h << 8 | md[b];
		r->mine = p->shards == 0 || h % p->shards == p->shard;
		check_export_cells(r);
		check_twins(m, i);
	}
}

vmie_operation vbatch_row_op(const vbatch_row *row)
{
	return row->is_export ? VMIE_OP_CONVERT : VMIE_OP_IMPORT;
}

/* --- the VM's command line -------------------------------------------- */

struct argv {
	char **v;
	size_t n, cap;
};

static void push(struct argv *a, const char *s)
{
	xgrow((void **)&a->v, &a->cap, a->n + 2, sizeof(*a->v));
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void push2(struct argv *a, const char *opt, const char *val)
{
	if (!val)
		return;
	push(a, opt);
	push(a, val);
}

char **vbatch_row_argv(const vbatch_row *row, const char *exe,
		       const char *const *extra, size_t nextra)
{
	const vmie_options *o = &row->opts;
	struct argv a = {0};
	vbuf opt = VBUF_INIT;

	push(&a, exe);
	push(&a, vmie_operation_name(vbatch_row_op(row)));
	push2(&a, "--s3-bucket", o->s3_bucket);
	push2(&a, "--region", o->aws.region);
	push2(&a, "--profile", o->aws.profile);
	push2(&a, "--endpoint-url", o->aws.endpoint_url);
	push2(&a, "--role-name", o->role_name);
	for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
		const struct column *c = &columns[i];
		if ((c->export_only && !row->is_export) ||
		    (c->kind != COL_TEXT && c->kind != COL_FLAG))
			continue;
		vbuf_reset(&opt);
		vbuf_addf(&opt, "--%s", c->name);
		if (c->kind == COL_TEXT)
			push2(&a, vbuf_str(&opt), *(const char *const *)((const char *)o + c->off));
		else if (*(const bool *)((const char *)o + c->off))
			push(&a, vbuf_str(&opt));
	}
	for (size_t i = 0; i < o->ntags; i++)
		push2(&a, "--tag", o->tags[i]);
	if (o->restart)
		push(&a, "--restart");
	for (size_t i = 0; i < nextra; i++)
		push(&a, extra[i]);
	vbuf_free(&opt);
	return a.v;
}

void vbatch_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* --- shards ------------------------------------------------------------ */

static bool whole(const char *s, unsigned long max, unsigned *out)
{
	char *end = NULL;
	if (!s || *s < '0' || *s > '9')
		return false;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

#define MAX_SHARDS 10000

int vbatch_shard(const char *spec, unsigned count, unsigned *shard,
		 unsigned *shards, vmie_error *err)
{
	const char *k8s = getenv("JOB_COMPLETION_INDEX");
	const char *aws = getenv("AWS_BATCH_JOB_ARRAY_INDEX");
	const char *env_n = getenv("VMIE_SHARDS");
	*shard = *shards = 0;
	if (spec) {
		char *i = xstrndup(spec, strcspn(spec, "/"));
		const char *n = strchr(spec, '/');
		bool ok = whole(i, MAX_SHARDS, shard) && n &&
			  whole(n + 1, MAX_SHARDS, shards) && *shards && *shard < *shards;
		free(i);
		if (ok)
			return 0;
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--shard must be I/N with N "
			 "from 1 to %u and I from 0 to N-1, not '%s'", MAX_SHARDS, spec);
		return verr_hint(err, "write --shard 0/4 for the first of four shards");
	}
	const char *index = k8s && *k8s ? k8s : aws && *aws ? aws : NULL;
	if (!index) {
		if (!count)
			return 0;
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--shard-count without a "
			 "shard index");
		return verr_hint(err, "run it where JOB_COMPLETION_INDEX is set (a "
				 "Kubernetes Indexed Job), or give --shard I/N");
	}
	const char *from = index == k8s ? "JOB_COMPLETION_INDEX"
					: "AWS_BATCH_JOB_ARRAY_INDEX";
	const char *size = index == aws ? getenv("AWS_BATCH_JOB_ARRAY_SIZE") : NULL;
	if (count)
		*shards = count;
	else if (!(size && whole(size, MAX_SHARDS, shards)) &&
		 !(env_n && whole(env_n, MAX_SHARDS, shards))) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s is set but not the "
			 "number of shards", from);
		return verr_hint(err, "pass --shard-count N (the Job's completions) or "
				 "set VMIE_SHARDS=N");
	}
	if (!whole(index, MAX_SHARDS, shard) || !*shards || *shard >= *shards) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s=%s is not a shard of %u",
			 from, index, *shards);
		return verr_hint(err, "the index runs from 0 to the number of shards "
				 "minus one: check --shard-count or VMIE_SHARDS");
	}
	return 0;
}
