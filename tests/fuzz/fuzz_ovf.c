/* libFuzzer target: the OVF descriptor parser on its own, and the capacity
 * units reader on the same bytes. */
#include "base/xalloc.h"
#include "image/ovf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vimg_info info = { 0 };
	ovf_desc d;
	uint64_t mult;

	ovf_parse((const char *)data, size, &d, &info);
	for (size_t i = 0; i < d.ndisks; i++)
		(void)ovf_file_by_id(&d, d.disks[i].file_ref);
	ovf_desc_free(&d);
	vimg_info_free(&info);
	if (size < 256) {
		char *units = xmalloc(size + 1);
		memcpy(units, data, size);
		units[size] = '\0';
		(void)ovf_capacity_units(units, &mult);
		free(units);
	}
	return 0;
}
