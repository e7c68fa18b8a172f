/*
 * The shared path of import, export and convert: required options, the
 * log file, vmie_run, and the result.  The commands differ only in their
 * options and help, so they share this one short driver.
 */
#include "cli/cli.h"
#include "cli/progress.h"

#include "base/buf.h"
#include "base/error.h"

#include <string.h>
#include <unistd.h>

int cli_check_required(const struct cli_args *a, vmie_error *err)
{
	unsigned long long missing = a->cmd->required & ~a->seen;
	for (int i = 0; i < OPT__COUNT; i++) {
		if (!(missing & OPTBIT(i)))
			continue;
		const struct cli_option *o = &cli_options[i];
		if (o->short_name)
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "missing required option --%s (-%c)",
				 o->name, o->short_name);
		else
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "missing required option --%s", o->name);
		return verr_hint(err, "Run '%s --help' to see its options",
				 a->cmd->usage_name);
	}
	return 0;
}

/* The command line at DEBUG.  No option takes a secret (credentials come
 * from the environment and files only); keep it that way, or mask here. */
void cli_log_command_line(struct cli_log *l, const struct cli_args *a)
{
	vbuf b = VBUF_INIT;
	for (int i = 0; i < a->argc; i++) {
		const char *arg = a->argv[i];
		if (i)
			vbuf_addch(&b, ' ');
		if (*arg && !arg[strcspn(arg, " \t\n'\"\\$`")]) {
			vbuf_adds(&b, arg);
			continue;
		}
		vbuf_addch(&b, '\'');
		for (const char *p = arg; *p; p++) {
			if (*p == '\'')
				vbuf_adds(&b, "'\\''");
			else
				vbuf_addch(&b, *p);
		}
		vbuf_addch(&b, '\'');
	}
	cli_log(l, VMIE_LOG_DEBUG, "vmie %s", vmie_version());
	cli_log(l, VMIE_LOG_DEBUG, "command line: %s", vbuf_str(&b));
	vbuf_free(&b);
}

/* Bars on a terminal, lines in a log, JSON events when asked, nothing
 * with -q or --no-progress. */
static cli_progress *progress_for(const struct cli_args *a)
{
	if (a->json_events)
		return cli_progress_new(stdout, CLI_PROGRESS_EVENTS, 0);
	if (a->no_progress || a->verbosity < 0)
		return cli_progress_new(stderr, CLI_PROGRESS_NONE, 0);
	return cli_progress_new(stderr, isatty(STDERR_FILENO) ? CLI_PROGRESS_BAR
							       : CLI_PROGRESS_LINES, 0);
}

int cli_run_operation(const struct cli_args *a, vmie_operation op)
{
	vmie_error err = {0};
	vmie_result res = {0};
	struct cli_log l;
	int exit_status;

	if (cli_check_required(a, &err) != 0) {
		exit_status = cli_usage_error(a, &err);
		vmie_error_clear(&err);
		return exit_status;
	}
	cli_log_start(&l, a);
	l.progress = progress_for(a);

	vmie_options o = a->opts;
	o.on_event = cli_progress_event;
	o.event_ctx = l.progress;
	o.cancel = cli_cancel_flag();
	int rc = cli_interrupted() ? VMIE_ERR_INTERRUPTED
				   : vmie_run(op, &o, &res, &err);
	cli_progress_clear(l.progress);
	if (rc == 0 && cli_interrupted())
		rc = VMIE_ERR_INTERRUPTED;
	if (rc == VMIE_ERR_INTERRUPTED && err.status != rc)
		verr_set(&err, rc, "vmie %s: interrupted",
			 vmie_operation_name(op));
	if (rc != 0) {
		exit_status = cli_report_failure_result(a, &l, &err, op, &res);
		goto out;
	}
	if (a->json)
		cli_json_print(cli_summary_json(op, &res));
	else if (!a->json_events && a->verbosity >= 0)
		cli_summary_print(stdout, op, &res);
	exit_status = CLI_EXIT_OK;
out:
	vmie_result_free(&res);
	vmie_error_clear(&err);
	cli_progress_free(l.progress);
	l.progress = NULL;
	cli_log_free(&l);
	return exit_status;
}
