/*
 * The VM Import task: ImportImage with every disk, then the wait.  The
 * ClientToken is the run's, written to the journal before the call, so a
 * retried request (by the request core, here while a new role
 * propagates, or by the same command after a crash) never starts a
 * second task.  A run interrupted during the wait leaves the task to
 * AWS, which converts on anyway: the same command follows it again.
 */
#include "workflow/import_steps.h"

#include <stdlib.h>
#include <string.h>

#include "aws/ec2_import.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/kv.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/import_plan.h"
#include "workflow/journal_steps.h"
#include "workflow/task_lease.h"

static char *token_for(vwf_run *r, const vwf_disk *disks, unsigned n)
{
	const char **urls = xcalloc(n ? n : 1, sizeof(*urls));
	char *tok;
	vbuf *bufs = xcalloc(n ? n : 1, sizeof(*bufs));

	for (unsigned i = 0; i < n; i++) {
		if (disks[i].url)
			vbuf_adds(&bufs[i], disks[i].url);
		else
			vbuf_addf(&bufs[i], "s3://%s/%s", disks[i].bucket,
				  disks[i].key);
		urls[i] = vbuf_str(&bufs[i]);
	}
	tok = vwf_client_token(r->run_id, urls, n);
	for (unsigned i = 0; i < n; i++)
		vbuf_free(&bufs[i]);
	free(bufs);
	free(urls);
	return tok;
}

struct start_ctx {
	vwf_run *r;
	const vec2_import_params *p;
	char **task_id;
};

static int start_once(void *ctx, vmie_error *err)
{
	struct start_ctx *c = ctx;
	return vec2_import_image(c->r->client, c->p, c->task_id, err);
}

static int start_task(vwf_run *r, const vwf_disk *disks, unsigned n,
		      bool role_created, char **task_id, vmie_error *err)
{
	const vmie_options *o = r->opts;
	vec2_disk_container *dc = xcalloc(n, sizeof(*dc));
	vkv tags = VKV_INIT;
	json_t *st = vwf_journal_step(r->journal, VWF_STEP_IMPORT);
	char *token = vwf_js(st, "token") ? xstrdup(vwf_js(st, "token"))
					  : token_for(r, disks, n);

	/* The intent first: a kill during the call leaves the token, and
	 * the same token again is the same task. */
	vwf_step_state(st, "started");
	vwf_jset(st, "token", token);
	vwf_journal_save(r->journal);
	/* A container the user wrote with a Url goes out with that Url (its
	 * bucket and key were only for the checks); EC2 wants one or the
	 * other, never neither. */
	for (unsigned i = 0; i < n; i++) {
		dc[i].format = disks[i].format;
		dc[i].url = disks[i].url;
		dc[i].bucket = disks[i].url ? NULL : disks[i].bucket;
		dc[i].key = disks[i].url ? NULL : disks[i].key;
		dc[i].description = disks[i].description;
	}
	vwf_option_tags(o, &tags);
	vec2_import_params p = {
		.description = o->description ? o->description : "Imported by vmie",
		.disks = dc,
		.ndisks = n,
		.license_type = o->license_type,
		.usage_operation = o->usage_operation,
		.architecture = o->architecture,
		.platform = o->platform,
		.boot_mode = o->boot_mode,
		.encrypted = o->encrypted || o->kms_key_id,
		.kms_key_id = o->kms_key_id,
		.role_name = o->role_name,
		.client_token = token,
		.tags = &tags,
	};
	struct start_ctx ctx = {r, &p, task_id};
	int rc = vwf_cancelled(r) ? vwf_interrupted(r, err)
				  : vwf_retry_while_role_propagates(r, role_created, "VM Import",
								    start_once, &ctx, err);
	if (rc == 0) {
		vwf_jset(st, "task_id", *task_id);
		vwf_journal_save(r->journal);
	}
	vkv_free(&tags);
	free(token);
	free(dc);
	return rc;
}

static void keep_result(vwf_run *r, const vec2_import_task *t)
{
	vmie_result *res = r->res;
	if (t->image_id && !res->ami_id) {
		res->ami_id = xstrdup(t->image_id);
		vwf_report_result(r, "ami_id", res->ami_id);
	}
	if (t->nsnapshot_ids && !res->nsnapshot_ids) {
		res->snapshot_ids = xcalloc(t->nsnapshot_ids, sizeof(char *));
		for (size_t i = 0; i < t->nsnapshot_ids; i++) {
			res->snapshot_ids[i] = xstrdup(t->snapshot_ids[i]);
			vwf_report_result(r, "snapshot_id", res->snapshot_ids[i]);
		}
		res->nsnapshot_ids = t->nsnapshot_ids;
	}
}

static int task_failed(vwf_run *r, const vec2_import_task *t, vmie_error *err)
{
	const char *msg = t->status_message ? t->status_message : "(no message)";
	const char *hint = vwf_import_failure_hint(t->status_message);
	json_t *st = vwf_journal_step(r->journal, VWF_STEP_IMPORT);

	vwf_step_state(st, "failed");
	vwf_jset(st, "status", t->status);
	vwf_jset(st, "message", msg);
	vwf_journal_save(r->journal);
	free(r->res->status_message);
	r->res->status_message = xstrdup(msg);
	verr_set(err, VMIE_ERR_AWS_IMPORT_TASK_FAILED, "import task %s %s: %s",
		 r->res->import_task_id, t->status, msg);
	if (hint)
		verr_hint(err, "%s", hint);
	return VMIE_ERR_AWS_IMPORT_TASK_FAILED;
}

/* The task is done: its AMI and snapshots, for the rerun too. */
static void journal_done(vwf_run *r)
{
	json_t *st = vwf_journal_step(r->journal, VWF_STEP_IMPORT);
	json_t *snaps = json_array();
	for (size_t i = 0; i < r->res->nsnapshot_ids; i++)
		json_array_append_new(snaps, json_string(r->res->snapshot_ids[i]));
	vwf_step_state(st, "done");
	vwf_jset(st, "ami_id", r->res->ami_id);
	if (st)
		json_object_set(st, "snapshot_ids", snaps);
	json_decref(snaps);
	vwf_journal_save(r->journal);
}

static int wait_task(vwf_run *r, vmie_error *err)
{
	const char *id = r->res->import_task_id;
	int rc = 0;

	for (unsigned attempt = 0;; attempt++) {
		vec2_import_task t = {0};
		rc = vec2_describe_import_image_task(r->client, id, &t, err);
		if (rc != 0) {
			vec2_import_task_free(&t);
			if (vwf_poll_goes_on(r, rc, err, "checking the import task")) {
				if ((rc = vwf_sleep(r, vwf_poll_delay_ms(attempt), err)) != 0)
					return rc;
				continue;
			}
			return rc;
		}
		/* A completed task reports no Progress: it is 100 %. */
		bool done = strcmp(t.status, "completed") == 0;
		vwf_task_status(r, done ? 100 : t.progress < 0 ? 0 : t.progress, t.status,
				t.status_message);
		keep_result(r, &t);
		if (done) {
			vec2_import_task_free(&t);
			if (!r->res->ami_id)
				return verr_set(err, VMIE_ERR_AWS_TASK_RESULT_FAILED,
						"import task %s completed without an "
						"AMI id", id);
			journal_done(r);
			return 0;
		}
		if (strcmp(t.status, "deleted") == 0 || strcmp(t.status, "deleting") == 0) {
			rc = task_failed(r, &t, err);
			vec2_import_task_free(&t);
			return rc;
		}
		vec2_import_task_free(&t);
		/* Interrupted: the task goes on in AWS, and the journal keeps
		 * it for the same command to follow. */
		rc = vwf_sleep(r, vwf_poll_delay_ms(attempt), err);
		if (rc != 0)
			return rc;
	}
}

/* What an earlier run of this command did: 0 when the task is done (the
 * result filled), 1 when it must be followed (res->import_task_id set)
 * or started, or a status (it failed). */
static int from_journal(vwf_run *r, vmie_error *err)
{
	json_t *st = vwf_journal_step_if(r->journal, VWF_STEP_IMPORT);
	const char *state = vwf_js(st, "state"), *id = vwf_js(st, "task_id");
	free(r->res->import_task_id);
	r->res->import_task_id = id ? xstrdup(id) : NULL;
	if (!state)
		return 1;
	if (strcmp(state, "done") == 0) {
		json_t *snaps = json_object_get(st, "snapshot_ids");
		free(r->res->ami_id);
		r->res->ami_id = xstrdup(vwf_js(st, "ami_id"));
		size_t n = json_array_size(snaps);
		if (n && !r->res->nsnapshot_ids) {
			r->res->snapshot_ids = xcalloc(n, sizeof(char *));
			for (size_t i = 0; i < n; i++)
				r->res->snapshot_ids[i] =
					xstrdup(json_string_value(json_array_get(snaps, i)));
			r->res->nsnapshot_ids = n;
		}
		vlog_info("imported already (task %s): %s", id, vwf_js(st, "ami_id"));
		return 0;
	}
	if (strcmp(state, "failed") == 0) {
		verr_set(err, VMIE_ERR_AWS_IMPORT_TASK_FAILED, "import task %s of an "
			 "earlier run of this command %s: %s", id, vwf_js(st, "status"),
			 vwf_js(st, "message"));
		verr_hint(err, "%s%sthen import again with --restart, or import the "
			  "uploaded image as it is with --source %s",
			  vwf_import_failure_hint(vwf_js(st, "message"))
				  ? vwf_import_failure_hint(vwf_js(st, "message")) : "",
			  vwf_import_failure_hint(vwf_js(st, "message")) ? "; " : "",
			  r->res->s3_url ? r->res->s3_url : "s3://BUCKET/KEY");
		return VMIE_ERR_AWS_IMPORT_TASK_FAILED;
	}
	if (id)
		vlog_info("following import task %s, started by the interrupted run", id);
	return 1;
}

int vwf_import_task(vwf_run *r, const vwf_disk *disks, unsigned ndisks,
		    bool role_created, vmie_error *err)
{
	char *task_id = NULL;
	int rc;

	vwf_phase_begin(r, "import");
	if ((rc = from_journal(r, err)) != 1) {
		if (rc == 0)
			vwf_phase_end(r, 0);
		return rc;
	}
	if ((rc = vwf_journal_step_options(r->journal, VWF_STEP_IMPORT, r->opts, err)) != 0)
		return rc;
	/* A task followed from the interrupted run holds a slot as much as
	 * one started now. */
	if ((rc = vwf_lease_take(r, VWF_LEASE_TASK, err)) != 0)
		return rc;
	if (!r->res->import_task_id) {
		rc = start_task(r, disks, ndisks, role_created, &task_id, err);
		if (rc != 0) {
			if (err && err->status != VMIE_ERR_INTERRUPTED)
				verr_prefix(err, "starting the import");
			return rc;
		}
		r->res->import_task_id = task_id;
		vlog_info("import task %s started", task_id);
	}
	vwf_report_result(r, "import_task_id", r->res->import_task_id);
	rc = wait_task(r, err);
	vwf_lease_release(r, VWF_LEASE_TASK);
	if (rc == 0) {
		vwf_phase_end(r, 0);
		vlog_success("imported %s as %s", r->res->s3_url, r->res->ami_id);
	}
	return rc;
}
