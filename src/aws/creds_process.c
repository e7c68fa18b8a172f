/*
 * credential_process: run the profile's command (split like a POSIX shell
 * would split words, but never through a shell) and read credentials JSON
 * from its stdout.  A failing command is an error, not a miss: the user
 * configured it, so falling through to other credentials would be wrong.
 * A command that does not finish within credential_process_timeout
 * seconds (AWS_CREDENTIAL_PROCESS_TIMEOUT; 60, as the Go SDK's default)
 * is killed: a helper waiting for a browser or a lost network must not
 * hang a run forever.
 */
#include "aws/creds_internal.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define OUT_MAX (64 * 1024)
#define ERR_MAX (4 * 1024)
#define MAX_ARGS 256
#define TIMEOUT_DEFAULT_S 60
#define TIMEOUT_MAX_S (24 * 3600)

typedef struct argv_list {
	char **v;
	size_t n, cap;
} argv_list;

static void argv_free(argv_list *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static void argv_push(argv_list *a, vbuf *word)
{
	void *p = a->v;
	xgrow(&p, &a->cap, a->n + 2, sizeof(char *));
	a->v = p;
	a->v[a->n++] = vbuf_detach(word);
	if (!a->v[a->n - 1])
		a->v[a->n - 1] = xstrdup("");
	a->v[a->n] = NULL;
}

int vaws_shell_split(const char *s, char ***argv_out)
{
	argv_list a = {0};
	vbuf w = VBUF_INIT;
	bool in_word = false;
	*argv_out = NULL;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word)
				argv_push(&a, &w);
			in_word = false;
			continue;
		}
		in_word = true;
		if (c == '\\') {
			if (p[1])
				vbuf_addch(&w, *++p);
		} else if (c == '\'') {
			const char *e = strchr(p + 1, '\'');
			if (!e)
				goto bad;
			vbuf_add(&w, p + 1, (size_t)(e - p - 1));
			p = e;
		} else if (c == '"') {
			for (p++; *p != '"'; p++) {
				if (!*p)
					goto bad;
				if (*p == '\\' && strchr("\"\\$`", p[1]) &&
				    p[1])
					p++;
				vbuf_addch(&w, *p);
			}
		} else {
			vbuf_addch(&w, c);
		}
		if (a.n >= MAX_ARGS)
			goto bad;
	}
	if (in_word)
		argv_push(&a, &w);
	if (a.n == 0)
		goto bad;
	*argv_out = a.v;
	return (int)a.n;
bad:
	vbuf_free(&w);
	argv_free(&a);
	return -1;
}

static void free_argv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drain both pipes until EOF or the deadline; keep at most cap bytes of
 * each.  false when the deadline came first. */
static bool drain(int out_fd, int err_fd, vbuf *out, vbuf *errb,
		  bool *overflow, long long deadline)
{
	struct pollfd pf[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	vbuf *dst[2] = {out, errb};
	size_t cap[2] = {OUT_MAX, ERR_MAX};
	char chunk[4096];
	int open_n = 2;
	bool done = true;
	while (open_n > 0) {
		long long left = deadline - mono_ms();
		if (left <= 0) {
			done = false;
			break;
		}
		int n_ready = poll(pf, 2, left > 1000 ? 1000 : (int)left);
		if (n_ready < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			ssize_t n = read(pf[i].fd, chunk, sizeof chunk);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				pf[i].fd = -1;
				open_n--;
				continue;
			}
			size_t room = cap[i] > dst[i]->len
					      ? cap[i] - dst[i]->len
					      : 0;
			if ((size_t)n > room && i == 0)
				*overflow = true;
			vbuf_add(dst[i], chunk, (size_t)n < room ? (size_t)n
								 : room);
		}
	}
	secure_zero(chunk, sizeof chunk);
	return done;
}

/* Run argv; 0 with the exit status in *status (*timed_out when it was
 * killed at the deadline), or a status with err set. */
static int run(char **argv, long timeout_s, vbuf *out, vbuf *errb,
	       bool *overflow, int *status, bool *timed_out, vmie_error *err)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	bool fa_init = false;
	int rc;
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			 "credential_process: pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	fa_init = true;
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	pid_t pid;
	int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	if (e != 0) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			 "credential_process: cannot run %s: %s", argv[0],
			 strerror(e));
		goto out;
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (!drain(po[0], pe[0], out, errb, overflow,
		   mono_ms() + timeout_s * 1000LL)) {
		/* Only the command itself: it shares our process group
		 * (and so the terminal a helper may prompt on).  Children
		 * it left holding the pipes no longer matter: ours are
		 * closed below. */
		kill(pid, SIGKILL);
		*timed_out = true;
	}
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
				 "credential_process: waitpid: %s",
				 strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	return rc;
}

/* credential_process_timeout / AWS_CREDENTIAL_PROCESS_TIMEOUT, seconds. */
static int timeout_of(const vaws_config *cfg, long *out, vmie_error *err)
{
	const char *v = vaws_config_setting(cfg,
					    "AWS_CREDENTIAL_PROCESS_TIMEOUT",
					    "credential_process_timeout");
	*out = TIMEOUT_DEFAULT_S;
	if (!v)
		return 0;
	char *end;
	long n = strtol(v, &end, 10);
	if (*end || n <= 0 || n > TIMEOUT_MAX_S) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "credential_process_timeout (or "
			 "AWS_CREDENTIAL_PROCESS_TIMEOUT) = %.40s is not a "
			 "number of seconds", v);
		return verr_hint(err, "use a whole number of seconds, 1 to "
				      "86400 (default 60)");
	}
	*out = n;
	return 0;
}

static int check_version(json_t *doc, vmie_error *err)
{
	json_t *v = json_object_get(doc, "Version");
	if (json_is_integer(v) && json_integer_value(v) == 1)
		return 0;
	char *shown = NULL;
	if (!v)
		shown = xstrdup("<Version key not provided>");
	else if (json_is_string(v))
		shown = xstrdup(json_string_value(v));
	else
		shown = json_dumps(v, JSON_ENCODE_ANY);
	verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
		 "Unsupported version '%.40s' for credential process "
		 "provider, supported versions: 1", shown ? shown : "?");
	free(shown);
	return err ? err->status : VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND;
}

int vaws_creds_process(const vaws_creds_ctx *ctx, vaws_creds *out,
		       vbuf *looked, vmie_error *err)
{
	const char *cmd = ctx->cfg ? vaws_config_get(ctx->cfg,
						     "credential_process")
				   : NULL;
	if (!cmd || !*cmd) {
		vaws_looked(looked, "credential_process (not set)");
		return 0;
	}
	char **argv = NULL;
	vbuf sout = VBUF_INIT, serr = VBUF_INIT;
	json_t *doc = NULL;
	bool overflow = false, timed_out = false;
	int status = 0, rc;
	long timeout_s;
	rc = timeout_of(ctx->cfg, &timeout_s, err);
	if (rc)
		return rc;
	if (vaws_shell_split(cmd, &argv) < 0) {
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "credential_process in profile %s: unbalanced "
			      "quotes or too many words",
			      ctx->cfg->profile);
		goto out;
	}
	vlog_debug("credential_process: running %s", argv[0]);
	rc = run(argv, timeout_s, &sout, &serr, &overflow, &status,
		 &timed_out, err);
	if (rc)
		goto out;
	vbuf_rtrim(&serr);
	if (timed_out) {
		verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			 "credential_process %s (profile %s) did not finish "
			 "within %ld s and was stopped", argv[0],
			 ctx->cfg->profile, timeout_s);
		rc = verr_hint(err,
			       "run the command by hand to see what it waits "
			       "for; if it needs longer, raise "
			       "credential_process_timeout in the profile (or "
			       "AWS_CREDENTIAL_PROCESS_TIMEOUT), in seconds");
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
				      "credential_process %s exited with "
				      "status %d%s%s",
				      argv[0], WEXITSTATUS(status),
				      serr.len ? ": " : "", vbuf_str(&serr));
		else
			rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
				      "credential_process %s was killed by "
				      "signal %d", argv[0],
				      WIFSIGNALED(status) ? WTERMSIG(status)
							  : 0);
		goto out;
	}
	if (overflow) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "credential_process %s wrote more than %d "
			      "bytes", argv[0], OUT_MAX);
		goto out;
	}
	json_error_t jerr;
	doc = json_loadb(vbuf_str(&sout), sout.len, JSON_REJECT_DUPLICATES,
			 &jerr);
	if (!doc) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "credential_process %s: output is not JSON "
			      "(line %d, column %d)", argv[0], jerr.line,
			      jerr.column);
		goto out;
	}
	rc = check_version(doc, err);
	if (rc)
		goto out;
	rc = vaws_creds_from_json(doc, "credential_process", "SessionToken",
				  false, false, out, err);
	if (rc)
		goto out;
	out->source = "credential-process";
	rc = 1;
out:
	if (rc < 0)
		vaws_creds_free(out);
	json_decref(doc);
	vbuf_free_secret(&sout);
	vbuf_free(&serr);
	free_argv(argv);
	return rc;
}
