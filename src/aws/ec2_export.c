/*
 * EC2 VM Export (ec2.h): ExportImage, DescribeExportImageTasks,
 * CancelExportTask.  The object lands at <prefix>export-ami-<id>.<fmt>
 * (aws-facts §2); working that out is the caller's business.
 */
#include "aws/ec2.h"

#include <stdlib.h>
#include <string.h>

#include "aws/ec2_internal.h"
#include "base/error.h"
#include "base/xalloc.h"

int vec2_export_image(vaws_client *c, const vec2_export_params *p,
		      char **task_id, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	*task_id = NULL;
	vec2_q_add(&q, "ClientToken", p->client_token);
	vec2_q_add(&q, "Description", p->description);
	vec2_q_add(&q, "DiskImageFormat", p->disk_image_format);
	vec2_q_add(&q, "ImageId", p->image_id);
	vec2_q_add(&q, "RoleName", p->role_name); /* none: AWS's vmimport */
	vec2_q_add(&q, "S3ExportLocation.S3Bucket", p->bucket);
	vec2_q_add(&q, "S3ExportLocation.S3Prefix", p->prefix);
	vec2_q_tag_spec(&q, 1, "export-image-task", p->tags);
	/* The token makes a retry return the first task, not a second. */
	int rc = vec2_call(c, "ExportImage", &q, p->client_token != NULL,
			   VMIE_ERR_AWS_EXPORT_TASK_FAILED, &doc, err);
	if (rc != 0)
		return rc;
	*task_id = vxml_text(vxml_root(doc), "exportImageTaskId");
	vxml_free(doc);
	if (!*task_id || !**task_id) {
		free(*task_id);
		*task_id = NULL;
		return verr_set(err, VMIE_ERR_AWS_EXPORT_TASK_FAILED,
				"EC2 ExportImage: the answer has no exportImageTaskId");
	}
	return 0;
}

void vec2_export_task_free(vec2_export_task *t)
{
	if (!t)
		return;
	free(t->status);
	free(t->status_message);
	free(t->image_id);
	free(t->bucket);
	free(t->prefix);
	memset(t, 0, sizeof(*t));
}

static void parse_task(vxml_node *t, vec2_export_task *out)
{
	out->status = vxml_text(t, "status");
	out->status_message = vxml_text(t, "statusMessage");
	out->image_id = vxml_text(t, "imageId");
	out->bucket = vxml_text(t, "s3ExportLocation/s3Bucket");
	out->prefix = vxml_text(t, "s3ExportLocation/s3Prefix");
	char *prog = vxml_text(t, "progress");
	if (prog && *prog)
		out->progress = atoi(prog);
	free(prog);
	if (!out->status)
		out->status = xstrdup("unknown");
}

int vec2_describe_export_image_task(vaws_client *c, const char *task_id,
				    vec2_export_task *out, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;
	vmie_error e = {0};

	memset(out, 0, sizeof(*out));
	out->progress = -1;
	vkv_add(&q, "ExportImageTaskId.1", task_id);
	int rc = vec2_call(c, "DescribeExportImageTasks", &q, true,
			   VMIE_ERR_AWS_TASK_STATUS_CHECK_FAILED, &doc, &e);
	if (rc != 0) {
		if (vec2_code_is(&e, "InvalidExportTaskID.NotFound")) {
			vmie_error_clear(&e);
			rc = VEC2_NOT_FOUND;
		}
		goto out;
	}
	vxml_node *t = vxml_find(vxml_root(doc), "exportImageTaskSet/item");
	if (!t) {
		rc = VEC2_NOT_FOUND; /* listed for a while after it ends, then not */
		goto out;
	}
	parse_task(t, out);
out:
	verr_move(err, &e);
	vxml_free(doc);
	return rc;
}

int vec2_cancel_export_task(vaws_client *c, const char *task_id,
			    vmie_error *err)
{
	vkv q = VKV_INIT;
	vkv_add(&q, "ExportTaskId", task_id);
	/* Cancelling twice asks for the same end: safe to retry. */
	return vec2_call(c, "CancelExportTask", &q, true,
			 VMIE_ERR_AWS_EXPORT_TASK_FAILED, NULL, err);
}
