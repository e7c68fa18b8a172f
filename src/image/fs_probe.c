/*
 * Filesystem signatures at the start of a partition.  Only what decides
 * the OS family AWS looks for: Linux (ext, xfs, btrfs, LVM), Windows
 * (NTFS), and FAT for EFI system partitions.
 */
#include "image/fs_probe.h"
#include "base/endian.h"

#include <stdio.h>
#include <string.h>

#define SECTOR 512
/* Enough for every magic but btrfs's: LVM's label may sit in any of the
 * first four sectors, the ext superblock ends at 2048. */
#define PROBE_LEN (4 * SECTOR)
#define EXT_MAGIC_OFF 1080
#define EXT_COMPAT_OFF (1024 + 0x5c)
#define EXT_INCOMPAT_OFF (1024 + 0x60)
#define BTRFS_MAGIC_OFF 0x10040

static const char *ext_kind(const unsigned char *b)
{
	/* INCOMPAT_EXTENTS 0x40 or INCOMPAT_64BIT 0x80: only ext4 sets them;
	 * COMPAT_HAS_JOURNAL 0x4 makes an ext2 an ext3. */
	if (le32(b + EXT_INCOMPAT_OFF) & 0xc0)
		return "ext4";
	if (le32(b + EXT_COMPAT_OFF) & 0x4)
		return "ext3";
	return "ext2";
}

static bool has_lvm_label(const unsigned char *b)
{
	for (int s = 0; s < 4; s++)
		if (memcmp(b + s * SECTOR, "LABELONE", 8) == 0)
			return true;
	return false;
}

static const char *probe_head(const unsigned char *b)
{
	if (b[EXT_MAGIC_OFF] == 0x53 && b[EXT_MAGIC_OFF + 1] == 0xef)
		return ext_kind(b);
	if (memcmp(b, "XFSB", 4) == 0)
		return "xfs";
	if (memcmp(b + 3, "NTFS    ", 8) == 0)
		return "ntfs";
	if (memcmp(b + 82, "FAT32   ", 8) == 0 || memcmp(b + 54, "FAT1", 4) == 0)
		return "vfat";
	if (has_lvm_label(b))
		return "lvm";
	return "";
}

static bool is_btrfs(const vimg_reader *disk, const vimg_partition *p)
{
	char magic[8];
	if (p->size < BTRFS_MAGIC_OFF + sizeof(magic) ||
	    p->start > UINT64_MAX - BTRFS_MAGIC_OFF)
		return false;
	long long n = vimg_read(disk, p->start + BTRFS_MAGIC_OFF,
				    magic, sizeof(magic));
	return n == (long long)sizeof(magic) &&
	       memcmp(magic, "_BHRfS_M", 8) == 0;
}

static vimg_os os_of(const char *fs)
{
	if (strcmp(fs, "ntfs") == 0)
		return VIMG_OS_WINDOWS;
	if (strncmp(fs, "ext", 3) == 0 || strcmp(fs, "xfs") == 0 ||
	    strcmp(fs, "btrfs") == 0 || strcmp(fs, "lvm") == 0)
		return VIMG_OS_LINUX;
	return VIMG_OS_NONE;
}

void vimg_fs_probe(const vimg_reader *disk, vimg_partition *p)
{
	unsigned char b[PROBE_LEN] = {0};
	size_t want = p->size < PROBE_LEN ? (size_t)p->size : PROBE_LEN;
	const char *fs = "";

	/* Bytes past the partition stay zero: they belong to something else. */
	if (want && vimg_read(disk, p->start, b, want) > 0)
		fs = probe_head(b);
	if (!*fs && is_btrfs(disk, p))
		fs = "btrfs";
	snprintf(p->fs, sizeof(p->fs), "%s", fs);
	/* The ESP's type decides before its FAT filesystem does. */
	if (p->os != VIMG_OS_EFI)
		p->os = os_of(fs);
}
