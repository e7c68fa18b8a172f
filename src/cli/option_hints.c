/*
 * What a shell may complete for an option's value or a command's operand.
 *
 * Only the bash and zsh completions vmie-docgen writes read this (the
 * parser does not: values are checked by the library, which names the
 * accepted ones).  Most options need no entry here: the placeholder in
 * cli_options[] already says it ("RAW|VMDK|VHD" lists the words, PATH
 * means a file), so an option added to the table completes sensibly
 * without one.  An entry is for what the placeholder cannot say.
 */
#include "cli/cli.h"

#include <string.h>

const struct cli_option_hint cli_option_hints[OPT__COUNT] = {
	/* The words workflow/validate_import.c accepts; the test of the
	 * completions checks the two lists agree. */
	[OPT_STORAGE_CLASS] = {.complete = CLI_COMPLETE_WORDS,
			       .values = "STANDARD|STANDARD_IA|ONEZONE_IA|"
					 "INTELLIGENT_TIERING|GLACIER_IR"},
	[OPT_PROFILE] = {.complete = CLI_COMPLETE_PROFILE},
	[OPT_TAG] = {.repeatable = true},
};

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

/* The placeholder rules, for an option's value and an operand alike. */
static enum cli_complete from_placeholder(const char *p, size_t len)
{
	if (ends_with(p, len, "..."))
		len -= 3;
	if (memchr(p, '|', len))
		return CLI_COMPLETE_WORDS;
	if (is(p, len, "PATH") || is(p, len, "FILE") || is(p, len, "SOURCE") ||
	    ends_with(p, len, "_PATH") || ends_with(p, len, "_FILE"))
		return CLI_COMPLETE_FILE;
	return CLI_COMPLETE_NONE;
}

enum cli_complete cli_option_complete(int id, const char **values)
{
	const struct cli_option *o = &cli_options[id];
	const struct cli_option_hint *h = &cli_option_hints[id];
	enum cli_complete c = h->complete;

	*values = NULL;
	if (!o->arg)
		return CLI_COMPLETE_NONE;
	if (c == CLI_COMPLETE_AUTO)
		c = from_placeholder(o->arg, strlen(o->arg));
	if (c == CLI_COMPLETE_WORDS) {
		*values = h->values ? h->values : o->arg;
		if (!**values)
			return CLI_COMPLETE_NONE;
	}
	return c;
}

enum cli_complete cli_operand_complete(const char *name, size_t len)
{
	enum cli_complete c = from_placeholder(name, len);
	/* Operands have no word lists (yet): "A|B" would be a placeholder. */
	return c == CLI_COMPLETE_WORDS ? CLI_COMPLETE_NONE : c;
}
