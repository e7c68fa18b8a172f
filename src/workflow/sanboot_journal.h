/*
 * The local journal of temporary instances: one small JSON file per
 * instance ($XDG_STATE_HOME/vmie/instances/<instance-id>.json, else
 * ~/.local/state/vmie/instances/..., mode 0600), written as soon as
 * RunInstances answers and removed once the instance is terminated.  A
 * file that outlives its process (kill -9, a crash, a power cut) tells
 * the next run on this machine that the instance is an orphan it may
 * terminate; an instance with no file here belongs to another machine
 * (or a lost journal), and is only reported.
 */
#ifndef VMIE_WORKFLOW_SANBOOT_JOURNAL_H
#define VMIE_WORKFLOW_SANBOOT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vwf_instance_entry {
	char *instance_id;
	char *hostname;
	char *run_id;
	char *region;
	char *source_ami;
	long pid;
	long long proc_start; /* the process's start time (/proc ticks); -1 */
	long long started;    /* epoch seconds of the launch */
} vwf_instance_entry;

void vwf_instance_entry_free(vwf_instance_entry *e);

/* An entry for this process (pid, hostname, start time filled here). */
void vwf_instance_entry_for_me(vwf_instance_entry *e, const char *instance_id,
			      const char *run_id, const char *region,
			      const char *source_ami);

/* 0, or -1 with *why set (a static string; the caller warns: a run
 * without a journal entry still terminates its instance itself). */
int vwf_instances_add(const vwf_instance_entry *e, const char **why);
void vwf_instances_remove(const char *instance_id);
/* 0 (out filled), 1 when there is no entry, -1 when it is unreadable. */
int vwf_instances_read(const char *instance_id, vwf_instance_entry *out);
/* The instance ids the journal holds (free each, then the array). */
char **vwf_instances_list(size_t *n);

/* The process that wrote e (on this machine) is still running. */
bool vwf_instance_owner_alive(const vwf_instance_entry *e);

#endif
