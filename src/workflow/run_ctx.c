/*
 * The shared reporting of a workflow run (run_ctx.h), and freeing its
 * result.
 */
#include "workflow/run_ctx.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "workflow/import_plan.h"
#include "workflow/task_lease.h"

double vwf_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int vwf_run_start(vwf_run *r, const vmie_options *o, vmie_result *res,
		  vmie_error *err)
{
	memset(r, 0, sizeof(*r));
	r->opts = o;
	r->res = res;
	r->t0 = vwf_now();
	r->run_id = vwf_new_run_id();
	int rc = vaws_client_new(&o->aws, &r->client, err);
	if (rc == 0)
		vaws_client_set_cancel(r->client, o->cancel);
	return rc;
}

void vwf_run_finish(vwf_run *r)
{
	if (r->res)
		r->res->seconds = vwf_now() - r->t0;
	vwf_leases_free(r);
	vaws_client_free(r->client);
	free(r->run_id);
	r->client = NULL;
	r->run_id = NULL;
}

static void emit(vwf_run *r, vmie_event *ev)
{
	if (!r->opts->on_event)
		return;
	ev->phase = ev->phase ? ev->phase : r->phase;
	if (!ev->phase)
		ev->phase = "";
	if (r->phase)
		ev->seconds = vwf_now() - r->phase_t0;
	r->opts->on_event(r->opts->event_ctx, ev);
}

void vwf_phase_begin(vwf_run *r, const char *phase)
{
	r->phase = phase;
	r->phase_t0 = vwf_now();
	vmie_event ev = {.kind = VMIE_EVENT_PHASE_BEGIN, .percent = -1};
	emit(r, &ev);
}

void vwf_phase_end(vwf_run *r, uint64_t bytes)
{
	if (!r->phase)
		return;
	double secs = vwf_now() - r->phase_t0;
	if (r->res && r->res->nphases < sizeof(r->res->phases) / sizeof(r->res->phases[0])) {
		r->res->phases[r->res->nphases].phase = r->phase;
		r->res->phases[r->res->nphases].seconds = secs;
		r->res->nphases++;
	}
	vmie_event ev = {.kind = VMIE_EVENT_PHASE_END, .done = bytes, .percent = -1};
	emit(r, &ev);
	r->phase = NULL;
}

void vwf_progress(vwf_run *r, uint64_t done, uint64_t total)
{
	vmie_event ev = {.kind = VMIE_EVENT_PROGRESS, .done = done, .total = total,
			 .percent = -1};
	emit(r, &ev);
}

void vwf_task_status(vwf_run *r, int percent, const char *status,
		     const char *message)
{
	vmie_event ev = {.kind = VMIE_EVENT_STATUS, .percent = percent < 0 ? -1 : percent,
			 .status = status, .message = message};
	emit(r, &ev);
}

void vwf_report_result(vwf_run *r, const char *key, const char *value)
{
	vmie_event ev = {.kind = VMIE_EVENT_RESULT, .percent = -1, .key = key,
			 .value = value};
	emit(r, &ev);
}

void vwf_option_tags(const vmie_options *o, vkv *tags)
{
	for (size_t i = 0; i < o->ntags; i++) {
		const char *eq = strchr(o->tags[i], '=');
		vkv_addn(tags, o->tags[i], (size_t)(eq - o->tags[i]), eq + 1,
			 strlen(eq + 1));
	}
}

bool vwf_cancelled(const vwf_run *r)
{
	return r->opts->cancel && *r->opts->cancel;
}

int vwf_interrupted(vwf_run *r, vmie_error *err)
{
	verr_set(err, VMIE_ERR_INTERRUPTED, "interrupted%s%s", r->phase ? " during " : "",
		 r->phase ? r->phase : "");
	return VMIE_ERR_INTERRUPTED;
}

int vwf_sleep(vwf_run *r, long ms, vmie_error *err)
{
	vwf_lease_tick(r);
	while (ms > 0) {
		if (vwf_cancelled(r))
			return vwf_interrupted(r, err);
		long step = ms < 100 ? ms : 100;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return vwf_cancelled(r) ? vwf_interrupted(r, err) : 0;
}

void vmie_result_free(vmie_result *res)
{
	if (!res)
		return;
	free(res->source);
	free(res->s3_url);
	free(res->format);
	free(res->import_task_id);
	free(res->ami_id);
	for (size_t i = 0; i < res->nsnapshot_ids; i++)
		free(res->snapshot_ids[i]);
	free(res->snapshot_ids);
	free(res->status_message);
	free(res->source_ami_id);
	free(res->sanbootable_ami_id);
	free(res->instance_id);
	free(res->command_id);
	free(res->export_task_id);
	free(res->export_url);
	free(res->download_path);
	free(res->verified_with);
	memset(res, 0, sizeof(*res));
}
