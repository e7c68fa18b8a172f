/*
 * The new AMI: the instance stopped (so the file systems are clean),
 * imaged with the source AMI's block device mappings, waited for, and
 * tagged.  CreateImage from an instance keeps its architecture, boot mode
 * and ENA support; they are checked against the source all the same.
 */
#include "workflow/sanboot_steps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/kv.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/journal_steps.h"

/* AMI names are unique per account and region: source, time, run. */
static char *image_name(const vwf_sanboot_job *job)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	vbuf b = VBUF_INIT;

	/* A CreateImage whose answer never came may still make its AMI: the
	 * same name again finds it (or is refused as a duplicate of it). */
	const char *earlier = vwf_js(job->jstep, "image_name");
	if (earlier && !vwf_js(job->jstep, "image_id"))
		return xstrdup(earlier);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	vbuf_addf(&b, "vmie-sanbootable-%s-%s-%.8s", job->source_ami, stamp,
		  job->r->run_id);
	return vbuf_detach(&b);
}

/* The AMI a CreateImage of this name made, when its answer was lost (a
 * dropped connection, a kill): 1 with job->new_ami_id set, 0 when there
 * is none, -1 when it failed. */
static int made_already(vwf_sanboot_job *job, const char *name)
{
	vec2_image img = {0};
	vmie_error e = {0};
	int found = vec2_find_own_image(job->r->client, name, &img, &e) != 0 ? 0
		    : strcmp(img.state, "failed") == 0 ? -1 : 1;
	if (found == 1) {
		free(job->new_ami_id);
		job->new_ami_id = xstrdup(img.image_id);
		vlog_info("AMI %s (%s) was made by the CreateImage whose answer was lost",
			  img.image_id, name);
	}
	vec2_image_free(&img);
	vmie_error_clear(&e);
	return found;
}

static int create(vwf_sanboot_job *job, vmie_error *err)
{
	char *name = image_name(job);
	vbuf desc = VBUF_INIT;
	vkv tags = VKV_INIT;
	int rc;

	/* The name first: AMI names are unique, so a run killed during the
	 * call finds its AMI by it. */
	vwf_jset(job->jstep, "image_name", name);
	vwf_jset(job->jstep, "image_id", NULL);
	vwf_journal_save(job->r->journal);

	vbuf_addf(&desc, "%s%s%s%s with iPXE sanbootable (vmie)", job->source_ami,
		  job->img.name ? " (" : "", job->img.name ? job->img.name : "",
		  job->img.name ? ")" : "");
	/* At creation already: an image a failed run leaves is findable. */
	vkv_add(&tags, "OriginalAMI", job->source_ami);
	vkv_add(&tags, "CreatedBy", VWF_SB_CREATED_BY);
	vkv_add(&tags, "vmie:run-id", job->r->run_id);
	vec2_create_image_params p = {
		.instance_id = job->instance_id,
		.name = name,
		.description = vbuf_str(&desc),
		.devices = job->img.devices,
		.ndevices = job->img.ndevices,
		.tags = &tags,
	};
	rc = vec2_create_image(job->r->client, &p, &job->new_ami_id, err);
	if (rc != 0 && rc != VMIE_ERR_INTERRUPTED && made_already(job, name) == 1) {
		vmie_error_clear(err);
		rc = 0;
	}
	if (rc == 0) {
		vwf_jset(job->jstep, "image_id", job->new_ami_id);
		vwf_journal_save(job->r->journal);
	}
	if (rc != 0) {
		verr_prefix(err, "creating an AMI from instance %s", job->instance_id);
		rc = vwf_sb_as_step(err, rc, VMIE_ERR_SANBOOTABLE_AMI_CREATE_FAILED);
	} else {
		vlog_info("creating AMI %s (%s) from %s", job->new_ami_id, name,
			  job->instance_id);
	}
	vkv_free(&tags);
	vbuf_free(&desc);
	free(name);
	return rc;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void compare(const vwf_sanboot_job *job, const vec2_image *got)
{
	const vec2_image *src = &job->img;
	if (!same(src->architecture, got->architecture))
		vlog_warn("AMI %s is %s, its source %s was %s", got->image_id,
			  got->architecture ? got->architecture : "-", src->image_id,
			  src->architecture ? src->architecture : "-");
	if (src->boot_mode && !same(src->boot_mode, got->boot_mode))
		vlog_warn("AMI %s boots %s, its source %s booted %s", got->image_id,
			  got->boot_mode ? got->boot_mode : "(default)", src->image_id,
			  src->boot_mode);
	if (src->ena_support && !got->ena_support)
		vlog_warn("AMI %s lost ENA support its source %s had", got->image_id,
			  src->image_id);
}

static int wait_available(vwf_sanboot_job *job, vmie_error *err)
{
	vwf_run *r = job->r;
	const char *id = job->new_ami_id;
	char *last = NULL;
	vwf_sb_wait w;
	int rc;

	vwf_sb_wait_start(&w, "VMIE_SANBOOT_IMAGE_TIMEOUT_S", 3600, 30000);
	for (;;) {
		vec2_image img = {0};
		rc = vec2_describe_image(r->client, id, &img, err);
		if (rc < 0 && vwf_poll_goes_on(r, rc, err, "checking the new AMI")) {
			vec2_image_free(&img);
			if ((rc = vwf_sb_wait_next(r, &w, err)) == 0)
				continue;
			if (rc == VWF_SB_TIMED_OUT)
				rc = verr_set(err, VMIE_ERR_AWS_AMI_TIMEOUT, "AMI %s was not "
					      "available in time", id);
			break;
		}
		if (rc < 0) {
			vec2_image_free(&img);
			verr_prefix(err, "checking AMI %s", id);
			rc = vwf_sb_as_step(err, rc, VMIE_ERR_AWS_AMI_STATUS_CHECK_FAILED);
			break;
		}
		const char *state = rc == VEC2_NOT_FOUND ? "pending" : img.state;
		if (!last || strcmp(last, state) != 0) {
			vwf_task_status(r, -1, state, img.state_reason);
			free(last);
			last = xstrdup(state);
		}
		if (strcmp(state, "available") == 0) {
			compare(job, &img);
			vec2_image_free(&img);
			rc = 0;
			break;
		}
		if (strcmp(state, "pending") != 0) {
			rc = verr_set(err, VMIE_ERR_SANBOOTABLE_AMI_CREATE_FAILED,
				      "AMI %s is %s%s%s", id, state,
				      img.state_reason ? ": " : "",
				      img.state_reason ? img.state_reason : "");
			verr_hint(err, "run vmie again; if it fails the same way, "
				  "see aws ec2 describe-images --image-ids %s", id);
			vec2_image_free(&img);
			break;
		}
		vec2_image_free(&img);
		rc = vwf_sb_wait_next(r, &w, err);
		if (rc == VWF_SB_TIMED_OUT) {
			char lim[32];
			vwf_sb_fmt_limit(w.limit_s, lim, sizeof(lim));
			rc = verr_set(err, VMIE_ERR_AWS_AMI_TIMEOUT,
				      "AMI %s was not available within %s", id, lim);
			verr_hint(err, "large volumes take long to snapshot: it may "
				  "still become available (aws ec2 describe-images "
				  "--image-ids %s); export it then with vmie export -a %s",
				  id, id);
		}
		if (rc != 0)
			break;
	}
	free(last);
	return rc;
}

static int tag(vwf_sanboot_job *job, vmie_error *err)
{
	vkv tags = VKV_INIT;
	vkv_add(&tags, "OriginalAMI", job->source_ami);
	vkv_add(&tags, "SanbootableInstalled", "true");
	vkv_add(&tags, "CreatedBy", VWF_SB_CREATED_BY);
	int rc = vec2_create_tags(job->r->client, job->new_ami_id, &tags, err);
	vkv_free(&tags);
	if (rc != 0) {
		verr_prefix(err, "tagging AMI %s", job->new_ami_id);
		rc = vwf_sb_as_step(err, rc, VMIE_ERR_SANBOOTABLE_AMI_CREATE_FAILED);
	}
	return rc;
}

bool vwf_sb_earlier_image(vwf_sanboot_job *job)
{
	const char *name = vwf_js(job->jstep, "image_name");
	if (!name)
		return false;
	int found = made_already(job, name);
	/* A failed one's name cannot be used again: a new name. */
	if (found < 0)
		vwf_jset(job->jstep, "image_name", NULL);
	return found == 1;
}

int vwf_sb_image(vwf_sanboot_job *job, vmie_error *err)
{
	vwf_run *r = job->r;
	int rc = 0;

	vwf_phase_begin(r, "image");
	if (!job->new_ami_id) {
		rc = vwf_sb_stop(job, err);
		if (rc == 0)
			rc = create(job, err);
	}
	if (rc == 0)
		rc = wait_available(job, err);
	if (rc == 0)
		rc = tag(job, err);
	if (rc != 0)
		return rc;
	job->finished = true;
	vlog_success("AMI %s has sanbootable (from %s)", job->new_ami_id,
		     job->source_ami);
	vwf_phase_end(r, 0);
	return 0;
}
