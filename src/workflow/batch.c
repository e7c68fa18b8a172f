/*
 * vmie_batch: the steps in order (batch.h lists the pieces).
 *
 *   1. the manifest read and every row made sense of (no AWS);
 *   2. this shard's rows; what an earlier run of the batch left (results
 *      files), and whether what it made is still in AWS (read-only calls);
 *   3. every row that is to run checked, its local source preflighted:
 *      an invalid row stops the batch before anything is created, unless
 *      --skip-invalid;
 *   4. the bucket and the role, once;
 *   5. the VMs, each its own vmie (batch_sched.c);
 *   6. the results files, which are also what step 2 reads next time.
 */
#include "workflow/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/batch_aws.h"
#include "workflow/run_ctx.h"

#define DEFAULT_MAX_TASKS 5     /* AWS's default quota (issue 15; unverified) */
#define DEFAULT_MAX_UPLOADS 2
#define DEFAULT_MAX_INSTANCES 2

void vmie_batch_result_free(vmie_batch_result *res)
{
	if (!res)
		return;
	free(res->results_csv);
	free(res->results_json);
	free(res->shard);
	memset(res, 0, sizeof(*res));
}

/* ./<manifest file name without its extension>.vmie-batch */
static char *default_dir(const char *manifest)
{
	const char *base = strrchr(manifest, '/');
	base = base ? base + 1 : manifest;
	size_t n = strcspn(base, ".");
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%.*s.vmie-batch", (int)(n ? n : strlen(base)), base);
	return vbuf_detach(&b);
}

static int read_manifest(const char *path, vbatch_manifest *m, vmie_error *err)
{
	vbuf text = VBUF_INIT;
	int e = vfile_read(path, VBATCH_MAX_BYTES, &text), rc;
	if (e) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "cannot read the manifest %s: %s",
			 path, e == EFBIG ? "larger than 64 MiB" : strerror(e));
		rc = verr_hint(err, "give the path of a CSV or JSON Lines file, one "
			       "row per VM");
	} else if ((rc = vbatch_parse(path, vbuf_str(&text), text.len, m, err)) != 0) {
		verr_prefix(err, "manifest %s", path);
	}
	vbuf_free(&text);
	return rc;
}

/* Batch event shim for the batch's own phases (bucket, role). */
static void setup_event(void *ctx, const vmie_event *ev)
{
	const vmie_batch_options *o = ctx;
	vmie_batch_totals t = {0};
	vmie_batch_event e = {.kind = VMIE_BATCH_SETUP, .ev = ev, .totals = &t};
	if (o->on_event)
		o->on_event(o->event_ctx, &e);
}

/* Which rows run: the earlier outcome of each row of the shard decides,
 * and AWS confirms what is done.  Returns nonzero when AWS could not be
 * asked. */
static int decide(vwf_run *r, vbatch_manifest *m, bool retry_failed, vmie_error *err)
{
	for (size_t i = 0; i < m->n; i++) {
		vbatch_row *row = &m->rows[i];
		vbatch_outcome *o = &row->out;
		bool there = false;
		int rc;
		if (!row->mine || row->problem)
			continue;
		switch (o->status) {
		case VBATCH_SUCCEEDED:
			if ((rc = vbatch_still_there(r, row, &there, err)) != 0)
				return rc;
			o->earlier = there;
			if (!there) { /* made anew, not "done already" by its journal */
				o->status = VBATCH_PENDING;
				row->opts.restart = true;
			}
			break;
		case VBATCH_FAILED:
			o->earlier = true;
			if (retry_failed) { /* tried anew, not resumed into its failure */
				o->status = VBATCH_PENDING;
				o->earlier = false;
				row->opts.restart = true;
			}
			break;
		default: /* never run, interrupted, invalid last time: run */
			if ((rc = vbatch_task_finished(r, row, &there, err)) != 0)
				return rc;
			o->status = there ? VBATCH_SUCCEEDED : VBATCH_PENDING;
			o->earlier = there;
			break;
		}
	}
	return 0;
}

static bool any(const vbatch_manifest *m, bool exports_only)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->rows[i].mine && m->rows[i].out.status == VBATCH_PENDING &&
		    (!exports_only || m->rows[i].is_export))
			return true;
	return false;
}

/* Rows settled before anything runs: shown once, like the others. */
static void announce(const vmie_batch_options *o, vbatch_manifest *m)
{
	vmie_batch_totals t = {0};
	vbatch_totals(m, &t);
	for (size_t i = 0; i < m->n && o->on_event; i++) {
		vbatch_row *row = &m->rows[i];
		if (!row->mine || row->out.status == VBATCH_PENDING)
			continue;
		vbatch_row_view(row);
		vmie_batch_event e = {.kind = VMIE_BATCH_ROW_END, .row = &row->view,
				      .totals = &t};
		o->on_event(o->event_ctx, &e);
	}
}

static void fill_result(vmie_batch_result *res, const vbatch_manifest *m,
			const vbatch_files *f, unsigned shard, unsigned shards)
{
	vmie_batch_totals t = {0};
	vbatch_totals(m, &t);
	res->rows = t.rows;
	res->succeeded = t.succeeded;
	res->failed = t.failed;
	res->invalid = t.invalid;
	res->interrupted = t.interrupted + t.left; /* not run: interrupted before */
	for (size_t i = 0; i < m->n; i++)
		res->earlier += m->rows[i].mine && m->rows[i].out.earlier &&
				m->rows[i].out.status == VBATCH_SUCCEEDED;
	res->results_csv = xstrdup(f->csv);
	res->results_json = xstrdup(f->json);
	if (shards) {
		vbuf b = VBUF_INIT;
		vbuf_addf(&b, "%u/%u", shard, shards);
		res->shard = vbuf_detach(&b);
	}
}

struct batch {
	const vmie_batch_options *o;
	vmie_options defaults; /* the rows' */
	vmie_options own;      /* the batch's own run: setup and checks */
	vbatch_manifest m;
	vbatch_files f;
	unsigned shard, shards;
	char *region, *dir;
	vwf_run r;
	vmie_result setup_res;
	bool started;
};

static int prepare(struct batch *b, vmie_error *err)
{
	const vmie_batch_options *o = b->o;
	const char *src = NULL;
	int rc;
	if ((rc = vbatch_shard(o->shard, o->shard_count, &b->shard, &b->shards, err)) != 0 ||
	    (rc = vmie_resolve_region(&o->defaults.aws, &b->region, &src, err)) != 0 ||
	    (rc = read_manifest(o->manifest, &b->m, err)) != 0)
		return rc;
	/* Every VM in the region the batch resolved, whatever their
	 * environment says by the time they start. */
	b->defaults.aws.region = b->region;
	vbatch_plan plan = {&b->defaults, o->export_all, b->shard, b->shards};
	vbatch_rows_prepare(&b->m, &plan);
	b->dir = o->results_dir ? xstrdup(o->results_dir) : default_dir(o->manifest);
	if ((rc = vbatch_files_open(&b->f, b->dir, b->shard, b->shards, err)) != 0)
		return rc;
	vbatch_state_load(&b->f, &b->m);
	b->own = b->defaults;
	b->own.on_event = setup_event; /* the batch's phases reach the front-end */
	b->own.event_ctx = (void *)o;
	b->own.cancel = o->cancel;
	b->started = true; /* vwf_run_finish is due even when the start fails */
	if ((rc = vwf_run_start(&b->r, &b->own, &b->setup_res, err)) != 0)
		return rc;
	return decide(&b->r, &b->m, o->retry_failed, err);
}

static int rows_invalid(struct batch *b, size_t bad, vmie_error *err)
{
	vmie_error e = {0};
	if (vbatch_state_save(&b->f, &b->m, b->o->manifest, b->shard, b->shards, &e))
		vlog_warn("%s", e.message);
	vmie_error_clear(&e);
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%zu row%s of %s %s invalid: nothing "
		 "was started", bad, bad == 1 ? "" : "s", b->o->manifest,
		 bad == 1 ? "is" : "are");
	return verr_hint(err, "fix %s (listed above and in %s), or pass "
			 "--skip-invalid to run the others", bad == 1 ? "it" : "them",
			 b->f.csv);
}

int vmie_batch(const vmie_batch_options *o, vmie_batch_result *res,
	       vmie_error *err)
{
	struct batch b = {.o = o, .defaults = o->defaults};
	int rc;

	if (res)
		memset(res, 0, sizeof(*res));
	if ((rc = prepare(&b, err)) != 0)
		goto out;
	size_t bad = vbatch_check_rows(&b.m, o->manifest);
	if (bad && !o->skip_invalid) {
		rc = rows_invalid(&b, bad, err);
		goto out;
	}
	announce(o, &b.m);
	if (any(&b.m, false) &&
	    (rc = vbatch_aws_setup(&b.r, any(&b.m, true), err)) != 0) {
		verr_prefix(err, "setting up the batch's bucket and role");
		goto out;
	}
	vbatch_run run = {
		.o = o, .manifest = o->manifest, .m = &b.m, .f = &b.f,
		.shard = b.shard, .shards = b.shards,
		.max_tasks = o->max_tasks ? o->max_tasks : DEFAULT_MAX_TASKS,
		.max_uploads = o->max_uploads ? o->max_uploads : DEFAULT_MAX_UPLOADS,
		.max_instances = o->max_instances ? o->max_instances : DEFAULT_MAX_INSTANCES,
	};
	if ((rc = vbatch_schedule(&run, err)) != 0)
		goto out;
	vmie_batch_totals t = {0};
	vbatch_totals(&b.m, &t);
	if (t.succeeded != t.rows) {
		verr_set(err, VMIE_ERR_BATCH_INCOMPLETE, "%u of %u VM%s did not succeed",
			 t.rows - t.succeeded, t.rows, t.rows == 1 ? "" : "s");
		rc = verr_hint(err, "see %s for each row's error and log; run the "
			       "same command again to go on (--retry-failed to "
			       "try the failed ones again)", b.f.csv);
	}
out:
	if (res && b.f.json)
		fill_result(res, &b.m, &b.f, b.shard, b.shards);
	if (b.started)
		vwf_run_finish(&b.r);
	vmie_result_free(&b.setup_res);
	vbatch_manifest_free(&b.m);
	vbatch_files_free(&b.f);
	free(b.region);
	free(b.dir);
	return rc;
}
