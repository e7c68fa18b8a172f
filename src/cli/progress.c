/*
 * Progress rendering (progress.h).  The library reports events as often
 * as it likes; what reaches the screen is throttled here: a bar at most
 * ten times a second, a plain line every interval, a JSON progress event
 * at most once a second.
 */
#include "cli/progress.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/isotime.h"
#include "base/xalloc.h"

#define BAR_REDRAW 0.1    /* seconds between bar redraws */
#define EVENT_REDRAW 1.0  /* seconds between JSON progress events */
#define RATE_WINDOW 0.5   /* seconds between rate samples */

struct cli_progress {
	FILE *out;
	cli_progress_mode mode;
	double interval;
	bool bar_shown;
	double last_draw;
	/* the rate of the current transfer, smoothed */
	double sample_t;
	uint64_t sample_done;
	double rate;
	vmie_event last;      /* the latest event (strings not kept) */
	char status[128];     /* the latest task status and message */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

cli_progress *cli_progress_new(FILE *out, cli_progress_mode mode,
			       double line_interval)
{
	cli_progress *p = xcalloc(1, sizeof(*p));
	p->out = out;
	p->mode = mode;
	p->interval = line_interval > 0 ? line_interval : 10.0;
	return p;
}

void cli_progress_free(cli_progress *p)
{
	if (!p)
		return;
	cli_progress_clear(p);
	free(p);
}

void cli_fmt_bytes(char *buf, size_t len, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", bytes);
	else
		snprintf(buf, len, "%.1f %s", bytes, units[u]);
}

void cli_fmt_duration(char *buf, size_t len, double seconds)
{
	long s = seconds > 0 && isfinite(seconds) ? lround(seconds) : 0;
	if (s >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
}

void cli_fmt_bar(char *buf, size_t len, double frac, int width)
{
	int inner = width - 2, fill;
	if (inner < 1 || (size_t)width + 1 > len) {
		buf[0] = '\0';
		return;
	}
	fill = (int)(frac * inner);
	if (fill > inner)
		fill = inner;
	buf[0] = '[';
	for (int i = 0; i < inner; i++)
		buf[1 + i] = i < fill ? '=' : i == fill ? '>' : ' ';
	buf[width - 1] = ']';
	buf[width] = '\0';
}

void cli_progress_line(char *buf, size_t len, const vmie_event *ev,
		       double rate, int width)
{
	char text[160], b[256], done[32], total[32], r[32], eta[32];

	if (ev->kind == VMIE_EVENT_PHASE_BEGIN) {
		snprintf(buf, len, "%-8s started", ev->phase);
		return;
	}
	if (ev->kind == VMIE_EVENT_STATUS && ev->percent < 0) {
		/* A wait with no percentage (an instance, an agent) */
		cli_fmt_duration(eta, sizeof(eta), ev->seconds);
		snprintf(buf, len, "%-8s %s%s%s  %s", ev->phase,
			 ev->status ? ev->status : "",
			 ev->message && ev->message[0] ? ": " : "",
			 ev->message ? ev->message : "", eta);
		return;
	}
	if (ev->percent >= 0) { /* an AWS task */
		cli_fmt_duration(eta, sizeof(eta), ev->seconds);
		snprintf(text, sizeof(text), " %3d%%  %s%s%s  %s", ev->percent,
			 ev->status ? ev->status : "",
			 ev->message && ev->message[0] ? ": " : "",
			 ev->message ? ev->message : "", eta);
		int w = width - 10 - (int)strlen(text);
		cli_fmt_bar(b, sizeof(b), ev->percent / 100.0, w > 40 ? 40 : w);
		snprintf(buf, len, "%-8s %s%s", ev->phase, b, text);
		return;
	}
	cli_fmt_bytes(done, sizeof(done), (double)ev->done);
	if (rate > 0)
		cli_fmt_bytes(r, sizeof(r), rate);
	if (!ev->total) { /* a stream of unknown length */
		snprintf(buf, len, "%-8s %s  %s%s", ev->phase, done, rate > 0 ? r : "",
			 rate > 0 ? "/s" : "");
		return;
	}
	double frac = (double)ev->done / (double)ev->total;
	cli_fmt_bytes(total, sizeof(total), (double)ev->total);
	if (rate > 0 && ev->done < ev->total)
		cli_fmt_duration(eta, sizeof(eta),
				 (double)(ev->total - ev->done) / rate);
	snprintf(text, sizeof(text), " %s/%s %3d%%%s%s%s%s%s", done, total,
		 (int)(frac * 100), rate > 0 ? "  " : "", rate > 0 ? r : "",
		 rate > 0 ? "/s" : "", rate > 0 && ev->done < ev->total ? "  ETA " : "",
		 rate > 0 && ev->done < ev->total ? eta : "");
	int w = width - 10 - (int)strlen(text);
	cli_fmt_bar(b, sizeof(b), frac, w > 40 ? 40 : w);
	snprintf(buf, len, "%-8s %s%s", ev->phase, b, text);
}

static int term_width(FILE *out)
{
	struct winsize ws;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col > 200 ? 200 : ws.ws_col;
	return 80;
}

void cli_progress_clear(cli_progress *p)
{
	if (p && p->mode == CLI_PROGRESS_BAR && p->bar_shown) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
		p->bar_shown = false;
	}
}

static void update_rate(cli_progress *p, const vmie_event *ev, double t)
{
	if (ev->kind == VMIE_EVENT_PHASE_BEGIN) {
		p->sample_t = t;
		p->sample_done = 0;
		p->rate = 0;
		return;
	}
	if (ev->kind != VMIE_EVENT_PROGRESS || ev->percent >= 0)
		return;
	double dt = t - p->sample_t;
	if (dt < RATE_WINDOW || ev->done < p->sample_done)
		return;
	double r = (double)(ev->done - p->sample_done) / dt;
	p->rate = p->rate > 0 ? 0.7 * p->rate + 0.3 * r : r;
	p->sample_t = t;
	p->sample_done = ev->done;
}

static void draw_bar(cli_progress *p, const vmie_event *ev, double t, bool force)
{
	char line[512];
	if (!force && t - p->last_draw < BAR_REDRAW)
		return;
	cli_progress_line(line, sizeof(line), ev, p->rate, term_width(p->out));
	fprintf(p->out, "\r\033[K%s", line);
	fflush(p->out);
	p->bar_shown = true;
	p->last_draw = t;
}

static void phase_done_line(cli_progress *p, const vmie_event *ev)
{
	char d[32], b[32], r[32];
	cli_fmt_duration(d, sizeof(d), ev->seconds);
	if (ev->done && ev->percent < 0) {
		cli_fmt_bytes(b, sizeof(b), (double)ev->done);
		cli_fmt_bytes(r, sizeof(r), ev->seconds > 0 ? (double)ev->done / ev->seconds : 0);
		fprintf(p->out, "%-8s done: %s in %s (%s/s)\n", ev->phase, b, d, r);
	} else {
		fprintf(p->out, "%-8s done in %s\n", ev->phase, d);
	}
}

static void render_bar(cli_progress *p, const vmie_event *ev, double t)
{
	switch (ev->kind) {
	case VMIE_EVENT_PHASE_BEGIN:
	case VMIE_EVENT_STATUS:
		draw_bar(p, ev, t, true);
		break;
	case VMIE_EVENT_PROGRESS:
		draw_bar(p, ev, t, false);
		break;
	case VMIE_EVENT_PHASE_END:
		cli_progress_clear(p);
		phase_done_line(p, ev);
		break;
	case VMIE_EVENT_RESULT:
		break;
	}
}

static void render_lines(cli_progress *p, const vmie_event *ev, double t)
{
	char line[512];
	switch (ev->kind) {
	case VMIE_EVENT_PHASE_BEGIN:
		fprintf(p->out, "%-8s started\n", ev->phase);
		p->last_draw = t;
		break;
	case VMIE_EVENT_STATUS: {
		char now_status[128];
		snprintf(now_status, sizeof(now_status), "%s%s%s",
			 ev->status ? ev->status : "", ev->message ? ": " : "",
			 ev->message ? ev->message : "");
		if (strcmp(now_status, p->status) == 0)
			break;
		snprintf(p->status, sizeof(p->status), "%s", now_status);
		cli_progress_line(line, sizeof(line), ev, p->rate, 0);
		fprintf(p->out, "%s\n", line);
		p->last_draw = t;
		break;
	}
	case VMIE_EVENT_PROGRESS:
		if (t - p->last_draw < p->interval)
			break;
		cli_progress_line(line, sizeof(line), ev, p->rate, 0);
		fprintf(p->out, "%s\n", line);
		p->last_draw = t;
		break;
	case VMIE_EVENT_PHASE_END:
		phase_done_line(p, ev);
		break;
	case VMIE_EVENT_RESULT:
		break;
	}
	fflush(p->out);
}

static const char *kind_name(vmie_event_kind k)
{
	switch (k) {
	case VMIE_EVENT_PHASE_BEGIN: return "phase_begin";
	case VMIE_EVENT_PROGRESS: return "progress";
	case VMIE_EVENT_STATUS: return "status";
	case VMIE_EVENT_PHASE_END: return "phase_end";
	case VMIE_EVENT_RESULT: return "result";
	}
	return "unknown";
}

void *cli_progress_event_json(const vmie_event *ev)
{
	char ts[VISOTIME_LEN];
	visotime_format(time(NULL), ts);
	json_t *o = json_pack("{s:s, s:s, s:s}", "event", kind_name(ev->kind),
			      "phase", ev->phase ? ev->phase : "", "time", ts);
	if (ev->kind == VMIE_EVENT_PROGRESS && ev->percent < 0) {
		json_object_set_new(o, "done", json_integer((json_int_t)ev->done));
		json_object_set_new(o, "total", ev->total ? json_integer((json_int_t)ev->total)
							   : json_null());
	}
	if (ev->percent >= 0)
		json_object_set_new(o, "percent", json_integer(ev->percent));
	if (ev->status)
		json_object_set_new(o, "status", json_string(ev->status));
	if (ev->message)
		json_object_set_new(o, "message", json_string(ev->message));
	if (ev->kind == VMIE_EVENT_RESULT && ev->key && ev->value)
		json_object_set_new(o, ev->key, json_string(ev->value));
	if (ev->kind == VMIE_EVENT_PHASE_END)
		json_object_set_new(o, "seconds", json_real(ev->seconds));
	return o;
}

static void render_event(cli_progress *p, const vmie_event *ev, double t)
{
	bool last = ev->total && ev->done >= ev->total;
	if (ev->kind == VMIE_EVENT_PROGRESS && !last && t - p->last_draw < EVENT_REDRAW)
		return;
	p->last_draw = t;
	json_t *o = cli_progress_event_json(ev);
	char *s = json_dumps(o, JSON_COMPACT);
	if (s) {
		fprintf(p->out, "%s\n", s);
		fflush(p->out);
		free(s);
	}
	json_decref(o);
}

void cli_progress_event(void *ctx, const vmie_event *ev)
{
	cli_progress *p = ctx;
	double t = now();

	if (!p || p->mode == CLI_PROGRESS_NONE)
		return;
	update_rate(p, ev, t);
	switch (p->mode) {
	case CLI_PROGRESS_BAR:
		render_bar(p, ev, t);
		break;
	case CLI_PROGRESS_LINES:
		render_lines(p, ev, t);
		break;
	case CLI_PROGRESS_EVENTS:
		render_event(p, ev, t);
		break;
	case CLI_PROGRESS_NONE:
		break;
	}
}
