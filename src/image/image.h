/*
 * Disk-image inspection: what an image is, by its content (never by its
 * name), and what AWS VM Import would make of it.
 *
 * Parsers read through a vimg_reader (random access, bounds known), so the
 * same code inspects a local file, a test buffer or a fuzz input.  Every
 * structure read from an image is untrusted: offsets and sizes are checked
 * against the reader's size before use, and a parser never allocates in
 * proportion to a number it read without capping it.
 */
#ifndef VMIE_IMAGE_IMAGE_H
#define VMIE_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmie.h" /* and vmie_image.h: the result types */

typedef struct vimg_reader {
	/* Read len bytes at off into buf; returns the bytes read (short only
	 * at the end of the image) or -1 on an I/O error.  It gets the reader
	 * itself, so a reader may be copied freely (unless it owns ctx). */
	long long (*read_at)(const struct vimg_reader *r, uint64_t off,
			     void *buf, size_t len);
	/* Releases ctx; NULL when the reader owns nothing.  Called by
	 * vimg_reader_close, never directly. */
	void (*close)(struct vimg_reader *r);
	void *ctx;        /* the source's state (a file, a decoder, ...) */
	const void *mem;  /* vimg_reader_mem: the bytes */
	const struct vimg_reader *parent; /* vimg_reader_window: the file */
	uint64_t parent_off;              /* ... and where the window starts */
	uint64_t size;    /* bytes in the image file */
} vimg_reader;

/* A reader over memory (tests, fuzz targets). */
void vimg_reader_mem(vimg_reader *r, const void *data, size_t len);
/* A reader over len bytes of parent starting at off (an OVA member, the
 * data part of a fixed VHD).  Borrows parent, which must outlive it; off
 * and len must lie within parent (returns -1 otherwise). */
int vimg_reader_window(vimg_reader *r, const vimg_reader *parent,
		       uint64_t off, uint64_t len);
/* A reader over a local file (O_RDONLY, pread).  -1 with err set to
 * VMIE_ERR_INVALID_SOURCE when it cannot be opened or is not a regular
 * file. */
int vimg_reader_file(vimg_reader *r, const char *path, vmie_error *err);
/* A reader over the decompressed bytes of compressed (gzip, xz, bzip2,
 * zstd), which must outlive it.  Random access on a stream: it keeps the
 * first MiB and a small cache of recently read blocks, decodes forward to
 * reach a later offset and starts again from the beginning for an earlier
 * one that is not cached.  size is known when the format records it (xz
 * index, zstd frame headers); otherwise the open decodes the whole stream
 * once to count.  limit (0: none) refuses a stream that decodes to more
 * bytes (a decompression bomb in a fuzz input).  -1 with err set
 * (VMIE_ERR_FILE_DECOMPRESS_FAILED: corrupt or truncated) on failure. */
int vimg_reader_decompress(vimg_reader *out, const vimg_reader *compressed,
			   vimg_compression c, uint64_t limit, vmie_error *err);
/* The decompressed size of the compressed file r, where the format
 * records it (vdec_size_hint: the xz index, zstd frame headers). */
bool vimg_size_hint(const vimg_reader *r, vimg_compression c, uint64_t *size);
/* Release whatever the reader owns; safe on a zeroed or memory reader. */
void vimg_reader_close(vimg_reader *r);

/* Opens the files an image refers to by name: a VMDK descriptor's extents,
 * the members of an OVA.  name is as written in the referring file;
 * the opener resolves it (the descriptor's directory, the tar's entries)
 * and refuses names that escape that place ("../", absolute paths).
 * Returns 0 and fills out (to be closed by the caller), or -1 when there
 * is no such file. */
typedef struct vimg_opener {
	int (*open)(const struct vimg_opener *op, const char *name,
		    vimg_reader *out);
	void *ctx;
} vimg_opener;

/* An opener for the files named beside the image at path (op->ctx owns
 * the directory: free it with vimg_opener_dir_free).  Names that climb out
 * of the directory are refused. */
void vimg_opener_dir(vimg_opener *op, const char *path);
void vimg_opener_dir_free(vimg_opener *op);

/* r->read_at, and "all len bytes or false" for fixed-size structures. */
long long vimg_read(const vimg_reader *r, uint64_t off, void *buf, size_t len);
bool vimg_read_exact(const vimg_reader *r, uint64_t off, void *buf, size_t len);

/* AWS's format names, plus what we recognise in order to refuse it. */

/* Add a finding (printf-style message; aws may be NULL). */
void vimg_add_finding(vimg_info *info, vimg_severity sev, const char *code,
		      const char *aws, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Which format the first bytes (and, for VHD, the last 512) say. */
vimg_format vimg_detect(const vimg_reader *r);

/* Partition table and OS family of a virtual disk's contents, read through
 * `disk` (for RAW the file itself; for other formats a reader over the
 * guest-visible bytes).  Fills partition_table / partitions and adds
 * findings (no table, no OS partition -> AWS's "Unknown OS / Missing OS
 * files."). */
int vimg_inspect_partitions(const vimg_reader *disk, vimg_info *info);

/* "Disk images must be less than 16 TiB" (VM Import/Export limitations). */
#define VIMG_AWS_MAX_IMAGE_SIZE (16ull << 40)

/* VIMG_AWS_MAX_IMAGE_SIZE, or less: the test knob VMIE_MAX_IMAGE_SIZE=BYTES
 * can only lower it. */
uint64_t vimg_max_image_size(void);

/* The most bytes an image file can hold by what its own headers declare
 * (read through r, which may be a head only): a sparse VMDK's capacity, a
 * dynamic VHD's size, a VHDX's virtual size, each with its metadata and a
 * margin; 0 when the headers declare nothing (a RAW disk).  *what names
 * the declaration for messages.  Decoding a compressed image stops there:
 * a decompression bomb is refused instead of decoded. */
uint64_t vimg_declared_size_bound(const vimg_reader *r, const char **what);

/* The boot mode an import asks for ("uefi", "legacy-bios"; NULL: none)
 * against the partition table inspection found: an error when uefi meets
 * a disk without an EFI system partition, a warning when legacy-bios
 * meets a GPT disk with an ESP and no BIOS boot partition.  An OVA's
 * first disk is the one checked; nothing is said when the partitions were
 * not read. */
void vimg_check_boot_mode(vimg_info *info, const char *boot_mode);

/* Per-format inspection: fill subformat, virtual_size and findings.  Each
 * returns 0 when the image was understood (findings may still hold errors)
 * and -1 when it is not that format at all. */
int vimg_raw_inspect(const vimg_reader *r, vimg_info *info);
int vimg_vhd_inspect(const vimg_reader *r, vimg_info *info);
int vimg_vhdx_inspect(const vimg_reader *r, vimg_info *info);
/* VMDK: a sparse file ("KDMV": monolithicSparse, streamOptimized, one
 * extent of twoGbMaxExtentSparse) or a text descriptor whose extents are
 * opened through op (NULL: extents reported missing). */
int vimg_vmdk_inspect(const vimg_reader *r, const vimg_opener *op,
		      vimg_info *info);
/* OVA: the tar stream, the OVF descriptor, the manifest, and each disk
 * inspected with vimg_inspect into info->disks. */
int vimg_ova_inspect(const vimg_reader *r, vimg_info *info);

/* The guest-visible bytes of an image of format f (already inspected
 * without errors): RAW is the file itself, a fixed VHD its data part, and
 * sparse formats are read through their allocation tables (unallocated
 * ranges read as zeros).  0 and out filled (close it), or -1 when the
 * format has no guest view vimg can build (the partition check is then
 * skipped, with a warning). */
int vimg_guest_open(const vimg_reader *file, vimg_format f,
		    const vimg_opener *op, vimg_reader *out);
int vimg_vhd_guest_open(const vimg_reader *file, vimg_reader *out);
int vimg_vhdx_guest_open(const vimg_reader *file, vimg_reader *out);
int vimg_vmdk_guest_open(const vimg_reader *file, const vimg_opener *op,
			 vimg_reader *out);

/* Everything vimg knows about an image, the entry point for callers.
 * Finds a compression wrapper by magic and looks through it, detects the
 * format, runs its inspector, refuses what AWS does not import (qcow2,
 * VDI, ISO, a tar without an OVF) with a finding, opens the guest view and
 * inspects the partitions.  name (may be NULL) is the file name, used
 * only to warn when its extension disagrees with the content.  op opens
 * files the image refers to (NULL: none).  depth guards OVA-in-OVA: pass
 * 0.  Returns 0 (info filled; findings say what is wrong), -1 on an I/O
 * error (err set). */
typedef struct vimg_inspect_opts {
	const char *name;
	const vimg_opener *opener;
	int depth;
	uint64_t max_image_size; /* of a compressed image, decoded; 0: none */
} vimg_inspect_opts;
int vimg_inspect(const vimg_reader *r, const vimg_inspect_opts *o,
		 vimg_info *info, vmie_error *err);
/* Errors in info that say the file is damaged, as opposed to well-formed
 * but not what AWS imports (a sparse VMDK, whose disk can still be read
 * through vimg_guest_open). */
bool vimg_broken(const vimg_info *info);

/* vimg_inspect on a local file, extents opened beside it. */
int vimg_inspect_file(const char *path, vimg_info *info, vmie_error *err);

#endif
