/*
 * How big an image can honestly be (image.h): AWS's limit, and what the
 * image's own headers declare.  A compressed image is decoded to learn its
 * size, and a decompression bomb (a small .gz of 100 GiB of zeros) would
 * be decoded all the way; a VMDK whose header says 8 GiB of capacity
 * cannot hold 100 GiB of grains, so the decoding stops there instead.
 */
#include "image/image.h"
#include "base/endian.h"

#include <stdlib.h>
#include <string.h>

#include "image/vhdx.h"

#define MiB (1024ull * 1024)

uint64_t vimg_max_image_size(void)
{
	const char *v = getenv("VMIE_MAX_IMAGE_SIZE");
	char *end;
	if (!v || !*v)
		return VIMG_AWS_MAX_IMAGE_SIZE;
	unsigned long long n = strtoull(v, &end, 10);
	return *end == '\0' && n > 0 && n < VIMG_AWS_MAX_IMAGE_SIZE
		       ? (uint64_t)n
		       : VIMG_AWS_MAX_IMAGE_SIZE;
}

/* n + n / d + extra, saturating. */
static uint64_t grow(uint64_t n, uint64_t d, uint64_t extra)
{
	uint64_t more = n / d + extra;
	return n > UINT64_MAX - more ? UINT64_MAX : n + more;
}

/* A sparse VMDK ("KDMV"): the grains of its capacity, each with at most
 * 2 KiB besides (a stream-optimized grain's marker and sector padding,
 * deflate's worst case, its grain table entries), plus the directories. */
static uint64_t vmdk_bound(const unsigned char *h)
{
	uint64_t sectors = le64(h + 12), grain = le64(h + 20);
	if (!sectors || sectors > UINT64_MAX / 4096)
		return 0;
	if (!grain || grain > sectors)
		grain = 1; /* the worst case: a grain per sector */
	uint64_t grains = (sectors + grain - 1) / grain;
	return sectors * 512 + grains * 2048 + 64 * MiB;
}

/* A dynamic or differencing VHD (its footer copy at 0): blocks of at
 * least 512 bytes, each with a sector bitmap of at least 512 bytes, so at
 * most twice the size, plus the table and the footers. */
static uint64_t vhd_bound(const unsigned char *h)
{
	uint64_t size = be64(h + 48);
	if (!size || size > UINT64_MAX / 4)
		return 0;
	return grow(size, 1, 64 * MiB);
}

/* A VHDX: payload blocks of the virtual size (a sector bitmap block per
 * chunk in a differencing disk: an eighth more at most), plus every
 * region the region table names. */
static uint64_t vhdx_bound(const vimg_reader *r)
{
	vimg_info scratch = {0};
	vhdx_layout l;
	uint64_t bound = 0;
	vhdx_read_layout(r, &scratch, &l);
	if (l.have_size && l.disk_size && l.disk_size < UINT64_MAX / 4) {
		uint64_t regions = l.meta_off + l.meta_len;
		if (l.bat_off + l.bat_len > regions)
			regions = l.bat_off + l.bat_len;
		bound = grow(l.disk_size, 8, regions + 256 * MiB);
	}
	vimg_info_free(&scratch);
	return bound;
}

uint64_t vimg_declared_size_bound(const vimg_reader *r, const char **what)
{
	unsigned char h[512];
	uint64_t bound = 0;
	*what = NULL;
	if (!vimg_read_exact(r, 0, h, sizeof(h)))
		return 0;
	if (memcmp(h, "KDMV", 4) == 0) {
		bound = vmdk_bound(h);
		*what = "the capacity its VMDK header declares";
	} else if (memcmp(h, "# Disk DescriptorFile", 21) == 0) {
		/* A descriptor names its extents; it is text, and small. */
		bound = MiB;
		*what = "a VMDK descriptor's size";
	} else if (memcmp(h, "conectix", 8) == 0) {
		bound = vhd_bound(h);
		*what = "the size its VHD header declares";
	} else if (memcmp(h, "vhdxfile", 8) == 0) {
		bound = vhdx_bound(r);
		*what = "the virtual size its VHDX metadata declares";
	}
	if (!bound)
		*what = NULL;
	return bound;
}
