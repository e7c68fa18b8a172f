/*
 * The import preflight: before a byte is uploaded, inspect a local source
 * the way `vmie inspect` does and refuse an image AWS would refuse, an
 * hour of uploading and converting earlier than AWS would.  --force
 * overrides the refusal (the checks may be wrong about an image AWS would
 * take, and the user gets the last word), never the logging.
 *
 * URL and S3 sources are not read here, nor compressed local files
 * (inspecting one would decode it all, then the upload again): their
 * checks run on the stream as it is uploaded.
 */
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "vmie.h"
#include "workflow/import_format.h"

#include <string.h>

struct tally {
	bool converts; /* the image goes as a VMDK made from its disk */
	size_t errors, warnings;
	const vimg_finding *first_error;
	vbuf first_where; /* where first_error was found */
};

static void log_finding(const char *where, const vimg_finding *f)
{
	vmie_log_level lvl = f->severity == VIMG_ERROR ? VMIE_LOG_ERROR
						       : VMIE_LOG_WARN;
	if (f->aws)
		vlog(lvl, "%s: %s [%s]; AWS: %s", where, f->message, f->code,
		     f->aws);
	else
		vlog(lvl, "%s: %s [%s]", where, f->message, f->code);
}

/* Every finding of the image and of each OVA disk, in order. */
static void log_all(const char *where, const vimg_info *info, struct tally *t)
{
	for (size_t i = 0; i < info->nfindings; i++) {
		const vimg_finding *f = &info->findings[i];
		/* What AWS would refuse is not what is sent (an OVA's disks,
		 * which go as they are, are not converted). */
		if (t->converts && info->ndisks == 0 &&
		    strcmp(f->code, "vmdk-not-stream-optimized") == 0) {
			vlog_info("preflight: %s: a %s VMDK, which AWS does not "
				  "import: vmie sends its disk as a streamOptimized "
				  "VMDK instead", where, info->subformat);
			continue;
		}
		log_finding(where, f);
		if (f->severity != VIMG_ERROR) {
			t->warnings++;
			continue;
		}
		if (!t->errors++) {
			t->first_error = f;
			vbuf_adds(&t->first_where, where);
		}
	}
	for (size_t i = 0; i < info->ndisks; i++) {
		const vimg_disk *d = &info->disks[i];
		if (!d->info)
			continue; /* the OVA's own findings say it is missing */
		vbuf w = VBUF_INIT;
		vbuf_addf(&w, "%s, disk %s", where, d->href ? d->href : "?");
		bool converts = t->converts;
		t->converts = false;
		log_all(vbuf_str(&w), d->info, t);
		t->converts = converts;
		vbuf_free(&w);
	}
}

static void log_summary(const char *path, const vimg_info *info)
{
	const vimg_info *shown = info;
	/* An OVA's size is its first disk's: the one that becomes the root
	 * volume. */
	if (info->ndisks && info->disks[0].info)
		shown = info->disks[0].info;
	/* A refused format is not parsed: no size to show. */
	if (shown->virtual_size)
		vlog_info("preflight: %s: %s%s%s%s, virtual size %llu bytes",
			  path, vimg_format_name(info->format),
			  info->subformat[0] ? " (" : "", info->subformat,
			  info->subformat[0] ? ")" : "",
			  (unsigned long long)shown->virtual_size);
	else
		vlog_info("preflight: %s: %s", path,
			  vimg_format_name(info->format));
	if (info->compression != VIMG_COMP_NONE)
		vlog_info("preflight: %s: %s-compressed; vmie decompresses it "
			  "as it uploads", path,
			  vimg_compression_name(info->compression));
}

int vmie_preflight(const vmie_options *opts, vmie_source_kind kind,
		   vmie_error *err)
{
	vimg_info info;
	struct tally t = {false, 0, 0, NULL, VBUF_INIT};
	int rc;

	if (kind != VMIE_SOURCE_FILE) {
		vlog_debug("preflight: the source is not a local file; its "
			   "checks run on the stream as it is uploaded");
		return 0;
	}
	vimg_compression c = vwf_file_compression(opts->source);
	if (c != VIMG_COMP_NONE) {
		vlog_info("preflight: %s is %s-compressed: it is checked as it "
			  "is decompressed and uploaded", opts->source,
			  vimg_compression_name(c));
		return 0;
	}
	rc = vmie_inspect(opts->source, &info, err);
	if (rc != 0)
		return rc;
	vimg_check_boot_mode(&info, opts->boot_mode);
	log_summary(opts->source, &info);
	t.converts = vwf_converts_local(opts, &info);
	log_all(opts->source, &info, &t);
	if (!t.errors) {
		if (t.warnings)
			vlog_info("preflight: %s: no errors, %zu warning%s",
				  opts->source, t.warnings,
				  t.warnings == 1 ? "" : "s");
		else
			vlog_info("preflight: %s: no errors", opts->source);
		goto out;
	}
	if (opts->force) {
		vlog_warn("--force: going on despite %zu preflight error%s; "
			  "AWS is likely to refuse this image", t.errors,
			  t.errors == 1 ? "" : "s");
		goto out;
	}
	/* The finding itself was just logged in full; the error names it, so
	 * the last line of the run (and --json's error) says what stopped it
	 * without repeating a paragraph. */
	if (t.errors > 1)
		verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
			 "%s would not import: %s and %zu more error%s",
			 vbuf_str(&t.first_where), t.first_error->code,
			 t.errors - 1, t.errors == 2 ? "" : "s");
	else
		verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
			 "%s would not import: %s", vbuf_str(&t.first_where),
			 t.first_error->code);
	verr_hint(err, "fix the image, or pass --force to upload it anyway; "
		  "'vmie inspect %s' shows every finding", opts->source);
	rc = VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
out:
	vbuf_free(&t.first_where);
	vimg_info_free(&info);
	return rc;
}
