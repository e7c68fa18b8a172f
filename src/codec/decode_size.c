/*
 * Decompressed sizes without decompressing (vdec_size_hint): the xz index
 * at the end of every stream, and zstd frame headers that carry their
 * content size.  Both walk headers only, with a bound on the work.
 */
#include "codec/decode_internal.h"

#include <lzma.h>
#include <string.h>

#include "base/endian.h"

#define CHUNK (64u << 10)
/* A 2 TiB image in 128 KiB zstd blocks has 16 M block headers: walking
 * them costs a read each, so give up (no hint) past this many. */
#define ZSTD_MAX_BLOCKS (1u << 20)
#define XZ_MAX_SEEKS 100000

static bool read_exact(const vdec_file *r, uint64_t off, void *buf,
		       size_t len)
{
	if (off > r->size || len > r->size - off)
		return false;
	return r->read_at(r->ctx, off, buf, len) == (long long)len;
}

static bool xz_size(const vdec_file *r, uint64_t *size)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_index *idx = NULL;
	unsigned char buf[CHUNK];
	uint64_t pos = 0;
	bool ok = false;

	if (lzma_file_info_decoder(&s, &idx, 64u << 20, r->size) != LZMA_OK)
		return false;
	for (unsigned steps = 0; steps < XZ_MAX_SEEKS; steps++) {
		long long got = r->read_at(r->ctx, pos, buf, sizeof(buf));
		if (got < 0)
			break;
		s.next_in = buf;
		s.avail_in = (size_t)got;
		lzma_ret rc = lzma_code(&s, got == 0 ? LZMA_FINISH : LZMA_RUN);
		if (rc == LZMA_SEEK_NEEDED) {
			pos = s.seek_pos;
			continue;
		}
		if (rc == LZMA_STREAM_END) {
			*size = lzma_index_uncompressed_size(idx);
			ok = true;
			break;
		}
		if (rc != LZMA_OK)
			break;
		pos += (uint64_t)got - s.avail_in;
		if (got == 0)
			break;
	}
	if (idx)
		lzma_index_end(idx, NULL);
	lzma_end(&s);
	return ok;
}

/* A zstd frame header (RFC 8878 3.1.1.1): its length, whether a content
 * checksum ends the frame, and the content size (false when absent). */
static bool zstd_header(const unsigned char *h, size_t n, size_t *hlen,
			bool *checksum, uint64_t *content)
{
	static const size_t did_len[4] = {0, 1, 2, 4};
	if (n < 5)
		return false;
	unsigned fhd = h[4], fcs_flag = fhd >> 6, single = (fhd >> 5) & 1;
	size_t fcs_len = fcs_flag == 0 ? single : (size_t)1 << fcs_flag;
	size_t at = 5 + !single + did_len[fhd & 3];
	if (fhd & 0x08 || !fcs_len || at + fcs_len > n)
		return false; /* reserved bit, or no content size */
	uint64_t v = 0;
	for (size_t i = fcs_len; i-- > 0;)
		v = v << 8 | h[at + i];
	*content = fcs_len == 2 ? v + 256 : v;
	*hlen = at + fcs_len;
	*checksum = (fhd >> 2) & 1;
	return true;
}

/* One frame's compressed length, by its header and block headers; 0 when
 * the frame is damaged, says no size, or is too long to walk. */
static uint64_t zstd_frame_len(const vdec_file *r, uint64_t off,
			       unsigned *blocks, uint64_t *content)
{
	unsigned char h[18];
	long long got = r->read_at(r->ctx, off, h, sizeof(h));
	size_t hlen;
	bool checksum;

	if (got < 8)
		return 0;
	uint32_t magic = le32(h);
	if ((magic & 0xfffffff0u) == 0x184D2A50u) { /* skippable */
		*content = 0;
		return 8 + (uint64_t)le32(h + 4);
	}
	if (magic != 0xFD2FB528u ||
	    !zstd_header(h, (size_t)got, &hlen, &checksum, content))
		return 0;
	uint64_t p = off + hlen;
	for (;;) {
		unsigned char b[3];
		if (++*blocks > ZSTD_MAX_BLOCKS || !read_exact(r, p, b, 3))
			return 0;
		uint32_t bh = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
		uint32_t type = (bh >> 1) & 3, bsize = bh >> 3;
		if (type == 3) /* reserved */
			return 0;
		p += 3 + (type == 1 ? 1 : bsize); /* an RLE block stores one byte */
		if (bh & 1)
			break;
	}
	if (checksum)
		p += 4;
	return p > r->size ? 0 : p - off;
}

static bool zstd_size(const vdec_file *r, uint64_t *size)
{
	uint64_t off = 0, total = 0;
	unsigned blocks = 0;

	while (off < r->size) {
		uint64_t content = 0, len = zstd_frame_len(r, off, &blocks, &content);
		if (!len)
			return false;
		total += content;
		off += len;
	}
	*size = total;
	return off == r->size && r->size > 0;
}

bool vdec_size_hint(const vdec_file *r, vimg_compression c, uint64_t *size)
{
	switch (c) {
	case VIMG_COMP_XZ:
		return xz_size(r, size);
	case VIMG_COMP_ZSTD:
		return zstd_size(r, size);
	default:
		return false; /* gzip's ISIZE is mod 2^32; bzip2 records none */
	}
}
