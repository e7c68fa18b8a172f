/*
 * Pruning the default log directory ($XDG_STATE_HOME/vmie/logs), which
 * gains a file per run.  See logprune.c for the rules.
 */
#ifndef VMIE_CLI_LOGPRUNE_H
#define VMIE_CLI_LOGPRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CLI_LOG_KEEP_RUNS 50
#define CLI_LOG_KEEP_DAYS 30
#define CLI_LOG_KEEP_ALL (-1L)

/* A log is deleted only when it is neither among the newest `runs` logs
 * nor written in the last `days` days; CLI_LOG_KEEP_ALL in either: never. */
struct cli_log_keep {
	long runs;
	long days;
};

/* The settings from VMIE_LOG_KEEP_RUNS and VMIE_LOG_KEEP_DAYS (a count, or
 * "all"), the defaults where unset.  A value that is neither leaves the
 * default and a message in warning (size n; "" when all is well). */
void cli_log_keep_from_env(struct cli_log_keep *k, char *warning, size_t n);

/* Prune the directory of `current` (the log this run has just created,
 * which is kept whatever the settings), as of `now`.  Returns how many
 * logs were deleted, -1 when the directory could not be read (errno). */
int cli_log_prune(const char *current, const struct cli_log_keep *k,
		  time_t now);

/* Whether name is one vmie gives its logs: vmie-YYYYmmdd-HHMMSS-PID.log. */
bool cli_log_is_log_name(const char *name);

#endif
