/*
 * vmie convert: import (with sanbootable when asked), then export the
 * AMI it made (the sanbootable one when there is one), then download when
 * asked; one run, one result, one summary.
 */
#include "workflow/export_steps.h"

#include <string.h>

#include "base/log.h"
#include "workflow/import_steps.h"
#include "workflow/sanboot.h"
#include "workflow/workflows.h"

/* A convert that fails after its import (an hour of AWS's time) says
 * how to go on from the AMI it made instead of starting over: the same
 * command does (its journal knows the AMI), or an export of that AMI. */
static void how_to_go_on(const vwf_run *r, int rc)
{
	const vmie_options *o = r->opts;
	const vmie_result *res = r->res;
	const char *ami = res->sanbootable_ami_id ? res->sanbootable_ami_id : res->ami_id;
	bool sanboot_left = o->install_sanbootable && !res->sanbootable_ami_id;

	if (!ami || res->export_url || rc == VMIE_ERR_INTERRUPTED)
		return; /* nothing made yet, or the export's own advice applies */
	vlog_warn("the import made %s: the same command goes on from it, and so "
		  "does: vmie export --s3-bucket %s --ami-id %s%s%s%s", ami, o->s3_bucket,
		  ami, sanboot_left ? " --install-sanbootable" : "",
		  o->download_path ? " --download " : "",
		  o->download_path ? o->download_path : "");
}

int vwf_convert(const vmie_options *o, vmie_source_kind kind, vmie_result *res,
		vmie_error *err)
{
	vwf_run r;
	/* A download of the disk goes through a VMDK export (only the
	 * disk's data travels, decoded to RAW as it arrives) unless
	 * --export-format or --download-format as-is says otherwise. */
	vmie_options oo = *o;
	if (o->download_path && !o->export_format &&
	    !(o->download_format && !strcmp(o->download_format, "as-is")))
		oo.export_format = "VMDK";
	int rc = vwf_run_start(&r, &oo, res, err);

	if (rc != 0 || (rc = vwf_run_journal(&r, VMIE_OP_CONVERT, kind, err)) != 0)
		goto out;
	vwf_sanboot_reap_if_due(&r);
	if ((rc = vwf_import_run(&r, kind, err)) != 0)
		goto out;
	rc = vwf_export_run(&r, res->sanbootable_ami_id ? res->sanbootable_ami_id
							: res->ami_id, err);
out:
	if (rc != 0 && rc != VWF_RUN_DONE_BEFORE)
		how_to_go_on(&r, rc);
	vwf_run_journal_end(&r, rc, err);
	vwf_run_finish(&r);
	return rc == VWF_RUN_DONE_BEFORE ? 0 : rc;
}
