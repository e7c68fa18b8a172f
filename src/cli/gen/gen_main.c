/*
 * vmie-docgen OUTPUT...: write each OUTPUT, chosen by its file name:
 *
 *   vmie.1          the man page of vmie
 *   vmie-CMD.1      the man page of `vmie CMD`
 *   vmie            the bash completion
 *   _vmie           the zsh completion
 *
 * meson lists the outputs (doc/meson.build); a command without its man page
 * in that list, or a page of no command, fails the build here rather than
 * going missing from `meson install`.  Each file is written beside itself
 * and renamed into place, so an interrupted build leaves no half page.
 */
#include "cli/gen/gen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *gen_operand(const char *operands, size_t n, size_t *len)
{
	const char *p = operands, *last = NULL;
	size_t last_len = 0;

	for (size_t i = 0; p && *p; i++) {
		size_t w = strcspn(p, " ");
		if (i == n) {
			*len = w;
			return p;
		}
		last = p;
		last_len = w;
		p += w;
		p += strspn(p, " ");
	}
	if (last && last_len > 3 && memcmp(last + last_len - 3, "...", 3) == 0) {
		*len = last_len;
		return last;
	}
	return NULL;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* "vmie-import.1" -> the import command; NULL when it names none. */
static const struct cli_command *page_command(const char *name)
{
	size_t len = strlen(name);
	if (strncmp(name, "vmie-", 5) != 0 || len < 8 ||
	    strcmp(name + len - 2, ".1") != 0)
		return NULL;
	char cmd[64];
	snprintf(cmd, sizeof cmd, "%.*s", (int)(len - 7), name + 5);
	return cli_command_find(cmd);
}

static int write_one(const char *path)
{
	const char *name = base_name(path);
	const struct cli_command *cmd = NULL;
	int (*gen)(FILE *) = NULL;

	if (strcmp(name, "vmie.1") == 0)
		gen = gen_man_main;
	else if (strcmp(name, "vmie") == 0)
		gen = gen_bash;
	else if (strcmp(name, "_vmie") == 0)
		gen = gen_zsh;
	else if (!(cmd = page_command(name))) {
		fprintf(stderr, "vmie-docgen: %s: no such page: vmie has no "
			"command '%.*s'\n", path,
			(int)(strlen(name) > 7 ? strlen(name) - 7 : 0), name + 5);
		return 1;
	}

	size_t n = strlen(path) + 5;
	char *tmp = malloc(n);
	if (!tmp)
		return 1;
	snprintf(tmp, n, "%s.tmp", path);
	int rc = 1;
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "vmie-docgen: cannot write %s: %s\n", tmp,
			strerror(errno));
		goto out;
	}
	rc = gen ? gen(f) : gen_man_command(f, cmd);
	if (fclose(f) != 0 && rc == 0) {
		fprintf(stderr, "vmie-docgen: cannot write %s: %s\n", tmp,
			strerror(errno));
		rc = 1;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		fprintf(stderr, "vmie-docgen: cannot rename %s: %s\n", tmp,
			strerror(errno));
		rc = 1;
	}
	if (rc != 0)
		remove(tmp);
out:
	free(tmp);
	return rc;
}

/* When man pages are asked for, every command has its page among them. */
static int check_pages(int argc, char **argv)
{
	int rc = 0;
	for (size_t i = 0; cli_commands[i]; i++) {
		const struct cli_command *cmd = cli_commands[i];
		bool found = false;
		for (int j = 1; j < argc && !found; j++)
			found = page_command(base_name(argv[j])) == cmd;
		if (!found) {
			fprintf(stderr, "vmie-docgen: command '%s' has no man "
				"page: add 'vmie-%s.1' to the outputs in "
				"doc/meson.build\n", cmd->name, cmd->name);
			rc = 1;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vmie-docgen OUTPUT...  (vmie.1, "
			"vmie-COMMAND.1, vmie: bash, _vmie: zsh)\n");
		return 2;
	}
	bool pages = false;
	for (int i = 1; i < argc; i++)
		pages |= strstr(base_name(argv[i]), ".1") != NULL;
	int rc = pages ? check_pages(argc, argv) : 0;
	for (int i = 1; i < argc; i++)
		rc |= write_one(argv[i]);
	return rc;
}
