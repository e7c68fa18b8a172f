/* libFuzzer target: the OVA inspector (tar walker, OVF descriptor,
 * manifest digests, each disk inspected through a window on its member).
 * OVAs come from users and from URLs; every header in them is untrusted. */
#include "image/image.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vimg_reader r;
	vimg_info info = { 0 };

	vimg_reader_mem(&r, data, size);
	vimg_ova_inspect(&r, &info);
	vimg_info_free(&info);
	return 0;
}
