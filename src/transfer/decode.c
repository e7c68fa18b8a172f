/* Decoders: stub. */
#include "transfer/decode.h"

vimg_compression vdec_detect(const void *head, size_t n)
{
	return VIMG_COMP_NONE;
}
