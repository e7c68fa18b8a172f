/* libFuzzer target: RAW inspection, that is the MBR (with its chain of
 * logical partitions), the GPT and the filesystem probes, over a hostile
 * disk image.  Format detection runs over the same bytes. */
#include "image/image.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vimg_reader r;
	vimg_info info;
	memset(&info, 0, sizeof(info));
	vimg_reader_mem(&r, data, size);
	(void)vimg_detect(&r);
	vimg_raw_inspect(&r, &info);
	/* Touch every string so ASan sees any overread. */
	size_t n = 0;
	for (size_t i = 0; i < info.nfindings; i++)
		n += strlen(info.findings[i].code) +
		     strlen(info.findings[i].message);
	for (size_t i = 0; i < info.npartitions; i++)
		n += strlen(info.partitions[i].fs) +
		     strlen(info.partitions[i].type);
	vimg_info_free(&info);
	return n == (size_t)-1;
}
