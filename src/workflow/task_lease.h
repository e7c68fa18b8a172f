/*
 * Slots shared through S3: at most N VM Import/Export tasks (or N
 * sanbootable instances) at once across every vmie that uses the same
 * bucket and lease prefix, whichever process or host it runs on.  vmie
 * batch passes --max-tasks, --max-instances and --lease-prefix to each
 * VM's run; a plain vmie import in a shell loop may pass them too.
 *
 * A slot is held by small objects under the bucket's lease prefix:
 *   <prefix>tasks/slot-03/000005712345   (one per lease epoch)
 * created with PutObject If-None-Match: *, so of two processes that want
 * the same slot in the same epoch exactly one gets it.  Time is cut into
 * epochs of VMIE_LEASE_TTL_S seconds (default 300); a holder keeps the
 * objects of the current and the next epoch, renewing as its waits tick
 * (vwf_sleep), and deletes them when the task ends.  A slot whose holder
 * died (kill -9, a lost host) frees itself within two epochs: nobody ever
 * deletes or overwrites another process's object, so the lease needs no
 * conditional delete, only the conditional create.  Hosts' clocks must
 * agree to within most of an epoch (NTP; SigV4 already wants 15 minutes).
 *
 * AWS's own quota may be lower than N (a raised or lowered account quota,
 * tasks started by something else): an answer of ResourceLimitExceeded
 * writes a ceiling object (<prefix>tasks/ceiling/<until>-<k>) that lowers
 * N for every sharer for a while, and the run waits and tries again
 * instead of failing.
 */
#ifndef VMIE_WORKFLOW_TASK_LEASE_H
#define VMIE_WORKFLOW_TASK_LEASE_H

#include <stdbool.h>

#include "base/kv.h"
#include "workflow/run_ctx.h"

typedef enum vwf_lease_kind {
	VWF_LEASE_TASK,     /* ImportImage / ExportImage: opts->max_tasks */
	VWF_LEASE_INSTANCE, /* the sanbootable instance: opts->max_instances */
} vwf_lease_kind;

#define VWF_LEASE_MAX_SLOTS 100
#define VWF_LEASE_DEFAULT_PREFIX "vmie-leases/"

/* Before the task starts (the instance launches): when the options ask
 * for slots of this kind, wait for one (status events "queued" meanwhile)
 * and hold it; otherwise return 0 at once.  VMIE_ERR_INTERRUPTED when the
 * run is cancelled while waiting; an S3 failure is an error (err set). */
int vwf_lease_take(vwf_run *r, vwf_lease_kind kind, vmie_error *err);
/* The task (instance) is over: give the slot back.  Never fails; a slot
 * that cannot be deleted frees itself within two epochs. */
void vwf_lease_release(vwf_run *r, vwf_lease_kind kind);
/* From every wait (vwf_sleep): renew what is held when an epoch begins. */
void vwf_lease_tick(vwf_run *r);
/* The start of a task failed with e.  When that is AWS's task quota
 * (ResourceLimitExceeded) and this run holds a task slot: lower the
 * shared ceiling, wait (giving the slot back if it is above the
 * ceiling, and taking one below it), and return true with *rc 0: start
 * the task again.  *rc is a status (err set) when the wait failed or was
 * interrupted.  false: not the quota; e stands. */
bool vwf_lease_quota_wait(vwf_run *r, const vmie_error *e, int *rc,
			  vmie_error *err);
/* vwf_run_finish: whatever is still held is released. */
void vwf_leases_free(vwf_run *r);

/* --- the objects' names, for the above and the tests --- */

/* What a listing of <prefix><kind>/ says at epoch `epoch` and time now:
 * which slots are held, and the lowest unexpired ceiling (0: none). */
typedef struct vwf_lease_view {
	bool taken[VWF_LEASE_MAX_SLOTS];
	unsigned ntaken;
	unsigned ceiling;
} vwf_lease_view;

/* "<base>slot-03/000005712345" (base: "<prefix><kind>/") */
char *vwf_lease_slot_key(const char *base, unsigned slot, long long epoch);
/* "<base>ceiling/<until>-<k>" */
char *vwf_lease_ceiling_key(const char *base, long long until, unsigned k);
/* Keys that do not parse (a person's file in the prefix) are ignored. */
void vwf_lease_view_of(const vkv *keys, const char *base, long long epoch,
		       long long now, vwf_lease_view *v);

#endif
