/*
 * Grains through deflate (vmdk_codec.h).
 */
#include "image/vmdk_codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/xalloc.h"

#ifdef VMIE_HAVE_ISAL
#include <isa-l/igzip_lib.h>

/* igzip's level 1: about zlib's level-1 size at several times its speed,
 * within a few per cent of zlib's default level on disk data.  The
 * writer must keep up with the link on one core per direction. */
#define LEVEL 1
#define LEVEL_BUF ISAL_DEF_LVL1_DEFAULT
#endif

struct vmdk_deflater {
#ifdef VMIE_HAVE_ISAL
	unsigned char *level_buf;
#else
	int unused;
#endif
};

vmdk_deflater *vmdk_deflater_new(void)
{
	vmdk_deflater *d = xcalloc(1, sizeof(*d));
#ifdef VMIE_HAVE_ISAL
	d->level_buf = xmalloc(LEVEL_BUF);
#endif
	return d;
}

void vmdk_deflater_free(vmdk_deflater *d)
{
	if (!d)
		return;
#ifdef VMIE_HAVE_ISAL
	free(d->level_buf);
#endif
	free(d);
}

/* zlib at its fastest level: the fallback when igzip is absent or found
 * the room too small (it never is at VMDK_DEFLATE_BOUND; belt and
 * braces).  Deterministic like igzip. */
static size_t zlib_deflate(const void *in, size_t len, void *out, size_t cap)
{
	uLongf n = (uLongf)cap;
	if (compress2(out, &n, in, (uLong)len, 1) != Z_OK)
		abort(); /* only Z_BUF_ERROR, which the bound rules out */
	return (size_t)n;
}

size_t vmdk_deflate(vmdk_deflater *d, const void *in, size_t len, void *out,
		    size_t cap)
{
#ifdef VMIE_HAVE_ISAL
	struct isal_zstream z;
	isal_deflate_stateless_init(&z);
	z.level = LEVEL;
	z.level_buf = d->level_buf;
	z.level_buf_size = LEVEL_BUF;
	z.gzip_flag = IGZIP_ZLIB;
	z.end_of_stream = 1;
	z.flush = NO_FLUSH;
	z.next_in = (uint8_t *)in;
	z.avail_in = (uint32_t)len;
	z.next_out = out;
	z.avail_out = (uint32_t)cap;
	if (isal_deflate_stateless(&z) == COMP_OK)
		return z.total_out;
#else
	(void)d;
#endif
	return zlib_deflate(in, len, out, cap);
}

long long vmdk_inflate(const void *in, size_t len, void *out, size_t cap)
{
	if (len > UINT32_MAX || cap > UINT32_MAX)
		return -1;
#ifdef VMIE_HAVE_ISAL
	struct inflate_state st;
	isal_inflate_init(&st);
	st.crc_flag = ISAL_ZLIB; /* the header parsed, the Adler-32 checked */
	st.next_in = (uint8_t *)in;
	st.avail_in = (uint32_t)len;
	st.next_out = out;
	st.avail_out = (uint32_t)cap;
	if (isal_inflate_stateless(&st) != ISAL_DECOMP_OK ||
	    st.block_state != ISAL_BLOCK_FINISH)
		return -1;
	return (long long)st.total_out;
#else
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	int rc = inflate(&z, Z_FINISH);
	long long got = (long long)z.total_out;
	inflateEnd(&z);
	return rc == Z_STREAM_END ? got : -1;
#endif
}

bool vmdk_all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;
	/* The first 16 bytes one by one, then the buffer against itself
	 * shifted by 16: memcmp runs at memory speed. */
	size_t head = len < 16 ? len : 16;
	for (size_t i = 0; i < head; i++)
		if (b[i])
			return false;
	return len <= 16 || memcmp(b, b + 16, len - 16) == 0;
}
