/*
 * vmie-docgen: vmie's man pages and bash/zsh completions, written at build
 * time from the tables the command itself reads (cli_options[],
 * cli_option_hints[], cli_commands[], the help's notes), so that neither
 * can say something --help does not.  Nothing here is part of vmie.
 *
 *   gen_main.c  which file is which; atomic writes
 *   gen_man.c   roff: vmie(1) and vmie-COMMAND(1)
 *   gen_bash.c  the bash completion (bash-completion's completionsdir)
 *   gen_zsh.c   the zsh completion (site-functions/_vmie)
 */
#ifndef VMIE_CLI_GEN_H
#define VMIE_CLI_GEN_H

#include "cli/cli.h"

#include <stdio.h>

/* Each writes one file; non-zero (with a message on stderr) on failure. */
int gen_man_main(FILE *f);
int gen_man_command(FILE *f, const struct cli_command *cmd);
int gen_bash(FILE *f);
int gen_zsh(FILE *f);

/* The options `vmie CMD` accepts, the global ones included. */
static inline unsigned long long gen_command_options(const struct cli_command *cmd)
{
	return cmd->allowed | OPT_GLOBALS;
}

/* The n-th word of an operand list "S3_URL PATH", "SOURCE..." (the last
 * one repeating when it ends in "..."): *len gets its length; NULL past
 * the end. */
const char *gen_operand(const char *operands, size_t n, size_t *len);

#endif
