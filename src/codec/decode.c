/*
 * Streaming decompression (decode.h): detection by magic, and the one
 * loop every codec shares: no progress with the input at its end means a
 * truncated stream, never a spin.
 */
#include "codec/decode_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

vimg_compression vdec_detect(const void *head, size_t n)
{
	const unsigned char *p = head;

	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return VIMG_COMP_GZIP;
	if (n >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0)
		return VIMG_COMP_XZ;
	if (n >= 4 && memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9')
		return VIMG_COMP_BZIP2;
	if (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
		return VIMG_COMP_ZSTD;
	/* A zstd skippable frame (magic 0x184D2A5?, little-endian) first. */
	if (n >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d &&
	    p[3] == 0x18)
		return VIMG_COMP_ZSTD;
	return VIMG_COMP_NONE;
}

static const vdec_codec *codec_for(vimg_compression c)
{
	switch (c) {
	case VIMG_COMP_GZIP: return &vdec_gzip;
	case VIMG_COMP_XZ: return &vdec_xz;
	case VIMG_COMP_BZIP2: return &vdec_bzip2;
	case VIMG_COMP_ZSTD: return &vdec_zstd;
	case VIMG_COMP_NONE: break;
	}
	return NULL;
}

vdec *vdec_new(vimg_compression c, unsigned threads)
{
	const vdec_codec *codec = codec_for(c);
	if (!codec)
		return NULL;
	vdec *d = xcalloc(1, sizeof(*d));
	d->codec = codec;
	d->threads = threads ? threads : 1;
	if (codec->init(d, d->threads) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

void vdec_free(vdec *d)
{
	if (!d)
		return;
	d->codec->end(d);
	free(d);
}

vdec_result vdec_run(vdec *d, const unsigned char **in, size_t *in_len,
		     unsigned char **out, size_t *out_len, bool at_eof,
		     vmie_error *err)
{
	size_t in0 = *in_len, out0 = *out_len;

	if (d->ended && *in_len == 0 && at_eof)
		return VDEC_END;
	if (*out_len == 0)
		return VDEC_MORE;
	if (d->codec->step(d, in, in_len, out, out_len, at_eof) < 0) {
		verr_set(err, d->codec->error_status, "%s data is corrupt: %s",
			 d->codec->name, d->why ? d->why : "decoder error");
		return VDEC_ERROR;
	}
	if (*in_len < in0)
		d->started = true;
	if (d->ended && *in_len == 0 && at_eof)
		return *out_len < out0 ? VDEC_MORE : VDEC_END;
	bool moved = *in_len < in0 || *out_len < out0;
	/* Everything given, nothing more to come, nothing produced, and the
	 * stream not complete: the file was cut short. */
	if (at_eof && *in_len == 0 && !moved) {
		verr_set(err, d->codec->error_status,
			 "%s data is truncated (the file ends inside the "
			 "compressed stream)", d->codec->name);
		return VDEC_ERROR;
	}
	/* Input and room both offered and nothing moved: a library that
	 * wedged on crafted data would have the caller spin forever.  A few
	 * tries allow for a decoder that needed one call to change state. */
	d->stalls = moved || !in0 || !out0 ? 0 : d->stalls + 1;
	if (d->stalls > 8) {
		verr_set(err, d->codec->error_status,
			 "%s data is corrupt: the decoder makes no progress",
			 d->codec->name);
		return VDEC_ERROR;
	}
	return VDEC_MORE;
}
