/*
 * Shared by validate.c (vmie_validate) and validate_source.c (the
 * --source checks); nothing outside src/workflow/validate*.c includes
 * this.
 */
#ifndef VMIE_WORKFLOW_VALIDATE_INTERNAL_H
#define VMIE_WORKFLOW_VALIDATE_INTERNAL_H

#include "vmie.h"

/* Set *kind from the spelling of src (even when it fails), then check
 * what it names: the URL's shape, the S3 URL's bucket against bucket, the
 * local file, or the JSON file's disk containers.  Returns 0 or a status
 * with err set. */
int vmie_check_source(const char *src, const char *bucket,
		      vmie_source_kind *kind, vmie_error *err);

/* The import options (storage class, architecture, tags, ...): 0 or
 * VMIE_ERR_INVALID_ARGUMENT with the accepted values in the hint. */
int vmie_check_import_options(vmie_operation op, const vmie_options *o,
			      vmie_error *err);

/* Export format, download target, sanbootable instance, download URL. */
int vmie_check_export_options(vmie_operation op, const vmie_options *o,
			      vmie_error *err);

#endif
