/*
 * VHD (Microsoft "Virtual Hard Disk Image Format Specification"): a
 * 512-byte big-endian footer at the end of the file; a dynamic or
 * differencing disk also keeps a copy of the footer at offset 0, a 1 KiB
 * dynamic header ("cxsparse") and a block allocation table (BAT).
 */
#include "image/image.h"
#include "base/endian.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define VHD_FOOTER 512
#define VHD_DYNHDR 1024
#define VHD_UNALLOCATED 0xFFFFFFFFu
/* BAT entries read per chunk: memory stays bounded whatever the table. */
#define VHD_BAT_CHUNK 16384

enum { VHD_FIXED = 2, VHD_DYNAMIC = 3, VHD_DIFFERENCING = 4 };

static const char aws_footer[] =
	"ImportImage fails with ClientError: Footers not identical / "
	"Disk validation failed";

/* Ones' complement of the byte sum, the checksum field (at csum_off)
 * counted as zero. */
static uint32_t vhd_checksum(const unsigned char *p, size_t len,
			     size_t csum_off)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += p[i];
	return ~sum;
}

typedef struct vhd_ctx {
	const vimg_reader *r;
	vimg_info *info;
	unsigned char footer[VHD_FOOTER];
	size_t footer_len; /* 512, or 511 for old Virtual PC images */
	uint64_t footer_off;
	uint64_t data_offset;
	uint64_t current_size;
	uint32_t disk_type;
} vhd_ctx;

/* Find "conectix" in the last 512 (or, for old images, 511) bytes. */
static bool vhd_find_footer(vhd_ctx *c)
{
	const vimg_reader *r = c->r;

	for (size_t len = VHD_FOOTER; len >= VHD_FOOTER - 1; len--) {
		if (r->size < len)
			continue;
		memset(c->footer, 0, sizeof(c->footer));
		if (!vimg_read_exact(r, r->size - len, c->footer, len))
			continue;
		if (memcmp(c->footer, "conectix", 8) == 0) {
			c->footer_len = len;
			c->footer_off = r->size - len;
			return true;
		}
	}
	return false;
}

/* A dynamic disk whose end was cut off still has the copy at offset 0. */
static bool vhd_find_copy(vhd_ctx *c)
{
	if (!vimg_read_exact(c->r, 0, c->footer, VHD_FOOTER) ||
	    memcmp(c->footer, "conectix", 8) != 0)
		return false;
	c->footer_len = VHD_FOOTER;
	c->footer_off = c->r->size;
	vimg_add_finding(c->info, VIMG_ERROR, "vhd-footer-missing", aws_footer,
			 "the VHD has a header copy of its footer at offset 0 "
			 "but no footer at the end: the file is truncated");
	return true;
}

static void vhd_check_footer(vhd_ctx *c)
{
	uint32_t want = be32(c->footer + 64);
	uint32_t got = vhd_checksum(c->footer, c->footer_len, 64);

	if (want != got)
		vimg_add_finding(c->info, VIMG_ERROR, "vhd-footer-checksum",
				 aws_footer,
				 "the VHD footer checksum is 0x%08x but its "
				 "contents sum to 0x%08x: the footer is corrupt",
				 want, got);
	c->data_offset = be64(c->footer + 16);
	c->current_size = be64(c->footer + 48);
	c->disk_type = be32(c->footer + 60);
	if (c->current_size % 512)
		vimg_add_finding(c->info, VIMG_ERROR, "vhd-size-unaligned",
				 "ImportImage fails: the disk size must be a "
				 "whole number of 512-byte sectors",
				 "the VHD's virtual size %llu is not a multiple "
				 "of 512 bytes",
				 (unsigned long long)c->current_size);
}

static void vhd_check_fixed(vhd_ctx *c)
{
	uint64_t want = c->current_size + c->footer_len;

	if (c->current_size > UINT64_MAX - c->footer_len ||
	    c->r->size != want)
		vimg_add_finding(c->info, VIMG_ERROR,
				 "vhd-fixed-size-mismatch",
				 "ImportImage fails with ClientError: Disk "
				 "validation failed",
				 "a fixed VHD of %llu bytes should be %llu bytes "
				 "long with its footer, but the file has %llu: "
				 "it is truncated or padded",
				 (unsigned long long)c->current_size,
				 (unsigned long long)want,
				 (unsigned long long)c->r->size);
}

/* The copy at offset 0 must equal the footer byte for byte. */
static void vhd_check_copy(vhd_ctx *c)
{
	unsigned char copy[VHD_FOOTER] = { 0 };

	if (c->footer_off < VHD_FOOTER)
		return; /* we are reading the copy itself */
	if (!vimg_read_exact(c->r, 0, copy, c->footer_len) ||
	    memcmp(copy, c->footer, c->footer_len) != 0)
		vimg_add_finding(c->info, VIMG_ERROR, "vhd-footer-copy-mismatch",
				 aws_footer,
				 "the copy of the VHD footer at offset 0 differs "
				 "from the footer at the end of the file");
}

typedef struct vhd_dyn {
	uint64_t table_offset;
	uint32_t max_entries;
	uint32_t block_size;
} vhd_dyn;

static int vhd_read_dynhdr(vhd_ctx *c, vhd_dyn *d)
{
	unsigned char h[VHD_DYNHDR];

	if (!vimg_read_exact(c->r, c->data_offset, h, sizeof(h)) ||
	    memcmp(h, "cxsparse", 8) != 0) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhd-dynamic-header",
				 "ImportImage fails with ClientError: Disk "
				 "validation failed",
				 "the VHD footer points to a dynamic header at "
				 "offset %llu, but there is none there",
				 (unsigned long long)c->data_offset);
		return -1;
	}
	if (be32(h + 36) != vhd_checksum(h, sizeof(h), 36))
		vimg_add_finding(c->info, VIMG_ERROR,
				 "vhd-dynamic-header-checksum", aws_footer,
				 "the checksum of the VHD dynamic header is "
				 "wrong: the header is corrupt");
	d->table_offset = be64(h + 16);
	d->max_entries = be32(h + 28);
	d->block_size = be32(h + 32);
	return 0;
}

static int vhd_check_dyn_geometry(vhd_ctx *c, const vhd_dyn *d)
{
	const char *aws = "ImportImage fails with ClientError: Disk "
			  "validation failed";
	uint64_t bytes = (uint64_t)d->max_entries * 4;

	if (d->block_size < 512 || (d->block_size & (d->block_size - 1))) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhd-block-size", aws,
				 "the VHD block size %u is not a power of two "
				 "of at least 512 bytes", d->block_size);
		return -1;
	}
	if (d->table_offset > c->r->size || bytes > c->r->size - d->table_offset) {
		vimg_add_finding(c->info, VIMG_ERROR, "vhd-bat-out-of-range",
				 aws,
				 "the VHD block allocation table (%u entries at "
				 "offset %llu) extends past the end of the file",
				 d->max_entries,
				 (unsigned long long)d->table_offset);
		return -1;
	}
	if ((uint64_t)d->max_entries * d->block_size < c->current_size)
		vimg_add_finding(c->info, VIMG_ERROR, "vhd-bat-too-small", aws,
				 "the VHD block allocation table covers %llu "
				 "bytes but the disk is %llu bytes",
				 (unsigned long long)d->max_entries *
					 d->block_size,
				 (unsigned long long)c->current_size);
	return 0;
}

/* Blocks hold a sector bitmap (rounded up to whole sectors) then data; both
 * must lie before the footer. */
static void vhd_check_bat(vhd_ctx *c, const vhd_dyn *d)
{
	uint64_t sectors = d->block_size / 512;
	uint64_t bitmap = ((sectors + 7) / 8 + 511) / 512 * 512;
	uint64_t span = bitmap + d->block_size;
	unsigned char *buf = xmalloc(VHD_BAT_CHUNK * 4);
	uint64_t bad = 0, first_bad = 0;
	uint32_t first_val = 0;

	for (uint64_t i = 0; i < d->max_entries; i += VHD_BAT_CHUNK) {
		uint64_t n = d->max_entries - i;

		if (n > VHD_BAT_CHUNK)
			n = VHD_BAT_CHUNK;
		if (!vimg_read_exact(c->r, d->table_offset + i * 4, buf, n * 4))
			break; /* bounds were checked: an I/O error */
		for (uint64_t j = 0; j < n; j++) {
			uint32_t v = be32(buf + j * 4);
			uint64_t start = (uint64_t)v * 512;

			if (v == VHD_UNALLOCATED ||
			    (start <= c->footer_off &&
			     span <= c->footer_off - start))
				continue;
			if (!bad++) {
				first_bad = i + j;
				first_val = v;
			}
		}
	}
	free(buf);
	if (bad)
		vimg_add_finding(c->info, VIMG_ERROR, "vhd-bat-out-of-range",
				 "ImportImage fails with ClientError: Disk "
				 "validation failed",
				 "%llu VHD block(s) lie outside the file (the "
				 "first, block %llu, at sector %u): the file is "
				 "truncated or its table corrupt",
				 (unsigned long long)bad,
				 (unsigned long long)first_bad, first_val);
}

static void vhd_check_dynamic(vhd_ctx *c)
{
	vhd_dyn d;

	vhd_check_copy(c);
	if (vhd_read_dynhdr(c, &d) < 0 || vhd_check_dyn_geometry(c, &d) < 0)
		return;
	vhd_check_bat(c, &d);
}

static const char *vhd_subformat(uint32_t type)
{
	switch (type) {
	case VHD_FIXED:
		return "fixed";
	case VHD_DYNAMIC:
		return "dynamic";
	case VHD_DIFFERENCING:
		return "differencing";
	}
	return "unknown";
}

int vimg_vhd_inspect(const vimg_reader *r, vimg_info *info)
{
	vhd_ctx c = { .r = r, .info = info };

	if (!vhd_find_footer(&c) && !vhd_find_copy(&c))
		return -1;
	info->format = VIMG_VHD;
	if (!info->file_size)
		info->file_size = r->size;
	vhd_check_footer(&c);
	info->virtual_size = c.current_size;
	snprintf(info->subformat, sizeof(info->subformat), "%s",
		 vhd_subformat(c.disk_type));
	switch (c.disk_type) {
	case VHD_FIXED:
		vhd_check_fixed(&c);
		break;
	case VHD_DIFFERENCING:
		vimg_add_finding(info, VIMG_ERROR, "vhd-differencing",
				 "ImportImage fails: AWS cannot import a "
				 "differencing disk without its parent",
				 "this VHD is a differencing disk: merge it "
				 "into its parent (or convert it to a "
				 "standalone image) before importing");
		vhd_check_dynamic(&c);
		break;
	case VHD_DYNAMIC:
		vhd_check_dynamic(&c);
		break;
	default:
		vimg_add_finding(info, VIMG_ERROR, "vhd-disk-type",
				 "ImportImage fails with ClientError: Disk "
				 "validation failed",
				 "the VHD disk type %u is not fixed (2), dynamic "
				 "(3) or differencing (4)", c.disk_type);
	}
	return 0;
}
