/*
 * The batch's scheduler: which VM starts when, and what the user sees.
 *
 * Each VM runs as a child vmie (batch_child.c).  The limits:
 *   - uploads: at most max_uploads children are before or in their upload
 *     (the phases up to "upload", as their events say); the host's uplink
 *     is shared by them, and more at once only slows each one down;
 *   - tasks and instances: each child takes a slot through S3 before its
 *     ImportImage / ExportImage / RunInstances (task_lease.h), so the limit
 *     holds across every shard of the batch on every host; a child whose
 *     upload is done waits there for a slot ("queued");
 *   - children alive: at most max_uploads + max_tasks + max_instances, so
 *     that uploads run ahead of the tasks by one round and no further.
 * The loop polls every 100 ms: children's events, exits, signals.  It is
 * single-threaded; the children do the work.
 */
#include "workflow/batch.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/batch_child.h"
#include "workflow/task_lease.h"

#define POLL_MS 100
#define TICK_S 0.25   /* front-end refresh */
#define SAVE_S 2.0    /* state saved at most this often for mere progress */

struct sched {
	const vbatch_run *run;
	vmie_batch_totals totals;
	double t0, last_tick, saved_at;
	bool dirty;
	bool sanboot;            /* a row installs sanbootable */
	unsigned done_here;      /* rows this run settled */
	uint64_t uploaded_done;  /* bytes of uploads that ended this run */
	int forwarded;           /* the signal passed on to the children */
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vbatch_row_view(vbatch_row *r)
{
	vmie_batch_row *v = &r->view;
	v->line = r->line;
	v->name = r->name;
	v->key = r->key;
	v->source = r->opts.source;
	v->status = vbatch_status_name(r->out.status);
	v->phase = r->child ? r->live.phase : NULL;
	v->state = r->child && r->live.state[0] ? r->live.state : NULL;
	v->ami_id = r->opts.install_sanbootable && r->out.sanbootable_ami_id
			    ? r->out.sanbootable_ami_id : r->out.ami_id;
	v->error = r->out.error;
	v->earlier = r->out.earlier;
	if (!r->child) {
		v->percent = -1;
		v->done = v->total = 0;
		v->rate = 0;
	}
}

void vbatch_totals(const vbatch_manifest *m, vmie_batch_totals *t)
{
	double elapsed = t->elapsed, eta = t->eta;
	uint64_t up = t->uploaded;
	memset(t, 0, sizeof(*t));
	t->elapsed = elapsed;
	t->eta = eta;
	t->uploaded = up;
	for (size_t i = 0; i < m->n; i++) {
		const vbatch_row *r = &m->rows[i];
		if (!r->mine)
			continue;
		t->rows++;
		switch (r->out.status) {
		case VBATCH_SUCCEEDED: t->succeeded++; break;
		case VBATCH_FAILED: t->failed++; break;
		case VBATCH_INVALID: t->invalid++; break;
		case VBATCH_INTERRUPTED: t->interrupted++; t->left++; break;
		case VBATCH_RUNNING: t->running++; t->left++; break;
		case VBATCH_PENDING: t->left++; break;
		}
	}
}

static void emit(struct sched *s, vmie_batch_event_kind kind, vbatch_row *row,
		 const vmie_event *ev, const vmie_batch_row *const *active,
		 size_t nactive)
{
	const vmie_batch_options *o = s->run->o;
	if (!o->on_event)
		return;
	if (row)
		vbatch_row_view(row);
	vmie_batch_event e = {.kind = kind, .row = row ? &row->view : NULL, .ev = ev,
			      .totals = &s->totals, .active = active, .nactive = nactive};
	o->on_event(o->event_ctx, &e);
}

static void refresh_totals(struct sched *s)
{
	const vbatch_manifest *m = s->run->m;
	uint64_t up = s->uploaded_done;
	for (size_t i = 0; i < m->n; i++)
		if (m->rows[i].child)
			up += m->rows[i].live.uploading;
	s->totals.uploaded = up;
	s->totals.elapsed = now_mono() - s->t0;
	vbatch_totals(m, &s->totals);
	/* Rows settle at the rate they have settled so far. */
	s->totals.eta = s->done_here && s->totals.left
				? s->totals.elapsed / s->done_here * s->totals.left
				: s->totals.left ? -1 : 0;
}

static void save(struct sched *s)
{
	vmie_error e = {0};
	const vbatch_run *run = s->run;
	if (vbatch_state_save(run->f, run->m, run->manifest, run->shard, run->shards,
			      &e) != 0)
		vlog_warn("%s", e.message); /* the next save may work */
	vmie_error_clear(&e);
	s->dirty = false;
	s->saved_at = now_mono();
}

/* --- events of a child --------------------------------------------------- */

static bool before_task(const char *phase)
{
	static const char *const early[] = {"check", "bucket", "role", "upload"};
	for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++)
		if (strcmp(phase, early[i]) == 0)
			return true;
	return false;
}

static void keep(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* What the batch keeps of a result as soon as it is known: a batch that
 * dies later still has it in its results. */
static void result(struct sched *s, vbatch_row *row, const vmie_event *ev)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		{"ami_id", offsetof(vbatch_outcome, ami_id)},
		{"sanbootable_ami_id", offsetof(vbatch_outcome, sanbootable_ami_id)},
		{"export_url", offsetof(vbatch_outcome, export_url)},
		{"s3_url", offsetof(vbatch_outcome, s3_url)},
		{"import_task_id", offsetof(vbatch_outcome, import_task_id)},
		{"export_task_id", offsetof(vbatch_outcome, export_task_id)},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (ev->key && strcmp(ev->key, fields[i].key) == 0) {
			keep((char **)((char *)&row->out + fields[i].off), ev->value);
			s->dirty = true;
		}
}

static void on_child_event(void *ctx, vbatch_row *row, const vmie_event *ev)
{
	struct sched *s = ctx;
	vbatch_live *l = &row->live;
	const char *phase = ev->phase && *ev->phase ? ev->phase : l->phase;
	switch (ev->kind) {
	case VMIE_EVENT_PHASE_BEGIN:
		snprintf(l->phase, sizeof(l->phase), "%s", phase);
		l->state[0] = '\0';
		row->view.percent = -1;
		row->view.done = row->view.total = 0;
		if (!before_task(phase))
			l->past_upload = true;
		break;
	case VMIE_EVENT_PROGRESS:
		row->view.percent = ev->percent;
		if (ev->percent < 0) {
			row->view.done = ev->done;
			row->view.total = ev->total;
			if (strcmp(phase, "upload") == 0)
				l->uploading = ev->done;
		}
		break;
	case VMIE_EVENT_STATUS:
		row->view.percent = ev->percent;
		snprintf(l->state, sizeof(l->state), "%s%s%s", ev->status ? ev->status : "",
			 ev->message && *ev->message ? ": " : "",
			 ev->message ? ev->message : "");
		break;
	case VMIE_EVENT_PHASE_END:
		if (strcmp(phase, "upload") == 0) {
			/* --json-events gives an upload's bytes in its progress */
			s->uploaded_done += ev->done ? ev->done : l->uploading;
			l->uploading = 0;
			l->past_upload = true;
		}
		break;
	case VMIE_EVENT_RESULT:
		result(s, row, ev);
		break;
	}
	emit(s, VMIE_BATCH_ROW_EVENT, row, ev, NULL, 0);
}

/* --- starting and ending rows -------------------------------------------- */

/* What every VM's run gets beyond its row's own options. */
static char **argv_for(const vbatch_run *run, vbatch_row *row, const char *log)
{
	char tasks[16], instances[16];
	snprintf(tasks, sizeof(tasks), "%u", run->max_tasks);
	snprintf(instances, sizeof(instances), "%u", run->max_instances);
	const char *prefix = run->o->defaults.lease_prefix;
	const char *extra[] = {
		"--max-tasks", tasks, "--max-instances", instances, "--lease-prefix",
		prefix ? prefix : VWF_LEASE_DEFAULT_PREFIX, "--skip-setup",
		"--json-events", "--json", "--quiet", "--log-file", log,
	};
	return vbatch_row_argv(row, run->o->exe, extra, sizeof(extra) / sizeof(extra[0]));
}

static int start_row(struct sched *s, vbatch_row *row, vmie_error *err)
{
	const vbatch_run *run = s->run;
	char *events = vbatch_row_file(run->f, row, ".events");
	char *log = vbatch_row_file(run->f, row, ".log");
	char **argv = argv_for(run, row, log);
	int rc = vbatch_child_start(row, argv, events, log, err);
	if (rc == 0) {
		memset(&row->live, 0, sizeof(row->live));
		row->live.t0 = now_mono();
		row->view.percent = -1;
		row->out.status = VBATCH_RUNNING;
		row->out.started = (long long)time(NULL);
		row->out.finished = 0;
		row->out.attempts++;
		row->out.exit_status = -1;
		vlog_debug("line %u (%s): started %s", row->line, row->name, argv[1]);
		save(s);
		refresh_totals(s);
		emit(s, VMIE_BATCH_ROW_START, row, NULL, NULL, 0);
	}
	vbatch_argv_free(argv);
	free(events);
	free(log);
	return rc;
}

static void end_row(struct sched *s, vbatch_row *row, int exit_status)
{
	vbatch_child_poll(row, on_child_event, s); /* its last words */
	vbatch_outcome_settle(row, vbatch_child_final(row), exit_status);
	row->out.finished = (long long)time(NULL);
	row->out.seconds = now_mono() - row->live.t0;
	s->uploaded_done += row->live.uploading;
	row->live.uploading = 0;
	vbatch_child_free(row);
	s->done_here++;
	vlog_debug("line %u (%s): %s (exit status %d)", row->line, row->name,
		   vbatch_status_name(row->out.status), exit_status);
	save(s);
	refresh_totals(s);
	emit(s, VMIE_BATCH_ROW_END, row, NULL, NULL, 0);
}

/* --- the loop ----------------------------------------------------------- */

struct counts {
	unsigned alive, uploading;
};

static struct counts count(const vbatch_manifest *m)
{
	struct counts c = {0, 0};
	for (size_t i = 0; i < m->n; i++) {
		if (!m->rows[i].child)
			continue;
		c.alive++;
		c.uploading += !m->rows[i].live.past_upload;
	}
	return c;
}

static vbatch_row *next_pending(const vbatch_manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->rows[i].mine && m->rows[i].out.status == VBATCH_PENDING)
			return &m->rows[i];
	return NULL;
}

static void tick(struct sched *s)
{
	vbatch_manifest *m = s->run->m;
	const vmie_batch_row **active = xcalloc(m->n + 1, sizeof(*active));
	size_t n = 0;
	refresh_totals(s);
	for (size_t i = 0; i < m->n; i++)
		if (m->rows[i].child) {
			vbatch_row_view(&m->rows[i]);
			active[n++] = &m->rows[i].view;
		}
	emit(s, VMIE_BATCH_TICK, NULL, NULL, active, n);
	free(active);
	s->last_tick = now_mono();
}

static int start_what_fits(struct sched *s, vmie_error *err)
{
	const vbatch_run *run = s->run;
	unsigned cap_alive = run->max_uploads + run->max_tasks +
			     (s->sanboot ? run->max_instances : 0);
	for (;;) {
		struct counts c = count(run->m);
		vbatch_row *row = next_pending(run->m);
		if (!row || c.uploading >= run->max_uploads || c.alive >= cap_alive)
			return 0;
		int rc = start_row(s, row, err);
		if (rc != 0)
			return rc;
	}
}

static bool cancelled(const struct sched *s)
{
	return s->run->o->cancel && *s->run->o->cancel;
}

/* Pass the signal on once: a child that was not sent it by the terminal
 * (the batch alone was signalled) stops as vmie import does on Ctrl-C. */
static void forward(struct sched *s)
{
	int sig = (int)*s->run->o->cancel;
	vbatch_manifest *m = s->run->m;
	if (s->forwarded)
		return;
	s->forwarded = sig;
	vlog_warn("stopping: telling the %u running VM%s to stop", s->totals.running,
		  s->totals.running == 1 ? "" : "s");
	for (size_t i = 0; i < m->n; i++)
		vbatch_child_signal(&m->rows[i], sig);
}

int vbatch_schedule(const vbatch_run *run, vmie_error *err)
{
	struct sched s = {.run = run, .t0 = now_mono()};
	vbatch_manifest *m = run->m;
	int rc = 0;

	for (size_t i = 0; i < m->n; i++)
		s.sanboot |= m->rows[i].mine && m->rows[i].opts.install_sanbootable;
	refresh_totals(&s);
	for (;;) {
		if (cancelled(&s))
			forward(&s);
		else if (rc == 0)
			rc = start_what_fits(&s, err);
		for (size_t i = 0; i < m->n; i++) {
			vbatch_row *row = &m->rows[i];
			int status;
			if (!row->child)
				continue;
			vbatch_child_poll(row, on_child_event, &s);
			if (vbatch_child_reap(row, &status))
				end_row(&s, row, status);
		}
		struct counts c = count(m);
		if (!c.alive && (rc != 0 || cancelled(&s) || !next_pending(m)))
			break;
		if (rc != 0 && !s.forwarded) { /* cannot start more: stop the rest */
			vlog_error("%s", err && err->message ? err->message : "cannot go on");
			for (size_t i = 0; i < m->n; i++)
				vbatch_child_signal(&m->rows[i], SIGTERM);
			s.forwarded = SIGTERM;
		}
		if (s.dirty && now_mono() - s.saved_at >= SAVE_S)
			save(&s);
		if (now_mono() - s.last_tick >= TICK_S)
			tick(&s);
		struct timespec ts = {0, POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	save(&s);
	refresh_totals(&s);
	tick(&s);
	if (rc == 0 && cancelled(&s))
		rc = verr_set(err, VMIE_ERR_INTERRUPTED, "vmie batch: interrupted");
	return rc;
}
