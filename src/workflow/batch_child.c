/*
 * One VM of a batch runs as its own vmie process: the same binary, the
 * row's options on its command line, --json-events and --json on stdout.
 * Why a process per VM and not a thread: a crash, an abort or a leak in
 * one VM's run stays in that VM (its row fails, the batch goes on), each
 * VM gets its own log file (the library's logging is process-global), and
 * the per-VM run is exactly the `vmie import` a user would type, so what
 * resumes a stopped import (the run journal) resumes a VM of a batch too.
 *
 * The child's stdout is a file in the batch's directory, not a pipe: if
 * the batch itself dies, the VM's last words (its result, its AMI) are
 * still there for the next run to read.  The child gets SIGTERM when the
 * batch dies (PR_SET_PDEATHSIG), so nothing runs on unseen.
 */
#include "workflow/batch_child.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#define RATE_WINDOW 0.5 /* seconds between rate samples */

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the stream of JSON values on the child's stdout ------------------- */

size_t vbatch_stream_next(const char *buf, size_t len, bool at_eof, json_t **out)
{
	size_t i = 0;
	json_error_t e;
	*out = NULL;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
			   buf[i] == '\r'))
		i++;
	if (i == len)
		return i;
	json_t *v = json_loadb(buf + i, len - i, JSON_DISABLE_EOF_CHECK, &e);
	if (v && e.position > 0 && (size_t)e.position <= len - i) {
		*out = v;
		return i + (size_t)e.position;
	}
	json_decref(v);
	if (!at_eof && json_error_code(&e) == json_error_premature_end_of_input)
		return 0; /* the rest is still being written */
	/* Not JSON (a stray line): skip it. */
	const char *nl = memchr(buf + i, '\n', len - i);
	if (nl)
		return (size_t)(nl - buf) + 1;
	return at_eof ? len : 0;
}

/* Each value of a whole events file, in order, to fn (which keeps or
 * releases it). */
static void each_value(const char *text, size_t len, void (*fn)(void *, json_t *),
		       void *ctx)
{
	size_t off = 0;
	while (off < len) {
		json_t *v;
		size_t n = vbatch_stream_next(text + off, len - off, true, &v);
		if (!n)
			break;
		off += n;
		if (v)
			fn(ctx, v);
	}
}

static void keep_final(void *ctx, json_t *v)
{
	json_t **last = ctx;
	if (json_is_object(v) && !json_object_get(v, "event")) {
		json_decref(*last);
		*last = v;
	} else {
		json_decref(v);
	}
}

json_t *vbatch_events_final(const char *text, size_t len)
{
	json_t *last = NULL;
	each_value(text, len, keep_final, &last);
	return last;
}

static void take(char **dst, json_t *o, const char *k);

static void keep_result(void *ctx, json_t *v)
{
	vbatch_outcome *o = ctx;
	const char *ev = json_string_value(json_object_get(v, "event"));
	if (ev && strcmp(ev, "result") == 0) {
		take(&o->ami_id, v, "ami_id");
		take(&o->sanbootable_ami_id, v, "sanbootable_ami_id");
		take(&o->export_url, v, "export_url");
		take(&o->s3_url, v, "s3_url");
		take(&o->import_task_id, v, "import_task_id");
		take(&o->export_task_id, v, "export_task_id");
	}
	json_decref(v);
}

void vbatch_events_results(const char *text, size_t len, vbatch_outcome *o)
{
	each_value(text, len, keep_result, o);
}

/* --- the child --------------------------------------------------------- */

struct vbatch_child {
	pid_t pid;
	int rfd;          /* the events file, read as it grows */
	vbuf pending;     /* read, not parsed yet */
	json_t *final;    /* the last object that is not an event */
	double sample_t;
	uint64_t sample_done;
};

static int open_out(const char *path, int flags, vmie_error *err)
{
	int fd = open(path, flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED, "cannot write %s: %s",
			 path, strerror(errno));
		verr_hint(err, "check the free space and permissions of the "
			  "results directory (--results)");
	}
	return fd;
}

int vbatch_child_start(vbatch_row *row, char *const *argv, const char *events,
		       const char *log, vmie_error *err)
{
	int out = -1, lg = -1, in = -1, rfd = -1;
	pid_t parent = getpid();

	if ((out = open_out(events, O_TRUNC, err)) < 0 ||
	    (lg = open_out(log, O_APPEND, err)) < 0)
		goto fail;
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rfd = open(events, O_RDONLY | O_CLOEXEC);
	if (in < 0 || rfd < 0) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED, "cannot open %s: %s",
			 rfd < 0 ? events : "/dev/null", strerror(errno));
		goto fail;
	}
	pid_t pid = fork();
	if (pid < 0) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED, "cannot start the "
			 "vmie of line %u: %s", row->line, strerror(errno));
		verr_hint(err, "the system is out of processes or memory: lower "
			  "--max-uploads and --max-tasks");
		goto fail;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(143); /* the batch died before we got here */
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(lg, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out);
	close(lg);
	close(in);
	row->child = xcalloc(1, sizeof(*row->child));
	row->child->pid = pid;
	row->child->rfd = rfd;
	row->child->sample_t = now_mono();
	return 0;
fail:
	if (out >= 0)
		close(out);
	if (lg >= 0)
		close(lg);
	if (in >= 0)
		close(in);
	if (rfd >= 0)
		close(rfd);
	return err ? err->status : VMIE_ERR_GENERAL_OPERATION_FAILED;
}

static vmie_event_kind kind_of(const char *s)
{
	if (strcmp(s, "phase_begin") == 0)
		return VMIE_EVENT_PHASE_BEGIN;
	if (strcmp(s, "progress") == 0)
		return VMIE_EVENT_PROGRESS;
	if (strcmp(s, "status") == 0)
		return VMIE_EVENT_STATUS;
	if (strcmp(s, "phase_end") == 0)
		return VMIE_EVENT_PHASE_END;
	return VMIE_EVENT_RESULT;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A child's event object as the library's event; strings stay o's. */
static bool event_of(json_t *o, vmie_event *ev)
{
	static const char *const known[] = {"event", "phase", "time", "done", "total",
					    "percent", "status", "message", "seconds"};
	const char *kind = str(o, "event");
	json_t *v;
	const char *k;
	if (!kind)
		return false;
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind_of(kind);
	ev->phase = str(o, "phase");
	ev->done = (uint64_t)json_integer_value(json_object_get(o, "done"));
	ev->total = (uint64_t)json_integer_value(json_object_get(o, "total"));
	v = json_object_get(o, "percent");
	ev->percent = json_is_integer(v) ? (int)json_integer_value(v) : -1;
	ev->status = str(o, "status");
	ev->message = str(o, "message");
	ev->seconds = json_number_value(json_object_get(o, "seconds"));
	if (ev->kind != VMIE_EVENT_RESULT)
		return true;
	json_object_foreach(o, k, v) { /* the one key that is not a known one */
		bool seen = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !seen; i++)
			seen = strcmp(k, known[i]) == 0;
		if (!seen && json_is_string(v)) {
			ev->key = k;
			ev->value = json_string_value(v);
			return true;
		}
	}
	return false;
}

static void update_rate(vbatch_child *c, vbatch_row *row, const vmie_event *ev)
{
	double t = now_mono();
	if (ev->kind == VMIE_EVENT_PHASE_BEGIN) {
		c->sample_t = t;
		c->sample_done = 0;
		row->view.rate = 0;
	}
	if (ev->kind != VMIE_EVENT_PROGRESS || ev->percent >= 0)
		return;
	double dt = t - c->sample_t;
	if (dt < RATE_WINDOW || ev->done < c->sample_done)
		return;
	double r = (double)(ev->done - c->sample_done) / dt;
	row->view.rate = row->view.rate > 0 ? 0.7 * row->view.rate + 0.3 * r : r;
	c->sample_t = t;
	c->sample_done = ev->done;
}

void vbatch_child_poll(vbatch_row *row, vbatch_event_fn fn, void *ctx)
{
	vbatch_child *c = row->child;
	char buf[65536];
	ssize_t n;
	while ((n = read(c->rfd, buf, sizeof(buf))) > 0)
		vbuf_add(&c->pending, buf, (size_t)n);
	size_t off = 0;
	while (off < c->pending.len) {
		json_t *v;
		size_t used = vbatch_stream_next(c->pending.data + off,
						 c->pending.len - off, false, &v);
		if (!used)
			break;
		off += used;
		vmie_event ev;
		if (v && event_of(v, &ev)) {
			update_rate(c, row, &ev);
			fn(ctx, row, &ev);
		} else if (json_is_object(v)) {
			json_decref(c->final);
			c->final = json_incref(v);
		}
		json_decref(v);
	}
	if (off) {
		memmove(c->pending.data, c->pending.data + off, c->pending.len - off);
		c->pending.len -= off;
		c->pending.data[c->pending.len] = '\0';
	}
}

bool vbatch_child_reap(vbatch_row *row, int *exit_status)
{
	int st;
	pid_t got = waitpid(row->child->pid, &st, WNOHANG);
	if (got != row->child->pid)
		return false;
	*exit_status = WIFEXITED(st) ? WEXITSTATUS(st)
		       : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
	return true;
}

json_t *vbatch_child_final(vbatch_row *row)
{
	return row->child ? row->child->final : NULL;
}

void vbatch_child_signal(vbatch_row *row, int sig)
{
	if (row->child)
		kill(row->child->pid, sig);
}

void vbatch_child_free(vbatch_row *row)
{
	vbatch_child *c = row->child;
	if (!c)
		return;
	close(c->rfd);
	vbuf_free(&c->pending);
	json_decref(c->final);
	free(c);
	row->child = NULL;
}

/* --- how a run ended ---------------------------------------------------- */

static void take(char **dst, json_t *o, const char *k)
{
	const char *v = o ? str(o, k) : NULL;
	if (v) {
		free(*dst);
		*dst = xstrdup(v);
	}
}

/* What the row asked for is there: an interrupted run may have finished
 * its work just before the signal. */
static bool complete(const vbatch_row *row)
{
	const vbatch_outcome *o = &row->out;
	if (row->is_export)
		return o->export_url && !row->opts.download_path;
	return row->opts.install_sanbootable ? o->sanbootable_ami_id != NULL
					     : o->ami_id != NULL;
}

void vbatch_outcome_settle(vbatch_row *row, json_t *final, int exit_status)
{
	vbatch_outcome *o = &row->out;
	json_t *e = json_object_get(final, "error");
	json_t *res = e ? json_object_get(final, "result") : final;
	json_t *x = json_object_get(final, "exit_status");

	if (exit_status < 0)
		exit_status = json_is_integer(x) ? (int)json_integer_value(x)
			      : final && !e ? 0 : 130;
	take(&o->ami_id, res, "ami_id");
	take(&o->sanbootable_ami_id, res, "sanbootable_ami_id");
	take(&o->export_url, res, "export_url");
	take(&o->s3_url, res, "s3_url");
	take(&o->import_task_id, res, "import_task_id");
	take(&o->export_task_id, res, "export_task_id");
	if (json_is_integer(json_object_get(res, "uploaded_bytes")))
		o->uploaded = (uint64_t)json_integer_value(json_object_get(res,
									   "uploaded_bytes"));
	o->exit_status = exit_status;
	free(o->error_code);
	free(o->error);
	free(o->hint);
	o->error_code = o->error = o->hint = NULL;
	if (exit_status == 0 && !e) {
		o->status = VBATCH_SUCCEEDED;
		return;
	}
	if (complete(row)) { /* done, then interrupted on the way out */
		o->status = VBATCH_SUCCEEDED;
		return;
	}
	o->status = exit_status == 130 || exit_status == 143 || exit_status == 137
			    ? VBATCH_INTERRUPTED : VBATCH_FAILED;
	take(&o->error_code, e, "code");
	take(&o->error, e, "message");
	take(&o->hint, e, "hint");
	if (!o->error) {
		vbuf b = VBUF_INIT;
		vbuf_addf(&b, "its vmie ended with status %d and no result%s",
			  exit_status, exit_status > 128 ? " (killed by a signal)" : "");
		o->error = vbuf_detach(&b);
	}
}
