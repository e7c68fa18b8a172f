/*
 * The run journal's file: found by id, locked, read, written atomically,
 * closed with the run's outcome (journal.h).
 */
#include "workflow/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "workflow/journal_internal.h"
#include "workflow/journal_steps.h"
#include "workflow/state_dir.h"

/* Journals of finished runs are kept this long (what a rerun of the same
 * command reports, what a scheduler asks about), then pruned. */
#define KEEP_DONE_S (30 * 86400)
#define SAVE_EVERY_MS 250

struct vwf_journal {
	char *id;
	char *path;
	char *lock_path;
	int lock_fd;
	json_t *doc;
	json_t *stat_now;       /* the local source as it is now; NULL */
	long long last_save_ms;
	bool warned;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *vwf_journal_path(const char *id, const char *suffix)
{
	char *dir = vwf_state_dir("runs");
	vbuf b = VBUF_INIT;
	if (!dir)
		return NULL;
	vbuf_addf(&b, "%s/%s%s", dir, id, suffix);
	free(dir);
	return vbuf_detach(&b);
}

/* An id names a file: 16 hex digits, nothing else. */
bool vwf_journal_safe_id(const char *id)
{
	if (!id || strlen(id) != VWF_JOURNAL_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

json_t *vwf_journal_load(const char *path)
{
	json_t *doc = json_load_file(path, 0, NULL);
	if (json_is_object(doc) &&
	    vwf_ji(doc, "vmie_journal", 0) == VWF_JOURNAL_VERSION &&
	    json_is_object(json_object_get(doc, "steps")))
		return doc;
	json_decref(doc);
	return NULL;
}

/* Journals of runs that finished long ago go. */
static void prune(void)
{
	size_t n = 0;
	char **ids = vwf_journal_ids(&n);
	long long now = (long long)time(NULL);
	for (size_t i = 0; i < n; i++) {
		char *path = vwf_journal_path(ids[i], ".json");
		json_t *doc = path ? vwf_journal_load(path) : NULL;
		const char *state = vwf_js(doc, "state");
		if (state && strcmp(state, "done") == 0 &&
		    now - vwf_ji(doc, "updated", now) > KEEP_DONE_S)
			vwf_journal_remove_file(ids[i]);
		json_decref(doc);
		free(path);
		free(ids[i]);
	}
	free(ids);
}

static json_t *owner_json(void)
{
	vwf_owner me;
	vwf_owner_me(&me);
	return json_pack("{s:I, s:I, s:s}", "pid", (json_int_t)me.pid, "proc_start",
			 (json_int_t)me.proc_start, "host", me.host);
}

static json_t *new_doc(const char *id, const char *run_id, vmie_operation op,
		       json_t *identity, const char *command, json_t *stat)
{
	long long now = (long long)time(NULL);
	json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:O, s:s, s:s, s:I, s:I, s:o, s:{}, s:{}}",
				"vmie_journal", VWF_JOURNAL_VERSION, "id", id, "run_id",
				run_id, "operation", vmie_operation_name(op), "identity",
				identity, "command", command, "state", "running", "created",
				(json_int_t)now, "updated", (json_int_t)now, "owner",
				owner_json(), "steps", "result");
	if (stat)
		json_object_set(doc, "source_stat", stat);
	return doc;
}

/* The lock: a second process on the same run is refused, naming the one
 * that has it. */
static int take_lock(vwf_journal *j, vmie_error *err)
{
	j->lock_fd = open(j->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->lock_fd < 0)
		return -1;
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return -1;
	json_t *doc = vwf_journal_load(j->path);
	json_t *owner = json_object_get(doc, "owner");
	verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
		 "this %s is already running in another vmie process (pid %lld on %s)",
		 vwf_js(doc, "operation") ? vwf_js(doc, "operation") : "run",
		 vwf_ji(owner, "pid", 0), vwf_js(owner, "host") ? vwf_js(owner, "host") : "?");
	verr_hint(err, "let it finish, or stop it (Ctrl-C) and run the command again "
		       "to go on from where it stopped");
	json_decref(doc);
	return VMIE_ERR_GENERAL_OPERATION_FAILED;
}

static void journal_free(vwf_journal *j)
{
	if (!j)
		return;
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	json_decref(j->doc);
	json_decref(j->stat_now);
	free(j->id);
	free(j->path);
	free(j->lock_path);
	free(j);
}

int vwf_journal_open(vmie_operation op, const vmie_options *o,
		     vmie_source_kind kind, vaws_client *c, const char *run_id,
		     vwf_journal **out, bool *found, vmie_error *err)
{
	char *id = NULL, *command = NULL, *dir = vwf_state_dir("runs");
	json_t *identity = NULL, *stat = NULL;
	vwf_journal *j = NULL;
	int rc;

	*out = NULL;
	*found = false;
	rc = vwf_journal_identity(op, o, kind, c, &id, &identity, &command, err);
	if (rc != 0)
		goto out;
	if (!dir || vwf_make_dirs(dir) != 0) {
		vlog_warn("cannot keep a journal of this run in %s (%s): if it is "
			  "stopped, running it again starts over", dir ? dir : "~",
			  dir ? strerror(errno) : "no home directory");
		goto out;
	}
	prune();
	j = xcalloc(1, sizeof(*j));
	j->lock_fd = -1;
	j->id = id;
	id = NULL;
	j->path = vwf_journal_path(j->id, ".json");
	j->lock_path = vwf_journal_path(j->id, ".lock");
	rc = take_lock(j, err);
	if (rc < 0 && rc != VMIE_ERR_GENERAL_OPERATION_FAILED) {
		vlog_warn("cannot lock the journal %s (%s): going on without one",
			  j->lock_path, strerror(errno));
		journal_free(j);
		j = NULL;
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	stat = vwf_source_stat(o, kind);
	j->stat_now = json_incref(stat);
	j->doc = access(j->path, F_OK) == 0 ? vwf_journal_load(j->path) : NULL;
	if (access(j->path, F_OK) == 0 && !j->doc)
		vlog_warn("the journal %s cannot be read: this run starts over", j->path);
	*found = j->doc != NULL;
	if (j->doc) {
		/* The options given this time are the ones to show. */
		json_object_set_new(j->doc, "command", json_string(command));
		json_object_set(j->doc, "identity", identity);
	} else {
		j->doc = new_doc(j->id, run_id, op, identity, command, stat);
	}
	*out = j;
	j = NULL;
out:
	journal_free(j);
	json_decref(identity);
	json_decref(stat);
	free(command);
	free(id);
	free(dir);
	return rc;
}

void vwf_journal_reset(vwf_journal *j, const char *run_id)
{
	if (!j)
		return;
	long long now = (long long)time(NULL);
	json_object_set_new(j->doc, "run_id", json_string(run_id));
	json_object_set_new(j->doc, "steps", json_object());
	json_object_set_new(j->doc, "result", json_object());
	json_object_set_new(j->doc, "state", json_string("running"));
	json_object_del(j->doc, "error");
	json_object_set_new(j->doc, "created", json_integer(now));
	if (j->stat_now)
		json_object_set(j->doc, "source_stat", j->stat_now);
	else
		json_object_del(j->doc, "source_stat");
	vwf_journal_mark_running(j);
}

bool vwf_journal_source_changed(const vwf_journal *j)
{
	json_t *then = j ? json_object_get(j->doc, "source_stat") : NULL;
	return j && j->stat_now && then && !json_equal(then, j->stat_now);
}

void vwf_journal_save(vwf_journal *j)
{
	if (!j)
		return;
	json_object_set_new(j->doc, "updated", json_integer((json_int_t)time(NULL)));
	char *text = json_dumps(j->doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text || vwf_write_atomic(j->path, text, strlen(text)) != 0) {
		if (!j->warned)
			vlog_warn("cannot write the journal %s (%s): if this run is "
				  "stopped, running it again may redo some work", j->path,
				  strerror(errno));
		j->warned = true;
	}
	free(text);
	j->last_save_ms = now_ms();
}

void vwf_journal_save_soon(vwf_journal *j)
{
	if (j && now_ms() - j->last_save_ms >= SAVE_EVERY_MS)
		vwf_journal_save(j);
}

void vwf_journal_close(vwf_journal *j, int rc, const vmie_error *err,
		       const vmie_result *res)
{
	if (!j)
		return;
	const char *state = rc == 0 ? "done" : rc == VMIE_ERR_INTERRUPTED ? "interrupted" : "failed";
	json_object_set_new(j->doc, "state", json_string(state));
	if (rc != 0 && err && err->message)
		json_object_set_new(j->doc, "error",
				    json_pack("{s:s, s:s?, s:i}", "message", err->message,
					      "hint", err->hint, "status", rc));
	else
		json_object_del(j->doc, "error");
	if (res)
		json_object_set_new(j->doc, "result", vwf_result_json(res));
	/* A run that failed before doing anything leaves nothing to go on
	 * from: no journal. */
	if (rc != 0 && json_object_size(json_object_get(j->doc, "steps")) == 0) {
		unlink(j->path);
		unlink(j->lock_path);
	} else {
		vwf_journal_save(j);
	}
	journal_free(j);
}

void vwf_journal_release(vwf_journal *j)
{
	journal_free(j);
}

const char *vwf_journal_id(const vwf_journal *j) { return j ? j->id : NULL; }
const char *vwf_journal_run_id(const vwf_journal *j) { return j ? vwf_js(j->doc, "run_id") : NULL; }
const char *vwf_journal_command(const vwf_journal *j) { return j ? vwf_js(j->doc, "command") : NULL; }
const char *vwf_journal_state(const vwf_journal *j) { return j ? vwf_js(j->doc, "state") : NULL; }
json_t *vwf_journal_doc(vwf_journal *j) { return j ? j->doc : NULL; }

void vwf_journal_mark_running(vwf_journal *j)
{
	if (!j)
		return;
	json_object_set_new(j->doc, "state", json_string("running"));
	json_object_set_new(j->doc, "owner", owner_json());
}

json_t *vwf_journal_step_if(vwf_journal *j, const char *name)
{
	return j ? json_object_get(json_object_get(j->doc, "steps"), name) : NULL;
}

json_t *vwf_journal_step(vwf_journal *j, const char *name)
{
	json_t *steps = j ? json_object_get(j->doc, "steps") : NULL;
	json_t *s = json_object_get(steps, name);
	if (!s && steps) {
		s = json_object();
		json_object_set_new(steps, name, s);
	}
	return s;
}

bool vwf_journal_step_done(vwf_journal *j, const char *name)
{
	const char *st = vwf_js(vwf_journal_step_if(j, name), "state");
	return st && strcmp(st, "done") == 0;
}

void vwf_journal_step_drop(vwf_journal *j, const char *name)
{
	if (j)
		json_object_del(json_object_get(j->doc, "steps"), name);
}

vwf_journal *vwf_journal_take(const char *id, vmie_error *err)
{
	vwf_journal *j = xcalloc(1, sizeof(*j));
	j->lock_fd = -1;
	if (!vwf_journal_safe_id(id) || !(j->path = vwf_journal_path(id, ".json")) ||
	    access(j->path, F_OK) != 0) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "no run %s on this machine",
			 id ? id : "(none)");
		verr_hint(err, "vmie runs --all lists them");
		goto fail;
	}
	j->id = xstrdup(id);
	j->lock_path = vwf_journal_path(id, ".lock");
	int rc = take_lock(j, err);
	if (rc == VMIE_ERR_GENERAL_OPERATION_FAILED)
		goto fail;
	if (rc != 0) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED, "cannot lock %s: %s",
			 j->lock_path, strerror(errno));
		goto fail;
	}
	if (!(j->doc = vwf_journal_load(j->path))) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
			 "the journal %s cannot be read", j->path);
		verr_hint(err, "remove it by hand if the run it was for is of no interest");
		goto fail;
	}
	return j;
fail:
	journal_free(j);
	return NULL;
}

int vwf_journal_peek(const char *id, vmie_run_info *rec)
{
	char *path = vwf_journal_safe_id(id) ? vwf_journal_path(id, ".json") : NULL;
	json_t *doc = path && access(path, F_OK) == 0 ? vwf_journal_load(path) : NULL;
	int rc = !path || access(path, F_OK) != 0 ? 1 : doc ? 0 : -1;
	memset(rec, 0, sizeof(*rec));
	free(path);
	if (rc != 0)
		return rc;
	json_t *owner = json_object_get(doc, "owner"), *idn = json_object_get(doc, "identity");
	vwf_owner o = {.pid = (long)vwf_ji(owner, "pid", 0),
		       .proc_start = vwf_ji(owner, "proc_start", -1)};
	char host[256];
	vwf_hostname(host, sizeof host);
#define DUP(field, v) rec->field = (v) ? xstrdup(v) : NULL
	DUP(id, id);
	DUP(run_id, vwf_js(doc, "run_id"));
	DUP(operation, vwf_js(doc, "operation"));
	DUP(state, vwf_js(doc, "state"));
	DUP(command, vwf_js(doc, "command"));
	DUP(region, vwf_js(idn, "region"));
	DUP(source, vwf_js(idn, "source") ? vwf_js(idn, "source") : vwf_js(idn, "ami_id"));
	DUP(error, vwf_js(json_object_get(doc, "error"), "message"));
#undef DUP
	rec->pid = o.pid;
	rec->running = rec->state && strcmp(rec->state, "running") == 0 &&
		       vwf_js(owner, "host") && strcmp(vwf_js(owner, "host"), host) == 0 &&
		       vwf_owner_alive(&o);
	/* A run that died without a word (kill -9) says "running". */
	if (rec->state && strcmp(rec->state, "running") == 0 && !rec->running) {
		free(rec->state);
		rec->state = xstrdup("interrupted");
	}
	rec->where = vwf_journal_where(doc);
	rec->created = vwf_ji(doc, "created", 0);
	rec->updated = vwf_ji(doc, "updated", 0);
	vwf_result_from_json(json_object_get(doc, "result"), &rec->result);
	json_decref(doc);
	return 0;
}

char **vwf_journal_ids(size_t *n)
{
	return vwf_state_names("runs", ".json", vwf_journal_safe_id, n);
}

void vwf_journal_remove_file(const char *id)
{
	if (!vwf_journal_safe_id(id))
		return;
	char *path = vwf_journal_path(id, ".json");
	char *lock = vwf_journal_path(id, ".lock");
	if (path)
		unlink(path);
	if (lock)
		unlink(lock);
	free(path);
	free(lock);
}

/* --- JSON accessors ------------------------------------------------------ */

const char *vwf_js(const json_t *o, const char *key)
{
	return o ? json_string_value(json_object_get(o, key)) : NULL;
}

long long vwf_ji(const json_t *o, const char *key, long long dflt)
{
	json_t *v = o ? json_object_get(o, key) : NULL;
	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

bool vwf_jb(const json_t *o, const char *key)
{
	return o && json_is_true(json_object_get(o, key));
}

void vwf_jset(json_t *o, const char *key, const char *value)
{
	if (!o)
		return;
	if (value)
		json_object_set_new(o, key, json_string(value));
	else
		json_object_del(o, key);
}

void vwf_jseti(json_t *o, const char *key, long long value)
{
	if (o)
		json_object_set_new(o, key, json_integer((json_int_t)value));
}

void vwf_jsetb(json_t *o, const char *key, bool value)
{
	if (o)
		json_object_set_new(o, key, json_boolean(value));
}
