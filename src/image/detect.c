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

static bool ends_with_ovf(const char *name, size_t len)
{
	return len >= 4 && strncmp(name + len - 4, ".ovf", 4) == 0;
}

/* A tar header's size field: octal, or GNU base-256 (high bit set);
 * anything unparsable reads as 0. */
static uint64_t tar_size(const unsigned char *h)
{
	uint64_t v = 0;
	int i = 124;
	if (h[i] & 0x80) {
		for (i = 128; i < 136; i++) /* sizes fit in the last 8 bytes */
			v = v << 8 | h[i];
		return v;
	}
	while (i < 136 && h[i] == ' ')
		i++;
	for (; i < 136 && h[i] >= '0' && h[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(h[i] - '0');
	return v;
}

/* The name a pax extended header ('x') gives the next entry, from its
 * "<len> path=<name>\n" record; false when it gives none. */
static bool pax_path(const char *rec, size_t len, char *name, size_t cap)
{
	const char *p = memmem(rec, len, " path=", 6);
	if (!p)
		return false;
	p += 6;
	const char *end = memchr(p, '\n', len - (size_t)(p - rec));
	size_t n = end ? (size_t)(end - p) : 0;
	if (!n || n >= cap)
		return false;
	memcpy(name, p, n);
	name[n] = '\0';
	return true;
}

/* A ustar archive is an OVA when its first entry is the OVF descriptor
 * (the OVF spec requires it first).  Its name may come from a GNU long
 * name ('L') or a pax header ('x') before it; pax global headers ('g')
 * are skipped. */
static vimg_format tar_kind(const vimg_reader *r, const unsigned char *head)
{
	unsigned char h[512];
	char name[4096];
	uint64_t off = 0;
	bool named = false;

	memcpy(h, head, sizeof(h));
	for (int i = 0; i < 4; i++) {
		char type = (char)h[156];
		uint64_t size = tar_size(h);
		if (type != 'L' && type != 'x' && type != 'g') {
			size_t len = named ? strlen(name) : strnlen((const char *)h, 100);
			const char *n = named ? name : (const char *)h;
			return ends_with_ovf(n, len) ? VIMG_OVA : VIMG_TAR;
		}
		if (type != 'g' && size > 0 && size < sizeof(name)) {
			char rec[sizeof(name)];
			if (!vimg_read_exact(r, off + 512, rec, (size_t)size))
				return VIMG_TAR;
			if (type == 'L') {
				size_t n = strnlen(rec, (size_t)size);
				memcpy(name, rec, n);
				name[n] = '\0';
				named = true;
			} else {
				named = pax_path(rec, (size_t)size, name, sizeof(name)) || named;
			}
		}
		off += 512 + (size + 511) / 512 * 512;
		if (!vimg_read_exact(r, off, h, sizeof(h)))
			return VIMG_TAR;
	}
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
		return tar_kind(r, head);
	if (has_vhd_footer(r))
		return VIMG_VHD;
	return VIMG_RAW;
}
