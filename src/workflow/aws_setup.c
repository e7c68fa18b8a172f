/*
 * The AWS side an import (and an export) needs before its first byte:
 * a bucket of ours in the region, and the VM Import service role.  Both
 * are idempotent: an existing bucket is used as it is, an existing role
 * is brought up to date.  And the wait for a new role to become visible
 * to the task that needs it.
 */
#include "workflow/import_steps.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/iam.h"
#include "aws/s3.h"
#include "base/error.h"
#include "base/log.h"
#include "workflow/import_plan.h"
#include "workflow/task_lease.h"

/* A failed AWS call becomes the step's status (the AWS details stay). */
static int as_step(vmie_error *err, int status)
{
	if (err)
		err->status = status;
	return status;
}

static int create_bucket(vwf_run *r, const char *bucket, const char *region,
			 vmie_error *err)
{
	int rc = vs3_create_bucket(r->client, bucket, region, err);
	if (rc != 0) {
		verr_prefix(err, "creating bucket %s", bucket);
		return as_step(err, VMIE_ERR_AWS_S3_BUCKET_CREATE_FAILED);
	}
	/* A new bucket gets what a careful user would set by hand: no public
	 * access, and default encryption that export can also use (SSE-S3:
	 * VM Import/Export cannot write to an SSE-KMS default bucket). */
	rc = vs3_put_public_access_block(r->client, bucket, err);
	if (rc == 0)
		rc = vs3_put_bucket_encryption_sse_s3(r->client, bucket, err);
	if (rc != 0) {
		verr_prefix(err, "setting up the new bucket %s", bucket);
		return as_step(err, VMIE_ERR_AWS_S3_BUCKET_CREATE_FAILED);
	}
	vlog_success("created bucket %s in %s (public access blocked, SSE-S3)",
		     bucket, region);
	vwf_bucket_lifecycle(r, bucket);
	return 0;
}

int vwf_ensure_bucket(vwf_run *r, const char *bucket, vmie_error *err)
{
	const char *region = vaws_client_region(r->client);
	vs3_bucket_state state;
	char *where = NULL;
	int rc = vs3_head_bucket(r->client, bucket, &state, &where, err);

	if (rc != 0)
		return rc;
	switch (state) {
	case VS3_BUCKET_MISSING:
		free(where);
		return create_bucket(r, bucket, region, err);
	case VS3_BUCKET_FORBIDDEN:
		free(where);
		verr_set(err, VMIE_ERR_AWS_S3_BUCKET_CREATE_FAILED,
			 "bucket %s exists but this account may not use it",
			 bucket);
		verr_hint(err, "bucket names are global: choose another name "
			  "with --s3-bucket, or check the bucket's policy if it "
			  "is yours");
		return VMIE_ERR_AWS_S3_BUCKET_CREATE_FAILED;
	case VS3_BUCKET_EXISTS:
		break;
	}
	/* HeadBucket's answer names the region; older S3 APIs (and some
	 * S3-compatible stores) do not, and GetBucketLocation does. */
	if (!where && (rc = vs3_bucket_region(r->client, bucket, &where, err)) != 0)
		return rc;
	/* VM Import/Export reads and writes a bucket in the region it works
	 * in; a bucket elsewhere fails the task much later. */
	if (strcmp(where, region) != 0) {
		verr_set(err, VMIE_ERR_AWS_S3_BUCKET_CREATE_FAILED,
			 "bucket %s is in %s, not in %s where the image is "
			 "%s", bucket, where, region,
			 r->opts->ami_id ? "exported" : "imported");
		verr_hint(err, "use a bucket in %s (--s3-bucket), or run in "
			  "%s (--region %s)", region, where, where);
		free(where);
		return VMIE_ERR_AWS_S3_BUCKET_CREATE_FAILED;
	}
	free(where);
	vlog_info("using bucket %s (%s)", bucket, region);
	return 0;
}

/* One log line per addition: the user sees exactly what vmie changed
 * in a role that may hold their own policy. */
static void log_lines(vmie_log_level lvl, const char *role, const char *what,
		      const char *lines)
{
	for (const char *p = lines; p && *p;) {
		size_t n = strcspn(p, "\n");
		vlog(lvl, "role %s: %s %.*s", role, what, (int)n, p);
		p += n + (p[n] == '\n');
	}
}

int vwf_ensure_vmimport_role(vwf_run *r, const char *const *buckets,
			     unsigned nbuckets, bool write, bool *created,
			     vmie_error *err)
{
	const char *role = r->opts->role_name ? r->opts->role_name : "vmimport";
	viam_role_result res = {0};
	viam_role_needs needs = {
		.read_buckets = write ? NULL : buckets,
		.nread = write ? 0 : nbuckets,
		.write_buckets = write ? buckets : NULL,
		.nwrite = write ? nbuckets : 0,
		.kms_key_id = write ? NULL : r->opts->kms_key_id,
	};
	int rc = viam_ensure_vmimport_role(r->client, role, &needs, &res, err);
	if (rc != 0) {
		log_lines(VMIE_LOG_INFO, role, "added", res.added);
		viam_role_result_free(&res);
		verr_prefix(err, "setting up the %s role", role);
		if (!err || !err->hint)
			verr_hint(err, "the identity in use needs iam:GetRole, "
				  "iam:CreateRole, iam:UpdateAssumeRolePolicy, "
				  "iam:ListRolePolicies, iam:GetRolePolicy and "
				  "iam:PutRolePolicy, or an administrator can create "
				  "the role (see the README) and you pass "
				  "--role-name");
		return as_step(err, VMIE_ERR_AWS_VMIMPORT_ROLE_SETUP_FAILED);
	}
	*created = res.created || res.updated || res.raced;
	if (res.created)
		vlog_success("created the %s service role", role);
	else if (res.updated)
		vlog_info("updated the %s service role (additions only)", role);
	log_lines(VMIE_LOG_INFO, role, "added", res.added);
	log_lines(VMIE_LOG_WARN, role, "an explicit Deny in its policies blocks",
		  res.denied);
	if (!res.created && !res.updated)
		vlog_info("the %s service role already allows what this run "
			  "needs: left as it is", role);
	viam_role_result_free(&res);
	return 0;
}

/* How long a just-created role may stay invisible to VM Import/Export. */
#define ROLE_PROPAGATION_MS (120 * 1000)

/* "The service role vmimport provided does not exist or does not have
 * sufficient permissions" (InvalidParameter, at once) while IAM
 * propagates a role just created. */
static bool role_not_visible_yet(const vmie_error *e)
{
	return e->aws_code && strcmp(e->aws_code, "InvalidParameter") == 0 &&
	       e->message && strcasestr(e->message, "role");
}

int vwf_retry_while_role_propagates(vwf_run *r, bool role_created,
				    const char *what, vwf_start_fn start,
				    void *ctx, vmie_error *err)
{
	double waited_ms = 0;
	int rc;
	for (unsigned attempt = 0;; attempt++) {
		vmie_error e = {0};
		int waited;
		rc = start(ctx, &e);
		if (rc != 0 && vwf_lease_quota_wait(r, &e, &waited, err)) {
			vmie_error_clear(&e);
			if (waited != 0)
				return waited;
			continue;
		}
		if (rc == 0 || !role_created || !role_not_visible_yet(&e) ||
		    waited_ms >= ROLE_PROPAGATION_MS) {
			verr_move(err, &e);
			return rc;
		}
		vmie_error_clear(&e);
		long delay = vwf_poll_delay_ms(attempt);
		if (attempt == 0)
			vlog_info("waiting for IAM to make the new role visible to %s",
				  what);
		if ((rc = vwf_sleep(r, delay, err)) != 0)
			return rc;
		waited_ms += (double)delay;
	}
}
