/*
 * The S3 multipart uploader: the sink of the import pipeline.  It reads a
 * vsource into parts from a fixed pool of buffers, sends up to `parallel`
 * parts at once over reused connections (libcurl multi), each with its
 * CRC32C in x-amz-checksum-crc32c and an UNSIGNED-PAYLOAD signature (as
 * the AWS CRT does), completes the upload and checks S3's composite
 * checksum against its own.  Memory is the pool, whatever the image size.
 * On any failure or cancellation the multipart upload is aborted.
 */
#ifndef VMIE_TRANSFER_UPLOAD_H
#define VMIE_TRANSFER_UPLOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/client.h"
#include "base/kv.h"
#include "transfer/source.h"

#define VUPLOAD_MIN_PART (8u << 20)   /* S3's minimum is 5 MiB */
#define VUPLOAD_MAX_PARTS 10000

/* Progress, called from the thread that called vupload_run. */
typedef void (*vupload_progress_fn)(void *ctx, uint64_t bytes_done,
				    uint64_t bytes_total /* 0: unknown */);

typedef struct vupload_opts {
	vaws_client *client;
	const char *bucket;
	const char *key;
	const char *storage_class;  /* NULL: S3's default (STANDARD) */
	const vkv *metadata;        /* x-amz-meta-<name>: value pairs; may be NULL */
	unsigned parallel;          /* parts in flight; 0: 4 */
	size_t part_size;           /* 0: chosen from the size (see below) */
	uint64_t max_bps;           /* bandwidth cap, bytes/s; 0: none */
	vupload_progress_fn progress;
	void *progress_ctx;
	/* Set (by a signal handler) to stop: the upload is aborted and
	 * vupload_run returns VMIE_ERR_INTERRUPTED. */
	volatile sig_atomic_t *cancel;
	/* Called on the first part's bytes (the image's head) and may refuse
	 * the upload before anything more is sent (the preflight on the
	 * stream); NULL: none.  Return 0 to go on, or a status with err set. */
	int (*check_head)(void *ctx, const void *head, size_t len,
			  vmie_error *err);
	void *check_ctx;
	/* Sees every byte of the stream once, in order, as it is read (the
	 * pipeline's sniffer); NULL: none.  Called from the thread that
	 * reads the source, never concurrently with itself. */
	void (*on_bytes)(void *ctx, const void *data, size_t len);
	void *bytes_ctx;
} vupload_opts;

typedef struct vupload_result {
	char *upload_id;
	char *etag;             /* the completed object's ETag */
	char *checksum_crc32c;  /* composite, base64 + "-<parts>" as S3 gives it */
	uint64_t size;
	unsigned parts;
	double seconds;
} vupload_result;

/* Part size for a stream of `size` bytes (0: unknown): known sizes use
 * max(VUPLOAD_MIN_PART, size / VUPLOAD_MAX_PARTS rounded up to a MiB);
 * unknown sizes start at VUPLOAD_MIN_PART and double every 1000 parts, so
 * 10,000 parts reach 8 TiB (more than S3's 5 TiB object limit). */
size_t vupload_part_size(uint64_t size, unsigned part_number);

int vupload_run(const vupload_opts *o, vsource *src, vupload_result *res,
		vmie_error *err);
void vupload_result_free(vupload_result *res);

#endif
