/*
 * VHDX ([MS-VHDX]): a file identifier at 0, two 4 KiB headers at 64 and
 * 128 KiB, two 64 KiB region tables at 192 and 256 KiB (each CRC32C
 * protected, little-endian), and a metadata region that says the virtual
 * size, the block size and whether the disk is fixed, dynamic or
 * differencing.
 */
#include "image/image.h"
#include "base/endian.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "image/crc32c.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define VHDX_HEADER_SIZE (4 * KiB)
#define VHDX_REGION_SIZE (64 * KiB)
#define VHDX_META_TABLE (64 * KiB)
#define VHDX_MAX_ENTRIES 2047u

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
	uint32_t crc = vimg_crc32c(0, p, 4);

	crc = vimg_crc32c(crc, zero, 4);
	crc = vimg_crc32c(crc, p + 8, len - 8);
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
	uint64_t meta_off, bat_off;
	uint32_t meta_len, bat_len;
	bool have_meta, have_bat;
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
		c->meta_off = off;
		c->meta_len = len;
		c->have_meta = true;
	} else if (memcmp(e, guid_bat, 16) == 0) {
		c->bat_off = off;
		c->bat_len = len;
		c->have_bat = true;
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

typedef struct vhdx_meta {
	bool have_params, have_size, have_sector;
	uint32_t block_size, flags, sector_size;
	uint64_t disk_size;
} vhdx_meta;

/* Copy out the item if it is one we want; bounds already checked. */
static void meta_item(const unsigned char *e, const unsigned char *data,
		      uint32_t len, vhdx_meta *m)
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

static int read_meta_entry(vhdx_ctx *c, const unsigned char *e, vhdx_meta *m)
{
	uint32_t off = le32(e + 16), len = le32(e + 20);
	unsigned char data[8] = { 0 };

	if (len == 0)
		return 0;
	if (off < VHDX_META_TABLE || off > c->meta_len ||
	    len > c->meta_len - off) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-metadata-invalid",
				 aws_invalid,
				 "a VHDX metadata item (%u bytes at %u) lies "
				 "outside the metadata region", len, off);
		return -1;
	}
	if (!vimg_read_exact(c->r, c->meta_off + off, data, len < 8 ? len : 8))
		return -1;
	meta_item(e, data, len, m);
	return 0;
}

static int read_metadata(vhdx_ctx *c, vhdx_meta *m)
{
	unsigned char *t = xmalloc(VHDX_META_TABLE);
	int rc = -1;

	if (c->meta_len < VHDX_META_TABLE ||
	    !vimg_read_exact(c->r, c->meta_off, t, VHDX_META_TABLE) ||
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

static void apply_metadata(vhdx_ctx *c, const vhdx_meta *m)
{
	if (!m->have_params || !m->have_size || !m->have_sector) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-metadata-missing",
				 aws_invalid,
				 "the VHDX metadata lacks its file parameters, "
				 "virtual disk size or logical sector size");
		return;
	}
	c->info->virtual_size = m->disk_size;
	snprintf(c->info->subformat, sizeof(c->info->subformat), "%s",
		 m->flags & 2 ? "differencing" :
		 m->flags & 1 ? "fixed" : "dynamic");
	if (m->flags & 2)
		vimg_add_finding(c->info, VIMG_ERROR, "vhdx-differencing",
				 "ImportImage fails: AWS cannot import a "
				 "differencing disk without its parent",
				 "this VHDX is a differencing disk: merge it "
				 "into its parent before importing");
	if (!pow2(m->block_size) || m->block_size < MiB ||
	    m->block_size > 256 * MiB)
		meta_invalid(c, "the block size is not a power of two from "
				"1 MiB to 256 MiB");
	if (m->sector_size != 512 && m->sector_size != 4096)
		meta_invalid(c, "the logical sector size is not 512 or 4096");
	else if (m->disk_size % m->sector_size)
		meta_invalid(c, "the virtual size is not a whole number of "
				"sectors");
}

int vimg_vhdx_inspect(const vimg_reader *r, vimg_info *info)
{
	vhdx_ctx c = { .r = r, .info = info };
	vhdx_meta m = { 0 };
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
	if (check_headers(&c) < 0 || check_region_tables(&c) < 0)
		return 0;
	if (!c.have_bat)
		vimg_add_finding(info, VIMG_ERROR, "vhdx-bat-missing",
				 aws_invalid,
				 "the VHDX region table has no block allocation "
				 "table region");
	if (!c.have_meta) {
		vimg_add_finding(info, VIMG_ERROR, "vhdx-metadata-missing",
				 aws_invalid,
				 "the VHDX region table has no metadata region");
		return 0;
	}
	if (read_metadata(&c, &m) == 0)
		apply_metadata(&c, &m);
	return 0;
}
