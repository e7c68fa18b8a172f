/*
 * The downloader's VMDK to RAW mode: a streamOptimized VMDK object (a
 * VMDK export) written to the file or device as the RAW disk it holds,
 * while it downloads, with image/vmdk_stream.h as the parser.
 *
 * What is fetched, in order:
 *  - the header sector and the last 1536 bytes (footer, end of stream),
 *    then the grain directory (download_vmdk.c, before anything is
 *    written: an object vmdk_so_open cannot read is downloaded as it is,
 *    and the run says why);
 *  - the grain tables, a window of 64 directory entries at a time (2 GiB
 *    of disk with 64 KiB grains), adjacent tables in one GET, ahead of
 *    the grains they place (download_vmdk_map.c);
 *  - the object itself, in the RAW mode's chunks (same plan, same state
 *    file, same parallel ranged GETs and bandwidth cap): a chunk may
 *    start once the tables say where every grain that starts in it is.
 *    As its bytes arrive each grain is inflated and written at its guest
 *    offset (download_vmdk_sink.c); all-zero blocks and the disk's
 *    unallocated grains stay holes in a file, and are written as zeros on
 *    a device unless --sparse (download_vmdk_send.c, a slice per turn).
 *
 * Verification.  The chunks tile the object, so its CRC32C, CRC-64/NVME
 * or ETag is checked exactly as for RAW, from each chunk's digests
 * (download_verify.c); nothing can be read back (the target holds the
 * disk, not the object), so a chunk's MD5 must be whole: with an MD5 ETag
 * a chunk is a whole part (a single-part object is one GET) and, for a
 * COMPOSITE CRC32C or a multipart ETag, the part sizes are asked for
 * first when only assumed.  Some bytes the decoding uses come from other
 * requests than the chunk that hashes them: the header, footer, directory
 * and tables, and the rest of a chunk's last grain (fetched past its end,
 * up to the grain's bound, instead of waiting for the next chunk).  Each
 * such run of bytes is cut at chunk boundaries and summed as a digest of
 * (offset, length, CRC32C): what the decoder used on one side, what the
 * hashing chunk saw at those places on the other.  The two sums must be
 * equal, else the download is a failure (run it again: it starts over).
 * So a download reported verified decoded nothing but the bytes S3's
 * checksum vouches for; one S3 gives no checksum for is reported
 * unverified, as in RAW mode.
 *
 * Resume: the state file (mode "vmdk-to-raw") keeps per chunk its object
 * digests and what it wrote: the disk bytes [gs, ge) it owns (its grains
 * and the zeros before them) and their CRC32C, read back and compared
 * before a resumed run trusts them (download_vmdk_check.c).
 */
#ifndef VMIE_TRANSFER_DOWNLOAD_VMDK_H
#define VMIE_TRANSFER_DOWNLOAD_VMDK_H

#include "image/vmdk.h"
#include "image/vmdk_stream.h"
#include "transfer/download_internal.h"

/* Directory entries per window of tables. */
#define VDL_WINDOW 64u
/* Windows of tables fetched ahead at once. */
#define VDL_WINDOWS 2u
/* Tables closer than this are fetched in one GET, up to VDL_GT_GET. */
#define VDL_GT_GAP (64u << 10)
#define VDL_GT_GET (1u << 20)

/* What a chunk wrote to the disk, and its cross-check digests.  The
 * first five are saved in the state; the rest live while it is filled. */
typedef struct vdl_vchunk {
	uint64_t gs, ge;      /* the disk bytes it owns (gs == ge: none) */
	uint32_t wcrc;        /* their CRC32C */
	uint64_t seen;        /* digest of its bytes other requests read too */
	uint64_t used;        /* digest of the bytes it read past its end */
	bool filling;         /* fetched; zeros still to write */
	uint64_t fill;        /* the disk offset the zeros have reached */
	uint64_t fill_g;      /* next grain (absolute index) to step over */
	uint64_t g_end;       /* its grains end here (absolute index) */
} vdl_vchunk;

/* A run of object bytes: the metadata the decoder read. */
typedef struct vdl_region {
	uint64_t off, len;
} vdl_region;

/* One GET of adjacent grain tables. */
typedef struct vdl_gtfetch {
	vxfer_job job;
	uint64_t off;
	size_t len, got;
	unsigned char *buf;
	bool active, done;
} vdl_gtfetch;

typedef struct vdl_window {
	uint64_t first, end;          /* directory entries [first, end) */
	vdl_gtfetch f[VDL_WINDOW];
	size_t nf, ndone;
	unsigned char at_f[VDL_WINDOW];   /* entry's fetch */
	uint32_t at_off[VDL_WINDOW];      /* entry's offset in it */
} vdl_window;

typedef struct vdl_vmdk {
	vmdk_so so;
	uint64_t record_max;
	unsigned char head[VMDK_SO_HEAD];
	unsigned char tail[VMDK_SO_TAIL];
	unsigned char *whole;          /* an object of at most both: it all */
	size_t head_len, tail_len;     /* tail_len 0: whole, head_len long */
	vdl_region *reg;               /* sorted, disjoint */
	size_t nreg;
	uint64_t meta_want;            /* digest of the metadata used */
	/* windows wappend .. wnext-1 are under way, win[k % VDL_WINDOWS] */
	vdl_window win[VDL_WINDOWS];
	uint64_t wnext, wappend;
	bool all_known;                /* every table read */
	/* the grains known, object order: absolute index gbase + i is g[i] */
	vmdk_grain *g;
	size_t g0, gn, gcap;
	uint64_t gbase;
	bool have_prev;                /* the last grain pruned */
	vmdk_grain prev;
	vmdk_grains list;              /* a window's, while it is added */
	size_t released;               /* chunks [0, released) may start */
	unsigned char *zeros;          /* VDL_BLOCK of zeros, for fills */
	uint64_t filled;               /* zeros written this run */
	bool decode_failed;            /* a grain did not decode: */
	vmie_error decode_err;         /* the first such, said at the end */
} vdl_vmdk;

/* download_vmdk.c: the object's two ends (head VMDK_SO_HEAD bytes, tail
 * VMDK_SO_TAIL; or, tail_len 0, the whole object as head), then its
 * grain directory (as vmdk_so_gd_range says).  0, or
 * VMIE_ERR_FILE_UNSUPPORTED_FORMAT with err saying why it does not
 * decode. */
int vdl_vmdk_open_ends(vdl_vmdk *v, const void *head, size_t head_len,
		       const void *tail, size_t tail_len, uint64_t size,
		       vmie_error *err);
int vdl_vmdk_set_gd(vdl_vmdk *v, const void *gd, size_t len, uint64_t size,
		    vmie_error *err);
/* Object bytes [off, off+len) into out: 0, or a status with err set. */
typedef int (*vdl_fetch_fn)(void *ctx, uint64_t off, size_t len,
			    unsigned char *out, vmie_error *err);
/* Both of the above over an object of `size` bytes read through get (the
 * downloader's synchronous ranged GET; the fuzz target's memory): 0 with
 * *v filled, get's status, or VMIE_ERR_FILE_UNSUPPORTED_FORMAT for an
 * object that does not decode this way. */
int vdl_vmdk_read_ends(vdl_vmdk *v, uint64_t size, vdl_fetch_fn get,
		       void *ctx, vmie_error *err);
/* download_vmdk.c: the digest of bytes [off, off+len) cut at chunk
 * boundaries, and of one piece. */
uint64_t vdl_vmdk_piece(uint64_t off, uint64_t len, uint32_t crc);
uint64_t vdl_vmdk_pieces(const vdl_plan *p, uint64_t off, const void *buf,
			 size_t len);
/* The chunk that holds object byte off. */
size_t vdl_chunk_index(const vdl_plan *p, uint64_t off);
/* CRC32C of A followed by n zero bytes, from A's. */
uint32_t vdl_crc32c_zeros(uint32_t crc, uint64_t n);

/* download_vmdk_map.c: the windows of tables and the grains they give. */
static inline vmdk_grain *vdl_grain(vdl_vmdk *v, uint64_t abs)
{
	return &v->g[abs - v->gbase];
}
/* The next table GET of the windows under way (new windows are asked
 * for while the grains known do not reach `want`, an object offset):
 * VXFER_JOB, VXFER_NONE, or a status (err set: an unreadable window). */
int vdl_map_next(vdl_run *r, uint64_t want, long long now, vxfer_job **job,
		 vmie_error *err);
/* The GET of job belongs to the map (a table GET). */
vdl_gtfetch *vdl_map_fetch_of(vdl_run *r, vxfer_job *job);
/* A table GET ended with its bytes: windows complete in order are added
 * (0, or a status with err set: a table that does not parse). */
int vdl_map_fetched(vdl_run *r, vdl_gtfetch *f, vmie_error *err);
/* Chunks the known grains cover get not_before 0 (they may start). */
void vdl_map_release(vdl_run *r);
/* Grains before object offset off are no longer needed. */
void vdl_map_prune(vdl_run *r, uint64_t off);

/* What a chunk does: its grains [g_first, g_end) (absolute), the grain
 * before them (pred: NULL when none), the object bytes it fetches
 * [c->off, fetch_end) and the disk bytes it owns. */
typedef struct vdl_chunk_map {
	uint64_t g_first, g_end;
	const vmdk_grain *pred;
	uint64_t fetch_end;
	uint64_t gs, ge;
} vdl_chunk_map;
void vdl_map_chunk(vdl_run *r, const vdl_chunk *c, vdl_chunk_map *m);

/* download_vmdk_sink.c: a slot's state and its two kinds of GET. */
typedef struct vdl_vslot {
	vdl_run *r;
	vxfer_slot *xs;
	vdl_chunk *c;                 /* a chunk under way, or */
	vdl_gtfetch *t;               /* a table GET under way */
	uint64_t start, end, fetch_end, pos;
	int body;                     /* 0 unknown, 1 data, -1 error answer */
	bool bad_range;
	int write_errno;
	/* the chunk's digests of [start, end) */
	uint32_t crc;
	uint64_t crc64;
	EVP_MD_CTX *md5;
	/* cross-checks: the metadata region under way, the head of the
	 * chunk that is the grain before's, the bytes past its end */
	size_t ri;
	uint32_t rcrc, pcrc, ecrc;
	uint64_t pre_end, ecut;
	uint64_t seen, used;
	/* its grains and what they wrote */
	uint64_t gi, g_end;
	unsigned char *rec, *out;
	size_t rlen, rneed;
	bool sized;
	uint32_t wcrc;
	uint64_t wpos;                /* disk bytes accounted for up to */
	uint64_t skipped;             /* zero bytes of grains not written */
	uint64_t gbytes;              /* bytes of grains written */
	uint64_t write_at;            /* where the target refused a write */
	bool zero_skip;
	bool decode_failed;           /* a grain of this attempt: */
	vmie_error decode_err;
} vdl_vslot;
int vdl_vslot_start_chunk(vdl_vslot *s, vxfer *x, vdl_chunk *c,
			  vmie_error *err);
/* What start_chunk does before its GET: s set for chunk c (the map must
 * reach past it), the chunk's disk bytes in r->plan.vx; returns the end
 * of the object bytes to fetch, from c->off. */
uint64_t vdl_vslot_prepare_chunk(vdl_vslot *s, vdl_chunk *c);
/* The next len bytes of the GET under way (a chunk's: hashed, gathered,
 * grains inflated and written; a table GET's: kept): false when they are
 * more than asked for or the target refused a write. */
bool vdl_vslot_feed(vdl_vslot *s, const unsigned char *b, size_t len);
int vdl_vslot_start_table(vdl_vslot *s, vxfer *x, vdl_gtfetch *t,
			  vmie_error *err);
/* The transfer ended: true when every byte asked for arrived. */
bool vdl_vslot_end(vdl_vslot *s);
void vdl_vslot_free(vdl_vslot *s);

/* download_vmdk_send.c: zeros into the holes of a chunk's disk bytes,
 * at most budget bytes; true when it is complete. */
bool vdl_vmdk_fill(vdl_run *r, vdl_chunk *c, uint64_t *budget, int *e);

#endif
