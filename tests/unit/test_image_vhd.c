/*
 * VHD and VHDX inspectors over images built in memory, CRC32C vectors, and
 * (when qemu-img is installed) real images compared with qemu-img's sizes.
 * Run with an argument DIR to write the fuzz seed files into DIR/vhd and
 * DIR/vhdx instead of testing.
 */
#include "codec/crc32c.h"
#include "base/endian.h"
#include "image/image.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

typedef struct img {
	unsigned char *p;
	size_t len;
} img;

static uint32_t vhd_sum(const unsigned char *p, size_t len, size_t csum)
{
	uint32_t s = 0;

	for (size_t i = 0; i < len; i++)
		if (i < csum || i >= csum + 4)
			s += p[i];
	return ~s;
}

static void vhd_footer(unsigned char *f, uint32_t type, uint64_t size,
		       uint64_t data_offset)
{
	memset(f, 0, 512);
	memcpy(f, "conectix", 8);
	put_be32(f + 8, 2);
	put_be32(f + 12, 0x00010000);
	put_be64(f + 16, data_offset);
	memcpy(f + 28, "vmie", 4);
	put_be64(f + 40, size);
	put_be64(f + 48, size);
	put_be32(f + 60, type);
	put_be32(f + 64, vhd_sum(f, 512, 64));
}

static img vhd_fixed(uint64_t size)
{
	img m = { calloc(1, size + 512), size + 512 };

	vhd_footer(m.p + size, 2, size, UINT64_MAX);
	return m;
}

/* Copy at 0, dynamic header at 512, BAT at 1536, block 0 allocated after
 * the BAT (bitmap sector + data), then the footer. */
static img vhd_dynamic(uint64_t size, uint32_t block)
{
	uint32_t entries = (uint32_t)((size + block - 1) / block);
	size_t bat_bytes = ((size_t)entries * 4 + 511) / 512 * 512;
	size_t blk0 = 1536 + bat_bytes;
	img m;

	m.len = blk0 + 512 + block + 512;
	m.p = calloc(1, m.len);
	vhd_footer(m.p, 3, size, 512);
	memcpy(m.p + m.len - 512, m.p, 512);
	unsigned char *h = m.p + 512;
	memcpy(h, "cxsparse", 8);
	put_be64(h + 8, UINT64_MAX);
	put_be64(h + 16, 1536);
	put_be32(h + 24, 0x00010000);
	put_be32(h + 28, entries);
	put_be32(h + 32, block);
	put_be32(h + 36, vhd_sum(h, 1024, 36));
	memset(m.p + 1536, 0xff, bat_bytes);
	put_be32(m.p + 1536, (uint32_t)(blk0 / 512));
	return m;
}

static void inspect(const img *m, int (*fn)(const vimg_reader *, vimg_info *),
		    vimg_info *info, int *rc)
{
	vimg_reader r;

	memset(info, 0, sizeof(*info));
	vimg_reader_mem(&r, m->p, m->len);
	*rc = fn(&r, info);
}

static bool has_code(const vimg_info *info, const char *code)
{
	for (size_t i = 0; i < info->nfindings; i++)
		if (strcmp(info->findings[i].code, code) == 0)
			return true;
	return false;
}

static void test_vhd_fixed(void)
{
	img m = vhd_fixed(4 * MiB);
	vimg_info info;
	int rc;

	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK_INT(info.format, VIMG_VHD);
	CHECK_STR(info.subformat, "fixed");
	CHECK_INT(info.virtual_size, 4 * MiB);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);

	/* flipped checksum */
	m.p[m.len - 512 + 64] ^= 0x01;
	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK(has_code(&info, "vhd-footer-checksum"));
	CHECK(vimg_has_errors(&info));
	CHECK_CONTAINS(info.nfindings ? info.findings[0].aws : NULL,
		       "Footers not identical");
	vimg_info_free(&info);
	m.p[m.len - 512 + 64] ^= 0x01;

	/* wrong file size: the same footer one sector later */
	img big = { calloc(1, m.len + 512), m.len + 512 };
	memcpy(big.p + big.len - 512, m.p + m.len - 512, 512);
	inspect(&big, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK(has_code(&info, "vhd-fixed-size-mismatch"));
	vimg_info_free(&info);
	free(big.p);
	free(m.p);
}

static void test_vhd_dynamic(void)
{
	img m = vhd_dynamic(8 * MiB, 2 * MiB);
	vimg_info info;
	int rc;

	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(info.subformat, "dynamic");
	CHECK_INT(info.virtual_size, 8 * MiB);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);

	/* a BAT entry past the end of the file */
	put_be32(m.p + 1536 + 4, 0x00100000);
	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK(has_code(&info, "vhd-bat-out-of-range"));
	CHECK_INT(info.nfindings, 1);
	vimg_info_free(&info);
	put_be32(m.p + 1536 + 4, 0xFFFFFFFF);

	/* header copy differs from the footer */
	m.p[100] ^= 1;
	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK(has_code(&info, "vhd-footer-copy-mismatch"));
	vimg_info_free(&info);
	m.p[100] ^= 1;

	/* truncated: the footer gone, the copy at 0 still there */
	img cut = { m.p, m.len - 512 };
	inspect(&cut, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK(has_code(&info, "vhd-footer-missing"));
	vimg_info_free(&info);

	/* differencing */
	vhd_footer(m.p, 4, 8 * MiB, 512);
	memcpy(m.p + m.len - 512, m.p, 512);
	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK_STR(info.subformat, "differencing");
	CHECK(has_code(&info, "vhd-differencing"));
	vimg_info_free(&info);
	free(m.p);
}

static void test_vhd_not(void)
{
	unsigned char junk[4096] = { 0 };
	img m = { junk, sizeof(junk) };
	vimg_info info;
	int rc;

	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(rc, -1);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	m.len = 3;
	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(rc, -1);
	vimg_info_free(&info);
}

/* --- VHDX */

#define GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                        \
	{ (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff,                 \
	  ((a) >> 24) & 0xff, (b) & 0xff, ((b) >> 8) & 0xff, (c) & 0xff,     \
	  ((c) >> 8) & 0xff, d0, d1, d2, d3, d4, d5, d6, d7 }

static const unsigned char g_meta[16] = GUID(0x8B7CA206, 0x4790, 0x4B9A,
	0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E);
static const unsigned char g_bat[16] = GUID(0x2DC27766, 0xF623, 0x4200, 0x9D,
	0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08);
static const unsigned char g_params[16] = GUID(0xCAA16737, 0xFA36, 0x4D43,
	0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B);
static const unsigned char g_size[16] = GUID(0x2FA54224, 0xCD1B, 0x4876,
	0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8);
static const unsigned char g_sector[16] = GUID(0x8141BF1D, 0xA96F, 0x4709,
	0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F);

static void set_crc(unsigned char *p, size_t len)
{
	put_le32(p + 4, 0);
	put_le32(p + 4, vcrc32c(0, p, len));
}

static void vhdx_header(unsigned char *h, uint64_t seq)
{
	memcpy(h, "head", 4);
	put_le64(h + 8, seq);
	put_le16(h + 66, 1);       /* Version */
	put_le32(h + 68, 1 * MiB); /* LogLength */
	put_le64(h + 72, 1 * MiB); /* LogOffset */
	set_crc(h, 4 * KiB);
}

/* Where a guest disk's blocks come from: the bytes of block bi (at least
 * the part of it the disk covers), or NULL for a block of zeros. */
typedef const unsigned char *(*block_fn)(void *ctx, uint64_t bi);

typedef struct vhdx_spec {
	uint64_t size;
	uint32_t block, sector;
	uint32_t flags;  /* 1 fixed, 2 differencing */
	bool compact;    /* regions packed after the tables (small seeds) */
	block_fn data;   /* NULL: no payload at all */
	void *ctx;
} vhdx_spec;

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* The spec aligns regions to 1 MiB; `compact` packs them after the region
 * tables instead (the parser does not insist) to keep fuzz seeds small. */
static void vhdx_region(unsigned char *t, uint64_t meta, uint32_t meta_len,
			uint64_t bat, uint32_t bat_len)
{
	memcpy(t, "regi", 4);
	put_le32(t + 8, 2);
	memcpy(t + 16, g_meta, 16);
	put_le64(t + 32, meta);
	put_le32(t + 40, meta_len);
	put_le32(t + 44, 1);
	memcpy(t + 48, g_bat, 16);
	put_le64(t + 64, bat);
	put_le32(t + 72, bat_len);
	put_le32(t + 76, 1);
	set_crc(t, 64 * KiB);
}

static void meta_entry(unsigned char *e, const unsigned char *guid,
		       uint32_t off, uint32_t len)
{
	memcpy(e, guid, 16);
	put_le32(e + 16, off);
	put_le32(e + 20, len);
	put_le32(e + 24, 6); /* IsVirtualDisk | IsRequired */
}

static uint64_t vhdx_chunk_ratio(const vhdx_spec *s)
{
	return ((uint64_t)1 << 23) * s->sector / s->block;
}

/* Identifier, headers, region tables, (log at 1 MiB,) metadata at 2 MiB,
 * BAT at 3 MiB, then the payload blocks the data function gives (all of
 * them, zeros included, for a fixed disk), each at the next MiB.  Compact:
 * metadata at 320 KiB, BAT at 388 KiB, and the file ends where the disk's
 * last byte does. */
static img vhdx_image(const vhdx_spec *s)
{
	uint64_t blocks = (s->size + s->block - 1) / s->block;
	uint64_t cr = vhdx_chunk_ratio(s);
	uint64_t entries = blocks ? blocks + (blocks - 1) / cr : 0;
	uint64_t meta = s->compact ? 320 * KiB : 2 * MiB;
	uint32_t meta_len = s->compact ? 68 * KiB : 1 * MiB;
	uint64_t bat = s->compact ? 388 * KiB : 3 * MiB;
	uint32_t bat_len = (uint32_t)round_up(entries ? entries * 8 : 1,
					      s->compact ? 4 * KiB : 1 * MiB);
	uint64_t end = bat + bat_len, next = round_up(end, MiB);
	img m;

	/* First pass: where each present block goes, and the file's end. */
	for (uint64_t i = 0; i < blocks && s->data; i++) {
		if (!(s->flags & 1) && !s->data(s->ctx, i))
			continue;
		uint64_t used = s->size - i * s->block;
		end = next + (s->compact && used < s->block ? used : s->block);
		next += s->block;
	}
	m.len = (size_t)end;
	m.p = calloc(1, m.len);
	memcpy(m.p, "vhdxfile", 8);
	vhdx_header(m.p + 64 * KiB, 1);
	vhdx_header(m.p + 128 * KiB, 2);
	vhdx_region(m.p + 192 * KiB, meta, meta_len, bat, bat_len);
	vhdx_region(m.p + 256 * KiB, meta, meta_len, bat, bat_len);
	unsigned char *md = m.p + meta;
	memcpy(md, "metadata", 8);
	put_le16(md + 10, 3);
	meta_entry(md + 32, g_params, 64 * KiB, 8);
	meta_entry(md + 64, g_size, 64 * KiB + 8, 8);
	meta_entry(md + 96, g_sector, 64 * KiB + 16, 4);
	put_le32(md + 64 * KiB, s->block);
	put_le32(md + 64 * KiB + 4, s->flags);
	put_le64(md + 64 * KiB + 8, s->size);
	put_le32(md + 64 * KiB + 16, s->sector);
	next = round_up(bat + bat_len, MiB);
	for (uint64_t i = 0; i < blocks && s->data; i++) {
		const unsigned char *d = s->data(s->ctx, i);
		uint64_t used = s->size - i * s->block;
		unsigned char *e = m.p + bat + (i + i / cr) * 8;

		if (!(s->flags & 1) && !d) {
			/* Every "reads as zeros" state, in turn. */
			put_le64(e, i % 4);
			continue;
		}
		if (used > s->block)
			used = s->block;
		if (d)
			memcpy(m.p + next, d, (size_t)used);
		put_le64(e, (next / MiB) << 20 | 6);
		next += s->block;
	}
	return m;
}

static img vhdx_layout(uint64_t size, bool fixed, bool compact)
{
	vhdx_spec s = { size, 32 * MiB, 512, fixed ? 1 : 0, compact, NULL,
			NULL };
	return vhdx_image(&s);
}

static img vhdx_build(uint64_t size, bool fixed)
{
	return vhdx_layout(size, fixed, false);
}

static void test_vhdx(void)
{
	img m = vhdx_build(10 * MiB, false);
	vimg_info info;
	int rc;

	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK_INT(info.format, VIMG_VHDX);
	CHECK_STR(info.subformat, "dynamic");
	CHECK_INT(info.virtual_size, 10 * MiB);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);

	/* one header bad: the other carries it */
	m.p[64 * KiB + 100] ^= 1;
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(info.nfindings, 0);
	CHECK_INT(info.virtual_size, 10 * MiB);
	vimg_info_free(&info);

	/* both headers bad */
	m.p[128 * KiB + 100] ^= 1;
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK(has_code(&info, "vhdx-header-invalid"));
	vimg_info_free(&info);
	m.p[64 * KiB + 100] ^= 1;
	m.p[128 * KiB + 100] ^= 1;

	/* both region tables bad */
	m.p[192 * KiB + 1000] ^= 1;
	m.p[256 * KiB + 1000] ^= 1;
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK(has_code(&info, "vhdx-region-table-checksum"));
	vimg_info_free(&info);
	m.p[192 * KiB + 1000] ^= 1;
	m.p[256 * KiB + 1000] ^= 1;

	/* bad identifier */
	m.p[0] = 'X';
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK(has_code(&info, "vhdx-identifier"));
	vimg_info_free(&info);

	/* metadata signature gone */
	m.p[0] = 'v';
	m.p[2 * MiB] = 'X';
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK(has_code(&info, "vhdx-metadata-invalid"));
	vimg_info_free(&info);
	free(m.p);

	m = vhdx_build(64 * MiB, true);
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_STR(info.subformat, "fixed");
	CHECK_INT(info.virtual_size, 64 * MiB);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	free(m.p);

	m = vhdx_layout(3 * MiB, false, true);
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(info.virtual_size, 3 * MiB);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	free(m.p);

	unsigned char junk[512] = { 0 };
	img j = { junk, sizeof(junk) };
	inspect(&j, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(rc, -1);
	vimg_info_free(&info);
}

/* --- guest views: the disk the VM sees, read back through VHD and VHDX */

#define SEC 512u

/* Deterministic bytes that are never all zero over a sector. */
static void pattern(unsigned char *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16) | 1;
	}
}

/* A disk with an MBR, one bootable Linux partition from 1 MiB to the end
 * holding an ext4 superblock, and patterned data here and there (across a
 * 2 MiB boundary, inside the third MiB, in the last 4 KiB) with zeros in
 * between. */
static unsigned char *guest_disk(uint64_t size)
{
	unsigned char *d = calloc(1, size);
	unsigned char *e = d + 446;
	unsigned char *part = d + MiB;

	e[0] = 0x80;
	e[4] = 0x83;
	put_le32(e + 8, MiB / SEC);
	put_le32(e + 12, (uint32_t)((size - MiB) / SEC));
	d[510] = 0x55;
	d[511] = 0xaa;
	part[1080] = 0x53;
	part[1081] = 0xef;
	put_le32(part + 1024 + 0x5c, 0x4);  /* has_journal */
	put_le32(part + 1024 + 0x60, 0x40); /* extents: ext4 */
	pattern(d + 2 * MiB - 1000, 6000, 1);
	pattern(d + 2 * MiB + 300 * KiB, 100 * KiB, 2);
	pattern(d + size - 4 * KiB, 4 * KiB, 3);
	return d;
}

/* A raw disk as a block source: NULL for an all-zero block. */
typedef struct raw_src {
	const unsigned char *p;
	uint64_t size;
	uint32_t block;
} raw_src;

static const unsigned char *raw_block(void *ctx, uint64_t bi)
{
	const raw_src *r = ctx;
	uint64_t off = bi * r->block, n = r->size - off;

	if (n > r->block)
		n = r->block;
	for (uint64_t i = 0; i < n; i++)
		if (r->p[off + i])
			return r->p + off;
	return NULL;
}

/* A few blocks of a huge disk, the rest zeros. */
typedef struct sparse_src {
	const uint64_t *idx;
	unsigned char *const *data;
	size_t n;
} sparse_src;

static const unsigned char *sparse_block(void *ctx, uint64_t bi)
{
	const sparse_src *s = ctx;

	for (size_t i = 0; i < s->n; i++)
		if (s->idx[i] == bi)
			return s->data[i];
	return NULL;
}

/* What the guest should see at [off, off+len), from the block source. */
static void model_read(block_fn fn, void *ctx, uint32_t block, uint64_t off,
		       unsigned char *buf, size_t len)
{
	while (len) {
		uint64_t bi = off / block, in = off % block;
		size_t n = len < block - in ? len : (size_t)(block - in);
		const unsigned char *d = fn(ctx, bi);

		if (d)
			memcpy(buf, d + in, n);
		else
			memset(buf, 0, n);
		buf += n;
		off += n;
		len -= n;
	}
}

/* Compare the guest's [off, off+len) with the model; false on any
 * difference (or a short or failed read). */
static bool same_at(const vimg_reader *g, block_fn fn, void *ctx,
		    uint32_t block, uint64_t off, size_t len)
{
	unsigned char *got = malloc(len), *want = malloc(len);
	bool ok = vimg_read(g, off, got, len) == (long long)len;

	model_read(fn, ctx, block, off, want, len);
	ok = ok && memcmp(got, want, len) == 0;
	free(got);
	free(want);
	return ok;
}

/* The whole guest equals the raw disk: in one read, then in odd-sized
 * pieces at odd offsets (across sectors and blocks). */
static void check_same_as_raw(const vimg_reader *g, const unsigned char *raw,
			      uint64_t size)
{
	unsigned char *buf = malloc(size + 1);

	CHECK_INT(g->size, size);
	CHECK_INT(vimg_read(g, 0, buf, size + 1), size);
	CHECK(memcmp(buf, raw, size) == 0);
	bool ok = true;
	for (uint64_t off = 7; off < size; off += 200 * KiB + 333) {
		size_t n = 70 * KiB + 1;
		if (n > size - off)
			n = (size_t)(size - off);
		ok = ok && vimg_read(g, off, buf, n) == (long long)n &&
		     memcmp(buf, raw + off, n) == 0;
	}
	CHECK(ok);
	CHECK_INT(vimg_read(g, size, buf, 10), 0);
	CHECK_INT(vimg_read(g, size - 3, buf, 10), 3);
	free(buf);
}

/* vimg_inspect, the entry point, over an image in memory: the format's
 * checks, then the partitions through the guest view. */
static void check_inspect_linux(const img *m, vimg_format f, const char *sub)
{
	vimg_reader r;
	vimg_info info = { 0 };
	vmie_error err = { 0 };

	vimg_reader_mem(&r, m->p, m->len);
	CHECK_INT(vimg_inspect(&r, NULL, &info, &err), 0);
	CHECK_INT(info.format, f);
	CHECK_STR(info.subformat, sub);
	CHECK(!vimg_has_errors(&info));
	CHECK(!has_code(&info, "partitions-not-checked"));
	CHECK_STR(info.partition_table, "mbr");
	CHECK_INT(info.npartitions, 1);
	if (info.npartitions == 1) {
		CHECK_INT(info.partitions[0].start, MiB);
		CHECK_STR(info.partitions[0].fs, "ext4");
		CHECK_STR(vimg_os_name(info.partitions[0].os), "linux");
		CHECK(info.partitions[0].bootable);
	}
	vimg_info_free(&info);
	vmie_error_clear(&err);
}

/* Dynamic VHD: copy of the footer, dynamic header, BAT, then one block
 * (bitmap, all ones, then data) per block the source has, then the
 * footer. */
static img vhd_image(uint64_t size, uint32_t block, block_fn fn, void *ctx)
{
	uint64_t entries = (size + block - 1) / block;
	size_t bat_bytes = (size_t)round_up(entries * 4, 512);
	size_t bitmap = (size_t)round_up((block / SEC + 7) / 8, 512);
	size_t next = 1536 + bat_bytes;
	img m;

	m.len = next + 512;
	for (uint64_t i = 0; i < entries; i++)
		if (fn(ctx, i))
			m.len += bitmap + block;
	m.p = calloc(1, m.len);
	vhd_footer(m.p, 3, size, 512);
	memcpy(m.p + m.len - 512, m.p, 512);
	unsigned char *h = m.p + 512;
	memcpy(h, "cxsparse", 8);
	put_be64(h + 8, UINT64_MAX);
	put_be64(h + 16, 1536);
	put_be32(h + 24, 0x00010000);
	put_be32(h + 28, (uint32_t)entries);
	put_be32(h + 32, block);
	put_be32(h + 36, vhd_sum(h, 1024, 36));
	memset(m.p + 1536, 0xff, bat_bytes);
	for (uint64_t i = 0; i < entries; i++) {
		const unsigned char *d = fn(ctx, i);
		uint64_t used = size - i * block;

		if (!d)
			continue;
		put_be32(m.p + 1536 + i * 4, (uint32_t)(next / 512));
		memset(m.p + next, 0xff, bitmap);
		memcpy(m.p + next + bitmap, d, used < block ? used : block);
		next += bitmap + block;
	}
	return m;
}

static int guest_of(const img *m, int (*open)(const vimg_reader *,
					      vimg_reader *),
		    vimg_reader *file, vimg_reader *g)
{
	vimg_reader_mem(file, m->p, m->len);
	return open(file, g);
}

static void test_vhd_guest_fixed(void)
{
	uint64_t size = 6 * MiB;
	unsigned char *raw = guest_disk(size);
	img m = vhd_fixed(size);
	vimg_reader f, g;

	memcpy(m.p, raw, size);
	vhd_footer(m.p + size, 2, size, UINT64_MAX);
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), 0);
	check_same_as_raw(&g, raw, size);
	vimg_reader_close(&g);
	check_inspect_linux(&m, VIMG_VHD, "fixed");

	/* A footer promising more than the file holds: no view. */
	vhd_footer(m.p + size, 2, size + 512, UINT64_MAX);
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), -1);
	free(m.p);

	/* The old 511-byte footer of Virtual PC. */
	m.len = size + 511;
	m.p = calloc(1, size + 512);
	memcpy(m.p, raw, size);
	vhd_footer(m.p + size, 2, size, UINT64_MAX);
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), 0);
	CHECK_INT(g.size, size);
	vimg_reader_close(&g);
	free(m.p);
	free(raw);
}

static void test_vhd_guest_dynamic(void)
{
	/* Not a whole number of blocks: the last one is partly outside. */
	uint64_t size = 9 * MiB + 3 * SEC;
	unsigned char *raw = guest_disk(size);
	raw_src src = { raw, size, 2 * MiB };
	img m = vhd_image(size, 2 * MiB, raw_block, &src);
	vimg_reader f, g;
	vimg_info info;
	int rc;

	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), 0);
	check_same_as_raw(&g, raw, size);
	vimg_reader_close(&g);
	check_inspect_linux(&m, VIMG_VHD, "dynamic");

	/* A clear bitmap bit: that sector reads as zeros, its neighbours
	 * do not.  Block 1 holds disk bytes 2 MiB..4 MiB; its bitmap is the
	 * first sector of the block. */
	uint32_t e1 = be32(m.p + 1536 + 4);
	unsigned char *bm = m.p + (size_t)e1 * 512;
	unsigned char buf[3 * SEC];
	bm[0] &= 0x7f; /* sector 0 of the block: disk sector 4096 */
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), 0);
	CHECK_INT(vimg_read(&g, 2 * MiB - SEC, buf, sizeof(buf)), sizeof(buf));
	CHECK(memcmp(buf, raw + 2 * MiB - SEC, SEC) == 0);
	static const unsigned char zeros[SEC];
	CHECK(memcmp(buf + SEC, zeros, SEC) == 0);
	CHECK(memcmp(buf + 2 * SEC, raw + 2 * MiB + SEC, SEC) == 0);
	vimg_reader_close(&g);
	bm[0] |= 0x80;

	/* A block past the end of the file: the read fails, no crash. */
	put_be32(m.p + 1536 + 4, 0x7fffffff);
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), 0);
	CHECK_INT(vimg_read(&g, 2 * MiB, buf, sizeof(buf)), -1);
	CHECK_INT(vimg_read(&g, 0, buf, sizeof(buf)), sizeof(buf));
	vimg_reader_close(&g);
	/* ... and vimg_inspect says why instead of looking for partitions. */
	vimg_reader_mem(&f, m.p, m.len);
	memset(&info, 0, sizeof(info));
	CHECK_INT(vimg_inspect(&f, NULL, &info, NULL), 0);
	CHECK(has_code(&info, "vhd-bat-out-of-range"));
	CHECK_INT(info.npartitions, 0);
	vimg_info_free(&info);
	put_be32(m.p + 1536 + 4, e1);

	/* Differencing: no view without the parent. */
	vhd_footer(m.p + m.len - 512, 4, size, 512);
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), -1);
	/* Nor for a missing dynamic header. */
	vhd_footer(m.p + m.len - 512, 3, size, 1 * MiB * 1024);
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), -1);
	free(m.p);
	free(raw);
}

/* 20480 blocks of 4 KiB: the BAT spans two 16 K-entry chunks, read in
 * turn as the guest is read back and forth. */
static void test_vhd_guest_big_bat(void)
{
	const uint64_t idx[] = { 0, 16383, 16384, 20479 };
	unsigned char *blocks[4];
	for (int i = 0; i < 4; i++) {
		blocks[i] = malloc(4 * KiB);
		pattern(blocks[i], 4 * KiB, 10 + (uint32_t)i);
	}
	sparse_src src = { idx, blocks, 4 };
	uint64_t size = 20480ull * 4 * KiB;
	img m = vhd_image(size, 4 * KiB, sparse_block, &src);
	vimg_reader f, g;
	vimg_info info;
	int rc;

	inspect(&m, vimg_vhd_inspect, &info, &rc);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	CHECK_INT(guest_of(&m, vimg_vhd_guest_open, &f, &g), 0);
	CHECK_INT(g.size, size);
	const uint64_t at[] = { 16384ull * 4 * KiB - 100, 0,
				20479ull * 4 * KiB, 16383ull * 4 * KiB,
				5000ull * 4 * KiB + 17, 16384ull * 4 * KiB,
				size - 1 };
	bool ok = true;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		size_t n = at[i] + 9000 <= size ? 9000 : (size_t)(size - at[i]);
		ok = ok && same_at(&g, sparse_block, &src, 4 * KiB, at[i], n);
	}
	CHECK(ok);
	vimg_reader_close(&g);
	free(m.p);
	for (int i = 0; i < 4; i++)
		free(blocks[i]);
}

static void test_vhdx_guest(void)
{
	/* A partial last block; blocks of zeros in all four zero states. */
	uint64_t size = 9 * MiB + 3 * SEC;
	unsigned char *raw = guest_disk(size);
	raw_src src = { raw, size, 1 * MiB };
	vhdx_spec s = { size, 1 * MiB, 512, 0, false, raw_block, &src };
	img m = vhdx_image(&s);
	vimg_reader f, g;
	vimg_info info;
	int rc;

	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	CHECK_INT(guest_of(&m, vimg_vhdx_guest_open, &f, &g), 0);
	check_same_as_raw(&g, raw, size);
	vimg_reader_close(&g);
	check_inspect_linux(&m, VIMG_VHDX, "dynamic");
	free(m.p);

	/* Fixed: every block present, zeros included. */
	s.flags = 1;
	m = vhdx_image(&s);
	CHECK_INT(guest_of(&m, vimg_vhdx_guest_open, &f, &g), 0);
	check_same_as_raw(&g, raw, size);
	vimg_reader_close(&g);
	check_inspect_linux(&m, VIMG_VHDX, "fixed");
	free(m.p);

	/* 4 KiB logical sectors (a chunk ratio of 2^15). */
	unsigned char *raw4k = guest_disk(9 * MiB + 4096);
	raw_src src4k = { raw4k, 9 * MiB + 4096, 1 * MiB };
	vhdx_spec s4k = { src4k.size, 1 * MiB, 4096, 0, false, raw_block,
			  &src4k };
	m = vhdx_image(&s4k);
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	CHECK_INT(guest_of(&m, vimg_vhdx_guest_open, &f, &g), 0);
	check_same_as_raw(&g, raw4k, src4k.size);
	vimg_reader_close(&g);
	free(m.p);
	free(raw4k);

	/* Truncated: the last payload block is past the end of the file. */
	s.flags = 0;
	m = vhdx_image(&s);
	img cut = { m.p, m.len - MiB };
	inspect(&cut, vimg_vhdx_inspect, &info, &rc);
	CHECK(has_code(&info, "vhdx-bat-out-of-range"));
	CHECK(vimg_has_errors(&info));
	vimg_info_free(&info);
	CHECK_INT(guest_of(&cut, vimg_vhdx_guest_open, &f, &g), 0);
	unsigned char buf[SEC];
	CHECK_INT(vimg_read(&g, size - SEC, buf, SEC), -1);
	CHECK_INT(vimg_read(&g, 0, buf, SEC), SEC);
	vimg_reader_close(&g);

	/* A reserved state (4) in a payload entry. */
	unsigned char *e = m.p + 3 * MiB + 8 * 3;
	uint64_t saved = le64(e);
	put_le64(e, 4);
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK(has_code(&info, "vhdx-bat-invalid"));
	vimg_info_free(&info);
	CHECK_INT(guest_of(&m, vimg_vhdx_guest_open, &f, &g), 0);
	CHECK_INT(vimg_read(&g, 3 * MiB, buf, SEC), -1);
	vimg_reader_close(&g);
	put_le64(e, saved);

	/* A BAT region too small for the disk. */
	for (int t = 0; t < 2; t++) {
		unsigned char *rt = m.p + (192 + 64 * t) * KiB;
		put_le32(rt + 72, 64);
		set_crc(rt, 64 * KiB);
	}
	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK(has_code(&info, "vhdx-bat-too-small"));
	vimg_info_free(&info);
	CHECK_INT(guest_of(&m, vimg_vhdx_guest_open, &f, &g), -1);
	free(m.p);

	/* Differencing: no view. */
	s.flags = 2;
	m = vhdx_image(&s);
	CHECK_INT(guest_of(&m, vimg_vhdx_guest_open, &f, &g), -1);
	free(m.p);
	free(raw);
}

/* A 4100 MiB disk of 1 MiB blocks: the chunk ratio is 4096, so a sector
 * bitmap entry sits between payload blocks 4095 and 4096 in the BAT. */
static void test_vhdx_guest_chunks(void)
{
	const uint64_t idx[] = { 0, 4095, 4096, 4099 };
	unsigned char *blocks[4];
	for (int i = 0; i < 4; i++) {
		blocks[i] = malloc(MiB);
		pattern(blocks[i], MiB, 20 + (uint32_t)i);
	}
	sparse_src src = { idx, blocks, 4 };
	vhdx_spec s = { 4100ull * MiB, 1 * MiB, 512, 0, false, sparse_block,
			&src };
	img m = vhdx_image(&s);
	vimg_reader f, g;
	vimg_info info;
	int rc;

	inspect(&m, vimg_vhdx_inspect, &info, &rc);
	CHECK_INT(info.nfindings, 0);
	CHECK_INT(info.virtual_size, 4100ull * MiB);
	vimg_info_free(&info);
	/* The sector bitmap entry (index 4096) stays "not present". */
	CHECK_INT(le64(m.p + 3 * MiB + 4096 * 8), 0);
	CHECK_INT(le64(m.p + 3 * MiB + 4097 * 8) & 7, 6);
	CHECK_INT(guest_of(&m, vimg_vhdx_guest_open, &f, &g), 0);
	static const uint64_t at[] = { 4096ull * MiB - 5000, 0, 100ull * MiB,
				       4099ull * MiB + 12345,
				       4100ull * MiB - 9000 };
	bool ok = true;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		ok = ok && same_at(&g, sparse_block, &src, MiB, at[i], 9000);
	CHECK(ok);
	vimg_reader_close(&g);
	free(m.p);
	for (int i = 0; i < 4; i++)
		free(blocks[i]);
}

/* --- real images from qemu-img, when it is installed */

static int run(const char *cmd)
{
	int st = system(cmd);

	return st == 0 ? 0 : -1;
}

/* The virtual size qemu-img reports (0 when it cannot).  It reports a
 * fixed VHD as raw unless told -f vpc. */
static unsigned long long qemu_size(const char *fmt, const char *path)
{
	char cmd[1024];
	unsigned long long want = 0;

	snprintf(cmd, sizeof(cmd),
		 "qemu-img info -f %s --output=json %s | "
		 "grep -o '\"virtual-size\": *[0-9]*' | grep -o '[0-9]*$'",
		 fmt, path);
	FILE *p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%llu", &want) != 1)
			want = 0;
		pclose(p);
	}
	return want;
}

static void qemu_one(const char *dir, const char *fmt, const char *opts,
		     int (*fn)(const vimg_reader *, vimg_info *),
		     const char *sub)
{
	char path[512], cmd[1024];
	vimg_info info;
	int rc;

	snprintf(path, sizeof(path), "%s/t.%s", dir, fmt);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f %s -o %s %s 100M",
		 fmt, opts, path);
	CHECK_INT(run(cmd), 0);
	FILE *f = fopen(path, "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	img m = { NULL, (size_t)ftell(f) };
	rewind(f);
	m.p = malloc(m.len ? m.len : 1);
	CHECK_INT(fread(m.p, 1, m.len, f), m.len);
	fclose(f);
	unsigned long long want = qemu_size(fmt, path);
	inspect(&m, fn, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(info.subformat, sub);
	CHECK_INT(info.virtual_size, want);
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);
	free(m.p);
	unlink(path);
}

/* A RAW disk converted by qemu-img, inspected with vimg_inspect_file and
 * read back through the guest view.  qemu rounds a VHD's size up to a
 * CHS geometry (at most one cylinder of 16 heads x 255 sectors more):
 * the RAW disk is the prefix and the rest reads as zeros. */
static void qemu_convert(const char *dir, const char *raw_path,
			 const unsigned char *raw, uint64_t size,
			 const char *fmt, const char *sub)
{
	bool vpc = strcmp(fmt, "vpc") == 0;
	char path[512], cmd[1400];
	vimg_info info = { 0 };
	vimg_reader r, g;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, sub, vpc ? "vhd" : "vhdx");
	snprintf(cmd, sizeof(cmd),
		 "qemu-img convert -q -f raw -O %s -o subformat=%s %s %s", fmt,
		 sub, raw_path, path);
	CHECK_INT(run(cmd), 0);
	CHECK_INT(vimg_inspect_file(path, &info, NULL), 0);
	CHECK_INT(info.format, vpc ? VIMG_VHD : VIMG_VHDX);
	CHECK_STR(info.subformat, sub);
	CHECK(!vimg_has_errors(&info));
	CHECK_INT(info.nfindings, 0);
	CHECK_INT(info.npartitions, 1);
	if (info.npartitions == 1) {
		CHECK_STR(info.partitions[0].fs, "ext4");
		CHECK_INT(info.partitions[0].os, VIMG_OS_LINUX);
	}
	vimg_info_free(&info);
	if (vimg_reader_file(&r, path, NULL) < 0) {
		CHECK(!"cannot open the converted image");
		return;
	}
	CHECK_INT(vimg_guest_open(&r, vpc ? VIMG_VHD : VIMG_VHDX, NULL, &g), 0);
	CHECK_INT(g.size, qemu_size(fmt, path));
	if (vpc)
		CHECK(g.size >= size && g.size - size <= 16 * 255 * SEC);
	else
		CHECK_INT(g.size, size);
	if (g.read_at && g.size >= size && g.size - size <= 16 * 255 * SEC) {
		unsigned char *buf = malloc((size_t)g.size);
		static const unsigned char zeros[16 * 255 * SEC];
		CHECK_INT(vimg_read(&g, 0, buf, (size_t)g.size), g.size);
		CHECK(memcmp(buf, raw, size) == 0);
		CHECK(memcmp(buf + size, zeros, (size_t)(g.size - size)) == 0);
		free(buf);
	}
	vimg_reader_close(&g);
	vimg_reader_close(&r);
	unlink(path);
}

static void test_qemu_convert(const char *dir)
{
	/* 9 MiB and 3 sectors: no CHS geometry and no whole number of
	 * blocks fits it. */
	uint64_t size = 9 * MiB + 3 * SEC;
	unsigned char *raw = guest_disk(size);
	char path[512];

	snprintf(path, sizeof(path), "%s/disk.raw", dir);
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK_INT(fwrite(raw, 1, size, f), size);
		fclose(f);
		qemu_convert(dir, path, raw, size, "vpc", "dynamic");
		qemu_convert(dir, path, raw, size, "vpc", "fixed");
		qemu_convert(dir, path, raw, size, "vhdx", "dynamic");
		qemu_convert(dir, path, raw, size, "vhdx", "fixed");
		unlink(path);
	}
	free(raw);
}

static void test_qemu(void)
{
	char dir[] = "/tmp/vmie-vhd-XXXXXX";

	if (run("qemu-img --version >/dev/null 2>&1") != 0) {
		printf("SKIP qemu-img comparison: qemu-img not installed "
		       "(Debian package qemu-utils)\n");
		return;
	}
	if (!mkdtemp(dir))
		return;
	qemu_one(dir, "vpc", "subformat=dynamic", vimg_vhd_inspect, "dynamic");
	qemu_one(dir, "vpc", "subformat=fixed", vimg_vhd_inspect, "fixed");
	qemu_one(dir, "vhdx", "subformat=dynamic", vimg_vhdx_inspect, "dynamic");
	qemu_one(dir, "vhdx", "subformat=fixed", vimg_vhdx_inspect, "fixed");
	test_qemu_convert(dir);
	rmdir(dir);
}

/* Fuzz seeds: small images that reach every parser stage. */
static void write_file(const char *dir, const char *sub, const char *name,
		       const img *m)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(m->p, 1, m->len, f);
		fclose(f);
	}
}

static int write_seeds(const char *dir)
{
	img m = vhd_fixed(4 * KiB);

	write_file(dir, "vhd", "fixed.vhd", &m);
	free(m.p);
	m = vhd_dynamic(16 * KiB, 4 * KiB);
	write_file(dir, "vhd", "dynamic.vhd", &m);
	free(m.p);
	m = vhdx_layout(10 * MiB, false, true);
	write_file(dir, "vhdx", "dynamic.vhdx", &m);
	free(m.p);

	/* Guest views worth reading: an MBR and an ext4 partition in 64 KiB
	 * of disk, blocks of it allocated (VHD: 4 KiB blocks, one bitmap bit
	 * clear; VHDX: below). */
	uint64_t size = 64 * KiB;
	unsigned char *raw = calloc(1, size);
	unsigned char *e = raw + 446;
	e[0] = 0x80;
	e[4] = 0x83;
	put_le32(e + 8, 8);
	put_le32(e + 12, (uint32_t)(size / SEC - 8));
	raw[510] = 0x55;
	raw[511] = 0xaa;
	raw[8 * SEC + 1080] = 0x53;
	raw[8 * SEC + 1081] = 0xef;
	put_le32(raw + 8 * SEC + 1024 + 0x60, 0x40);
	pattern(raw + 40 * KiB, 4 * KiB, 5);
	raw_src src = { raw, size, 4 * KiB };
	m = vhd_image(size, 4 * KiB, raw_block, &src);
	m.p[be32(m.p + 1536) * (size_t)512] &= 0xbf; /* sector 1: zeros */
	write_file(dir, "vhd", "guest.vhd", &m);
	free(m.p);
	/* libFuzzer cuts inputs at 1 MiB by default, and a payload block at
	 * FileOffsetMB 1 would start there.  So the one block sits at offset
	 * 0: the guest's disk is the file's first 64 KiB, the identifier
	 * region, whose creator field (bytes 8-519) can hold the MBR's
	 * entries and signature and whose reserved rest the partition. */
	m = vhdx_layout(size, false, true);
	memcpy(m.p + 446, raw + 446, 66);
	memcpy(m.p + 8 * SEC, raw + 8 * SEC, size - 8 * SEC);
	put_le64(m.p + 388 * KiB, 6); /* block 0: present at offset 0 */
	write_file(dir, "vhdx", "guest.vhdx", &m);
	free(m.p);
	free(raw);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return write_seeds(argv[1]);
	test_vhd_fixed();
	test_vhd_dynamic();
	test_vhd_not();
	test_vhdx();
	test_vhd_guest_fixed();
	test_vhd_guest_dynamic();
	test_vhd_guest_big_bat();
	test_vhdx_guest();
	test_vhdx_guest_chunks();
	test_qemu();
	return check_done("image_vhd");
}
