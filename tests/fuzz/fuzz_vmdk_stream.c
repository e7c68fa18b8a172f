/* libFuzzer target: the download side's streamOptimized VMDK parser
 * (image/vmdk_stream.h), driven over the input as the S3 object, as a
 * downloader drives it over ranged GETs.  Every write must land inside
 * the disk the object declares. */
#include "image/vmdk_stream.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_write(void *ctx, uint64_t guest, const void *p, size_t len,
		       vmie_error *err)
{
	const uint64_t *cap = ctx;
	const volatile unsigned char *b = p;
	if (guest > *cap || len > *cap - guest || len == 0)
		abort(); /* the parser let a grain out of the disk */
	(void)b[0];
	(void)b[len - 1];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vimg_reader r;
	vmie_error err = {0};
	uint64_t cap = 0;

	vimg_reader_mem(&r, data, size);
	/* The capacity is known before the first write: the sink reads it
	 * through the pointer the decoder fills. */
	vmdk_so_decode(&r, check_write, &cap, &cap, &err);
	vmie_error_clear(&err);
	return 0;
}
