/*
 * The last words of a failed run, on stderr:
 *   vmie: error: <what failed and why>
 *   vmie: hint: <what to do>
 *   vmie: full log: <path>          (once a log file exists)
 * and, with --json, the error object on stdout as well.
 */
#include "cli/cli.h"

#include "base/buf.h"

#include <unistd.h>

#define C_RED "\033[31m"
#define C_RESET "\033[0m"

static void print_lines(bool color, const vmie_error *err,
			const char *log_path)
{
	fprintf(stderr, "%svmie: error:%s %s\n", color ? C_RED : "",
		color ? C_RESET : "",
		err->message ? err->message : vmie_status_name(err->status));
	if (err->hint)
		fprintf(stderr, "vmie: hint: %s\n", err->hint);
	if (log_path)
		fprintf(stderr, "vmie: full log: %s\n", log_path);
}

static bool made_something(const vmie_result *r)
{
	return r->s3_url || r->import_task_id || r->ami_id || r->instance_id ||
	       r->sanbootable_ami_id || r->export_task_id || r->export_url ||
	       r->download_path;
}

int cli_report_failure_result(const struct cli_args *a, struct cli_log *l,
			      const vmie_error *err, vmie_operation op,
			      const vmie_result *res)
{
	if (!a->json || !res || !made_something(res))
		return cli_report_failure(a, l, err);
	struct cli_args quiet = *a;
	quiet.json = false; /* the lines; the object comes next */
	int exit_status = cli_report_failure(&quiet, l, err);
	cli_json_error_result(err, exit_status, cli_summary_json(op, res));
	return exit_status;
}

int cli_report_failure(const struct cli_args *a, struct cli_log *l,
		       const vmie_error *err)
{
	int exit_status = cli_exit_status(err->status);
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s (%s, exit status %d)",
		  err->message ? err->message : "failed",
		  vmie_status_name(err->status), exit_status);
	cli_log_file_only(l, VMIE_LOG_ERROR, vbuf_str(&b));
	if (err->hint) {
		vbuf_reset(&b);
		vbuf_addf(&b, "hint: %s", err->hint);
		cli_log_file_only(l, VMIE_LOG_INFO, vbuf_str(&b));
	}
	vbuf_free(&b);
	print_lines(l->color, err, l->file ? l->file_path : NULL);
	if (a->json)
		cli_json_error(err, exit_status);
	return exit_status;
}

void cli_report_lines(struct cli_log *l, const vmie_error *err)
{
	cli_log_file_only(l, VMIE_LOG_ERROR, err->message ? err->message
				: vmie_status_name(err->status));
	if (err->hint) {
		vbuf b = VBUF_INIT;
		vbuf_addf(&b, "hint: %s", err->hint);
		cli_log_file_only(l, VMIE_LOG_INFO, vbuf_str(&b));
		vbuf_free(&b);
	}
	print_lines(l->color, err, NULL);
}

int cli_usage_error(const struct cli_args *a, const vmie_error *err)
{
	struct cli_log l;
	cli_log_init(&l, a);
	int rc = cli_report_failure(a, &l, err);
	cli_log_free(&l);
	return rc;
}
