/*
 * What vmie batch shows while it runs (batch_render.h):
 *   - on a terminal, a block redrawn in place: a total line (VMs done,
 *     failed, left; bytes uploaded; ETA) and under it one line per VM
 *     running (name, phase, bar or state, %, rate); a line for each VM
 *     that ends goes above the block;
 *   - off a terminal, a line per event (progress every 10 s per VM);
 *   - --json-events: each VM's events as vmie import prints them, with
 *     the VM's "row" (its manifest line) and "name"; "vm_start" and
 *     "vm_end" events around each VM.
 * Text from the manifest or from AWS never reaches the terminal raw:
 * control characters become '?'.
 */
#include "cli/batch_render.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/progress.h"
#include "base/isotime.h"
#include "base/xalloc.h"

#define REDRAW 0.2        /* seconds between block redraws */
#define LINE_EVERY 10.0   /* seconds between progress lines of one VM */
#define MAX_SHOWN 40      /* VM lines in the block, at most */

struct cli_batch_render {
	FILE *out;
	cli_batch_mode mode;
	int drawn;          /* lines of the block on screen */
	double last_draw;
	struct last_line {  /* lines mode: when each row last printed */
		unsigned line;
		double t;
		char state[128];
	} *seen;
	size_t nseen, capseen;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

cli_batch_render *cli_batch_render_new(FILE *out, cli_batch_mode mode)
{
	cli_batch_render *r = xcalloc(1, sizeof(*r));
	r->out = out;
	r->mode = mode;
	return r;
}

void cli_batch_render_clear(void *ctx)
{
	cli_batch_render *r = ctx;
	if (!r || r->mode != CLI_BATCH_BLOCK || !r->drawn)
		return;
	fprintf(r->out, "\r\033[%dA\033[J", r->drawn);
	fflush(r->out);
	r->drawn = 0;
}

void cli_batch_render_free(cli_batch_render *r)
{
	if (!r)
		return;
	cli_batch_render_clear(r);
	free(r->seen);
	free(r);
}

/* Into buf, with control characters as '?'. */
static void safe(char *buf, size_t len, const char *s)
{
	size_t i = 0;
	for (; s && *s && i + 1 < len; s++)
		buf[i++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	buf[i] = '\0';
}

static int width(FILE *out)
{
	struct winsize ws;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col > 200 ? 200 : ws.ws_col;
	return 80;
}

static void totals_line(char *buf, size_t len, const vmie_batch_totals *t)
{
	char up[32], eta[32] = "ETA --:--";
	cli_fmt_bytes(up, sizeof(up), (double)t->uploaded);
	if (t->eta >= 0) {
		char d[24];
		cli_fmt_duration(d, sizeof(d), t->eta);
		snprintf(eta, sizeof(eta), "ETA %s", d);
	}
	snprintf(buf, len, "batch: %u/%u done, %u failed%s, %u running, %u left; "
		 "%s uploaded; %s", t->succeeded, t->rows, t->failed + t->invalid,
		 t->invalid ? " or invalid" : "", t->running, t->left, up, eta);
}

/* A running VM in fixed columns: name, phase, a bar and its percent
 * when there is one (a transfer, a task), then bytes and rate, or the
 * task's status, or why it waits. */
static void vm_line(char *buf, size_t len, const vmie_batch_row *row)
{
	char name[24], state[160], bar[32], a[32], b[32], r[32];
	safe(name, sizeof(name), row->name);
	safe(state, sizeof(state), row->state);
	const char *phase = row->phase && *row->phase ? row->phase : "start";
	double frac = row->percent >= 0 ? row->percent / 100.0
		      : row->total ? (double)row->done / (double)row->total : -1;
	if (frac < 0 && !row->done) { /* nothing to measure: what it does */
		snprintf(buf, len, "  %-14.14s %-8s %s", name, phase, state);
		return;
	}
	if (frac >= 0)
		cli_fmt_bar(bar, sizeof(bar), frac > 1 ? 1 : frac, 22);
	else
		snprintf(bar, sizeof(bar), "%22s", "");
	if (row->percent >= 0) {
		snprintf(buf, len, "  %-14.14s %-8s %s %3d%%  %s", name, phase, bar,
			 row->percent, state);
		return;
	}
	cli_fmt_bytes(a, sizeof(a), (double)row->done);
	cli_fmt_bytes(b, sizeof(b), (double)row->total);
	cli_fmt_bytes(r, sizeof(r), row->rate);
	snprintf(buf, len, "  %-14.14s %-8s %s %3d%%  %s%s%s  %s/s", name, phase, bar,
		 frac >= 0 ? (int)(frac * 100) : 0, a, row->total ? "/" : "",
		 row->total ? b : "", r);
}

static void draw_block(cli_batch_render *r, const vmie_batch_event *e)
{
	char line[512];
	int w = width(r->out), n = 0;
	cli_batch_render_clear(r);
	totals_line(line, sizeof(line), e->totals);
	fprintf(r->out, "%.*s\n", w - 1, line);
	n++;
	for (size_t i = 0; i < e->nactive && i < MAX_SHOWN; i++, n++) {
		vm_line(line, sizeof(line), e->active[i]);
		fprintf(r->out, "%.*s\n", w - 1, line);
	}
	if (e->nactive > MAX_SHOWN) {
		fprintf(r->out, "  ... and %zu more\n", e->nactive - MAX_SHOWN);
		n++;
	}
	fflush(r->out);
	r->drawn = n;
	r->last_draw = now();
}

/* "line 7 web01: succeeded: ami-0123 (12:34)" and the like. */
static void end_line(FILE *out, const vmie_batch_row *row)
{
	char name[64], err[400];
	safe(name, sizeof(name), row->name);
	safe(err, sizeof(err), row->error);
	if (!strcmp(row->status, "succeeded"))
		fprintf(out, "line %u %s: %s%s\n", row->line, name,
			row->earlier ? "done earlier: " : "succeeded: ",
			row->ami_id ? row->ami_id : "");
	else if (strcmp(row->status, "invalid") != 0) /* invalid: logged already */
		fprintf(out, "line %u %s: %s%s%s\n", row->line, name, row->status,
			err[0] ? ": " : "", err);
	fflush(out);
}

static struct last_line *seen_of(cli_batch_render *r, unsigned line)
{
	for (size_t i = 0; i < r->nseen; i++)
		if (r->seen[i].line == line)
			return &r->seen[i];
	xgrow((void **)&r->seen, &r->capseen, r->nseen + 1, sizeof(*r->seen));
	struct last_line *s = &r->seen[r->nseen++];
	memset(s, 0, sizeof(*s));
	s->line = line;
	return s;
}

static void event_line(cli_batch_render *r, const vmie_batch_event *e)
{
	const vmie_batch_row *row = e->row;
	const vmie_event *ev = e->ev;
	struct last_line *s = seen_of(r, row->line);
	char name[64], text[512];
	double t = now();
	safe(name, sizeof(name), row->name);
	if (ev->kind == VMIE_EVENT_RESULT)
		return;
	if (ev->kind == VMIE_EVENT_STATUS) {
		char st[128];
		snprintf(st, sizeof(st), "%s:%s", ev->status ? ev->status : "",
			 ev->message ? ev->message : "");
		if (strcmp(st, s->state) == 0)
			return; /* the same status, polled again */
		snprintf(s->state, sizeof(s->state), "%s", st);
	}
	if (ev->kind == VMIE_EVENT_PROGRESS && t - s->t < LINE_EVERY)
		return;
	s->t = t;
	cli_progress_line(text, sizeof(text), ev, row->rate, 0);
	if (ev->kind == VMIE_EVENT_PHASE_END) {
		char d[24];
		cli_fmt_duration(d, sizeof(d), ev->seconds);
		snprintf(text, sizeof(text), "%-8s done in %s", ev->phase ? ev->phase : "", d);
	} else if (ev->kind == VMIE_EVENT_STATUS) { /* no duration: events carry none */
		char pct[16] = "";
		if (ev->percent >= 0)
			snprintf(pct, sizeof(pct), "%3d%%  ", ev->percent);
		snprintf(text, sizeof(text), "%-8s %s%s%s%s", ev->phase ? ev->phase : "", pct,
			 ev->status ? ev->status : "", ev->message && *ev->message ? ": " : "",
			 ev->message ? ev->message : "");
	}
	char clean[512];
	safe(clean, sizeof(clean), text);
	fprintf(r->out, "line %u %s: %s\n", row->line, name, clean);
	fflush(r->out);
}

static void json_line(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	if (s) {
		fprintf(stdout, "%s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(o);
}

static json_t *opt_str(const char *s)
{
	json_t *j = s ? json_string(s) : NULL;
	return j ? j : json_null();
}

static void json_event(const vmie_batch_event *e)
{
	const vmie_batch_row *row = e->row;
	json_t *o;
	char ts[VISOTIME_LEN];
	if (e->kind == VMIE_BATCH_TICK)
		return;
	if (e->ev) {
		o = cli_progress_event_json(e->ev);
	} else {
		visotime_format(time(NULL), ts);
		o = json_pack("{s:s, s:s}", "event", e->kind == VMIE_BATCH_ROW_START
			      ? "vm_start" : "vm_end", "time", ts);
		json_object_set_new(o, "status", opt_str(row->status));
		if (e->kind == VMIE_BATCH_ROW_END) {
			json_object_set_new(o, "ami_id", opt_str(row->ami_id));
			json_object_set_new(o, "error", opt_str(row->error));
			json_object_set_new(o, "earlier", json_boolean(row->earlier));
		}
	}
	if (row) {
		json_object_set_new(o, "row", json_integer(row->line));
		json_object_set_new(o, "name", opt_str(row->name));
		json_object_set_new(o, "key", opt_str(row->key));
	}
	json_line(o);
}

void cli_batch_render_event(void *ctx, const vmie_batch_event *e)
{
	cli_batch_render *r = ctx;
	switch (r->mode) {
	case CLI_BATCH_NONE:
		return;
	case CLI_BATCH_EVENTS:
		json_event(e);
		return;
	case CLI_BATCH_BLOCK:
		if (e->kind == VMIE_BATCH_ROW_END) {
			cli_batch_render_clear(r);
			end_line(r->out, e->row);
		} else if (e->kind == VMIE_BATCH_TICK && now() - r->last_draw >= REDRAW) {
			draw_block(r, e);
		}
		return;
	case CLI_BATCH_LINES:
		if (e->kind == VMIE_BATCH_ROW_END) {
			char line[256];
			end_line(r->out, e->row);
			/* The totals after a VM of this run, not after each row
			 * an earlier run settled. */
			bool ran = !e->row->earlier && strcmp(e->row->status, "invalid") != 0;
			totals_line(line, sizeof(line), e->totals);
			if (ran)
				fprintf(r->out, "%s\n", line);
		} else if (e->kind == VMIE_BATCH_ROW_START) {
			char name[64];
			safe(name, sizeof(name), e->row->name);
			fprintf(r->out, "line %u %s: started\n", e->row->line, name);
		} else if (e->kind == VMIE_BATCH_ROW_EVENT) {
			event_line(r, e);
		}
		fflush(r->out);
		return;
	}
}
