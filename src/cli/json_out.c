/*
 * --json: exactly one JSON object on stdout, built with jansson, so a
 * script can always `json.loads(stdout)` whatever happened.  Absent
 * fields are null rather than missing: the shape does not depend on the
 * failure.
 */
#include "cli/cli.h"

#include <jansson.h>

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void cli_json_print(void *obj)
{
	json_t *j = obj;
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(j);
}

void cli_json_error(const vmie_error *err, int exit_status)
{
	json_t *e = json_object();
	json_object_set_new(e, "code",
			    json_string(vmie_status_name(err->status)));
	json_object_set_new(e, "message", str_or_null(err->message));
	json_object_set_new(e, "hint", str_or_null(err->hint));
	json_object_set_new(e, "service", str_or_null(err->service));
	json_object_set_new(e, "operation", str_or_null(err->operation));
	json_object_set_new(e, "aws_code", str_or_null(err->aws_code));
	json_object_set_new(e, "request_id", str_or_null(err->request_id));
	json_object_set_new(e, "http_status",
			    err->http_status ? json_integer(err->http_status)
					     : json_null());

	json_t *o = json_object();
	json_object_set_new(o, "status", json_integer(err->status));
	json_object_set_new(o, "error", e);
	json_object_set_new(o, "exit_status", json_integer(exit_status));
	cli_json_print(o);
}

void cli_json_ok(const char *operation)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_integer(0));
	json_object_set_new(o, "operation", json_string(operation));
	cli_json_print(o);
}
