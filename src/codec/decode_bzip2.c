/*
 * bzip2 through libbz2.  pbzip2 writes one stream per block, concatenated:
 * a stream's end starts the next when more input follows.
 */
#include "codec/decode_internal.h"

#include <bzlib.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

typedef struct bz_state {
	bz_stream s;
	bool live; /* BZ2_bzDecompressInit done, End not yet */
	bool garbage;
} bz_state;

static int bz_start(bz_state *b)
{
	memset(&b->s, 0, sizeof(b->s));
	b->live = BZ2_bzDecompressInit(&b->s, 0, 0) == BZ_OK;
	return b->live ? 0 : -1;
}

static int bz_init(vdec *d, unsigned threads)
{
	bz_state *b = xcalloc(1, sizeof(*b));
	if (bz_start(b) < 0) {
		free(b);
		return -1;
	}
	d->state = b;
	return 0;
}

static void bz_end(vdec *d)
{
	bz_state *b = d->state;
	if (!b)
		return;
	if (b->live)
		BZ2_bzDecompressEnd(&b->s);
	free(b);
	d->state = NULL;
}

static int bz_step(vdec *d, const unsigned char **in, size_t *in_len,
		   unsigned char **out, size_t *out_len, bool at_eof)
{
	bz_state *b = d->state;

	if (d->ended && *in_len) {
		/* Another stream, or bytes bzip2 -d would also ignore.  One
		 * byte decides, so a byte-at-a-time caller never waits. */
		if (b->garbage || **in != 'B') {
			b->garbage = true;
			*in += *in_len;
			*in_len = 0;
			return 0;
		}
		BZ2_bzDecompressEnd(&b->s);
		b->live = false;
		if (bz_start(b) < 0) {
			d->why = "cannot restart the decoder";
			return -1;
		}
		d->ended = false;
	}
	if (d->ended)
		return 0;
	unsigned give = *in_len > (1u << 30) ? 1u << 30 : (unsigned)*in_len;
	unsigned room = *out_len > (1u << 30) ? 1u << 30 : (unsigned)*out_len;
	b->s.next_in = (char *)*in;
	b->s.avail_in = give;
	b->s.next_out = (char *)*out;
	b->s.avail_out = room;
	int rc = BZ2_bzDecompress(&b->s);
	size_t used = give - b->s.avail_in, made = room - b->s.avail_out;
	*in += used;
	*in_len -= used;
	*out += made;
	*out_len -= made;
	if (rc == BZ_STREAM_END) {
		d->ended = true;
		return 0;
	}
	if (rc == BZ_OK)
		return 0;
	d->why = rc == BZ_DATA_ERROR ? "CRC mismatch or corrupt block"
		 : rc == BZ_DATA_ERROR_MAGIC ? "not bzip2 data"
		 : rc == BZ_MEM_ERROR ? "out of memory" : "decoder error";
	return -1;
}

const vdec_codec vdec_bzip2 = {
	"bzip2", VMIE_ERR_FILE_DECOMPRESS_BZ2_FAILED, bz_init, bz_step, bz_end,
};
