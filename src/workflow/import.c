/*
 * vmie import: the steps in order (import_steps.h).  The role is ensured
 * before an upload so that IAM propagates it while the bytes go up, and
 * after the checks of objects already in S3.
 */
#include "workflow/import_steps.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/import_plan.h"
#include "workflow/sanboot.h"
#include "workflow/workflows.h"

void vwf_disk_free(vwf_disk *d)
{
	if (!d)
		return;
	free(d->bucket);
	free(d->key);
	free(d->url);
	free(d->format);
	free(d->description);
	memset(d, 0, sizeof(*d));
}

static char *s3_url(const vwf_disk *d)
{
	vbuf u = VBUF_INIT;
	if (d->url)
		return xstrdup(d->url);
	vbuf_addf(&u, "s3://%s/%s", d->bucket, d->key);
	return vbuf_detach(&u);
}

static int ensure_role(vwf_run *r, bool *role_created, vmie_error *err)
{
	const char *buckets[] = {r->opts->s3_bucket};
	/* vmie batch set the role up once for all its VMs, maybe just now:
	 * it may not be visible yet. */
	if (r->opts->skip_setup) {
		*role_created = true;
		return 0;
	}
	vwf_phase_begin(r, "role");
	int rc = vwf_ensure_vmimport_role(r, buckets, 1, false, role_created, err);
	if (rc == 0)
		vwf_phase_end(r, 0);
	return rc;
}

/* The role is touched only once the source has passed its checks: before
 * an upload (a local file has passed the preflight; IAM propagates the
 * role while the bytes go up), after the HeadObject checks of objects
 * already in S3 (a mistyped key changes nothing). */
int vwf_import_run(vwf_run *r, vmie_source_kind kind, vmie_error *err)
{
	const vmie_options *o = r->opts;
	vmie_result *res = r->res;
	vwf_disk *disks = NULL;
	unsigned ndisks = 0;
	bool role_created = false;
	bool upload = kind == VMIE_SOURCE_FILE || kind == VMIE_SOURCE_HTTP;
	int rc = 0;

	free(res->source);
	res->source = xstrdup(o->source);
	if (upload && !o->skip_setup) {
		vwf_phase_begin(r, "bucket");
		if ((rc = vwf_ensure_bucket(r, o->s3_bucket, err)) != 0)
			goto out;
		vwf_phase_end(r, 0);
	}
	if (upload) {
		if (!o->upload_only && (rc = ensure_role(r, &role_created, err)) != 0)
			goto out;
		disks = xcalloc(1, sizeof(*disks));
		ndisks = 1;
		rc = vwf_import_upload(r, kind, o->s3_bucket, disks, err);
	} else {
		rc = vwf_import_s3_objects(r, kind, &disks, &ndisks, err);
		if (rc == 0)
			rc = ensure_role(r, &role_created, err);
	}
	if (rc != 0)
		goto out;
	free(res->s3_url);
	free(res->format);
	res->s3_url = s3_url(&disks[0]);
	res->format = xstrdup(disks[0].format);
	vwf_report_result(r, "s3_url", res->s3_url);
	/* Ctrl-C during the upload's last call: the object is made, and
	 * said to be, but no task starts. */
	if (vwf_cancelled(r)) {
		vlog_info("the image is in S3: %s", res->s3_url);
		rc = vwf_interrupted(r, err);
		goto out;
	}
	if (o->upload_only) {
		vlog_success("uploaded %s", res->s3_url);
		goto out;
	}
	rc = vwf_import_task(r, disks, ndisks, role_created, err);
	if (rc == 0 && o->install_sanbootable) {
		char *ami = NULL;
		rc = vwf_sanboot(r, res->ami_id, &ami, err);
		free(ami);
	}
out:
	for (unsigned i = 0; i < ndisks; i++)
		vwf_disk_free(&disks[i]);
	free(disks);
	return rc;
}

int vwf_import(const vmie_options *o, vmie_source_kind kind, vmie_result *res,
	       vmie_error *err)
{
	vwf_run r;
	int rc = vwf_run_start(&r, o, res, err);

	if (rc == 0 && (rc = vwf_run_journal(&r, VMIE_OP_IMPORT, kind, err)) == 0) {
		vwf_sanboot_reap_if_due(&r);
		rc = vwf_import_run(&r, kind, err);
	}
	vwf_run_journal_end(&r, rc, err);
	vwf_run_finish(&r);
	return rc == VWF_RUN_DONE_BEFORE ? 0 : rc;
}
