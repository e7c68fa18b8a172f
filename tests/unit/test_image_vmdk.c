/*
 * VMDK inspector and guest view over images built in memory: sparse,
 * streamOptimized (GD in the header, as qemu writes it, and at the end
 * with a footer, as VMware does), text descriptors with in-memory
 * extents; each malformation's finding; the guest view read back byte for
 * byte; and (when qemu-img is installed) real images.
 * Run with an argument DIR to write the fuzz seeds into DIR/vmdk instead.
 */
#include "base/endian.h"
#include "image/image.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define SECTOR 512u
#define GTES 512u

typedef struct img {
	unsigned char *p;
	size_t len;
} img;

/* --- a small builder */

static void img_grow(img *m, size_t len)
{
	if (len <= m->len)
		return;
	m->p = realloc(m->p, len);
	memset(m->p + m->len, 0, len - m->len);
	m->len = len;
}

static size_t img_pad(img *m)
{
	img_grow(m, (m->len + SECTOR - 1) / SECTOR * SECTOR);
	return m->len;
}

enum { SPARSE, STREAM, STREAM_END };

typedef struct spec {
	int mode;
	uint64_t capacity; /* sectors */
	uint32_t grain;    /* sectors */
	const char *desc;  /* embedded descriptor text, or NULL */
} spec;

static void header(unsigned char *h, const spec *s, uint64_t gd)
{
	memset(h, 0, SECTOR);
	memcpy(h, "KDMV", 4);
	put_le32(h + 4, s->mode == SPARSE ? 1 : 3);
	put_le32(h + 8, 0x3 | (s->mode != SPARSE ? 0x30000 : 0));
	put_le64(h + 12, s->capacity);
	put_le64(h + 20, s->grain);
	put_le64(h + 28, s->desc ? 1 : 0);
	put_le64(h + 36, s->desc ? 20 : 0);
	put_le32(h + 44, GTES);
	put_le64(h + 56, gd);
	put_le64(h + 64, 128);
	memcpy(h + 73, "\n \r\n", 4);
	put_le16(h + 77, s->mode != SPARSE ? 1 : 0);
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Append grain gi of data as the file wants it; returns its sector. */
static uint32_t put_grain(img *m, const spec *s, const unsigned char *g,
			  uint64_t gi)
{
	size_t gb = (size_t)s->grain * SECTOR;
	size_t at = img_pad(m);

	if (s->mode == SPARSE) {
		img_grow(m, at + gb);
		memcpy(m->p + at, g, gb);
	} else {
		uLongf zlen = compressBound(gb);
		img_grow(m, at + 12 + zlen);
		compress2(m->p + at + 12, &zlen, g, gb, 6);
		put_le64(m->p + at, gi * s->grain);
		put_le32(m->p + at + 8, (uint32_t)zlen);
		m->len = at + 12 + zlen;
	}
	return (uint32_t)(at / SECTOR);
}

static void put_marker(img *m, uint64_t val, uint32_t type)
{
	size_t at = img_pad(m);

	img_grow(m, at + SECTOR);
	put_le64(m->p + at, val);
	put_le32(m->p + at + 12, type);
}

/* A sparse extent holding data (capacity sectors of it). */
static img build(const spec *s, const unsigned char *data)
{
	uint64_t per_gt = (uint64_t)s->grain * GTES;
	size_t ngd = (size_t)((s->capacity + per_gt - 1) / per_gt);
	size_t ngrains = (size_t)((s->capacity + s->grain - 1) / s->grain);
	size_t gb = (size_t)s->grain * SECTOR;
	size_t gt_bytes = ngd * GTES * 4;
	uint32_t *gt = calloc(ngd * GTES, 4);
	unsigned char *grain = malloc(gb);
	img m = { NULL, 0 };

	img_grow(&m, 21 * SECTOR);
	if (s->desc)
		memcpy(m.p + SECTOR, s->desc, strlen(s->desc));
	size_t gd_at = 0, gt_at = 0;
	if (s->mode != STREAM_END) {
		/* GD and GTs before the grains, as qemu lays them out */
		gd_at = img_pad(&m);
		img_grow(&m, gd_at + ngd * 4);
		gt_at = img_pad(&m);
		img_grow(&m, gt_at + gt_bytes);
	}
	for (size_t gi = 0; gi < ngrains; gi++) {
		size_t off = gi * gb, n = gb;
		if (off + n > s->capacity * SECTOR)
			n = (size_t)(s->capacity * SECTOR - off);
		memset(grain, 0, gb);
		memcpy(grain, data + off, n);
		if (!all_zero(grain, gb))
			gt[gi] = put_grain(&m, s, grain, gi);
	}
	if (s->mode == STREAM_END) {
		put_marker(&m, gt_bytes / SECTOR, 1);
		gt_at = img_pad(&m);
		img_grow(&m, gt_at + gt_bytes);
		put_marker(&m, (ngd * 4 + SECTOR - 1) / SECTOR, 2);
		gd_at = img_pad(&m);
		img_grow(&m, gd_at + ngd * 4);
	}
	for (size_t i = 0; i < ngd * GTES; i++)
		put_le32(m.p + gt_at + 4 * i, gt[i]);
	for (size_t i = 0; i < ngd; i++)
		put_le32(m.p + gd_at + 4 * i,
			 (uint32_t)(gt_at / SECTOR + i * GTES * 4 / SECTOR));
	if (s->mode == STREAM_END) {
		header(m.p, s, UINT64_MAX);
		put_marker(&m, 1, 3);
		size_t f = img_pad(&m);
		img_grow(&m, f + SECTOR);
		header(m.p + f, s, gd_at / SECTOR);
		put_marker(&m, 0, 0);
	} else {
		header(m.p, s, gd_at / SECTOR);
		img_pad(&m);
	}
	free(gt);
	free(grain);
	return m;
}

static unsigned char *pattern(size_t len)
{
	unsigned char *d = calloc(1, len);
	uint32_t x = 12345;

	/* some grains of noise, some of text, the rest zeros */
	for (size_t i = 0; i < len; i++) {
		size_t g = i / (64 * KiB);
		x = x * 1103515245u + 12345u;
		if (g % 3 == 0)
			d[i] = (unsigned char)(x >> 16);
		else if (g % 3 == 1 && i % 64 * KiB < 1000)
			d[i] = (unsigned char)('a' + i % 26);
	}
	d[510] = 0x55;
	d[511] = 0xaa;
	return d;
}

/* --- an opener over named in-memory files */

typedef struct mfile {
	const char *name;
	const img *m;
} mfile;

static int mem_open(const vimg_opener *op, const char *name, vimg_reader *out)
{
	for (const mfile *f = op->ctx; f->name; f++)
		if (strcmp(f->name, name) == 0) {
			vimg_reader_mem(out, f->m->p, f->m->len);
			return 0;
		}
	return -1;
}

static int inspect(const img *m, const vimg_opener *op, vimg_info *info)
{
	vimg_reader r;

	memset(info, 0, sizeof(*info));
	vimg_reader_mem(&r, m->p, m->len);
	return vimg_vmdk_inspect(&r, op, info);
}

static bool has_code(const vimg_info *info, const char *code)
{
	for (size_t i = 0; i < info->nfindings; i++)
		if (strcmp(info->findings[i].code, code) == 0)
			return true;
	return false;
}

static size_t nerrors(const vimg_info *info)
{
	size_t n = 0;

	for (size_t i = 0; i < info->nfindings; i++)
		n += info->findings[i].severity == VIMG_ERROR;
	return n;
}

static const char *find_msg(const vimg_info *info, const char *code)
{
	for (size_t i = 0; i < info->nfindings; i++)
		if (strcmp(info->findings[i].code, code) == 0)
			return info->findings[i].message;
	return NULL;
}

static const char *find_aws(const vimg_info *info, const char *code)
{
	for (size_t i = 0; i < info->nfindings; i++)
		if (strcmp(info->findings[i].code, code) == 0)
			return info->findings[i].aws;
	return NULL;
}

/* Expect exactly `code` among the errors (besides the subformat one). */
static void expect(const img *m, const vimg_opener *op, const char *code)
{
	vimg_info info;

	CHECK_INT(inspect(m, op, &info), 0);
	if (!has_code(&info, code)) {
		fprintf(stderr, "  expected finding %s; got:", code);
		for (size_t i = 0; i < info.nfindings; i++)
			fprintf(stderr, " %s", info.findings[i].code);
		fprintf(stderr, "\n");
	}
	CHECK(has_code(&info, code));
	CHECK(vimg_has_errors(&info));
	vimg_info_free(&info);
}

/* The guest view equals want (len bytes), read whole and in odd pieces. */
static void check_guest(const img *m, const vimg_opener *op,
			const unsigned char *want, size_t len)
{
	vimg_reader f, g;

	vimg_reader_mem(&f, m->p, m->len);
	CHECK_INT(vimg_vmdk_guest_open(&f, op, &g), 0);
	if (!g.read_at)
		return;
	CHECK_INT(g.size, len);
	unsigned char *got = malloc(len + 100);
	CHECK_INT(vimg_read(&g, 0, got, len + 100), len);
	CHECK(memcmp(got, want, len) == 0);
	/* pieces that straddle grains and extents, backwards */
	bool same = true;
	for (size_t off = len; off > 0;) {
		size_t n = off > 70001 ? 70001 : off;
		off -= n;
		memset(got, 0xEE, n);
		if (vimg_read(&g, off, got, n) != (long long)n ||
		    memcmp(got, want + off, n) != 0)
			same = false;
	}
	CHECK(same);
	CHECK_INT(vimg_read(&g, len, got, 10), 0);
	free(got);
	vimg_reader_close(&g);
}

static const char desc_so[] =
	"# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
	"createType=\"streamOptimized\"\n\n# Extent description\n"
	"RW 2048 SPARSE \"disk.vmdk\"\n\nddb.adapterType = \"lsilogic\"\n";

static void test_sparse(void)
{
	unsigned char *data = pattern(1 * MiB);
	spec s = { SPARSE, 2048, 128, NULL };
	img m = build(&s, data);
	vimg_info info;

	CHECK_INT(inspect(&m, NULL, &info), 0);
	CHECK_INT(info.format, VIMG_VMDK);
	CHECK_STR(info.subformat, "monolithicSparse");
	CHECK_INT(info.virtual_size, 1 * MiB);
	CHECK_INT(nerrors(&info), 1);
	CHECK(has_code(&info, "vmdk-not-stream-optimized"));
	CHECK_CONTAINS(find_msg(&info, "vmdk-not-stream-optimized"),
		       "monolithicSparse");
	CHECK_CONTAINS(find_msg(&info, "vmdk-not-stream-optimized"),
		       "subformat=streamOptimized");
	CHECK_CONTAINS(find_aws(&info, "vmdk-not-stream-optimized"),
		       "Unsupported VMDK File Format");
	vimg_info_free(&info);
	check_guest(&m, NULL, data, 1 * MiB);

	/* a capacity that is not a whole number of grains */
	free(m.p);
	s.capacity = 2000;
	m = build(&s, data);
	CHECK_INT(inspect(&m, NULL, &info), 0);
	CHECK_INT(info.virtual_size, 2000 * SECTOR);
	CHECK_INT(nerrors(&info), 1);
	vimg_info_free(&info);
	check_guest(&m, NULL, data, 2000 * SECTOR);
	free(m.p);

	/* the embedded descriptor names the subformat */
	s.capacity = 2048;
	s.desc = "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\r\n"
		 "createType=\"twoGbMaxExtentSparse\"\r\n";
	m = build(&s, data);
	CHECK_INT(inspect(&m, NULL, &info), 0);
	CHECK_STR(info.subformat, "twoGbMaxExtentSparse");
	vimg_info_free(&info);
	free(m.p);
	free(data);
}

static void test_stream(void)
{
	unsigned char *data = pattern(1 * MiB);
	spec s = { STREAM, 2048, 128, desc_so };
	vimg_info info;

	for (int mode = STREAM; mode <= STREAM_END; mode++) {
		s.mode = mode;
		img m = build(&s, data);
		CHECK_INT(inspect(&m, NULL, &info), 0);
		CHECK_STR(info.subformat, "streamOptimized");
		CHECK_INT(info.virtual_size, 1 * MiB);
		CHECK_INT(info.nfindings, 0);
		vimg_info_free(&info);
		check_guest(&m, NULL, data, 1 * MiB);
		free(m.p);
	}
	free(data);
}

static void test_stream_damaged(void)
{
	unsigned char *data = pattern(1 * MiB);
	spec s = { STREAM_END, 2048, 128, desc_so };
	img m = build(&s, data);
	vimg_reader f, g;

	/* no footer: the end cut off */
	img cut = { m.p, m.len - 1536 };
	expect(&cut, NULL, "vmdk-footer-missing");
	cut.len = m.len / 2;
	expect(&cut, NULL, "vmdk-footer-missing");
	/* what the first header says is still shown */
	vimg_info info;
	CHECK_INT(inspect(&cut, NULL, &info), 0);
	CHECK_STR(info.subformat, "streamOptimized");
	CHECK_INT(info.virtual_size, 1 * MiB);
	CHECK_CONTAINS(find_msg(&info, "vmdk-footer-missing"), "truncated");
	vimg_info_free(&info);
	vimg_reader_mem(&f, cut.p, cut.len);
	CHECK_INT(vimg_vmdk_guest_open(&f, NULL, &g), -1);

	/* a grain marker whose data runs past the end */
	s.mode = STREAM;
	free(m.p);
	m = build(&s, data);
	size_t last = 0; /* the last grain: the highest GT entry */
	for (size_t i = 0; i < GTES; i++) {
		size_t e = le32(m.p + 22 * SECTOR + 4 * i);
		if (e > last)
			last = e;
	}
	put_le32(m.p + last * SECTOR + 8, 200 * KiB);
	expect(&m, NULL, "vmdk-grain-marker");
	put_le32(m.p + last * SECTOR + 8, 100 * KiB);
	expect(&m, NULL, "vmdk-grain-beyond-eof");
	free(m.p);

	/* the same file truncated inside its grains */
	m = build(&s, data);
	cut.p = m.p;
	cut.len = last * SECTOR + 100;
	expect(&cut, NULL, "vmdk-grain-beyond-eof");
	/* and a grain that does not inflate: the guest read fails */
	m.p[last * SECTOR + 12] ^= 0xff;
	m.p[last * SECTOR + 13] ^= 0xff;
	vimg_reader_mem(&f, m.p, m.len);
	CHECK_INT(vimg_vmdk_guest_open(&f, NULL, &g), 0);
	unsigned char buf[512];
	CHECK_INT(vimg_read(&g, (uint64_t)le64(m.p + last * SECTOR) * SECTOR,
			    buf, sizeof(buf)), -1);
	vimg_reader_close(&g);
	free(m.p);
	free(data);
}

static void test_header_errors(void)
{
	unsigned char *data = pattern(1 * MiB);
	spec s = { SPARSE, 2048, 128, NULL };
	img m = build(&s, data);
	vimg_info info;

	put_le32(m.p + 4, 4);
	expect(&m, NULL, "vmdk-version");
	put_le32(m.p + 4, 0);
	expect(&m, NULL, "vmdk-version");
	put_le32(m.p + 4, 1);

	/* a text-mode copy turned "\r\n" into "\n" */
	memcpy(m.p + 73, "\n \n\n", 4);
	expect(&m, NULL, "vmdk-text-mode-corrupted");
	CHECK_INT(inspect(&m, NULL, &info), 0);
	CHECK_CONTAINS(find_msg(&info, "vmdk-text-mode-corrupted"),
		       "binary mode");
	vimg_info_free(&info);
	memcpy(m.p + 73, "\n \r\n", 4);

	put_le64(m.p + 12, UINT64_C(1) << 40);
	expect(&m, NULL, "vmdk-capacity");
	put_le64(m.p + 12, 0);
	expect(&m, NULL, "vmdk-capacity");
	put_le64(m.p + 12, 2048);

	put_le64(m.p + 20, 3);
	expect(&m, NULL, "vmdk-grain-size");
	put_le64(m.p + 20, 96);
	expect(&m, NULL, "vmdk-grain-size");
	put_le64(m.p + 20, UINT64_C(1) << 20);
	expect(&m, NULL, "vmdk-grain-size");
	put_le64(m.p + 20, 128);

	put_le32(m.p + 44, 4096);
	expect(&m, NULL, "vmdk-gt-size");
	put_le32(m.p + 44, 0);
	expect(&m, NULL, "vmdk-gt-size");
	put_le32(m.p + 44, GTES);

	/* a small grain, a big disk: a directory too large to read */
	put_le64(m.p + 12, UINT64_C(1) << 36);
	put_le64(m.p + 20, 8);
	put_le32(m.p + 44, 1);
	expect(&m, NULL, "vmdk-gd-too-large");
	put_le64(m.p + 12, 2048);
	put_le64(m.p + 20, 128);
	put_le32(m.p + 44, GTES);

	put_le16(m.p + 77, 7);
	put_le32(m.p + 8, 0x30003);
	expect(&m, NULL, "vmdk-compression");
	put_le16(m.p + 77, 0);
	put_le32(m.p + 8, 3);

	/* still a valid image after all that */
	CHECK_INT(inspect(&m, NULL, &info), 0);
	CHECK_INT(nerrors(&info), 1);
	vimg_info_free(&info);

	m.p[72] = 1;
	CHECK_INT(inspect(&m, NULL, &info), 0);
	CHECK(has_code(&info, "vmdk-unclean-shutdown"));
	vimg_info_free(&info);
	m.p[72] = 0;

	/* not a VMDK at all */
	img junk = { (unsigned char *)"hello world", 11 };
	CHECK_INT(inspect(&junk, NULL, &info), -1);
	vimg_info_free(&info);
	junk.len = 2;
	CHECK_INT(inspect(&junk, NULL, &info), -1);
	vimg_info_free(&info);
	free(m.p);
	free(data);
}

static void test_tables_beyond_eof(void)
{
	unsigned char *data = pattern(1 * MiB);
	spec s = { SPARSE, 2048, 128, NULL };
	img m = build(&s, data);
	vimg_reader f, g;

	/* the grain directory past the end */
	uint64_t gd = le64(m.p + 56);
	put_le64(m.p + 56, m.len / SECTOR + 10);
	expect(&m, NULL, "vmdk-gd-beyond-eof");
	vimg_reader_mem(&f, m.p, m.len);
	CHECK_INT(vimg_vmdk_guest_open(&f, NULL, &g), -1);
	put_le64(m.p + 56, gd);

	/* a grain table past the end */
	uint32_t gt = le32(m.p + gd * SECTOR);
	put_le32(m.p + gd * SECTOR, (uint32_t)(m.len / SECTOR + 1));
	expect(&m, NULL, "vmdk-gt-beyond-eof");
	put_le32(m.p + gd * SECTOR, gt);

	/* a truncated copy: the last grain cut off */
	img cut = { m.p, m.len - 10 * KiB };
	expect(&cut, NULL, "vmdk-grain-beyond-eof");
	/* the guest view reads the missing part as zeros */
	vimg_reader_mem(&f, cut.p, cut.len);
	CHECK_INT(vimg_vmdk_guest_open(&f, NULL, &g), 0);
	vimg_reader_close(&g);

	free(m.p);

	/* the tables point everything at one grain, many times over */
	spec t = { SPARSE, 128, 8, NULL };
	m = build(&t, data);
	put_le64(m.p + 12, 4 * 8 * GTES);
	gd = le64(m.p + 56);
	gt = le32(m.p + gd * SECTOR);
	for (size_t i = 0; i < 4; i++)
		put_le32(m.p + gd * SECTOR + 4 * i, gt);
	for (size_t i = 0; i < GTES; i++)
		put_le32(m.p + gt * SECTOR + 4 * i, 30);
	CHECK(30 * SECTOR + 8 * SECTOR <= m.len);
	expect(&m, NULL, "vmdk-tables-corrupt");
	free(m.p);
	free(data);
}

static void test_parent(void)
{
	unsigned char *data = pattern(1 * MiB);
	spec s = { STREAM, 2048, 128,
		   "# Disk DescriptorFile\nversion=1\nCID=fffffffe\n"
		   "parentCID=1a2b3c4d\ncreateType=\"streamOptimized\"\n"
		   "parentFileNameHint=\"base.vmdk\"\n" };
	img m = build(&s, data);
	vimg_info info;

	expect(&m, NULL, "vmdk-snapshot-child");
	inspect(&m, NULL, &info);
	CHECK_CONTAINS(find_msg(&info, "vmdk-snapshot-child"), "1a2b3c4d");
	CHECK_CONTAINS(find_msg(&info, "vmdk-snapshot-child"), "base.vmdk");
	vimg_info_free(&info);
	free(m.p);
	free(data);
}

static img text(const char *s)
{
	img m = { (unsigned char *)strdup(s), strlen(s) };
	return m;
}

static void test_descriptor_flat(void)
{
	unsigned char *data = pattern(2 * MiB);
	/* b starts at sector 2 of its file */
	img a = { malloc(1 * MiB), 1 * MiB }, b = { calloc(1, 1 * MiB + 1024), 1 * MiB + 1024 };
	memcpy(a.p, data, 1 * MiB);
	memcpy(b.p + 1024, data + 1 * MiB, 1 * MiB);
	mfile files[] = { { "a-f001.vmdk", &a }, { "my disk-f002.vmdk", &b },
			  { NULL, NULL } };
	vimg_opener op = { mem_open, files };
	img d = text("# Disk DescriptorFile\r\n"
		     "version=1\r\nCID=fffffffe\r\nparentCID=ffffffff\r\n"
		     "createType=\"twoGbMaxExtentFlat\"\r\n\r\n"
		     "# Extent description\r\n"
		     "RW 2048 FLAT \"a-f001.vmdk\" 0\r\n"
		     "  RW 2048 FLAT \"my disk-f002.vmdk\" 2   \r\n\r\n"
		     "#DDB\r\nddb.adapterType = \"lsilogic\"\r\n"
		     "ddb.geometry.cylinders = \"4\"\r\n");
	vimg_info info;

	CHECK_INT(inspect(&d, &op, &info), 0);
	CHECK_STR(info.subformat, "twoGbMaxExtentFlat");
	CHECK_INT(info.virtual_size, 2 * MiB);
	CHECK_INT(nerrors(&info), 1);
	CHECK(has_code(&info, "vmdk-not-stream-optimized"));
	CHECK_CONTAINS(find_msg(&info, "vmdk-not-stream-optimized"),
		       "twoGbMaxExtentFlat");
	vimg_info_free(&info);
	check_guest(&d, &op, data, 2 * MiB);

	/* no opener, then one extent gone */
	expect(&d, NULL, "vmdk-extent-missing");
	files[1].name = "other.vmdk";
	expect(&d, &op, "vmdk-extent-missing");
	inspect(&d, &op, &info);
	CHECK_CONTAINS(find_msg(&info, "vmdk-extent-missing"), "my disk-f002.vmdk");
	CHECK_INT(info.virtual_size, 2 * MiB);
	vimg_info_free(&info);
	vimg_reader f, g;
	vimg_reader_mem(&f, d.p, d.len);
	CHECK_INT(vimg_vmdk_guest_open(&f, &op, &g), -1);
	files[1].name = "my disk-f002.vmdk";

	/* a flat extent shorter than its line says */
	b.len -= 512;
	expect(&d, &op, "vmdk-flat-extent-short");
	b.len += 512;
	free(d.p);

	/* a zero extent between two flat ones; monolithicFlat's offset 0 */
	d = text("# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n"
		 "RW 2048 FLAT \"a-f001.vmdk\" 0\nRW 100 ZERO\n"
		 "RDONLY 2048 FLAT \"my disk-f002.vmdk\" 2\n");
	unsigned char *want = calloc(1, 2 * MiB + 100 * SECTOR);
	memcpy(want, data, 1 * MiB);
	memcpy(want + 1 * MiB + 100 * SECTOR, data + 1 * MiB, 1 * MiB);
	CHECK_INT(inspect(&d, &op, &info), 0);
	CHECK_STR(info.subformat, "monolithicFlat");
	CHECK_INT(info.virtual_size, 2 * MiB + 100 * SECTOR);
	CHECK_INT(nerrors(&info), 1);
	vimg_info_free(&info);
	check_guest(&d, &op, want, 2 * MiB + 100 * SECTOR);
	free(want);
	free(d.p);

	/* a snapshot child */
	d = text("# Disk DescriptorFile\nversion=1\nCID=2\nparentCID=00000001\n"
		 "createType=\"monolithicFlat\"\nRW 2048 FLAT \"a-f001.vmdk\" 0\n");
	expect(&d, &op, "vmdk-snapshot-child");
	free(d.p);

	/* what does not parse */
	d = text("# Disk DescriptorFile\nversion=1\nRW 2048 FLAT \"a-f001.vmdk\" 0\n");
	expect(&d, &op, "vmdk-descriptor-invalid");
	free(d.p);
	d = text("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n"
		 "RW twelve FLAT \"a-f001.vmdk\" 0\n");
	expect(&d, &op, "vmdk-descriptor-invalid");
	free(d.p);
	d = text("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n"
		 "RW 12 FLAT \"a-f001.vmdk 0\n");
	expect(&d, &op, "vmdk-descriptor-invalid");
	free(d.p);
	d = text("# Disk DescriptorFile\ncreateType=\"vmfs\"\n");
	expect(&d, &op, "vmdk-descriptor-invalid");
	free(d.p);
	/* control characters: not a file name, and not shown as they are */
	d = text("# Disk DescriptorFile\ncreateType=\"mono\033[2Jlithic\"\n"
		 "RW 12 FLAT \"a\033[2J.vmdk\" 0\n");
	expect(&d, &op, "vmdk-descriptor-invalid");
	CHECK_INT(inspect(&d, &op, &info), 0);
	CHECK_STR(info.subformat, "mono?[2Jlithic");
	for (size_t i = 0; i < info.nfindings; i++)
		CHECK(strchr(info.findings[i].message, '\033') == NULL);
	vimg_info_free(&info);
	free(d.p);
	d = text("# Disk DescriptorFile\ncreateType=\"vmfsRDM\"\n"
		 "RW 2048 VMFSRDM \"a-f001.vmdk\"\n");
	expect(&d, &op, "vmdk-extent-unsupported");
	free(d.p);
	d = text("# Disk DescriptorFile\ncreateType=\"vmfs\"\n"
		 "RW 2048 VMFS \"a-f001.vmdk\"\n");
	CHECK_INT(inspect(&d, &op, &info), 0);
	CHECK_STR(info.subformat, "vmfs");
	CHECK_INT(nerrors(&info), 1);
	vimg_info_free(&info);
	free(d.p);

	/* too many extents */
	size_t cap = 5000 * 24 + 100, n = 0;
	char *big = malloc(cap);
	n += (size_t)snprintf(big, cap, "# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n");
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(big + n, cap - n, "RW 1 ZERO\n");
	d = text(big);
	free(big);
	expect(&d, &op, "vmdk-too-many-extents");
	free(d.p);
	free(a.p);
	free(b.p);
	free(data);
}

static void test_descriptor_sparse(void)
{
	unsigned char *data = pattern(2 * MiB);
	spec s = { SPARSE, 2048, 128, NULL };
	img e1 = build(&s, data), e2 = build(&s, data + 1 * MiB);
	mfile files[] = { { "d-s001.vmdk", &e1 }, { "d-s002.vmdk", &e2 },
			  { NULL, NULL } };
	vimg_opener op = { mem_open, files };
	img d = text("# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n"
		     "createType=\"twoGbMaxExtentSparse\"\n"
		     "RW 2048 SPARSE \"d-s001.vmdk\"\nRW 2048 SPARSE \"d-s002.vmdk\"\n");
	vimg_info info;

	CHECK_INT(inspect(&d, &op, &info), 0);
	CHECK_STR(info.subformat, "twoGbMaxExtentSparse");
	CHECK_INT(info.virtual_size, 2 * MiB);
	CHECK_INT(nerrors(&info), 1);
	vimg_info_free(&info);
	check_guest(&d, &op, data, 2 * MiB);

	/* an extent of another size */
	put_le64(e2.p + 12, 1024);
	expect(&d, &op, "vmdk-extent-capacity-mismatch");
	put_le64(e2.p + 12, 2048);
	/* an extent that is not sparse */
	e2.p[0] = 'X';
	expect(&d, &op, "vmdk-bad-magic");
	inspect(&d, &op, &info);
	CHECK_CONTAINS(find_msg(&info, "vmdk-bad-magic"), "d-s002.vmdk");
	vimg_info_free(&info);
	e2.p[0] = 'K';
	/* a truncated extent */
	e2.len -= 20 * KiB;
	expect(&d, &op, "vmdk-grain-beyond-eof");
	free(d.p);
	free(e1.p);
	free(e2.p);
	free(data);
}

/* --- real images from qemu-img, when it is installed */

static int run(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static int dir_open(const vimg_opener *op, const char *name, vimg_reader *out)
{
	char path[512];

	if (strchr(name, '/'))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", (const char *)op->ctx, name);
	return vimg_reader_file(out, path, NULL);
}

static unsigned long long qemu_size(const char *path)
{
	char cmd[1024];
	unsigned long long v = 0;

	snprintf(cmd, sizeof(cmd),
		 "qemu-img info -f vmdk --output=json '%s' | "
		 "grep -o '\"virtual-size\": *[0-9]*' | head -1 | grep -o '[0-9]*$'",
		 path);
	FILE *p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%llu", &v) != 1)
			v = 0;
		pclose(p);
	}
	return v;
}

static void qemu_one(const char *dir, const char *sub, const img *raw)
{
	char path[512], cmd[1024];
	vimg_opener op = { dir_open, (void *)dir };
	vimg_reader r, g;
	vimg_info info = { 0 };

	snprintf(path, sizeof(path), "%s/%s.vmdk", dir, sub);
	snprintf(cmd, sizeof(cmd),
		 "qemu-img convert -f raw -O vmdk -o subformat=%s %s/raw.img %s",
		 sub, dir, path);
	CHECK_INT(run(cmd), 0);
	if (vimg_reader_file(&r, path, NULL) < 0) {
		CHECK(0);
		return;
	}
	CHECK_INT(vimg_vmdk_inspect(&r, &op, &info), 0);
	CHECK_STR(info.subformat, sub);
	CHECK_INT(info.virtual_size, qemu_size(path));
	CHECK_INT(info.virtual_size, raw->len);
	CHECK_INT(nerrors(&info), strcmp(sub, "streamOptimized") ? 1 : 0);
	if (nerrors(&info) > (strcmp(sub, "streamOptimized") ? 1u : 0u))
		for (size_t i = 0; i < info.nfindings; i++)
			fprintf(stderr, "  %s: %s\n", info.findings[i].code,
				info.findings[i].message);
	vimg_info_free(&info);
	CHECK_INT(vimg_vmdk_guest_open(&r, &op, &g), 0);
	if (g.read_at) {
		unsigned char *buf = malloc(raw->len);
		CHECK_INT(vimg_read(&g, 0, buf, raw->len), raw->len);
		CHECK(memcmp(buf, raw->p, raw->len) == 0);
		free(buf);
		vimg_reader_close(&g);
	}
	vimg_reader_close(&r);
	snprintf(cmd, sizeof(cmd), "rm -f %s/%s*.vmdk", dir, sub);
	run(cmd);
}

static void test_qemu(void)
{
	char dir[] = "/tmp/vmie-vmdk-XXXXXX", path[512], cmd[600];
	static const char *subs[] = { "monolithicSparse", "streamOptimized",
				      "monolithicFlat", "twoGbMaxExtentSparse",
				      "twoGbMaxExtentFlat" };

	if (run("qemu-img --version >/dev/null 2>&1") != 0) {
		printf("SKIP qemu-img comparison: qemu-img not installed "
		       "(Debian package qemu-utils)\n");
		return;
	}
	if (!mkdtemp(dir))
		return;
	img raw = { pattern(3 * MiB + 512), 3 * MiB + 512 };
	snprintf(path, sizeof(path), "%s/raw.img", dir);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(raw.p, 1, raw.len, f);
		fclose(f);
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		qemu_one(dir, subs[i], &raw);
	free(raw.p);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
}

/* --- fuzz seeds */

static void write_file(const char *dir, const char *name, const img *m)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/vmdk", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/vmdk/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(m->p, 1, m->len, f);
		fclose(f);
	}
}

static int write_seeds(const char *dir)
{
	/* 32 KiB of guest in 4 KiB grains, three of them allocated */
	unsigned char *data = calloc(1, 32 * KiB);
	for (size_t i = 0; i < 300; i++) {
		data[i] = (unsigned char)('a' + i % 26);
		data[2 * 4 * KiB + 7 * i] = (unsigned char)i;
		data[5 * 4 * KiB + 100 + i] = (unsigned char)(i * 7);
	}
	data[510] = 0x55;
	data[511] = 0xaa;
	spec s = { SPARSE, 64, 8, NULL };
	img m = build(&s, data);

	write_file(dir, "sparse.vmdk", &m);
	/* a descriptor, a NUL, then the extent the fuzz target serves */
	static const char d[] =
		"# Disk DescriptorFile\nversion=1\ncreateType=\"twoGbMaxExtentSparse\"\n"
		"RW 64 SPARSE \"x-s001.vmdk\"\nRW 8 ZERO\nRW 64 FLAT \"x.vmdk\" 2\n";
	img both = { malloc(sizeof(d) + m.len), sizeof(d) + m.len };
	memcpy(both.p, d, sizeof(d));
	memcpy(both.p + sizeof(d), m.p, m.len);
	write_file(dir, "descriptor-sparse.vmdk", &both);
	free(both.p);
	free(m.p);
	s.mode = STREAM;
	s.desc = desc_so;
	m = build(&s, data);
	write_file(dir, "stream.vmdk", &m);
	free(m.p);
	s.mode = STREAM_END;
	m = build(&s, data);
	write_file(dir, "stream-footer.vmdk", &m);
	free(m.p);
	m = text("# Disk DescriptorFile\r\nversion=1\r\nCID=fffffffe\r\n"
		 "parentCID=ffffffff\r\ncreateType=\"twoGbMaxExtentFlat\"\r\n"
		 "RW 8 FLAT \"x-f001.vmdk\" 0\r\nRW 4 ZERO\r\n"
		 "RW 8 SPARSE \"x s001.vmdk\"\r\nRW 8 VMFS \"x.vmdk\"\r\n"
		 "ddb.adapterType = \"lsilogic\"\r\n");
	write_file(dir, "descriptor.vmdk", &m);
	free(m.p);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return write_seeds(argv[1]);
	test_sparse();
	test_stream();
	test_stream_damaged();
	test_header_errors();
	test_tables_beyond_eof();
	test_parent();
	test_descriptor_flat();
	test_descriptor_sparse();
	test_qemu();
	return check_done("image_vmdk");
}
