/*
 * The process exit status, a small documented contract for scripts
 * (curl and git do the same; the library's vmie_status numbers are too
 * wide for an exit status and too fine-grained to branch on):
 *
 *   0    success
 *   1    general failure (anything not listed below); vmie batch: some
 *        rows did not succeed
 *   2    usage error: unknown or misplaced option, missing or bad value,
 *        missing required option, no AWS region configured
 *   3    AWS error: credentials, configuration, AWS request failures
 *   4    source error: the --source image, URL or JSON file, including
 *        an image the preflight (or `vmie inspect`) finds AWS would refuse
 *   5    sanbootable installation error
 *   6    (reserved) VMIE_ERR_NOT_IMPLEMENTED: a library call a build
 *        lacks; no command returns it, so --help does not list it
 *   130  interrupted by SIGINT (128 + 2)
 *   143  terminated by SIGTERM (128 + 15)
 *
 * `vmie --help` prints the same table (help.c): keep them together.
 */
#include "cli/cli.h"

#include <signal.h>
#include <string.h>

/* The signal flag: the only thing a handler may safely touch. */
static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
	caught_signal = sig;
}

void cli_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking call (opening a FIFO log file, later a
	 * network wait) returns EINTR so the run can notice and stop. */
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

volatile sig_atomic_t *cli_cancel_flag(void)
{
	return &caught_signal;
}

int cli_interrupted(void)
{
	return caught_signal;
}

int cli_exit_status(int status)
{
	int sig = caught_signal;
	if (sig || status == VMIE_ERR_INTERRUPTED)
		return 128 + (sig ? sig : SIGINT);
	switch (status) {
	case VMIE_OK:
		return CLI_EXIT_OK;
	case VMIE_ERR_INVALID_ARGUMENT:
	case VMIE_ERR_AWS_REGION_NOT_FOUND:
		return CLI_EXIT_USAGE;
	case VMIE_ERR_NOT_IMPLEMENTED:
		return CLI_EXIT_NOT_IMPLEMENTED;
	}
	switch (vmie_status_classify(status)) {
	case VMIE_CLASS_OK: return CLI_EXIT_OK;
	case VMIE_CLASS_AWS: return CLI_EXIT_AWS;
	case VMIE_CLASS_SOURCE: return CLI_EXIT_SOURCE;
	case VMIE_CLASS_SANBOOTABLE: return CLI_EXIT_SANBOOTABLE;
	case VMIE_CLASS_GENERAL: break;
	}
	return CLI_EXIT_FAILURE;
}
