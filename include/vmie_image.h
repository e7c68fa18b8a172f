/*
 * What vmie knows about a disk image: the result of vmie_inspect (and of
 * the import preflight).  Part of the public API; vmie.h includes it.
 */
#ifndef VMIE_IMAGE_H
#define VMIE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum vimg_compression {
	VIMG_COMP_NONE,
	VIMG_COMP_GZIP,
	VIMG_COMP_XZ,
	VIMG_COMP_BZIP2,
	VIMG_COMP_ZSTD,
} vimg_compression;

/* "none", "gzip", "xz", "bzip2", "zstd" */
const char *vimg_compression_name(vimg_compression c);

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

struct vimg_info;

/* One disk an OVA's OVF descriptor references. */
typedef struct vimg_disk {
	char *href;             /* ovf:href, the member's name in the tar */
	uint64_t capacity;      /* ovf:capacity x capacityAllocationUnits */
	uint64_t offset;        /* where the member's bytes start in the tar */
	uint64_t size;          /* the member's size in the tar (0: missing) */
	struct vimg_info *info; /* the member inspected; NULL when missing */
} vimg_disk;

typedef struct vimg_info {
	vimg_format format;
	vimg_compression compression; /* the wrapper around the image */
	char subformat[32];      /* "fixed", "dynamic", "streamOptimized", ... */
	uint64_t virtual_size;   /* bytes the guest sees; an OVA's: its boot
				  * (first) disk's (vimg_total_virtual_size:
				  * all of them) */
	uint64_t file_size;      /* bytes on disk (compressed, when it is) */
	uint64_t image_size;     /* bytes of the image file once decompressed;
				  * 0 when unknown without decoding it all */
	char partition_table[8]; /* "mbr", "gpt", "" */
	vimg_partition *partitions;
	size_t npartitions;
	vimg_disk *disks;        /* OVA only */
	size_t ndisks;
	vimg_finding *findings;
	size_t nfindings;
} vimg_info;

void vimg_info_free(vimg_info *info);

/* Errors in info or in any of its disks. */
bool vimg_has_errors(const vimg_info *info);

/* What all of an image's disks hold: an OVA's disks summed (virtual_size
 * is its boot disk's, the first), any other image's virtual_size. */
uint64_t vimg_total_virtual_size(const vimg_info *info);

#endif
