/* The stream decoders and the decompressing reader: data compressed here
 * with each library's own encoder, decoded back in awkward pieces;
 * concatenation, truncation, corruption, size hints, random access. */
#include <bzlib.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "base/buf.h"
#include "check.h"
#include "transfer/decode.h"

#define MIB (1u << 20)

/* Disk-like data: zero runs, pseudo-random runs, some text. */
static unsigned char *sample(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n);
	unsigned x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		size_t run = i / 4096 % 3;
		x = x * 1103515245u + 12345u;
		p[i] = run == 0 ? 0 : run == 1 ? (unsigned char)(x >> 16)
					       : (unsigned char)("vmie "[i % 5]);
	}
	return p;
}

static void gz(const unsigned char *p, size_t n, vbuf *out)
{
	z_stream z = {0};
	deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	size_t cap = deflateBound(&z, n);
	vbuf_grow(out, cap);
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->data + out->len;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	out->len += cap - z.avail_out;
	deflateEnd(&z);
}

static void xz(const unsigned char *p, size_t n, bool multiblock, vbuf *out)
{
	lzma_stream s = LZMA_STREAM_INIT;
	size_t cap = lzma_stream_buffer_bound(n);
	vbuf_grow(out, cap);
	if (multiblock) {
		lzma_mt mt = {.threads = 2, .block_size = 256 << 10, .preset = 1,
			      .check = LZMA_CHECK_CRC64};
		CHECK(lzma_stream_encoder_mt(&s, &mt) == LZMA_OK);
	} else {
		CHECK(lzma_easy_encoder(&s, 1, LZMA_CHECK_CRC64) == LZMA_OK);
	}
	s.next_in = p;
	s.avail_in = n;
	s.next_out = (uint8_t *)out->data + out->len;
	s.avail_out = cap;
	while (lzma_code(&s, LZMA_FINISH) == LZMA_OK)
		;
	out->len += cap - s.avail_out;
	lzma_end(&s);
}

static void bz(const unsigned char *p, size_t n, vbuf *out)
{
	unsigned cap = (unsigned)(n + n / 100 + 600);
	vbuf_grow(out, cap);
	BZ2_bzBuffToBuffCompress(out->data + out->len, &cap, (char *)p,
				 (unsigned)n, 1, 0, 0);
	out->len += cap;
}

static void zs(const unsigned char *p, size_t n, bool with_size, vbuf *out)
{
	size_t cap = ZSTD_compressBound(n);
	vbuf_grow(out, cap);
	if (with_size) {
		out->len += ZSTD_compress(out->data + out->len, cap, p, n, 3);
		return;
	}
	/* A streamed frame: no content size in its header. */
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	ZSTD_inBuffer ib = {p, n, 0};
	ZSTD_outBuffer ob = {out->data + out->len, cap, 0};
	while (ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end) != 0)
		;
	out->len += ob.pos;
	ZSTD_freeCCtx(c);
}

/* Decode all of in, feeding `feed` bytes at a time into `room`-byte
 * output pieces; 0 and the bytes in out, or -1. */
static int decode_all(vimg_compression c, const vbuf *in, size_t feed,
		      size_t room, vbuf *out, vmie_error *err)
{
	vdec *d = vdec_new(c, 2);
	unsigned char *piece = malloc(room);
	size_t fed = 0;
	int rc = -1;

	for (;;) {
		size_t avail = in->len - fed < feed ? in->len - fed : feed;
		const unsigned char *ip = (const unsigned char *)in->data + fed;
		size_t il = avail;
		unsigned char *op = piece;
		size_t ol = room;
		bool eof = fed + avail == in->len;
		vdec_result r = vdec_run(d, &ip, &il, &op, &ol, eof, err);
		fed += avail - il;
		vbuf_add(out, piece, room - ol);
		if (r == VDEC_ERROR)
			break;
		if (r == VDEC_END) {
			rc = 0;
			break;
		}
	}
	free(piece);
	vdec_free(d);
	return rc;
}

static void round_trip(const char *what, vimg_compression c, const vbuf *z,
		       const unsigned char *plain, size_t n)
{
	static const size_t feeds[][2] = {{1, 7}, {4096, 1}, {3, 65536}, {1 << 20, 1 << 20}};
	for (size_t i = 0; i < sizeof(feeds) / sizeof(feeds[0]); i++) {
		vbuf out = VBUF_INIT;
		vmie_error err = {0};
		/* Byte-sized pieces over megabytes are slow (under the
		 * sanitizers): those run on the small sample. */
		if ((feeds[i][0] < 4096 || feeds[i][1] < 4096) && n > 200000)
			continue;
		int rc = decode_all(c, z, feeds[i][0], feeds[i][1], &out, &err);
		CHECK(rc == 0);
		CHECK(out.len == n && memcmp(out.data, plain, n) == 0);
		if (rc != 0 || out.len != n)
			fprintf(stderr, "  %s feed %zu room %zu: %s\n", what, feeds[i][0],
				feeds[i][1], err.message ? err.message : "wrong length");
		vmie_error_clear(&err);
		vbuf_free(&out);
	}
}

static void expect_error(const char *what, vimg_compression c, const vbuf *z,
			 const char *word)
{
	vbuf out = VBUF_INIT;
	vmie_error err = {0};
	int rc = decode_all(c, z, 65536, 65536, &out, &err);
	CHECK(rc == -1);
	CHECK(err.message && strstr(err.message, word));
	if (rc != -1 || !err.message || !strstr(err.message, word))
		fprintf(stderr, "  %s: %s\n", what, err.message ? err.message : "no error");
	CHECK(err.status == VMIE_ERR_FILE_DECOMPRESS_FAILED ||
	      err.status == VMIE_ERR_FILE_DECOMPRESS_GZ_FAILED ||
	      err.status == VMIE_ERR_FILE_DECOMPRESS_BZ2_FAILED);
	vmie_error_clear(&err);
	vbuf_free(&out);
}

typedef struct codec_case {
	const char *name;
	vimg_compression c;
	vbuf z;
} codec_case;

static void test_codecs(size_t n)
{
	unsigned char *plain = sample(n, 1);
	codec_case cases[] = {
		{"gzip", VIMG_COMP_GZIP, VBUF_INIT},
		{"gzip x2", VIMG_COMP_GZIP, VBUF_INIT},
		{"xz", VIMG_COMP_XZ, VBUF_INIT},
		{"xz multi-block", VIMG_COMP_XZ, VBUF_INIT},
		{"xz x2", VIMG_COMP_XZ, VBUF_INIT},
		{"bzip2", VIMG_COMP_BZIP2, VBUF_INIT},
		{"bzip2 x2", VIMG_COMP_BZIP2, VBUF_INIT},
		{"zstd", VIMG_COMP_ZSTD, VBUF_INIT},
		{"zstd streamed x2", VIMG_COMP_ZSTD, VBUF_INIT},
	};
	size_t half = n / 2;
	gz(plain, n, &cases[0].z);
	gz(plain, half, &cases[1].z);
	gz(plain + half, n - half, &cases[1].z);
	xz(plain, n, false, &cases[2].z);
	xz(plain, n, true, &cases[3].z);
	xz(plain, half, false, &cases[4].z);
	xz(plain + half, n - half, true, &cases[4].z);
	bz(plain, n, &cases[5].z);
	bz(plain, half, &cases[6].z);
	bz(plain + half, n - half, &cases[6].z);
	zs(plain, n, true, &cases[7].z);
	zs(plain, half, false, &cases[8].z);
	zs(plain + half, n - half, false, &cases[8].z);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		codec_case *k = &cases[i];
		CHECK(vdec_detect(k->z.data, k->z.len) == k->c);
		round_trip(k->name, k->c, &k->z, plain, n);

		/* Cut short: "truncated", never a spin or a crash. */
		vbuf cut = VBUF_INIT;
		vbuf_add(&cut, k->z.data, k->z.len - 9);
		expect_error(k->name, k->c, &cut, "truncated");
		vbuf_free(&cut);

		/* A byte flipped in the middle: each format's check finds
		 * it (a CRC, a block check, or the structure itself). */
		vbuf bad = VBUF_INIT;
		vbuf_add(&bad, k->z.data, k->z.len);
		bad.data[bad.len / 2] ^= 0x55;
		vbuf out = VBUF_INIT;
		vmie_error err = {0};
		int rc = decode_all(k->c, &bad, 65536, 65536, &out, &err);
		CHECK(rc == -1 || out.len != n || memcmp(out.data, plain, n) != 0);
		CHECK(rc == 0 || err.message);
		vmie_error_clear(&err);
		vbuf_free(&out);
		vbuf_free(&bad);
	}

	if (n < 3 * MIB) /* the small sample: round trips only */
		goto out;
	/* Size hints: xz (every stream's index), zstd (frames with a size). */
	uint64_t sz = 0;
	vimg_reader r;
	vimg_reader_mem(&r, cases[2].z.data, cases[2].z.len);
	CHECK(vdec_size_hint(&r, VIMG_COMP_XZ, &sz) && sz == n);
	vimg_reader_mem(&r, cases[3].z.data, cases[3].z.len);
	CHECK(vdec_size_hint(&r, VIMG_COMP_XZ, &sz) && sz == n);
	vimg_reader_mem(&r, cases[4].z.data, cases[4].z.len);
	CHECK(vdec_size_hint(&r, VIMG_COMP_XZ, &sz) && sz == n);
	vimg_reader_mem(&r, cases[7].z.data, cases[7].z.len);
	CHECK(vdec_size_hint(&r, VIMG_COMP_ZSTD, &sz) && sz == n);
	vimg_reader_mem(&r, cases[8].z.data, cases[8].z.len);
	CHECK(!vdec_size_hint(&r, VIMG_COMP_ZSTD, &sz));
	vimg_reader_mem(&r, cases[0].z.data, cases[0].z.len);
	CHECK(!vdec_size_hint(&r, VIMG_COMP_GZIP, &sz));
	vimg_reader_mem(&r, cases[2].z.data, cases[2].z.len - 1);
	CHECK(!vdec_size_hint(&r, VIMG_COMP_XZ, &sz));

	/* The decompressing reader: reads anywhere, in any order. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vimg_reader d;
		vmie_error err = {0};
		vimg_reader_mem(&r, cases[i].z.data, cases[i].z.len);
		CHECK(vimg_reader_decompress(&d, &r, cases[i].c, 0, &err) == 0);
		CHECK(d.size == n);
		static const uint64_t at[] = {0, 2 * MIB + 5, 65536 - 3, 3 * MIB,
					      1 * MIB + 100, 3 * MIB + 300, 100};
		unsigned char buf[70000];
		for (size_t j = 0; j < sizeof(at) / sizeof(at[0]); j++) {
			size_t want = at[j] + sizeof(buf) > n ? n - at[j] : sizeof(buf);
			CHECK(vimg_read(&d, at[j], buf, sizeof(buf)) == (long long)want);
			CHECK(memcmp(buf, plain + at[j], want) == 0);
		}
		CHECK(vimg_read(&d, n, buf, 10) == 0);
		vimg_reader_close(&d);
		vmie_error_clear(&err);
		/* A limit below the decoded size refuses the stream. */
		CHECK(vimg_reader_decompress(&d, &r, cases[i].c, MIB, &err) == -1);
		CHECK(err.message != NULL);
		vmie_error_clear(&err);
	}

out:
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		vbuf_free(&cases[i].z);
	free(plain);
}

static void test_detect_near_misses(void)
{
	CHECK(vdec_detect("\x1f", 1) == VIMG_COMP_NONE);
	CHECK(vdec_detect("\xfd" "7zXY\0", 6) == VIMG_COMP_NONE);
	CHECK(vdec_detect("BZh0", 4) == VIMG_COMP_NONE);
	CHECK(vdec_detect("BZh9", 4) == VIMG_COMP_BZIP2);
	CHECK(vdec_detect("\x28\xb5\x2f\xfe", 4) == VIMG_COMP_NONE);
	CHECK(vdec_detect("\x50\x2a\x4d\x18", 4) == VIMG_COMP_ZSTD);
	CHECK(vdec_detect("KDMV", 4) == VIMG_COMP_NONE);
}

/* Garbage after each magic: an error, quickly, never a hang. */
static void test_garbage(void)
{
	static const char *const magic[] = {"\x1f\x8b", ("\xfd" "7zXZ\0"), "BZh9",
					    "\x28\xb5\x2f\xfd"};
	static const size_t mlen[] = {2, 6, 4, 4};
	static const vimg_compression kinds[] = {VIMG_COMP_GZIP, VIMG_COMP_XZ,
						 VIMG_COMP_BZIP2, VIMG_COMP_ZSTD};
	for (int k = 0; k < 4; k++) {
		for (unsigned seed = 1; seed <= 20; seed++) {
			vbuf z = VBUF_INIT, out = VBUF_INIT;
			unsigned char *g = sample(5000, seed * 7 + (unsigned)k);
			vmie_error err = {0};
			vbuf_add(&z, magic[k], mlen[k]);
			vbuf_add(&z, g + 4096, 900); /* the random run */
			CHECK(decode_all(kinds[k], &z, 4096, 4096, &out, &err) == -1);
			vmie_error_clear(&err);
			vbuf_free(&z);
			vbuf_free(&out);
			free(g);
		}
	}
}

/* Information only: decode rates on this machine (never asserted). */
static void rates(void)
{
	size_t n = 16 * MIB;
	unsigned char *plain = sample(n, 3);
	struct { const char *name; vimg_compression c; vbuf z; } r[] = {
		{"gzip", VIMG_COMP_GZIP, VBUF_INIT},
		{"xz (2 threads, multi-block)", VIMG_COMP_XZ, VBUF_INIT},
		{"zstd", VIMG_COMP_ZSTD, VBUF_INIT},
	};
	gz(plain, n, &r[0].z);
	xz(plain, n, true, &r[1].z);
	zs(plain, n, true, &r[2].z);
	for (int i = 0; i < 3; i++) {
		vbuf out = VBUF_INIT;
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		decode_all(r[i].c, &r[i].z, 1 << 20, 1 << 20, &out, NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		printf("decode %s: %.0f MiB/s\n", r[i].name, (double)n / MIB / s);
		vbuf_free(&out);
		vbuf_free(&r[i].z);
	}
	free(plain);
}

int main(void)
{
	test_detect_near_misses();
	test_codecs(150000);
	test_codecs(3 * MIB + 333);
	test_garbage();
	rates();
	return check_done("decode");
}
