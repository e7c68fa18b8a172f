/* libFuzzer target: the VHDX inspector and guest view.  Images come from
 * users and from URLs; every offset in them is untrusted.  The guest view
 * is opened whatever the inspector said (it must refuse, not crash, on a
 * damaged image) and read at its start, middle and end; the partitions
 * are inspected through it as vimg_inspect does for a sound image. */
#include "image/image.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[8192];
	vimg_reader r, g;
	vimg_info info = { 0 };

	vimg_reader_mem(&r, data, size);
	vimg_vhdx_inspect(&r, &info);
	bool sound = !vimg_has_errors(&info);
	if (vimg_vhdx_guest_open(&r, &g) == 0) {
		uint64_t at[] = { 0, g.size / 2 - g.size / 2 % 512,
				  g.size > 512 ? g.size - 512 : 0,
				  g.size > 4000 ? g.size / 3 - 1000 : 0 };
		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
			vimg_read(&g, at[i], buf, i < 3 ? 512 : sizeof(buf));
		if (sound)
			vimg_inspect_partitions(&g, &info);
		vimg_reader_close(&g);
	}
	vimg_info_free(&info);
	return 0;
}
