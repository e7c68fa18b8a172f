/*
 * OVA inspection over archives assembled in memory: the tar walker (ustar,
 * pax, GNU long names, base-256 sizes, damage), the OVF descriptor, the
 * manifest digests and the disks inspected inside.  With tar and qemu-img
 * installed, also an OVA built by the real tools.  Run with an argument
 * DIR to write the fuzz seeds into DIR/tar and DIR/ovf instead of testing.
 */
#include "base/buf.h"
#include "base/endian.h"
#include "image/image.h"
#include "image/ovf.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define SEC 512u
#define DISK_SECTORS 64u
#define DISK_SIZE (DISK_SECTORS * SEC)

/* ---- a small tar writer ---- */

static void octal(unsigned char *f, size_t len, uint64_t v)
{
	f[len - 1] = '\0';
	for (size_t i = len - 1; i-- > 0;) {
		f[i] = (unsigned char)('0' + (v & 7));
		v >>= 3;
	}
}

static void set_checksum(unsigned char *h, bool signed_sum)
{
	int32_t s = 0;

	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		s += signed_sum ? (signed char)h[i] : (int32_t)h[i];
	octal(h + 148, 7, (uint64_t)s);
	h[155] = ' ';
}

typedef struct hdr_opts {
	bool base256;   /* size in GNU base-256 */
	bool signed_sum;
	const char *magic; /* default POSIX "ustar\0" "00" */
} hdr_opts;

static void tar_header(vbuf *t, const char *name, uint64_t size, char type,
		       const hdr_opts *o)
{
	unsigned char h[512] = { 0 };
	size_t n = strlen(name);

	memcpy(h, name, n > 100 ? 100 : n);
	octal(h + 100, 8, 0644);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	if (o && o->base256) {
		h[124] = 0x80;
		put_be64(h + 128, size);
	} else {
		octal(h + 124, 12, size);
	}
	octal(h + 136, 12, 1700000000);
	h[156] = (unsigned char)type;
	memcpy(h + 257, o && o->magic ? o->magic : "ustar\0" "00", 8);
	set_checksum(h, o && o->signed_sum);
	vbuf_add(t, h, sizeof(h));
}

static void tar_pad(vbuf *t)
{
	static const char zero[512];
	if (t->len % 512)
		vbuf_add(t, zero, 512 - t->len % 512);
}

/* A member; returns where its data starts. */
static size_t tar_data(vbuf *t, const void *p, size_t len)
{
	size_t off = t->len;
	vbuf_add(t, p, len);
	tar_pad(t);
	return off;
}

static size_t tar_file(vbuf *t, const char *name, const void *p, size_t len)
{
	tar_header(t, name, len, '0', NULL);
	return tar_data(t, p, len);
}

static void tar_end(vbuf *t)
{
	static const char zero[1024];
	vbuf_add(t, zero, sizeof(zero));
}

/* A pax record "LEN key=value\n", LEN counting itself. */
static void pax_record(vbuf *b, const char *key, const char *val)
{
	size_t body = strlen(key) + strlen(val) + 3; /* ' ', '=', '\n' */
	size_t len = body + 1;
	while (snprintf(NULL, 0, "%zu", len) + body != len)
		len++;
	vbuf_addf(b, "%zu %s=%s\n", len, key, val);
}

/* ---- contents ---- */

/* An MBR with one bootable Linux partition holding an ext4 superblock. */
static unsigned char *raw_disk(void)
{
	unsigned char *d = calloc(DISK_SECTORS, SEC);
	unsigned char *e = d + 446, *part = d + 8 * SEC;

	e[0] = 0x80;
	e[4] = 0x83;
	put_le32(e + 8, 8);
	put_le32(e + 12, DISK_SECTORS - 8);
	d[510] = 0x55;
	d[511] = 0xaa;
	part[1080] = 0x53;
	part[1081] = 0xef;
	put_le32(part + 1024 + 0x5c, 0x4);
	put_le32(part + 1024 + 0x60, 0x40);
	return d;
}

static uint32_t vhd_sum(const unsigned char *p)
{
	uint32_t s = 0;
	for (size_t i = 0; i < 512; i++)
		if (i < 64 || i >= 68)
			s += p[i];
	return ~s;
}

/* The raw disk with a fixed-VHD footer after it. */
static unsigned char *vhd_disk(void)
{
	unsigned char *d = realloc(raw_disk(), DISK_SIZE + 512);
	unsigned char *f = d + DISK_SIZE;

	memset(f, 0, 512);
	memcpy(f, "conectix", 8);
	put_be32(f + 8, 2);
	put_be32(f + 12, 0x00010000);
	put_be64(f + 16, UINT64_MAX);
	memcpy(f + 28, "vmie", 4);
	put_be64(f + 40, DISK_SIZE);
	put_be64(f + 48, DISK_SIZE);
	put_be32(f + 60, 2);
	put_be32(f + 64, vhd_sum(f));
	return d;
}

typedef struct ovf_opts {
	const char *href;       /* File ovf:href */
	const char *file_ref;   /* Disk ovf:fileRef (default "file1") */
	const char *capacity;   /* default "32" */
	const char *units;      /* NULL: attribute absent; default below */
	bool no_units;
	const char *file_extra; /* more File attributes */
	bool no_disk_section;
} ovf_opts;

static char *ovf_text(const ovf_opts *o)
{
	vbuf b = VBUF_INIT;
	const char *units = o->no_units ? NULL
			    : o->units ? o->units : "byte * 2^10";

	vbuf_adds(&b,
		  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		  "<Envelope vmw:buildId=\"build-1\" "
		  "xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" "
		  "xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\" "
		  "xmlns:vmw=\"http://www.vmware.com/schema/ovf\">\n"
		  "  <References>\n");
	vbuf_addf(&b, "    <File ovf:href=\"%s\" ovf:id=\"file1\" %s/>\n",
		  o->href ? o->href : "disk1.img",
		  o->file_extra ? o->file_extra : "");
	vbuf_adds(&b, "  </References>\n");
	if (!o->no_disk_section) {
		vbuf_adds(&b, "  <DiskSection>\n    <Info>Virtual disk "
			  "information</Info>\n");
		vbuf_addf(&b, "    <Disk ovf:capacity=\"%s\" ",
			  o->capacity ? o->capacity : "32");
		if (units)
			vbuf_addf(&b, "ovf:capacityAllocationUnits=\"%s\" ", units);
		vbuf_addf(&b, "ovf:diskId=\"vmdisk1\" ovf:fileRef=\"%s\" "
			  "ovf:format=\"http://www.vmware.com/interfaces/"
			  "specifications/vmdk.html#streamOptimized\"/>\n"
			  "  </DiskSection>\n",
			  o->file_ref ? o->file_ref : "file1");
	}
	vbuf_adds(&b,
		  "  <VirtualSystem ovf:id=\"vm\">\n"
		  "    <Info>A virtual machine</Info>\n"
		  "    <OperatingSystemSection ovf:id=\"101\" "
		  "vmw:osType=\"otherLinux64Guest\">\n"
		  "      <Info>The guest OS</Info>\n"
		  "    </OperatingSystemSection>\n"
		  "  </VirtualSystem>\n"
		  "</Envelope>\n");
	return vbuf_detach(&b);
}

static void hexdigest(const char *alg, const void *p, size_t n, vbuf *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_Digest(p, n, md, &len, EVP_get_digestbyname(alg), NULL);
	vbuf_addhex(out, md, len);
}

static void mf_line(vbuf *mf, const char *alg, const char *name,
		    const void *p, size_t n)
{
	vbuf_addf(mf, "%s(%s)= ", alg, name);
	hexdigest(alg, p, n, mf);
	vbuf_addch(mf, '\n');
}

/* ---- inspecting ---- */

static int inspect_ova(const vbuf *t, vimg_info *info)
{
	vimg_reader r;

	memset(info, 0, sizeof(*info));
	vimg_reader_mem(&r, t->data, t->len);
	return vimg_ova_inspect(&r, info);
}

static const vimg_finding *finding(const vimg_info *info, const char *code)
{
	for (size_t i = 0; info && i < info->nfindings; i++)
		if (strcmp(info->findings[i].code, code) == 0)
			return &info->findings[i];
	return NULL;
}

static bool has_error(const vimg_info *info, const char *code)
{
	const vimg_finding *f = finding(info, code);
	return f && f->severity == VIMG_ERROR;
}

static bool has_warning(const vimg_info *info, const char *code)
{
	const vimg_finding *f = finding(info, code);
	return f && f->severity == VIMG_WARNING;
}

static void dump_findings(const vimg_info *info)
{
	for (size_t i = 0; i < info->nfindings; i++)
		fprintf(stderr, "  finding %s: %s\n", info->findings[i].code,
			info->findings[i].message);
}

/* The usual OVA: vm.ovf, vm.mf (SHA256 of both), disk1.img. */
typedef struct built {
	vbuf t;
	size_t disk_off;
} built;

static built basic_ova(const ovf_opts *o, const unsigned char *disk,
		       size_t disk_len, const char *mf_alg)
{
	built b = { VBUF_INIT, 0 };
	char *ovf = ovf_text(o);
	vbuf mf = VBUF_INIT;

	tar_file(&b.t, "vm.ovf", ovf, strlen(ovf));
	if (mf_alg) {
		mf_line(&mf, mf_alg, "vm.ovf", ovf, strlen(ovf));
		mf_line(&mf, mf_alg, "disk1.img", disk, disk_len);
		tar_file(&b.t, "vm.mf", mf.data, mf.len);
	}
	b.disk_off = tar_file(&b.t, "disk1.img", disk, disk_len);
	tar_end(&b.t);
	vbuf_free(&mf);
	free(ovf);
	return b;
}

static void check_good_disk(const vimg_info *info, size_t disk_off)
{
	CHECK_INT(info->ndisks, 1);
	if (info->ndisks != 1)
		return;
	const vimg_disk *d = &info->disks[0];
	CHECK_STR(d->href, "disk1.img");
	CHECK_INT(d->capacity, DISK_SIZE);
	CHECK_INT(d->offset, disk_off);
	CHECK_INT(d->size, DISK_SIZE);
	CHECK(d->info != NULL);
	if (!d->info)
		return;
	CHECK_INT(d->info->format, VIMG_RAW);
	CHECK_INT(d->info->virtual_size, DISK_SIZE);
	CHECK_STR(d->info->partition_table, "mbr");
	CHECK_INT(d->info->npartitions, 1);
	CHECK(!vimg_has_errors(d->info));
}

static void test_basic(void)
{
	unsigned char *disk = raw_disk();
	ovf_opts o = { 0 };
	vimg_info info;

	for (int i = 0; i < 3; i++) {
		const char *alg = i == 0 ? "SHA256" : i == 1 ? "SHA1" : "SHA512";
		built b = basic_ova(&o, disk, DISK_SIZE, alg);
		CHECK_INT(inspect_ova(&b.t, &info), 0);
		CHECK_INT(info.format, VIMG_OVA);
		CHECK_STR(info.subformat, "ova");
		CHECK_INT(info.file_size, b.t.len);
		CHECK_INT(info.virtual_size, DISK_SIZE);
		check_good_disk(&info, b.disk_off);
		CHECK_INT(info.nfindings, 0);
		dump_findings(&info);
		CHECK(!vimg_has_errors(&info));
		vimg_info_free(&info);
		vbuf_free(&b.t);
	}

	/* Through the entry point: detected by content, disks at depth 1. */
	built b = basic_ova(&o, disk, DISK_SIZE, "SHA256");
	vimg_reader r;
	vmie_error err = { 0 };
	memset(&info, 0, sizeof(info));
	vimg_reader_mem(&r, b.t.data, b.t.len);
	CHECK_INT(vimg_inspect(&r, &(vimg_inspect_opts){ "vm.ova", NULL, 0, 0 },
			       &info, &err), 0);
	CHECK_INT(info.format, VIMG_OVA);
	check_good_disk(&info, b.disk_off);
	CHECK_INT(info.nfindings, 0);
	dump_findings(&info);
	vimg_info_free(&info);
	vbuf_free(&b.t);
	free(disk);
}

/* Both digests wrong in turn: the disk's bytes changed after the
 * manifest was written. */
static void test_manifest_mismatch(void)
{
	unsigned char *disk = raw_disk();
	ovf_opts o = { 0 };
	vimg_info info;

	for (int i = 0; i < 2; i++) {
		built b = basic_ova(&o, disk, DISK_SIZE, i ? "SHA1" : "SHA256");
		b.t.data[b.disk_off + 4000] ^= 1;
		inspect_ova(&b.t, &info);
		const vimg_finding *f = finding(&info, "ova-manifest-mismatch");
		CHECK(f && f->severity == VIMG_ERROR);
		if (f) {
			CHECK_CONTAINS(f->message, "disk1.img");
			CHECK_CONTAINS(f->message, i ? "SHA1" : "SHA256");
			CHECK_CONTAINS(f->aws, "manifest");
		}
		CHECK_INT(info.nfindings, 1);
		check_good_disk(&info, b.disk_off);
		vimg_info_free(&info);
		vbuf_free(&b.t);
	}
	free(disk);
}

/* Spaced-out lines, lowercase names, a missing member, an unknown
 * algorithm and a line that is no digest at all. */
static void test_manifest_lines(void)
{
	unsigned char *disk = raw_disk();
	char *ovf = ovf_text(&(ovf_opts){ 0 });
	vbuf t = VBUF_INIT, mf = VBUF_INIT;
	vimg_info info;

	vbuf_adds(&mf, "sha1 (vm.ovf) = ");
	hexdigest("SHA1", ovf, strlen(ovf), &mf);
	vbuf_adds(&mf, "\r\n\nSHA256(./disk1.img)= ");
	hexdigest("SHA256", disk, DISK_SIZE, &mf);
	vbuf_adds(&mf, "\nSHA256(gone.img)= ");
	hexdigest("SHA256", "x", 1, &mf);
	vbuf_adds(&mf, "\nMD5(vm.ovf)= 00112233445566778899aabbccddeeff\n"
		  "this is not a digest\nSHA1(vm.ovf)= abcd\n");
	tar_file(&t, "vm.ovf", ovf, strlen(ovf));
	tar_file(&t, "vm.mf", mf.data, mf.len);
	tar_file(&t, "./disk1.img", disk, DISK_SIZE);
	tar_end(&t);
	inspect_ova(&t, &info);
	CHECK(!finding(&info, "ova-manifest-mismatch"));
	const vimg_finding *f = finding(&info, "ova-manifest-missing-member");
	CHECK(f && f->severity == VIMG_ERROR);
	if (f)
		CHECK_CONTAINS(f->message, "gone.img");
	CHECK(has_warning(&info, "ova-manifest-algorithm"));
	CHECK(has_warning(&info, "ova-manifest-malformed"));
	CHECK_INT(info.nfindings, 4); /* two malformed lines */
	CHECK_INT(info.ndisks, 1);
	if (info.ndisks)
		CHECK(info.disks[0].info != NULL);
	vimg_info_free(&info);
	vbuf_free(&t);

	/* Hundreds of bad lines: a few findings, then a count. */
	vbuf_reset(&mf);
	for (int i = 0; i < 300; i++)
		vbuf_addf(&mf, "SHA1(missing%d)= %040d\n", i, 0);
	tar_file(&t, "vm.ovf", ovf, strlen(ovf));
	tar_file(&t, "vm.mf", mf.data, mf.len);
	tar_file(&t, "disk1.img", disk, DISK_SIZE);
	tar_end(&t);
	inspect_ova(&t, &info);
	CHECK_INT(info.nfindings, 9);
	f = finding(&info, "ova-manifest-more");
	CHECK(f && f->severity == VIMG_ERROR);
	if (f)
		CHECK_CONTAINS(f->message, "292 more");
	vimg_info_free(&info);
	vbuf_free(&t);
	vbuf_free(&mf);
	free(ovf);
	free(disk);
}

static void test_ovf_not_first(void)
{
	unsigned char *disk = raw_disk();
	char *ovf = ovf_text(&(ovf_opts){ 0 });
	vbuf t = VBUF_INIT;
	vimg_info info;

	size_t off = tar_file(&t, "disk1.img", disk, DISK_SIZE);
	tar_file(&t, "vm.ovf", ovf, strlen(ovf));
	tar_end(&t);
	CHECK_INT(inspect_ova(&t, &info), 0);
	CHECK(has_error(&info, "ova-ovf-not-first"));
	check_good_disk(&info, off); /* read anyway */
	vimg_info_free(&info);
	vbuf_free(&t);

	/* No descriptor anywhere. */
	tar_file(&t, "disk1.img", disk, DISK_SIZE);
	tar_end(&t);
	CHECK_INT(inspect_ova(&t, &info), 0);
	CHECK(has_error(&info, "ova-no-ovf"));
	CHECK_INT(info.ndisks, 0);
	vimg_info_free(&info);
	vbuf_free(&t);
	free(ovf);
	free(disk);
}

static void test_ovf_problems(void)
{
	unsigned char *disk = raw_disk();
	static const char *bad[] = {
		"<Envelope><References>",
		"<NotAnEnvelope/>",
		"",
		"<!DOCTYPE Envelope [<!ENTITY x \"y\">]><Envelope>&x;</Envelope>",
	};
	vimg_info info;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vbuf t = VBUF_INIT;
		tar_file(&t, "vm.ovf", bad[i], strlen(bad[i]));
		tar_file(&t, "disk1.img", disk, DISK_SIZE);
		tar_end(&t);
		CHECK_INT(inspect_ova(&t, &info), 0);
		CHECK(has_error(&info, "ovf-malformed"));
		CHECK_INT(info.ndisks, 0);
		vimg_info_free(&info);
		vbuf_free(&t);
	}

	/* href naming no member; fileRef naming no File; no DiskSection;
	 * a capacity that disagrees with the image; a name with a path. */
	struct {
		ovf_opts o;
		const char *code;
		bool error;
	} cases[] = {
		{ { .href = "disk2.img" }, "ova-disk-missing", true },
		{ { .href = "../disk1.img" }, "ova-disk-missing", true },
		{ { .file_ref = "file9" }, "ovf-disk-file-unknown", true },
		{ { .no_disk_section = true }, "ovf-no-disk-section", true },
		{ { .capacity = "1", .units = "byte * 2^30" },
		  "ova-capacity-mismatch", false },
		{ { .capacity = "${disk.size}" }, "ovf-capacity-unreadable", false },
		{ { .file_extra = "ovf:size=\"5\"" }, "ovf-file-size-mismatch",
		  false },
		{ { .file_extra = "ovf:chunkSize=\"1000\"" }, "ova-chunked-member",
		  true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		built b = basic_ova(&cases[i].o, disk, DISK_SIZE, NULL);
		CHECK_INT(inspect_ova(&b.t, &info), 0);
		const vimg_info *where = &info;
		if (!strcmp(cases[i].code, "ova-capacity-mismatch") &&
		    info.ndisks)
			where = info.disks[0].info;
		const vimg_finding *f = finding(where, cases[i].code);
		CHECK(f != NULL);
		if (!f)
			fprintf(stderr, "  case %zu: no %s\n", i, cases[i].code);
		else
			CHECK_INT(f->severity,
				  cases[i].error ? VIMG_ERROR : VIMG_WARNING);
		CHECK_INT(vimg_has_errors(&info), cases[i].error);
		if (i < 2 && info.ndisks == 1) {
			CHECK(info.disks[0].info == NULL);
			CHECK_INT(info.disks[0].size, 0);
			CHECK_INT(info.disks[0].capacity, DISK_SIZE);
		}
		vimg_info_free(&info);
		vbuf_free(&b.t);
	}

	/* A gzip-compressed member: refused in the disk's own findings. */
	ovf_opts o = { .file_extra = "ovf:compression=\"gzip\"" };
	built b = basic_ova(&o, disk, DISK_SIZE, NULL);
	inspect_ova(&b.t, &info);
	CHECK_INT(info.ndisks, 1);
	if (info.ndisks && info.disks[0].info) {
		CHECK(has_error(info.disks[0].info, "ova-compressed-member"));
		CHECK_INT(info.disks[0].info->compression, VIMG_COMP_GZIP);
	}
	CHECK(vimg_has_errors(&info));
	vimg_info_free(&info);
	vbuf_free(&b.t);
	free(disk);
}

static void test_capacity_units(void)
{
	static const struct {
		const char *units;
		int rc;
		uint64_t mult;
	} u[] = {
		{ "byte * 2^30", 0, 1ull << 30 },
		{ "byte*2^20", 0, 1ull << 20 },
		{ "byte", 0, 1 },
		{ NULL, 0, 1 },
		{ "", 0, 1 },
		{ " byte * 1024 ", 0, 1024 },
		{ "byte * 10^3 * 2^10", 0, 1024000 },
		{ "byte * 2^63", 0, 1ull << 63 },
		{ "byte * 2^64", -1, 0 },
		{ "byte * 2^6400", -1, 0 },
		{ "byte * 99999999999999999999", -1, 0 },
		{ "byte * 0", -1, 0 },
		{ "byte *", -1, 0 },
		{ "byte * 2^", -1, 0 },
		{ "byte 2", -1, 0 },
		{ "kilobyte", -1, 0 },
		{ "MegaBytes", -1, 0 },
	};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		uint64_t m = 0;
		int rc = ovf_capacity_units(u[i].units, &m);
		CHECK_INT(rc, u[i].rc);
		if (rc == 0)
			CHECK_INT(m, u[i].mult);
	}

	/* Through an OVA: plain bytes and no units attribute at all. */
	unsigned char *disk = raw_disk();
	ovf_opts os[] = {
		{ .capacity = "32768", .units = "byte" },
		{ .capacity = "32768", .no_units = true },
		{ .capacity = "32", .units = "byte * 2^10" },
	};
	for (size_t i = 0; i < 3; i++) {
		vimg_info info;
		built b = basic_ova(&os[i], disk, DISK_SIZE, NULL);
		inspect_ova(&b.t, &info);
		check_good_disk(&info, b.disk_off);
		CHECK_INT(info.nfindings, 0);
		vimg_info_free(&info);
		vbuf_free(&b.t);
	}
	free(disk);
}

static void test_damaged_tar(void)
{
	unsigned char *disk = raw_disk();
	ovf_opts o = { 0 };
	vimg_info info;

	/* Cut inside the disk's data. */
	built b = basic_ova(&o, disk, DISK_SIZE, "SHA256");
	b.t.len = b.disk_off + 1000;
	CHECK_INT(inspect_ova(&b.t, &info), 0);
	const vimg_finding *f = finding(&info, "ova-truncated");
	CHECK(f && f->severity == VIMG_ERROR);
	if (f)
		CHECK_CONTAINS(f->message, "disk1.img");
	CHECK(has_error(&info, "ova-disk-missing"));
	CHECK(has_error(&info, "ova-manifest-missing-member"));
	vimg_info_free(&info);

	/* Cut inside a header. */
	b.t.len = b.disk_off - 100;
	inspect_ova(&b.t, &info);
	CHECK(has_error(&info, "ova-truncated"));
	vimg_info_free(&info);

	/* Cut inside the first header: still a (broken) tar. */
	b.t.len = 300;
	CHECK_INT(inspect_ova(&b.t, &info), 0);
	CHECK_INT(info.format, VIMG_OVA);
	CHECK(has_error(&info, "ova-truncated"));
	CHECK(has_error(&info, "ova-no-ovf"));
	vimg_info_free(&info);

	/* Without its end blocks (and the last padding): still whole. */
	b.t.len = b.disk_off + DISK_SIZE;
	inspect_ova(&b.t, &info);
	CHECK(!vimg_has_errors(&info));
	check_good_disk(&info, b.disk_off);
	vimg_info_free(&info);
	vbuf_free(&b.t);

	/* A header whose checksum is wrong. */
	b = basic_ova(&o, disk, DISK_SIZE, NULL);
	b.t.data[b.disk_off - 512 + 130] ^= 1;
	inspect_ova(&b.t, &info);
	CHECK(has_error(&info, "ova-tar-checksum"));
	CHECK(has_error(&info, "ova-disk-missing"));
	vimg_info_free(&info);
	vbuf_free(&b.t);

	/* Not a tar at all. */
	unsigned char junk[2048];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 7 + 3);
	vbuf t = VBUF_INIT;
	vbuf_add(&t, junk, sizeof(junk));
	CHECK_INT(inspect_ova(&t, &info), -1);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	vbuf_free(&t);
	free(disk);
}

static void test_too_many_entries(void)
{
	char *ovf = ovf_text(&(ovf_opts){ 0 });
	vbuf t = VBUF_INIT;
	vimg_info info;

	tar_file(&t, "vm.ovf", ovf, strlen(ovf));
	for (int i = 0; i < 10000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		tar_header(&t, name, 0, '0', NULL);
	}
	tar_end(&t);
	inspect_ova(&t, &info);
	CHECK(has_error(&info, "ova-tar-too-many-entries"));
	vimg_info_free(&info);
	vbuf_free(&t);
	free(ovf);
}

#define LONGNAME_LEN 200

static void long_name(char *out)
{
	memset(out, 'd', LONGNAME_LEN - 4);
	memcpy(out + LONGNAME_LEN - 4, ".img", 5);
}

/* An OVA whose disk has a 200-byte name: mode 0 through a pax header
 * (path= and size=, the ustar size left 0) after a global header, mode 1
 * through a GNU 'L' long name with base-256 sizes and signed checksums. */
static vbuf long_name_ova(int mode, const unsigned char *disk, size_t *off)
{
	char longname[LONGNAME_LEN + 1];
	vbuf t = VBUF_INIT, pax = VBUF_INIT;
	hdr_opts gnu = { .base256 = true, .signed_sum = true,
			 .magic = "ustar  " };

	long_name(longname);
	char *ovf = ovf_text(&(ovf_opts){ .href = longname });
	pax_record(&pax, "comment", "made by a test");
	tar_header(&t, "pax_global_header", pax.len, 'g', NULL);
	tar_data(&t, pax.data, pax.len);
	tar_file(&t, "vm.ovf", ovf, strlen(ovf));
	if (mode == 0) {
		char sz[32];
		snprintf(sz, sizeof(sz), "%u", DISK_SIZE);
		vbuf_reset(&pax);
		pax_record(&pax, "path", longname);
		pax_record(&pax, "size", sz);
		pax_record(&pax, "mtime", "1700000000.5");
		tar_header(&t, "PaxHeaders/disk", pax.len, 'x', NULL);
		tar_data(&t, pax.data, pax.len);
		tar_header(&t, "truncated-name.img", 0, '0', NULL);
	} else {
		char name[LONGNAME_LEN + 1];
		tar_header(&t, "././@LongLink", LONGNAME_LEN + 1, 'L', &gnu);
		tar_data(&t, longname, LONGNAME_LEN + 1);
		memcpy(name, longname, sizeof(name));
		name[0] = (char)0xe9; /* a byte the signed sum counts < 0 */
		tar_header(&t, name, DISK_SIZE, '0', &gnu);
	}
	*off = tar_data(&t, disk, DISK_SIZE);
	tar_end(&t);
	vbuf_free(&pax);
	free(ovf);
	return t;
}

static void test_pax_gnu(void)
{
	unsigned char *disk = raw_disk();
	char longname[LONGNAME_LEN + 1];
	vimg_info info;

	long_name(longname);
	for (int mode = 0; mode < 2; mode++) {
		size_t off;
		vbuf t = long_name_ova(mode, disk, &off);
		vimg_reader r;
		vimg_reader_mem(&r, t.data, t.len);
		/* A pax global header first: detection looks past it. */
		CHECK(vimg_detect(&r) == VIMG_OVA);
		CHECK_INT(inspect_ova(&t, &info), 0);
		CHECK_INT(info.nfindings, 0);
		dump_findings(&info);
		CHECK_INT(info.ndisks, 1);
		if (info.ndisks) {
			CHECK_STR(info.disks[0].href, longname);
			CHECK_INT(info.disks[0].offset, off);
			CHECK_INT(info.disks[0].size, DISK_SIZE);
			CHECK(info.disks[0].info &&
			      info.disks[0].info->format == VIMG_RAW);
		}
		vimg_info_free(&info);
		vbuf_free(&t);
	}

	/* The .ovf's own name too long for ustar: a GNU 'L' entry, or a pax
	 * path= record, carries it, and detection reads it there. */
	for (int mode = 0; mode < 2; mode++) {
		char ovfname[LONGNAME_LEN + 1];
		hdr_opts gnu = { .base256 = true, .signed_sum = true,
				 .magic = "ustar  " };
		char *text = ovf_text(&(ovf_opts){ 0 });
		vbuf lt = VBUF_INIT, pax = VBUF_INIT;
		vimg_reader r;
		memset(ovfname, 'v', LONGNAME_LEN - 4);
		memcpy(ovfname + LONGNAME_LEN - 4, ".ovf", 5);
		if (mode == 0) {
			tar_header(&lt, "././@LongLink", LONGNAME_LEN + 1, 'L', &gnu);
			tar_data(&lt, ovfname, LONGNAME_LEN + 1);
		} else {
			pax_record(&pax, "path", ovfname);
			tar_header(&lt, "PaxHeaders/vm", pax.len, 'x', NULL);
			tar_data(&lt, pax.data, pax.len);
		}
		tar_header(&lt, "vvvvvvvv", strlen(text), '0', &gnu);
		tar_data(&lt, text, strlen(text));
		tar_end(&lt);
		vimg_reader_mem(&r, lt.data, lt.len);
		CHECK(vimg_detect(&r) == VIMG_OVA);
		vbuf_free(&lt);
		vbuf_free(&pax);
		free(text);
	}

	/* A malformed pax record. */
	char *ovf = ovf_text(&(ovf_opts){ 0 });
	vbuf t = VBUF_INIT;
	tar_file(&t, "vm.ovf", ovf, strlen(ovf));
	tar_header(&t, "PaxHeaders/disk", 12, 'x', NULL);
	tar_data(&t, "99 path=x\n\n\n", 12);
	tar_file(&t, "disk1.img", disk, DISK_SIZE);
	tar_end(&t);
	inspect_ova(&t, &info);
	CHECK(has_error(&info, "ova-tar-header"));
	vimg_info_free(&info);
	vbuf_free(&t);
	free(ovf);
	free(disk);
}

/* A fixed VHD as the disk, and a signed OVA. */
static void test_vhd_and_cert(void)
{
	unsigned char *disk = vhd_disk();
	char *ovf = ovf_text(&(ovf_opts){ .href = "disk1.vhd" });
	vbuf t = VBUF_INIT;
	vimg_info info;

	tar_file(&t, "vm.ovf", ovf, strlen(ovf));
	tar_file(&t, "vm.cert", "-----BEGIN CERTIFICATE-----\n", 28);
	tar_file(&t, "disk1.vhd", disk, DISK_SIZE + 512);
	tar_end(&t);
	inspect_ova(&t, &info);
	CHECK(has_warning(&info, "ova-cert-not-verified"));
	CHECK_INT(info.virtual_size, DISK_SIZE);
	CHECK_INT(info.ndisks, 1);
	if (info.ndisks && info.disks[0].info) {
		const vimg_info *d = info.disks[0].info;
		CHECK_INT(d->format, VIMG_VHD);
		CHECK_STR(d->subformat, "fixed");
		CHECK_INT(d->virtual_size, DISK_SIZE);
		CHECK(!vimg_has_errors(d));
	}
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);
	vbuf_free(&t);
	free(ovf);
	free(disk);
}

/* The parser on its own: files, disks, the OS. */
static void test_ovf_parse(void)
{
	char *text = ovf_text(&(ovf_opts){ .file_extra = "ovf:size=\"100\" "
							   "ovf:compression=\"identity\"" });
	ovf_desc d;
	vimg_info info = { 0 };

	CHECK_INT(ovf_parse(text, strlen(text), &d, &info), 0);
	CHECK_INT(d.nfiles, 1);
	CHECK_INT(d.ndisks, 1);
	if (d.nfiles && d.ndisks) {
		CHECK_STR(d.files[0].href, "disk1.img");
		CHECK(d.files[0].has_size && d.files[0].size == 100);
		CHECK(d.files[0].compression == NULL);
		CHECK_STR(d.disks[0].disk_id, "vmdisk1");
		CHECK_INT(d.disks[0].capacity, 32768);
		CHECK_CONTAINS(d.disks[0].format, "#streamOptimized");
		CHECK(ovf_file_by_id(&d, d.disks[0].file_ref) == &d.files[0]);
	}
	CHECK_STR(d.os_id, "101");
	CHECK_STR(d.os_type, "otherLinux64Guest");
	CHECK_INT(info.nfindings, 0);
	ovf_desc_free(&d);
	free(text);

	/* Too large to be a descriptor. */
	CHECK_INT(ovf_parse("<x/>", OVF_MAX_SIZE + 1, &d, &info), -1);
	CHECK(has_error(&info, "ovf-malformed"));
	ovf_desc_free(&d);
	vimg_info_free(&info);

	/* An empty DiskSection. */
	const char *e = "<Envelope><DiskSection/></Envelope>";
	CHECK_INT(ovf_parse(e, strlen(e), &d, &info), 0);
	CHECK(has_error(&info, "ovf-no-disks"));
	ovf_desc_free(&d);
	vimg_info_free(&info);
}

/* ---- the real tools: tar(1) and qemu-img ---- */

static int run(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static bool write_path(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(p, 1, len, f) == len;
	if (f)
		ok = fclose(f) == 0 && ok;
	return ok;
}

static bool read_path(const char *path, vbuf *out)
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

/* A 4 MiB disk (partition at 1 MiB), converted by qemu-img to a
 * streamOptimized VMDK, packed by tar(1) in three formats with a
 * manifest.  Only the OVA-level facts are checked here. */
static void real_ova(const char *dir, const char *tar_format)
{
	char cmd[1024], path[512];
	vbuf vmdk = VBUF_INIT, mf = VBUF_INIT, ova = VBUF_INIT;
	char *ovf = ovf_text(&(ovf_opts){ .href = "disk1.vmdk", .capacity = "4",
					  .units = "byte * 2^20" });
	vimg_info info = { 0 };
	vmie_error err = { 0 };

	snprintf(path, sizeof(path), "%s/vm.ovf", dir);
	write_path(path, ovf, strlen(ovf));
	snprintf(path, sizeof(path), "%s/disk1.vmdk", dir);
	CHECK(read_path(path, &vmdk));
	mf_line(&mf, "SHA256", "vm.ovf", ovf, strlen(ovf));
	mf_line(&mf, "SHA1", "disk1.vmdk", vmdk.data, vmdk.len);
	snprintf(path, sizeof(path), "%s/vm.mf", dir);
	write_path(path, mf.data, mf.len);
	snprintf(cmd, sizeof(cmd), "cd %s && tar --format=%s -cf vm.ova "
		 "vm.ovf vm.mf disk1.vmdk", dir, tar_format);
	CHECK_INT(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/vm.ova", dir);
	CHECK_INT(vimg_inspect_file(path, &info, &err), 0);
	CHECK_INT(info.format, VIMG_OVA);
	CHECK_STR(info.subformat, "ova");
	CHECK_INT(info.nfindings, 0);
	dump_findings(&info);
	CHECK_INT(info.ndisks, 1);
	CHECK(read_path(path, &ova));
	CHECK_INT(info.file_size, ova.len);
	if (info.ndisks == 1) {
		const vimg_disk *d = &info.disks[0];
		CHECK_STR(d->href, "disk1.vmdk");
		CHECK_INT(d->capacity, 4u << 20);
		CHECK_INT(d->size, vmdk.len);
		CHECK(d->offset + d->size <= ova.len &&
		      memcmp(ova.data + d->offset, vmdk.data, vmdk.len) == 0);
		CHECK(d->info && d->info->format == VIMG_VMDK);
	}
	vimg_info_free(&info);
	vmie_error_clear(&err);
	unlink(path);
	snprintf(path, sizeof(path), "%s/vm.mf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/vm.ovf", dir);
	unlink(path);
	vbuf_free(&ova);
	vbuf_free(&vmdk);
	vbuf_free(&mf);
	free(ovf);
}

static void test_real_tools(void)
{
	char dir[] = "/tmp/vmie-ova-XXXXXX";
	char cmd[1200], raw[64], vmdk[64];
	size_t size = 4u << 20;

	if (run("tar --version >/dev/null 2>&1") != 0 ||
	    run("qemu-img --version >/dev/null 2>&1") != 0) {
		printf("SKIP real OVA: tar or qemu-img not installed\n");
		return;
	}
	if (!mkdtemp(dir))
		return;
	unsigned char *disk = calloc(1, size);
	unsigned char *e = disk + 446;
	e[0] = 0x80;
	e[4] = 0x83;
	put_le32(e + 8, 2048);
	put_le32(e + 12, (uint32_t)(size / SEC - 2048));
	disk[510] = 0x55;
	disk[511] = 0xaa;
	memset(disk + (1u << 20) + 4096, 0x5a, 8192);
	snprintf(raw, sizeof(raw), "%s/disk.raw", dir);
	snprintf(vmdk, sizeof(vmdk), "%s/disk1.vmdk", dir);
	write_path(raw, disk, size);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -q -f raw -O vmdk -o "
		 "subformat=streamOptimized %s %s", raw, vmdk);
	if (run(cmd) == 0) {
		real_ova(dir, "gnu");
		real_ova(dir, "ustar");
		real_ova(dir, "pax");
	} else {
		CHECK(!"qemu-img convert failed");
	}
	unlink(raw);
	unlink(vmdk);
	rmdir(dir);
	free(disk);
}

/* ---- fuzz seeds ---- */

static void write_seed(const char *dir, const char *sub, const char *name,
		       const void *p, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (!write_path(path, p, len))
		fprintf(stderr, "cannot write %s\n", path);
}

static int write_seeds(const char *dir)
{
	unsigned char *disk = raw_disk();
	unsigned char *vhd = vhd_disk();
	size_t off;

	built b = basic_ova(&(ovf_opts){ 0 }, disk, DISK_SIZE, "SHA256");
	write_seed(dir, "tar", "basic.ova", b.t.data, b.t.len);
	vbuf_free(&b.t);
	vbuf t = long_name_ova(0, disk, &off);
	write_seed(dir, "tar", "pax.ova", t.data, t.len);
	vbuf_free(&t);
	t = long_name_ova(1, disk, &off);
	write_seed(dir, "tar", "gnu.ova", t.data, t.len);
	vbuf_free(&t);
	char *ovf = ovf_text(&(ovf_opts){ .href = "disk1.vhd" });
	tar_file(&t, "vm.ovf", ovf, strlen(ovf));
	tar_file(&t, "vm.cert", "cert", 4);
	tar_file(&t, "disk1.vhd", vhd, DISK_SIZE + 512);
	write_seed(dir, "tar", "vhd.ova", t.data, t.len); /* no end blocks */
	write_seed(dir, "ovf", "vhd.ovf", ovf, strlen(ovf));
	vbuf_free(&t);
	free(ovf);
	ovf = ovf_text(&(ovf_opts){ .capacity = "1", .units = "byte * 2^30",
				    .file_extra = "ovf:size=\"32768\" "
						  "ovf:compression=\"gzip\"" });
	write_seed(dir, "ovf", "gzip.ovf", ovf, strlen(ovf));
	free(ovf);
	ovf = ovf_text(&(ovf_opts){ .no_units = true, .capacity = "32768",
				    .file_ref = "nope" });
	write_seed(dir, "ovf", "dangling.ovf", ovf, strlen(ovf));
	free(ovf);
	free(vhd);
	free(disk);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return write_seeds(argv[1]);
	test_basic();
	test_manifest_mismatch();
	test_manifest_lines();
	test_ovf_not_first();
	test_ovf_problems();
	test_capacity_units();
	test_damaged_tar();
	test_too_many_entries();
	test_pax_gnu();
	test_vhd_and_cert();
	test_ovf_parse();
	test_real_tools();
	return check_done("image_ova");
}
