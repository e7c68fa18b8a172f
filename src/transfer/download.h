/*
 * The S3 downloader: the export pipeline run backwards.  An object is
 * fetched with parallel ranged GETs (libcurl multi, reused connections)
 * written straight to their offsets in a regular file or a block device,
 * with memory bounded by a fixed pool whatever the object's size.
 *
 * - All-zero blocks are not written: a regular file gets holes (it is
 *   created or truncated to the object's size first); a block device is
 *   written in full unless `sparse` (for arrays that read never-written
 *   blocks as zero).
 * - The bytes are verified against what S3 gives: a full-object or
 *   composite x-amz-checksum-crc32c (HeadObject with checksum mode), else
 *   the ETag (a plain MD5, or a multipart "md5-of-md5s-N" with the part
 *   boundaries from HeadObject ?partNumber=); an object with neither is
 *   reported as unverified, never as verified.
 * - An interrupted download continues where it stopped: progress is kept
 *   in a state file beside the target (PATH.vmie-download, 0600; for a
 *   device, under $XDG_STATE_HOME/vmie/ or ~/.local/state/vmie/) naming
 *   the bucket, key, size and ETag; a changed object or target starts
 *   over.  The state file is removed when the download is verified.
 * - On failure or cancellation what was written stays (for the resume);
 *   nothing is left half-announced: the result says what is done.
 * - vmdk_to_raw: a streamOptimized VMDK (a VMDK export) is written as the
 *   RAW disk it holds while it downloads, verified and resumable alike
 *   (download_vmdk.h says how).
 */
#ifndef VMIE_TRANSFER_DOWNLOAD_H
#define VMIE_TRANSFER_DOWNLOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/client.h"
#include "vmie.h"

typedef void (*vdownload_progress_fn)(void *ctx, uint64_t bytes_done,
				      uint64_t bytes_total);

typedef struct vdownload_opts {
	vaws_client *client;
	const char *bucket;
	const char *key;
	const char *path;       /* a regular file (created 0600 if missing)
				 * or a block device */
	bool sparse;            /* devices: skip writing all-zero blocks */
	bool overwrite;         /* a regular file that exists and has no
				 * matching state file is replaced; without
				 * it that is refused (VMIE_ERR_INVALID_ARGUMENT) */
	bool vmdk_to_raw;       /* a streamOptimized VMDK is written as the
				 * RAW disk it holds (download_vmdk.h); an
				 * object that does not decode as one is
				 * written as it is, and the result says why */
	unsigned parallel;      /* ranges in flight; 0: 8 */
	size_t chunk_size;      /* 0: 16 MiB (or the part size) */
	uint64_t threshold;     /* an object smaller comes in one GET */
	uint64_t max_bps;       /* bandwidth cap, bytes/s; 0: none */
	vdownload_progress_fn progress;
	void *progress_ctx;
	volatile sig_atomic_t *cancel; /* VMIE_ERR_INTERRUPTED when set */
} vdownload_opts;

typedef struct vdownload_result {
	uint64_t size;            /* the object's */
	uint64_t fetched;         /* bytes fetched by this run */
	uint64_t resumed_from;    /* bytes already done by an earlier run */
	uint64_t zero_skipped;    /* bytes not written because all zero */
	bool verified;
	char *verified_with;      /* "crc32c", "etag-md5", "etag-multipart-md5";
				   * NULL when unverified */
	char *etag;
	double seconds;
	bool decoded;             /* the VMDK was written as its RAW disk */
	uint64_t disk_size;       /* the target's bytes: the disk's when
				   * decoded, else the object's */
	char *not_decoded;        /* vmdk_to_raw asked, but not a VMDK this
				   * decodes: why (NULL otherwise) */
} vdownload_result;
void vdownload_result_free(vdownload_result *r);

/* Errors: VMIE_ERR_FILE_DOWNLOAD_FAILED (transfer, verification: the
 * message says which), VMIE_ERR_INVALID_ARGUMENT (target unusable: a
 * device smaller than the object, a directory, an existing file without
 * overwrite), AWS errors from HeadObject (NoSuchKey ...),
 * VMIE_ERR_INTERRUPTED. */
int vdownload_run(const vdownload_opts *o, vdownload_result *res,
		  vmie_error *err);

#endif
