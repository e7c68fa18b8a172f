/*
 * What every step of a workflow shares: the options, the AWS client, the
 * result being filled, the run id, and the reporting of phases, progress
 * and results through the options' event callback.
 */
#ifndef VMIE_WORKFLOW_RUN_CTX_H
#define VMIE_WORKFLOW_RUN_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/client.h"
#include "base/kv.h"
#include "vmie.h"

struct vwf_journal;

typedef struct vwf_run {
	const vmie_options *opts;
	vaws_client *client;
	vmie_result *res;
	char *run_id;        /* a new run's, or the journal's when it resumes */
	struct vwf_journal *journal; /* NULL: not journaled (vmie download) */
	double t0;           /* the run's start (monotonic seconds) */
	const char *phase;   /* the phase under way, NULL between phases */
	double phase_t0;
	struct vwf_leases *leases; /* slots held through S3 (task_lease.h) */
} vwf_run;

double vwf_now(void); /* monotonic seconds */

/* Starts a run: r zeroed and filled, a run id, the AWS client.  On
 * failure err is set; vwf_run_finish is due either way. */
int vwf_run_start(vwf_run *r, const vmie_options *o, vmie_result *res,
		  vmie_error *err);
/* Records the run's duration and frees what vwf_run_start made. */
void vwf_run_finish(vwf_run *r);

/* The journaled part of a run (resume.c), after vwf_run_start: its
 * journal opened; with --restart what an earlier run of the same command
 * left cleaned up first; a run of it that finished is reported again
 * (VWF_RUN_DONE_BEFORE, the result filled: nothing to do); an unfinished
 * one is taken over, its run id (hence its ClientTokens) with it. */
#define VWF_RUN_DONE_BEFORE 1
int vwf_run_journal(vwf_run *r, vmie_operation op, vmie_source_kind kind,
		    vmie_error *err);
/* Its end: the journal closed with the outcome; a run that stopped says
 * what it keeps and how to go on or drop it. */
void vwf_run_journal_end(vwf_run *r, int rc, vmie_error *err);

/* A failed poll of a task or instance that lives on in AWS: after a
 * transient failure (the outage window spent) the loop goes on polling
 * -- true, err cleared, a warning now and then -- else false. */
bool vwf_poll_goes_on(vwf_run *r, int rc, vmie_error *err, const char *what);

void vwf_phase_begin(vwf_run *r, const char *phase);
/* Ends the phase under way: records its duration in the result and
 * reports it (bytes: what it moved, 0 for none). */
void vwf_phase_end(vwf_run *r, uint64_t bytes);
void vwf_progress(vwf_run *r, uint64_t done, uint64_t total);
/* percent -1: a wait that has no percentage (shown without one). */
void vwf_task_status(vwf_run *r, int percent, const char *status,
		     const char *message);
void vwf_report_result(vwf_run *r, const char *key, const char *value);

/* The --tag KEY=VALUE options (validated) as pairs, appended to tags. */
void vwf_option_tags(const vmie_options *o, vkv *tags);

bool vwf_cancelled(const vwf_run *r);
/* Sleeps ms in small slices; VMIE_ERR_INTERRUPTED (err set) as soon as the
 * run is cancelled, else 0. */
int vwf_sleep(vwf_run *r, long ms, vmie_error *err);
/* The error for a cancelled run, naming what was under way. */
int vwf_interrupted(vwf_run *r, vmie_error *err);

#endif
