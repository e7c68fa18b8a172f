/*
 * The pieces of a streamOptimized VMDK as VMware writes it (Virtual Disk
 * Format 5.0; what an OVA carries and what VM Import accepts), byte for
 * byte, in the order they go out:
 *
 *   header (grain directory "at the end") + embedded descriptor
 *   for each allocated grain, in guest order: grain marker + zlib stream
 *   after the grains a table covers: GT marker + grain table (tables
 *   whose grains are all zero are left out, their directory entry 0)
 *   GD marker + grain directory, footer marker + footer, end-of-stream
 *
 * Every structure starts on a sector.  The caller keeps the position and
 * the tables (transfer/source_vmdk.c does, on a stream); this file only
 * knows the layout.
 */
#ifndef VMIE_IMAGE_VMDK_WRITE_H
#define VMIE_IMAGE_VMDK_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "image/vmdk.h"

#define VMDK_W_GRAIN (64u << 10)           /* bytes: VMware's 128 sectors */
#define VMDK_W_GTES 512u                   /* entries per grain table */
#define VMDK_W_GT_BYTES (VMDK_W_GTES * 4u) /* one table: 4 sectors */
/* Bytes a grain table covers: 32 MiB of guest. */
#define VMDK_W_GT_SPAN ((uint64_t)VMDK_W_GTES * VMDK_W_GRAIN)
/* The head vmdk_w_head writes: header, descriptor, zeros to the first
 * grain at sector 128 (VMware's overhead). */
#define VMDK_W_HEAD_MAX (128u * VMDK_SECTOR)
/* Room for one grain's record: marker, zlib stream, padding. */
#define VMDK_W_RECORD_MAX                                                    \
	((VMDK_GRAIN_MARKER + VMDK_W_GRAIN + VMDK_W_GRAIN / 64 + 64 +        \
	  VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR)
/* The tail: GT marker + table. */
#define VMDK_W_GT_RECORD (VMDK_SECTOR + VMDK_W_GT_BYTES)
/* The file's sector numbers are 32 bits in the tables: 2 TiB of VMDK. */
#define VMDK_W_MAX_SECTORS UINT32_MAX

/* Sectors of a disk of `bytes` (the last one padded with zeros). */
uint64_t vmdk_w_sectors(uint64_t bytes);
/* Grain directory entries of a disk of `bytes`. */
uint64_t vmdk_w_gd_entries(uint64_t bytes);

/* The header (grain directory at the end) and the descriptor of a disk of
 * `bytes`, whose extent line names the file `name` (characters a
 * descriptor cannot hold become '_').  out holds VMDK_W_HEAD_MAX bytes;
 * returns the bytes written, a multiple of the sector. */
size_t vmdk_w_head(unsigned char *out, uint64_t bytes, const char *name);

/* Fills the 12-byte grain marker at rec for a grain at guest sector lba
 * whose zlib stream of n bytes follows it, zeroes the padding after the
 * stream.  Returns the record's size (a multiple of the sector). */
size_t vmdk_w_grain_record(unsigned char *rec, uint64_t lba, size_t n);

/* A marker sector: `sectors` of metadata of `type` follow. */
void vmdk_w_marker(unsigned char *out, uint64_t sectors, uint32_t type);

/* GT marker + the table's entries (VMDK_W_GTES sector numbers, 0 for a
 * grain left out) into out (VMDK_W_GT_RECORD bytes). */
void vmdk_w_gt(unsigned char *out, const uint32_t *entries);

/* Bytes of the tail: GD marker, the directory of n entries (padded to a
 * sector), footer marker, footer, end-of-stream marker. */
size_t vmdk_w_tail_size(uint64_t n);
/* The tail into out (vmdk_w_tail_size(n) bytes), for a directory that
 * starts at sector gd_sector + 1 (after its marker at gd_sector). */
void vmdk_w_tail(unsigned char *out, uint64_t bytes, const uint32_t *gd,
		 uint64_t n, uint64_t gd_sector);

#endif
