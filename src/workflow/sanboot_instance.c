/*
 * The temporary instance's life: launched from the source AMI (tagged so
 * that a later run can find it, journaled so that a later run on this
 * machine knows whether its owner is gone), waited for, stopped before
 * imaging, and terminated on every path -- success, failure, Ctrl-C.
 */
#include "workflow/sanboot_steps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/kv.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/import_plan.h"
#include "workflow/journal_steps.h"
#include "workflow/sanboot_journal.h"
#include "workflow/state_dir.h"
#include "workflow/sanboot_scripts.h"
#include "workflow/task_lease.h"

/* How long RunInstances may refuse a just-created instance profile. */
#define PROFILE_PROPAGATION_S 120.0
/* The bounded wait for a terminated instance (cancelled: shorter, the
 * user is waiting to get the prompt back). */
#define TERMINATE_WAIT_S 90.0
#define TERMINATE_WAIT_CANCELLED_S 20.0

/* "Value (X) for parameter iamInstanceProfile.name is invalid. Invalid
 * IAM Instance Profile name": a new profile EC2 does not see yet. */
static bool profile_not_visible_yet(const vmie_error *e)
{
	return e->aws_code && strcmp(e->aws_code, "InvalidParameterValue") == 0 &&
	       e->message && strcasestr(e->message, "instance profile");
}

static void instance_tags(vwf_sanboot_job *job, vkv *tags)
{
	vkv_add(tags, "Name", VWF_SB_NAME_TAG);
	vkv_add(tags, "CreatedBy", VWF_SB_CREATED_BY);
	vkv_add(tags, "vmie:run-id", job->r->run_id);
	vkv_add(tags, "vmie:source-ami", job->source_ami);
}

/* What EC2 answers when a zone cannot take the launch (the type is not
 * offered there, or no capacity now); another zone may. */
static bool zone_refused(const vmie_error *e)
{
	return e->aws_code && (strcmp(e->aws_code, "Unsupported") == 0 ||
			       strcmp(e->aws_code, "InsufficientInstanceCapacity") == 0);
}

/* The next default subnet, when there is one left: true after the switch. */
static bool next_subnet(vwf_sanboot_job *job, const vmie_error *e)
{
	if (!job->nspare)
		return false;
	vlog_warn("%s cannot start in the zone of subnet %s (%s); trying subnet %s",
		  job->instance_type, job->subnet_id, e->aws_code,
		  job->spare_subnets[0]);
	free(job->subnet_id);
	job->subnet_id = job->spare_subnets[0];
	memmove(job->spare_subnets, job->spare_subnets + 1,
		--job->nspare * sizeof(char *));
	return true;
}

/* One subnet: RunInstances, retried while a new profile propagates.  The
 * token names the subnet and the launch's number in the run: the same
 * launch retried is one instance, a launch in another zone (or one after
 * the interrupted run's instance was ended) is another request.  The
 * intent is journaled first: a run killed during the call leaves the
 * token, and the instance is found by its tags. */
static int run_in_subnet(vwf_sanboot_job *job, vmie_error *err)
{
	vwf_run *r = job->r;
	char launch[32];
	/* A launch whose answer never came may still make its instance: the
	 * same token again is that instance, not a second one. */
	bool unanswered = vwf_js(job->jstep, "token") && !vwf_js(job->jstep, "instance_id") &&
			  !vwf_jb(job->jstep, "terminated") &&
			  strcmp(vwf_js(job->jstep, "subnet") ? vwf_js(job->jstep, "subnet") : "",
				 job->subnet_id ? job->subnet_id : "") == 0;
	long long n = vwf_ji(job->jstep, "launch", 0) + (unanswered ? 0 : 1);
	snprintf(launch, sizeof launch, "launch %lld", n);
	const char *src[] = {job->source_ami, job->subnet_id ? job->subnet_id : "",
			     n > 1 ? launch : NULL};
	char *token = vwf_client_token(r->run_id, src, n > 1 ? 3 : 2);
	vkv tags = VKV_INIT;
	vwf_sb_wait w;
	int rc;

	vwf_jseti(job->jstep, "launch", n);
	vwf_jset(job->jstep, "token", token);
	vwf_jset(job->jstep, "subnet", job->subnet_id);
	vwf_jset(job->jstep, "instance_id", NULL);
	vwf_jset(job->jstep, "command_id", NULL);
	vwf_jsetb(job->jstep, "terminated", false);
	vwf_jsetb(job->jstep, "installed", false);
	vwf_journal_save(r->journal);

	instance_tags(job, &tags);
	vec2_run_params p = {
		.image_id = job->source_ami,
		.instance_type = job->instance_type,
		.subnet_id = job->subnet_id,
		.instance_profile_name = job->profile,
		.user_data = vdata_ssm_agent_userdata_sh,
		.client_token = token,
		.tags = &tags,
	};
	vwf_sb_wait_start(&w, NULL, PROFILE_PROPAGATION_S, 10000);
	for (;;) {
		vmie_error e = {0};
		rc = vec2_run_instance(r->client, &p, &job->instance_id, &e);
		if (rc == 0 || !job->profile_created || !profile_not_visible_yet(&e)) {
			verr_move(err, &e);
			break;
		}
		if (w.attempt == 0)
			vlog_info("waiting for IAM to make instance profile %s "
				  "visible to EC2", job->profile);
		int wr = vwf_sb_wait_next(r, &w, err);
		if (wr != 0) {
			if (wr == VWF_SB_TIMED_OUT)
				verr_move(err, &e);
			else
				vmie_error_clear(&e);
			rc = wr == VWF_SB_TIMED_OUT ? VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED : wr;
			break;
		}
		vmie_error_clear(&e);
	}
	vkv_free(&tags);
	free(token);
	return rc;
}

static int run_instance(vwf_sanboot_job *job, vmie_error *err)
{
	int rc;
	for (;;) {
		rc = run_in_subnet(job, err);
		if (rc == 0 || rc == VMIE_ERR_INTERRUPTED || !err ||
		    !zone_refused(err) || !next_subnet(job, err))
			break;
		vmie_error_clear(err);
	}
	if (rc != 0 && rc != VMIE_ERR_INTERRUPTED) {
		verr_prefix(err, "launching an instance of %s (%s)", job->source_ami,
			    job->instance_type);
		if (err && zone_refused(err) && !err->hint)
			verr_hint(err, "choose another --instance-type, or a "
				  "--subnet-id in a zone that offers %s "
				  "(aws ec2 describe-instance-type-offerings "
				  "--location-type availability-zone --filters "
				  "Name=instance-type,Values=%s)", job->instance_type,
				  job->instance_type);
		rc = vwf_sb_as_step(err, rc, VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED);
	}
	return rc;
}

/* The interrupted run's instance: the one its journal names, or (when
 * RunInstances never answered) the one tagged with the run's id.  NULL
 * when there is none alive. */
static char *earlier_instance(vwf_sanboot_job *job)
{
	const char *id = vwf_js(job->jstep, "instance_id");
	vkv tags = VKV_INIT;
	vec2_instance *list = NULL;
	size_t n = 0;
	vmie_error e = {0};
	char *found = NULL;
	if (vwf_jb(job->jstep, "terminated") || (!id && !vwf_js(job->jstep, "token")))
		return NULL;
	vkv_add(&tags, "vmie:run-id", job->r->run_id);
	vkv_add(&tags, "vmie:source-ami", job->source_ami);
	if (vec2_find_instances(job->r->client, &tags, true, &list, &n, &e) == 0)
		for (size_t i = 0; i < n; i++)
			if (!found && (!id || strcmp(list[i].instance_id, id) == 0))
				found = xstrdup(list[i].instance_id);
	for (size_t i = 0; i < n; i++)
		vec2_instance_free(&list[i]);
	free(list);
	vkv_free(&tags);
	vmie_error_clear(&e);
	return found;
}

void vwf_sb_leftover_instance(vwf_sanboot_job *job)
{
	job->instance_id = earlier_instance(job);
	job->journaled = job->instance_id != NULL;
}

/* A resumed run: the earlier instance goes on when sanbootable is on it
 * (only the image is left to make), else it is ended and the install
 * starts again on a new one.  true when job->instance_id is taken over. */
static bool take_over(vwf_sanboot_job *job)
{
	char *id = earlier_instance(job);
	if (!id)
		return false;
	job->instance_id = id;
	if (vwf_jb(job->jstep, "installed")) {
		job->installed = true;
		job->journaled = true;
		vlog_info("going on with instance %s of the interrupted run: sanbootable "
			  "is installed on it", id);
		return true;
	}
	vlog_info("terminating instance %s of the interrupted run (sanbootable was "
		  "not installed on it yet): the install starts again on a new one", id);
	job->journaled = true;
	vwf_sb_terminate(job);
	free(job->instance_id);
	job->instance_id = NULL;
	return false;
}

static void journal(vwf_sanboot_job *job)
{
	vwf_instance_entry e;
	const char *why = NULL;

	vwf_instance_entry_for_me(&e, job->instance_id, job->r->run_id,
				 vaws_client_region(job->r->client), job->source_ami);
	vwf_jset(job->jstep, "instance_id", job->instance_id);
	vwf_journal_save(job->r->journal);
	if (vwf_instances_add(&e, &why) == 0)
		job->journaled = true;
	else
		vlog_warn("could not journal instance %s (%s): if this run is "
			  "killed, the next one will not terminate it by itself",
			  job->instance_id, why);
	vwf_instance_entry_free(&e);
}

/* Polls the instance until it is in `want`; a state that does not lead
 * there (stopped while starting, terminated, ...) fails with
 * fail_status. */
static int wait_state(vwf_sanboot_job *job, const char *want, const char *knob,
		      double limit_s, int fail_status, vmie_error *err)
{
	vwf_run *r = job->r;
	const char *id = job->instance_id;
	char *last = NULL;
	vwf_sb_wait w;
	int rc;

	vwf_sb_wait_start(&w, knob, limit_s, 15000);
	for (;;) {
		vec2_instance inst = {0};
		rc = vec2_describe_instance(r->client, id, &inst, err);
		if (rc < 0 && vwf_poll_goes_on(r, rc, err, "checking the instance")) {
			vec2_instance_free(&inst);
			if ((rc = vwf_sb_wait_next(r, &w, err)) == 0)
				continue;
			if (rc == VWF_SB_TIMED_OUT)
				rc = verr_set(err, VMIE_ERR_AWS_INSTANCE_TIMEOUT, "instance %s "
					      "was not %s in time", id, want);
			break;
		}
		if (rc < 0) {
			vec2_instance_free(&inst);
			verr_prefix(err, "checking instance %s", id);
			rc = vwf_sb_as_step(err, rc, VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED);
			break;
		}
		/* Just launched: DescribeInstances may not know it yet. */
		const char *state = rc == VEC2_NOT_FOUND ? "pending" : inst.state;
		if (!last || strcmp(last, state) != 0) {
			vwf_task_status(r, -1, state, inst.state_reason);
			free(last);
			last = xstrdup(state);
		}
		if (strcmp(state, want) == 0) {
			vec2_instance_free(&inst);
			rc = 0;
			break;
		}
		bool moving = strcmp(state, "pending") == 0 ||
			      (strcmp(want, "stopped") == 0 && strcmp(state, "stopping") == 0) ||
			      (strcmp(want, "stopped") == 0 && strcmp(state, "running") == 0);
		if (!moving) {
			rc = verr_set(err, fail_status, "instance %s is %s, not %s%s%s", id,
				      state, want, inst.state_reason ? ": " : "",
				      inst.state_reason ? inst.state_reason : "");
			verr_hint(err, "see why with: aws ec2 describe-instances "
				  "--instance-ids %s (and aws ec2 get-console-output "
				  "--instance-id %s)", id, id);
			vec2_instance_free(&inst);
			break;
		}
		vec2_instance_free(&inst);
		rc = vwf_sb_wait_next(r, &w, err);
		if (rc == VWF_SB_TIMED_OUT) {
			char lim[32];
			vwf_sb_fmt_limit(w.limit_s, lim, sizeof(lim));
			rc = verr_set(err, VMIE_ERR_AWS_INSTANCE_TIMEOUT,
				      "instance %s was not %s within %s (still %s)", id,
				      want, lim, last);
			verr_hint(err, "EC2 may be short of %s capacity in this "
				  "zone: try again later, or another --instance-type "
				  "or --subnet-id", job->instance_type);
		}
		if (rc != 0)
			break;
	}
	free(last);
	return rc;
}

int vwf_sb_launch(vwf_sanboot_job *job, vmie_error *err)
{
	vwf_run *r = job->r;
	int rc;

	vwf_phase_begin(r, "launch");
	/* An instance taken over from the interrupted run counts too: the
	 * slot is taken before, whichever instance comes to hold it. */
	if ((rc = vwf_lease_take(r, VWF_LEASE_INSTANCE, err)) != 0)
		return rc;
	if (take_over(job)) {
		free(r->res->instance_id);
		r->res->instance_id = xstrdup(job->instance_id);
		vwf_phase_end(r, 0);
		return 0;
	}
	rc = run_instance(job, err);
	if (rc != 0)
		return rc;
	journal(job);
	free(r->res->instance_id);
	r->res->instance_id = xstrdup(job->instance_id);
	vwf_report_result(r, "instance_id", job->instance_id);
	vlog_info("launched temporary instance %s (%s) from %s", job->instance_id,
		  job->instance_type, job->source_ami);
	rc = wait_state(job, "running", "VMIE_SANBOOT_RUNNING_TIMEOUT_S", 600,
			VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED, err);
	if (rc != 0)
		return rc;
	vwf_phase_end(r, 0);
	return 0;
}

int vwf_sb_stop(vwf_sanboot_job *job, vmie_error *err)
{
	int rc = vec2_stop_instance(job->r->client, job->instance_id, err);
	if (rc != 0) {
		verr_prefix(err, "stopping instance %s", job->instance_id);
		return vwf_sb_as_step(err, rc, VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED);
	}
	vlog_info("stopping instance %s to image it", job->instance_id);
	return wait_state(job, "stopped", "VMIE_SANBOOT_STOP_TIMEOUT_S", 600,
			  VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED, err);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* After TerminateInstances: until EC2 says terminated, within a bound.
 * Deliberately deaf to the cancel flag (the run is usually cancelled by
 * now): 1 terminated, 0 on its way (shutting-down), -1 unknown. */
static int wait_terminated(vwf_sanboot_job *job)
{
	const char *id = job->instance_id;
	double limit = vwf_cancelled(job->r) ? TERMINATE_WAIT_CANCELLED_S : TERMINATE_WAIT_S;
	double t0 = vwf_now();
	int seen = -1;

	for (unsigned attempt = 0;; attempt++) {
		vec2_instance inst = {0};
		vmie_error e = {0};
		int rc = vec2_describe_instance(job->r->client, id, &inst, &e);
		if (rc == VEC2_NOT_FOUND ||
		    (rc == 0 && strcmp(inst.state, "terminated") == 0))
			seen = 1;
		else if (rc == 0 && strcmp(inst.state, "shutting-down") == 0)
			seen = 0;
		vec2_instance_free(&inst);
		vmie_error_clear(&e);
		if (seen == 1)
			return 1;
		long ms = vwf_sb_delay_ms(attempt, 5000);
		if (vwf_now() - t0 + (double)ms / 1000.0 > limit)
			return seen;
		sleep_ms(ms);
	}
}

void vwf_sb_terminate(vwf_sanboot_job *job)
{
	const char *id = job->instance_id;
	const char *region;
	vmie_error e = {0};

	if (!id)
		return;
	region = vaws_client_region(job->r->client);
	if (vec2_terminate_instance(job->r->client, id, &e) != 0) {
		vlog_error("could not terminate temporary instance %s: %s", id,
			   e.message ? e.message : "unknown error");
		vlog_error("terminate it yourself: aws ec2 terminate-instances "
			   "--region %s --instance-ids %s", region, id);
		vmie_error_clear(&e);
		return; /* the journal keeps it for the next run */
	}
	switch (wait_terminated(job)) {
	case 1:
		vlog_info("terminated temporary instance %s", id);
		break;
	case 0:
		vlog_info("temporary instance %s is shutting down (EC2 finishes "
			  "terminating it)", id);
		break;
	default:
		vlog_warn("asked EC2 to terminate instance %s, but could not see "
			  "it terminated; check with: aws ec2 describe-instances "
			  "--region %s --instance-ids %s", id, region, id);
		return; /* journal kept: the next run checks again */
	}
	if (job->journaled)
		vwf_instances_remove(id);
	job->journaled = false;
	vwf_jsetb(job->jstep, "terminated", true);
	vwf_journal_save(job->r->journal);
}
