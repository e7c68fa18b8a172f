/*
 * The upload phase of an import: a local file or an http(s) URL, decoded
 * when compressed, made a streamOptimized VMDK on the way when it is a
 * disk vmie can read (import_format.c), sniffed as it passes (the sniffer
 * sees what is sent), sent to S3 in parts.  The disk's head is checked
 * before anything but the first part has been read, so an image AWS
 * would refuse costs seconds, not the whole upload.
 *
 * Journaled (journal_steps.h, "upload"): the intent before the multipart
 * upload is created, its id, every part S3 holds, and the part size, so
 * that the same command cuts the same parts.  An interrupted upload goes
 * on where it stopped (import_resume.c says from where): a file or a URL
 * that serves ranges, sent as it is, is read from the first missing part
 * on, its head read again for the checks; a compressed stream, or a VMDK
 * made on the fly (the same disk gives the same bytes), is made again
 * from the start, the parts S3 holds compared instead of sent.
 */
#include "workflow/import_steps.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/client.h"
#include "aws/config.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/kv.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"
#include "transfer/sniff.h"
#include "workflow/import_plan.h"
#include "workflow/journal_steps.h"
#include "transfer/source.h"
#include "transfer/upload.h"
#include "workflow/import_format.h"
#include "workflow/import_plan.h"
#include "workflow/transfer_settings.h"

#define DEFAULT_STORAGE_CLASS "STANDARD_IA"
/* Of a resumed upload's head, read again for the checks: what the
 * sniffer keeps, and what the head-decided checks look at. */
#define HEAD_AGAIN VSNIFF_HEAD

typedef struct upload_ctx {
	vwf_run *run;
	vwf_upload_src up;
	vsource *src;
	vsniff sniff;
	vimg_info head; /* what the head said */
	json_t *step;   /* the journal's "upload" step; NULL: no journal */
} upload_ctx;

/* Progress in image bytes when their total is known; for a compressed
 * stream of unknown decoded size, in bytes of the compressed source,
 * whose total is usually known. */
static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	upload_ctx *u = ctx;
	if (!total && vsource_raw_size(u->src))
		vwf_progress(u->run, vsource_raw_offset(u->src), vsource_raw_size(u->src));
	else
		vwf_progress(u->run, done, total);
}

static void on_bytes(void *ctx, const void *data, size_t len)
{
	upload_ctx *u = ctx;
	vsniff_feed(&u->sniff, data, len);
}

static int check_head(void *ctx, const void *head, size_t len, vmie_error *err)
{
	upload_ctx *u = ctx;
	const vmie_options *o = u->run->opts;

	/* A VMDK made on the fly: the checks are about its disk. */
	size_t disk_len;
	const void *disk = vsource_vmdk_head(u->src, &disk_len);
	if (disk) {
		head = disk;
		len = disk_len;
	}
	vsniff_check_head(head, len, &u->head);
	vimg_check_boot_mode(&u->head, o->boot_mode);
	/* An image holds no more than its header declares: a stream that
	 * goes on past that (a decompression bomb) stops there.  (A VMDK
	 * made on the fly holds its disk to the size it announced.) */
	vimg_reader hr;
	const char *what;
	vimg_reader_mem(&hr, head, len);
	uint64_t bound = disk ? 0 : vimg_declared_size_bound(&hr, &what);
	if (bound && bound < vimg_max_image_size())
		vsource_limit(u->src, bound, what);
	for (size_t i = 0; i < u->head.nfindings; i++) {
		const vimg_finding *f = &u->head.findings[i];
		if (f->severity != VIMG_ERROR) {
			vlog_warn("%s [%s]", f->message, f->code);
			continue;
		}
		if (o->force) {
			vlog_warn("image check overridden by --force: %s", f->message);
			continue;
		}
		verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
			 "the image would not import: %s", f->message);
		verr_hint(err, "%s%sfix the image, or pass --force to upload it anyway",
			  f->aws ? f->aws : "", f->aws ? "; " : "");
		return VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
	}
	return 0;
}

/* The journal's side of the upload engine. */
static void on_upload_id(void *ctx, const char *upload_id)
{
	upload_ctx *u = ctx;
	vwf_jset(u->step, "upload_id", upload_id);
	vwf_journal_save(u->run->journal);
}

/* parts[n - 1] is part n: [n, size, CRC32C], null while S3 lacks it. */
static void on_part(void *ctx, unsigned part, uint64_t size, uint32_t crc)
{
	upload_ctx *u = ctx;
	json_t *parts = json_object_get(u->step, "parts");
	char b64[9];
	if (!parts || !part)
		return;
	while (json_array_size(parts) < part)
		json_array_append_new(parts, json_null());
	vcrc32c_b64(crc, b64);
	json_array_set_new(parts, part - 1, json_pack("[I, I, s]", (json_int_t)part,
						      (json_int_t)size, b64));
	vwf_journal_save_soon(u->run->journal);
}

static void on_all_parts(void *ctx)
{
	upload_ctx *u = ctx;
	vwf_journal_save(u->run->journal);
}

static void upload_metadata(vkv *meta)
{
	char ts[VISOTIME_LEN];
	vbuf by = VBUF_INIT;

	visotime_format(time(NULL), ts);
	vbuf_addf(&by, "vmie/%s", vmie_version());
	vkv_add(meta, "uploaded-by", vbuf_str(&by));
	vkv_add(meta, "timestamp", ts);
	vbuf_free(&by);
}

/* A run that died between CreateMultipartUpload and the journal's note
 * of its id left an empty upload of the key (its request may even land
 * after the rerun began): aborted, before a new upload and once this one
 * is complete, so that nothing lingers.  Uploads of the key begun since
 * the run did (5 minutes of slack for S3's clock). */
static void abort_unrecorded(upload_ctx *u, const char *bucket, const char *key)
{
	long long since = vwf_ji(vwf_journal_doc(u->run->journal), "created", 0);
	char **ids = NULL;
	size_t n = 0;
	vmie_error e = {0};
	if (!bucket || !key || !since || !u->step)
		return;
	if (vupload_list_uploads(u->run->client, bucket, key, since - 300, &ids, &n, &e) == 0)
		for (size_t i = 0; i < n; i++)
			if (vupload_abort(u->run->client, bucket, key, ids[i]))
				vlog_info("aborted the upload %s the interrupted run began "
					  "(its id was never recorded)", ids[i]);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	vmie_error_clear(&e);
}

/* The intent, before CreateMultipartUpload: where, how the parts are cut,
 * and what the source was. */
static void journal_intent(upload_ctx *u, const char *bucket, const char *key,
			   size_t part_size)
{
	json_t *st = u->step;
	json_t *opts = json_incref(json_object_get(st, "options"));
	json_object_clear(st);
	if (opts)
		json_object_set_new(st, "options", opts);
	vwf_step_state(st, "started");
	vwf_jset(st, "bucket", bucket);
	vwf_jset(st, "key", key);
	vwf_jseti(st, "size", (long long)vsource_size(u->src));
	vwf_jseti(st, "part_size", (long long)part_size);
	vwf_jset(st, "compression", vimg_compression_name(vsource_compression(u->src)));
	vwf_jset(st, "sent", u->up.vmdk ? "vmdk" : "as-is");
	vwf_jseti(st, "started_at", (long long)time(NULL));
	json_object_set_new(st, "source", json_pack("{s:s?, s:I}", "validator",
						    vsource_validator(u->src), "length",
						    (json_int_t)vsource_raw_size(u->src)));
	json_object_set_new(st, "parts", json_array());
	vwf_journal_save(u->run->journal);
}

/* The head of a resumed upload, read again for the checks and the
 * sniffer, then the source positioned at the first missing part.  0, or
 * a status (the head refused, the source not the same). */
static int skip_held(upload_ctx *u, const vupload_resume *rs, vmie_error *err)
{
	size_t want = rs->offset < HEAD_AGAIN ? (size_t)rs->offset : HEAD_AGAIN;
	unsigned char *head = xmalloc(want);
	size_t got = 0;
	int rc = 0;
	while (got < want) {
		long long n = vsource_read(u->src, head + got, want - got, err);
		if (n < 0) {
			rc = err && err->status ? err->status : VMIE_ERR_FILE_PROCESS_FAILED;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	vsniff_feed(&u->sniff, head, got);
	if ((rc = check_head(u, head, got, err)) != 0)
		goto out;
	rc = vsource_seek(u->src, rs->offset, err);
	if (rc == 0)
		vsniff_skip(&u->sniff, rs->offset - got);
out:
	free(head);
	return rc;
}

/* An upload to go on with: the resume ready (the source positioned), the
 * message said.  VWF_UPLOAD_NEW / VWF_UPLOAD_COMPLETED as planned. */
static int resume_upload(upload_ctx *u, vwf_upload_resume *plan, vmie_error *err)
{
	int rc = vwf_upload_plan_resume(u->run, u->step, u->src, plan, err);
	if (rc != 0)
		return rc;
	vupload_resume *rs = &plan->rs;
	/* A source that cannot seek is read from its start: the parts S3
	 * holds are compared as they pass, not sent again. */
	if (rs->first_part > 1 && !vsource_seekable(u->src)) {
		rs->first_part = 1;
		rs->offset = 0;
	}
	uint64_t size = vsource_size(u->src), psize = (uint64_t)vwf_ji(u->step, "part_size", 0);
	vbuf of = VBUF_INIT;
	if (size && psize)
		vbuf_addf(&of, " of %" PRIu64, (size + psize - 1) / psize);
	/* A VMDK made on the fly has no size before its end: no percentage. */
	char at[32] = "";
	if (size)
		snprintf(at, sizeof at, " stopped at %d %%", (int)(plan->held * 100 / size));
	vlog_info("resuming the upload of %s%s: %zu%s %s in S3%s",
		  vsource_name(u->src), at, plan->nparts, vbuf_str(&of),
		  plan->nparts == 1 && !of.len ? "part is" : "parts are",
		  rs->first_part > 1 ? ""
		  : u->up.vmdk ? "; making the VMDK again from the disk's start to "
				 "check them (the same disk gives the same bytes)"
			       : "; reading the image again from its start to check them");
	vbuf_free(&of);
	if (rs->first_part > 1)
		rc = skip_held(u, rs, err);
	return rc;
}

/* The earlier run's object: its format and size from S3. */
static int adopt_object(upload_ctx *u, vwf_disk *disk, vmie_error *err)
{
	disk->bucket = xstrdup(vwf_js(u->step, "bucket"));
	disk->key = xstrdup(vwf_js(u->step, "key"));
	int rc = vwf_import_check_object(u->run, disk, err);
	if (rc == 0)
		vlog_info("the interrupted run completed the upload: s3://%s/%s is there",
			  disk->bucket, disk->key);
	return rc;
}

static void journal_done(upload_ctx *u, const vwf_disk *disk, const vupload_result *up)
{
	json_t *st = u->step;
	vwf_step_state(st, "done");
	vwf_jset(st, "format", disk->format);
	vwf_jseti(st, "object_size", (long long)disk->size);
	vwf_jseti(st, "disk_bytes", (long long)u->run->res->disk_bytes);
	vwf_jset(st, "etag", up ? up->etag : NULL);
	vwf_jset(st, "checksum", up ? up->checksum_crc32c : NULL);
	json_object_del(st, "parts");
	vwf_journal_save(u->run->journal);
}

/* An upload done by an earlier run of this command. */
static void from_journal(const json_t *st, vwf_disk *disk)
{
	disk->bucket = xstrdup(vwf_js(st, "bucket"));
	disk->key = xstrdup(vwf_js(st, "key"));
	disk->format = xstrdup(vwf_js(st, "format"));
	disk->size = (uint64_t)vwf_ji(st, "object_size", 0);
	vlog_info("the image is in S3 already: s3://%s/%s (%s, uploaded by an "
		  "earlier run)", disk->bucket, disk->key, disk->format);
}

int vwf_import_upload(vwf_run *r, vmie_source_kind kind, const char *bucket,
		      vwf_disk *disk, vmie_error *err)
{
	const vmie_options *o = r->opts;
	upload_ctx u = {.run = r};
	vupload_result up = {0};
	vwf_upload_resume plan = {0};
	vkv meta = VKV_INIT;
	char *key = NULL;
	int rc;

	if (vwf_journal_step_done(r->journal, VWF_STEP_UPLOAD)) {
		from_journal(vwf_journal_step_if(r->journal, VWF_STEP_UPLOAD), disk);
		if (!r->res->uploaded_bytes)
			r->res->uploaded_bytes = disk->size;
		if (!r->res->disk_bytes)
			r->res->disk_bytes = (uint64_t)vwf_ji(vwf_journal_step_if(r->journal,
										VWF_STEP_UPLOAD),
							     "disk_bytes", 0);
		return 0;
	}
	if ((rc = vwf_journal_step_options(r->journal, VWF_STEP_UPLOAD, o, err)) != 0)
		return rc;
	u.step = vwf_journal_step(r->journal, VWF_STEP_UPLOAD);
	vsniff_init(&u.sniff);
	rc = vwf_open_upload_source(r, kind, &u.up, err);
	if (rc != 0)
		goto out;
	u.src = u.up.src;
	key = o->s3_key ? xstrdup(o->s3_key) : vwf_upload_key(u.up.name);
	if (vsource_compression(u.src) != VIMG_COMP_NONE)
		vlog_info("decompressing %s as it uploads",
			  vimg_compression_name(vsource_compression(u.src)));
	vwf_transfer xs = {0};
	rc = vwf_transfer_settings(r, &xs, err);
	if (rc != 0)
		goto out;
	vwf_phase_begin(r, "upload");
	/* The interrupted run meant to create an upload, and died before it
	 * knew the id. */
	bool unrecorded = vwf_ji(u.step, "started_at", 0) && !vwf_js(u.step, "upload_id");
	rc = u.step && vwf_js(u.step, "upload_id") ? resume_upload(&u, &plan, err)
						   : VWF_UPLOAD_NEW;
	if (rc == VWF_UPLOAD_COMPLETED) {
		rc = adopt_object(&u, disk, err);
		if (rc == 0) {
			r->res->uploaded_bytes += disk->size;
			r->res->disk_bytes += u.up.disk_bytes;
			journal_done(&u, disk, NULL);
			vwf_phase_end(r, 0);
		}
		goto out;
	}
	if (rc == VWF_UPLOAD_NEW) {
		if (unrecorded)
			abort_unrecorded(&u, bucket, key);
		/* The first part's size, from the profile's s3 settings: a
		 * resumed run cuts the parts this one cuts, whatever the
		 * settings say by then. */
		uint64_t psize = vwf_part_size(&xs, vsource_size(u.src));
		journal_intent(&u, bucket, key, psize ? (size_t)psize
					       : vupload_part_size(vsource_size(u.src), 1));
		if (unrecorded)
			vwf_jsetb(u.step, "unrecorded", true);
	}
	else if (rc != 0)
		goto out;
	else if (vwf_js(u.step, "key") && strcmp(key, vwf_js(u.step, "key")) != 0) {
		/* The upload goes on under the key it was begun with. */
		free(key);
		key = xstrdup(vwf_js(u.step, "key"));
	}
	upload_metadata(&meta);
	vupload_opts uo = {
		.client = r->client,
		.bucket = bucket,
		.key = key,
		.storage_class = o->storage_class ? o->storage_class : DEFAULT_STORAGE_CLASS,
		.metadata = &meta,
		.parallel = xs.parallel,
		.part_size = u.step ? (size_t)vwf_ji(u.step, "part_size", 0)
				    : (size_t)vwf_part_size(&xs, vsource_size(u.src)),
		.max_bps = xs.max_bps,
		.progress = on_progress,
		.progress_ctx = &u,
		.cancel = o->cancel,
		.check_head = check_head,
		.check_ctx = &u,
		.on_bytes = on_bytes,
		.bytes_ctx = &u,
		.resume = plan.rs.upload_id ? &plan.rs : NULL,
		.keep_on_failure = u.step != NULL,
		.on_upload_id = u.step ? on_upload_id : NULL,
		.on_part = u.step ? on_part : NULL,
		.on_all_parts = u.step ? on_all_parts : NULL,
		.journal_ctx = &u,
	};
	vlog_info("uploading to s3://%s/%s", bucket, key);
	rc = vupload_run(&uo, u.src, &up, err);
	if (rc != 0) {
		/* A refused image's upload is aborted: nothing to go on from.
		 * Any other failure keeps it for the same command. */
		if (rc == VMIE_ERR_FILE_UNSUPPORTED_FORMAT && !up.kept)
			vwf_journal_step_drop(r->journal, VWF_STEP_UPLOAD);
		vwf_journal_save(r->journal);
		goto out;
	}
	if (u.step && vwf_jb(u.step, "unrecorded"))
		abort_unrecorded(&u, bucket, key);
	vimg_format f = vsniff_format(&u.sniff);
	disk->bucket = xstrdup(bucket);
	disk->key = key;
	key = NULL;
	disk->format = xstrdup(vimg_format_name(f));
	disk->size = up.size;
	if (plan.rs.upload_id)
		vlog_info("sent %" PRIu64 " of %" PRIu64 " bytes: the rest was in S3 already",
			  up.sent, up.size);
	r->res->uploaded_bytes += up.size;
	/* A RAW image sent as it is: its bytes are the disk. */
	r->res->disk_bytes += u.up.disk_bytes ? u.up.disk_bytes
			      : f == VIMG_RAW ? up.size : 0;
	journal_done(&u, disk, &up);
	if (u.up.vmdk)
		vlog_info("sent a %llu-byte disk as %llu bytes of VMDK (%.1f%%)",
			  (unsigned long long)u.up.disk_bytes,
			  (unsigned long long)up.size,
			  u.up.disk_bytes ? 100.0 * (double)up.size /
						    (double)u.up.disk_bytes
					  : 0.0);
	vwf_phase_end(r, up.sent);
out:
	if (rc != 0 && r->phase)
		r->phase = NULL;
	vwf_upload_resume_free(&plan);
	vupload_result_free(&up);
	vkv_free(&meta);
	free(key);
	vimg_info_free(&u.head);
	vsniff_free(&u.sniff);
	vwf_upload_src_free(&u.up);
	return rc;
}
