/*
 * The upload phase of an import: a local file or an http(s) URL, decoded
 * when compressed, made a streamOptimized VMDK on the way when it is a
 * disk vmie can read (import_format.c), sniffed as it passes (the sniffer
 * sees what is sent), sent to S3 in parts.  The disk's head is checked
 * before anything but the first part has been read, so an image AWS
 * would refuse costs seconds, not the whole upload.
 */
#include "workflow/import_steps.h"

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
#include "transfer/sniff.h"
#include "transfer/source.h"
#include "transfer/upload.h"
#include "workflow/import_format.h"
#include "workflow/import_plan.h"
#include "workflow/transfer_settings.h"

#define DEFAULT_STORAGE_CLASS "STANDARD_IA"

typedef struct upload_ctx {
	vwf_run *run;
	vwf_upload_src up;
	vsource *src;
	vsniff sniff;
	vimg_info head; /* what the head said */
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

int vwf_import_upload(vwf_run *r, vmie_source_kind kind, const char *bucket,
		      vwf_disk *disk, vmie_error *err)
{
	const vmie_options *o = r->opts;
	upload_ctx u = {.run = r};
	vupload_result up = {0};
	vkv meta = VKV_INIT;
	char *key = NULL;
	int rc;

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
	upload_metadata(&meta);
	vupload_opts uo = {
		.client = r->client,
		.bucket = bucket,
		.key = key,
		.storage_class = o->storage_class ? o->storage_class : DEFAULT_STORAGE_CLASS,
		.metadata = &meta,
		.parallel = xs.parallel,
		.part_size = (size_t)vwf_part_size(&xs, vsource_size(u.src)),
		.max_bps = xs.max_bps,
		.progress = on_progress,
		.progress_ctx = &u,
		.cancel = o->cancel,
		.check_head = check_head,
		.check_ctx = &u,
		.on_bytes = on_bytes,
		.bytes_ctx = &u,
	};
	vwf_phase_begin(r, "upload");
	vlog_info("uploading to s3://%s/%s", bucket, key);
	rc = vupload_run(&uo, u.src, &up, err);
	if (rc != 0)
		goto out;
	vimg_format f = vsniff_format(&u.sniff);
	disk->bucket = xstrdup(bucket);
	disk->key = key;
	key = NULL;
	disk->format = xstrdup(vimg_format_name(f));
	disk->size = up.size;
	r->res->uploaded_bytes += up.size;
	/* A RAW image sent as it is: its bytes are the disk. */
	r->res->disk_bytes += u.up.disk_bytes ? u.up.disk_bytes
			      : f == VIMG_RAW ? up.size : 0;
	if (u.up.vmdk)
		vlog_info("sent a %llu-byte disk as %llu bytes of VMDK (%.1f%%)",
			  (unsigned long long)u.up.disk_bytes,
			  (unsigned long long)up.size,
			  u.up.disk_bytes ? 100.0 * (double)up.size /
						    (double)u.up.disk_bytes
					  : 0.0);
	vwf_phase_end(r, up.size);
out:
	if (rc != 0 && r->phase)
		r->phase = NULL;
	vupload_result_free(&up);
	vkv_free(&meta);
	free(key);
	vimg_info_free(&u.head);
	vsniff_free(&u.sniff);
	vwf_upload_src_free(&u.up);
	return rc;
}
