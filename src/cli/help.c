/*
 * Help texts.  Option lines are generated from cli_options[] and each
 * command's option mask, so `vmie CMD --help` can never forget an option
 * the parser accepts.  Help goes to stdout (it is the requested output).
 */
#include "cli/cli.h"

#include <string.h>

#define HELP_COL 30
#define HELP_WIDTH 79

/* Print text word-wrapped from column `col` (the cursor is already there). */
static void wrap(FILE *out, const char *text, int col)
{
	int pos = col;
	while (*text) {
		size_t w = strcspn(text, " ");
		if (pos > col && pos + 1 + (int)w > HELP_WIDTH) {
			fprintf(out, "\n%*s", col, "");
			pos = col;
		} else if (pos > col) {
			fputc(' ', out);
			pos++;
		}
		fprintf(out, "%.*s", (int)w, text);
		pos += (int)w;
		text += w;
		while (*text == ' ')
			text++;
	}
	fputc('\n', out);
}

static void option_line(FILE *out, enum cli_opt id)
{
	const struct cli_option *o = &cli_options[id];
	char left[64];
	int n;
	if (o->short_name)
		n = snprintf(left, sizeof left, "  -%c, --%s%s%s",
			     o->short_name, o->name, o->arg ? " " : "",
			     o->arg ? o->arg : "");
	else
		n = snprintf(left, sizeof left, "      --%s%s%s", o->name,
			     o->arg ? " " : "", o->arg ? o->arg : "");
	fputs(left, out);
	if (n + 1 >= HELP_COL)
		fprintf(out, "\n%*s", HELP_COL, "");
	else
		fprintf(out, "%*s", HELP_COL - n, "");
	char text[512];
	if (o->dflt)
		snprintf(text, sizeof text, "%s (default: %s)", o->help,
			 o->dflt);
	else
		snprintf(text, sizeof text, "%s", o->help);
	wrap(out, text, HELP_COL);
}

static void global_options(FILE *out)
{
	fputs("Global options (before or after the command):\n", out);
	for (int i = 0; i < OPT__COUNT; i++)
		if (OPT_GLOBALS & OPTBIT(i))
			option_line(out, (enum cli_opt)i);
}

static const char exit_statuses[] =
	"Exit status:\n"
	"  0    success\n"
	"  1    general failure; batch: some rows did not succeed\n"
	"  2    usage error: bad or missing option or value, no AWS region\n"
	"  3    AWS error: credentials, configuration, an AWS request failed\n"
	"  4    source error: the --source image, URL or JSON file; the\n"
	"       preflight or inspect found errors AWS would refuse the image for\n"
	"  5    sanbootable installation error (a Windows AMI, the install\n"
	"       script failed, the new AMI could not be made)\n"
	"  130  interrupted (SIGINT)\n"
	"  143  terminated (SIGTERM)\n";

static const char environment[] =
	"Environment:\n"
	"  AWS_PROFILE                  profile to use (--profile wins)\n"
	"  AWS_REGION, AWS_DEFAULT_REGION\n"
	"                               region (--region wins)\n"
	"  AWS_ENDPOINT_URL             endpoint for every service "
	"(--endpoint-url wins)\n"
	"  AWS_CONFIG_FILE              config file (default ~/.aws/config)\n"
	"  AWS_SHARED_CREDENTIALS_FILE  credentials file "
	"(default ~/.aws/credentials)\n"
	"  AWS_CA_BUNDLE                CA certificates for HTTPS\n"
	"  AWS_MAX_ATTEMPTS             attempts per AWS request "
	"(retries + 1)\n"
	"  AWS_RETRY_MODE               standard (default) or legacy\n"
	"  NO_COLOR                     set (to anything): no colour\n"
	"  XDG_STATE_HOME               log files go to "
	"$XDG_STATE_HOME/vmie/logs\n"
	"                               (default ~/.local/state/vmie/logs)\n";

void cli_help_main(FILE *out)
{
	fprintf(out,
		"Usage: vmie [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
		"\n"
		"Import VM disk images into Amazon EC2 as AMIs, export AMIs to "
		"RAW images,\n"
		"and install iPXE's sanbootable on the way.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; cli_commands[i]; i++)
		fprintf(out, "  %-10s %s\n", cli_commands[i]->name,
			cli_commands[i]->summary);
	fprintf(out, "  %-10s %s\n", "help", "show help for a command "
		"(vmie help COMMAND)");
	fputc('\n', out);
	global_options(out);
	fputc('\n', out);
	fputs(exit_statuses, out);
	fputc('\n', out);
	fputs(environment, out);
	fprintf(out, "\nRun 'vmie COMMAND --help' for the options of a "
		"command.\n");
}

void cli_help_command(FILE *out, const struct cli_command *cmd)
{
	fprintf(out, "Usage: %s [OPTIONS]%s%s\n\n", cmd->usage_name,
		cmd->operands ? " " : "", cmd->operands ? cmd->operands : "");
	wrap(out, cmd->description, 0);
	/* A command with only the global options gets no empty section. */
	if (cmd->allowed) {
		fputs("\nOptions:\n", out);
		for (int i = 0; i < OPT__COUNT; i++)
			if (cmd->allowed & OPTBIT(i))
				option_line(out, (enum cli_opt)i);
	}
	fputc('\n', out);
	global_options(out);
	fprintf(out, "\nExample:\n%s\n", cmd->example);
	fprintf(out, "\nRun 'vmie --help' for exit statuses and environment "
		"variables.\n");
}
