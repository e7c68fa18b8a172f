/*
 * Format detection by content.  The file name is never consulted: AWS does
 * not either, and a renamed image is common.  Whatever matches no magic is
 * RAW, because that is what AWS makes of unknown bytes.
 */
#include "image/image.h"

#include <string.h>

#define HEAD_LEN 512
#define VHD_FOOTER 512
#define ISO_MAGIC_OFF 32769
#define TAR_MAGIC_OFF 257

static bool has_at(const vimg_reader *r, uint64_t off, const char *magic)
{
	char buf[32];
	size_t n = strlen(magic);
	return vimg_read_exact(r, off, buf, n) && memcmp(buf, magic, n) == 0;
}

static bool is_vdi(const unsigned char *head, size_t n)
{
	/* The text banner varies by version ("<<< Oracle VM VirtualBox Disk
	 * Image >>>", "<<< Sun xVM ..."); the binary signature does not. */
	static const unsigned char sig[4] = {0x7f, 0x10, 0xda, 0xbe};
	return n >= 68 && memcmp(head, "<<< ", 4) == 0 &&
	       memcmp(head + 64, sig, 4) == 0;
}

/* A ustar archive is an OVA when its first entry is the OVF descriptor
 * (the OVF spec requires it first). */
static vimg_format tar_kind(const unsigned char *head)
{
	size_t len = strnlen((const char *)head, 100);
	if (len >= 4 && strncmp((const char *)head + len - 4, ".ovf", 4) == 0)
		return VIMG_OVA;
	return VIMG_TAR;
}

/* The VHD footer sits in the last 512 bytes; images from very old Virtual
 * PC versions have a 511-byte footer. */
static bool has_vhd_footer(const vimg_reader *r)
{
	if (r->size >= VHD_FOOTER &&
	    has_at(r, r->size - VHD_FOOTER, "conectix"))
		return true;
	return r->size >= VHD_FOOTER - 1 &&
	       has_at(r, r->size - (VHD_FOOTER - 1), "conectix");
}

vimg_format vimg_detect(const vimg_reader *r)
{
	unsigned char head[HEAD_LEN] = {0};
	long long got = r->size ? vimg_read(r, 0, head, sizeof(head)) : 0;
	size_t n = got > 0 ? (size_t)got : 0;

	if (n >= 4 && memcmp(head, "QFI\xfb", 4) == 0)
		return VIMG_QCOW2;
	if (is_vdi(head, n))
		return VIMG_VDI;
	if (n >= 4 && memcmp(head, "KDMV", 4) == 0)
		return VIMG_VMDK;
	if (n >= 21 && memcmp(head, "# Disk DescriptorFile", 21) == 0)
		return VIMG_VMDK;
	if (n >= 8 && memcmp(head, "vhdxfile", 8) == 0)
		return VIMG_VHDX;
	/* A dynamic VHD's footer copy at offset 0. */
	if (n >= 8 && memcmp(head, "conectix", 8) == 0)
		return VIMG_VHD;
	if (has_at(r, ISO_MAGIC_OFF, "CD001"))
		return VIMG_ISO;
	if (n >= TAR_MAGIC_OFF + 5 &&
	    memcmp(head + TAR_MAGIC_OFF, "ustar", 5) == 0)
		return tar_kind(head);
	if (has_vhd_footer(r))
		return VIMG_VHD;
	return VIMG_RAW;
}
