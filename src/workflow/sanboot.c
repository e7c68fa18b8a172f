/*
 * --install-sanbootable: the steps in order (sanboot_steps.h).  Whatever
 * happens after RunInstances -- a failed step, a timeout, Ctrl-C -- the
 * instance is terminated before this returns.
 */
#include "workflow/sanboot.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/journal_steps.h"
#include "workflow/sanboot_steps.h"
#include "workflow/task_lease.h"

int vwf_sanboot_check_image(vwf_run *r, const vec2_image *img, vmie_error *err)
{
	(void)r;
	if (vec2_image_windows(img)) {
		verr_set(err, VMIE_ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED,
			 "%s is a Windows AMI (%s): sanbootable is for Linux only",
			 img->image_id, img->platform_details ? img->platform_details
			 : img->platform ? img->platform : "Windows");
		verr_hint(err, "leave out --install-sanbootable for Windows images "
			  "(Windows boots from iSCSI with its own iBFT support, "
			  "without sanbootable)");
		return VMIE_ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED;
	}
	if (!img->state || strcmp(img->state, "available") != 0) {
		verr_set(err, VMIE_ERR_AWS_AMI_STATUS_CHECK_FAILED,
			 "AMI %s is %s, not available%s%s", img->image_id,
			 img->state ? img->state : "in no state",
			 img->state_reason ? ": " : "",
			 img->state_reason ? img->state_reason : "");
		verr_hint(err, "wait until aws ec2 describe-images --image-ids %s "
			  "shows it available", img->image_id);
		return VMIE_ERR_AWS_AMI_STATUS_CHECK_FAILED;
	}
	return 0;
}

void vwf_sanboot_job_free(vwf_sanboot_job *job)
{
	vec2_image_free(&job->img);
	free(job->subnet_id);
	for (size_t i = 0; i < job->nspare; i++)
		free(job->spare_subnets[i]);
	free(job->spare_subnets);
	free(job->instance_id);
	free(job->command_id);
	free(job->new_ami_id);
	memset(job, 0, sizeof(*job));
}

/* The instance type: --instance-type, else t3.micro, or its Graviton
 * twin for an arm64 AMI (t3 cannot run it). */
static const char *instance_type(const vwf_sanboot_job *job)
{
	const char *t = job->r->opts->instance_type;
	if (t)
		return t;
	if (job->img.architecture && strcmp(job->img.architecture, "arm64") == 0)
		return "t4g.micro";
	return VMIE_DEFAULT_INSTANCE_TYPE;
}

/* The source AMI, described and checked, before anything is created. */
static int check_source(vwf_sanboot_job *job, vmie_error *err)
{
	const char *id = job->source_ami;
	int rc = vec2_describe_image(job->r->client, id, &job->img, err);
	if (rc == VEC2_NOT_FOUND) {
		verr_set(err, VMIE_ERR_AWS_AMI_NOT_FOUND, "AMI %s not found in %s", id,
			 vaws_client_region(job->r->client));
		return verr_hint(err, "check the id and the region (--region)");
	}
	if (rc != 0) {
		verr_prefix(err, "describing AMI %s", id);
		return vwf_sb_as_step(err, rc, VMIE_ERR_AWS_AMI_FETCH_FAILED);
	}
	job->instance_type = instance_type(job);
	return vwf_sanboot_check_image(job->r, &job->img, err);
}

static int steps(vwf_sanboot_job *job, vmie_error *err)
{
	int (*const step[])(vwf_sanboot_job *, vmie_error *) = {
		check_source, vwf_sb_network, vwf_sb_profile, vwf_sb_launch,
		vwf_sb_wait_online, vwf_sb_install, vwf_sb_image,
	};
	size_t n = sizeof(step) / sizeof(step[0]), from = 1;
	int rc = check_source(job, err);
	if (rc != 0)
		return rc;
	/* The interrupted run made its AMI already: only its wait is left,
	 * and its instance is not needed any more. */
	if (vwf_sb_earlier_image(job)) {
		vwf_sb_leftover_instance(job);
		from = n - 1;
	}
	for (size_t i = from; i < n; i++) {
		rc = step[i](job, err);
		if (rc == 0 && vwf_cancelled(job->r))
			rc = vwf_interrupted(job->r, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* An earlier run of this command made the AMI: 1 (*new_ami_id set),
 * else 0 with the journal's step ready for this one. */
static int from_journal(vwf_sanboot_job *job, char **new_ami_id)
{
	json_t *st = job->jstep;
	const char *src = vwf_js(st, "source_ami");
	if (src && strcmp(src, job->source_ami) != 0) {
		/* Another source AMI (an import made again): not this install. */
		json_object_clear(st);
		src = NULL;
	}
	if (!vwf_journal_step_done(job->r->journal, VWF_STEP_SANBOOT)) {
		vwf_jset(st, "source_ami", job->source_ami);
		vwf_step_state(st, "started");
		vwf_journal_save(job->r->journal);
		return 0;
	}
	*new_ami_id = xstrdup(vwf_js(st, "ami_id"));
	vlog_info("sanbootable is installed already: AMI %s (from %s)", *new_ami_id,
		  job->source_ami);
	return 1;
}

int vwf_sanboot(vwf_run *r, const char *ami_id, char **new_ami_id,
		vmie_error *err)
{
	const char *profile = r->opts->instance_profile;
	vwf_sanboot_job job = {
		.r = r,
		.source_ami = ami_id,
		.profile = profile ? profile : VMIE_DEFAULT_INSTANCE_PROFILE,
		.instance_type = VMIE_DEFAULT_INSTANCE_TYPE,
		.jstep = vwf_journal_step(r->journal, VWF_STEP_SANBOOT),
	};
	int rc;

	*new_ami_id = NULL;
	if (!r->res->source_ami_id)
		r->res->source_ami_id = xstrdup(ami_id);
	if (from_journal(&job, new_ami_id)) {
		free(r->res->sanbootable_ami_id);
		r->res->sanbootable_ami_id = xstrdup(*new_ami_id);
		return 0;
	}
	if ((rc = vwf_journal_step_options(r->journal, VWF_STEP_SANBOOT, r->opts, err)) != 0)
		return rc;
	vlog_info("installing iPXE sanbootable on a copy of %s", ami_id);
	rc = steps(&job, err);
	/* Ended on every path, Ctrl-C included: it is billed by the hour, and
	 * a resumed run launches another when it needs one. */
	vwf_sb_terminate(&job);
	vwf_lease_release(r, VWF_LEASE_INSTANCE);
	if (rc == 0) {
		vwf_step_state(job.jstep, "done");
		vwf_jset(job.jstep, "ami_id", job.new_ami_id);
		vwf_journal_save(r->journal);
		free(r->res->sanbootable_ami_id);
		r->res->sanbootable_ami_id = xstrdup(job.new_ami_id);
		vwf_report_result(r, "sanbootable_ami_id", job.new_ami_id);
		*new_ami_id = xstrdup(job.new_ami_id);
	} else if (job.new_ami_id && !job.finished) {
		vlog_warn("AMI %s was started but not finished: the same command "
			  "goes on with it; when it is not needed, remove it with: "
			  "aws ec2 deregister-image --image-id %s (then delete its "
			  "snapshot)", job.new_ami_id, job.new_ami_id);
	}
	vwf_sanboot_job_free(&job);
	return rc;
}
