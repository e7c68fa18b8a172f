/* libFuzzer target: vimg_inspect, the whole path an untrusted file takes:
 * compression detection and the decompressing reader, format detection,
 * every inspector, the refusals and the guest views.  The per-parser
 * targets go deeper into each; this one finds what falls between them. */
#include "image/image.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vimg_reader r;
	vimg_info info = { 0 };
	/* A few bytes of xz can decode to gigabytes: bound the work. */
	vimg_inspect_opts o = { "image.vhd.gz", NULL, 0, 64u << 20 };

	vimg_reader_mem(&r, data, size);
	vimg_inspect(&r, &o, &info, NULL);
	vimg_info_free(&info);
	return 0;
}
