/*
 * The batch's own AWS side.  One bucket step and one role step for every
 * VM (each VM's run then gets --skip-setup), instead of forty HeadBuckets
 * and forty role updates racing each other; and, when a batch runs again,
 * whether what an earlier run made is still there: a VM is done while its
 * AMI exists (and its export, for a convert), and is imported again when
 * someone deregistered it meanwhile.
 */
#include "workflow/batch_aws.h"

#include <stdlib.h>
#include <string.h>

#include "aws/ec2.h"
#include "aws/ec2_import.h"
#include "aws/s3.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/export_steps.h"
#include "workflow/import_steps.h"

int vbatch_aws_setup(vwf_run *r, bool exports, vmie_error *err)
{
	bool created = false;
	int rc;
	if (exports) {
		/* The bucket, its encryption (SSE-KMS refused), and the role
		 * may write there; the imports also read it, below. */
		if ((rc = vwf_export_setup(r, &created, err)) != 0)
			return rc;
	} else {
		vwf_phase_begin(r, "bucket");
		if ((rc = vwf_ensure_bucket(r, r->opts->s3_bucket, err)) != 0)
			return rc;
		vwf_phase_end(r, 0);
	}
	vwf_phase_begin(r, "role");
	const char *buckets[] = {r->opts->s3_bucket};
	if ((rc = vwf_ensure_vmimport_role(r, buckets, 1, false, &created,
					   err)) != 0)
		return rc;
	vwf_phase_end(r, 0);
	return 0;
}

/* s3://bucket/key -> bucket, key (NULL when not such a URL). */
static bool split_s3(const char *url, char **bucket, const char **key)
{
	if (!url || strncmp(url, "s3://", 5) != 0)
		return false;
	const char *slash = strchr(url + 5, '/');
	if (!slash || slash == url + 5 || !slash[1])
		return false;
	*bucket = xstrndup(url + 5, (size_t)(slash - url - 5));
	*key = slash + 1;
	return true;
}

int vbatch_still_there(vwf_run *r, const vbatch_row *row, bool *there,
		       vmie_error *err)
{
	const vbatch_outcome *o = &row->out;
	const char *ami = row->opts.install_sanbootable ? o->sanbootable_ami_id : o->ami_id;
	vec2_image img = {0};
	int rc;

	*there = false;
	if (!ami)
		return 0;
	rc = vec2_describe_image(r->client, ami, &img, err);
	if (rc == VEC2_NOT_FOUND)
		rc = 0;
	else if (rc == 0)
		*there = img.state && strcmp(img.state, "available") == 0;
	vec2_image_free(&img);
	if (rc != 0) {
		verr_prefix(err, "checking that %s (line %u, done earlier) still exists",
			    ami, row->line);
		return rc;
	}
	if (!*there) {
		vlog_warn("line %u: %s, made by an earlier run, is gone: running it again",
			  row->line, ami);
		return 0;
	}
	char *bucket = NULL;
	const char *key;
	if (row->is_export && split_s3(o->export_url, &bucket, &key)) {
		vs3_object obj = {0};
		rc = vs3_head_object(r->client, bucket, key, &obj, err);
		if (rc == VS3_NOT_FOUND) {
			vlog_warn("line %u: its export %s is gone: running it again",
				  row->line, o->export_url);
			*there = false;
			rc = 0;
		} else if (rc != 0) {
			verr_prefix(err, "checking that %s (line %u) still exists",
				    o->export_url, row->line);
		}
		vs3_object_free(&obj);
		free(bucket);
	}
	return rc;
}

int vbatch_task_finished(vwf_run *r, vbatch_row *row, bool *done, vmie_error *err)
{
	vbatch_outcome *o = &row->out;
	vec2_import_task t = {0};
	*done = false;
	/* An import row's AMI is its import task's; a convert or a
	 * sanbootable row needs more than the task, which its own run resumes. */
	if (!o->import_task_id || row->is_export || row->opts.install_sanbootable)
		return 0;
	int rc = vec2_describe_import_image_task(r->client, o->import_task_id, &t, err);
	if (rc == 0 && t.status && strcmp(t.status, "completed") == 0 && t.image_id) {
		*done = true;
		free(o->ami_id);
		o->ami_id = xstrdup(t.image_id);
		vlog_info("line %u: import task %s finished after the earlier run stopped: %s",
			  row->line, o->import_task_id, t.image_id);
	} else if (rc != 0 && err && err->aws_code &&
		   strcmp(err->aws_code, "InvalidConversionTaskId") == 0) {
		vmie_error_clear(err); /* older than AWS remembers: run it */
		rc = 0;
	}
	if (rc != 0)
		verr_prefix(err, "checking import task %s (line %u)", o->import_task_id,
			    row->line);
	vec2_import_task_free(&t);
	return rc;
}
