/*
 * The guest's view of a VHDX, read through the block allocation table:
 * a fully present payload block reads from the file at its FileOffsetMB,
 * the other states (not present, undefined, zero, unmapped) read as zeros.
 * Fixed disks have the same table, every block present.  A differencing
 * disk has no view without its parent.  Memory stays bounded: one chunk of
 * the table is cached.
 */
#include "image/vhdx.h"
#include "base/endian.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define BAT_CHUNK 8192u /* entries: 64 KiB of table at a time */

typedef struct vhdx_guest {
	const vimg_reader *file;
	vhdx_layout l;
	uint64_t bat[BAT_CHUNK];
	uint64_t bat_first; /* first cached entry; UINT64_MAX: none */
	uint32_t bat_n;
} vhdx_guest;

static void guest_close(vimg_reader *r)
{
	free(r->ctx);
}

/* BAT entry k (k < l.bat_entries), or false on a read error. */
static bool bat_entry(vhdx_guest *g, uint64_t k, uint64_t *e)
{
	if (g->bat_first == UINT64_MAX || k < g->bat_first ||
	    k - g->bat_first >= g->bat_n) {
		uint64_t first = k - k % BAT_CHUNK;
		uint64_t n = g->l.bat_entries - first;
		unsigned char *raw = (unsigned char *)g->bat;

		if (n > BAT_CHUNK)
			n = BAT_CHUNK;
		g->bat_first = UINT64_MAX;
		if (!vimg_read_exact(g->file, g->l.bat_off + first * 8, raw,
				     (size_t)n * 8))
			return false;
		/* In place: entry j is decoded from its own bytes. */
		for (uint64_t j = 0; j < n; j++)
			g->bat[j] = le64(raw + j * 8);
		g->bat_first = first;
		g->bat_n = (uint32_t)n;
	}
	*e = g->bat[k - g->bat_first];
	return true;
}

/* n bytes at byte `in` of payload block bi, not crossing the block. */
static int read_in_block(vhdx_guest *g, uint64_t bi, uint64_t in,
			 unsigned char *buf, size_t n)
{
	uint64_t e;

	if (!bat_entry(g, vhdx_payload_index(&g->l, bi), &e))
		return -1;
	switch (VHDX_BAT_STATE(e)) {
	case VHDX_PAYLOAD_NOT_PRESENT:
	case VHDX_PAYLOAD_UNDEFINED:
	case VHDX_PAYLOAD_ZERO:
	case VHDX_PAYLOAD_UNMAPPED:
		memset(buf, 0, n);
		return 0;
	case VHDX_PAYLOAD_FULLY_PRESENT:
		break;
	default: /* partially present (a differencing disk's) or reserved */
		return -1;
	}
	uint64_t off = VHDX_BAT_OFFSET(e);
	if (off > g->file->size || in > g->file->size - off ||
	    !vimg_read_exact(g->file, off + in, buf, n))
		return -1; /* past the end of the file: truncated */
	return 0;
}

static long long guest_read_at(const vimg_reader *r, uint64_t off, void *buf,
			       size_t len)
{
	vhdx_guest *g = r->ctx;
	unsigned char *p = buf;
	size_t done = 0;

	if (off >= r->size)
		return 0;
	if (len > r->size - off)
		len = (size_t)(r->size - off);
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t bi = pos / g->l.block_size, in = pos % g->l.block_size;
		size_t n = len - done;

		if (n > g->l.block_size - in)
			n = (size_t)(g->l.block_size - in);
		if (read_in_block(g, bi, in, p + done, n) < 0)
			return -1;
		done += n;
	}
	return (long long)done;
}

int vimg_vhdx_guest_open(const vimg_reader *file, vimg_reader *out)
{
	vimg_info scratch = { 0 };
	vhdx_layout l;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	/* The inspector has reported what is wrong; here only whether the
	 * layout can be followed matters. */
	if (vhdx_read_layout(file, &scratch, &l) < 0 ||
	    (l.flags & VHDX_FLAG_DIFFERENCING))
		goto out;
	vhdx_guest *g = xmalloc(sizeof(*g));
	g->file = file;
	g->l = l;
	g->bat_first = UINT64_MAX;
	g->bat_n = 0;
	out->read_at = guest_read_at;
	out->close = guest_close;
	out->ctx = g;
	out->size = l.disk_size;
	rc = 0;
out:
	vimg_info_free(&scratch);
	return rc;
}
