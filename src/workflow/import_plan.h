/*
 * The small decisions of an import that need no AWS call: where the image
 * goes in S3, the ClientToken that makes ImportImage idempotent, how often
 * to poll the task, and what to tell the user when the task fails.
 */
#ifndef VMIE_WORKFLOW_IMPORT_PLAN_H
#define VMIE_WORKFLOW_IMPORT_PLAN_H

#include <stdint.h>

/* The S3 key for an uploaded image: the reference tool's naming, the
 * image's file name (already without its compression suffix) at the
 * bucket root.  Characters S3 advises against in keys (control characters,
 * backslash, and the like) become '_'; an empty name becomes "image". */
char *vwf_upload_key(const char *image_name);

/* The name of a disk sent as a VMDK made from `image_name`: its disk
 * extension (.raw, .img, .vhd, .vhdx, .vmdk, ...) replaced by ".vmdk",
 * ".vmdk" added when it has none ("disk.raw" -> "disk.vmdk", "disk" ->
 * "disk.vmdk"). */
char *vwf_vmdk_name(const char *image_name);

/* ImportImage's ClientToken: the same for every attempt of one run (SDK
 * retries, the wait for a new role to propagate), different across runs.
 * run_id is random per run; the token is "vmie-" and 40 hex digits of
 * SHA-256 over the run id and the disk containers' S3 URLs (64 chars is
 * EC2's limit). */
char *vwf_client_token(const char *run_id, const char *const *s3_urls,
		       unsigned n);

/* A random run id (32 hex digits, from the OS's CSPRNG). */
char *vwf_new_run_id(void);

/* Delay before poll number `attempt` (0-based) of an import or export
 * task: fast at first (a failed task usually fails within a minute), then
 * every 30 s. */
long vwf_poll_delay_ms(unsigned attempt);

/* VMIE_POLL_SCALE (0 < F <= 1, default 1): a test knob that shortens
 * every poll interval against an emulator running its clock faster;
 * it can only make polls more frequent, never rarer. */
double vwf_poll_scale(void);

/* A hint for a failed import task's StatusMessage (AWS's words, e.g.
 * "ClientError: Unknown OS / Missing OS files."), or NULL when vmie has
 * nothing to add. */
const char *vwf_import_failure_hint(const char *status_message);

#endif
