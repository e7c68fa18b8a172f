/* vmie batch MANIFEST: many VMs imported (or converted) from a manifest. */
#include "cli/cli.h"
#include "cli/batch_render.h"

#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"

static cli_batch_mode mode_for(const struct cli_args *a)
{
	if (a->json_events)
		return CLI_BATCH_EVENTS;
	if (a->no_progress || a->verbosity < 0)
		return CLI_BATCH_NONE;
	return isatty(STDERR_FILENO) ? CLI_BATCH_BLOCK : CLI_BATCH_LINES;
}

/* The batch's own options, as vmie_batch takes them. */
static int batch_options(const struct cli_args *a, vmie_batch_options *o,
			 vmie_error *err)
{
	int rc = 0;
	memset(o, 0, sizeof(*o));
	if (a->noperands != 1) {
		if (a->noperands)
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "vmie batch takes one "
				 "MANIFEST, not %zu", a->noperands);
		else
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "vmie batch needs a "
				 "MANIFEST");
		return verr_hint(err, "Run 'vmie batch --help' for the manifest's "
				 "format");
	}
	o->manifest = a->operands[0];
	o->defaults = a->opts;
	o->export_all = a->given[OPT_EXPORT] != NULL;
	o->max_tasks = a->opts.max_tasks;
	o->max_instances = a->opts.max_instances;
	if (a->given[OPT_MAX_UPLOADS])
		rc = cli_parse_count("max-uploads", a->given[OPT_MAX_UPLOADS], 100,
				     &o->max_uploads, err);
	if (rc == 0 && a->given[OPT_SHARD_COUNT])
		rc = cli_parse_count("shard-count", a->given[OPT_SHARD_COUNT], 10000,
				     &o->shard_count, err);
	o->shard = a->given[OPT_SHARD];
	o->skip_invalid = a->given[OPT_SKIP_INVALID] != NULL;
	o->retry_failed = a->given[OPT_RETRY_FAILED] != NULL;
	o->results_dir = a->given[OPT_RESULTS];
	/* Each VM runs in this very binary, whatever PATH says. */
	o->exe = "/proc/self/exe";
	o->cancel = cli_cancel_flag();
	return rc;
}

static void summary_text(const vmie_batch_result *r)
{
	printf("vmie batch: %u of %u VM%s succeeded", r->succeeded, r->rows,
	       r->rows == 1 ? "" : "s");
	if (r->earlier)
		printf(" (%u done earlier)", r->earlier);
	if (r->failed)
		printf(", %u failed", r->failed);
	if (r->invalid)
		printf(", %u invalid", r->invalid);
	if (r->interrupted)
		printf(", %u not finished", r->interrupted);
	printf("%s%s\n", r->shard ? " in shard " : "", r->shard ? r->shard : "");
	if (r->results_csv)
		printf("  Results:         %s\n                   %s\n", r->results_csv,
		       r->results_json);
	fflush(stdout);
}

static void summary_json(const vmie_batch_result *r, const vmie_error *err,
			 int exit_status)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_integer(err ? err->status : 0));
	json_object_set_new(o, "operation", json_string("batch"));
	json_object_set_new(o, "rows", json_integer(r->rows));
	json_object_set_new(o, "succeeded", json_integer(r->succeeded));
	json_object_set_new(o, "earlier", json_integer(r->earlier));
	json_object_set_new(o, "failed", json_integer(r->failed));
	json_object_set_new(o, "invalid", json_integer(r->invalid));
	json_object_set_new(o, "not_finished", json_integer(r->interrupted));
	json_object_set_new(o, "shard", r->shard ? json_string(r->shard) : json_null());
	json_object_set_new(o, "results_csv", r->results_csv ? json_string(r->results_csv)
							     : json_null());
	json_object_set_new(o, "results_json", r->results_json
				? json_string(r->results_json) : json_null());
	json_object_set_new(o, "error", err && err->message
				? json_pack("{s:s, s:s, s:s?}", "code",
					    vmie_status_name(err->status), "message",
					    err->message, "hint", err->hint)
				: json_null());
	json_object_set_new(o, "exit_status", json_integer(exit_status));
	cli_json_print(o);
}

static int run_batch(const struct cli_args *a)
{
	vmie_error err = {0};
	vmie_batch_result res = {0};
	vmie_batch_options o;
	struct cli_log l;
	int exit_status;

	if (cli_check_required(a, &err) != 0 || batch_options(a, &o, &err) != 0) {
		exit_status = cli_usage_error(a, &err);
		vmie_error_clear(&err);
		return exit_status;
	}
	cli_log_start(&l, a);
	cli_batch_render *render = cli_batch_render_new(
		mode_for(a) == CLI_BATCH_EVENTS ? stdout : stderr, mode_for(a));
	l.clear = cli_batch_render_clear;
	l.clear_ctx = render;
	o.on_event = cli_batch_render_event;
	o.event_ctx = render;

	int rc = cli_interrupted() ? VMIE_ERR_INTERRUPTED : vmie_batch(&o, &res, &err);
	cli_batch_render_clear(render);
	if (rc == VMIE_ERR_INTERRUPTED && !err.message)
		verr_set(&err, rc, "vmie batch: interrupted");
	exit_status = rc ? cli_exit_status(rc) : CLI_EXIT_OK;
	if (rc != 0)
		cli_report_lines(&l, &err);
	if (a->json)
		summary_json(&res, rc ? &err : NULL, exit_status);
	else if (!a->json_events && a->verbosity >= 0 && res.rows)
		summary_text(&res);
	if (rc != 0 && l.file)
		fprintf(stderr, "vmie: full log: %s\n", l.file_path);
	vmie_batch_result_free(&res);
	vmie_error_clear(&err);
	l.clear = NULL;
	cli_batch_render_free(render);
	cli_log_free(&l);
	return exit_status;
}

const struct cli_command cli_cmd_batch = {
	.name = "batch",
	.usage_name = "vmie batch",
	.summary = "import (or convert) many VMs from a manifest",
	.description =
		"Import the VMs a manifest lists, each as vmie import (or vmie "
		"convert, with --export or an export column) would, within AWS's "
		"quotas.  MANIFEST is a CSV file with a header row (what a VMware "
		"inventory export gives) or JSON Lines; its columns are the long "
		"names of import's and convert's options (source, s3-key, "
		"description, license-type, boot-mode, tag, install-sanbootable, "
		"export, export-format, download, ...) plus name, and the options "
		"on the command line are every row's defaults.  Every row is "
		"checked (a local image preflighted) before anything starts.  "
		"Run the same command again to go on: VMs done are skipped while "
		"their AMI exists, stopped ones resume, failed ones run again with "
		"--retry-failed.  --shard I/N (or a Kubernetes Indexed Job or AWS "
		"Batch array job) splits the rows among hosts that share the "
		"task quota through the bucket.  Exit status 0 only when every "
		"row succeeded; 1 when some did not (see the results files).",
	.example =
		"  vmie batch --region us-west-2 --s3-bucket my-bucket vms.csv\n"
		"  vmie batch -b my-bucket --export --max-tasks 3 vms.jsonl\n"
		"  vmie batch -b my-bucket --shard 0/4 --results /shared/run1 vms.csv",
	.operands = "MANIFEST",
	.allowed = OPTBIT(OPT_REGION) | OPTBIT(OPT_S3_BUCKET) | CLI_SANBOOT_OPTIONS |
		   OPTBIT(OPT_LICENSE_TYPE) | OPTBIT(OPT_USAGE_OPERATION) |
		   OPTBIT(OPT_FORCE) |
		   (CLI_IMPORT_OPTIONS & ~(OPTBIT(OPT_UPLOAD_ONLY) | OPTBIT(OPT_S3_KEY))) |
		   (CLI_EXPORT_OPTIONS & ~OPTBIT(OPT_DOWNLOAD)) |
		   (CLI_SLOT_OPTIONS & ~OPTBIT(OPT_SKIP_SETUP)) | OPTBIT(OPT_EXPORT) |
		   OPTBIT(OPT_MAX_UPLOADS) | OPTBIT(OPT_SHARD) | OPTBIT(OPT_SHARD_COUNT) |
		   OPTBIT(OPT_SKIP_INVALID) | OPTBIT(OPT_RETRY_FAILED) |
		   OPTBIT(OPT_RESULTS),
	.required = OPTBIT(OPT_S3_BUCKET),
	.run = run_batch,
};
