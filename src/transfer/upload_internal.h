/*
 * The upload engine's pieces, shared by upload.c (the run: create,
 * complete or abort), upload_pool.c (the producer thread: read + CRC into
 * part buffers), upload_send.c (the parts in flight over libcurl multi)
 * and upload_s3.c (the three control calls).  Nothing else includes it.
 *
 * Threads: the caller's thread runs everything but the producer, so the
 * client, the progress callback and check_head only ever see that thread;
 * the producer owns the source and on_bytes.  They meet in the pool,
 * under its mutex.
 */
#ifndef VMIE_TRANSFER_UPLOAD_INTERNAL_H
#define VMIE_TRANSFER_UPLOAD_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/retry.h"
#include "codec/crc32c.h"
#include "transfer/inflight.h"
#include "transfer/upload.h"

#define VUP_MIN_PART (5u << 20)     /* S3's minimum for all but the last */
#define VUP_MAX_PART (5ull << 30)   /* S3's maximum part */
#define VUP_MAX_OBJECT (5ull << 40) /* S3's maximum object */

typedef enum vup_state {
	VUP_FREE,     /* the producer may take it */
	VUP_FILLING,  /* the producer reads into it (no lock held) */
	VUP_READY,    /* a whole part, waiting to be sent (or re-sent) */
	VUP_SENDING,  /* in a transfer */
} vup_state;

typedef struct vup_buf {
	unsigned char *data;
	size_t cap;
	size_t len;
	unsigned part;          /* 1-based part number */
	uint32_t crc;           /* CRC32C of data[0..len) */
	vup_state state;
	/* The sender's, while READY/SENDING: retries of this part. */
	vxfer_job job;
} vup_buf;

/* Called by the producer (any thread) when a part becomes ready or it
 * stops: wakes the sender's poll. */
typedef void (*vup_wake_fn)(void *ctx);

typedef struct vup_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* the producer waits here */
	vup_buf *bufs;
	unsigned nbufs;

	/* Settings (read only once started). */
	vsource *src;
	const vupload_opts *o;
	uint64_t size;            /* announced by the source; 0: unknown */
	vup_wake_fn wake;
	void *wake_ctx;

	/* Under mu. */
	bool head_ok;             /* check_head passed (or there is none) */
	bool eof;                 /* every part has been produced */
	unsigned nparts;          /* parts produced (or being produced) */
	int status;               /* the producer's failure, with err */
	vmie_error err;

	atomic_bool stop;         /* the sender asks the producer to stop */
	uint64_t bytes_read;      /* producer-only */
	pthread_t thread;
	bool started;
} vup_pool;

/* Lays out nbufs empty buffers (memory comes as parts need it).  A
 * resumed upload's source stands at o->resume->first_part: production
 * starts there. */
void vup_pool_init(vup_pool *p, unsigned nbufs, vsource *src,
		   const vupload_opts *o, vup_wake_fn wake, void *wake_ctx);
/* Starts the producer thread (VMIE_ERR_GENERAL_OPERATION_FAILED when
 * it cannot). */
int vup_pool_start(vup_pool *p, vmie_error *err);
/* Stops the producer (when started) and waits for it; idempotent.  A
 * read in progress finishes first. */
void vup_pool_stop(vup_pool *p);
void vup_pool_free(vup_pool *p);

/* Part size for part n of a stream of `size` bytes under these options. */
size_t vup_part_size(const vupload_opts *o, uint64_t size, unsigned n);

typedef struct vup_part {
	char *etag;
	uint32_t crc;
	uint64_t size;
} vup_part;

typedef struct vup_run {
	const vupload_opts *o;
	vsource *src;
	uint64_t size;            /* announced; 0: unknown */
	unsigned parallel;
	char *upload_id;
	vup_part *parts;          /* [part - 1], filled as parts complete */
	size_t parts_cap;
	unsigned parts_done;
	uint64_t bytes_done;      /* in completed parts */
	uint64_t progress_sent;   /* last bytes_done given to progress */
	unsigned connects;        /* connections opened for parts */
	vretry_policy retry;      /* one quota for every part of this run */
	uint64_t sent;            /* bytes of the parts this run sent */
	bool discard;             /* abort even when keep_on_failure */
} vup_run;

/* Records a part S3 holds (sent now, or kept from a resume) and tells
 * the caller's journal. */
void vup_record_part(vup_run *r, unsigned part, uint64_t size, uint32_t crc,
		     const char *etag);
/* The part S3 listed for a resumed upload, NULL when none. */
const vupload_part_info *vup_listed_part(const vup_run *r, unsigned part);

/* vxfer_ops.start for a part: UploadPart of the buffer behind sl->job
 * (upload_part.c). */
int vup_part_start(vup_run *r, vxfer *x, vxfer_slot *sl, vmie_error *err);

/* Sends every part the pool produces, up to r->parallel at once, until
 * the pool is drained (0), a part fails for good, the producer fails,
 * check_head refuses, or *cancel is set (VMIE_ERR_INTERRUPTED).  Every
 * transfer has ended when it returns. */
int vup_send_all(vup_run *r, vmie_error *err);

/* The control calls, through vaws_rest. */
int vup_s3_create(vup_run *r, vmie_error *err);
/* On success *etag and *checksum are S3's (checksum NULL when it gave
 * none). */
int vup_s3_complete(vup_run *r, char **etag, char **checksum,
		    vmie_error *err);
/* Best effort: a failure is logged (with the upload id, to clean up by
 * hand), never returned. */
void vup_s3_abort(vup_run *r);
/* After a CompleteMultipartUpload that may have gone through unanswered
 * (Ctrl-C ended the wait for it): 1 when the object is there with the
 * composite checksum `composite` (its ETag into *etag), 0 when not. */
int vup_s3_completed(vup_run *r, const char *composite, char **etag);


/* The words for a cancelled upload. */
#define VUP_INTERRUPTED "the upload was interrupted"
#define VUP_INTERRUPTED_HINT "run the same command again: the upload goes on " \
	"where it stopped"

/* VMIE_ERR_INTERRUPTED, with the words for it. */
int vup_interrupted(vmie_error *err);

#endif
