/*
 * vmie batch inside the library: the pieces of vmie_batch (batch.c) and
 * what they share.  One file per idea:
 *   batch_manifest.c  CSV (RFC 4180) and JSON Lines into rows of cells
 *   batch_rows.c      cells into each VM's options, the stable key, the
 *                     shard, the command line of the VM's run
 *   batch_check.c     every row checked (and its local source preflighted)
 *                     before anything is created
 *   batch_state.c     the results files, which are also the batch's state
 *   batch_child.c     one VM's run: a child vmie process and its events
 *   batch_sched.c     how many run at once, and what the user sees
 *   batch_aws.c       the batch's AWS side: one bucket and role step, and
 *                     whether a VM done earlier still has its AMI
 */
#ifndef VMIE_WORKFLOW_BATCH_H
#define VMIE_WORKFLOW_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kv.h"
#include "vmie.h"

/* Bounds on untrusted manifests. */
#define VBATCH_MAX_BYTES (64u << 20)
#define VBATCH_MAX_ROWS 100000
#define VBATCH_MAX_CELLS 256
#define VBATCH_MAX_CELL (64u << 10)

typedef enum vbatch_status {
	VBATCH_PENDING,
	VBATCH_RUNNING,
	VBATCH_SUCCEEDED,
	VBATCH_FAILED,
	VBATCH_INVALID,
	VBATCH_INTERRUPTED,
} vbatch_status;

const char *vbatch_status_name(vbatch_status s);
/* -1 when s names no status. */
int vbatch_status_parse(const char *s);

/* What a VM's run made and how it ended: kept in the results. */
typedef struct vbatch_outcome {
	vbatch_status status;
	char *ami_id;
	char *sanbootable_ami_id;
	char *export_url;
	char *s3_url;
	char *import_task_id;
	char *export_task_id;
	char *error_code;   /* "ERR_AWS_IMPORT_TASK_FAILED", ... */
	char *error;
	char *hint;
	int exit_status;    /* the VM's vmie; -1 when it did not run */
	long long started;  /* unix seconds; 0: not yet */
	long long finished;
	double seconds;
	uint64_t uploaded;  /* bytes */
	unsigned attempts;
	bool earlier;       /* done by an earlier run of the batch */
} vbatch_outcome;

void vbatch_outcome_free(vbatch_outcome *o);

struct vbatch_child;

/* A running row as its events show it. */
typedef struct vbatch_live {
	char phase[24];
	char state[200];   /* the task's status and message, or "queued: ..." */
	bool past_upload;  /* its upload (or setup) is over: --max-uploads */
	uint64_t uploading; /* bytes of its upload so far */
	double t0;         /* monotonic start */
} vbatch_live;

typedef struct vbatch_row {
	unsigned line;      /* where the row starts in the manifest */
	vkv cells;          /* column -> text as written; "tag" may repeat */
	char *problem;      /* set: the row is invalid, this says why */
	char *hint;
	/* batch_rows.c */
	char key[17];       /* 16 hex digits of SHA-256(source, s3-key) */
	char *name;
	bool is_export;     /* a convert: import, then export */
	bool mine;          /* in this shard */
	vmie_options opts;  /* the defaults, then the row's cells */
	const char **tags;
	/* the run */
	vbatch_outcome out;
	struct vbatch_child *child;
	vbatch_live live;
	vmie_batch_row view; /* what events show of the row */
} vbatch_row;

typedef struct vbatch_manifest {
	vbatch_row *rows;
	size_t n;
} vbatch_manifest;

void vbatch_manifest_free(vbatch_manifest *m);
/* Mark the row invalid with why (the first problem wins) and the fix. */
void vbatch_row_problem(vbatch_row *r, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* batch_manifest.c: text (len bytes, any content) named `name` (its
 * extension decides the format: .jsonl, .ndjson and .json are JSON Lines,
 * anything else CSV, unless the text starts with '{').  A problem in one
 * row marks that row (problem, with its line); a problem with the whole
 * file (no header, an unknown column, an unclosed quote) is an error. */
int vbatch_parse(const char *name, const char *text, size_t len,
		 vbatch_manifest *m, vmie_error *err);

/* Shared by the manifest's two readers (batch_manifest.c, batch_csv.c):
 * UTF-8 without control characters but tab; "--Source " -> "source"; a new
 * row at line; a cell (a tag cell split at ';'); the CSV reader. */
bool vbatch_clean_text(const char *s, size_t n);
char *vbatch_column_name(const char *s);
vbatch_row *vbatch_new_row(vbatch_manifest *m, size_t *cap, unsigned line);
void vbatch_add_cell(vbatch_row *r, const char *name, const char *value);
int vbatch_parse_csv(const char *text, size_t len, vbatch_manifest *m,
		     vmie_error *err);

/* batch_rows.c */
/* A column (or JSON key) the manifest may have: the per-VM options of
 * vmie import and convert by their long names, plus name, export and
 * tag.  false with err saying why (an option that is the batch's, like
 * s3-bucket, or no option at all) and what the columns are. */
bool vbatch_known_column(const char *name, vmie_error *err);
typedef struct vbatch_plan {
	const vmie_options *defaults;
	bool export_all;
	unsigned shard, shards; /* shards 0: one shard of everything */
} vbatch_plan;

/* Each row's options, name, key and shard; rows whose cells make no sense
 * (an unknown key, a flag that is not yes or no, export options on a row
 * that does not export, two rows for one object) get their problem. */
void vbatch_rows_prepare(vbatch_manifest *m, const vbatch_plan *p);
/* The command line of a row's run, NULL-terminated (free with
 * vbatch_argv_free); extra are appended as they are. */
char **vbatch_row_argv(const vbatch_row *row, const char *exe,
		       const char *const *extra, size_t nextra);
void vbatch_argv_free(char **argv);
/* The operation the row runs. */
vmie_operation vbatch_row_op(const vbatch_row *row);
/* "I/N" (0-based I), or from the environment: JOB_COMPLETION_INDEX with
 * count (or VMIE_SHARDS), AWS_BATCH_JOB_ARRAY_INDEX with
 * AWS_BATCH_JOB_ARRAY_SIZE.  shards 0: no sharding. */
int vbatch_shard(const char *spec, unsigned count, unsigned *shard,
		 unsigned *shards, vmie_error *err);

/* batch_check.c: every row of the shard that is to run (status pending)
 * checked as vmie import (convert) checks its options, and its local
 * source preflighted; a row that fails gets status invalid and its
 * problem.  Returns how many rows of the shard are invalid. */
size_t vbatch_check_rows(vbatch_manifest *m, const char *manifest);

/* batch_state.c: the results in dir, named for the shard. */
typedef struct vbatch_files {
	char *dir;
	char *json;    /* results.json or results-shard-I-of-N.json */
	char *csv;
	char *rows;    /* dir/rows: each VM's events and log */
} vbatch_files;

int vbatch_files_open(vbatch_files *f, const char *dir, unsigned shard,
		      unsigned shards, vmie_error *err);
void vbatch_files_free(vbatch_files *f);
/* A row's files: <rows>/<key>.events (its vmie's stdout) and .log. */
char *vbatch_row_file(const vbatch_files *f, const vbatch_row *row,
		      const char *ext);
/* The outcomes an earlier run left (every results*.json of the dir: a
 * batch run with another shard count counts too), into the rows of this
 * shard by key.  A row the earlier run left "running" (it was killed) is
 * settled from what its VM's vmie printed. */
void vbatch_state_load(const vbatch_files *f, vbatch_manifest *m);
/* Both results files, atomically (0600 like every state file). */
int vbatch_state_save(const vbatch_files *f, const vbatch_manifest *m,
		      const char *manifest, unsigned shard, unsigned shards,
		      vmie_error *err);

/* batch_sched.c: run every pending row of the shard, each as a child
 * vmie, within the limits; rows settle as their runs end (state saved as
 * it goes).  VMIE_ERR_INTERRUPTED when o->cancel stopped it (the children
 * were told and waited for). */
typedef struct vbatch_run {
	const vmie_batch_options *o;
	const char *manifest;
	vbatch_manifest *m;
	const vbatch_files *f;
	unsigned shard, shards;
	unsigned max_tasks, max_uploads, max_instances;
} vbatch_run;
int vbatch_schedule(const vbatch_run *run, vmie_error *err);

/* Fills a view of row for an event (strings point into the row). */
void vbatch_row_view(vbatch_row *row);
/* The totals of the shard's rows now. */
void vbatch_totals(const vbatch_manifest *m, vmie_batch_totals *t);

#endif
