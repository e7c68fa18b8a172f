/*
 * gzip: ISA-L's igzip when the build found it (several times zlib's
 * speed), zlib otherwise.  Members concatenate (pigz, `cat a.gz b.gz`);
 * bytes after a member that do not start another one are ignored, as
 * gzip -d does with its "trailing garbage" warning.
 */
#include "codec/decode_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#ifdef VMIE_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

typedef struct gz_state {
#ifdef VMIE_HAVE_ISAL
	struct inflate_state st;
#else
	z_stream z;
#endif
	bool garbage; /* past the last member: swallow the rest */
} gz_state;

/* Judged on one byte, so a caller feeding a byte at a time never waits:
 * a wrong second byte is then the new member's header error. */
static bool member_follows(const unsigned char *p)
{
	return p[0] == 0x1f;
}

#ifdef VMIE_HAVE_ISAL
static void gz_reset(gz_state *g)
{
	isal_inflate_reset(&g->st);
	g->st.crc_flag = ISAL_GZIP; /* parse the header, verify the trailer */
}

static const char *isal_why(int rc)
{
	switch (rc) {
	case ISAL_INVALID_BLOCK: return "invalid deflate block";
	case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK: return "invalid back-reference";
	case ISAL_INVALID_WRAPPER: return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD: return "not deflate";
	case ISAL_INCORRECT_CHECKSUM: return "CRC mismatch";
	default: return "decoder error";
	}
}
#endif

static int gz_init(vdec *d, unsigned threads)
{
	gz_state *g = xcalloc(1, sizeof(*g));
#ifdef VMIE_HAVE_ISAL
	isal_inflate_init(&g->st);
	g->st.crc_flag = ISAL_GZIP;
#else
	if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
		free(g);
		return -1;
	}
#endif
	d->state = g;
	return 0;
}

static void gz_end(vdec *d)
{
	gz_state *g = d->state;
	if (!g)
		return;
#ifndef VMIE_HAVE_ISAL
	inflateEnd(&g->z);
#endif
	free(g);
	d->state = NULL;
}

static int gz_step(vdec *d, const unsigned char **in, size_t *in_len,
		   unsigned char **out, size_t *out_len, bool at_eof)
{
	gz_state *g = d->state;

	if (d->ended && *in_len) {
		if (g->garbage || !member_follows(*in)) {
			g->garbage = true;
			*in += *in_len;
			*in_len = 0;
			return 0;
		}
		d->ended = false;
#ifdef VMIE_HAVE_ISAL
		gz_reset(g);
#else
		inflateReset(&g->z);
#endif
	}
	if (d->ended)
		return 0;
	/* Both libraries count in 32 bits: feed at most 1 GiB at a time. */
	uint32_t give = *in_len > (1u << 30) ? 1u << 30 : (uint32_t)*in_len;
	uint32_t room = *out_len > (1u << 30) ? 1u << 30 : (uint32_t)*out_len;
#ifdef VMIE_HAVE_ISAL
	g->st.next_in = (uint8_t *)*in;
	g->st.avail_in = give;
	g->st.next_out = *out;
	g->st.avail_out = room;
	int rc = isal_inflate(&g->st);
	size_t used = give - g->st.avail_in, made = room - g->st.avail_out;
	if (rc < 0) {
		d->why = isal_why(rc);
		return -1;
	}
	if (g->st.block_state == ISAL_BLOCK_FINISH)
		d->ended = true;
#else
	g->z.next_in = (Bytef *)*in;
	g->z.avail_in = give;
	g->z.next_out = *out;
	g->z.avail_out = room;
	int rc = inflate(&g->z, Z_NO_FLUSH);
	size_t used = give - g->z.avail_in, made = room - g->z.avail_out;
	if (rc == Z_STREAM_END) {
		d->ended = true;
	} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
		d->why = g->z.msg ? g->z.msg : "inflate error";
		return -1;
	}
#endif
	*in += used;
	*in_len -= used;
	*out += made;
	*out_len -= made;
	return 0;
}

const vdec_codec vdec_gzip = {
	"gzip", VMIE_ERR_FILE_DECOMPRESS_GZ_FAILED, gz_init, gz_step, gz_end,
};
