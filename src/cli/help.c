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

const char cli_about[] =
	"Import VM disk images into Amazon EC2 as AMIs, export AMIs to RAW "
	"images, and install iPXE's sanbootable on the way.";
const char cli_help_summary[] = "show help for a command (vmie help COMMAND)";

const struct cli_note cli_exit_statuses[] = {
	{"0", "success"},
	{"1", "general failure; batch: some rows did not succeed"},
	{"2", "usage error: bad or missing option or value, no AWS region"},
	{"3", "AWS error: credentials, configuration, an AWS request failed"},
	{"4", "source error: the --source image, URL or JSON file; the "
	      "preflight or inspect found errors AWS would refuse the image for"},
	{"5", "sanbootable installation error (a Windows AMI, the install "
	      "script failed, the new AMI could not be made)"},
	{"130", "interrupted (SIGINT); the same command goes on from there"},
	{"143", "terminated (SIGTERM)"},
	{NULL, NULL},
};

const struct cli_note cli_environment[] = {
	{"AWS_PROFILE", "profile to use (--profile wins)"},
	{"AWS_REGION, AWS_DEFAULT_REGION", "region (--region wins)"},
	{"AWS_ENDPOINT_URL", "endpoint for every service (--endpoint-url wins)"},
	{"AWS_CONFIG_FILE", "config file (default ~/.aws/config)"},
	{"AWS_SHARED_CREDENTIALS_FILE",
	 "credentials file (default ~/.aws/credentials)"},
	{"AWS_CA_BUNDLE", "CA certificates for HTTPS"},
	{"AWS_MAX_ATTEMPTS", "attempts per AWS request (retries + 1)"},
	{"AWS_RETRY_MODE", "standard (default) or legacy"},
	{"VMIE_OUTAGE_WINDOW", "how long to wait out an outage "
			       "(--outage-window wins)"},
	{"NO_COLOR", "set (to anything): no colour"},
	{"XDG_STATE_HOME", "log files go to $XDG_STATE_HOME/vmie/logs, run "
			   "journals to .../vmie/runs (default "
			   "~/.local/state/vmie/...)"},
	{"VMIE_LOG_KEEP_RUNS", "a log is deleted only when this many newer runs "
			       "have logs (default 50; 'all': never delete)"},
	{"VMIE_LOG_KEEP_DAYS", "and it is older than this many days (default 30; "
			       "'all': never delete)"},
	{NULL, NULL},
};

/* "  NAME" then text wrapped from column col (on the next line when NAME
 * reaches it). */
static void note_line(FILE *out, const struct cli_note *n, int col)
{
	int len = fprintf(out, "  %s", n->name);
	if (len + 1 >= col)
		fprintf(out, "\n%*s", col, "");
	else
		fprintf(out, "%*s", col - len, "");
	wrap(out, n->text, col);
}

static void notes(FILE *out, const char *title, const struct cli_note *n,
		  int col)
{
	fprintf(out, "%s:\n", title);
	for (; n->name; n++)
		note_line(out, n, col);
}

void cli_help_main(FILE *out)
{
	fputs("Usage: vmie [GLOBAL OPTIONS] COMMAND [OPTIONS]\n\n", out);
	wrap(out, cli_about, 0);
	fputs("\nCommands:\n", out);
	for (size_t i = 0; cli_commands[i]; i++)
		fprintf(out, "  %-10s %s\n", cli_commands[i]->name,
			cli_commands[i]->summary);
	fprintf(out, "  %-10s %s\n", "help", cli_help_summary);
	fputc('\n', out);
	global_options(out);
	fputc('\n', out);
	notes(out, "Exit status", cli_exit_statuses, 7);
	fputc('\n', out);
	notes(out, "Environment", cli_environment, HELP_COL + 1);
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
