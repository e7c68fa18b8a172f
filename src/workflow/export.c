/*
 * vmie export: the AMI checked, optionally made sanbootable (a new AMI),
 * then exported (export_steps.h) and optionally downloaded.  Convert runs
 * the same tail after its import (vwf_export_run).
 */
#include "workflow/export_steps.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/download_step.h"
#include "workflow/sanboot.h"
#include "workflow/workflows.h"

int vwf_export_run(vwf_run *r, const char *ami_id, vmie_error *err)
{
	bool role_created = false;
	char *key = NULL;
	int rc;

	if ((rc = vwf_export_setup(r, &role_created, err)) != 0 ||
	    (rc = vwf_export_task(r, ami_id, role_created, &key, err)) != 0)
		goto out;
	/* A VMDK export is written as its RAW disk unless asked not to. */
	const vmie_options *o = r->opts;
	bool to_raw = o->export_format && !strcmp(o->export_format, "VMDK") &&
		      !(o->download_format && !strcmp(o->download_format, "as-is"));
	if (o->download_path &&
	    (rc = vwf_download(r, o->s3_bucket, key, to_raw, err)) != 0 &&
	    rc != VMIE_ERR_INTERRUPTED)
		vlog_warn("the export is in S3: continue the download (it resumes) "
			  "with the same command, or with: vmie download%s %s %s",
			  to_raw ? " --download-format raw" : "",
			  r->res->export_url, o->download_path);
out:
	free(key);
	return rc;
}

int vwf_export(const vmie_options *o, vmie_result *res, vmie_error *err)
{
	vwf_run r;
	vec2_image img = {0};
	char *sanboot_ami = NULL;
	int rc = vwf_run_start(&r, o, res, err);

	if (rc != 0 || (rc = vwf_run_journal(&r, VMIE_OP_EXPORT, VMIE_SOURCE_NONE, err)) != 0)
		goto out;
	free(res->source_ami_id);
	free(res->ami_id);
	res->source_ami_id = xstrdup(o->ami_id);
	res->ami_id = xstrdup(o->ami_id);
	if ((rc = vwf_export_check_image(&r, o->ami_id, &img, err)) != 0)
		goto out;
	/* Only after the checks (a Windows AMI with --install-sanbootable
	 * is refused there): instances a killed run left, then the install,
	 * which checks the AMI again for itself. */
	vwf_sanboot_reap_if_due(&r);
	if (o->install_sanbootable &&
	    (rc = vwf_sanboot(&r, o->ami_id, &sanboot_ami, err)) != 0)
		goto out;
	rc = vwf_export_run(&r, sanboot_ami ? sanboot_ami : o->ami_id, err);
out:
	free(sanboot_ami);
	vec2_image_free(&img);
	vwf_run_journal_end(&r, rc, err);
	vwf_run_finish(&r);
	return rc == VWF_RUN_DONE_BEFORE ? 0 : rc;
}
