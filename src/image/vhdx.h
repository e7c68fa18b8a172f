/*
 * VHDX internals shared by the inspector (vhdx.c) and the guest view
 * (vhdx_guest.c): where the block allocation table is, what the metadata
 * says, and how BAT entries map onto the virtual disk ([MS-VHDX] 2.5).
 */
#ifndef VMIE_IMAGE_VHDX_H
#define VMIE_IMAGE_VHDX_H

#include "image/image.h"

#define VHDX_MiB (1024u * 1024u)

/* BAT entry: the state in bits 0-2, FileOffsetMB in bits 20-63. */
enum {
	VHDX_PAYLOAD_NOT_PRESENT = 0,
	VHDX_PAYLOAD_UNDEFINED = 1,
	VHDX_PAYLOAD_ZERO = 2,
	VHDX_PAYLOAD_UNMAPPED = 3,
	VHDX_PAYLOAD_FULLY_PRESENT = 6,
	VHDX_PAYLOAD_PARTIALLY_PRESENT = 7,
	VHDX_SB_PRESENT = 6, /* a sector bitmap block's "present" */
};
#define VHDX_BAT_STATE(e) ((unsigned)((e) & 7))
#define VHDX_BAT_OFFSET(e) (((e) >> 20) * (uint64_t)VHDX_MiB)

#define VHDX_FLAG_FIXED 1u
#define VHDX_FLAG_DIFFERENCING 2u

typedef struct vhdx_layout {
	uint64_t bat_off, meta_off;
	uint32_t bat_len, meta_len;
	bool have_bat, have_meta;
	/* from the metadata */
	bool have_params, have_size, have_sector;
	uint32_t block_size, flags, sector_size;
	uint64_t disk_size;
	/* derived once the above are valid */
	uint64_t chunk_ratio;  /* payload blocks per sector bitmap block */
	uint64_t data_blocks;  /* payload blocks covering disk_size */
	uint64_t bat_entries;  /* entries the BAT must hold */
} vhdx_layout;

/* Read the headers, the region table and the metadata of r into l,
 * adding findings to info for whatever is wrong.  0 when l is complete
 * and its geometry valid (a differencing disk included: the caller
 * decides), -1 otherwise. */
int vhdx_read_layout(const vimg_reader *r, vimg_info *info, vhdx_layout *l);

/* The BAT index of payload block i: a sector bitmap entry follows every
 * chunk_ratio payload entries. */
static inline uint64_t vhdx_payload_index(const vhdx_layout *l, uint64_t i)
{
	return i + i / l->chunk_ratio;
}

#endif
