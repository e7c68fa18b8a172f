/*
 * vmie_run: the one entry point of every operation.  Validation always
 * comes first, so a front-end cannot start a workflow with options no
 * check has seen; then the preflight (import, convert) refuses an image
 * AWS would refuse; then the workflow.
 */
#include "base/error.h"
#include "base/log.h"
#include "vmie.h"
#include "workflow/workflows.h"

static const char *kind_name(vmie_source_kind kind)
{
	switch (kind) {
	case VMIE_SOURCE_NONE: return "none";
	case VMIE_SOURCE_HTTP: return "http(s) URL";
	case VMIE_SOURCE_S3: return "S3 object";
	case VMIE_SOURCE_FILE: return "local file";
	case VMIE_SOURCE_JSON: return "JSON disk containers";
	}
	return "unknown";
}

int vmie_run(vmie_operation op, const vmie_options *opts, vmie_result *res,
	     vmie_error *err)
{
	vmie_source_kind kind = VMIE_SOURCE_NONE;
	vmie_result local = {0};
	int rc = vmie_validate(op, opts, &kind, err);

	if (!res)
		res = &local;
	if (rc != 0)
		goto out;
	if (kind != VMIE_SOURCE_NONE)
		vlog_debug("source %s: %s", opts->source, kind_name(kind));
	if (op != VMIE_OP_EXPORT && op != VMIE_OP_DOWNLOAD &&
	    (rc = vmie_preflight(opts, kind, err)))
		goto out;
	switch (op) {
	case VMIE_OP_IMPORT: rc = vwf_import(opts, kind, res, err); break;
	case VMIE_OP_EXPORT: rc = vwf_export(opts, res, err); break;
	case VMIE_OP_CONVERT: rc = vwf_convert(opts, kind, res, err); break;
	case VMIE_OP_DOWNLOAD: rc = vwf_download_op(opts, res, err); break;
	}
out:
	vmie_result_free(&local);
	return rc;
}
