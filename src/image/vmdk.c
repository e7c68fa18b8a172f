/* VMDK: stub until the parser lands. */
#include "image/image.h"

int vimg_vmdk_inspect(const vimg_reader *r, const vimg_opener *op, vimg_info *info)
{
	info->format = VIMG_VMDK;
	info->file_size = r->size;
	return 0;
}

int vimg_vmdk_guest_open(const vimg_reader *file, const vimg_opener *op, vimg_reader *out)
{
	return -1;
}
