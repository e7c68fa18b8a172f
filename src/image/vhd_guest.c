/*
 * The guest's view of a VHD.  A fixed disk is its file minus the footer.
 * A dynamic disk is read through its block allocation table: each block is
 * a sector bitmap (padded to whole sectors) then the data; an unallocated
 * block, and a sector whose bitmap bit is clear, read as zeros.  Memory
 * stays bounded whatever the disk: one chunk of the table and one bitmap
 * are cached.  A differencing disk has no view without its parent.
 */
#include "image/image.h"
#include "base/endian.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define VHD_FOOTER 512
#define VHD_DYNHDR 1024
#define VHD_UNALLOCATED 0xFFFFFFFFu
#define VHD_BAT_CHUNK 16384u /* entries: 64 KiB of table at a time */

enum { VHD_FIXED = 2, VHD_DYNAMIC = 3 };

typedef struct vhd_guest {
	const vimg_reader *file;
	uint64_t data_end;     /* where the footer starts */
	uint64_t table_offset;
	uint32_t max_entries;
	uint32_t block_size;   /* a power of two, at least 512 */
	uint32_t bitmap_bytes; /* the bitmap on disk, padded to 512 */
	/* one chunk of the BAT */
	uint32_t *bat;
	uint64_t bat_first;    /* its first entry; UINT64_MAX: none */
	uint32_t bat_n;
	/* the bitmap of one block */
	unsigned char *bitmap;
	uint64_t bitmap_block; /* UINT64_MAX: none */
} vhd_guest;

static void guest_close(vimg_reader *r)
{
	vhd_guest *g = r->ctx;

	free(g->bat);
	free(g->bitmap);
	free(g);
}

/* The BAT entry of block bi (VHD_UNALLOCATED past the table), or -1 on a
 * read error. */
static long long bat_entry(vhd_guest *g, uint64_t bi)
{
	if (bi >= g->max_entries)
		return VHD_UNALLOCATED;
	if (g->bat_first == UINT64_MAX || bi < g->bat_first ||
	    bi - g->bat_first >= g->bat_n) {
		uint64_t first = bi - bi % VHD_BAT_CHUNK;
		uint64_t n = g->max_entries - first;
		unsigned char *raw = (unsigned char *)g->bat;

		if (n > VHD_BAT_CHUNK)
			n = VHD_BAT_CHUNK;
		g->bat_first = UINT64_MAX;
		if (!vimg_read_exact(g->file, g->table_offset + first * 4, raw,
				     (size_t)n * 4))
			return -1;
		/* Decode in place: entry j's bytes are never read again once
		 * entry j is written, and j only grows. */
		for (uint64_t j = 0; j < n; j++)
			g->bat[j] = be32(raw + j * 4);
		g->bat_first = first;
		g->bat_n = (uint32_t)n;
	}
	return g->bat[bi - g->bat_first];
}

static const unsigned char *block_bitmap(vhd_guest *g, uint64_t bi,
					 uint64_t start)
{
	if (g->bitmap_block != bi) {
		g->bitmap_block = UINT64_MAX;
		if (!vimg_read_exact(g->file, start, g->bitmap, g->bitmap_bytes))
			return NULL;
		g->bitmap_block = bi;
	}
	return g->bitmap;
}

/* Bit s of the bitmap, most significant bit first (as Virtual PC and
 * vhd-util write it). */
static bool sector_present(const unsigned char *bm, uint64_t s)
{
	return bm[s / 8] & (0x80u >> (s % 8));
}

/* Read n bytes at byte `in` of block bi, n not crossing the block. */
static int read_in_block(vhd_guest *g, uint64_t bi, uint64_t in,
			 unsigned char *buf, size_t n)
{
	long long e = bat_entry(g, bi);

	if (e < 0)
		return -1;
	if (e == VHD_UNALLOCATED) {
		memset(buf, 0, n);
		return 0;
	}
	uint64_t start = (uint64_t)e * 512;
	uint64_t data = start + g->bitmap_bytes;
	if (start > g->data_end || g->data_end - start < g->bitmap_bytes ||
	    in + n > g->data_end - data)
		return -1; /* the table points past the data: corrupt */
	const unsigned char *bm = block_bitmap(g, bi, start);
	if (!bm)
		return -1;
	/* Runs of sectors with the same bit: one read or one memset each. */
	while (n) {
		bool present = sector_present(bm, in / 512);
		uint64_t end = (in / 512 + 1) * 512;

		while (end < in + n && sector_present(bm, end / 512) == present)
			end += 512;
		size_t run = end - in < n ? (size_t)(end - in) : n;

		if (present) {
			if (!vimg_read_exact(g->file, data + in, buf, run))
				return -1;
		} else {
			memset(buf, 0, run);
		}
		buf += run;
		in += run;
		n -= run;
	}
	return 0;
}

static long long dyn_read_at(const vimg_reader *r, uint64_t off, void *buf,
			     size_t len)
{
	vhd_guest *g = r->ctx;
	unsigned char *p = buf;
	size_t done = 0;

	if (off >= r->size)
		return 0;
	if (len > r->size - off)
		len = (size_t)(r->size - off);
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t bi = pos / g->block_size, in = pos % g->block_size;
		size_t n = len - done;

		if (n > g->block_size - in)
			n = (size_t)(g->block_size - in);
		if (read_in_block(g, bi, in, p + done, n) < 0)
			return -1;
		done += n;
	}
	return (long long)done;
}

static int open_dynamic(const vimg_reader *file, const unsigned char *footer,
			uint64_t data_end, vimg_reader *out)
{
	unsigned char h[VHD_DYNHDR];
	uint64_t current_size = be64(footer + 48);

	if (!vimg_read_exact(file, be64(footer + 16), h, sizeof(h)) ||
	    memcmp(h, "cxsparse", 8) != 0)
		return -1;
	uint64_t table_offset = be64(h + 16);
	uint32_t max_entries = be32(h + 28);
	uint32_t block_size = be32(h + 32);
	if (block_size < 512 || (block_size & (block_size - 1)) ||
	    table_offset > file->size ||
	    (uint64_t)max_entries * 4 > file->size - table_offset)
		return -1;

	vhd_guest *g = xcalloc(1, sizeof(*g));
	g->file = file;
	g->data_end = data_end;
	g->table_offset = table_offset;
	g->max_entries = max_entries;
	g->block_size = block_size;
	/* One bit per sector; at most 512 KiB for the largest (2 GiB) block. */
	g->bitmap_bytes = ((block_size / 512 + 7) / 8 + 511) / 512 * 512;
	g->bat = xmalloc(VHD_BAT_CHUNK * 4);
	g->bat_first = UINT64_MAX;
	g->bitmap = xmalloc(g->bitmap_bytes);
	g->bitmap_block = UINT64_MAX;
	out->read_at = dyn_read_at;
	out->close = guest_close;
	out->ctx = g;
	out->size = current_size;
	return 0;
}

int vimg_vhd_guest_open(const vimg_reader *file, vimg_reader *out)
{
	unsigned char footer[VHD_FOOTER] = { 0 };
	size_t flen;

	memset(out, 0, sizeof(*out));
	/* The footer is the last 512 bytes, or 511 for old Virtual PC. */
	for (flen = VHD_FOOTER; flen >= VHD_FOOTER - 1; flen--)
		if (file->size >= flen &&
		    vimg_read_exact(file, file->size - flen, footer, flen) &&
		    memcmp(footer, "conectix", 8) == 0)
			break;
	if (flen < VHD_FOOTER - 1)
		return -1;
	uint64_t data_end = file->size - flen;
	uint64_t current_size = be64(footer + 48);
	switch (be32(footer + 60)) {
	case VHD_FIXED:
		/* The data is the file up to the footer; the footer's size
		 * says how much of it the guest sees (they are equal in a
		 * sound image). */
		if (current_size > data_end)
			return -1;
		return vimg_reader_window(out, file, 0, current_size);
	case VHD_DYNAMIC:
		return open_dynamic(file, footer, data_end, out);
	default: /* differencing: the parent holds the rest */
		return -1;
	}
}
