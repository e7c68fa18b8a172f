/*
 * vmie: parse argv, hand the work to libvmie, turn the outcome into an
 * exit status (see exit_status.c).  Help and --version never touch the
 * library or create a log file.
 */
#include "cli/cli.h"

#include "base/error.h"

#include <string.h>

/* `vmie help [TOPIC]`. */
static int help_topic(const struct cli_args *a)
{
	if (!a->help_topic) {
		cli_help_main(stdout);
		return CLI_EXIT_OK;
	}
	const struct cli_command *cmd = cli_command_find(a->help_topic);
	if (cmd) {
		cli_help_command(stdout, cmd);
		return CLI_EXIT_OK;
	}
	vmie_error err = {0};
	verr_set(&err, VMIE_ERR_INVALID_ARGUMENT, "unknown command '%s'",
		 a->help_topic);
	verr_hint(&err, "Run 'vmie --help' to see the commands");
	int exit_status = cli_usage_error(a, &err);
	vmie_error_clear(&err);
	return exit_status;
}

int main(int argc, char **argv)
{
	struct cli_args a;
	vmie_error err = {0};
	int exit_status;

	cli_signals_install();
	if (cli_parse(argc, argv, &a, &err) != 0) {
		exit_status = cli_usage_error(&a, &err);
		goto out;
	}
	a.opts.aws.prompt = cli_prompt;
	a.opts.aws.prompt_ctx = &a;
	if (a.version) {
		printf("vmie %s\n", vmie_version());
		exit_status = CLI_EXIT_OK;
	} else if (a.help_cmd) {
		exit_status = help_topic(&a);
	} else if (a.help) {
		if (a.cmd)
			cli_help_command(stdout, a.cmd);
		else
			cli_help_main(stdout);
		exit_status = CLI_EXIT_OK;
	} else if (!a.cmd) {
		verr_set(&err, VMIE_ERR_INVALID_ARGUMENT, "no command given");
		verr_hint(&err, "Run 'vmie --help' to see the commands");
		exit_status = cli_usage_error(&a, &err);
	} else {
		exit_status = a.cmd->run(&a);
	}
out:
	vmie_error_clear(&err);
	cli_args_free(&a);
	return exit_status;
}
