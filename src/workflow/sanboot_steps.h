/*
 * The steps of --install-sanbootable, each in its own file, run in order
 * by sanboot.c:  the network and the instance profile
 * (sanboot_profile.c), the instance's launch, stop and guaranteed
 * termination (sanboot_instance.c), SSM (sanboot_ssm.c), the new AMI
 * (sanboot_image.c); the waits they share (sanboot_wait.c).
 *
 * Test knobs (environment; for the tests against the emulator, which
 * runs its clock fast):
 *   VMIE_POLL_SCALE=F              every poll delay of these waits times F
 *   VMIE_SANBOOT_RUNNING_TIMEOUT_S instance running     (default 600)
 *   VMIE_SANBOOT_SSM_TIMEOUT_S     SSM agent Online     (default 600)
 *   VMIE_SANBOOT_COMMAND_TIMEOUT_S the install command  (default 1920)
 *   VMIE_SANBOOT_STOP_TIMEOUT_S    instance stopped     (default 600)
 *   VMIE_SANBOOT_IMAGE_TIMEOUT_S   AMI available        (default 3600)
 */
#ifndef VMIE_WORKFLOW_SANBOOT_STEPS_H
#define VMIE_WORKFLOW_SANBOOT_STEPS_H

#include <stdbool.h>

#include "aws/ec2.h"
#include "workflow/journal.h"
#include "workflow/run_ctx.h"

/* Tags that mark the temporary instance; the reaper finds it by them. */
#define VWF_SB_NAME_TAG "VMIE-Sanbootable-Install"
#define VWF_SB_CREATED_BY "vmie"

/* One install: what the steps learn and make, freed by
 * vwf_sanboot_job_free (the instance is terminated before that). */
typedef struct vwf_sanboot_job {
	vwf_run *r;
	const char *source_ami;
	vec2_image img;         /* the source AMI, described */
	char *subnet_id;        /* where the launch goes (the current one) */
	char **spare_subnets;   /* other default subnets, zone order: where a
				 * launch refused in one zone goes next */
	size_t nspare;
	const char *profile;    /* the instance profile's name */
	const char *instance_type;
	bool profile_created;   /* just made: EC2 may not see it yet */
	char *instance_id;      /* set as soon as RunInstances answers */
	bool journaled;         /* the local journal holds the instance */
	char *command_id;
	char *new_ami_id;       /* set as soon as CreateImage answers */
	bool finished;          /* the new AMI is available and tagged */
	json_t *jstep;          /* the journal's "sanboot" step; NULL: none */
	bool installed;         /* the instance (a resumed one too) has it */
} vwf_sanboot_job;

void vwf_sanboot_job_free(vwf_sanboot_job *job);

/* sanboot_profile.c: the subnet (--subnet-id, or the default VPC's
 * default subnet: VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED with the
 * reference's advice when there is none); then the instance profile
 * (phase "profile"). */
int vwf_sb_network(vwf_sanboot_job *job, vmie_error *err);
int vwf_sb_profile(vwf_sanboot_job *job, vmie_error *err);

/* sanboot_instance.c: RunInstances (retried while a new profile
 * propagates), journaled, then the wait for running (phase "launch");
 * StopInstances and the wait for stopped; the termination that runs on
 * every path and never fails (it says what to do when it cannot).  A
 * resumed run takes over the instance of the interrupted one when
 * sanbootable is installed on it, and ends it otherwise. */
int vwf_sb_launch(vwf_sanboot_job *job, vmie_error *err);
int vwf_sb_stop(vwf_sanboot_job *job, vmie_error *err);
void vwf_sb_terminate(vwf_sanboot_job *job);

/* sanboot_ssm.c: the wait for the agent (phase "ssm"); the install
 * script sent and its command waited for, its output shown (phase
 * "install"). */
int vwf_sb_wait_online(vwf_sanboot_job *job, vmie_error *err);
int vwf_sb_install(vwf_sanboot_job *job, vmie_error *err);

/* sanboot_image.c: stop, CreateImage, the wait for available, the tags
 * (phase "image"); with job->new_ami_id set already, only the wait and
 * the tags. */
int vwf_sb_image(vwf_sanboot_job *job, vmie_error *err);
/* The interrupted run's CreateImage made its AMI (pending or available):
 * true with job->new_ami_id set, so it is waited for, not made twice. */
bool vwf_sb_earlier_image(vwf_sanboot_job *job);
/* sanboot_instance.c: the interrupted run's instance, when one lives, in
 * job->instance_id: to be terminated, nothing more to do on it. */
void vwf_sb_leftover_instance(vwf_sanboot_job *job);

/* sanboot_wait.c: one polling loop's clock. */
typedef struct vwf_sb_wait {
	double t0;
	double limit_s;
	long cap_ms;       /* the longest delay between polls */
	unsigned attempt;
} vwf_sb_wait;

#define VWF_SB_TIMED_OUT 1

/* A wait of at most env_knob's seconds (default_s when unset). */
void vwf_sb_wait_start(vwf_sb_wait *w, const char *env_knob, double default_s,
		       long cap_ms);
/* Sleeps before the next poll (delays grow to cap_ms, scaled by
 * VMIE_POLL_SCALE, never past the limit): 0, VWF_SB_TIMED_OUT when the
 * limit is reached (err untouched), or VMIE_ERR_INTERRUPTED (err set). */
int vwf_sb_wait_next(vwf_run *r, vwf_sb_wait *w, vmie_error *err);
/* The same delays, for waits that must go on after a cancel (the
 * termination): a plain sleep. */
long vwf_sb_delay_ms(unsigned attempt, long cap_ms);
/* "10 min", "45 s": a limit for messages. */
void vwf_sb_fmt_limit(double seconds, char *buf, unsigned len);

/* A failed AWS call becomes the step's status (the AWS details stay);
 * an interruption stays an interruption. */
int vwf_sb_as_step(vmie_error *err, int rc, int status);

#endif
