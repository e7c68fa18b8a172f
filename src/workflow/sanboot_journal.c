/*
 * The local journal of temporary instances (sanboot_journal.h).
 */
#include "workflow/sanboot_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"

void vwf_journal_entry_free(vwf_journal_entry *e)
{
	if (!e)
		return;
	free(e->instance_id);
	free(e->hostname);
	free(e->run_id);
	free(e->region);
	free(e->source_ami);
	memset(e, 0, sizeof(*e));
}

/* An instance id names a file: nothing but i-[0-9a-f]. */
static bool safe_id(const char *id)
{
	if (!id || strncmp(id, "i-", 2) != 0 || strlen(id) > 40)
		return false;
	for (const char *p = id + 2; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return id[2] != '\0';
}

/* $XDG_STATE_HOME/vmie/instances (an absolute XDG_STATE_HOME only, as
 * the XDG spec says), else ~/.local/state/vmie/instances. */
static char *journal_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	vbuf b = VBUF_INIT;

	if (xdg && xdg[0] == '/') {
		vbuf_addf(&b, "%s/vmie/instances", xdg);
		return vbuf_detach(&b);
	}
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home)
		return NULL;
	vbuf_addf(&b, "%s/.local/state/vmie/instances", home);
	return vbuf_detach(&b);
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		int rc = mkdir(path, 0700);
		*p = c;
		if (rc != 0 && errno != EEXIST)
			return -1;
		if (c == '\0')
			return 0;
	}
}

static char *entry_path(const char *dir, const char *id)
{
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s/%s.json", dir, id);
	return vbuf_detach(&b);
}

/* Field 22 of /proc/<pid>/stat: with the pid, it names one process
 * (a pid alone may have been reused since). */
static long long proc_start_ticks(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return -1;
	p++; /* the space before field 3 (state) */
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	/* p: the space before field 22, starttime */
	return p ? strtoll(p + 1, NULL, 10) : -1;
}

void vwf_journal_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len) != 0)
		snprintf(buf, len, "unknown");
	buf[len - 1] = '\0';
}

void vwf_journal_entry_for_me(vwf_journal_entry *e, const char *instance_id,
			      const char *run_id, const char *region,
			      const char *source_ami)
{
	char host[256];
	vwf_journal_hostname(host, sizeof(host));
	memset(e, 0, sizeof(*e));
	e->instance_id = xstrdup(instance_id);
	e->hostname = xstrdup(host);
	e->run_id = xstrdup(run_id);
	e->region = xstrdup(region);
	e->source_ami = xstrdup(source_ami);
	e->pid = (long)getpid();
	e->proc_start = proc_start_ticks(e->pid);
	e->started = (long long)time(NULL);
}

int vwf_journal_add(const vwf_journal_entry *e, const char **why)
{
	char *dir = journal_dir(), *path = NULL, *tmp = NULL, *text = NULL;
	json_t *o = NULL;
	int fd = -1, rc = -1;

	*why = "no home directory";
	if (!dir || !safe_id(e->instance_id))
		goto out;
	*why = "cannot create the journal directory";
	if (make_dirs(dir) != 0)
		goto out;
	path = entry_path(dir, e->instance_id);
	tmp = xmalloc(strlen(path) + 5);
	sprintf(tmp, "%s.tmp", path);
	o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s?, s:I}",
		      "instance_id", e->instance_id, "pid", (json_int_t)e->pid,
		      "proc_start", (json_int_t)e->proc_start,
		      "hostname", e->hostname, "run_id", e->run_id,
		      "region", e->region, "source_ami", e->source_ami,
		      "started", (json_int_t)e->started);
	text = o ? json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	*why = "cannot write the journal file";
	if (!text)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		goto out;
	}
	rc = 0;
	*why = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	json_decref(o);
	free(tmp);
	free(path);
	free(dir);
	return rc;
}

void vwf_journal_remove(const char *instance_id)
{
	char *dir = journal_dir();
	if (dir && safe_id(instance_id)) {
		char *path = entry_path(dir, instance_id);
		unlink(path);
		free(path);
	}
	free(dir);
}

static char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? xstrdup(s) : NULL;
}

int vwf_journal_read(const char *instance_id, vwf_journal_entry *out)
{
	char *dir = journal_dir(), *path = NULL;
	json_t *o = NULL;
	int rc = 1;

	memset(out, 0, sizeof(*out));
	if (!dir || !safe_id(instance_id))
		goto out;
	path = entry_path(dir, instance_id);
	if (access(path, F_OK) != 0)
		goto out;
	rc = -1;
	o = json_load_file(path, 0, NULL);
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "pid")))
		goto out;
	out->instance_id = xstrdup(instance_id);
	out->hostname = str_of(o, "hostname");
	out->run_id = str_of(o, "run_id");
	out->region = str_of(o, "region");
	out->source_ami = str_of(o, "source_ami");
	out->pid = (long)json_integer_value(json_object_get(o, "pid"));
	json_t *ps = json_object_get(o, "proc_start");
	out->proc_start = json_is_integer(ps) ? json_integer_value(ps) : -1;
	out->started = json_integer_value(json_object_get(o, "started"));
	rc = 0;
out:
	json_decref(o);
	free(path);
	free(dir);
	return rc;
}

char **vwf_journal_list(size_t *n)
{
	char *dir = journal_dir();
	DIR *d = dir ? opendir(dir) : NULL;
	char **ids = NULL;
	size_t cap = 0;
	struct dirent *de;

	*n = 0;
	while (d && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		char *id = xstrndup(de->d_name, len - 5);
		if (!safe_id(id)) {
			free(id);
			continue;
		}
		xgrow((void **)&ids, &cap, *n + 1, sizeof(*ids));
		ids[(*n)++] = id;
	}
	if (d)
		closedir(d);
	free(dir);
	return ids;
}

bool vwf_journal_owner_alive(const vwf_journal_entry *e)
{
	if (e->pid <= 0)
		return false;
	if (kill((pid_t)e->pid, 0) != 0 && errno != EPERM)
		return false;
	/* The pid is in use: by the same process only if it started when
	 * the one that wrote the entry did. */
	long long now = proc_start_ticks(e->pid);
	return e->proc_start < 0 || now < 0 || now == e->proc_start;
}
