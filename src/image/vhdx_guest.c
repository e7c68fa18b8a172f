/* VHDX guest view: stub. */
#include "image/image.h"

int vimg_vhdx_guest_open(const vimg_reader *file, vimg_reader *out)
{
	return -1;
}
