/*
 * Options whose values are numbers: parsed once, here, with the same
 * message for each ("--max-tasks must be a whole number from 1 to 100").
 */
#include "cli/cli.h"

#include "base/error.h"

#include <errno.h>
#include <stdlib.h>

int cli_parse_count(const char *name, const char *val, unsigned max,
		    unsigned *out, vmie_error *err)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = val && *val >= '0' && *val <= '9' ? strtoul(val, &end, 10) : 0;
	if (!end || *end || errno || v < 1 || v > max) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--%s must be a whole number "
			 "from 1 to %u, not '%s'", name, max, val ? val : "");
		return verr_hint(err, "write --%s 3", name);
	}
	*out = (unsigned)v;
	return 0;
}

int cli_parse_slot_counts(struct cli_args *a, vmie_error *err)
{
	int rc = 0;
	if (a->given[OPT_MAX_TASKS])
		rc = cli_parse_count("max-tasks", a->given[OPT_MAX_TASKS], 100,
				     &a->opts.max_tasks, err);
	if (rc == 0 && a->given[OPT_MAX_INSTANCES])
		rc = cli_parse_count("max-instances", a->given[OPT_MAX_INSTANCES], 100,
				     &a->opts.max_instances, err);
	return rc;
}
