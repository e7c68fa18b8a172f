/* RAW images, MBR/GPT partition tables, filesystem probes and format
 * detection, on disks built in memory. */
#include "image/image.h"
#include "base/endian.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"

#define SEC 512u

static unsigned char *new_disk(size_t sectors)
{
	return calloc(sectors, SEC);
}

static void mbr_sig(unsigned char *sector)
{
	sector[510] = 0x55;
	sector[511] = 0xaa;
}

static void mbr_entry(unsigned char *sector, int i, unsigned status,
		      unsigned type, uint32_t lba, uint32_t count)
{
	unsigned char *e = sector + 446 + 16 * i;
	e[0] = (unsigned char)status;
	e[4] = (unsigned char)type;
	put_le32(e + 8, lba);
	put_le32(e + 12, count);
	mbr_sig(sector);
}

static void fs_ext(unsigned char *part, uint32_t compat, uint32_t incompat)
{
	part[1080] = 0x53;
	part[1081] = 0xef;
	put_le32(part + 1024 + 0x5c, compat);
	put_le32(part + 1024 + 0x60, incompat);
}

/* Inspect a disk image held in memory; the caller frees info. */
static void inspect(const unsigned char *d, size_t len, vimg_info *info)
{
	vimg_reader r;
	memset(info, 0, sizeof(*info));
	vimg_reader_mem(&r, d, len);
	CHECK_INT(vimg_raw_inspect(&r, info), 0);
}

static const vimg_finding *finding(const vimg_info *info, const char *code)
{
	for (size_t i = 0; i < info->nfindings; i++)
		if (strcmp(info->findings[i].code, code) == 0)
			return &info->findings[i];
	return NULL;
}

static void test_mbr_ext4(void)
{
	unsigned char *d = new_disk(64);
	mbr_entry(d, 0, 0x80, 0x83, 8, 56);
	fs_ext(d + 8 * SEC, 0x4, 0x40);
	vimg_info info;
	inspect(d, 64 * SEC, &info);
	CHECK_INT(info.format, VIMG_RAW);
	CHECK_INT(info.virtual_size, 64 * SEC);
	CHECK_STR(info.partition_table, "mbr");
	CHECK_INT(info.npartitions, 1);
	if (info.npartitions == 1) {
		CHECK_INT(info.partitions[0].index, 1);
		CHECK_INT(info.partitions[0].start, 8 * SEC);
		CHECK_INT(info.partitions[0].size, 56 * SEC);
		CHECK_STR(info.partitions[0].type, "0x83");
		CHECK_STR(info.partitions[0].fs, "ext4");
		CHECK(info.partitions[0].bootable);
		CHECK_STR(vimg_os_name(info.partitions[0].os), "linux");
	}
	CHECK_INT(info.nfindings, 0);
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);
	free(d);
}

static void test_mbr_ntfs(void)
{
	unsigned char *d = new_disk(64);
	mbr_entry(d, 1, 0x80, 0x07, 2, 62);
	memcpy(d + 2 * SEC + 3, "NTFS    ", 8);
	vimg_info info;
	inspect(d, 64 * SEC, &info);
	CHECK_INT(info.npartitions, 1);
	if (info.npartitions == 1) {
		CHECK_INT(info.partitions[0].index, 2);
		CHECK_STR(info.partitions[0].fs, "ntfs");
		CHECK_INT(info.partitions[0].os, VIMG_OS_WINDOWS);
	}
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);
	free(d);
}

/* Other filesystems, each in its own primary partition of one disk. */
static void test_fs_kinds(void)
{
	size_t sectors = 4 + 4 * 8 + 160;
	unsigned char *d = new_disk(sectors);
	mbr_entry(d, 0, 0, 0x83, 4, 8);   /* ext3 */
	mbr_entry(d, 1, 0, 0x8e, 12, 8);  /* LVM label in sector 1 */
	mbr_entry(d, 2, 0, 0x0c, 20, 8);  /* FAT16 */
	mbr_entry(d, 3, 0, 0x83, 36, 160); /* btrfs at +64K */
	fs_ext(d + 4 * SEC, 0x4, 0);
	memcpy(d + 13 * SEC, "LABELONE", 8);
	memcpy(d + 20 * SEC + 54, "FAT16   ", 8);
	memcpy(d + 36 * SEC + 0x10040, "_BHRfS_M", 8);
	vimg_info info;
	inspect(d, sectors * SEC, &info);
	CHECK_INT(info.npartitions, 4);
	if (info.npartitions == 4) {
		CHECK_STR(info.partitions[0].fs, "ext3");
		CHECK_STR(info.partitions[1].fs, "lvm");
		CHECK_INT(info.partitions[1].os, VIMG_OS_LINUX);
		CHECK_STR(info.partitions[2].fs, "vfat");
		CHECK_INT(info.partitions[2].os, VIMG_OS_NONE);
		CHECK_STR(info.partitions[3].fs, "btrfs");
	}
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);
	free(d);
}

/* ---- GPT ---- */

#define GPT_SECTORS 256
#define GPT_ENTRIES 128

static void guid_bytes(unsigned char *out, uint32_t a, uint16_t b, uint16_t c,
		       const unsigned char rest[8])
{
	put_le32(out, a);
	put_le16(out + 4, b);
	put_le16(out + 6, c);
	memcpy(out + 8, rest, 8);
}

static void gpt_header(unsigned char *d, uint64_t lba, uint64_t alt,
		       uint64_t entries_lba, uint32_t entries_crc)
{
	unsigned char *h = d + lba * SEC;
	memcpy(h, "EFI PART", 8);
	put_le32(h + 8, 0x00010000);
	put_le32(h + 12, 92);
	put_le64(h + 24, lba);
	put_le64(h + 32, alt);
	put_le64(h + 40, 34);
	put_le64(h + 48, GPT_SECTORS - 34);
	put_le64(h + 72, entries_lba);
	put_le32(h + 80, GPT_ENTRIES);
	put_le32(h + 84, 128);
	put_le32(h + 88, entries_crc);
	put_le32(h + 16, 0);
	put_le32(h + 16, (uint32_t)crc32(0, h, 92));
}

/* ESP at 34..97 (FAT32) and a Linux xfs at 100..199; primary and backup
 * tables with correct checksums. */
static unsigned char *gpt_disk(bool bios_boot)
{
	static const unsigned char esp_rest[8] = {0xba, 0x4b, 0x00, 0xa0,
						  0xc9, 0x3e, 0xc9, 0x3b};
	static const unsigned char linux_rest[8] = {0x8e, 0x79, 0x3d, 0x69,
						    0xd8, 0x47, 0x7d, 0xe4};
	static const unsigned char bios_rest[8] = {0x74, 0x4e, 0x65, 0x65,
						   0x64, 0x45, 0x46, 0x49};
	unsigned char *d = new_disk(GPT_SECTORS);
	mbr_entry(d, 0, 0, 0xee, 1, GPT_SECTORS - 1);
	unsigned char *e = d + 2 * SEC;
	guid_bytes(e, 0xC12A7328, 0xF81F, 0x11D2, esp_rest);
	put_le64(e + 32, 34);
	put_le64(e + 40, 97);
	guid_bytes(e + 128, 0x0FC63DAF, 0x8483, 0x4772, linux_rest);
	put_le64(e + 128 + 32, 100);
	put_le64(e + 128 + 40, 199);
	if (bios_boot) {
		guid_bytes(e + 256, 0x21686148, 0x6449, 0x6E6F, bios_rest);
		put_le64(e + 256 + 32, 200);
		put_le64(e + 256 + 40, 201);
	}
	memcpy(d + 34 * SEC + 82, "FAT32   ", 8);
	memcpy(d + 100 * SEC, "XFSB", 4);
	uint32_t crc = (uint32_t)crc32(0, e, GPT_ENTRIES * 128);
	memcpy(d + (GPT_SECTORS - 33) * SEC, e, GPT_ENTRIES * 128);
	gpt_header(d, 1, GPT_SECTORS - 1, 2, crc);
	gpt_header(d, GPT_SECTORS - 1, 1, GPT_SECTORS - 33, crc);
	return d;
}

static void check_gpt_parts(const vimg_info *info)
{
	CHECK_STR(info->partition_table, "gpt");
	CHECK(info->npartitions >= 2);
	if (info->npartitions < 2)
		return;
	CHECK_STR(info->partitions[0].type,
		  "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
	CHECK_STR(info->partitions[0].fs, "vfat");
	CHECK_STR(vimg_os_name(info->partitions[0].os), "efi");
	CHECK(info->partitions[0].bootable);
	CHECK_INT(info->partitions[0].start, 34 * SEC);
	CHECK_INT(info->partitions[0].size, 64 * SEC);
	CHECK_STR(info->partitions[1].fs, "xfs");
	CHECK_INT(info->partitions[1].os, VIMG_OS_LINUX);
	CHECK_INT(info->partitions[1].index, 2);
}

static void test_gpt(void)
{
	unsigned char *d = gpt_disk(false);
	vimg_info info;
	inspect(d, GPT_SECTORS * SEC, &info);
	check_gpt_parts(&info);
	CHECK_INT(info.npartitions, 2);
	CHECK(!vimg_has_errors(&info));
	const vimg_finding *f = finding(&info, "uefi-only");
	CHECK(f != NULL);
	if (f) {
		CHECK_INT(f->severity, VIMG_WARNING);
		CHECK_CONTAINS(f->message, "--boot-mode uefi");
	}
	vimg_info_free(&info);
	free(d);

	/* With a BIOS boot partition the disk boots both ways. */
	d = gpt_disk(true);
	inspect(d, GPT_SECTORS * SEC, &info);
	CHECK_INT(info.npartitions, 3);
	CHECK(finding(&info, "uefi-only") == NULL);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	free(d);
}

/* --boot-mode against the partition table (issue 12, defect 2). */
static void test_boot_mode(void)
{
	vimg_info info;
	/* uefi on an MBR disk without an ESP: an error. */
	unsigned char *d = new_disk(64);
	mbr_entry(d, 0, 0x80, 0x83, 8, 56);
	fs_ext(d + 8 * SEC, 0x4, 0x40);
	inspect(d, 64 * SEC, &info);
	vimg_check_boot_mode(&info, NULL);
	CHECK(!vimg_has_errors(&info));
	vimg_check_boot_mode(&info, "legacy-bios");
	CHECK(!vimg_has_errors(&info));
	vimg_check_boot_mode(&info, "uefi");
	const vimg_finding *f = finding(&info, "uefi-without-esp");
	CHECK(f != NULL);
	if (f) {
		CHECK_INT(f->severity, VIMG_ERROR);
		CHECK_CONTAINS(f->message, "MBR disk has no EFI system partition");
	}
	vimg_info_free(&info);
	/* An MBR disk with an ESP (type 0xEF) boots with UEFI. */
	mbr_entry(d, 1, 0x00, 0xef, 1, 7);
	inspect(d, 64 * SEC, &info);
	vimg_check_boot_mode(&info, "uefi");
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);
	free(d);

	/* A GPT disk with only an ESP: uefi is right (and the general
	 * uefi-only advice goes), legacy-bios gets a sharper warning. */
	d = gpt_disk(false);
	inspect(d, GPT_SECTORS * SEC, &info);
	vimg_check_boot_mode(&info, "uefi");
	CHECK(!vimg_has_errors(&info));
	CHECK(finding(&info, "uefi-only") == NULL);
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	inspect(d, GPT_SECTORS * SEC, &info);
	vimg_check_boot_mode(&info, "legacy-bios");
	CHECK(!vimg_has_errors(&info));
	CHECK(finding(&info, "uefi-only") == NULL);
	f = finding(&info, "legacy-bios-uefi-disk");
	CHECK(f != NULL);
	if (f)
		CHECK_INT(f->severity, VIMG_WARNING);
	vimg_info_free(&info);
	free(d);

	/* With a BIOS boot partition too, both modes are fine. */
	d = gpt_disk(true);
	inspect(d, GPT_SECTORS * SEC, &info);
	vimg_check_boot_mode(&info, "legacy-bios");
	vimg_check_boot_mode(&info, "uefi");
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);
	free(d);

	/* Partitions not read: nothing to say. */
	memset(&info, 0, sizeof(info));
	vimg_check_boot_mode(&info, "uefi");
	CHECK_INT(info.nfindings, 0);
}

static void test_gpt_bad_primary(void)
{
	unsigned char *d = gpt_disk(false);
	d[SEC + 16] ^= 0xff; /* primary header CRC */
	vimg_info info;
	inspect(d, GPT_SECTORS * SEC, &info);
	check_gpt_parts(&info);
	const vimg_finding *f = finding(&info, "gpt-crc-mismatch");
	CHECK(f != NULL);
	if (f)
		CHECK_INT(f->severity, VIMG_WARNING);
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);

	/* A damaged entry array is a checksum mismatch too. */
	d[SEC + 16] ^= 0xff;
	d[2 * SEC + 200] ^= 1;
	inspect(d, GPT_SECTORS * SEC, &info);
	check_gpt_parts(&info);
	CHECK(finding(&info, "gpt-crc-mismatch") != NULL);
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);

	/* Both copies bad: an error, and no partitions to trust. */
	d[(GPT_SECTORS - 1) * SEC + 16] ^= 0xff;
	inspect(d, GPT_SECTORS * SEC, &info);
	f = finding(&info, "gpt-crc-mismatch");
	CHECK(f != NULL);
	if (f) {
		CHECK_INT(f->severity, VIMG_ERROR);
		CHECK_CONTAINS(f->aws, "Unknown OS");
	}
	CHECK_INT(info.npartitions, 0);
	CHECK(vimg_has_errors(&info));
	vimg_info_free(&info);
	free(d);
}

/* Absurd entry counts and sizes are refused, not allocated. */
static void test_gpt_bounds(void)
{
	unsigned char *d = gpt_disk(false);
	unsigned char *h = d + SEC;
	put_le32(h + 80, 0xffffffff);
	put_le32(h + 16, 0);
	put_le32(h + 16, (uint32_t)crc32(0, h, 92));
	vimg_info info;
	inspect(d, GPT_SECTORS * SEC, &info);
	CHECK(finding(&info, "gpt-header-invalid") != NULL);
	check_gpt_parts(&info); /* from the backup */
	vimg_info_free(&info);
	free(d);
}

/* A GPT without its backup in the last sector: a warning that names the
 * cause and the fix; the primary's partitions still count. */
static void test_gpt_backup(void)
{
	unsigned char *d = gpt_disk(false);
	unsigned char *h = d + (GPT_SECTORS - 1) * SEC;
	vimg_info info;

	/* corrupt where it should be */
	h[16] ^= 0xff;
	inspect(d, GPT_SECTORS * SEC, &info);
	check_gpt_parts(&info);
	const vimg_finding *f = finding(&info, "gpt-backup-missing");
	CHECK(f != NULL);
	if (f) {
		CHECK_INT(f->severity, VIMG_WARNING);
		CHECK_CONTAINS(f->message, "missing or corrupt");
		CHECK_CONTAINS(f->message, "sgdisk -e");
	}
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);
	h[16] ^= 0xff;

	/* truncated: the header's alternate LBA is past the end */
	inspect(d, (GPT_SECTORS - 20) * SEC, &info);
	check_gpt_parts(&info);
	f = finding(&info, "gpt-backup-missing");
	CHECK(f != NULL);
	if (f)
		CHECK_CONTAINS(f->message, "truncated");
	CHECK(!vimg_has_errors(&info));
	vimg_info_free(&info);

	/* grown: the backup is intact, but short of the new end */
	unsigned char *big = new_disk(GPT_SECTORS + 64);
	memcpy(big, d, GPT_SECTORS * SEC);
	inspect(big, (GPT_SECTORS + 64) * SEC, &info);
	check_gpt_parts(&info);
	f = finding(&info, "gpt-backup-missing");
	CHECK(f != NULL);
	if (f) {
		CHECK_CONTAINS(f->message, "grown");
		CHECK_CONTAINS(f->message, "gdisk: x, e, w");
	}
	CHECK_INT(info.nfindings, 2); /* and uefi-only */
	vimg_info_free(&info);
	free(big);

	/* a sound pair gets no such warning */
	inspect(d, GPT_SECTORS * SEC, &info);
	CHECK(finding(&info, "gpt-backup-missing") == NULL);
	vimg_info_free(&info);
	free(d);
}

static void test_no_table(void)
{
	unsigned char *d = new_disk(16);
	vimg_info info;
	inspect(d, 16 * SEC, &info);
	const vimg_finding *f = finding(&info, "raw-no-partition-table");
	CHECK(f != NULL);
	if (f) {
		CHECK_INT(f->severity, VIMG_ERROR);
		CHECK_STR(f->aws, "ImportImage fails with ClientError: "
				  "Unknown OS / Missing OS files.");
	}
	CHECK_STR(info.partition_table, "");
	vimg_info_free(&info);

	/* A bare filesystem (an image of a partition) is named. */
	fs_ext(d, 0, 0x40);
	inspect(d, 16 * SEC, &info);
	f = finding(&info, "raw-no-partition-table");
	CHECK(f != NULL);
	if (f)
		CHECK_CONTAINS(f->message, "ext4");
	vimg_info_free(&info);

	/* An MBR whose only partition holds nothing AWS recognises. */
	mbr_entry(d, 0, 0, 0x83, 4, 12);
	memset(d + 1024, 0, SEC * 2);
	inspect(d, 16 * SEC, &info);
	f = finding(&info, "no-os-partition");
	CHECK(f != NULL);
	if (f)
		CHECK_CONTAINS(f->aws, "Unknown OS / Missing OS files.");
	vimg_info_free(&info);
	free(d);
}

static void test_beyond_end(void)
{
	unsigned char *d = new_disk(32);
	mbr_entry(d, 0, 0x80, 0x83, 8, 1000);
	fs_ext(d + 8 * SEC, 0, 0x40);
	vimg_info info;
	inspect(d, 32 * SEC, &info);
	const vimg_finding *f = finding(&info, "partition-beyond-end");
	CHECK(f != NULL);
	if (f)
		CHECK_INT(f->severity, VIMG_ERROR);
	CHECK(vimg_has_errors(&info));
	vimg_info_free(&info);
	free(d);
}

static void test_size_checks(void)
{
	unsigned char *d = new_disk(2);
	vimg_info info;
	inspect(d, 0, &info);
	CHECK(finding(&info, "empty-image") != NULL);
	vimg_info_free(&info);
	inspect(d, 700, &info);
	CHECK(finding(&info, "raw-size-not-sector-multiple") != NULL);
	CHECK_INT(info.virtual_size, 700);
	vimg_info_free(&info);
	free(d);
}

/* Logical partitions: two in a proper chain, then a chain that loops. */
static void test_logicals(void)
{
	unsigned char *d = new_disk(64);
	mbr_entry(d, 0, 0, 0x05, 10, 54);
	/* EBR at 10: logical 11..20 (rel 1), next EBR at ext+20 = 30. */
	mbr_entry(d + 10 * SEC, 0, 0, 0x83, 1, 10);
	mbr_entry(d + 10 * SEC, 1, 0, 0x05, 20, 20);
	fs_ext(d + 11 * SEC, 0, 0x40);
	/* EBR at 30: logical 31..40, end of chain. */
	mbr_entry(d + 30 * SEC, 0, 0, 0x07, 1, 10);
	memcpy(d + 31 * SEC + 3, "NTFS    ", 8);
	vimg_info info;
	inspect(d, 64 * SEC, &info);
	CHECK_INT(info.npartitions, 2);
	if (info.npartitions == 2) {
		CHECK_INT(info.partitions[0].index, 5);
		CHECK_INT(info.partitions[0].start, 11 * SEC);
		CHECK_STR(info.partitions[0].fs, "ext4");
		CHECK_INT(info.partitions[1].index, 6);
		CHECK_INT(info.partitions[1].start, 31 * SEC);
		CHECK_STR(info.partitions[1].fs, "ntfs");
	}
	CHECK_INT(info.nfindings, 0);
	vimg_info_free(&info);

	/* Second EBR points back to the first: must stop, and say so. */
	mbr_entry(d + 30 * SEC, 1, 0, 0x05, 0, 20);
	inspect(d, 64 * SEC, &info);
	CHECK_INT(info.npartitions, 2);
	CHECK(finding(&info, "mbr-ebr-loop") != NULL);
	vimg_info_free(&info);

	/* An EBR pointing at itself. */
	mbr_entry(d + 10 * SEC, 1, 0, 0x05, 0, 20);
	inspect(d, 64 * SEC, &info);
	CHECK_INT(info.npartitions, 1);
	CHECK(finding(&info, "mbr-ebr-loop") != NULL);
	vimg_info_free(&info);
	free(d);
}

/* A 200-long chain of logical partitions stops at 128. */
static void test_partition_cap(void)
{
	size_t sectors = 2 + 2 * 200;
	unsigned char *d = new_disk(sectors);
	mbr_entry(d, 0, 0, 0x0f, 2, (uint32_t)(sectors - 2));
	for (uint32_t i = 0; i < 200; i++) {
		unsigned char *ebr = d + (2 + 2 * i) * SEC;
		mbr_entry(ebr, 0, 0, 0x83, 1, 1);
		if (i + 1 < 200)
			mbr_entry(ebr, 1, 0, 0x05, 2 * (i + 1), 2);
	}
	vimg_info info;
	inspect(d, sectors * SEC, &info);
	CHECK_INT(info.npartitions, 128);
	vimg_info_free(&info);
	free(d);
}

/* ---- detection ---- */

static vimg_format detect(const void *data, size_t len)
{
	vimg_reader r;
	vimg_reader_mem(&r, data, len);
	return vimg_detect(&r);
}

static vimg_format detect_at(size_t len, size_t off, const char *magic)
{
	unsigned char *d = calloc(1, len);
	memcpy(d + off, magic, strlen(magic));
	vimg_format f = detect(d, len);
	free(d);
	return f;
}

static void test_detect(void)
{
	CHECK_INT(detect_at(1024, 0, "QFI\xfb"), VIMG_QCOW2);
	unsigned char vdi[512] = "<<< Oracle VM VirtualBox Disk Image >>>\n";
	memcpy(vdi + 64, "\x7f\x10\xda\xbe", 4);
	CHECK_INT(detect(vdi, sizeof(vdi)), VIMG_VDI);
	vdi[64] = 0;
	CHECK_INT(detect(vdi, sizeof(vdi)), VIMG_RAW);
	CHECK_INT(detect_at(1024, 0, "KDMV"), VIMG_VMDK);
	CHECK_INT(detect_at(100, 0, "# Disk DescriptorFile\nversion=1\n"),
		  VIMG_VMDK);
	CHECK_INT(detect_at(4096, 0, "vhdxfile"), VIMG_VHDX);
	CHECK_INT(detect_at(4096, 0, "conectix"), VIMG_VHD);
	CHECK_INT(detect_at(4096, 4096 - 512, "conectix"), VIMG_VHD);
	CHECK_INT(detect_at(4095, 4095 - 511, "conectix"), VIMG_VHD);
	CHECK_INT(detect_at(512, 0, "conectix") , VIMG_VHD);
	CHECK_INT(detect_at(40000, 32769, "CD001"), VIMG_ISO);
	CHECK_INT(detect_at(32772, 32769, "CD0"), VIMG_RAW); /* truncated */

	unsigned char tar[1024] = "disk.ovf";
	memcpy(tar + 257, "ustar", 5);
	CHECK_INT(detect(tar, sizeof(tar)), VIMG_OVA);
	memcpy(tar, "disk.vmdk", 9);
	CHECK_INT(detect(tar, sizeof(tar)), VIMG_TAR);

	CHECK_INT(detect_at(4096, 100, "random"), VIMG_RAW);
	CHECK_INT(detect(NULL, 0), VIMG_RAW);
	CHECK_INT(detect("Q", 1), VIMG_RAW);

	CHECK_STR(vimg_format_name(VIMG_RAW), "RAW");
	CHECK_STR(vimg_format_name(VIMG_OVA), "OVA");
	CHECK_STR(vimg_format_name(VIMG_QCOW2), "QCOW2");
	CHECK_STR(vimg_os_name(VIMG_OS_NONE), "none");
	CHECK_STR(vimg_os_name(VIMG_OS_WINDOWS), "windows");
}

static void test_reader_mem(void)
{
	const char data[] = "0123456789";
	vimg_reader r;
	char buf[8];
	vimg_reader_mem(&r, data, 10);
	CHECK_INT(r.size, 10);
	CHECK_INT(vimg_read(&r, 8, buf, sizeof(buf)), 2);
	CHECK(memcmp(buf, "89", 2) == 0);
	CHECK_INT(vimg_read(&r, 10, buf, sizeof(buf)), 0);
	CHECK_INT(vimg_read(&r, UINT64_MAX, buf, sizeof(buf)), 0);
}

int main(void)
{
	test_reader_mem();
	test_mbr_ext4();
	test_mbr_ntfs();
	test_fs_kinds();
	test_gpt();
	test_boot_mode();
	test_gpt_bad_primary();
	test_gpt_bounds();
	test_gpt_backup();
	test_no_table();
	test_beyond_end();
	test_size_checks();
	test_logicals();
	test_partition_cap();
	test_detect();
	return check_done("image_raw");
}
