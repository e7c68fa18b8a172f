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

#include "vmie.h"

typedef struct vimg_reader {
	/* Read len bytes at off into buf; returns the bytes read (short only
	 * at the end of the image) or -1 on an I/O error.  It gets the reader
	 * itself, so a reader may be copied freely. */
	long long (*read_at)(const struct vimg_reader *r, uint64_t off,
			     void *buf, size_t len);
	void *ctx;        /* the source's state (a file, ...) */
	const void *mem;  /* vimg_reader_mem: the bytes */
	uint64_t size;    /* bytes in the image file */
} vimg_reader;

/* A reader over memory (tests, fuzz targets). */
void vimg_reader_mem(vimg_reader *r, const void *data, size_t len);

/* r->read_at, and "all len bytes or false" for fixed-size structures. */
long long vimg_read(const vimg_reader *r, uint64_t off, void *buf, size_t len);
bool vimg_read_exact(const vimg_reader *r, uint64_t off, void *buf, size_t len);

/* AWS's format names, plus what we recognise in order to refuse it. */
typedef enum vimg_format {
	VIMG_UNKNOWN,
	VIMG_RAW,
	VIMG_VMDK,
	VIMG_VHD,
	VIMG_VHDX,
	VIMG_OVA,
	VIMG_QCOW2, /* refused: AWS does not import it */
	VIMG_VDI,   /* refused */
	VIMG_ISO,   /* refused */
	VIMG_TAR,   /* refused: a tar without an OVF */
} vimg_format;

const char *vimg_format_name(vimg_format f); /* "RAW", "VMDK", ... */

typedef enum vimg_severity { VIMG_WARNING, VIMG_ERROR } vimg_severity;

typedef struct vimg_finding {
	vimg_severity severity;
	char *code;    /* stable id: "vhd-footer-checksum", "raw-no-partition-table" */
	char *message; /* what is wrong, in words a user can act on */
	char *aws;     /* what AWS would do: "ImportImage fails with ..." */
} vimg_finding;

typedef enum vimg_os { VIMG_OS_NONE, VIMG_OS_LINUX, VIMG_OS_WINDOWS, VIMG_OS_EFI } vimg_os;

const char *vimg_os_name(vimg_os os); /* "none", "linux", "windows", "efi" */

typedef struct vimg_partition {
	int index;           /* 1-based, as the table numbers it */
	uint64_t start;      /* bytes from the start of the virtual disk */
	uint64_t size;       /* bytes */
	char type[40];       /* "0x83" (MBR) or the GPT type GUID */
	bool bootable;       /* MBR active flag / GPT legacy-BIOS-bootable or ESP */
	char fs[16];         /* "ext4", "xfs", "btrfs", "lvm", "ntfs", "vfat", "" */
	vimg_os os;
} vimg_partition;

typedef struct vimg_info {
	vimg_format format;
	char subformat[32];      /* "fixed", "dynamic", "streamOptimized", ... */
	uint64_t virtual_size;   /* bytes the guest sees */
	uint64_t file_size;
	char partition_table[8]; /* "mbr", "gpt", "" */
	vimg_partition *partitions;
	size_t npartitions;
	vimg_finding *findings;
	size_t nfindings;
} vimg_info;

void vimg_info_free(vimg_info *info);

/* Add a finding (printf-style message; aws may be NULL). */
void vimg_add_finding(vimg_info *info, vimg_severity sev, const char *code,
		      const char *aws, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
bool vimg_has_errors(const vimg_info *info);

/* Which format the first bytes (and, for VHD, the last 512) say. */
vimg_format vimg_detect(const vimg_reader *r);

/* Partition table and OS family of a virtual disk's contents, read through
 * `disk` (for RAW the file itself; for other formats a reader over the
 * guest-visible bytes).  Fills partition_table / partitions and adds
 * findings (no table, no OS partition -> AWS's "Unknown OS / Missing OS
 * files."). */
int vimg_inspect_partitions(const vimg_reader *disk, vimg_info *info);

/* Per-format inspection: fill subformat, virtual_size and findings.  Each
 * returns 0 when the image was understood (findings may still hold errors)
 * and -1 when it is not that format at all. */
int vimg_raw_inspect(const vimg_reader *r, vimg_info *info);
int vimg_vhd_inspect(const vimg_reader *r, vimg_info *info);
int vimg_vhdx_inspect(const vimg_reader *r, vimg_info *info);

#endif
