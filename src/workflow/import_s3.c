/*
 * Sources already in S3: an s3:// URL (imported in place, no copy) or a
 * JSON file of disk containers.  Every object is checked with HeadObject
 * before any task starts, and its format read from its first MiB and last
 * 64 KiB (two ranged GETs), so a wrong Format or a qcow2 in disguise is
 * caught here rather than by a failed task an hour later.
 */
#include "workflow/import_steps.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/s3.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "transfer/sniff.h"

/* The format from the object's two ends; the head-decidable refusals as
 * for an upload (unless --force). */
static int sniff_object(vwf_run *r, vwf_disk *d, uint64_t size, vmie_error *err)
{
	vbuf head = VBUF_INIT, tail = VBUF_INIT;
	vsniff s = {0};
	vimg_info info = {0};
	int rc;
	uint64_t hlen = size < VSNIFF_HEAD ? size : VSNIFF_HEAD;
	uint64_t tlen = size < VSNIFF_TAIL ? size : VSNIFF_TAIL;

	rc = vs3_get_range(r->client, d->bucket, d->key, 0, hlen, &head, err);
	if (rc == 0 && size > hlen)
		rc = vs3_get_range(r->client, d->bucket, d->key, size - tlen, tlen,
				   &tail, err);
	if (rc != 0)
		goto out;
	vsniff_from_ends(&s, head.data, head.len, tail.data, tail.len, size);
	vimg_format f = vsniff_format(&s);
	vsniff_check_head(head.data, head.len, &info);
	vimg_check_boot_mode(&info, r->opts->boot_mode);
	if (d->format && strcasecmp(d->format, vimg_format_name(f)) != 0)
		vlog_warn("s3://%s/%s: Format says %s but the object's content "
			  "is %s", d->bucket, d->key, d->format,
			  vimg_format_name(f));
	if (!d->format)
		d->format = xstrdup(vimg_format_name(f));
	for (size_t i = 0; i < info.nfindings; i++) {
		const vimg_finding *fi = &info.findings[i];
		if (fi->severity != VIMG_ERROR) {
			vlog_warn("s3://%s/%s: %s [%s]", d->bucket, d->key,
				  fi->message, fi->code);
			continue;
		}
		if (r->opts->force) {
			vlog_warn("image check overridden by --force: %s", fi->message);
			continue;
		}
		verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
			 "s3://%s/%s would not import: %s", d->bucket, d->key,
			 fi->message);
		verr_hint(err, "fix the image, or pass --force to import it anyway");
		rc = VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
		goto out;
	}
out:
	vimg_info_free(&info);
	vsniff_free(&s);
	vbuf_free(&head);
	vbuf_free(&tail);
	return rc;
}

static int check_object(vwf_run *r, vwf_disk *d, vmie_error *err)
{
	vs3_object obj = {0};
	int rc = vs3_head_object(r->client, d->bucket, d->key, &obj, err);

	if (rc == VS3_NOT_FOUND || (rc != 0 && err && err->http_status == 404)) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "s3://%s/%s does not exist",
			 d->bucket, d->key);
		verr_hint(err, "upload it first, or check the key (aws s3 ls "
			  "s3://%s/)", d->bucket);
		rc = VMIE_ERR_INVALID_SOURCE;
	}
	if (rc == 0 && obj.size == 0) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "s3://%s/%s is empty",
			 d->bucket, d->key);
		rc = VMIE_ERR_INVALID_SOURCE;
	}
	if (rc == 0) {
		d->size = obj.size;
		rc = sniff_object(r, d, obj.size, err);
	}
	vs3_object_free(&obj);
	return rc;
}

int vwf_import_check_object(vwf_run *r, vwf_disk *d, vmie_error *err)
{
	return check_object(r, d, err);
}

/* "s3://bucket/key": validation has checked the shape and the bucket. */
static void disk_from_url(const char *url, vwf_disk *d)
{
	const char *b = url + 5, *slash = strchr(b, '/');
	d->bucket = xstrndup(b, (size_t)(slash - b));
	d->key = xstrdup(slash + 1);
}

static int disks_from_json(const char *path, vwf_disk **out, unsigned *n,
			   vmie_error *err)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root) /* validated a moment ago; changed since? */
		return verr_set(err, VMIE_ERR_JSON_LOAD_FAILED, "--source %s: %s",
				path, jerr.text);
	size_t count = json_array_size(root);
	vwf_disk *d = xcalloc(count ? count : 1, sizeof(*d));
	for (size_t i = 0; i < count; i++) {
		json_t *c = json_array_get(root, i);
		json_t *ub = json_object_get(c, "UserBucket");
		const char *f = json_string_value(json_object_get(c, "Format"));
		const char *desc = json_string_value(json_object_get(c, "Description"));
		const char *url = json_string_value(json_object_get(c, "Url"));
		if (ub) {
			d[i].bucket = xstrdup(json_string_value(json_object_get(ub, "S3Bucket")));
			d[i].key = xstrdup(json_string_value(json_object_get(ub, "S3Key")));
		} else {
			/* An s3:// Url is checked like a UserBucket and
			 * still sent as the Url it was written as. */
			d[i].url = xstrdup(url);
			if (strncasecmp(url, "s3://", 5) == 0)
				disk_from_url(url, &d[i]);
		}
		if (f) {
			d[i].format = xstrdup(f);
			for (char *p = d[i].format; *p; p++)
				*p = (char)toupper((unsigned char)*p);
		}
		d[i].description = desc ? xstrdup(desc) : NULL;
	}
	json_decref(root);
	*out = d;
	*n = (unsigned)count;
	return 0;
}

int vwf_import_s3_objects(vwf_run *r, vmie_source_kind kind,
			  vwf_disk **disks, unsigned *ndisks, vmie_error *err)
{
	int rc = 0;

	vwf_phase_begin(r, "check");
	if (kind == VMIE_SOURCE_S3) {
		*disks = xcalloc(1, sizeof(**disks));
		*ndisks = 1;
		disk_from_url(r->opts->source, &(*disks)[0]);
	} else {
		rc = disks_from_json(r->opts->source, disks, ndisks, err);
	}
	for (unsigned i = 0; rc == 0 && i < *ndisks; i++) {
		vwf_disk *d = &(*disks)[i];
		if (!d->bucket)
			continue; /* AWS fetches an https:// Url itself */
		rc = check_object(r, d, err);
		if (rc == 0)
			vlog_info("s3://%s/%s: %s, %llu bytes", d->bucket, d->key,
				  d->format, (unsigned long long)d->size);
	}
	if (rc == 0)
		vwf_phase_end(r, 0);
	return rc;
}
