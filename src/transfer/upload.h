/*
 * The S3 multipart uploader: the sink of the import pipeline.  It reads a
 * vsource into parts from a fixed pool of buffers, sends up to `parallel`
 * parts at once over reused connections (libcurl multi), each with its
 * CRC32C in x-amz-checksum-crc32c and an UNSIGNED-PAYLOAD signature (as
 * the AWS CRT does), completes the upload and checks S3's composite
 * checksum against its own.  Memory is the pool, whatever the image size.
 *
 * An upload can go on where an earlier one stopped (vupload_resume: the
 * parts S3 lists are kept, the source read again from the first missing
 * part, or from the start with the parts S3 has checked by CRC32C instead
 * of sent).  On failure or cancellation the multipart upload is kept for
 * such a resume when the caller journals it (keep_on_failure), else
 * aborted; a failed CompleteMultipartUpload never throws the parts away.
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

/* A part S3 holds (ListParts), for a resumed upload. */
typedef struct vupload_part_info {
	unsigned number;
	uint64_t size;
	uint32_t crc;           /* the part's CRC32C, as S3 lists it */
	bool has_crc;           /* S3 listed one */
	char *etag;
} vupload_part_info;
void vupload_part_infos_free(vupload_part_info *parts, size_t n);

/* ListParts of an upload, every page: 0 with the parts in number order,
 * VUPLOAD_NO_SUCH_UPLOAD when S3 no longer knows the upload (completed or
 * aborted), or a status with err set. */
#define VUPLOAD_NO_SUCH_UPLOAD 1
int vupload_list_parts(vaws_client *c, const char *bucket, const char *key,
		       const char *upload_id, vupload_part_info **parts,
		       size_t *n, vmie_error *err);

/* ListMultipartUploads: the ids of the uploads of exactly this key that
 * began at or after `since` (epoch seconds, S3's clock), at most one
 * page (1000).  0 or a status. */
int vupload_list_uploads(vaws_client *c, const char *bucket, const char *key,
			 long long since, char ***ids, size_t *n, vmie_error *err);

/* AbortMultipartUpload, best effort: false (logged, with the command that
 * does it) when it failed. */
bool vupload_abort(vaws_client *c, const char *bucket, const char *key,
		   const char *upload_id);

/* Going on with an upload S3 already holds parts of. */
typedef struct vupload_resume {
	const char *upload_id;
	const vupload_part_info *parts; /* what S3 holds, in number order */
	size_t nparts;
	/* The source stands at the start of this part (1: at its start);
	 * every part before it is taken as S3 lists it (it must be in
	 * parts) and `offset` is their size.  A part read again that S3
	 * holds is compared (size and CRC32C), not sent; a difference means
	 * the source changed, and the upload fails (VMIE_ERR_FILE_PROCESS_FAILED). */
	unsigned first_part;
	uint64_t offset;
} vupload_resume;

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
	/* NULL: a new multipart upload. */
	const vupload_resume *resume;
	/* A failure or a cancel keeps the multipart upload for a later
	 * resume (the caller has journaled it) instead of aborting it; an
	 * image refused by check_head is aborted all the same. */
	bool keep_on_failure;
	/* For the caller's journal, from the thread that called
	 * vupload_run: the upload id as soon as S3 gives it, then each part
	 * once S3 holds it (also those a resume keeps). */
	void (*on_upload_id)(void *ctx, const char *upload_id);
	void (*on_part)(void *ctx, unsigned part, uint64_t size, uint32_t crc);
	/* Every part is in S3, CompleteMultipartUpload is next: the journal
	 * must hold them all now (a run killed during the call finds the
	 * object by their composite checksum). */
	void (*on_all_parts)(void *ctx);
	void *journal_ctx;
} vupload_opts;

typedef struct vupload_result {
	char *upload_id;        /* also after a failure when the upload is kept */
	bool kept;              /* failed or cancelled, the upload kept */
	char *etag;             /* the completed object's ETag */
	char *checksum_crc32c;  /* composite, base64 + "-<parts>" as S3 gives it */
	uint64_t size;
	unsigned parts;
	uint64_t sent;          /* bytes this run sent (the rest S3 had) */
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
