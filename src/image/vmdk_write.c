/*
 * The layout of a streamOptimized VMDK (vmdk_write.h).  The header's
 * values are VMware's own for this subformat: version 3, flags
 * "newline check, compressed grains, markers", a 20-sector descriptor at
 * sector 1, grains from sector 128, the grain directory at the end (the
 * footer, a copy of the header, says where).
 */
#include "image/vmdk_write.h"

#include <stdio.h>
#include <string.h>

#include "base/endian.h"

#define GRAIN_SECTORS (VMDK_W_GRAIN / VMDK_SECTOR)
#define DESC_SECTORS 20u
#define OVERHEAD_SECTORS 128u
#define MAX_NAME 255u
/* VMware's geometry for a SCSI (lsilogic) disk. */
#define HEADS 255u
#define SPT 63u

uint64_t vmdk_w_sectors(uint64_t bytes)
{
	return bytes / VMDK_SECTOR + (bytes % VMDK_SECTOR != 0);
}

uint64_t vmdk_w_gd_entries(uint64_t bytes)
{
	return bytes / VMDK_W_GT_SPAN + (bytes % VMDK_W_GT_SPAN != 0);
}

static void header(unsigned char *h, uint64_t bytes, uint64_t gd_sector)
{
	memset(h, 0, VMDK_SECTOR);
	memcpy(h, "KDMV", 4);
	put_le32(h + 4, 3);
	put_le32(h + 8, VMDK_FLAG_NL_DETECT | VMDK_FLAG_COMPRESSED |
				VMDK_FLAG_MARKERS);
	put_le64(h + 12, vmdk_w_sectors(bytes));
	put_le64(h + 20, GRAIN_SECTORS);
	put_le64(h + 28, 1);
	put_le64(h + 36, DESC_SECTORS);
	put_le32(h + 44, VMDK_W_GTES);
	put_le64(h + 48, 0); /* no redundant directory in a stream */
	put_le64(h + 56, gd_sector);
	put_le64(h + 64, OVERHEAD_SECTORS);
	h[72] = 0; /* cleanly closed */
	memcpy(h + 73, "\n \r\n", 4);
	put_le16(h + 77, VMDK_COMPRESS_DEFLATE);
}

/* The descriptor text, as VMware and qemu-img write it for one
 * streamOptimized extent.  CID is fixed: the output must not depend on
 * anything but the input. */
static void descriptor(unsigned char *out, uint64_t bytes, const char *name)
{
	char safe[MAX_NAME + 1];
	size_t n = 0;
	for (const char *p = name && *name ? name : "disk.vmdk";
	     *p && n < MAX_NAME; p++) {
		unsigned char c = (unsigned char)*p;
		safe[n++] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ||
			     c == '/') ? '_' : (char)c;
	}
	safe[n] = '\0';
	uint64_t sectors = vmdk_w_sectors(bytes);
	uint64_t cyl = sectors / (HEADS * SPT);
	if (cyl > 65535)
		cyl = 65535;
	memset(out, 0, DESC_SECTORS * VMDK_SECTOR);
	snprintf((char *)out, DESC_SECTORS * VMDK_SECTOR,
		 "# Disk DescriptorFile\n"
		 "version=1\n"
		 "encoding=\"UTF-8\"\n"
		 "CID=fffffffe\n"
		 "parentCID=ffffffff\n"
		 "createType=\"streamOptimized\"\n"
		 "\n"
		 "# Extent description\n"
		 "RW %llu SPARSE \"%s\"\n"
		 "\n"
		 "# The Disk Data Base\n"
		 "#DDB\n"
		 "\n"
		 "ddb.adapterType = \"lsilogic\"\n"
		 "ddb.geometry.cylinders = \"%llu\"\n"
		 "ddb.geometry.heads = \"%u\"\n"
		 "ddb.geometry.sectors = \"%u\"\n"
		 "ddb.virtualHWVersion = \"4\"\n",
		 (unsigned long long)sectors, safe, (unsigned long long)cyl,
		 HEADS, SPT);
}

size_t vmdk_w_head(unsigned char *out, uint64_t bytes, const char *name)
{
	memset(out, 0, VMDK_W_HEAD_MAX);
	header(out, bytes, VMDK_GD_AT_END);
	descriptor(out + VMDK_SECTOR, bytes, name);
	return OVERHEAD_SECTORS * VMDK_SECTOR;
}

size_t vmdk_w_grain_record(unsigned char *rec, uint64_t lba, size_t n)
{
	size_t len = VMDK_GRAIN_MARKER + n;
	size_t padded = (len + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
	put_le64(rec, lba);
	put_le32(rec + 8, (uint32_t)n);
	memset(rec + len, 0, padded - len);
	return padded;
}

void vmdk_w_marker(unsigned char *out, uint64_t sectors, uint32_t type)
{
	memset(out, 0, VMDK_SECTOR);
	put_le64(out, sectors);
	put_le32(out + 8, 0);
	put_le32(out + 12, type);
}

void vmdk_w_gt(unsigned char *out, const uint32_t *entries)
{
	vmdk_w_marker(out, VMDK_W_GT_BYTES / VMDK_SECTOR, VMDK_MARKER_GT);
	for (uint32_t i = 0; i < VMDK_W_GTES; i++)
		put_le32(out + VMDK_SECTOR + 4 * i, entries[i]);
}

static uint64_t gd_sectors(uint64_t n)
{
	return (n * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
}

size_t vmdk_w_tail_size(uint64_t n)
{
	return (size_t)((1 + gd_sectors(n) + 3) * VMDK_SECTOR);
}

void vmdk_w_tail(unsigned char *out, uint64_t bytes, const uint32_t *gd,
		 uint64_t n, uint64_t gd_sector)
{
	uint64_t gs = gd_sectors(n);
	unsigned char *p = out;

	vmdk_w_marker(p, gs, VMDK_MARKER_GD);
	p += VMDK_SECTOR;
	memset(p, 0, gs * VMDK_SECTOR);
	for (uint64_t i = 0; i < n; i++)
		put_le32(p + 4 * i, gd[i]);
	p += gs * VMDK_SECTOR;
	vmdk_w_marker(p, 1, VMDK_MARKER_FOOTER);
	p += VMDK_SECTOR;
	header(p, bytes, gd_sector + 1);
	p += VMDK_SECTOR;
	vmdk_w_marker(p, 0, VMDK_MARKER_EOS);
}
