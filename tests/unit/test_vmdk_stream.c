/*
 * streamOptimized VMDK both ways: the writer behind the upload
 * (transfer/source_vmdk.c over image/vmdk_write.c) and the ranged reader
 * of the download side (image/vmdk_stream.c).  Random sparse disks go
 * through both and come back byte for byte; the layout is VMware's;
 * the output does not depend on the number of threads; damaged objects
 * are refused, never read out of bounds.  With qemu-img installed, its
 * own streamOptimized files are decoded to what qemu-img convert -O raw
 * gives, and ours pass qemu-img check and compare.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/endian.h"
#include "base/error.h"
#include "check.h"
#include "image/vmdk_codec.h"
#include "image/vmdk_stream.h"
#include "image/vmdk_write.h"
#include "transfer/source.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define G (64u * KIB)

static char dir[] = "/tmp/vmie-vmdk-XXXXXX";

/* --- disks ---------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* A disk whose grains are, at random: zeros, noise, text (compressible),
 * a few bytes in zeros, zeros but the last byte. */
static unsigned char *make_disk(size_t size, uint64_t seed)
{
	unsigned char *d = calloc(1, size ? size : 1);
	rng = seed * 2654435761u + 1;
	for (size_t off = 0; off < size; off += G) {
		size_t n = size - off < G ? size - off : G;
		unsigned char *g = d + off;
		switch (rnd() % 6) {
		case 0:
		case 1:
			break;
		case 2:
			for (size_t i = 0; i < n; i++)
				g[i] = (unsigned char)rnd();
			break;
		case 3:
			for (size_t i = 0; i < n; i++)
				g[i] = (unsigned char)("the quick brown fox "[i % 20]);
			break;
		case 4:
			g[rnd() % n] = (unsigned char)(rnd() | 1);
			break;
		case 5:
			g[n - 1] = 0xff;
			break;
		}
	}
	return d;
}

/* Written sparse: zero blocks stay holes, as a real disk image would. */
static bool write_disk(const char *path, const unsigned char *d, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0 && ftruncate(fd, (off_t)size) == 0;
	for (size_t off = 0; ok && off < size; off += 4096) {
		size_t n = size - off < 4096 ? size - off : 4096;
		if (!vmdk_all_zero(d + off, n))
			ok = pwrite(fd, d + off, n, (off_t)off) == (ssize_t)n;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static int encode_file(const char *path, unsigned threads, vbuf *out,
		       vmie_error *err)
{
	vsource *f = NULL, *v = NULL;
	char buf[100000]; /* an odd read size: reads straddle records */
	long long n;

	if (vsource_open_file(path, &f, err) != 0 ||
	    vsource_open_vmdk(f, "disk.vmdk", threads, &v, err) != 0)
		return -1;
	while ((n = vsource_read(v, buf, sizeof(buf), err)) > 0)
		vbuf_add(out, buf, (size_t)n);
	vsource_free(v);
	return n < 0 ? -1 : 0;
}

static int encode(const unsigned char *d, size_t size, unsigned threads,
		  vbuf *out)
{
	char path[64];
	vmie_error err = {0};
	snprintf(path, sizeof(path), "%s/disk.raw", dir);
	if (!write_disk(path, d, size))
		return -1;
	int rc = encode_file(path, threads, out, &err);
	if (rc)
		fprintf(stderr, "encode: %s\n", err.message);
	vmie_error_clear(&err);
	unlink(path);
	return rc;
}

typedef struct sink {
	unsigned char *disk;
	uint64_t cap;
	unsigned writes;
} sink;

static int sink_write(void *ctx, uint64_t guest, const void *data, size_t len,
		      vmie_error *err)
{
	sink *s = ctx;
	if (guest > s->cap || len > s->cap - guest)
		return verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
				"a write past the disk");
	memcpy(s->disk + guest, data, len);
	s->writes++;
	return 0;
}

/* The disk a VMDK holds; NULL (err set) when it does not decode. */
static unsigned char *decode(const void *vmdk, size_t len, uint64_t cap_max,
			     uint64_t *cap, unsigned *writes, vmie_error *err)
{
	vimg_reader r;
	sink s = {calloc(1, cap_max ? cap_max : 1), cap_max, 0};
	vimg_reader_mem(&r, vmdk, len);
	*cap = 0;
	if (vmdk_so_decode(&r, sink_write, &s, cap, err) != 0 || *cap > cap_max) {
		free(s.disk);
		return NULL;
	}
	if (writes)
		*writes = s.writes;
	return s.disk;
}

static uint64_t round512(uint64_t n)
{
	return (n + 511) / 512 * 512;
}

/* --- round trips ------------------------------------------------------------ */

static void round_trip(size_t size, uint64_t seed)
{
	unsigned char *d = make_disk(size, seed);
	vbuf v = VBUF_INIT;
	vmie_error err = {0};
	uint64_t cap;
	CHECK_INT(encode(d, size, 2, &v), 0);
	unsigned char *back = decode(v.data, v.len, round512(size), &cap, NULL, &err);
	CHECK(back != NULL);
	if (!back)
		fprintf(stderr, "size %zu: %s\n", size, err.message);
	CHECK_INT(cap, round512(size));
	if (back) {
		CHECK(memcmp(back, d, size) == 0);
		CHECK(vmdk_all_zero(back + size, (size_t)(cap - size)));
	}
	CHECK(v.len % 512 == 0);
	free(back);
	free(d);
	vbuf_free(&v);
	vmie_error_clear(&err);
}

static void test_round_trips(void)
{
	static const size_t sizes[] = {
		1, 511, 512, 4096, G - 1, G, G + 1, 3 * G + 1000,
		32 * MIB,                 /* one grain table exactly */
		32 * MIB + G + 12345,     /* into a second one, odd */
		70 * MIB + 3,
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (uint64_t seed = 1; seed <= (sizes[i] > MIB ? 2u : 5u); seed++)
			round_trip(sizes[i], seed * 7 + i);
}

static void test_empty_disk(void)
{
	vbuf v = VBUF_INIT;
	vmie_error err = {0};
	uint64_t cap = 1;
	unsigned writes = 1;
	CHECK_INT(encode(NULL, 0, 2, &v), 0);
	/* The head (128 sectors), GD marker, no directory, footer, EOS. */
	CHECK_INT(v.len, 132 * 512);
	unsigned char *back = decode(v.data, v.len, 0, &cap, &writes, &err);
	CHECK(back != NULL);
	CHECK_INT(cap, 0);
	CHECK_INT(writes, 0);
	free(back);
	vbuf_free(&v);
	vmie_error_clear(&err);
}

/* Same input, same bytes, whatever the threads and the timing. */
static void test_deterministic(void)
{
	size_t size = 40 * MIB + 777;
	unsigned char *d = make_disk(size, 42);
	vbuf a = VBUF_INIT, b = VBUF_INIT, c = VBUF_INIT;
	CHECK_INT(encode(d, size, 1, &a), 0);
	CHECK_INT(encode(d, size, 2, &b), 0);
	CHECK_INT(encode(d, size, 4, &c), 0);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	CHECK(a.len == c.len && memcmp(a.data, c.data, a.len) == 0);
	vbuf_reset(&b);
	CHECK_INT(encode(d, size, 2, &b), 0);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	free(d);
	vbuf_free(&a);
	vbuf_free(&b);
	vbuf_free(&c);
}

/* --- the layout: VMware's ---------------------------------------------------- */

static void test_layout(void)
{
	/* Three grain tables' worth; data only in the first grain and in
	 * the third table: the second table is left out. */
	size_t size = 96 * MIB;
	unsigned char *d = calloc(1, size);
	memset(d, 0x11, 100);
	memset(d + 70 * MIB, 0x22, G);
	memset(d + 70 * MIB + 2 * G, 0x33, 5);
	vbuf v = VBUF_INIT;
	CHECK_INT(encode(d, size, 2, &v), 0);
	const unsigned char *h = (const unsigned char *)v.data;
	CHECK(memcmp(h, "KDMV", 4) == 0);
	CHECK_INT(le32(h + 4), 3);
	CHECK_INT(le32(h + 8), 0x30001); /* newline check, compressed, markers */
	CHECK_INT(le64(h + 12), size / 512);
	CHECK_INT(le64(h + 20), 128);
	CHECK_INT(le64(h + 28), 1);
	CHECK_INT(le64(h + 36), 20);
	CHECK_INT(le32(h + 44), 512);
	CHECK(le64(h + 56) == UINT64_MAX); /* the directory at the end */
	CHECK_INT(le64(h + 64), 128);
	CHECK(memcmp(h + 73, "\n \r\n", 4) == 0);
	CHECK_INT(le16(h + 77), 1);
	const char *desc = (const char *)h + 512;
	CHECK_CONTAINS(desc, "createType=\"streamOptimized\"");
	CHECK_CONTAINS(desc, "RW 196608 SPARSE \"disk.vmdk\"");
	CHECK_CONTAINS(desc, "ddb.adapterType = \"lsilogic\"");
	CHECK_CONTAINS(desc, "ddb.virtualHWVersion = \"4\"");
	CHECK_CONTAINS(desc, "ddb.geometry.cylinders = \"12\"");
	CHECK_CONTAINS(desc, "ddb.geometry.heads = \"255\"");
	CHECK_CONTAINS(desc, "ddb.geometry.sectors = \"63\"");

	/* The first grain right after the head, its marker naming LBA 0. */
	const unsigned char *g0 = h + 128 * 512;
	CHECK_INT(le64(g0), 0);
	CHECK(le32(g0 + 8) > 0 && le32(g0 + 8) < 512);
	/* Then the first table's marker and table (one grain). */
	const unsigned char *gt0 = g0 + 512;
	CHECK_INT(le64(gt0), 4);
	CHECK_INT(le32(gt0 + 8), 0);
	CHECK_INT(le32(gt0 + 12), VMDK_MARKER_GT);
	CHECK_INT(le32(gt0 + 512), 128);
	CHECK_INT(le32(gt0 + 516), 0);

	/* The tail: footer marker, footer, end-of-stream. */
	const unsigned char *end = h + v.len;
	CHECK_INT(le32(end - 1536 + 12), VMDK_MARKER_FOOTER);
	CHECK(memcmp(end - 1024, "KDMV", 4) == 0);
	uint64_t gd = le64(end - 1024 + 56);
	CHECK(gd < v.len / 512);
	CHECK_INT(le64(end - 512), 0);
	CHECK_INT(le32(end - 512 + 12), VMDK_MARKER_EOS);
	/* The directory: table 0 at sector 130 (after its marker at 129),
	 * none for table 1, table 2 after its two grains. */
	const unsigned char *dir_ = h + gd * 512;
	CHECK_INT(le32(dir_ - 512 + 12), VMDK_MARKER_GD);
	CHECK_INT(le32(dir_), 130);
	CHECK_INT(le32(dir_ + 4), 0);
	CHECK(le32(dir_ + 8) > 130);
	CHECK_INT(le32(dir_ + 12), 0); /* padding */

	vmie_error err = {0};
	uint64_t cap;
	unsigned writes;
	unsigned char *back = decode(v.data, v.len, size, &cap, &writes, &err);
	CHECK(back && memcmp(back, d, size) == 0);
	CHECK_INT(writes, 3); /* zero grains are not even listed */
	free(back);
	free(d);
	vbuf_free(&v);
}

/* --- sources ------------------------------------------------------------- */

/* A sparse terabyte with three grains: the holes are skipped, not read. */
static void test_holes(void)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/holes.raw", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint64_t size = 1ull << 40;
	unsigned char grain[G];
	memset(grain, 0x5a, sizeof(grain));
	CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
	CHECK(pwrite(fd, grain, 100, 0) == 100);
	CHECK(pwrite(fd, grain, G, (off_t)(size / 2)) == (ssize_t)G);
	CHECK(pwrite(fd, grain, 10, (off_t)(size - 10)) == 10);
	close(fd);

	vsource *f = NULL;
	vmie_error err = {0};
	CHECK_INT(vsource_open_file(path, &f, &err), 0);
	unsigned char b[4096];
	/* Data at 0: nothing to skip; after the first block, the hole to
	 * the middle (capped by max). */
	CHECK_INT(vsource_skip_zeros(f, size, &err), 0);
	CHECK_INT(vsource_read(f, b, sizeof(b), &err), 4096);
	CHECK_INT(vsource_skip_zeros(f, 1000, &err), 1000);
	CHECK_INT(vsource_skip_zeros(f, size, &err), size / 2 - 5096);
	CHECK_INT(vsource_raw_offset(f), size / 2);
	CHECK_INT(vsource_read(f, b, sizeof(b), &err), 4096);
	CHECK(b[0] == 0x5a);
	vsource_free(f);

	vbuf v = VBUF_INIT;
	CHECK_INT(encode_file(path, 2, &v, &err), 0);
	CHECK(v.len < 1 * MIB);
	/* Read back with the parser: three grains at their places. */
	vimg_reader r;
	vimg_reader_mem(&r, v.data, v.len);
	unsigned char tail[VMDK_SO_TAIL];
	memcpy(tail, v.data + v.len - sizeof(tail), sizeof(tail));
	vmdk_so so;
	CHECK_INT(vmdk_so_open(&so, v.data, v.len, tail, sizeof(tail), v.len, &err), 0);
	CHECK(so.capacity == size);
	CHECK(so.from_footer);
	uint64_t gdo;
	size_t gdl;
	vmdk_so_gd_range(&so, &gdo, &gdl);
	CHECK_INT(gdl, (size / (32 * MIB)) * 4);
	CHECK_INT(vmdk_so_set_gd(&so, v.data + gdo, gdl, &err), 0);
	vmdk_grains list = {0};
	unsigned tables = 0;
	for (uint64_t i = 0; i < so.ngd; i++) {
		uint64_t off;
		size_t len;
		if (!vmdk_so_gt_range(&so, i, &off, &len))
			continue;
		tables++;
		CHECK_INT(vmdk_so_add_gt(&so, i, v.data + off, len, &list, &err), 0);
	}
	CHECK_INT(tables, 3);
	CHECK_INT(vmdk_so_grains_done(&so, &list, &err), 0);
	CHECK_INT(list.n, 3);
	if (list.n == 3) {
		CHECK_INT(list.v[0].guest, 0);
		CHECK(list.v[1].guest == size / 2);
		CHECK(list.v[2].guest == size - G);
		unsigned char *out = malloc(so.grain);
		long long n = vmdk_so_inflate(&so, &list.v[2], v.data + list.v[2].offset,
					      (size_t)list.v[2].length, out, &err);
		CHECK_INT(n, G);
		CHECK(out[G - 1] == 0x5a && out[G - 11] == 0);
		free(out);
	}
	vmdk_grains_free(&list);
	vmdk_so_free(&so);
	vbuf_free(&v);
	vmie_error_clear(&err);
	unlink(path);
}

/* The file shrinks while it is read: an error, not a short disk. */
static void test_source_shrinks(void)
{
	char path[64];
	size_t size = 8 * MIB;
	unsigned char *d = make_disk(size, 3);
	snprintf(path, sizeof(path), "%s/shrink.raw", dir);
	memset(d + size - G, 1, G);
	CHECK(write_disk(path, d, size));
	vsource *f = NULL, *v = NULL;
	vmie_error err = {0};
	CHECK_INT(vsource_open_file(path, &f, &err), 0);
	CHECK_INT(vsource_open_vmdk(f, "x.vmdk", 2, &v, &err), 0);
	CHECK_INT(truncate(path, (off_t)(size / 2)), 0);
	char buf[65536];
	long long n;
	while ((n = vsource_read(v, buf, sizeof(buf), &err)) > 0)
		;
	CHECK(n < 0);
	CHECK_CONTAINS(err.message, "ended after");
	CHECK_INT(err.status, VMIE_ERR_FILE_PROCESS_FAILED);
	CHECK(vsource_read(v, buf, sizeof(buf), &err) < 0); /* stays failed */
	vsource_free(v);
	vmie_error_clear(&err);
	unlink(path);
	free(d);
}

/* The guest's head is kept for the checks on it. */
static void test_head_kept(void)
{
	char path[64];
	size_t size = 3 * MIB;
	unsigned char *d = make_disk(size, 9);
	d[510] = 0x55;
	d[511] = 0xaa;
	snprintf(path, sizeof(path), "%s/head.raw", dir);
	CHECK(write_disk(path, d, size));
	vsource *f = NULL, *v = NULL;
	vmie_error err = {0};
	CHECK_INT(vsource_open_file(path, &f, &err), 0);
	CHECK_INT(vsource_open_vmdk(f, "x.vmdk", 2, &v, &err), 0);
	char buf[4096];
	size_t len = 1;
	CHECK(vsource_vmdk_head(v, &len) != NULL && len == 0);
	CHECK(vsource_read(v, buf, sizeof(buf), &err) > 0); /* the header */
	while (vsource_read(v, buf, sizeof(buf), &err) > 0)
		;
	const unsigned char *head = vsource_vmdk_head(v, &len);
	CHECK_INT(len, 1 * MIB);
	CHECK(head && memcmp(head, d, 1 * MIB) == 0);
	CHECK_INT(vsource_vmdk_disk_size(v), size);
	vsource_free(v);
	unlink(path);
	free(d);
}

/* --- damaged objects ------------------------------------------------------- */

static int decode_damaged(const vbuf *good, void (*damage)(unsigned char *, size_t,
							     size_t *),
			  vmie_error *err)
{
	size_t len = good->len;
	unsigned char *copy = malloc(len);
	memcpy(copy, good->data, len);
	damage(copy, len, &len);
	uint64_t cap;
	unsigned char *back = decode(copy, len, 16 * MIB, &cap, NULL, err);
	free(copy);
	int rc = back ? 0 : -1;
	free(back);
	return rc;
}

static uint64_t footer_gd(const unsigned char *p, size_t len)
{
	return le64(p + len - 1024 + 56);
}

static void cut_tail(unsigned char *p, size_t len, size_t *out) { *out = len - 512; }
static void cut_half(unsigned char *p, size_t len, size_t *out) { *out = len / 2; }
static void bad_lba(unsigned char *p, size_t len, size_t *out)
{
	put_le64(p + 128 * 512, 128); /* the first grain says it is the second */
}
static void bad_size(unsigned char *p, size_t len, size_t *out)
{
	put_le32(p + 128 * 512 + 8, 0x7fffffff);
}
static void bad_deflate(unsigned char *p, size_t len, size_t *out)
{
	p[128 * 512 + 12 + 20] ^= 0xff;
}
static void gd_beyond(unsigned char *p, size_t len, size_t *out)
{
	put_le32(p + footer_gd(p, len) * 512, 0x7fffffff);
}
static void gt_beyond_disk(unsigned char *p, size_t len, size_t *out)
{
	/* An entry of the last table past the disk's end (8 MiB). */
	uint64_t gt = le32(p + footer_gd(p, len) * 512);
	put_le32(p + gt * 512 + 4 * 200, 128);
}
static void gt_into_footer(unsigned char *p, size_t len, size_t *out)
{
	uint64_t gt = le32(p + footer_gd(p, len) * 512);
	put_le32(p + gt * 512 + 4, (uint32_t)(len / 512 - 2));
}
static void not_compressed(unsigned char *p, size_t len, size_t *out)
{
	put_le32(p + len - 1024 + 8, 0x3);
	put_le16(p + len - 1024 + 77, 0);
}
static void huge_grain(unsigned char *p, size_t len, size_t *out)
{
	put_le64(p + len - 1024 + 20, 1u << 20);
}
static void two_at_once(unsigned char *p, size_t len, size_t *out)
{
	uint64_t gt = le32(p + footer_gd(p, len) * 512);
	put_le32(p + gt * 512 + 4, le32(p + gt * 512));
}

static void test_damaged(void)
{
	size_t size = 8 * MIB;
	unsigned char *d = make_disk(size, 5);
	memset(d, 0x42, G); /* grain 0 and 1 stored: the damage has targets */
	memset(d + G, 0x43, G);
	vbuf v = VBUF_INIT;
	CHECK_INT(encode(d, size, 2, &v), 0);
	static const struct {
		const char *what;
		void (*damage)(unsigned char *, size_t, size_t *);
		const char *words;
	} cases[] = {
		{"truncated", cut_tail, "not end with one"},
		{"half", cut_half, "not end with one"},
		{"marker lba", bad_lba, "another place"},
		{"marker size", bad_size, "beyond its bytes"},
		{"deflate", bad_deflate, "does not inflate"},
		{"gd beyond", gd_beyond, "beyond the end"},
		{"gt past the disk", gt_beyond_disk, "past the end of the disk"},
		{"gt into the footer", gt_into_footer, "outside the object"},
		{"not compressed", not_compressed, "not compressed"},
		{"huge grain", huge_grain, "grain size"},
		{"two grains at one place", two_at_once, "one place"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vmie_error err = {0};
		CHECK_INT(decode_damaged(&v, cases[i].damage, &err), -1);
		if (!err.message || !strstr(err.message, cases[i].words))
			fprintf(stderr, "case %s: %s\n", cases[i].what,
				err.message ? err.message : "(none)");
		CHECK_CONTAINS(err.message, cases[i].words);
		CHECK(err.status == VMIE_ERR_FILE_UNSUPPORTED_FORMAT ||
		      err.status == VMIE_ERR_FILE_DECOMPRESS_FAILED);
		vmie_error_clear(&err);
	}
	/* Every prefix of the object: refused or decoded, never a crash. */
	for (size_t cut = 0; cut < v.len; cut += v.len / 97 + 1) {
		vmie_error err = {0};
		uint64_t cap;
		unsigned char *back = decode(v.data, cut, size, &cap, NULL, &err);
		CHECK(back == NULL);
		free(back);
		vmie_error_clear(&err);
	}
	free(d);
	vbuf_free(&v);
}

/* --- pieces ------------------------------------------------------------------ */

static void test_plan(void)
{
	vmdk_grain g[] = {
		{1000, 500, 0}, {1500, 600, G}, {2100, 400, 2 * G},
		{2500 + 2560, 300, 3 * G}, /* after a table: merged */
		{1 << 20, 300, 4 * G},     /* far away: a new range */
	};
	vmdk_grains list = {g, 5, 5};
	vmdk_range *r = NULL;
	size_t n = vmdk_so_plan(&list, 1 << 20, &r);
	CHECK_INT(n, 2);
	CHECK_INT(r[0].offset, 1000);
	CHECK_INT(r[0].length, 2500 + 2560 + 300 - 1000);
	CHECK_INT(r[0].first, 0);
	CHECK_INT(r[0].count, 4);
	CHECK_INT(r[1].offset, 1 << 20);
	CHECK_INT(r[1].count, 1);
	free(r);
	/* A small limit splits; each range still holds one grain at least. */
	n = vmdk_so_plan(&list, 1100, &r);
	CHECK_INT(n, 4);
	CHECK_INT(r[0].count, 2);
	CHECK_INT(r[0].length, 1100);
	CHECK_INT(r[1].count, 1);
	CHECK_INT(r[2].offset, 2500 + 2560);
	free(r);
	n = vmdk_so_plan(&list, 10, &r);
	CHECK_INT(n, 5);
	free(r);
}

static void test_codec(void)
{
	unsigned char in[G], z[VMDK_DEFLATE_BOUND(G)], out[G];
	for (size_t i = 0; i < G; i++)
		in[i] = (unsigned char)(i * 7 + (i >> 9));
	vmdk_deflater *d = vmdk_deflater_new();
	size_t n = vmdk_deflate(d, in, G, z, sizeof(z));
	CHECK(n > 6 && n < G);
	CHECK_INT(vmdk_inflate(z, n, out, G), G);
	CHECK(memcmp(in, out, G) == 0);
	CHECK_INT(vmdk_inflate(z, n, out, G - 1), -1); /* more than the room */
	CHECK_INT(vmdk_inflate(z, n - 3, out, G), -1); /* cut short */
	z[n - 1] ^= 1;                                  /* Adler-32 */
	CHECK_INT(vmdk_inflate(z, n, out, G), -1);
	/* Noise: bigger than the input, within the bound. */
	for (size_t i = 0; i < G; i++)
		in[i] = (unsigned char)rnd();
	n = vmdk_deflate(d, in, G, z, sizeof(z));
	CHECK(n >= G && n <= sizeof(z));
	CHECK_INT(vmdk_inflate(z, n, out, G), G);
	vmdk_deflater_free(d);
	CHECK(vmdk_all_zero(out, 0));
	memset(out, 0, 100);
	CHECK(vmdk_all_zero(out, 100));
	out[99] = 1;
	CHECK(!vmdk_all_zero(out, 100));
	out[99] = 0;
	out[3] = 1;
	CHECK(!vmdk_all_zero(out, 100));
}

/* --- qemu-img, the oracle ----------------------------------------------------- */

static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), fmt, a, b);
	return system(cmd) == 0 ? 0 : -1;
}

static bool slurp(const char *path, vbuf *out)
{
	char buf[65536];
	size_t n;
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		vbuf_add(out, buf, n);
	fclose(f);
	return true;
}

static void qemu_case(size_t size, uint64_t seed)
{
	char raw[96], qv[96], qr[96], ours[96];
	unsigned char *d = make_disk(size, seed);
	snprintf(raw, sizeof(raw), "%s/q.raw", dir);
	snprintf(qv, sizeof(qv), "%s/q.vmdk", dir);
	snprintf(qr, sizeof(qr), "%s/q.back.raw", dir);
	snprintf(ours, sizeof(ours), "%s/ours.vmdk", dir);
	CHECK(write_disk(raw, d, size));
	/* qemu-img's streamOptimized, decoded by us = qemu-img -O raw. */
	CHECK_INT(sh("qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized "
		     "%s %s", raw, qv), 0);
	CHECK_INT(sh("qemu-img convert -q -f vmdk -O raw %s %s", qv, qr), 0);
	vbuf q = VBUF_INIT, want = VBUF_INIT, v = VBUF_INIT;
	CHECK(slurp(qv, &q) && slurp(qr, &want));
	vmie_error err = {0};
	uint64_t cap;
	unsigned char *back = decode(q.data, q.len, round512(size), &cap, NULL, &err);
	CHECK(back != NULL);
	if (!back)
		fprintf(stderr, "qemu's VMDK of %zu bytes: %s\n", size, err.message);
	CHECK_INT(cap, want.len);
	CHECK(back && cap == want.len && memcmp(back, want.data, want.len) == 0);
	free(back);
	/* Ours: qemu-img check finds nothing, compare finds them equal. */
	CHECK_INT(encode_file(raw, 2, &v, &err), 0);
	FILE *f = fopen(ours, "wb");
	CHECK(f && fwrite(v.data, 1, v.len, f) == v.len);
	if (f)
		fclose(f);
	CHECK_INT(sh("qemu-img check -q %s%s", ours, ""), 0);
	CHECK_INT(sh("qemu-img compare -q -f raw -F vmdk %s %s", raw, ours), 0);
	unlink(raw);
	unlink(qv);
	unlink(qr);
	unlink(ours);
	vbuf_free(&q);
	vbuf_free(&want);
	vbuf_free(&v);
	vmie_error_clear(&err);
	free(d);
}

static void test_qemu(void)
{
	if (system("qemu-img --version >/dev/null 2>&1") != 0) {
		printf("SKIP qemu-img oracle: qemu-img not installed (qemu-utils)\n");
		return;
	}
	qemu_case(10 * MIB, 1);
	qemu_case(33 * MIB + 4097, 2);   /* not a multiple of a grain */
	qemu_case(1000001, 3);           /* nor of a sector */
	qemu_case(70 * MIB, 4);          /* three grain tables */
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_codec();
	test_plan();
	test_round_trips();
	test_empty_disk();
	test_deterministic();
	test_layout();
	test_holes();
	test_source_shrinks();
	test_head_kept();
	test_damaged();
	test_qemu();
	rmdir(dir);
	return check_done("vmdk_stream");
}
