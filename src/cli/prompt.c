/*
 * The terminal prompt libvmie asks through (vmie_aws_opts.prompt): an MFA
 * code for an assume-role profile with mfa_serial.  The question goes to
 * the controlling terminal and the answer is read from it with echo off
 * (stdin and stdout may be pipes); the terminal's settings come back on
 * every path: a normal answer, an error, Ctrl-C, SIGTERM, SIGHUP, SIGQUIT.
 * With --json and a stdin that is not a terminal, vmie is a script's
 * tool: nobody is asked, and the library says how to get credentials
 * another way.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Signals whose default would end vmie with the terminal mute: caught
 * while the prompt runs, then handled as they would have been. */
static const int fatal_signals[] = {SIGHUP, SIGQUIT, SIGPIPE};
#define NFATAL (sizeof fatal_signals / sizeof *fatal_signals)

static volatile sig_atomic_t prompt_signal;

static void on_fatal(int sig)
{
	prompt_signal = sig;
}

static void put(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static bool stopped(void)
{
	return cli_interrupted() || prompt_signal;
}

/* One line from the terminal into answer; the rest of a long line is
 * read and dropped.  0, or -1 (EOF, an error, a signal).  A signal that
 * came before the read started must count too: poll in short steps and
 * look at the flags between them. */
static int read_line(int fd, char *answer, size_t size)
{
	size_t n = 0;
	for (;;) {
		if (stopped())
			return -1;
		struct pollfd p = {fd, POLLIN, 0};
		int ready = poll(&p, 1, 250);
		if (ready < 0 && errno != EINTR)
			return -1;
		if (ready <= 0)
			continue;
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < size)
			answer[n++] = c;
	}
	answer[n] = '\0';
	return 0;
}

int cli_prompt(void *ctx, const char *question, char *answer, size_t size,
	       const char **why)
{
	const struct cli_args *a = ctx;
	if (a && a->json && !isatty(STDIN_FILENO)) {
		*why = "--json was given and stdin is not a terminal";
		return -1;
	}
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		*why = "there is no terminal to ask on";
		return -1;
	}
	struct termios old, mute;
	if (tcgetattr(fd, &old) != 0) {
		close(fd);
		*why = "there is no terminal to ask on";
		return -1;
	}
	/* Job control would stop us with the echo off: hold it off. */
	sigset_t block, saved_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGTSTP);
	sigaddset(&block, SIGTTIN);
	sigaddset(&block, SIGTTOU);
	sigprocmask(SIG_BLOCK, &block, &saved_mask);
	struct sigaction sa, saved[NFATAL];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	prompt_signal = 0;
	for (size_t i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i], &sa, &saved[i]);

	mute = old;
	mute.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	mute.c_lflag |= ECHONL | ICANON;
	int rc = -1;
	*why = "the terminal could not be set up";
	if (tcsetattr(fd, TCSAFLUSH, &mute) == 0) {
		put(fd, question);
		if (read_line(fd, answer, size) == 0) {
			rc = 0;
		} else {
			/* The user gave up: not "nobody to ask". */
			rc = -2;
			*why = stopped() ? "interrupted"
					 : "no answer (end of input)";
		}
		tcsetattr(fd, TCSAFLUSH, &old);
	}
	close(fd);

	for (size_t i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i], &saved[i], NULL);
	sigprocmask(SIG_SETMASK, &saved_mask, NULL);
	if (prompt_signal) /* now that the terminal is whole again */
		raise(prompt_signal);
	return rc;
}
