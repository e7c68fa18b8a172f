/*
 * Pruning the default log directory.
 *
 * Every run that does work writes vmie-YYYYmmdd-HHMMSS-PID.log there, so
 * the directory grows without end unless something deletes.  The rule keeps
 * whichever is more of "the last 50 runs" and "the last 30 days": a log is
 * deleted only when it is older than 30 days AND 50 newer logs exist.  So
 * a machine that runs vmie once a quarter still has its last runs' logs
 * when someone asks what happened, and a busy batch host keeps a month of
 * them.  VMIE_LOG_KEEP_RUNS and VMIE_LOG_KEEP_DAYS change the numbers
 * ("all" in either: never delete).  Age and order are by the file's mtime,
 * the time the run last wrote to it.
 *
 * What is deleted is only ever a vmie log: a regular file (lstat, so a
 * symlink is neither followed nor removed), owned by this user, named
 * exactly as vmie names its logs.  Anything else in the directory is left
 * alone.  The directory is opened O_NOFOLLOW and entries are examined and
 * removed relative to it (fstatat, unlinkat), so a path component swapped
 * for a symlink cannot point the deletion somewhere else.  Errors are not
 * fatal: a log not pruned is no reason to stop an import.
 */
#include "cli/logprune.h"

#include "base/xalloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct log_entry {
	char *name;
	time_t mtime;
};

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool cli_log_is_log_name(const char *name)
{
	/* vmie-20261206-183945-32096.log */
	size_t len = strlen(name);
	if (len < 26 || strncmp(name, "vmie-", 5) != 0 ||
	    strcmp(name + len - 4, ".log") != 0)
		return false;
	const char *p = name + 5;
	if (!digits(p, 8) || p[8] != '-' || !digits(p + 9, 6) || p[15] != '-')
		return false;
	size_t pid = len - 25; /* "vmie-" 8 "-" 6 "-" and ".log" */
	return pid >= 1 && pid <= 10 && digits(p + 16, pid);
}

static bool parse_keep(const char *name, long *out, char *warning, size_t n)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return true;
	if (strcasecmp(v, "all") == 0) {
		*out = CLI_LOG_KEEP_ALL;
		return true;
	}
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (!isdigit((unsigned char)v[0]) || errno || *end || x > 1000000) {
		snprintf(warning, n, "%s='%s' is not a number (0 to 1000000) "
			 "or 'all'; using %ld", name, v, *out);
		return false;
	}
	*out = x;
	return true;
}

void cli_log_keep_from_env(struct cli_log_keep *k, char *warning, size_t n)
{
	k->runs = CLI_LOG_KEEP_RUNS;
	k->days = CLI_LOG_KEEP_DAYS;
	warning[0] = '\0';
	/* One warning is enough; the second is checked all the same. */
	if (parse_keep("VMIE_LOG_KEEP_RUNS", &k->runs, warning, n))
		parse_keep("VMIE_LOG_KEEP_DAYS", &k->days, warning, n);
	else
		parse_keep("VMIE_LOG_KEEP_DAYS", &k->days, (char[1]){0}, 1);
}

/* Newest first; the name (its timestamp and pid) breaks ties. */
static int newest_first(const void *a, const void *b)
{
	const struct log_entry *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? 1 : -1;
	return strcmp(y->name, x->name);
}

/* The candidates in the directory dfd: this user's regular files with log
 * names. */
static size_t list_logs(int dfd, struct log_entry **out)
{
	int fd = dup(dfd); /* closedir closes it; dfd stays for unlinkat */
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct log_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	*out = NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	uid_t me = geteuid();
	while ((e = readdir(d))) {
		struct stat st;
		if (!cli_log_is_log_name(e->d_name) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != me)
			continue;
		xgrow((void **)&v, &cap, n + 1, sizeof(*v));
		v[n].name = xstrdup(e->d_name);
		v[n].mtime = st.st_mtime;
		n++;
	}
	closedir(d);
	*out = v;
	return n;
}

static bool expired(const struct log_entry *e, size_t rank,
		    const struct cli_log_keep *k, time_t now)
{
	if (k->runs == CLI_LOG_KEEP_ALL || k->days == CLI_LOG_KEEP_ALL)
		return false;
	if (rank < (size_t)k->runs)
		return false;
	return now - e->mtime > (time_t)k->days * 86400;
}

int cli_log_prune(const char *current, const struct cli_log_keep *k, time_t now)
{
	if (k->runs == CLI_LOG_KEEP_ALL || k->days == CLI_LOG_KEEP_ALL)
		return 0;
	const char *slash = strrchr(current, '/');
	char *dir = slash ? xstrndup(current, (size_t)(slash - current))
			  : xstrdup(".");
	const char *self = slash ? slash + 1 : current;
	int deleted = -1;

	int dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			       O_CLOEXEC);
	if (dfd < 0)
		goto out;
	struct log_entry *logs;
	size_t n = list_logs(dfd, &logs);
	if (n)
		qsort(logs, n, sizeof(*logs), newest_first);
	deleted = 0;
	for (size_t i = 0; i < n; i++) {
		/* unlinkat never follows a symlink, even one swapped in since
		 * the fstatat: the worst it removes is that link. */
		if (strcmp(logs[i].name, self) != 0 && expired(&logs[i], i, k, now) &&
		    unlinkat(dfd, logs[i].name, 0) == 0)
			deleted++;
		free(logs[i].name);
	}
	free(logs);
	close(dfd);
out:
	free(dir);
	return deleted;
}
