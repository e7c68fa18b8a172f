/*
 * The batch's own AWS calls (batch_aws.c).
 */
#ifndef VMIE_WORKFLOW_BATCH_AWS_H
#define VMIE_WORKFLOW_BATCH_AWS_H

#include <stdbool.h>

#include "workflow/batch.h"
#include "workflow/run_ctx.h"

/* The bucket (with the export checks when any row exports) and the VM
 * Import role, once for the whole batch. */
int vbatch_aws_setup(vwf_run *r, bool exports, vmie_error *err);
/* Is what the row made in an earlier run still there (its AMI available;
 * for a convert, its export object too)? */
int vbatch_still_there(vwf_run *r, const vbatch_row *row, bool *there,
		       vmie_error *err);

#endif
