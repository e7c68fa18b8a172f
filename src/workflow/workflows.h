/*
 * The operations behind vmie_run, one file each.  Each is called after
 * validation and the preflight, fills res as it goes (a failed run still
 * reports what it did), and returns 0 or a status with err set.
 */
#ifndef VMIE_WORKFLOW_WORKFLOWS_H
#define VMIE_WORKFLOW_WORKFLOWS_H

#include "vmie.h"

int vwf_import(const vmie_options *o, vmie_source_kind kind, vmie_result *res,
	       vmie_error *err);

int vwf_export(const vmie_options *o, vmie_result *res, vmie_error *err);
int vwf_convert(const vmie_options *o, vmie_source_kind kind, vmie_result *res,
		vmie_error *err);
/* vmie download S3_URL PATH (src/workflow/download.c). */
int vwf_download_op(const vmie_options *o, vmie_result *res, vmie_error *err);

#endif
