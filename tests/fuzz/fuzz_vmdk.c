/* libFuzzer target: the VMDK inspector and guest view.  Extents named by
 * a descriptor are served from the same input: the bytes after its first
 * NUL (a descriptor, a NUL, then a sparse extent), or the whole input when
 * there is none. */
#include "image/image.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct blob {
	const uint8_t *p;
	size_t len;
} blob;

static int same_open(const vimg_opener *op, const char *name, vimg_reader *out)
{
	const blob *b = op->ctx;

	if (strcmp(name, "missing.vmdk") == 0)
		return -1;
	vimg_reader_mem(out, b->p, b->len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[64 * 1024];
	const uint8_t *nul = memchr(data, 0, size);
	blob b = { data, size };
	vimg_opener op = { same_open, &b };
	vimg_reader r, g;
	vimg_info info = { 0 };

	if (nul && size >= 4 && memcmp(data, "KDMV", 4) != 0) {
		b.p = nul + 1;
		b.len = size - (size_t)(nul + 1 - data);
	}
	vimg_reader_mem(&r, data, size);
	vimg_vmdk_inspect(&r, &op, &info);
	vimg_info_free(&info);
	if (vimg_vmdk_guest_open(&r, &op, &g) == 0) {
		for (uint64_t off = 0; off < 1024 * 1024 && off < g.size;
		     off += sizeof(buf))
			if (vimg_read(&g, off, buf, sizeof(buf)) < 0)
				break;
		/* and an unaligned read across the end */
		if (g.size > 100)
			vimg_read(&g, g.size - 100, buf, 4096);
		vimg_reader_close(&g);
	}
	return 0;
}
