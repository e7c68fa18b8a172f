/*
 * The downloader's pieces, shared by download.c (the run: head, plan,
 * target, state, send, verify), download_object.c (HeadObject and the part
 * layout), download_target.c (the file or device and its writes),
 * download_state.c (the resume file), download_send.c and download_get.c
 * (the ranged GETs in flight) and download_verify.c (CRC32C / ETag), and
 * the VMDK to RAW mode's download_vmdk*.c (download_vmdk.h).
 * Nothing else includes it (but the unit tests).
 *
 * One thread: the caller's runs everything, so the client, the progress
 * callback and the target's fd only ever see that thread.
 */
#ifndef VMIE_TRANSFER_DOWNLOAD_INTERNAL_H
#define VMIE_TRANSFER_DOWNLOAD_INTERNAL_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/retry.h"
#include "transfer/download.h"
#include "transfer/inflight.h"

#define VDL_MIB (1ull << 20)
#define VDL_DEFAULT_CHUNK (16u << 20)
/* The part size is the chunk size (each part's MD5 on the fly) up to
 * this; larger parts are split and their MD5 read back from the target. */
#define VDL_MAX_PART_CHUNK (256u << 20)
#define VDL_MIN_CHUNK (64u << 10)
#define VDL_MAX_CHUNK (5ull << 30)
#define VDL_DEFAULT_PARALLEL 8
#define VDL_MAX_PARALLEL 64
/* What a slot holds before writing: the unit of zero detection's batches
 * and of memory (parallel x this). */
#define VDL_BLOCK (1u << 20)
/* All-zero detection granularity: a filesystem block. */
#define VDL_ZERO_BLOCK 4096u

/* How the bytes can be checked, best first. */
typedef enum vdl_verify_kind {
	VDL_VERIFY_NONE,
	VDL_VERIFY_CRC_FULL,       /* x-amz-checksum-crc32c of the whole object */
	VDL_VERIFY_CRC_COMPOSITE,  /* CRC32C of the parts' CRC32Cs, "-N" */
	VDL_VERIFY_CRC64,          /* x-amz-checksum-crc64nvme, whole object */
	VDL_VERIFY_MD5,            /* the ETag is the object's MD5 */
	VDL_VERIFY_MD5_MULTIPART,  /* the ETag is MD5(parts' MD5s) "-N" */
} vdl_verify_kind;

typedef struct vdl_object {
	uint64_t size;
	char *etag;               /* as S3 gives it, quoted */
	char *crc32c;             /* x-amz-checksum-crc32c; NULL: none */
	char *crc64nvme;          /* x-amz-checksum-crc64nvme; NULL: none */
	unsigned parts;           /* from the ETag / checksum "-N"; 0: one piece */
	uint64_t *part_off;       /* [parts + 1] boundaries when the
				   * verification needs them, else NULL */
	bool layout_assumed;      /* part_off from parts 1 and N only */
	bool etag_not_md5;        /* SSE-KMS / SSE-C: the ETag is opaque */
	vdl_verify_kind verify;
} vdl_object;
void vdl_object_free(vdl_object *ob);

typedef struct vdl_chunk {
	uint64_t off, len;
	unsigned part;            /* 1-based part it lies in (1: one piece) */
	bool whole_part;          /* it is exactly its part */
	bool done;
	bool active;
	bool stale;               /* may hold old bytes: zeros are written */
	uint32_t crc;             /* CRC32C of its bytes, when done */
	uint64_t crc64;           /* CRC-64/NVME of them, when verified so */
	bool has_md5;
	unsigned char md5[16];    /* MD5 of its bytes, when has_md5 */
	vxfer_job job;            /* the sender's, while not done */
} vdl_chunk;

struct vdl_vchunk;

typedef struct vdl_plan {
	vdl_chunk *chunks;
	size_t n;
	size_t chunk_size;
	/* VMDK to RAW mode: what each chunk wrote to the disk (n entries,
	 * download_vmdk.h); NULL when the object's bytes are written as
	 * they are.  Freed with the plan. */
	struct vdl_vchunk *vx;
} vdl_plan;

/* Chunks of at most chunk_size that never straddle a part boundary
 * (part_off: nparts + 1 boundaries; NULL: one piece of `size`). */
void vdl_plan_make(vdl_plan *p, uint64_t size, const uint64_t *part_off,
		   unsigned nparts, size_t chunk_size);
void vdl_plan_free(vdl_plan *p);
/* The chunk size for an object under these options (see download.h). */
size_t vdl_chunk_size(const vdownload_opts *o, const vdl_object *ob);

/* HeadObject with checksum mode, the way to verify, and (when needed)
 * the part boundaries from HeadObject ?partNumber=.  A missing object is
 * VMIE_ERR_AWS_REQUEST_FAILED with code NoSuchKey. */
int vdl_object_head(vaws_client *c, const char *bucket, const char *key,
		    vdl_object *ob, vmie_error *err);
/* Every part's size, one HeadObject each (after an assumed layout failed
 * the check); ob->part_off is replaced. */
int vdl_object_exact_layout(vaws_client *c, const char *bucket,
			    const char *key, vdl_object *ob, vmie_error *err);
/* "etag-multipart-md5"-style classification of an ETag: 0 none, 1 a plain
 * MD5 (32 hex), N > 1 md5-of-md5s of N parts.  Exposed for the tests. */
unsigned vdl_etag_parts(const char *etag, bool *is_md5);

typedef struct vdl_target {
	int fd;
	bool device;
	bool created;             /* the file did not exist */
	uint64_t dev_size;
	unsigned long long id_dev, id_ino; /* what the state file names */
	char *state_path;
} vdl_target;

/* Opens (creating 0600) the file or the device; refuses a directory, a
 * device smaller than size (`what` names those bytes in the message).
 * Does not truncate. */
int vdl_target_open(const char *path, uint64_t size, const char *what,
		    vdl_target *t, vmie_error *err);
/* A regular file becomes `size` bytes of holes. */
int vdl_target_reset(vdl_target *t, const char *path, uint64_t size,
		     vmie_error *err);
/* A chunk that may hold an interrupted run's bytes: a hole again (a file
 * that can punch holes: returns true) or not (false: write its zeros). */
bool vdl_target_punch(vdl_target *t, uint64_t off, uint64_t len);
/* Writes buf at off; all-zero VDL_ZERO_BLOCKs are skipped (counted in
 * *skipped) when skip_zero.  0 or an errno. */
int vdl_target_write(vdl_target *t, const void *buf, size_t len, uint64_t off,
		     bool skip_zero, uint64_t *skipped);
void vdl_target_close(vdl_target *t);
bool vdl_is_zero(const void *buf, size_t len);

/* Where the state of a download to path lives (see download.h). */
char *vdl_state_path(const char *path, bool device);

typedef struct vdl_state_id {
	const char *mode;         /* NULL: the object as it is; "vmdk-to-raw" */
	const char *bucket, *key, *etag;
	uint64_t size;
	size_t chunk_size;
	size_t nchunks;
	unsigned long long dev, ino;
} vdl_state_id;

/* Loads the state at path into plan (done chunks and their digests, and
 * plan->vx's entries in VMDK to RAW mode) when it names this download; otherwise nothing is marked and *why says why
 * (NULL when there is no state file).  Returns true when it matched. */
bool vdl_state_load(const char *path, const vdl_state_id *id, vdl_plan *plan,
		    char **why);
/* Atomically (temp file, fsync, rename), 0600. */
int vdl_state_save(const char *path, const vdl_state_id *id,
		   const vdl_plan *plan, vmie_error *err);

struct vdl_vmdk;

typedef struct vdl_run {
	const vdownload_opts *o;
	vdl_object obj;
	struct vdl_vmdk *vmdk;    /* VMDK to RAW mode; NULL: bytes as they are */
	char *not_decoded;        /* why a VMDK asked to be decoded is not */
	uint64_t target_size;     /* the disk's in VMDK mode, else the object's */
	vdl_plan plan;
	vdl_target t;
	vdl_state_id id;
	vretry_policy retry;
	unsigned parallel;
	bool skip_zero;
	uint64_t done_bytes;      /* in done chunks, earlier runs' included */
	uint64_t fetched;         /* body bytes this run received */
	uint64_t zero_skipped;
	uint64_t progress_sent;
	unsigned connects;
	bool dirty;               /* chunks done since the state was saved */
	long long last_save;
} vdl_run;

/* fdatasync the target, then save the state (when there is news). */
int vdl_run_save(vdl_run *r, bool force, vmie_error *err);

/* What a transfer slot holds for the download: the bytes waiting to be
 * written and the digests so far (the slot itself, its easy handle and
 * the answer's headers are inflight.c's). */
typedef struct vdl_slot {
	vdl_run *r;
	vxfer_slot *xs;              /* the slot this state belongs to */
	vdl_chunk *chunk;            /* the chunk under way; NULL: idle */
	unsigned char *buf;          /* VDL_BLOCK */
	size_t blen;
	uint64_t got;                /* body bytes of this attempt */
	uint64_t skipped;            /* zero bytes not written, this attempt */
	uint32_t crc;
	uint64_t crc64;              /* when the object is checked by it */
	EVP_MD_CTX *md5;             /* when the chunk wants its MD5 */
	int write_errno;             /* the target refused a write */
	int body;                    /* 0 unknown, 1 data, -1 error answer */
	bool bad_range;              /* the answer is not the range asked */
} vdl_slot;

/* A ranged GET of object bytes [off, end) with If-Match, its body to
 * sink(ctx) (which calls vxfer_receive first), on slot xs. */
int vdl_get_send(vdl_run *r, vxfer *x, vxfer_slot *xs, uint64_t off,
		 uint64_t end, curl_write_callback sink, void *ctx,
		 vmie_error *err);
/* The answer (status, Content-Range) is bytes [off, off+len) of an
 * object of `size` bytes. */
bool vdl_right_range(const vxfer_slot *xs, long status, uint64_t off,
		     uint64_t len, uint64_t size);
/* rs says "another range than asked for", as a dropped connection. */
void vdl_get_bad_range(vhttp_response *rs);
/* vxfer_ops.start for a chunk: its ranged GET (download_get.c). */
int vdl_get_start(vdl_run *r, vxfer *x, vxfer_slot *xs, vmie_error *err);
/* The transfer ended: the rest written, and sl->xs->rs says a short or
 * wrong-range answer as a dropped connection. */
void vdl_get_end(vdl_slot *sl);
void vdl_slot_free(vdl_slot *sl);

/* The download's side of the shared sender (download_send.c); the VMDK
 * to RAW mode's sender (download_vmdk_send.c) shares its pieces. */
typedef struct vdl_sender {
	vdl_run *r;
	vxfer *x;
	void *slots;                 /* one per vxfer slot: the mode's type */
	unsigned nslots;
	long long last_progress;
	size_t next;                 /* first chunk that may not be done */
} vdl_sender;
/* The next chunk that may start at `now` (not done, not active, its
 * not_before passed): VXFER_JOB, VXFER_NONE or VXFER_ALL_DONE. */
int vdl_send_next_chunk(vdl_sender *s, long long now, vxfer_job **job);
vdl_chunk *vdl_chunk_of(vxfer_job *job);
/* A transfer of chunk c that ended without its bytes: what the retry
 * policy sees (VXFER_FAILED). */
int vdl_send_failed(const vhttp_response *rs, vxfer_outcome *out);
/* No retry is left for the range of c: err in words (its status). */
int vdl_send_give_up(vdl_run *r, const vhttp_response *rs, int attempts,
		     const vxfer_outcome *out, uint64_t off, uint64_t len,
		     vmie_error *err);
/* The transfer engine of a download with these ops: *s set for r (its
 * x included); NULL with err set when it cannot start. */
vxfer *vdl_send_new(vdl_run *r, vdl_sender *s, const vxfer_ops *xops,
		    vmie_error *err);
/* Every turn: the state saved now and then, progress reported. */
int vdl_send_tick(vdl_sender *s, uint64_t moving, bool final,
		  vmie_error *err);
/* Records c as done with these digests (md5: NULL, or freed here). */
void vdl_chunk_done(vdl_run *r, vdl_chunk *c, uint32_t crc, uint64_t crc64,
		    EVP_MD_CTX **md5, uint64_t skipped);

/* Fetches every chunk not done, up to r->parallel at once; saves the state
 * as chunks complete.  0, or a status (VMIE_ERR_INTERRUPTED on cancel);
 * every transfer has ended when it returns. */
int vdl_send_all(vdl_run *r, vmie_error *err);

/* Checks the bytes against ob->verify.  0 and *with set ("crc32c", ...;
 * NULL for VDL_VERIFY_NONE), or VMIE_ERR_FILE_DOWNLOAD_FAILED (mismatch,
 * read-back failure). */
int vdl_verify(vdl_run *r, const char **with, vmie_error *err);
/* Before a resume: each chunk an earlier run finished is read back from
 * the target and must still hold the bytes it received (its CRC32C); one
 * that does not is fetched again.  *stale_bytes: what no longer matched.
 * Also takes the CRC-64/NVME of each such chunk when the object is
 * checked by it (the state file does not keep those). */
int vdl_recheck(vdl_run *r, uint64_t *stale_bytes, vmie_error *err);
/* MD5 of the concatenated digests, as S3's multipart ETag: "hex-N"
 * (out: at least 48 bytes). */
void vdl_md5_of_md5s(const unsigned char *digests, size_t n, char *out);

/* The VMDK to RAW mode (download_vmdk.h).  The object's head, tail and
 * grain directory: r->vmdk, or NULL with r->not_decoded saying why it is
 * not a VMDK this decodes (it is then downloaded as it is).  A status
 * only when the bytes could not be fetched. */
int vdl_vmdk_probe(vdl_run *r, vmie_error *err);
/* The chunk size: a whole part per chunk when its MD5 is the check. */
size_t vdl_vmdk_chunk_size(const vdownload_opts *o, const vdl_object *ob);
/* After the plan: its per-chunk entries and the metadata's digest. */
void vdl_vmdk_prepare(vdl_run *r);
int vdl_vmdk_send_all(vdl_run *r, vmie_error *err);
/* vdl_recheck for the disk a chunk wrote (its CRC32C, read back). */
int vdl_vmdk_recheck(vdl_run *r, uint64_t *stale_bytes, vmie_error *err);
/* After the object's checksum: the bytes decoded were those it checked,
 * and every grain decoded (else VMIE_ERR_FILE_DOWNLOAD_FAILED). */
int vdl_vmdk_check(vdl_run *r, bool verified, vmie_error *err);
void vdl_vmdk_free(struct vdl_vmdk *v);

#endif
