/*
 * Where the log file lives and how it is opened.
 *
 * The default is $XDG_STATE_HOME/vmie/logs/vmie-YYYYmmdd-HHMMSS-PID.log
 * (XDG: logs are "state", not config or cache).  Logs hold bucket names,
 * account ids and ARNs, so directories we create are 0700 and files 0600;
 * the default name is opened O_EXCL|O_NOFOLLOW so a planted symlink or a
 * file of someone else's is never followed or reused.
 */
#include "cli/cli.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* XDG says relative values are invalid and must be ignored. */
static int state_home(vbuf *out, vmie_error *err)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	if (xdg && xdg[0] == '/') {
		vbuf_adds(out, xdg);
		return 0;
	}
	const char *home = getenv("HOME");
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home || home[0] != '/')
		return verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
				"neither XDG_STATE_HOME nor HOME is set");
	vbuf_addf(out, "%s/.local/state", home);
	return 0;
}

/* mkdir -p, creating missing directories 0700. */
static int make_dirs(const char *path, vmie_error *err)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			rc = verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
				      "cannot create %s: %s", p,
				      strerror(errno));
			goto out;
		}
		*s = saved;
		if (!saved)
			break;
	}
out:
	free(p);
	return rc;
}

char *cli_logfile_default_path(vmie_error *err)
{
	vbuf b = VBUF_INIT;
	if (state_home(&b, err) != 0)
		goto fail;
	vbuf_adds(&b, "/vmie/logs");
	if (make_dirs(vbuf_str(&b), err) != 0)
		goto fail;
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	vbuf_addf(&b, "/vmie-%s-%ld.log", stamp, (long)getpid());
	return vbuf_detach(&b);
fail:
	vbuf_free(&b);
	return NULL;
}

FILE *cli_logfile_open(const char *path, bool exclusive, vmie_error *err)
{
	/* Never through a symbolic link (someone else's link could aim the
	 * log at a file of ours).  A FIFO is allowed (a reader may follow
	 * the log): its open waits for one, and a signal interrupts it. */
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
		    (exclusive ? O_EXCL : O_APPEND);
	int fd = open(path, flags, 0600);
	struct stat st;
	if (fd < 0) {
		int e = errno;
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
			 "cannot open log file %s: %s", path,
			 e == ELOOP ? "it is a symbolic link (vmie writes its "
				      "log only at a real path)"
				    : strerror(e));
		return NULL;
	}
	/* The log names accounts, buckets and ARNs: an existing file given
	 * with --log-file becomes 0600 like one vmie creates. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) &&
	    fchmod(fd, 0600) != 0) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
			 "cannot make log file %s private (mode 0600): %s",
			 path, strerror(errno));
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, exclusive ? "w" : "a");
	if (!f) {
		verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
			 "cannot open log file %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}
