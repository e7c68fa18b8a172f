/*
 * VHD and VHDX inspectors over images built in memory, CRC32C vectors, and
 * (when qemu-img is installed) real images compared with qemu-img's sizes.
 * Run with an argument DIR to write the fuzz seed files into DIR/vhd and
 * DIR/vhdx instead of testing.
 */
#include "image/crc32c.h"
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

static void test_crc32c(void)
{
	static const unsigned char zeros[32];
	unsigned char ones[32];

	memset(ones, 0xff, sizeof(ones));
	CHECK_INT(vimg_crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_INT(vimg_crc32c(0, "", 0), 0);
	/* RFC 3720 B.4 vectors */
	CHECK_INT(vimg_crc32c(0, zeros, 32), 0x8A9136AAu);
	CHECK_INT(vimg_crc32c(0, ones, 32), 0x62A8AB43u);
	CHECK_INT(vimg_crc32c(vimg_crc32c(0, "1234", 4), "56789", 5),
		  0xE3069283u);
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
	put_le32(p + 4, vimg_crc32c(0, p, len));
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

/* The spec aligns regions to 1 MiB; `compact` packs them after the region
 * tables instead (the parser does not insist) to keep fuzz seeds small. */
static void vhdx_region(unsigned char *t, bool compact)
{
	memcpy(t, "regi", 4);
	put_le32(t + 8, 2);
	memcpy(t + 16, g_meta, 16);
	put_le64(t + 32, compact ? 320 * KiB : 2 * MiB);
	put_le32(t + 40, compact ? 68 * KiB : 1 * MiB);
	put_le32(t + 44, 1);
	memcpy(t + 48, g_bat, 16);
	put_le64(t + 64, compact ? 388 * KiB : 3 * MiB);
	put_le32(t + 72, compact ? 4 * KiB : 1 * MiB);
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

/* Layout: identifier, headers, region tables, log at 1 MiB, metadata at
 * 2 MiB, BAT at 3 MiB; 4 MiB in all.  No payload blocks. */
static img vhdx_layout(uint64_t size, bool fixed, bool compact)
{
	size_t len = compact ? 392 * KiB : 4 * MiB;
	img m = { calloc(1, len), len };
	unsigned char *md = m.p + (compact ? 320 * KiB : 2 * MiB);

	memcpy(m.p, "vhdxfile", 8);
	vhdx_header(m.p + 64 * KiB, 1);
	vhdx_header(m.p + 128 * KiB, 2);
	vhdx_region(m.p + 192 * KiB, compact);
	vhdx_region(m.p + 256 * KiB, compact);
	memcpy(md, "metadata", 8);
	put_le16(md + 10, 3);
	meta_entry(md + 32, g_params, 64 * KiB, 8);
	meta_entry(md + 64, g_size, 64 * KiB + 8, 8);
	meta_entry(md + 96, g_sector, 64 * KiB + 16, 4);
	put_le32(md + 64 * KiB, 32 * MiB);
	put_le32(md + 64 * KiB + 4, fixed ? 1 : 0);
	put_le64(md + 64 * KiB + 8, size);
	put_le32(md + 64 * KiB + 16, 512);
	return m;
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

/* --- real images from qemu-img, when it is installed */

static int run(const char *cmd)
{
	int st = system(cmd);

	return st == 0 ? 0 : -1;
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
	/* qemu-img reports a fixed VHD as raw unless told -f vpc. */
	snprintf(cmd, sizeof(cmd),
		 "qemu-img info -f %s --output=json %s | "
		 "grep -o '\"virtual-size\": *[0-9]*' | grep -o '[0-9]*$'",
		 fmt, path);
	FILE *p = popen(cmd, "r");
	unsigned long long want = 0;
	if (p) {
		if (fscanf(p, "%llu", &want) != 1)
			want = 0;
		pclose(p);
	}
	inspect(&m, fn, &info, &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(info.subformat, sub);
	CHECK_INT(info.virtual_size, want);
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);
	free(m.p);
	unlink(path);
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
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return write_seeds(argv[1]);
	test_crc32c();
	test_vhd_fixed();
	test_vhd_dynamic();
	test_vhd_not();
	test_vhdx();
	test_qemu();
	return check_done("image_vhd");
}
