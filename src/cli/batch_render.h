/*
 * What vmie batch shows while it runs (batch_render.c): a block redrawn
 * in place on a terminal, lines off one, JSON events, or nothing.
 */
#ifndef VMIE_CLI_BATCH_RENDER_H
#define VMIE_CLI_BATCH_RENDER_H

#include <stdio.h>

#include "vmie.h"

typedef enum cli_batch_mode {
	CLI_BATCH_NONE,
	CLI_BATCH_BLOCK,  /* a terminal: totals and one line per VM, in place */
	CLI_BATCH_LINES,  /* not a terminal: a line per event */
	CLI_BATCH_EVENTS, /* --json-events: JSON lines on stdout */
} cli_batch_mode;

typedef struct cli_batch_render cli_batch_render;

cli_batch_render *cli_batch_render_new(FILE *out, cli_batch_mode mode);
void cli_batch_render_free(cli_batch_render *r);
/* The vmie_batch_event_fn (ctx: the renderer). */
void cli_batch_render_event(void *ctx, const vmie_batch_event *e);
/* Erase the block so a log line can go above it (cli_log's clear). */
void cli_batch_render_clear(void *ctx);

#endif
