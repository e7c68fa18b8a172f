/*
 * --json: exactly one JSON object on stdout, built with jansson, so a
 * script can always `json.loads(stdout)` whatever happened.  Absent
 * fields are null rather than missing: the shape does not depend on the
 * failure.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* jansson takes UTF-8 only; a file name or an image's text may be
 * anything.  Bytes outside ASCII become '?' rather than the key going
 * missing (json_string returns NULL). */
static json_t *str_or_null(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char *copy = strdup(s);
	if (!copy)
		return json_null();
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j ? j : json_null();
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
	cli_json_error_result(err, exit_status, NULL);
}

void cli_json_error_result(const vmie_error *err, int exit_status, void *result)
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
	if (result) {
		json_object_del(result, "status"); /* the summary's 0 */
		json_object_set_new(o, "result", result);
	}
	cli_json_print(o);
}

void cli_json_ok(const char *operation)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_integer(0));
	json_object_set_new(o, "operation", json_string(operation));
	cli_json_print(o);
}

void cli_json_print_line(void *obj)
{
	json_t *j = obj;
	json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(j);
}

/* inspect: sizes are integers.  jansson's json_int_t is long long, and a
 * crafted image can claim more than 2^63 bytes (a VHD's size field of
 * 2^64-1): such a size goes out as the large number it is, never as a
 * negative one.  Strings the image left empty are null. */

static json_t *json_size(uint64_t n)
{
	return n <= (uint64_t)INT64_MAX ? json_integer((json_int_t)n)
					: json_real((double)n);
}

static json_t *size_or_null(uint64_t n)
{
	return n ? json_size(n) : json_null();
}

static json_t *nonempty_or_null(const char *s)
{
	return s && *s ? str_or_null(s) : json_null();
}

static json_t *partitions_json(const vimg_info *info)
{
	json_t *list = json_array();
	for (size_t i = 0; i < info->npartitions; i++) {
		const vimg_partition *p = &info->partitions[i];
		json_t *o = json_object();
		json_object_set_new(o, "index", json_integer(p->index));
		json_object_set_new(o, "start", json_size(p->start));
		json_object_set_new(o, "size", json_size(p->size));
		json_object_set_new(o, "type", json_string(p->type));
		json_object_set_new(o, "bootable", json_boolean(p->bootable));
		json_object_set_new(o, "fs", nonempty_or_null(p->fs));
		json_object_set_new(o, "os", json_string(vimg_os_name(p->os)));
		json_array_append_new(list, o);
	}
	return list;
}

static json_t *findings_json(const vimg_info *info)
{
	json_t *list = json_array();
	for (size_t i = 0; i < info->nfindings; i++) {
		const vimg_finding *f = &info->findings[i];
		json_t *o = json_object();
		json_object_set_new(o, "severity", json_string(
			f->severity == VIMG_ERROR ? "error" : "warning"));
		json_object_set_new(o, "code", str_or_null(f->code));
		json_object_set_new(o, "message", str_or_null(f->message));
		json_object_set_new(o, "aws", str_or_null(f->aws));
		json_array_append_new(list, o);
	}
	return list;
}

/* The keys of an image, for a source (top: with its file's compression
 * and sizes) and for an OVA's disk (info NULL when it is missing). */
static void image_keys(json_t *o, const vimg_info *info, bool top)
{
	json_object_set_new(o, "format", info ? json_string(
		vimg_format_name(info->format)) : json_null());
	json_object_set_new(o, "subformat",
			    info ? nonempty_or_null(info->subformat) : json_null());
	if (top) {
		json_object_set_new(o, "compression", info ? json_string(
			vimg_compression_name(info->compression)) : json_null());
	}
	json_object_set_new(o, "virtual_size", info ? json_size(info->virtual_size) : json_null());
	if (top) {
		/* An OVA's virtual_size is its boot disk's; this is all of
		 * its disks (any other image: virtual_size again). */
		json_object_set_new(o, "total_virtual_size", info ? json_size(
			vimg_total_virtual_size(info)) : json_null());
		json_object_set_new(o, "file_size", info ? json_size(info->file_size) : json_null());
		json_object_set_new(o, "image_size", info ? size_or_null(
			info->image_size) : json_null());
	}
	json_object_set_new(o, "partition_table", info ? nonempty_or_null(
		info->partition_table) : json_null());
	/* An unreadable source keeps its lists (empty) for scripts that loop
	 * over them; a missing OVA disk has none at all. */
	json_object_set_new(o, "partitions", info ? partitions_json(info)
					   : top ? json_array() : json_null());
}

static json_t *disks_json(const vimg_info *info)
{
	json_t *list = json_array();
	for (size_t i = 0; i < info->ndisks; i++) {
		const vimg_disk *d = &info->disks[i];
		json_t *o = json_object();
		json_object_set_new(o, "href", str_or_null(d->href));
		json_object_set_new(o, "capacity",
				    json_size(d->capacity));
		json_object_set_new(o, "offset",
				    json_size(d->offset));
		json_object_set_new(o, "size", json_size(d->size));
		/* A missing member: its inspection keys are null. */
		image_keys(o, d->info, false);
		json_object_set_new(o, "findings", d->info ? findings_json(d->info)
							   : json_null());
		json_object_set_new(o, "importable", d->info ? json_boolean(
			!vimg_has_errors(d->info)) : json_false());
		json_array_append_new(list, o);
	}
	return list;
}

void *cli_json_inspect(const char *source, const vimg_info *info,
		       const vmie_error *err)
{
	json_t *o = json_object();
	json_object_set_new(o, "source", str_or_null(source));
	image_keys(o, info, true);
	json_object_set_new(o, "disks", info ? disks_json(info) : json_array());
	json_object_set_new(o, "findings",
			    info ? findings_json(info) : json_array());
	json_object_set_new(o, "importable",
			    json_boolean(info && !vimg_has_errors(info)));
	json_t *e = json_null();
	if (err && err->status) {
		e = json_object();
		json_object_set_new(e, "code",
				    json_string(vmie_status_name(err->status)));
		json_object_set_new(e, "status", json_integer(err->status));
		json_object_set_new(e, "message", str_or_null(err->message));
		json_object_set_new(e, "hint", str_or_null(err->hint));
	}
	json_object_set_new(o, "error", e);
	return o;
}
