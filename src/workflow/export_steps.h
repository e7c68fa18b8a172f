/*
 * The steps of vmie export, each in its own file, run in order by
 * export.c (and by convert.c after its import): the AMI's checks
 * (export_check.c), the bucket and role (export_setup.c), the ExportImage
 * task and its wait (export_task.c).
 */
#ifndef VMIE_WORKFLOW_EXPORT_STEPS_H
#define VMIE_WORKFLOW_EXPORT_STEPS_H

#include <stdbool.h>

#include "aws/ec2.h"
#include "workflow/run_ctx.h"

/* DescribeImages and everything that makes ExportImage refuse an AMI
 * (missing, not available, Windows-licensed, Marketplace, encrypted,
 * shared from another account), each with its own error.  Phase "check". */
int vwf_export_check_image(vwf_run *r, const char *ami_id, vec2_image *img,
			   vmie_error *err);

/* The bucket exists (created as for import when missing) and does not
 * default to SSE-KMS; the service role may write to it.  Phases
 * "bucket", "role". */
int vwf_export_setup(vwf_run *r, bool *role_created, vmie_error *err);

/* The S3 prefix: --s3-export-prefix with a trailing '/' added, or
 * exports/vmie-export-YYYYmmdd-HHMMSS/ (UTC). */
char *vwf_export_prefix(const char *given);

/* ExportImage of ami_id into the bucket, the wait, and HeadObject of the
 * result: fills export_task_id, export_url, export_size; *key is the
 * object's key.  Interrupted, it cancels the task.  role_created: retry
 * ExportImage while IAM propagates a role just made.  Phase "export". */
int vwf_export_task(vwf_run *r, const char *ami_id, bool role_created,
		    char **key, vmie_error *err);

/* Export (setup, task) of an AMI already checked, then the download when
 * asked: export's and convert's common tail. */
int vwf_export_run(vwf_run *r, const char *ami_id, vmie_error *err);

#endif
