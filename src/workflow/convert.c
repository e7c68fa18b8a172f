/*
 * vmie convert: import (with sanbootable when asked), then export the
 * AMI it made (the sanbootable one when there is one), then download when
 * asked; one run, one result, one summary.
 */
#include "workflow/export_steps.h"
#include "workflow/import_steps.h"
#include "workflow/sanboot.h"
#include "workflow/workflows.h"

int vwf_convert(const vmie_options *o, vmie_source_kind kind, vmie_result *res,
		vmie_error *err)
{
	vwf_run r;
	int rc = vwf_run_start(&r, o, res, err);

	if (rc != 0)
		goto out;
	vwf_sanboot_reap_if_due(&r);
	if ((rc = vwf_import_run(&r, kind, err)) != 0)
		goto out;
	rc = vwf_export_run(&r, res->sanbootable_ami_id ? res->sanbootable_ami_id
							: res->ami_id, err);
out:
	vwf_run_finish(&r);
	return rc;
}
