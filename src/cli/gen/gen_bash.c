/*
 * The bash completion: commands, each command's options (the global ones
 * before or after it), option values (word lists, file names, profiles),
 * operands.  The script stands alone; it uses bash-completion's _filedir
 * for file names when that is loaded (quoting, directories, ~), compgen
 * otherwise.
 *
 * The tables become `case` patterns and word lists; the logic is the
 * fixed text below.  Option names and values are [A-Za-z0-9_.|-] (checked
 * here), so they need no quoting in the script.
 */
#include "cli/gen/gen.h"

#include <string.h>

static bool plain_word(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_.-", s[i]) || !s[i])
			return false;
	return n > 0;
}

/* "A|B|C" as "A B C"; 1 when a word would need quoting. */
static int words(FILE *f, const char *values)
{
	for (const char *p = values;;) {
		size_t n = strcspn(p, "|");
		if (!plain_word(p, n)) {
			fprintf(stderr, "vmie-docgen: value '%.*s' of '%s' is "
				"not a plain word\n", (int)n, p, values);
			return 1;
		}
		fprintf(f, "%s%.*s", p == values ? "" : " ", (int)n, p);
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/* "-r --region --s3-bucket ..." */
static void option_list(FILE *f, unsigned long long mask)
{
	bool first = true;
	for (int i = 0; i < OPT__COUNT; i++) {
		if (!(mask & OPTBIT(i)))
			continue;
		if (cli_options[i].short_name)
			fprintf(f, "%s-%c", first ? "" : " ",
				cli_options[i].short_name);
		fprintf(f, "%s--%s", first && !cli_options[i].short_name ? "" : " ",
			cli_options[i].name);
		first = false;
	}
}

/* "-r|--region" */
static void pattern(FILE *f, int id)
{
	if (cli_options[id].short_name)
		fprintf(f, "-%c|", cli_options[id].short_name);
	fprintf(f, "--%s", cli_options[id].name);
}

/* Values: `case $opt in PATTERN) ...;; esac` for every option with some
 * (a flag has none: cli_option_complete says CLI_COMPLETE_NONE). */
static int value_cases(FILE *f)
{
	int rc = 0;
	for (int i = 0; i < OPT__COUNT; i++) {
		const char *values;
		enum cli_complete c = cli_option_complete(i, &values);
		if (c == CLI_COMPLETE_NONE)
			continue; /* free text: nothing to offer */
		fputs("\t", f);
		pattern(f, i);
		fputs(")\n\t\t", f);
		switch (c) {
		case CLI_COMPLETE_WORDS:
			fputs("_vmie_words \"", f);
			rc |= words(f, values);
			fputs("\"", f);
			break;
		case CLI_COMPLETE_FILE:
			fputs("_vmie_files", f);
			break;
		case CLI_COMPLETE_PROFILE:
			fputs("_vmie_words \"$(_vmie_profiles)\"", f);
			break;
		default:
			break;
		}
		fputs(" ;;\n", f);
	}
	return rc;
}

static void operand_cases(FILE *f)
{
	for (size_t i = 0; cli_commands[i]; i++) {
		const struct cli_command *cmd = cli_commands[i];
		if (!cmd->operands)
			continue;
		/* $2: the operand's index (0: the first). */
		fprintf(f, "\t%s)\n\t\tcase $2 in\n", cmd->name);
		const char *w;
		size_t len;
		bool repeats = false;
		for (size_t n = 0; !repeats && (w = gen_operand(cmd->operands, n, &len)); n++) {
			repeats = len > 3 && memcmp(w + len - 3, "...", 3) == 0;
			if (repeats)
				fputs("\t\t*)", f);
			else
				fprintf(f, "\t\t%zu)", n);
			fputs(cli_operand_complete(w, len) == CLI_COMPLETE_FILE
				      ? " _vmie_files ;;\n" : " : ;;\n", f);
		}
		fputs("\t\tesac ;;\n", f);
	}
}

static const char profiles_fn[] =
	"# The profiles of the AWS config and credentials files, where the AWS CLI\n"
	"# finds them: [profile NAME] and [default] in the first, [NAME] in the\n"
	"# second.\n"
	"_vmie_profiles()\n"
	"{\n"
	"\tlocal config=${AWS_CONFIG_FILE:-~/.aws/config}\n"
	"\tlocal creds=${AWS_SHARED_CREDENTIALS_FILE:-~/.aws/credentials}\n"
	"\tlocal line re_profile re_default re_section\n"
	"\tlocal -A seen=()\n"
	"\tre_profile='^[[:space:]]*\\[[[:space:]]*profile[[:space:]]+([^]]*[^][:space:]])[[:space:]]*\\]'\n"
	"\tre_default='^[[:space:]]*\\[[[:space:]]*default[[:space:]]*\\]'\n"
	"\tre_section='^[[:space:]]*\\[[[:space:]]*([^]]*[^][:space:]])[[:space:]]*\\]'\n"
	"\tconfig=${config/#\\~\\//$HOME/}\n"
	"\tcreds=${creds/#\\~\\//$HOME/}\n"
	"\tif [[ -r $config ]]; then\n"
	"\t\twhile IFS= read -r line || [[ $line ]]; do\n"
	"\t\t\tif [[ $line =~ $re_profile ]]; then\n"
	"\t\t\t\tseen[${BASH_REMATCH[1]}]=1\n"
	"\t\t\telif [[ $line =~ $re_default ]]; then\n"
	"\t\t\t\tseen[default]=1\n"
	"\t\t\tfi\n"
	"\t\tdone <\"$config\"\n"
	"\tfi\n"
	"\tif [[ -r $creds ]]; then\n"
	"\t\twhile IFS= read -r line || [[ $line ]]; do\n"
	"\t\t\t[[ $line =~ $re_section ]] && seen[${BASH_REMATCH[1]}]=1\n"
	"\t\tdone <\"$creds\"\n"
	"\tfi\n"
	"\t(( ${#seen[@]} )) && printf '%s\\n' \"${!seen[@]}\"\n"
	"\treturn 0\n"
	"}\n\n";

static const char helpers[] =
	"# COMPREPLY += the words of $1 (one per line or blank-separated) that\n"
	"# start with $cur, taken literally.\n"
	"_vmie_words()\n"
	"{\n"
	"\tlocal w list\n"
	"\t# read, not for-in: a word is never a glob\n"
	"\tIFS=$' \\t\\n' read -d '' -ra list <<<\"$1\"\n"
	"\tfor w in \"${list[@]}\"; do\n"
	"\t\t[[ $w == \"$cur\"* ]] && COMPREPLY+=(\"$pre$w\")\n"
	"\tdone\n"
	"}\n\n"
	"_vmie_files()\n"
	"{\n"
	"\tif [[ -z $pre ]] && declare -F _filedir >/dev/null; then\n"
	"\t\t_filedir\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcompopt -o filenames 2>/dev/null\n"
	"\tlocal f\n"
	"\twhile IFS= read -r f; do\n"
	"\t\tCOMPREPLY+=(\"$pre$f\")\n"
	"\tdone < <(compgen -f -- \"$cur\")\n"
	"}\n\n";

static const char main_fn[] =
	"_vmie()\n"
	"{\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} pre='' w cmd='' expect='' nopnd=0 i\n"
	"\tlocal dashdash=''\n"
	"\tCOMPREPLY=()\n"
	"\t# Where we are: the command, the option whose value comes next,\n"
	"\t# how many operands are behind us.  With '=' in COMP_WORDBREAKS,\n"
	"\t# \"--opt=val\" arrives as \"--opt\" \"=\" \"val\".\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif [[ $expect ]]; then\n"
	"\t\t\t[[ $w == = ]] || expect=\n"
	"\t\telif [[ $w == -- && -z $dashdash ]]; then\n"
	"\t\t\tdashdash=1\n"
	"\t\telif [[ $w == -?* && -z $dashdash ]]; then\n"
	"\t\t\t_vmie_takes_value \"$w\" && expect=$w\n"
	"\t\telif [[ -z $cmd ]]; then\n"
	"\t\t\tcmd=$w\n"
	"\t\telse\n"
	"\t\t\t((nopnd++))\n"
	"\t\tfi\n"
	"\tdone\n"
	"\tif [[ $expect ]]; then\n"
	"\t\t[[ $cur == = ]] && cur=\n"
	"\t\t_vmie_value \"$expect\"\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tif [[ $cur == --*=* && -z $dashdash ]]; then\n"
	"\t\t# '=' is not a word break here: the value is part of the word\n"
	"\t\tpre=${cur%%=*}=\n"
	"\t\tcur=${cur#*=}\n"
	"\t\t_vmie_value \"${pre%=}\"\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tif [[ $cur == -* && -z $dashdash ]]; then\n"
	"\t\tif [[ $cmd ]]; then\n"
	"\t\t\t_vmie_words \"$(_vmie_options \"$cmd\")\"\n"
	"\t\telse\n"
	"\t\t\t_vmie_words \"$_vmie_globals\"\n"
	"\t\tfi\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tif [[ -z $cmd ]]; then\n"
	"\t\t_vmie_words \"$_vmie_commands help\"\n"
	"\telif [[ $cmd == help ]]; then\n"
	"\t\t(( nopnd == 0 )) && _vmie_words \"$_vmie_commands\"\n"
	"\telse\n"
	"\t\t_vmie_operand \"$cmd\" \"$nopnd\"\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n\n"
	"complete -F _vmie vmie\n";

int gen_bash(FILE *f)
{
	int rc = 0;

	fputs("# bash completion for vmie(1).  Generated by vmie-docgen from "
	      "vmie's option\n# table (src/cli); do not edit: change the "
	      "table and rebuild.\n\n", f);
	fputs("_vmie_commands=\"", f);
	for (size_t i = 0; cli_commands[i]; i++)
		fprintf(f, "%s%s", i ? " " : "", cli_commands[i]->name);
	fputs("\"\n_vmie_globals=\"", f);
	option_list(f, OPT_GLOBALS);
	fputs("\"\n\n", f);

	fputs("# The options of command $1, the global ones too.\n"
	      "_vmie_options()\n{\n\tcase $1 in\n", f);
	for (size_t i = 0; cli_commands[i]; i++) {
		fprintf(f, "\t%s) echo \"", cli_commands[i]->name);
		option_list(f, gen_command_options(cli_commands[i]));
		fputs("\" ;;\n", f);
	}
	fputs("\t*) echo \"$_vmie_globals\" ;;\n\tesac\n}\n\n", f);

	fputs("# Whether option $1 takes a value (in the next word).\n"
	      "_vmie_takes_value()\n{\n\tcase $1 in\n\t", f);
	bool first = true;
	for (int i = 0; i < OPT__COUNT; i++) {
		if (!cli_options[i].arg)
			continue;
		if (!first)
			fputs("|", f);
		pattern(f, i);
		first = false;
	}
	fputs(") return 0 ;;\n\tesac\n\treturn 1\n}\n\n", f);

	fputs("# COMPREPLY for a value of option $1.\n"
	      "_vmie_value()\n{\n\tcase $1 in\n", f);
	rc |= value_cases(f);
	fputs("\tesac\n}\n\n", f);

	fputs("# COMPREPLY for operand $2 (0: the first) of command $1.\n"
	      "_vmie_operand()\n{\n\tcase $1 in\n", f);
	operand_cases(f);
	fputs("\tesac\n}\n\n", f);

	fputs(profiles_fn, f);
	fputs(helpers, f);
	fputs(main_fn, f);
	return rc || ferror(f) ? 1 : 0;
}
