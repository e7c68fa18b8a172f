/*
 * The ExportImage task: started with a ClientToken derived from the run
 * and written to the journal first (a retried request, or the same
 * command after a crash, never starts a second export), polled with the
 * same backoff as an import, left to AWS when the run is interrupted (the
 * same command follows it again), and its result confirmed with
 * HeadObject: a "completed" task whose object is missing is a failure,
 * not a success.
 */
#include "workflow/export_steps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/s3.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/kv.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/import_plan.h"
#include "workflow/import_steps.h"
#include "workflow/journal_steps.h"
#include "workflow/task_lease.h"

static const char *format_of(const vmie_options *o)
{
	return o->export_format ? o->export_format : "RAW";
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

struct start_ctx {
	vwf_run *r;
	const vec2_export_params *p;
	char **task_id;
};

static int start_once(void *ctx, vmie_error *err)
{
	struct start_ctx *c = ctx;
	return vec2_export_image(c->r->client, c->p, c->task_id, err);
}

static int start(vwf_run *r, const char *ami_id, const char *prefix,
		 bool role_created, char **task_id, vmie_error *err)
{
	const vmie_options *o = r->opts;
	vbuf what = VBUF_INIT;
	vkv tags = VKV_INIT;

	vbuf_addf(&what, "export:%s:s3://%s/%s:%s", ami_id, o->s3_bucket, prefix,
		  format_of(o));
	const char *urls[] = {vbuf_str(&what)};
	json_t *st = vwf_journal_step(r->journal, VWF_STEP_EXPORT);
	char attempt[32];
	snprintf(attempt, sizeof attempt, "attempt %lld", vwf_ji(st, "attempt", 1));
	const char *with_attempt[] = {vbuf_str(&what), attempt};
	char *token = vwf_js(st, "token") ? xstrdup(vwf_js(st, "token"))
		      : vwf_ji(st, "attempt", 1) > 1 ? vwf_client_token(r->run_id, with_attempt, 2)
						     : vwf_client_token(r->run_id, urls, 1);
	/* The intent first: the same token again is the same export. */
	vwf_step_state(st, "started");
	vwf_jset(st, "ami_id", ami_id);
	vwf_jset(st, "prefix", prefix);
	vwf_jset(st, "format", format_of(o));
	vwf_jset(st, "token", token);
	vwf_journal_save(r->journal);
	vwf_option_tags(o, &tags);
	vec2_export_params p = {
		.image_id = ami_id,
		.disk_image_format = format_of(o),
		.bucket = o->s3_bucket,
		.prefix = prefix,
		.role_name = o->role_name,
		.description = o->description ? o->description : "Exported by vmie",
		.client_token = token,
		.tags = tags.n ? &tags : NULL,
	};
	struct start_ctx ctx = {r, &p, task_id};
	int rc = vwf_cancelled(r) ? vwf_interrupted(r, err)
				  : vwf_retry_while_role_propagates(r, role_created, "VM Export",
								    start_once, &ctx, err);
	if (rc == 0) {
		vwf_jset(st, "task_id", *task_id);
		vwf_journal_save(r->journal);
	}
	vkv_free(&tags);
	free(token);
	vbuf_free(&what);
	return rc;
}

static int failed(vwf_run *r, const vec2_export_task *t, vmie_error *err)
{
	const char *msg = t->status_message ? t->status_message : "(no message)";
	json_t *st = vwf_journal_step(r->journal, VWF_STEP_EXPORT);
	vwf_step_state(st, "failed");
	vwf_jset(st, "status", t->status);
	vwf_jset(st, "message", msg);
	vwf_journal_save(r->journal);
	free(r->res->status_message);
	r->res->status_message = xstrdup(msg);
	verr_set(err, VMIE_ERR_AWS_EXPORT_TASK_FAILED, "export task %s %s: %s",
		 r->res->export_task_id, t->status, msg);
	if (strcasestr(msg, "role") || strcasestr(msg, "permission") ||
	    strcasestr(msg, "access denied"))
		verr_hint(err, "the %s role must be able to write to the bucket: "
			  "run again without --role-name to let vmie set it up, "
			  "or see the README's troubleshooting",
			  r->opts->role_name ? r->opts->role_name : "vmimport");
	else if (strcasestr(msg, "kms") || strcasestr(msg, "encrypt"))
		verr_hint(err, "VM Export writes only to buckets without SSE-KMS "
			  "default encryption, and reads only unencrypted snapshots");
	else
		verr_hint(err, "see the VM Export limits (unsupported AMIs, "
			  "volumes over 1 TiB) in the README's troubleshooting");
	return VMIE_ERR_AWS_EXPORT_TASK_FAILED;
}

static int wait_task(vwf_run *r, vmie_error *err)
{
	const char *id = r->res->export_task_id;
	for (unsigned attempt = 0;; attempt++) {
		vec2_export_task t = {0};
		int rc = vec2_describe_export_image_task(r->client, id, &t, err);
		if (rc == VEC2_NOT_FOUND)
			rc = verr_set(err, VMIE_ERR_AWS_TASK_STATUS_CHECK_FAILED,
				      "export task %s is no longer known to EC2", id);
		if (rc != 0) {
			vec2_export_task_free(&t);
			if (vwf_poll_goes_on(r, rc, err, "checking the export task")) {
				if ((rc = vwf_sleep(r, vwf_poll_delay_ms(attempt), err)) != 0)
					return rc;
				continue;
			}
			return rc;
		}
		bool done = strcmp(t.status, "completed") == 0;
		vwf_task_status(r, done ? 100 : t.progress < 0 ? 0 : t.progress, t.status,
				t.status_message);
		if (done) {
			vec2_export_task_free(&t);
			return 0;
		}
		if (strcmp(t.status, "deleted") == 0 || strcmp(t.status, "deleting") == 0) {
			rc = failed(r, &t, err);
			vec2_export_task_free(&t);
			return rc;
		}
		vec2_export_task_free(&t);
		/* Interrupted: the export goes on in AWS; the journal keeps it. */
		if ((rc = vwf_sleep(r, vwf_poll_delay_ms(attempt), err)) != 0)
			return rc;
	}
}

/* AWS names the object <prefix>export-ami-<id>.<format>, the id being the
 * task's without its "export-ami-" prefix. */
static char *object_key(const char *prefix, const char *task_id, const char *fmt)
{
	vbuf k = VBUF_INIT;
	const char *id = strncmp(task_id, "export-ami-", 11) == 0 ? task_id + 11 : task_id;
	char *f = xstrdup(fmt);
	lower(f);
	vbuf_addf(&k, "%sexport-ami-%s.%s", prefix, id, f);
	free(f);
	return vbuf_detach(&k);
}

static int confirm(vwf_run *r, const char *key, vmie_error *err)
{
	vs3_object obj = {0};
	const char *bucket = r->opts->s3_bucket;
	int rc = vs3_head_object(r->client, bucket, key, &obj, err);
	if (rc == VS3_NOT_FOUND)
		rc = verr_set(err, VMIE_ERR_AWS_TASK_RESULT_FAILED, "export task "
			      "%s completed but s3://%s/%s is not there",
			      r->res->export_task_id, bucket, key);
	if (rc == 0)
		r->res->export_size = obj.size;
	vs3_object_free(&obj);
	return rc;
}

/* What an earlier run of this command did: 0 when the export is done
 * (the result and *key filled), 1 when it must be followed (its task id
 * and prefix taken) or started, or a status (it failed). */
static int from_journal(vwf_run *r, const char *ami_id, char **prefix, char **key,
			vmie_error *err)
{
	json_t *st = vwf_journal_step_if(r->journal, VWF_STEP_EXPORT);
	const char *state = vwf_js(st, "state"), *id = vwf_js(st, "task_id");
	/* An export of another AMI (a sanbootable one made again) is not
	 * this one. */
	free(r->res->export_task_id);
	r->res->export_task_id = NULL;
	if (!state || strcmp(vwf_js(st, "ami_id") ? vwf_js(st, "ami_id") : "", ami_id) != 0) {
		vwf_journal_step_drop(r->journal, VWF_STEP_EXPORT);
		return 1;
	}
	free(*prefix);
	*prefix = xstrdup(vwf_js(st, "prefix"));
	r->res->export_task_id = id ? xstrdup(id) : NULL;
	if (strcmp(state, "done") == 0) {
		*key = xstrdup(vwf_js(st, "key"));
		free(r->res->export_url);
		r->res->export_url = xstrdup(vwf_js(st, "url"));
		r->res->export_size = (uint64_t)vwf_ji(st, "size", 0);
		vlog_info("exported already (task %s): %s", id, r->res->export_url);
		return 0;
	}
	if (strcmp(state, "failed") == 0) {
		/* An export is minutes, not an import's hour: try it again,
		 * as another request (another token). */
		vlog_warn("export task %s of an earlier run of this command %s: %s; "
			  "exporting again", id, vwf_js(st, "status"), vwf_js(st, "message"));
		long long attempt = vwf_ji(st, "attempt", 1) + 1;
		json_object_clear(st);
		vwf_jseti(st, "attempt", attempt);
		free(r->res->export_task_id);
		r->res->export_task_id = NULL;
		free(*prefix);
		*prefix = vwf_export_prefix(r->opts->s3_export_prefix);
		return 1;
	}
	if (id)
		vlog_info("following export task %s, started by the interrupted run", id);
	return 1;
}

static void journal_done(vwf_run *r, const char *key)
{
	json_t *st = vwf_journal_step(r->journal, VWF_STEP_EXPORT);
	vwf_step_state(st, "done");
	vwf_jset(st, "key", key);
	vwf_jset(st, "url", r->res->export_url);
	vwf_jseti(st, "size", (long long)r->res->export_size);
	vwf_journal_save(r->journal);
}

int vwf_export_task(vwf_run *r, const char *ami_id, bool role_created,
		    char **key, vmie_error *err)
{
	char *prefix = vwf_export_prefix(r->opts->s3_export_prefix);
	char *task_id = NULL;
	vbuf url = VBUF_INIT;
	int rc;

	*key = NULL;
	vwf_phase_begin(r, "export");
	if ((rc = from_journal(r, ami_id, &prefix, key, err)) != 1) {
		if (rc == 0)
			vwf_phase_end(r, 0);
		goto out;
	}
	if ((rc = vwf_journal_step_options(r->journal, VWF_STEP_EXPORT, r->opts, err)) != 0)
		goto out;
	/* A task followed from the interrupted run holds a slot as much as
	 * one started now. */
	if ((rc = vwf_lease_take(r, VWF_LEASE_TASK, err)) != 0)
		goto out;
	if (!r->res->export_task_id) {
		rc = start(r, ami_id, prefix, role_created, &task_id, err);
		if (rc != 0) {
			if (err && err->status != VMIE_ERR_INTERRUPTED)
				verr_prefix(err, "starting the export of %s", ami_id);
			goto out;
		}
		r->res->export_task_id = task_id;
		vlog_info("export task %s started: %s to s3://%s/%s", task_id, ami_id,
			  r->opts->s3_bucket, prefix);
	}
	vwf_report_result(r, "export_task_id", r->res->export_task_id);
	rc = wait_task(r, err);
	vwf_lease_release(r, VWF_LEASE_TASK);
	if (rc != 0)
		goto out;
	*key = object_key(prefix, r->res->export_task_id, format_of(r->opts));
	if ((rc = confirm(r, *key, err)) != 0)
		goto out;
	vbuf_addf(&url, "s3://%s/%s", r->opts->s3_bucket, *key);
	free(r->res->export_url);
	r->res->export_url = vbuf_detach(&url);
	journal_done(r, *key);
	vwf_report_result(r, "export_url", r->res->export_url);
	vwf_phase_end(r, 0); /* AWS moved the bytes: no rate to show */
	vlog_success("exported %s to %s (%llu bytes)", ami_id, r->res->export_url,
		     (unsigned long long)r->res->export_size);
out:
	if (rc != 0) {
		free(*key);
		*key = NULL;
	}
	vbuf_free(&url);
	free(prefix);
	return rc;
}
