/*
 * The guest's view of an image: the bytes the virtual machine would see on
 * its disk, which is what the partition table and the filesystems live in.
 */
#include "image/image.h"

int vimg_guest_open(const vimg_reader *file, vimg_format f,
		    const vimg_opener *op, vimg_reader *out)
{
	switch (f) {
	case VIMG_RAW:
		return vimg_reader_window(out, file, 0, file->size);
	case VIMG_VHD:
		return vimg_vhd_guest_open(file, out);
	case VIMG_VHDX:
		return vimg_vhdx_guest_open(file, out);
	case VIMG_VMDK:
		return vimg_vmdk_guest_open(file, op, out);
	default:
		return -1;
	}
}
