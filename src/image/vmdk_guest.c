/*
 * The guest's view of a VMDK: a reader over the virtual disk.  A sparse
 * file is one part; a descriptor is its extents laid end to end (FLAT and
 * VMFS extents are windows onto their files, ZERO extents read as zeros,
 * SPARSE extents go through their grain tables).  Memory stays bounded:
 * each sparse part keeps its grain directory (capped when the header was
 * read) and two grain tables; all parts share one decompressed grain.
 */
#include "image/vmdk.h"
#include "base/endian.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/xalloc.h"

#define GT_SLOTS 2

typedef enum { PART_ZERO, PART_FLAT, PART_SPARSE } part_kind;

typedef struct vpart {
	uint64_t start, len;  /* guest bytes */
	part_kind kind;
	vimg_reader rd;       /* the extent (a copy of the image's reader for
			       * a sparse file, which is not ours to close) */
	bool own;
	uint64_t flat_off;    /* bytes */
	vmdk_sparse s;
	uint32_t *gd;
	uint32_t *gt[GT_SLOTS];
	uint64_t gt_idx[GT_SLOTS];
	unsigned gt_next;
} vpart;

typedef struct vguest {
	vpart *parts;
	size_t n;
	/* the one cached grain of a compressed part */
	size_t g_part;
	uint64_t g_idx;
	bool g_valid;
	unsigned char *grain, *zbuf;
	size_t grain_cap, zbuf_cap;
} vguest;

static void guest_free(vguest *g)
{
	for (size_t i = 0; i < g->n; i++) {
		vpart *p = &g->parts[i];
		if (p->own)
			vimg_reader_close(&p->rd);
		free(p->gd);
		for (int j = 0; j < GT_SLOTS; j++)
			free(p->gt[j]);
	}
	free(g->parts);
	free(g->grain);
	free(g->zbuf);
	free(g);
}

static void guest_close(vimg_reader *r)
{
	guest_free(r->ctx);
}

/* The grain table entry for grain gi: 0 unallocated, or -1 on error. */
static long long gte_of(vpart *p, uint64_t gi)
{
	uint64_t di = gi / p->s.gtes;
	size_t bytes = (size_t)p->s.gtes * 4;
	int slot;

	if (di >= p->s.ngd || p->gd[di] == 0)
		return 0;
	for (slot = 0; slot < GT_SLOTS; slot++)
		if (p->gt[slot] && p->gt_idx[slot] == di)
			return p->gt[slot][gi % p->s.gtes];
	slot = (int)(p->gt_next++ % GT_SLOTS);
	if (!p->gt[slot])
		p->gt[slot] = xmalloc(bytes);
	unsigned char *raw = (unsigned char *)p->gt[slot];
	p->gt_idx[slot] = UINT64_MAX;
	if (!vimg_read_exact(&p->rd, (uint64_t)p->gd[di] * VMDK_SECTOR, raw,
			     bytes))
		return -1;
	for (uint32_t i = 0; i < p->s.gtes; i++)
		p->gt[slot][i] = le32(raw + 4 * i);
	p->gt_idx[slot] = di;
	return p->gt[slot][gi % p->s.gtes];
}

static int inflate_grain(const unsigned char *src, size_t n, unsigned char *dst,
			 size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)src;
	z.avail_in = (uInt)n;
	z.next_out = dst;
	z.avail_out = (uInt)cap;
	int zr = inflate(&z, Z_FINISH);
	size_t out = cap - z.avail_out;
	inflateEnd(&z);
	if (zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && out == cap))
		return -1;
	memset(dst + out, 0, cap - out);
	return 0;
}

/* Decompress grain gi (at sector gte) into the shared cache. */
static int load_grain(vguest *g, size_t pi, uint64_t gi, uint64_t gte)
{
	vpart *p = &g->parts[pi];
	size_t gb = (size_t)(p->s.grain * VMDK_SECTOR);
	uint64_t off = gte * VMDK_SECTOR;
	uint64_t size = p->rd.size;
	uint64_t n;

	if (g->g_valid && g->g_part == pi && g->g_idx == gi)
		return 0;
	g->g_valid = false;
	if (off >= size)
		return -1;
	if (p->s.markers) {
		unsigned char m[VMDK_GRAIN_MARKER];
		if (!vimg_read_exact(&p->rd, off, m, sizeof(m)))
			return -1;
		n = le32(m + 8);
		off += sizeof(m);
		if (n == 0 || n > 2 * (uint64_t)gb || n > size - off)
			return -1;
	} else {
		n = size - off < 2 * (uint64_t)gb ? size - off : 2 * (uint64_t)gb;
	}
	if (g->grain_cap < gb) {
		free(g->grain);
		g->grain = xmalloc(gb);
		g->grain_cap = gb;
	}
	if (g->zbuf_cap < n) {
		free(g->zbuf);
		g->zbuf = xmalloc((size_t)n);
		g->zbuf_cap = (size_t)n;
	}
	if (!vimg_read_exact(&p->rd, off, g->zbuf, (size_t)n) ||
	    inflate_grain(g->zbuf, (size_t)n, g->grain, gb) < 0)
		return -1;
	g->g_part = pi;
	g->g_idx = gi;
	g->g_valid = true;
	return 0;
}

/* A read that stops short at the end of an extent file reads zeros. */
static int read_file(const vimg_reader *r, uint64_t off, unsigned char *buf,
		     size_t len)
{
	long long got = vimg_read(r, off, buf, len);

	if (got < 0)
		return -1;
	memset(buf + got, 0, len - (size_t)got);
	return 0;
}

static int read_sparse(vguest *g, size_t pi, uint64_t off, unsigned char *buf,
		       size_t len)
{
	vpart *p = &g->parts[pi];
	uint64_t gb = p->s.grain * VMDK_SECTOR;

	while (len) {
		uint64_t gi = off / gb, in = off % gb;
		size_t n = gb - in < len ? (size_t)(gb - in) : len;
		long long gte = gte_of(p, gi);
		if (gte < 0)
			return -1;
		if (gte == 0 || (gte == 1 && p->s.zero_grain)) {
			memset(buf, 0, n);
		} else if (!p->s.compressed) {
			if (read_file(&p->rd, (uint64_t)gte * VMDK_SECTOR + in,
				      buf, n) < 0)
				return -1;
		} else {
			if (load_grain(g, pi, gi, (uint64_t)gte) < 0)
				return -1;
			memcpy(buf, g->grain + in, n);
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static long long guest_read_at(const vimg_reader *r, uint64_t off, void *buf,
			       size_t len)
{
	vguest *g = r->ctx;
	unsigned char *out = buf;
	size_t done = 0;

	if (off >= r->size)
		return 0;
	if (len > r->size - off)
		len = (size_t)(r->size - off);
	/* Find the part holding off: parts are sorted by start. */
	size_t lo = 0, hi = g->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->parts[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	for (size_t i = lo; done < len && i < g->n; i++) {
		vpart *p = &g->parts[i];
		uint64_t in = off + done - p->start;
		if (in >= p->len)
			continue;
		size_t n = p->len - in < len - done ? (size_t)(p->len - in)
						     : len - done;
		int rc = 0;
		switch (p->kind) {
		case PART_ZERO:
			memset(out + done, 0, n);
			break;
		case PART_FLAT:
			rc = read_file(&p->rd, p->flat_off + in, out + done, n);
			break;
		case PART_SPARSE:
			rc = read_sparse(g, i, in, out + done, n);
			break;
		}
		if (rc < 0)
			return -1;
		done += n;
	}
	return (long long)done;
}

/* Header and grain directory of the sparse extent in p->rd. */
static int open_sparse(vpart *p)
{
	vimg_info scratch = { 0 };
	int rc = vmdk_sparse_header(&p->rd, NULL, &scratch, &p->s);

	vimg_info_free(&scratch);
	if (rc < 0)
		return -1;
	/* vmdk_sparse_header checked ngd against the cap and the file. */
	unsigned char *raw = xmalloc((size_t)p->s.ngd * 4);
	if (!vimg_read_exact(&p->rd, p->s.gd_off * VMDK_SECTOR, raw,
			     (size_t)p->s.ngd * 4)) {
		free(raw);
		return -1;
	}
	p->gd = xmalloc((size_t)p->s.ngd * sizeof(*p->gd));
	for (uint64_t i = 0; i < p->s.ngd; i++)
		p->gd[i] = le32(raw + 4 * i);
	free(raw);
	return 0;
}

static vpart *add_part(vguest *g, uint64_t start, uint64_t len,
		       part_kind kind)
{
	g->parts = xrealloc(g->parts, (g->n + 1) * sizeof(*g->parts));
	vpart *p = &g->parts[g->n++];
	memset(p, 0, sizeof(*p));
	p->start = start;
	p->len = len;
	p->kind = kind;
	return p;
}

static int open_extent(vguest *g, const vimg_opener *op, const vmdk_extent *e,
		       uint64_t start)
{
	uint64_t len = e->sectors * VMDK_SECTOR;

	if (e->type == VMDK_EXT_ZERO) {
		add_part(g, start, len, PART_ZERO);
		return 0;
	}
	if (e->type != VMDK_EXT_FLAT && e->type != VMDK_EXT_VMFS &&
	    e->type != VMDK_EXT_SPARSE)
		return -1;
	if (!op)
		return -1;
	vpart *p = add_part(g, start, len,
			    e->type == VMDK_EXT_SPARSE ? PART_SPARSE : PART_FLAT);
	if (op->open(op, e->name, &p->rd) < 0) {
		memset(&p->rd, 0, sizeof(p->rd));
		return -1;
	}
	p->own = true;
	if (p->kind == PART_FLAT) {
		p->flat_off = e->offset * VMDK_SECTOR; /* parser bounded it */
		return 0;
	}
	return open_sparse(p);
}

static int open_descriptor(vguest *g, const vimg_reader *file,
			   const vimg_opener *op, uint64_t *size)
{
	size_t len = file->size > VMDK_MAX_DESC ? VMDK_MAX_DESC
						: (size_t)file->size;
	char *text = xmalloc(len + 1);
	vmdk_desc d;
	int rc = -1;

	memset(&d, 0, sizeof(d));
	if (!vimg_read_exact(file, 0, text, len))
		goto out;
	text[len] = '\0';
	if (vmdk_desc_parse(text, len, &d) < 0 || d.nextents == 0 ||
	    d.bad_line || d.too_many)
		goto out;
	uint64_t total = 0;
	for (size_t i = 0; i < d.nextents; i++) {
		const vmdk_extent *e = &d.extents[i];
		if (e->sectors == 0)
			continue;
		if (e->sectors > VMDK_MAX_CAPACITY - total ||
		    open_extent(g, op, e, total * VMDK_SECTOR) < 0)
			goto out;
		total += e->sectors;
	}
	*size = total * VMDK_SECTOR;
	rc = g->n ? 0 : -1;
out:
	vmdk_desc_free(&d);
	free(text);
	return rc;
}

int vimg_vmdk_guest_open(const vimg_reader *file, const vimg_opener *op,
			 vimg_reader *out)
{
	vguest *g = xcalloc(1, sizeof(*g));
	unsigned char head[4];
	uint64_t size = 0;

	memset(out, 0, sizeof(*out));
	if (!vimg_read_exact(file, 0, head, sizeof(head)))
		goto fail;
	if (memcmp(head, "KDMV", 4) == 0) {
		vpart *p = add_part(g, 0, 0, PART_SPARSE);
		p->rd = *file; /* borrowed: file outlives the view */
		if (open_sparse(p) < 0)
			goto fail;
		p->len = size = p->s.capacity * VMDK_SECTOR;
	} else if (open_descriptor(g, file, op, &size) < 0) {
		goto fail;
	}
	out->read_at = guest_read_at;
	out->close = guest_close;
	out->ctx = g;
	out->size = size;
	return 0;
fail:
	guest_free(g);
	return -1;
}
