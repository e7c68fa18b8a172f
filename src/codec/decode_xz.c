/*
 * xz through liblzma, multithreaded when asked: a multi-block file (xz
 * -T, pixz) then decodes on every core.  Concatenated streams and stream
 * padding are liblzma's business (LZMA_CONCATENATED).
 */
#include "codec/decode_internal.h"

#include <lzma.h>
#include <stdlib.h>

#include "base/xalloc.h"

/* Memory the decoder may use: enough for any preset (xz -9e needs 65 MiB
 * per thread) while a crafted header cannot make it take gigabytes. */
#define XZ_MEMLIMIT (512ull << 20)

static int xz_init(vdec *d, unsigned threads)
{
	lzma_stream *s = xcalloc(1, sizeof(*s));
	lzma_ret rc;

	*s = (lzma_stream)LZMA_STREAM_INIT;
	if (threads > 1) {
		lzma_mt mt = {
			.flags = LZMA_CONCATENATED,
			.threads = threads,
			.memlimit_threading = XZ_MEMLIMIT,
			.memlimit_stop = XZ_MEMLIMIT,
		};
		rc = lzma_stream_decoder_mt(s, &mt);
	} else {
		rc = lzma_stream_decoder(s, XZ_MEMLIMIT, LZMA_CONCATENATED);
	}
	if (rc != LZMA_OK) {
		free(s);
		return -1;
	}
	d->state = s;
	return 0;
}

static void xz_end(vdec *d)
{
	lzma_stream *s = d->state;
	if (!s)
		return;
	lzma_end(s);
	free(s);
	d->state = NULL;
}

static const char *xz_why(lzma_ret rc)
{
	switch (rc) {
	case LZMA_FORMAT_ERROR: return "not xz data";
	case LZMA_OPTIONS_ERROR: return "unsupported xz options";
	case LZMA_DATA_ERROR: return "corrupt xz data";
	case LZMA_BUF_ERROR: return "truncated xz data";
	case LZMA_MEMLIMIT_ERROR: return "needs more memory than vmie allows (512 MiB)";
	case LZMA_MEM_ERROR: return "out of memory";
	default: return "decoder error";
	}
}

static int xz_step(vdec *d, const unsigned char **in, size_t *in_len,
		   unsigned char **out, size_t *out_len, bool at_eof)
{
	lzma_stream *s = d->state;

	if (d->ended) { /* after LZMA_STREAM_END nothing may follow */
		*in += *in_len;
		*in_len = 0;
		return 0;
	}
	s->next_in = *in;
	s->avail_in = *in_len;
	s->next_out = *out;
	s->avail_out = *out_len;
	/* With LZMA_CONCATENATED the end is only known at LZMA_FINISH. */
	lzma_ret rc = lzma_code(s, at_eof ? LZMA_FINISH : LZMA_RUN);
	*in = s->next_in;
	*in_len = s->avail_in;
	*out = s->next_out;
	*out_len = s->avail_out;
	if (rc == LZMA_STREAM_END) {
		d->ended = true;
		return 0;
	}
	if (rc == LZMA_OK || (rc == LZMA_BUF_ERROR && !at_eof))
		return 0;
	d->why = xz_why(rc);
	return -1;
}

const vdec_codec vdec_xz = {
	"xz", VMIE_ERR_FILE_DECOMPRESS_FAILED, xz_init, xz_step, xz_end,
};
