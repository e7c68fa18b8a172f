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

/* A row an earlier run left unfinished with an import task: did that
 * task complete anyway (the VM was stopped as it finished)?  Then *done,
 * with its AMI: importing it again would make a second one. */
int vbatch_task_finished(vwf_run *r, vbatch_row *row, bool *done, vmie_error *err);

#endif
