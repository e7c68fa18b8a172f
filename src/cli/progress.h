/*
 * Rendering a run's progress events (vmie_event): a bar on a terminal,
 * a plain line every few seconds otherwise, one JSON object per event for
 * --json-events, or nothing (-q, --no-progress).
 */
#ifndef VMIE_CLI_PROGRESS_H
#define VMIE_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "vmie.h"

typedef enum cli_progress_mode {
	CLI_PROGRESS_NONE,
	CLI_PROGRESS_BAR,    /* a terminal: one line redrawn in place */
	CLI_PROGRESS_LINES,  /* not a terminal: a line every interval */
	CLI_PROGRESS_EVENTS, /* --json-events: a JSON line per event */
} cli_progress_mode;

typedef struct cli_progress cli_progress;

/* out is where progress goes (stderr for bars and lines, stdout for
 * events).  line_interval: seconds between plain lines (0: 10). */
cli_progress *cli_progress_new(FILE *out, cli_progress_mode mode,
			       double line_interval);
void cli_progress_free(cli_progress *p);

/* The vmie_event_fn to hand the library (ctx = the cli_progress). */
void cli_progress_event(void *ctx, const vmie_event *ev);

/* Erase the bar so another line can be printed; it comes back with the
 * next event.  A no-op in other modes. */
void cli_progress_clear(cli_progress *p);

/* The JSON object of one event, as --json-events prints it (a json_t,
 * the caller's). */
void *cli_progress_event_json(const vmie_event *ev);

/* Pure formatting, exposed for tests: "1.5 GiB", "512 B"; "1:02:03" /
 * "4:05"; the bar line for a transfer or a task into buf. */
void cli_fmt_bytes(char *buf, size_t len, double bytes);
void cli_fmt_duration(char *buf, size_t len, double seconds);
/* "[=====>     ]" filling width columns for a fraction in [0,1]. */
void cli_fmt_bar(char *buf, size_t len, double frac, int width);
void cli_progress_line(char *buf, size_t len, const vmie_event *ev,
		       double rate, int width);

#endif
