/* Decompressing reader: stub. */
#include "image/image.h"
#include "base/error.h"

int vimg_reader_decompress(vimg_reader *out, const vimg_reader *compressed,
			   vimg_compression c, vmie_error *err)
{
	return verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_COMPRESSION, "not yet"), -1;
}
