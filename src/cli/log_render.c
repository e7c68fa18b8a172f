/*
 * The log handler the CLI gives libvmie.  Two sinks:
 *   - the console (stderr; stdout is kept for results and --json):
 *     INFO and up by default, DEBUG with -v/--debug, only ERROR with -q;
 *     coloured on a terminal unless NO_COLOR is set or TERM=dumb.
 *   - the log file, when one is open: every level, timestamped, flushed
 *     per line so a crash or a kill still leaves the full story.
 */
#include "cli/cli.h"
#include "cli/logprune.h"
#include "cli/progress.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define C_RESET "\033[0m"

static const char *level_color(vmie_log_level level)
{
	switch (level) {
	case VMIE_LOG_DEBUG: return "\033[2m";
	case VMIE_LOG_SUCCESS: return "\033[32m";
	case VMIE_LOG_WARN: return "\033[33m";
	case VMIE_LOG_ERROR: return "\033[31m";
	case VMIE_LOG_INFO: break;
	}
	return NULL;
}

static const char *level_prefix(vmie_log_level level)
{
	switch (level) {
	case VMIE_LOG_DEBUG: return "debug: ";
	case VMIE_LOG_WARN: return "vmie: warning: ";
	case VMIE_LOG_ERROR: return "vmie: error: ";
	case VMIE_LOG_INFO:
	case VMIE_LOG_SUCCESS: break;
	}
	return "";
}

static void to_file(struct cli_log *l, vmie_log_level level, const char *msg)
{
	if (!l->file)
		return;
	struct timeval tv;
	struct tm tm;
	char stamp[32];
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(l->file, "%s.%03ldZ %-7s %s\n", stamp, (long)tv.tv_usec / 1000,
		vmie_log_level_name(level), msg);
	fflush(l->file);
}

/* A message may carry text from an image or a URL: control characters
 * (an escape sequence, a carriage return) are shown as '?', never sent to
 * the terminal. */
static void put_safe(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void handler(void *ctx, vmie_log_level level, const char *msg)
{
	struct cli_log *l = ctx;
	to_file(l, level, msg);
	if (level < l->console_min)
		return;
	cli_progress_clear(l->progress); /* the line goes above the bar */
	if (l->clear)
		l->clear(l->clear_ctx);
	const char *color = l->color ? level_color(level) : NULL;
	fprintf(stderr, "%s%s", color ? color : "", level_prefix(level));
	put_safe(stderr, msg);
	fprintf(stderr, "%s\n", color ? C_RESET : "");
}

void cli_log_init(struct cli_log *l, const struct cli_args *a)
{
	const char *term = getenv("TERM");
	memset(l, 0, sizeof(*l));
	l->console_min = a->verbosity > 0 ? VMIE_LOG_DEBUG
			 : a->verbosity < 0 ? VMIE_LOG_ERROR
					    : VMIE_LOG_INFO;
	/* no-color.org, plus TERM=dumb (Emacs shells, CI logs). */
	l->color = isatty(STDERR_FILENO) && !getenv("NO_COLOR") &&
		   !(term && strcmp(term, "dumb") == 0);
}

void cli_log_install(struct cli_log *l)
{
	vmie_set_log_handler(handler, l);
}

void cli_log(struct cli_log *l, vmie_log_level level, const char *fmt, ...)
{
	vbuf b = VBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	vbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	handler(l, level, vbuf_str(&b));
	vbuf_free(&b);
}

void cli_log_file_only(struct cli_log *l, vmie_log_level level,
		       const char *msg)
{
	to_file(l, level, msg);
}

/* The default directory gains a log per run: keep it to what the settings
 * say (logprune.c).  Never fatal, and quiet unless a setting is wrong. */
static void prune_logs(struct cli_log *l, const char *current)
{
	struct cli_log_keep k;
	char warning[256];
	cli_log_keep_from_env(&k, warning, sizeof warning);
	if (warning[0])
		cli_log(l, VMIE_LOG_WARN, "%s", warning);
	int n = cli_log_prune(current, &k, time(NULL));
	if (n < 0)
		cli_log(l, VMIE_LOG_DEBUG, "old logs not pruned: %s",
			strerror(errno));
	else if (n > 0)
		cli_log(l, VMIE_LOG_DEBUG, "deleted %d old log file%s (keeping "
			"the last %ld runs' and %ld days')", n, n == 1 ? "" : "s",
			k.runs, k.days);
}

void cli_log_open_file(struct cli_log *l, const struct cli_args *a)
{
	vmie_error err = {0};
	char *path = a->log_file ? xstrdup(a->log_file)
				 : cli_logfile_default_path(&err);
	FILE *f = path ? cli_logfile_open(path, !a->log_file, &err) : NULL;
	if (!f) {
		/* A missing log must never stop an import: say so once. */
		cli_log(l, VMIE_LOG_WARN, "%s; continuing without a log file",
			err.message ? err.message : "cannot open the log file");
		free(path);
		goto out;
	}
	l->file = f;
	l->file_path = path;
	if (!a->log_file)
		prune_logs(l, path);
out:
	vmie_error_clear(&err);
}

void cli_log_start(struct cli_log *l, const struct cli_args *a)
{
	cli_log_init(l, a);
	cli_log_install(l);
	cli_log_open_file(l, a);
	cli_log_command_line(l, a);
}

void cli_log_free(struct cli_log *l)
{
	vmie_set_log_handler(NULL, NULL);
	if (l->file)
		fclose(l->file);
	free(l->file_path);
	memset(l, 0, sizeof(*l));
}
