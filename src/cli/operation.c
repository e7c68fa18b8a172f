/*
 * The shared path of import, export and convert: required options, the
 * log file, vmie_run, and the result.  The commands differ only in their
 * options and help, so they share this one short driver.
 */
#include "cli/cli.h"

#include "base/buf.h"
#include "base/error.h"

#include <string.h>

int cli_check_required(const struct cli_args *a, vmie_error *err)
{
	unsigned missing = a->cmd->required & ~a->seen;
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

int cli_run_operation(const struct cli_args *a, vmie_operation op)
{
	vmie_error err = {0};
	struct cli_log l;
	int exit_status;

	if (cli_check_required(a, &err) != 0) {
		exit_status = cli_usage_error(a, &err);
		vmie_error_clear(&err);
		return exit_status;
	}
	cli_log_init(&l, a);
	cli_log_install(&l);
	cli_log_open_file(&l, a);
	cli_log_command_line(&l, a);

	int rc = cli_interrupted() ? VMIE_ERR_INTERRUPTED
				   : vmie_run(op, &a->opts, &err);
	if (rc == 0 && cli_interrupted())
		rc = VMIE_ERR_INTERRUPTED;
	if (rc == VMIE_ERR_INTERRUPTED && err.status != rc)
		verr_set(&err, rc, "vmie %s: interrupted",
			 vmie_operation_name(op));
	if (rc != 0) {
		exit_status = cli_report_failure(a, &l, &err);
		goto out;
	}
	cli_log(&l, VMIE_LOG_SUCCESS, "vmie %s: done", vmie_operation_name(op));
	if (a->json)
		cli_json_ok(vmie_operation_name(op));
	exit_status = CLI_EXIT_OK;
out:
	vmie_error_clear(&err);
	cli_log_free(&l);
	return exit_status;
}
