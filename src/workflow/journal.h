/*
 * The run journal: what a run did and was about to do, so that the same
 * command picks up where it stopped (DESIGN.md, "Runs that survive").
 *
 * One JSON file per run under $XDG_STATE_HOME/vmie/runs/ (default
 * ~/.local/state/vmie/runs/), mode 0600, rewritten whole and atomically
 * (temporary file, fsync, rename) before and after every side effect.
 * The file is named by the run's id: 16 hex digits of SHA-256 over its
 * identity -- the operation, where it works (region, EC2 endpoint,
 * profile), the bucket, the source (a local file by its absolute path),
 * and the options that shape the run (s3 key, AMI, upload only,
 * sanbootable, export format and prefix, download path) -- so the same
 * command finds it again.  A lock beside it (<id>.lock, flock) keeps a
 * second process off a run that is going on.
 *
 * Version 1:
 *   {"vmie_journal": 1, "id", "run_id" (every ClientToken and the
 *    vmie:run-id tag come from it), "operation", "identity": {...},
 *    "source_stat": {"size", "mtime_ns", "inode", "dev"} (a local file),
 *    "command" (the command that resumes it), "state": "running" |
 *    "interrupted" | "failed" | "done", "error": {"message", "hint",
 *    "status"}, "created", "updated" (epoch seconds), "owner": {"pid",
 *    "proc_start", "host"}, "result": {the vmie_result so far},
 *    "steps": {NAME: {"state": "started" | "done" | "failed",
 *                     "options": {the options the step was started with},
 *                     intent and outcome fields}}}
 * The steps and their fields are listed in journal_steps.h.
 *
 * Every function takes a NULL journal (a run that cannot keep one: no
 * home directory) and then does nothing.
 */
#ifndef VMIE_WORKFLOW_JOURNAL_H
#define VMIE_WORKFLOW_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/client.h"
#include "vmie.h"

#define VWF_JOURNAL_VERSION 1

typedef struct vwf_journal vwf_journal;

/* The identity of an operation with these options: *id_out the journal's
 * id (16 hex digits), *identity_out the JSON object it hashes, *command_out
 * the command line that runs it (absolute paths, shell-quoted).  Any out
 * may be NULL.  Fails (err set) only when a local source cannot be found. */
int vwf_journal_identity(vmie_operation op, const vmie_options *o,
			 vmie_source_kind kind, vaws_client *c, char **id_out,
			 json_t **identity_out, char **command_out,
			 vmie_error *err);

/* Opens the journal of this identity for a run of this process: takes
 * its lock (a run of it going on elsewhere: VMIE_ERR_GENERAL_OPERATION_FAILED
 * naming the process), reads what an earlier run wrote (*found), or
 * starts a new one with run_id.  *out NULL (and 0 returned, with a
 * warning) when the state directory cannot be used: the run goes on
 * without a journal. */
int vwf_journal_open(vmie_operation op, const vmie_options *o,
		     vmie_source_kind kind, vaws_client *c, const char *run_id,
		     vwf_journal **out, bool *found, vmie_error *err);

/* Forgets everything an earlier run wrote (the caller has cleaned up
 * what it left): a fresh journal with this run_id, same identity. */
void vwf_journal_reset(vwf_journal *j, const char *run_id);

/* The local source is not the file the earlier run read (its size,
 * mtime, inode or device differ). */
bool vwf_journal_source_changed(const vwf_journal *j);

/* Writes the journal now (a failure is a warning, once: the run goes on). */
void vwf_journal_save(vwf_journal *j);
/* The same, at most every quarter second (an upload's parts): what is
 * not written yet is written by the next save. */
void vwf_journal_save_soon(vwf_journal *j);

/* The run ends: its state ("done", "interrupted" for rc
 * VMIE_ERR_INTERRUPTED, else "failed", with err), the result so far,
 * saved; the lock released and j freed.  NULL is fine. */
void vwf_journal_close(vwf_journal *j, int rc, const vmie_error *err,
		       const vmie_result *res);

/* Lets the journal go as it is on disk (the lock released, j freed). */
void vwf_journal_release(vwf_journal *j);

const char *vwf_journal_id(const vwf_journal *j);
const char *vwf_journal_run_id(const vwf_journal *j);
const char *vwf_journal_command(const vwf_journal *j);
/* "running", "interrupted", "failed", "done" (an earlier run's until
 * vwf_journal_mark_running). */
const char *vwf_journal_state(const vwf_journal *j);
void vwf_journal_mark_running(vwf_journal *j);
/* The whole document (for discard and the result), owned by j. */
json_t *vwf_journal_doc(vwf_journal *j);

/* A step's object (created empty when missing; NULL only for a NULL
 * journal), or NULL when the journal has no such step. */
json_t *vwf_journal_step(vwf_journal *j, const char *name);
json_t *vwf_journal_step_if(vwf_journal *j, const char *name);
/* A step's "state" is "done". */
bool vwf_journal_step_done(vwf_journal *j, const char *name);
/* Drops a step (what it names is gone, or discarded). */
void vwf_journal_step_drop(vwf_journal *j, const char *name);

/* The options a step starts with: recorded when it starts; a step that
 * started with other values and is not done yet cannot go on with these
 * (VMIE_ERR_INVALID_ARGUMENT naming the option and both values). */
int vwf_journal_step_options(vwf_journal *j, const char *step,
			     const vmie_options *o, vmie_error *err);

/* The result a run recorded (into res, which may already hold some). */
void vwf_journal_result_into(vwf_journal *j, vmie_result *res);

/* Small JSON accessors that take NULL objects. */
const char *vwf_js(const json_t *o, const char *key);
long long vwf_ji(const json_t *o, const char *key, long long dflt);
bool vwf_jb(const json_t *o, const char *key);
void vwf_jset(json_t *o, const char *key, const char *value); /* NULL drops */
void vwf_jseti(json_t *o, const char *key, long long value);
void vwf_jsetb(json_t *o, const char *key, bool value);

/* What a run's journal says, for `vmie runs` and a batch scheduler,
 * without taking the run: the public vmie_run_info (vmie.h). */
/* 0 with rec filled, 1 when there is no such journal, -1 when it cannot
 * be read. */
int vwf_journal_peek(const char *id, vmie_run_info *rec);
/* The journal of run `id` taken (locked, read) to be discarded; NULL with
 * err set when there is none, or a live process has it. */
vwf_journal *vwf_journal_take(const char *id, vmie_error *err);
/* The ids of every journal on this machine (free each, then the array). */
char **vwf_journal_ids(size_t *n);
/* Removes a journal (file and lock) once what it listed is cleaned up. */
void vwf_journal_remove_file(const char *id);

#endif
