/*
 * vmie_run: the one entry point of every operation.  Validation always
 * comes first, so a front-end cannot start a workflow with options no
 * check has seen; then the preflight (import, convert) refuses an image
 * AWS would refuse.  The workflows themselves are not built yet: after
 * those checks every operation answers VMIE_ERR_NOT_IMPLEMENTED.
 */
#include "base/error.h"
#include "base/log.h"
#include "vmie.h"

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

int vmie_run(vmie_operation op, const vmie_options *opts, vmie_error *err)
{
	vmie_source_kind kind = VMIE_SOURCE_NONE;
	const char *name = vmie_operation_name(op);
	int rc = vmie_validate(op, opts, &kind, err);
	if (rc != 0)
		return rc;
	if (kind != VMIE_SOURCE_NONE)
		vlog_debug("source %s: %s", opts->source, kind_name(kind));
	if (op != VMIE_OP_EXPORT && (rc = vmie_preflight(opts, kind, err)))
		return rc;
	verr_set(err, VMIE_ERR_NOT_IMPLEMENTED,
		 "vmie %s: the %s workflow is not implemented yet", name, name);
	verr_hint(err, "this version checks the options only; the %s "
		  "workflow comes in a later version", name);
	return VMIE_ERR_NOT_IMPLEMENTED;
}
