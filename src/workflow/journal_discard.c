/*
 * Discarding a run (journal_steps.h): --restart before it starts again,
 * and `vmie runs --discard`.  What the run was in the middle of goes;
 * what it finished stays, and the user is told where it is.
 */
#include "workflow/journal_steps.h"

#include <stdlib.h>
#include <string.h>

#include "aws/ec2.h"
#include "aws/ec2_import.h"
#include "base/kv.h"
#include "base/log.h"
#include "transfer/upload.h"
#include "workflow/sanboot_journal.h"

static void upload(vaws_client *c, const json_t *up)
{
	const char *id = vwf_js(up, "upload_id");
	if (!up || vwf_step_is(up, "done") || !id)
		return;
	if (vupload_abort(c, vwf_js(up, "bucket"), vwf_js(up, "key"), id))
		vlog_info("aborted the unfinished upload of s3://%s/%s", vwf_js(up, "bucket"),
			  vwf_js(up, "key"));
}

static void import_task(vaws_client *c, const json_t *im)
{
	const char *id = vwf_js(im, "task_id");
	vec2_import_task t = {0};
	vmie_error e = {0};
	if (!im || vwf_step_is(im, "done") || vwf_step_is(im, "failed") || !id)
		return;
	if (vec2_describe_import_image_task(c, id, &t, &e) == 0 && t.status &&
	    strcmp(t.status, "active") == 0) {
		if (vec2_cancel_import_task(c, id, "discarded (vmie --restart)", &e) == 0)
			vlog_info("cancelled import task %s", id);
		else
			vlog_warn("could not cancel import task %s (%s): aws ec2 "
				  "cancel-import-task --import-task-id %s", id,
				  e.message ? e.message : "?", id);
	}
	vec2_import_task_free(&t);
	vmie_error_clear(&e);
}

static void export_task(vaws_client *c, const json_t *ex)
{
	const char *id = vwf_js(ex, "task_id");
	vec2_export_task t = {0};
	vmie_error e = {0};
	if (!ex || vwf_step_is(ex, "done") || vwf_step_is(ex, "failed") || !id)
		return;
	if (vec2_describe_export_image_task(c, id, &t, &e) == 0 && t.status &&
	    strcmp(t.status, "active") == 0) {
		if (vec2_cancel_export_task(c, id, &e) == 0)
			vlog_info("cancelled export task %s", id);
		else
			vlog_warn("could not cancel export task %s (%s): aws ec2 "
				  "cancel-export-task --export-task-id %s", id,
				  e.message ? e.message : "?", id);
	}
	vec2_export_task_free(&t);
	vmie_error_clear(&e);
}

/* Its instances, found by the run's tag (also one whose RunInstances
 * answer never came), and an AMI it did not finish. */
static void sanboot(vaws_client *c, const char *run_id, const json_t *sb)
{
	vkv tags = VKV_INIT;
	vec2_instance *list = NULL;
	size_t n = 0;
	vmie_error e = {0};
	if (!sb)
		return;
	vkv_add(&tags, "vmie:run-id", run_id);
	if (vec2_find_instances(c, &tags, true, &list, &n, &e) != 0)
		vlog_warn("could not look for the run's instances: %s", e.message ? e.message : "?");
	vmie_error_clear(&e);
	for (size_t i = 0; i < n; i++) {
		if (vec2_terminate_instance(c, list[i].instance_id, &e) == 0) {
			vlog_info("terminated instance %s", list[i].instance_id);
			vwf_instances_remove(list[i].instance_id);
		} else {
			vlog_warn("could not terminate instance %s (%s): aws ec2 "
				  "terminate-instances --region %s --instance-ids %s",
				  list[i].instance_id, e.message ? e.message : "?",
				  vaws_client_region(c), list[i].instance_id);
		}
		vmie_error_clear(&e);
		vec2_instance_free(&list[i]);
	}
	free(list);
	vkv_free(&tags);
	const char *name = vwf_js(sb, "image_name");
	vec2_image img = {0};
	if (!vwf_step_is(sb, "done") && name && vec2_find_own_image(c, name, &img, &e) == 0) {
		if (vec2_deregister_image(c, &img, &e) == 0)
			vlog_info("deregistered the unfinished sanbootable AMI %s", img.image_id);
		else
			vlog_warn("could not deregister AMI %s (%s): aws ec2 deregister-image "
				  "--image-id %s", img.image_id, e.message ? e.message : "?",
				  img.image_id);
	}
	vec2_image_free(&img);
	vmie_error_clear(&e);
}

/* What the run finished is the user's: said, never deleted. */
static void finished(const json_t *doc)
{
	const json_t *up = vwf_doc_step(doc, "upload"), *im = vwf_doc_step(doc, "import");
	const json_t *sb = vwf_doc_step(doc, "sanboot"), *ex = vwf_doc_step(doc, "export");
	if (vwf_step_is(up, "done"))
		vlog_info("kept: the uploaded image s3://%s/%s", vwf_js(up, "bucket"),
			  vwf_js(up, "key"));
	if (vwf_step_is(im, "done"))
		vlog_info("kept: AMI %s (imported)", vwf_js(im, "ami_id"));
	if (vwf_step_is(sb, "done"))
		vlog_info("kept: AMI %s (sanbootable)", vwf_js(sb, "ami_id"));
	if (vwf_step_is(ex, "done"))
		vlog_info("kept: the export %s", vwf_js(ex, "url"));
}

void vwf_journal_discard(vaws_client *c, json_t *doc)
{
	upload(c, vwf_doc_step(doc, "upload"));
	import_task(c, vwf_doc_step(doc, "import"));
	sanboot(c, vwf_js(doc, "run_id"), vwf_doc_step(doc, "sanboot"));
	export_task(c, vwf_doc_step(doc, "export"));
	finished(doc);
}
