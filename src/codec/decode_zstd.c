/*
 * zstd through libzstd.  Frames (and skippable frames) concatenate
 * naturally.
 *
 * The window (the memory a frame's header makes the decoder allocate) is
 * capped at 2^27 = 128 MiB, set here rather than left to the library's
 * default: it is what `zstd -d` accepts without --memory, so any file the
 * zstd command decodes as is, vmie decodes too (including `zstd --long`,
 * whose default window is 2^27), while a 20-byte crafted header cannot
 * make inspection or the upload hold 2 GiB.  Frames made with --long=28..31
 * are refused with a message that says so.
 */
#include "codec/decode_internal.h"

#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define ZS_WINDOW_LOG 27

static int zs_init(vdec *d, unsigned threads)
{
	ZSTD_DStream *z = ZSTD_createDStream();
	if (!z)
		return -1;
	if (ZSTD_isError(ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax,
						ZS_WINDOW_LOG))) {
		ZSTD_freeDStream(z);
		return -1;
	}
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
		d->why = ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge
			? "the frame needs a window over 128 MiB (made with "
			  "zstd --long=28 or more); decompress it with "
			  "zstd -d --memory=2GB first"
			: ZSTD_getErrorName(rc);
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
