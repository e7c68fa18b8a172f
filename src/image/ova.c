/* OVA: stub until the parser lands. */
#include "image/image.h"

int vimg_ova_inspect(const vimg_reader *r, vimg_info *info)
{
	info->format = VIMG_OVA;
	info->file_size = r->size;
	return 0;
}
