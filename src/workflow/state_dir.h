/*
 * What vmie keeps on this machine between runs lives under
 * $XDG_STATE_HOME/vmie/ (an absolute XDG_STATE_HOME only, as the XDG
 * spec says), else ~/.local/state/vmie/: the run journals (runs/), the
 * temporary instances (instances/).  Directories 0700, files 0600,
 * written whole or not at all; and who wrote them, so that a later run
 * can tell a live owner from a dead one.
 */
#ifndef VMIE_WORKFLOW_STATE_DIR_H
#define VMIE_WORKFLOW_STATE_DIR_H

#include <stdbool.h>
#include <stddef.h>

/* The directory for `sub` ("runs"), not created; NULL without a home. */
char *vwf_state_dir(const char *sub);

/* The names of the files in `sub` ending in `suffix`, without it, that
 * `ok` accepts (each names something: an id); free each, then the
 * array. */
char **vwf_state_names(const char *sub, const char *suffix,
		       bool (*ok)(const char *name), size_t *n);

/* mkdir -p, 0700 for what it creates: 0 or -1 (errno). */
int vwf_make_dirs(const char *path);

/* path holds data, or its previous content: a temporary file beside it
 * (0600), fsync, rename over path, fsync of the directory.  0 or -1. */
int vwf_write_atomic(const char *path, const char *data, size_t len);

/* A process, as a journal names its owner: with the pid, its start time
 * (ticks since boot, from /proc; -1 unknown) tells a reused pid apart. */
typedef struct vwf_owner {
	long pid;
	long long proc_start;
	char host[256];
} vwf_owner;

void vwf_owner_me(vwf_owner *o);
/* The process o names still runs (on this machine: host is checked by
 * the caller, or o->host is empty). */
bool vwf_owner_alive(const vwf_owner *o);
/* This machine's name (len >= 256). */
void vwf_hostname(char *buf, size_t len);

#endif
