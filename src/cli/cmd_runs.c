/* vmie runs: the runs this machine keeps journals of -- how far each got,
 * the command that resumes it, the one that drops it. */
#include "cli/cli.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"

static void when(long long epoch, char *buf, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

static vmie_operation op_of(const char *name)
{
	if (name && strcmp(name, "export") == 0)
		return VMIE_OP_EXPORT;
	if (name && strcmp(name, "convert") == 0)
		return VMIE_OP_CONVERT;
	return VMIE_OP_IMPORT;
}

static void print_text(const vmie_run_info *runs, size_t n, bool all)
{
	if (!n) {
		printf("no %sruns on this machine\n", all ? "" : "unfinished ");
		return;
	}
	printf("%-16s  %-11s  %-16s  %s\n", "RUN", "STATE", "UPDATED", "WHAT");
	for (size_t i = 0; i < n; i++) {
		const vmie_run_info *r = &runs[i];
		char at[32];
		when(r->updated, at, sizeof at);
		printf("%-16s  %-11s  %-16s  %s of %s: %s\n", r->id,
		       r->running ? "running" : r->state, at, r->operation,
		       r->source ? r->source : "?", r->where ? r->where : "");
		if (r->error && strcmp(r->state, "done") != 0)
			printf("  error:   %s\n", r->error);
		if (r->running) {
			printf("  (vmie pid %ld is working on it)\n", r->pid);
			continue;
		}
		if (strcmp(r->state, "done") != 0)
			printf("  resume:  %s\n", r->command);
		printf("  %s vmie runs --discard %s\n",
		       strcmp(r->state, "done") ? "discard:" : "forget: ", r->id);
	}
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void print_json(const vmie_run_info *runs, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		const vmie_run_info *r = &runs[i];
		vbuf discard = VBUF_INIT;
		vbuf_addf(&discard, "vmie runs --discard %s", r->id);
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(r->id));
		json_object_set_new(o, "run_id", str_or_null(r->run_id));
		json_object_set_new(o, "operation", str_or_null(r->operation));
		json_object_set_new(o, "state", str_or_null(r->state));
		json_object_set_new(o, "running", json_boolean(r->running));
		json_object_set_new(o, "pid", json_integer(r->pid));
		json_object_set_new(o, "region", str_or_null(r->region));
		json_object_set_new(o, "source", str_or_null(r->source));
		json_object_set_new(o, "where", str_or_null(r->where));
		json_object_set_new(o, "error", str_or_null(r->error));
		json_object_set_new(o, "created", json_integer(r->created));
		json_object_set_new(o, "updated", json_integer(r->updated));
		json_object_set_new(o, "resume_command", str_or_null(r->command));
		json_object_set_new(o, "discard_command", json_string(vbuf_str(&discard)));
		json_object_set_new(o, "result", cli_summary_json(op_of(r->operation), &r->result));
		json_array_append_new(a, o);
		vbuf_free(&discard);
	}
	cli_json_print(a);
}

static int run_runs(const struct cli_args *a)
{
	vmie_error err = {0};
	struct cli_log l;
	int exit_status = CLI_EXIT_OK;

	cli_log_init(&l, a);
	cli_log_install(&l);
	if (a->discard) {
		cli_log_open_file(&l, a);
		cli_log_command_line(&l, a);
		if (vmie_runs_discard(&a->opts.aws, a->discard, &err) != 0)
			exit_status = cli_report_failure(a, &l, &err);
		else if (a->json)
			cli_json_ok("runs");
		else if (a->verbosity >= 0)
			printf("run %s discarded\n", a->discard);
	} else {
		vmie_run_info *runs = NULL;
		size_t n = 0;
		if (vmie_runs_list(a->all, &runs, &n, &err) != 0)
			exit_status = cli_report_failure(a, &l, &err);
		else if (a->json)
			print_json(runs, n);
		else
			print_text(runs, n, a->all);
		vmie_run_infos_free(runs, n);
	}
	vmie_error_clear(&err);
	cli_log_free(&l);
	return exit_status;
}

const struct cli_command cli_cmd_runs = {
	.name = "runs",
	.usage_name = "vmie runs",
	.summary = "list the runs that can be resumed, or drop one",
	.description =
		"Every import, export and convert keeps a journal on this machine "
		"($XDG_STATE_HOME/vmie/runs/): run the same command again and it "
		"goes on where the last run of it stopped.  'vmie runs' lists the "
		"unfinished ones (--all: the finished ones too) with how far each "
		"got, the command that resumes it and the one that drops it.  "
		"--discard RUN cleans up what that run left in AWS (aborts its "
		"multipart upload, cancels its active task, terminates its "
		"instances) and forgets it; what it finished stays.",
	.example =
		"  vmie runs\n"
		"  vmie runs --discard 3f9c0a1b2c3d4e5f",
	.allowed = OPTBIT(OPT_DISCARD) | OPTBIT(OPT_ALL),
	.required = 0,
	.run = run_runs,
};
