/*
 * vmie's state directory and the owner of what is in it (state_dir.h).
 */
#include "workflow/state_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"

char *vwf_state_dir(const char *sub)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	vbuf b = VBUF_INIT;

	if (xdg && xdg[0] == '/') {
		vbuf_addf(&b, "%s/vmie/%s", xdg, sub);
		return vbuf_detach(&b);
	}
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home)
		return NULL;
	vbuf_addf(&b, "%s/.local/state/vmie/%s", home, sub);
	return vbuf_detach(&b);
}

char **vwf_state_names(const char *sub, const char *suffix,
		       bool (*ok)(const char *name), size_t *n)
{
	char *dir = vwf_state_dir(sub);
	DIR *d = dir ? opendir(dir) : NULL;
	size_t cap = 0, sl = strlen(suffix);
	char **names = NULL;
	struct dirent *de;

	*n = 0;
	while (d && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= sl || strcmp(de->d_name + len - sl, suffix) != 0)
			continue;
		char *name = xstrndup(de->d_name, len - sl);
		if (!ok(name)) {
			free(name);
			continue;
		}
		xgrow((void **)&names, &cap, *n + 1, sizeof(*names));
		names[(*n)++] = name;
	}
	if (d)
		closedir(d);
	free(dir);
	return names;
}

int vwf_make_dirs(const char *path)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *q = p + 1;; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char c = *q;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*q = c;
		if (c == '\0' || rc != 0)
			break;
	}
	free(p);
	return rc;
}

static void sync_dir_of(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	free(dir);
}

int vwf_write_atomic(const char *path, const char *data, size_t len)
{
	vbuf tmp = VBUF_INIT;
	int rc = -1;
	vbuf_addf(&tmp, "%s.tmp%ld", path, (long)getpid());
	int fd = open(vbuf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd < 0)
		goto out;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done == len && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(vbuf_str(&tmp), path) == 0) {
			sync_dir_of(path);
			rc = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		int e = errno;
		unlink(vbuf_str(&tmp));
		errno = e;
	}
out:
	vbuf_free(&tmp);
	return rc;
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

void vwf_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len) != 0)
		snprintf(buf, len, "unknown");
	buf[len - 1] = '\0';
}

void vwf_owner_me(vwf_owner *o)
{
	memset(o, 0, sizeof(*o));
	o->pid = (long)getpid();
	o->proc_start = proc_start_ticks(o->pid);
	vwf_hostname(o->host, sizeof(o->host));
}

bool vwf_owner_alive(const vwf_owner *o)
{
	if (o->pid <= 0)
		return false;
	if (kill((pid_t)o->pid, 0) != 0 && errno != EPERM)
		return false;
	/* The pid is in use: by the same process only if it started when
	 * the one that wrote the entry did. */
	long long now = proc_start_ticks(o->pid);
	return o->proc_start < 0 || now < 0 || now == o->proc_start;
}
