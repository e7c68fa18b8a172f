/*
 * RAW: the file is the disk.  All there is to check is its size and what
 * the partition table says.
 */
#include "image/image.h"

#include <stdio.h>

int vimg_raw_inspect(const vimg_reader *r, vimg_info *info)
{
	info->format = VIMG_RAW;
	info->file_size = r->size;
	info->virtual_size = r->size;
	if (r->size == 0) {
		vimg_add_finding(info, VIMG_ERROR, "empty-image",
				 "ImportImage fails with ClientError: Disk "
				 "validation failed.",
				 "the image is empty");
		return 0;
	}
	/* EC2 volumes are whole sectors; AWS rejects a RAW image that is
	 * not, which usually means a truncated copy. */
	if (r->size % 512)
		vimg_add_finding(info, VIMG_ERROR, "raw-size-not-sector-multiple",
				 "ImportImage fails with ClientError: Disk "
				 "validation failed.",
				 "the image is %llu bytes, not a whole number "
				 "of 512-byte sectors (a truncated copy?)",
				 (unsigned long long)r->size);
	return vimg_inspect_partitions(r, info);
}
