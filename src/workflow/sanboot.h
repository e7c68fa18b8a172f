/*
 * --install-sanbootable: a Linux AMI gets iPXE's sanbootable package.  A
 * temporary instance is launched from the AMI (tagged
 * Name=VMIE-Sanbootable-Install, CreatedBy=vmie), reached through SSM, the
 * package installed by data/install_sanbootable.sh, the instance stopped
 * and imaged, and the instance terminated on every path.
 */
#ifndef VMIE_WORKFLOW_SANBOOT_H
#define VMIE_WORKFLOW_SANBOOT_H

#include "aws/ec2.h"
#include "workflow/run_ctx.h"

/* Refuses an AMI sanbootable cannot go on (Windows:
 * VMIE_ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED; not available), before
 * anything is created. */
int vwf_sanboot_check_image(vwf_run *r, const vec2_image *img, vmie_error *err);

/* The whole install on ami_id (checked first with
 * vwf_sanboot_check_image).  Fills r->res->source_ami_id,
 * sanbootable_ami_id, instance_id, command_id and reports the results
 * "sanbootable_ami_id", "instance_id".  The new AMI's id is also returned
 * in *new_ami_id (owned by the caller).  Phases: "profile",
 * "launch", "ssm", "install", "image". */
int vwf_sanboot(vwf_run *r, const char *ami_id, char **new_ami_id,
		vmie_error *err);

/* Instances an earlier run left (killed before it could terminate
 * them), looked for when this run installs sanbootable or this machine's
 * journal lists an instance in the run's region (no AWS call otherwise):
 * found by their tags; those the journal shows as owned by a dead
 * process are terminated, others are reported with the command to
 * terminate them.  Never fails the run (warnings only). */
void vwf_sanboot_reap_if_due(vwf_run *r);

#endif
