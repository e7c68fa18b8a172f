/*
 * VHDX ([MS-VHDX]): a file identifier at 0, two 4 KiB headers at 64 and
 * 128 KiB, two 64 KiB region tables at 192 and 256 KiB (each CRC32C
 * protected, little-endian), a metadata region that says the virtual
 * size, the block size and whether the disk is fixed, dynamic or
 * differencing, and a block allocation table whose present blocks must
 * lie inside the file.  vhdx_read_layout is shared with the guest view.
 */
#include "image/image.h"
#include "base/endian.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "codec/crc32c.h"
#include "image/vhdx.h"

#define KiB 1024u
#define MiB VHDX_MiB
#define VHDX_HEADER_SIZE (4 * KiB)
#define VHDX_REGION_SIZE (64 * KiB)
#define VHDX_META_TABLE (64 * KiB)
#define VHDX_MAX_ENTRIES 2047u
#define VHDX_BAT_CHUNK 8192u /* entries: 64 KiB of table at a time */

/* A GUID as stored on disk: the first three fields little-endian. */
#define GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                        \
	{ (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff,                 \
	  ((a) >> 24) & 0xff, (b) & 0xff, ((b) >> 8) & 0xff, (c) & 0xff,     \
	  ((c) >> 8) & 0xff, d0, d1, d2, d3, d4, d5, d6, d7 }

static const unsigned char guid_metadata[16] = GUID(0x8B7CA206, 0x4790,
	0x4B9A, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E);
static const unsigned char guid_bat[16] = GUID(0x2DC27766, 0xF623, 0x4200,
	0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08);
static const unsigned char guid_file_params[16] = GUID(0xCAA16737, 0xFA36,
	0x4D43, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B);
static const unsigned char guid_disk_size[16] = GUID(0x2FA54224, 0xCD1B,
	0x4876, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8);
static const unsigned char guid_sector_size[16] = GUID(0x8141BF1D, 0xA96F,
	0x4709, 0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F);

static const char aws_invalid[] =
	"ImportImage fails with ClientError: Disk validation failed";

/* CRC32C of a structure whose checksum field (at offset 4) counts as 0. */
static bool crc_ok(const unsigned char *p, size_t len)
{
	static const unsigned char zero[4];
	uint32_t crc = vcrc32c(0, p, 4);

	crc = vcrc32c(crc, zero, 4);
	crc = vcrc32c(crc, p + 8, len - 8);
	return crc == le32(p + 4);
}

static bool all_zero(const unsigned char *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

typedef struct vhdx_ctx {
	const vimg_reader *r;
	vimg_info *info;
	vhdx_layout *l;
} vhdx_ctx;

/* 0 valid (sequence number in *seq), -1 not a valid header. */
static int read_header(const vimg_reader *r, uint64_t off, uint64_t *seq,
		       bool *log_pending)
{
	unsigned char h[VHDX_HEADER_SIZE];

	if (!vimg_read_exact(r, off, h, sizeof(h)) || memcmp(h, "head", 4) != 0 ||
	    !crc_ok(h, sizeof(h)) || le16(h + 66) != 1)
		return -1;
	*seq = le64(h + 8);
	*log_pending = !all_zero(h + 48, 16); /* LogGuid */
	return 0;
}

static int check_headers(vhdx_ctx *c)
{
	uint64_t s1 = 0, s2 = 0;
	bool log1 = false, log2 = false;
	int ok1 = read_header(c->r, 64 * KiB, &s1, &log1) == 0;
	int ok2 = read_header(c->r, 128 * KiB, &s2, &log2) == 0;

	if (!ok1 && !ok2) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-header-invalid",
				 aws_invalid,
				 "neither VHDX header (at 64 KiB and 128 KiB) "
				 "is valid: the file is corrupt");
		return -1;
	}
	/* The current header is the valid one with the higher sequence. */
	bool log = ok1 && (!ok2 || s1 >= s2) ? log1 : log2;
	if (log)
		vimg_add_finding(c->info, VIMG_WARNING, "vhdx-log-pending",
				 "ImportImage may fail: AWS does not replay "
				 "VHDX logs",
				 "the VHDX has an unreplayed log (it was not "
				 "closed cleanly): open and close it in "
				 "Hyper-V, or convert it, before importing");
	return 0;
}

static void region_entry(vhdx_ctx *c, const unsigned char *e)
{
	uint64_t off = le64(e + 16);
	uint32_t len = le32(e + 24);
	bool required = le32(e + 28) & 1;

	if (off > c->r->size || len > c->r->size - off) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-region-out-of-range",
				 aws_invalid,
				 "a VHDX region (%u bytes at offset %llu) lies "
				 "past the end of the file: it is truncated",
				 len, (unsigned long long)off);
		return;
	}
	if (memcmp(e, guid_metadata, 16) == 0) {
		c->l->meta_off = off;
		c->l->meta_len = len;
		c->l->have_meta = true;
	} else if (memcmp(e, guid_bat, 16) == 0) {
		c->l->bat_off = off;
		c->l->bat_len = len;
		c->l->have_bat = true;
	} else if (required) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-region-unknown",
				 aws_invalid,
				 "the VHDX requires a region this reader does "
				 "not know");
	}
}

static bool region_table_ok(const unsigned char *t)
{
	return memcmp(t, "regi", 4) == 0 && crc_ok(t, VHDX_REGION_SIZE) &&
	       le32(t + 8) <= VHDX_MAX_ENTRIES;
}

static int check_region_tables(vhdx_ctx *c)
{
	unsigned char *t = xmalloc(VHDX_REGION_SIZE);
	int rc = -1;

	for (int i = 0; i < 2 && rc < 0; i++)
		if (vimg_read_exact(c->r, (192 + 64 * (uint64_t)i) * KiB, t,
			       VHDX_REGION_SIZE) && region_table_ok(t))
			rc = 0;
	if (rc < 0) {
		vimg_add_finding(c->info, VIMG_ERROR,
				 "vhdx-region-table-checksum", aws_invalid,
				 "neither VHDX region table (at 192 KiB and "
				 "256 KiB) has a valid signature and CRC32C");
		goto out;
	}
	for (uint32_t i = 0, n = le32(t + 8); i < n; i++)
		region_entry(c, t + 16 + 32 * (size_t)i);
out:
	free(t);
	return rc;
}

/* Copy out the item if it is one we want; bounds already checked. */
static void meta_item(const unsigned char *e, const unsigned char *data,
		      uint32_t len, vhdx_layout *m)
{
	if (memcmp(e, guid_file_params, 16) == 0 && len >= 8) {
		m->block_size = le32(data);
		m->flags = le32(data + 4);
		m->have_params = true;
	} else if (memcmp(e, guid_disk_size, 16) == 0 && len >= 8) {
		m->disk_size = le64(data);
		m->have_size = true;
	} else if (memcmp(e, guid_sector_size, 16) == 0 && len >= 4) {
		m->sector_size = le32(data);
		m->have_sector = true;
	}
}

static int read_meta_entry(vhdx_ctx *c, const unsigned char *e, vhdx_layout *m)
{
	uint32_t off = le32(e + 16), len = le32(e + 20);
	unsigned char data[8] = { 0 };

	if (len == 0)
		return 0;
	if (off < VHDX_META_TABLE || off > c->l->meta_len ||
	    len > c->l->meta_len - off) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-metadata-invalid",
				 aws_invalid,
				 "a VHDX metadata item (%u bytes at %u) lies "
				 "outside the metadata region", len, off);
		return -1;
	}
	if (!vimg_read_exact(c->r, c->l->meta_off + off, data, len < 8 ? len : 8))
		return -1;
	meta_item(e, data, len, m);
	return 0;
}

static int read_metadata(vhdx_ctx *c, vhdx_layout *m)
{
	unsigned char *t = xmalloc(VHDX_META_TABLE);
	int rc = -1;

	if (c->l->meta_len < VHDX_META_TABLE ||
	    !vimg_read_exact(c->r, c->l->meta_off, t, VHDX_META_TABLE) ||
	    memcmp(t, "metadata", 8) != 0 ||
	    le16(t + 10) > VHDX_MAX_ENTRIES) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-metadata-invalid",
				 aws_invalid,
				 "the VHDX metadata table is missing or "
				 "corrupt");
		goto out;
	}
	rc = 0;
	for (size_t i = 0, n = le16(t + 10); i < n && rc == 0; i++)
		rc = read_meta_entry(c, t + 32 + 32 * i, m);
out:
	free(t);
	return rc;
}

static void meta_invalid(vhdx_ctx *c, const char *what)
{
	vimg_add_finding(c->info, VIMG_ERROR, "vhdx-metadata-invalid",
			 aws_invalid, "the VHDX metadata is invalid: %s", what);
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* 0 when the metadata describes a disk we can map, -1 otherwise. */
static int apply_metadata(vhdx_ctx *c, const vhdx_layout *m)
{
	int rc = 0;

	if (!m->have_params || !m->have_size || !m->have_sector) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-metadata-missing",
				 aws_invalid,
				 "the VHDX metadata lacks its file parameters, "
				 "virtual disk size or logical sector size");
		return -1;
	}
	c->info->virtual_size = m->disk_size;
	snprintf(c->info->subformat, sizeof(c->info->subformat), "%s",
		 m->flags & VHDX_FLAG_DIFFERENCING ? "differencing" :
		 m->flags & VHDX_FLAG_FIXED ? "fixed" : "dynamic");
	if (m->flags & VHDX_FLAG_DIFFERENCING)
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-differencing",
				 "ImportImage fails: AWS cannot import a "
				 "differencing disk without its parent",
				 "this VHDX is a differencing disk: merge it "
				 "into its parent before importing");
	if (!pow2(m->block_size) || m->block_size < MiB ||
	    m->block_size > 256 * MiB) {
		meta_invalid(c, "the block size is not a power of two from "
				"1 MiB to 256 MiB");
		rc = -1;
	}
	if (m->sector_size != 512 && m->sector_size != 4096) {
		meta_invalid(c, "the logical sector size is not 512 or 4096");
		rc = -1;
	} else if (m->disk_size % m->sector_size) {
		meta_invalid(c, "the virtual size is not a whole number of "
				"sectors");
		rc = -1;
	}
	return rc;
}

/* Chunk ratio, payload blocks and BAT length ([MS-VHDX] 2.5), and whether
 * the BAT region holds that many entries. */
static int apply_geometry(vhdx_ctx *c)
{
	vhdx_layout *l = c->l;
	uint64_t n;

	/* 2^23 sectors per chunk; the block size and the sector size were
	 * checked, so the ratio is a power of two from 16 to 2^15. */
	l->chunk_ratio = ((uint64_t)1 << 23) * l->sector_size / l->block_size;
	l->data_blocks = l->disk_size / l->block_size +
			 (l->disk_size % l->block_size != 0);
	n = l->data_blocks;
	if (l->flags & VHDX_FLAG_DIFFERENCING)
		l->bat_entries = (n + l->chunk_ratio - 1) / l->chunk_ratio *
				 (l->chunk_ratio + 1);
	else
		l->bat_entries = n ? n + (n - 1) / l->chunk_ratio : 0;
	if (l->bat_entries > l->bat_len / 8) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-bat-too-small",
				 aws_invalid,
				 "the VHDX block allocation table has room for "
				 "%u entries but a %llu-byte disk needs %llu",
				 l->bat_len / 8,
				 (unsigned long long)l->disk_size,
				 (unsigned long long)l->bat_entries);
		return -1;
	}
	return 0;
}

int vhdx_read_layout(const vimg_reader *r, vimg_info *info, vhdx_layout *l)
{
	vhdx_ctx c = { .r = r, .info = info, .l = l };

	memset(l, 0, sizeof(*l));
	if (check_headers(&c) < 0 || check_region_tables(&c) < 0)
		return -1;
	if (!l->have_bat)
		vimg_add_finding(info, VIMG_ERROR, "vhdx-bat-missing",
				 aws_invalid,
				 "the VHDX region table has no block allocation "
				 "table region");
	if (!l->have_meta) {
		vimg_add_finding(info, VIMG_ERROR, "vhdx-metadata-missing",
				 aws_invalid,
				 "the VHDX region table has no metadata region");
		return -1;
	}
	if (read_metadata(&c, l) < 0 || apply_metadata(&c, l) < 0 ||
	    !l->have_bat)
		return -1;
	return apply_geometry(&c);
}

typedef struct bat_tally {
	uint64_t n, first, first_val;
} bat_tally;

static void tally(bat_tally *t, uint64_t block, uint64_t val)
{
	if (!t->n++) {
		t->first = block;
		t->first_val = val;
	}
}

/* One entry of the BAT: payload block `block`, or the sector bitmap that
 * follows a chunk when sb.  A present block must lie inside the file: one
 * that does not is what a copy cut short looks like. */
static void check_entry(const vhdx_ctx *c, uint64_t e, uint64_t block,
			bool sb, bat_tally *out, bat_tally *bad)
{
	const vhdx_layout *l = c->l;
	unsigned state = VHDX_BAT_STATE(e);
	uint64_t off = VHDX_BAT_OFFSET(e), need;

	if (sb) {
		if (state != VHDX_SB_PRESENT)
			return;
		need = MiB;
	} else if (state == VHDX_PAYLOAD_FULLY_PRESENT ||
		   (state == VHDX_PAYLOAD_PARTIALLY_PRESENT &&
		    (l->flags & VHDX_FLAG_DIFFERENCING))) {
		/* Only the part of the last block that the disk covers. */
		need = l->disk_size - block * l->block_size;
		if (need > l->block_size)
			need = l->block_size;
	} else {
		if (state > VHDX_PAYLOAD_UNMAPPED)
			tally(bad, block, state);
		return;
	}
	if (off > c->r->size || need > c->r->size - off)
		tally(out, block, off);
}

static void check_bat(vhdx_ctx *c)
{
	const vhdx_layout *l = c->l;
	unsigned char *buf = xmalloc(VHDX_BAT_CHUNK * 8);
	bat_tally out = { 0 }, bad = { 0 };
	uint64_t per_chunk = l->chunk_ratio + 1;

	for (uint64_t k = 0; k < l->bat_entries; k += VHDX_BAT_CHUNK) {
		uint64_t n = l->bat_entries - k;

		if (n > VHDX_BAT_CHUNK)
			n = VHDX_BAT_CHUNK;
		if (!vimg_read_exact(c->r, l->bat_off + k * 8, buf, n * 8))
			break; /* inside the file (checked): an I/O error */
		for (uint64_t j = 0; j < n; j++) {
			uint64_t idx = k + j;
			bool sb = idx % per_chunk == l->chunk_ratio;
			uint64_t block = idx - idx / per_chunk;

			if (!sb && block >= l->data_blocks)
				continue; /* the unused tail of a chunk */
			check_entry(c, le64(buf + j * 8), block, sb, &out,
				    &bad);
		}
	}
	free(buf);
	if (out.n)
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-bat-out-of-range",
				 aws_invalid,
				 "%llu VHDX block(s) lie past the end of the "
				 "file (the first, block %llu, at offset %llu): "
				 "the file is truncated, an incomplete copy",
				 (unsigned long long)out.n,
				 (unsigned long long)out.first,
				 (unsigned long long)out.first_val);
	if (bad.n)
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-bat-invalid",
				 aws_invalid,
				 "%llu VHDX block allocation table entries have "
				 "an invalid state (the first, block %llu, state "
				 "%llu): the table is corrupt",
				 (unsigned long long)bad.n,
				 (unsigned long long)bad.first,
				 (unsigned long long)bad.first_val);
}

int vimg_vhdx_inspect(const vimg_reader *r, vimg_info *info)
{
	vhdx_layout l;
	unsigned char id[8];
	bool id_ok = vimg_read_exact(r, 0, id, 8) && memcmp(id, "vhdxfile", 8) == 0;

	if (!id_ok && !(vimg_read_exact(r, 64 * KiB, id, 4) &&
			memcmp(id, "head", 4) == 0))
		return -1;
	info->format = VIMG_VHDX;
	if (!info->file_size)
		info->file_size = r->size;
	if (!id_ok)
		vimg_add_finding(info, VIMG_ERROR, "vhdx-identifier",
				 aws_invalid,
				 "the VHDX file identifier \"vhdxfile\" is "
				 "missing at offset 0: the file is corrupt");
	if (vhdx_read_layout(r, info, &l) == 0) {
		vhdx_ctx c = { .r = r, .info = info, .l = &l };
		check_bat(&c);
	}
	return 0;
}
