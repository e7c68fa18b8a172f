/*
 * MBR and GPT partition tables, and the OS family of each partition.
 *
 * AWS refuses an image whose OS it cannot find ("Unknown OS / Missing OS
 * files"): these are the facts behind that verdict.  Sectors are 512
 * bytes: AWS does not import 4K-native disks.
 */
#include "image/image.h"
#include "base/endian.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/xalloc.h"
#include "image/fs_probe.h"

#define SECTOR 512ull
#define MAX_PARTS 128
#define MBR_ENTRIES 446
#define GPT_MAX_ARRAY (1u << 20) /* entry array bytes we agree to read */

static const char aws_no_os[] =
	"ImportImage fails with ClientError: Unknown OS / Missing OS files.";
static const char aws_truncated[] =
	"ImportImage fails with ClientError: Disk validation failed, or the "
	"instance does not boot: the image is truncated.";

static const char esp_guid[] = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
static const char bios_boot_guid[] = "21686148-6449-6E6F-744E-656564454649";

/* Record a partition and what lives in it; false once the cap is hit. */
static bool add_partition(const vimg_reader *disk, vimg_info *info,
			  const vimg_partition *tmpl)
{
	if (info->npartitions >= MAX_PARTS)
		return false;
	info->partitions = xrealloc(info->partitions,
				    (info->npartitions + 1) *
					    sizeof(*info->partitions));
	vimg_partition *p = &info->partitions[info->npartitions++];
	*p = *tmpl;
	if (p->start > disk->size || disk->size - p->start < p->size) {
		vimg_add_finding(info, VIMG_ERROR, "partition-beyond-end",
				 aws_truncated,
				 "partition %d ends at byte %llu, past the end "
				 "of the %llu-byte disk",
				 p->index,
				 (unsigned long long)(p->start + p->size),
				 (unsigned long long)disk->size);
		return true;
	}
	vimg_fs_probe(disk, p);
	return true;
}

/* ---- MBR ---- */

static bool mbr_is_extended(unsigned type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

static void mbr_fill(vimg_partition *p, int index, const unsigned char *e,
		     uint64_t base_lba)
{
	memset(p, 0, sizeof(*p));
	p->index = index;
	p->start = (base_lba + le32(e + 8)) * SECTOR;
	p->size = (uint64_t)le32(e + 12) * SECTOR;
	snprintf(p->type, sizeof(p->type), "0x%02x", e[4]);
	p->bootable = e[0] == 0x80;
	if (e[4] == 0xef)
		p->os = VIMG_OS_EFI;
}

/* Logical partitions: a chain of EBRs, each naming one partition (relative
 * to itself) and the next EBR (relative to the extended partition).  A
 * crafted chain can loop, so every EBR is visited at most once. */
static void mbr_logicals(const vimg_reader *disk, vimg_info *info,
			 uint64_t ext_lba)
{
	uint64_t seen[MAX_PARTS];
	size_t nseen = 0;
	uint64_t ebr = ext_lba;
	int index = 5;

	for (;;) {
		for (size_t i = 0; i < nseen; i++) {
			if (seen[i] == ebr) {
				vimg_add_finding(info, VIMG_WARNING,
						 "mbr-ebr-loop", NULL,
						 "the chain of logical "
						 "partitions loops back on "
						 "itself at sector %llu",
						 (unsigned long long)ebr);
				return;
			}
		}
		if (nseen == MAX_PARTS)
			return;
		seen[nseen++] = ebr;

		unsigned char s[SECTOR];
		if (!vimg_read_exact(disk, ebr * SECTOR, s, sizeof(s)) ||
		    le16(s + 510) != 0xaa55)
			return;
		const unsigned char *e = s + MBR_ENTRIES;
		if (e[4] && le32(e + 12)) {
			vimg_partition p;
			mbr_fill(&p, index++, e, ebr);
			if (!add_partition(disk, info, &p))
				return;
		}
		const unsigned char *next = e + 16;
		/* Offset 0 is the first EBR again: the loop check catches it. */
		if (!mbr_is_extended(next[4]))
			return;
		ebr = ext_lba + le32(next + 8);
	}
}

static void mbr_parse(const vimg_reader *disk, vimg_info *info,
		      const unsigned char *s)
{
	snprintf(info->partition_table, sizeof(info->partition_table), "mbr");
	for (int i = 0; i < 4; i++) {
		const unsigned char *e = s + MBR_ENTRIES + 16 * i;
		if (!e[4])
			continue;
		if (mbr_is_extended(e[4])) {
			mbr_logicals(disk, info, le32(e + 8));
			continue;
		}
		vimg_partition p;
		mbr_fill(&p, i + 1, e, 0);
		add_partition(disk, info, &p);
	}
}

/* A 0x55AA sector is also a FAT or NTFS boot sector on a disk without a
 * partition table; a real MBR has only 0x00/0x80 status bytes. */
static bool mbr_valid(const unsigned char *s)
{
	if (le16(s + 510) != 0xaa55 || memcmp(s + 3, "NTFS    ", 8) == 0)
		return false;
	for (int i = 0; i < 4; i++) {
		unsigned status = s[MBR_ENTRIES + 16 * i];
		if (status != 0x00 && status != 0x80)
			return false;
	}
	return true;
}

static bool mbr_protective(const unsigned char *s)
{
	for (int i = 0; i < 4; i++)
		if (s[MBR_ENTRIES + 16 * i + 4] == 0xee)
			return true;
	return false;
}

/* ---- GPT ---- */

typedef enum gpt_status {
	GPT_OK,
	GPT_MISSING,     /* no "EFI PART" */
	GPT_BAD_HEADER,  /* sizes or locations out of bounds */
	GPT_BAD_CRC,     /* header or entry array checksum */
} gpt_status;

typedef struct gpt {
	uint64_t alternate_lba; /* where the other header says it is */
	uint64_t entries_lba;
	uint32_t count;
	uint32_t entry_size;
	unsigned char *array; /* count * entry_size bytes */
} gpt;

static gpt_status gpt_check_header(const vimg_reader *disk,
				   unsigned char *h, gpt *g)
{
	if (memcmp(h, "EFI PART", 8) != 0)
		return GPT_MISSING;
	uint32_t hsize = le32(h + 12);
	if (hsize < 92 || hsize > SECTOR)
		return GPT_BAD_HEADER;
	uint32_t want = le32(h + 16);
	memset(h + 16, 0, 4); /* the CRC covers the header with itself zeroed */
	if (crc32(0, h, hsize) != want)
		return GPT_BAD_CRC;
	g->alternate_lba = le64(h + 32);
	g->entries_lba = le64(h + 72);
	g->count = le32(h + 80);
	g->entry_size = le32(h + 84);
	/* The spec's entry size is 128 * 2^n; anything else is damage. */
	if (g->entry_size < 128 || g->entry_size > 4096 ||
	    (g->entry_size & (g->entry_size - 1)))
		return GPT_BAD_HEADER;
	if (!g->count || (uint64_t)g->count * g->entry_size > GPT_MAX_ARRAY)
		return GPT_BAD_HEADER;
	if (g->entries_lba > disk->size / SECTOR)
		return GPT_BAD_HEADER;
	return GPT_OK;
}

/* Read and check the header at lba and its entry array; on GPT_OK g->array
 * is allocated. */
static gpt_status gpt_load(const vimg_reader *disk, uint64_t lba, gpt *g)
{
	unsigned char h[SECTOR];
	memset(g, 0, sizeof(*g));
	if (lba > disk->size / SECTOR ||
	    !vimg_read_exact(disk, lba * SECTOR, h, sizeof(h)))
		return GPT_MISSING;
	gpt_status st = gpt_check_header(disk, h, g);
	if (st != GPT_OK)
		return st;
	size_t len = (size_t)g->count * g->entry_size;
	g->array = xmalloc(len);
	if (!vimg_read_exact(disk, g->entries_lba * SECTOR, g->array, len)) {
		st = GPT_BAD_HEADER;
		goto out;
	}
	if (crc32(0, g->array, (uInt)len) != le32(h + 88))
		st = GPT_BAD_CRC;
out:
	if (st != GPT_OK) {
		free(g->array);
		g->array = NULL;
	}
	return st;
}

/* GUIDs are stored with the first three fields little-endian. */
static void guid_format(const unsigned char *g, char *out, size_t n)
{
	snprintf(out, n,
		 "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 (unsigned)le32(g), le16(g + 4), le16(g + 6), g[8], g[9],
		 g[10], g[11], g[12], g[13], g[14], g[15]);
}

static void gpt_entry(const vimg_reader *disk, vimg_info *info,
		      const unsigned char *e, int index)
{
	static const unsigned char zero[16];
	if (memcmp(e, zero, 16) == 0)
		return;
	uint64_t first = le64(e + 32), last = le64(e + 40);
	vimg_partition p;
	memset(&p, 0, sizeof(p));
	p.index = index;
	/* A nonsense range still gets listed, as ending past the disk. */
	if (last < first || last >= UINT64_MAX / SECTOR)
		last = first;
	p.start = first < UINT64_MAX / SECTOR ? first * SECTOR : UINT64_MAX;
	p.size = (last - first + 1) * SECTOR;
	guid_format(e, p.type, sizeof(p.type));
	bool esp = strcmp(p.type, esp_guid) == 0;
	p.bootable = esp || (le64(e + 48) & 4); /* legacy BIOS bootable */
	if (esp)
		p.os = VIMG_OS_EFI;
	add_partition(disk, info, &p);
}

static void gpt_report(vimg_info *info, gpt_status primary, bool backup_ok)
{
	const char *code = primary == GPT_BAD_CRC ? "gpt-crc-mismatch"
						  : "gpt-header-invalid";
	const char *what = primary == GPT_BAD_CRC
				   ? "its checksum (CRC32) does not match"
			   : primary == GPT_MISSING ? "it is missing"
						    : "its fields are out of bounds";
	if (backup_ok)
		vimg_add_finding(info, VIMG_WARNING, code, NULL,
				 "the primary GPT header is unusable (%s); "
				 "the backup header at the end of the disk "
				 "is good and was used",
				 what);
	else
		vimg_add_finding(info, VIMG_ERROR, code, aws_no_os,
				 "the GPT is unusable (%s) and so is its "
				 "backup at the end of the disk",
				 what);
}

static bool gpt_header_at(const vimg_reader *disk, uint64_t lba)
{
	gpt g;
	bool ok = gpt_load(disk, lba, &g) == GPT_OK;
	free(g.array);
	return ok;
}

/* The backup header belongs in the disk's last sector.  Firmware and the
 * kernel fall back on it when the primary is damaged, and partitioning
 * tools complain (or refuse) when it is elsewhere. */
static void gpt_check_backup(const vimg_reader *disk, vimg_info *info,
			     const gpt *primary)
{
	uint64_t last = disk->size / SECTOR - 1; /* the disk has >= 2 */
	uint64_t alt = primary->alternate_lba;
	static const char fix[] =
		"sgdisk -e on the disk (or gdisk: x, e, w) rewrites the "
		"backup at the end";

	if (gpt_header_at(disk, last))
		return;
	if (alt > last)
		vimg_add_finding(info, VIMG_WARNING, "gpt-backup-missing", NULL,
				 "the GPT says its backup header is at sector "
				 "%llu, past the end of this %llu-sector disk: "
				 "the image looks truncated (copy it again "
				 "whole); if the disk was shrunk on purpose, %s",
				 (unsigned long long)alt,
				 (unsigned long long)(last + 1), fix);
	else if (alt < last && alt > 1 && gpt_header_at(disk, alt))
		vimg_add_finding(info, VIMG_WARNING, "gpt-backup-missing", NULL,
				 "the backup GPT header is at sector %llu, not "
				 "in the disk's last sector (%llu): the disk was "
				 "grown without moving it; %s",
				 (unsigned long long)alt,
				 (unsigned long long)last, fix);
	else
		vimg_add_finding(info, VIMG_WARNING, "gpt-backup-missing", NULL,
				 "the backup GPT header in the disk's last "
				 "sector (%llu) is missing or corrupt, so "
				 "nothing can recover the partition table if "
				 "the primary is damaged; %s",
				 (unsigned long long)last, fix);
}

static void gpt_parse(const vimg_reader *disk, vimg_info *info)
{
	gpt g;
	snprintf(info->partition_table, sizeof(info->partition_table), "gpt");
	gpt_status st = gpt_load(disk, 1, &g);
	if (st == GPT_OK) {
		gpt_check_backup(disk, info, &g);
	} else {
		uint64_t last = disk->size / SECTOR;
		bool ok = last >= 2 && gpt_load(disk, last - 1, &g) == GPT_OK;
		gpt_report(info, st, ok);
		if (!ok)
			return;
	}
	uint32_t n = g.count < MAX_PARTS ? g.count : MAX_PARTS;
	for (uint32_t i = 0; i < n; i++)
		gpt_entry(disk, info, g.array + (size_t)i * g.entry_size,
			  (int)i + 1);
	free(g.array);
}

/* ---- verdicts ---- */

static void check_os(vimg_info *info)
{
	bool os = false, esp = false, bios_boot = false;
	for (size_t i = 0; i < info->npartitions; i++) {
		const vimg_partition *p = &info->partitions[i];
		os |= p->os == VIMG_OS_LINUX || p->os == VIMG_OS_WINDOWS;
		esp |= p->os == VIMG_OS_EFI;
		bios_boot |= strcmp(p->type, bios_boot_guid) == 0;
	}
	if (!os)
		vimg_add_finding(info, VIMG_ERROR, "no-os-partition", aws_no_os,
				 "no partition holds a Linux (ext, xfs, btrfs, "
				 "LVM) or Windows (NTFS) filesystem");
	if (esp && !bios_boot && strcmp(info->partition_table, "gpt") == 0)
		vimg_add_finding(info, VIMG_WARNING, "uefi-only",
				 "ImportImage with the default boot mode "
				 "(legacy-bios) gives an instance that does "
				 "not boot.",
				 "the disk has an EFI system partition and no "
				 "BIOS boot partition: it boots only with UEFI; "
				 "import it with --boot-mode uefi");
}

static void no_table(const vimg_reader *disk, vimg_info *info)
{
	/* Name a filesystem written straight onto the disk: a common
	 * mistake (an image of /dev/sda1 rather than /dev/sda). */
	vimg_partition whole = {.index = 0, .start = 0, .size = disk->size};
	vimg_fs_probe(disk, &whole);
	vimg_add_finding(info, VIMG_ERROR, "raw-no-partition-table", aws_no_os,
			 "the disk has no MBR or GPT partition table%s%s%s",
			 *whole.fs ? " (it holds a bare " : "", whole.fs,
			 *whole.fs ? " filesystem: an image of a partition, "
				     "not of a whole disk)"
				   : "");
}

int vimg_inspect_partitions(const vimg_reader *disk, vimg_info *info)
{
	unsigned char s[SECTOR];
	if (!vimg_read_exact(disk, 0, s, sizeof(s)) || !mbr_valid(s)) {
		no_table(disk, info);
		return 0;
	}
	if (mbr_protective(s))
		gpt_parse(disk, info);
	else
		mbr_parse(disk, info, s);
	check_os(info);
	return 0;
}
