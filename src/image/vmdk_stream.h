/*
 * Reading a streamOptimized VMDK object in pieces, by ranged reads, to
 * write its disk as RAW: what a VMDK export in S3 is (VMware's layout:
 * grains, each table after its grains, the directory and a footer at the
 * end), and qemu-img's variant (tables and directory before the grains,
 * no footer).  Nothing here reads: the caller fetches the byte ranges the
 * functions name and hands the bytes in, so the same code serves a
 * downloader's parallel GETs, a local file and a fuzz input.
 *
 * Every byte handed in is untrusted (it came from S3): each offset and
 * length is checked against the object before it is used or returned, a
 * grain must sit inside the data area and land inside the disk, and an
 * inflated grain must not exceed its size.  Allocation is bounded by what
 * the caller asks for (a window of grain tables), never by a number read.
 *
 * How a downloader uses it (vmdk_so_decode below does exactly this over a
 * vimg_reader):
 *   1. the object's size (HeadObject); GET its first VMDK_SO_HEAD bytes
 *      and its last VMDK_SO_TAIL bytes (bytes=-1536);
 *   2. vmdk_so_open: geometry and where the grain directory is; a failure
 *      means "not a streamOptimized VMDK this can decode": download the
 *      object as it is and say so;
 *   3. GET vmdk_so_gd_range, vmdk_so_set_gd;
 *   4. for each window of directory entries [i, i + k) (k = 64: 2 GiB of
 *      disk, at most 32768 grains, 768 KiB of list): GET each
 *      vmdk_so_gt_range(j) that exists (2 KiB each), vmdk_so_add_gt(j)
 *      into one vmdk_grains, vmdk_so_grains_done, then vmdk_so_plan into
 *      ranges of at most a chunk (8 MiB); GET the ranges in parallel, and
 *      for each grain in a range vmdk_so_inflate its bytes (offset -
 *      range.offset into the range, grain.length long, clipped to the
 *      range's end) into a grain buffer and pwrite the bytes it returns at
 *      grain.guest;
 *   5. the target is vmdk_so.capacity bytes long (ftruncate): what no
 *      grain wrote reads as zeros (holes in a file; on a device, zero it
 *      unless --sparse).
 * Verification of the object (CRC32C / ETag) is the downloader's as
 * today: it sees every byte it fetched, though not in one sequence.
 */
#ifndef VMIE_IMAGE_VMDK_STREAM_H
#define VMIE_IMAGE_VMDK_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

#define VMDK_SO_HEAD 512u  /* the header sector */
#define VMDK_SO_TAIL 1536u /* footer marker, footer, end-of-stream marker */

typedef struct vmdk_so {
	uint64_t object_size;
	uint64_t capacity;   /* bytes of disk */
	uint32_t grain;      /* bytes per grain */
	uint32_t gtes;       /* entries per grain table */
	bool markers;        /* each grain starts with a 12-byte marker */
	bool zero_grain;     /* a table entry of 1 means "zeros" */
	bool from_footer;    /* the footer gave the values (VMware's layout) */
	uint64_t gd_off;     /* bytes */
	uint64_t ngd;        /* directory entries */
	uint64_t data_end;   /* no grain reaches past this byte (the footer) */
	/* After vmdk_so_set_gd: */
	uint32_t *gd;        /* sector of each table, 0: none */
	uint64_t *fences;    /* sorted starts of the metadata after sector 0 */
	size_t nfences;
} vmdk_so;

typedef struct vmdk_grain {
	uint64_t offset; /* of its record (marker) in the object */
	uint64_t length; /* bytes to fetch from offset: the record's bound */
	uint64_t guest;  /* where its bytes go in the disk */
} vmdk_grain;

typedef struct vmdk_grains {
	vmdk_grain *v;
	size_t n, cap;
} vmdk_grains;

typedef struct vmdk_range {
	uint64_t offset, length; /* bytes of the object to fetch */
	size_t first, count;     /* the grains it holds (vmdk_grains.v[]) */
} vmdk_range;

/* head: the object's first bytes (head_len >= VMDK_SO_HEAD, or NULL when
 * not fetched); tail: its last tail_len bytes (>= VMDK_SO_TAIL, or the
 * whole object when smaller).  The footer, when the tail ends with one,
 * gives the values; otherwise the header must (qemu-img's layout).
 * Errors (VMIE_ERR_FILE_UNSUPPORTED_FORMAT) say why it is not a
 * streamOptimized VMDK this decodes. */
int vmdk_so_open(vmdk_so *so, const void *head, size_t head_len,
		 const void *tail, size_t tail_len, uint64_t object_size,
		 vmie_error *err);
void vmdk_so_free(vmdk_so *so);

/* The grain directory's bytes in the object. */
void vmdk_so_gd_range(const vmdk_so *so, uint64_t *offset, size_t *len);
/* The directory's bytes (len >= what vmdk_so_gd_range said); every table
 * it names must lie inside the object. */
int vmdk_so_set_gd(vmdk_so *so, const void *gd, size_t len, vmie_error *err);

/* Where table i (0 <= i < ngd) is; false when the directory has none (all
 * its grains are zeros). */
bool vmdk_so_gt_range(const vmdk_so *so, uint64_t i, uint64_t *offset,
		      size_t *len);
/* Adds the allocated grains of table i (its bytes: gt, len >= what
 * vmdk_so_gt_range said) to list.  A grain outside the data area or past
 * the disk's end is an error. */
int vmdk_so_add_gt(const vmdk_so *so, uint64_t i, const void *gt, size_t len,
		   vmdk_grains *list, vmie_error *err);
/* Sorts the list by offset and bounds each grain's length (by the next
 * grain, the next metadata, the largest record a grain can be).  Two
 * grains at one offset are an error. */
int vmdk_so_grains_done(const vmdk_so *so, vmdk_grains *list,
			vmie_error *err);
void vmdk_grains_reset(vmdk_grains *list); /* empty, memory kept */
void vmdk_grains_free(vmdk_grains *list);

/* The most bytes a grain's record can take (a marker and twice the
 * grain, to the sector): what a grain's length is bounded by. */
uint64_t vmdk_so_record_max(const vmdk_so *so);

/* Byte ranges that fetch every grain of a done list: neighbours (with
 * up to 64 KiB of metadata between them) merged while a range stays
 * within max_len (at least one grain each).  Returns the count; *out is
 * the caller's to free. */
size_t vmdk_so_plan(const vmdk_grains *list, uint64_t max_len,
		    vmdk_range **out);

/* Inflates grain g from its record's bytes rec[0..len) (len may be less
 * than g->length at the end of a fetched range, never less than the
 * record) into out (so->grain bytes; zeros after a short grain).
 * Returns how many bytes of out belong at g->guest (the grain, or the
 * disk's last bytes), or -1 with err set: a marker for another place, a
 * size beyond the bytes given, a corrupt or oversized stream. */
long long vmdk_so_inflate(const vmdk_so *so, const vmdk_grain *g,
			  const void *rec, size_t len, void *out,
			  vmie_error *err);

/* The whole decode over a reader of the object: calls write(ctx, guest
 * offset, bytes, len) for each allocated grain, in object order.  0, or
 * -1 with err set (by the parser, by a read, or by write returning
 * non-zero with err set).  *capacity (may be NULL) gets the disk's size
 * once it is known. */
typedef int (*vmdk_so_write_fn)(void *ctx, uint64_t guest, const void *data,
				size_t len, vmie_error *err);
int vmdk_so_decode(const vimg_reader *obj, vmdk_so_write_fn write, void *ctx,
		   uint64_t *capacity, vmie_error *err);

#endif
