/*
 * What a run produced: the summary a user reads at the end (like the
 * reference tool's), or the same facts as JSON (--json).
 */
#include "cli/cli.h"
#include "cli/progress.h"

#include <jansson.h>

static void row(FILE *f, const char *label, const char *value)
{
	if (value)
		fprintf(f, "  %-16s %s\n", label, value);
}

void cli_summary_print(FILE *f, vmie_operation op, const vmie_result *r)
{
	char size[32], d[32];

	fprintf(f, "vmie %s: done\n", vmie_operation_name(op));
	row(f, "Source:", r->source);
	if (r->s3_url) {
		char line[1200], disk[32];
		cli_fmt_bytes(size, sizeof(size), (double)r->uploaded_bytes);
		cli_fmt_bytes(disk, sizeof(disk), (double)r->disk_bytes);
		if (r->uploaded_bytes && r->disk_bytes &&
		    r->disk_bytes != r->uploaded_bytes)
			snprintf(line, sizeof(line), "%s (%s, %s for a %s disk, "
				 "%.0f%%)", r->s3_url, r->format ? r->format : "?",
				 size, disk, 100.0 * (double)r->uploaded_bytes /
						     (double)r->disk_bytes);
		else if (r->uploaded_bytes)
			snprintf(line, sizeof(line), "%s (%s, %s)", r->s3_url,
				 r->format ? r->format : "?", size);
		else
			snprintf(line, sizeof(line), "%s (%s)", r->s3_url,
				 r->format ? r->format : "?");
		row(f, r->uploaded_bytes ? "Uploaded to:" : "Image:", line);
	}
	row(f, "Import task:", r->import_task_id);
	row(f, "AMI:", r->ami_id);
	for (size_t i = 0; i < r->nsnapshot_ids; i++)
		row(f, i ? "" : "Snapshots:", r->snapshot_ids[i]);
	if (r->instance_id) {
		char line[200];
		snprintf(line, sizeof(line), "%s (terminated)", r->instance_id);
		row(f, "Instance:", line);
	}
	row(f, "SSM command:", r->command_id);
	row(f, "Sanbootable AMI:", r->sanbootable_ami_id);
	row(f, "Export task:", r->export_task_id);
	if (r->export_url) {
		char line[1200];
		cli_fmt_bytes(size, sizeof(size), (double)r->export_size);
		snprintf(line, sizeof(line), "%s (%s)", r->export_url, size);
		row(f, "Exported to:", line);
	}
	if (r->download_path) {
		char line[1400], skipped[32], disk[64] = "";
		cli_fmt_bytes(size, sizeof(size), (double)r->downloaded_bytes);
		cli_fmt_bytes(skipped, sizeof(skipped), (double)r->zero_skipped);
		if (r->download_decoded) {
			char d2[32];
			cli_fmt_bytes(d2, sizeof(d2), (double)r->download_size);
			snprintf(disk, sizeof(disk), "RAW from the VMDK, a %s "
				 "disk: ", d2);
		}
		snprintf(line, sizeof(line), "%s (%s%s fetched, %s of zeros not "
			 "written; %s%s)", r->download_path, disk, size, skipped,
			 r->download_verified ? "verified with " : "NOT verified",
			 r->download_verified && r->verified_with ? r->verified_with : "");
		row(f, "Downloaded to:", line);
	}
	if (r->nphases) {
		fprintf(f, "  %-16s", "Time:");
		for (size_t i = 0; i < r->nphases; i++) {
			cli_fmt_duration(d, sizeof(d), r->phases[i].seconds);
			fprintf(f, "%s%s %s", i ? ", " : " ", r->phases[i].phase, d);
		}
		cli_fmt_duration(d, sizeof(d), r->seconds);
		fprintf(f, "; total %s\n", d);
	}
	fflush(f);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void *cli_summary_json(vmie_operation op, const vmie_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_integer(0));
	json_object_set_new(o, "operation", json_string(vmie_operation_name(op)));
	json_object_set_new(o, "source", str_or_null(r->source));
	json_object_set_new(o, "s3_url", str_or_null(r->s3_url));
	json_object_set_new(o, "format", str_or_null(r->format));
	json_object_set_new(o, "uploaded_bytes", json_integer((json_int_t)r->uploaded_bytes));
	json_object_set_new(o, "disk_bytes", r->disk_bytes
			    ? json_integer((json_int_t)r->disk_bytes) : json_null());
	json_object_set_new(o, "upload_ratio", r->disk_bytes && r->uploaded_bytes
			    ? json_real((double)r->uploaded_bytes /
					(double)r->disk_bytes) : json_null());
	json_object_set_new(o, "import_task_id", str_or_null(r->import_task_id));
	json_object_set_new(o, "ami_id", str_or_null(r->ami_id));
	json_t *snaps = json_array();
	for (size_t i = 0; i < r->nsnapshot_ids; i++)
		json_array_append_new(snaps, json_string(r->snapshot_ids[i]));
	json_object_set_new(o, "snapshot_ids", snaps);
	json_object_set_new(o, "instance_id", str_or_null(r->instance_id));
	json_object_set_new(o, "command_id", str_or_null(r->command_id));
	json_object_set_new(o, "source_ami_id", str_or_null(r->source_ami_id));
	json_object_set_new(o, "sanbootable_ami_id", str_or_null(r->sanbootable_ami_id));
	json_object_set_new(o, "export_task_id", str_or_null(r->export_task_id));
	json_object_set_new(o, "export_url", str_or_null(r->export_url));
	json_object_set_new(o, "export_size", json_integer((json_int_t)r->export_size));
	json_object_set_new(o, "download_path", str_or_null(r->download_path));
	json_object_set_new(o, "downloaded_bytes", json_integer((json_int_t)r->downloaded_bytes));
	json_object_set_new(o, "zero_skipped", json_integer((json_int_t)r->zero_skipped));
	json_object_set_new(o, "download_verified", json_boolean(r->download_verified));
	json_object_set_new(o, "verified_with", str_or_null(r->verified_with));
	json_object_set_new(o, "download_format", !r->download_path ? json_null()
			    : json_string(r->download_decoded ? "raw" : "as-is"));
	json_object_set_new(o, "download_size", json_integer((json_int_t)r->download_size));
	/* A phase that ran twice (convert's bucket and role) counts once,
	 * with both durations. */
	json_t *ph = json_object();
	for (size_t i = 0; i < r->nphases; i++) {
		json_t *prev = json_object_get(ph, r->phases[i].phase);
		double s = r->phases[i].seconds + (prev ? json_real_value(prev) : 0);
		json_object_set_new(ph, r->phases[i].phase, json_real(s));
	}
	json_object_set_new(o, "phase_seconds", ph);
	json_object_set_new(o, "seconds", json_real(r->seconds));
	return o;
}
