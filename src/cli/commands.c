/*
 * The commands, in the order `vmie --help` lists them.  A table of its own
 * so that vmie-docgen (the man pages and completions) sees the same list
 * as the command.
 */
#include "cli/cli.h"

#include <string.h>

const struct cli_command *const cli_commands[] = {
	&cli_cmd_import, &cli_cmd_export, &cli_cmd_convert, &cli_cmd_batch,
	&cli_cmd_download, &cli_cmd_inspect, &cli_cmd_whoami, &cli_cmd_runs, NULL,
};

const struct cli_command *cli_command_find(const char *name)
{
	for (size_t i = 0; cli_commands[i]; i++)
		if (strcmp(cli_commands[i]->name, name) == 0)
			return cli_commands[i];
	return NULL;
}
