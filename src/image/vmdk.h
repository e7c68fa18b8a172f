/*
 * VMDK internals shared by the inspector (vmdk.c), the sparse-extent
 * checks (vmdk_sparse.c), the descriptor parser (vmdk_desc.c) and the
 * guest view (vmdk_guest.c).  VMware "Virtual Disk Format 5.0"; qemu's
 * block/vmdk.c is the reference for what real files look like.
 */
#ifndef VMIE_IMAGE_VMDK_H
#define VMIE_IMAGE_VMDK_H

#include "image/image.h"

#define VMDK_SECTOR 512u
#define VMDK_GD_AT_END UINT64_MAX
/* Header flags */
#define VMDK_FLAG_NL_DETECT (1u << 0)
#define VMDK_FLAG_RGD (1u << 1)
#define VMDK_FLAG_ZERO_GRAIN (1u << 2)
#define VMDK_FLAG_COMPRESSED (1u << 16)
#define VMDK_FLAG_MARKERS (1u << 17)
#define VMDK_COMPRESS_DEFLATE 1
/* Marker types (a marker whose size field is 0) */
enum { VMDK_MARKER_EOS = 0, VMDK_MARKER_GT = 1, VMDK_MARKER_GD = 2,
       VMDK_MARKER_FOOTER = 3 };
/* Grain marker: u64 lba, u32 size, then the compressed bytes. */
#define VMDK_GRAIN_MARKER 12u

/* Limits on what a file may make us do.  qemu refuses grains over 1 GiB
 * and tables over 512 entries; 2 MiB grains are already far beyond what
 * VMware writes (64 KiB), and a guest view caches one grain. */
#define VMDK_MAX_GRAIN_SECTORS 4096u
#define VMDK_MIN_GRAIN_SECTORS 8u
#define VMDK_MAX_GTES 512u
/* 64 TiB: four times what ImportImage accepts; more is a corrupt header. */
#define VMDK_MAX_CAPACITY (UINT64_C(1) << 37)
/* 16 MiB of grain directory; 128 TiB at the default geometry. */
#define VMDK_MAX_GD_ENTRIES (UINT64_C(1) << 22)
#define VMDK_MAX_DESC (64u * 1024u)
#define VMDK_MAX_EXTENTS 4096u

extern const char vmdk_aws_invalid[];

/* A sparse extent's header, after the footer replaced it when the header
 * said "grain directory at the end". */
typedef struct vmdk_sparse {
	uint32_t version;
	uint32_t flags;
	uint64_t capacity;   /* sectors */
	uint64_t grain;      /* sectors per grain */
	uint64_t desc_off;   /* sectors */
	uint64_t desc_size;  /* sectors */
	uint32_t gtes;       /* entries per grain table */
	uint64_t rgd_off;    /* sectors */
	uint64_t gd_off;     /* sectors */
	uint64_t overhead;   /* sectors */
	uint16_t compress;
	bool unclean;
	bool compressed;     /* deflate grains */
	bool markers;        /* grains preceded by a marker */
	bool zero_grain;     /* GTE 1 means "zeros" */
	bool from_footer;    /* the header was the streamOptimized footer */
	uint64_t ngd;        /* grain directory entries */
} vmdk_sparse;

/* Parse and validate the header of a sparse extent read through r.  name
 * (the extent's file name, or NULL for the image itself) prefixes the
 * findings.  0: usable (findings may hold warnings); -1: unusable (an
 * error finding says why). */
int vmdk_sparse_header(const vimg_reader *r, const char *name,
		       vimg_info *info, vmdk_sparse *s);
/* Check the grain directory, the grain tables and every grain against
 * the file's size.  Adds error findings; returns -1 when any was found. */
int vmdk_sparse_check(const vimg_reader *r, const char *name,
		      const vmdk_sparse *s, vimg_info *info);
/* The descriptor embedded in a sparse extent, NUL-terminated (caller
 * frees), or NULL when there is none. */
char *vmdk_sparse_descriptor(const vimg_reader *r, const vmdk_sparse *s);

typedef enum vmdk_ext_type {
	VMDK_EXT_SPARSE,
	VMDK_EXT_FLAT,
	VMDK_EXT_ZERO,
	VMDK_EXT_VMFS,
	VMDK_EXT_VMFSSPARSE,
	VMDK_EXT_SESPARSE,
	VMDK_EXT_VMFSRDM,
	VMDK_EXT_VMFSRAW,
} vmdk_ext_type;

typedef struct vmdk_extent {
	char access[10];   /* RW, RDONLY, NOACCESS */
	uint64_t sectors;
	vmdk_ext_type type;
	char *name;        /* NULL for ZERO */
	uint64_t offset;   /* sectors, FLAT only */
} vmdk_extent;

typedef struct vmdk_desc {
	int version;            /* 0: absent */
	bool has_cid, has_parent_cid;
	uint32_t cid, parent_cid;
	char create_type[32];   /* "" when absent (truncated to fit subformat) */
	char adapter[32];       /* ddb.adapterType */
	char *parent_hint;      /* parentFileNameHint */
	vmdk_extent *extents;
	size_t nextents;
	bool too_many;          /* more than VMDK_MAX_EXTENTS lines */
	char *bad_line;         /* the first extent line that did not parse */
} vmdk_desc;

/* Parse descriptor text (len bytes; stops at a NUL).  Tolerates CRLF,
 * comments and blank lines.  Returns 0, or -1 when it is no descriptor
 * (nothing of one was found). */
int vmdk_desc_parse(const char *text, size_t len, vmdk_desc *d);
void vmdk_desc_free(vmdk_desc *d);
const char *vmdk_ext_type_name(vmdk_ext_type t);

#endif
