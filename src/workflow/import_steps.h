/*
 * The steps of vmie import, each in its own file, run in order by
 * import.c:  the AWS side (bucket, role: aws_setup.c), the upload
 * (import_upload.c) or the S3 object as it is (import_s3.c), then the
 * ImportImage task and its wait (import_task.c).
 */
#ifndef VMIE_WORKFLOW_IMPORT_STEPS_H
#define VMIE_WORKFLOW_IMPORT_STEPS_H

#include <stdbool.h>
#include <stdint.h>

#include "transfer/source.h"
#include "transfer/upload.h"
#include "workflow/journal.h"
#include "workflow/run_ctx.h"

/* One disk for ImportImage's DiskContainers. */
typedef struct vwf_disk {
	char *bucket;
	char *key;
	char *url;         /* a JSON container's Url, sent instead of bucket/key
			    * (which an s3:// Url also fills, for the checks) */
	char *format;      /* "RAW", "VHD", "VHDX", "VMDK", "OVA" */
	char *description; /* may be NULL */
	uint64_t size;
} vwf_disk;

void vwf_disk_free(vwf_disk *d);

/* The bucket exists (created with public access blocked and SSE-S3 when
 * missing), is ours, and is in the client's region. */
int vwf_ensure_bucket(vwf_run *r, const char *bucket, vmie_error *err);
/* A bucket vmie just created: incomplete multipart uploads aborted after
 * 7 days (bucket_lifecycle.c); a failure is a warning. */
void vwf_bucket_lifecycle(vwf_run *r, const char *bucket);

/* The VM Import service role exists with the trust policy and the
 * permissions for the buckets (write: an export's; else an import's, and
 * --kms-key-id's key), added to what it has, never replacing it; each
 * addition is logged.  *created says it was just made or changed
 * (ImportImage may then not see it for a while). */
int vwf_ensure_vmimport_role(vwf_run *r, const char *const *buckets,
			     unsigned nbuckets, bool write, bool *created,
			     vmie_error *err);

/* Calls start(ctx, err) again while it fails only because IAM has not yet
 * propagated a role this run just created or changed (InvalidParameter
 * naming the role), for up to two minutes; with role_created false, once.
 * A run holding a task slot (task_lease.h) also waits out AWS's task
 * quota (ResourceLimitExceeded) instead of failing.
 * what: "VM Import", "VM Export", for the log line. */
typedef int (*vwf_start_fn)(void *ctx, vmie_error *err);
int vwf_retry_while_role_propagates(vwf_run *r, bool role_created,
				    const char *what, vwf_start_fn start,
				    void *ctx, vmie_error *err);

/* Upload a local file or URL source; fills disk. */
int vwf_import_upload(vwf_run *r, vmie_source_kind kind, const char *bucket,
		      vwf_disk *disk, vmie_error *err);

/* What an interrupted run's upload left (import_resume.c), from its
 * journal step and ListParts: 0 with *out the resume (the parts S3
 * holds; rs.first_part the first one the journal and S3 do not agree on,
 * rs.offset the bytes before it), VWF_UPLOAD_NEW (nothing to go on
 * from: a new upload), VWF_UPLOAD_COMPLETED (the object is there, made
 * of the recorded parts), or a status (the source is not what the
 * upload read: VMIE_ERR_INVALID_SOURCE). */
typedef struct vwf_upload_resume {
	vupload_resume rs;
	vupload_part_info *parts;
	size_t nparts;
	uint64_t held;     /* bytes of the parts S3 holds */
} vwf_upload_resume;
#define VWF_UPLOAD_NEW 1
#define VWF_UPLOAD_COMPLETED 2
int vwf_upload_plan_resume(vwf_run *r, json_t *step, vsource *src,
			   vwf_upload_resume *out, vmie_error *err);
void vwf_upload_resume_free(vwf_upload_resume *p);

/* One object in S3 checked as an s3:// source is (import_s3.c): its size
 * and format into d (bucket and key set). */
int vwf_import_check_object(vwf_run *r, vwf_disk *d, vmie_error *err);

/* An s3:// source or a JSON file's disk containers: check each object
 * (HeadObject) and name its format from its first and last bytes. */
int vwf_import_s3_objects(vwf_run *r, vmie_source_kind kind,
			  vwf_disk **disks, unsigned *ndisks, vmie_error *err);

/* ImportImage with the disks, then wait for the task; fills the result.
 * role_created: retry the "role not found" answer while IAM propagates. */
int vwf_import_task(vwf_run *r, const vwf_disk *disks, unsigned ndisks,
		    bool role_created, vmie_error *err);

/* The whole import on a started run (upload or S3 objects, the task,
 * sanbootable when asked): vmie import, and the first half of convert. */
int vwf_import_run(vwf_run *r, vmie_source_kind kind, vmie_error *err);

#endif
