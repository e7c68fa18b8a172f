/*
 * One VM's run in a batch: a child vmie process, its events, its end
 * (batch_child.c).
 */
#ifndef VMIE_WORKFLOW_BATCH_CHILD_H
#define VMIE_WORKFLOW_BATCH_CHILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "workflow/batch.h"

typedef struct vbatch_child vbatch_child;

/* Start argv (argv[0] the vmie binary) with stdout to events (truncated)
 * and stderr to log (appended); row->child is set. */
int vbatch_child_start(vbatch_row *row, char *const *argv, const char *events,
		       const char *log, vmie_error *err);

/* Read what the child printed since the last call: each event goes to fn
 * (its strings live for the call), and row->view.rate follows transfers. */
typedef void (*vbatch_event_fn)(void *ctx, vbatch_row *row, const vmie_event *ev);
void vbatch_child_poll(vbatch_row *row, vbatch_event_fn fn, void *ctx);
/* true once the child has exited: *exit_status as a shell shows it
 * (128 + the signal when one killed it). */
bool vbatch_child_reap(vbatch_row *row, int *exit_status);
/* The child's last object that is not an event (its --json), or NULL;
 * owned by the child. */
json_t *vbatch_child_final(vbatch_row *row);
void vbatch_child_signal(vbatch_row *row, int sig);
void vbatch_child_free(vbatch_row *row);

/* The next JSON value in buf: bytes consumed (whitespace, or a line that
 * is not JSON, consumed with *out NULL), 0 when the value is still being
 * written (never at_eof). */
size_t vbatch_stream_next(const char *buf, size_t len, bool at_eof, json_t **out);
/* The last object that is not an event in a whole events file (new
 * reference), or NULL. */
json_t *vbatch_events_final(const char *text, size_t len);

/* The ids a whole events file reported (import task, AMI, ...), into o:
 * a VM stopped before its last words still said those. */
void vbatch_events_results(const char *text, size_t len, vbatch_outcome *o);

/* How a run ended, into row->out: from its --json object (NULL when it
 * printed none) and its exit status (-1: take the object's). */
void vbatch_outcome_settle(vbatch_row *row, json_t *final, int exit_status);

#endif
