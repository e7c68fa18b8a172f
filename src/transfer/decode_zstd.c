/*
 * zstd through libzstd.  Frames (and skippable frames) concatenate
 * naturally; the window is held to zstd's default limit (128 MiB), as the
 * zstd command does unless told --long.
 */
#include "transfer/decode_internal.h"

#include <stdlib.h>
#include <zstd.h>

static int zs_init(vdec *d, unsigned threads)
{
	ZSTD_DStream *z = ZSTD_createDStream();
	if (!z)
		return -1;
	ZSTD_initDStream(z);
	d->state = z;
	return 0;
}

static void zs_end(vdec *d)
{
	ZSTD_freeDStream(d->state);
	d->state = NULL;
}

static int zs_step(vdec *d, const unsigned char **in, size_t *in_len,
		   unsigned char **out, size_t *out_len, bool at_eof)
{
	ZSTD_inBuffer ib = {*in, *in_len, 0};
	ZSTD_outBuffer ob = {*out, *out_len, 0};

	if (!*in_len && d->ended)
		return 0; /* between frames at the end: nothing to flush */
	size_t rc = ZSTD_decompressStream(d->state, &ob, &ib);
	*in += ib.pos;
	*in_len -= ib.pos;
	*out += ob.pos;
	*out_len -= ob.pos;
	if (ZSTD_isError(rc)) {
		d->why = ZSTD_getErrorName(rc);
		return -1;
	}
	/* 0: a frame is complete and flushed; the next bytes, if any, start
	 * another. */
	d->ended = rc == 0;
	return 0;
}

const vdec_codec vdec_zstd = {
	"zstd", VMIE_ERR_FILE_DECOMPRESS_FAILED, zs_init, zs_step, zs_end,
};
