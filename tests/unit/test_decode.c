/* The stream decoders and the decompressing reader: data compressed here
 * with each library's own encoder, decoded back in awkward pieces;
 * concatenation, truncation, corruption, size hints, random access. */
#include <bzlib.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "base/buf.h"
#include "check.h"
#include "codec/decode.h"
#include "image/image.h"

#define MIB (1u << 20)

/* Disk-like data in 4 KiB runs: zeros, noise, and text made of words
 * picked at random (repeats of one short string would be the worst case
 * of every encoder's match finder and of bzip2's sort, and unlike disks). */
static unsigned char *sample(size_t n, unsigned seed)
{
	static const char *const words[] = {
		"the ", "disk ", "image ", "boot ", "sector ", "of ", "vmie ",
		"import ", "kernel ", "a ", "partition ", "table\n", "root ",
		"grub ", "and ", "ext4 ",
	};
	unsigned char *p = malloc(n);
	unsigned x = seed * 2654435761u + 1;
	const char *w = "";
	for (size_t i = 0; i < n; i++) {
		size_t run = i / 4096 % 3;
		x = x * 1103515245u + 12345u;
		if (run == 2 && !*w)
			w = words[(x >> 16) % 16];
		p[i] = run == 0 ? 0 : run == 1 ? (unsigned char)(x >> 16)
					       : (unsigned char)*w++;
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

/* Damage seen by the decompressing reader: a cut gzip at open (every
 * byte is decoded then, to count), a corrupt xz block past the head on
 * the read that reaches it (the index gave the size, so open decoded
 * only the head). */
static void test_reader_damage(const vbuf *gzv, const vbuf *xzv, size_t n)
{
	vimg_reader r, d;
	vmie_error err = {0};

	vimg_reader_mem(&r, gzv->data, gzv->len - 20);
	CHECK(vimg_reader_decompress(&d, &r, VIMG_COMP_GZIP, 0, &err) == -1);
	CHECK(err.status == VMIE_ERR_FILE_DECOMPRESS_GZ_FAILED);
	CHECK_CONTAINS(err.message, "truncated");
	CHECK(d.ctx == NULL && d.read_at == NULL);
	vmie_error_clear(&err);

	vbuf bad = VBUF_INIT;
	vbuf_add(&bad, xzv->data, xzv->len);
	bad.data[bad.len * 3 / 4] ^= 0x40;
	vimg_reader_mem(&r, bad.data, bad.len);
	CHECK(vimg_reader_decompress(&d, &r, VIMG_COMP_XZ, 0, &err) == 0);
	CHECK(d.size == n);
	unsigned char buf[4096];
	CHECK(vimg_read(&d, 0, buf, sizeof(buf)) == (long long)sizeof(buf));
	CHECK(vimg_read(&d, n - 100, buf, 100) == -1);
	CHECK(vimg_read(&d, n - 100, buf, 100) == -1); /* and stays so */
	CHECK(vimg_read(&d, 100, buf, 100) == 100);    /* the head is kept */
	vimg_reader_close(&d);
	vmie_error_clear(&err);
	vbuf_free(&bad);
}

/* Framing the tools produce: a zstd skippable frame first (pzstd, seekable
 * zstd), xz stream padding between concatenated streams, bytes after the
 * last gzip member; and a zstd window too large to accept. */
static void test_framing(const vbuf *xzv, const vbuf *zsv,
			 const unsigned char *plain, size_t n)
{
	vbuf z = VBUF_INIT, out = VBUF_INIT;
	vmie_error err = {0};
	vimg_reader r;
	uint64_t sz = 0;

	vbuf_add(&z, "\x5e\x2a\x4d\x18\x05\0\0\0hello", 13);
	vbuf_add(&z, zsv->data, zsv->len);
	CHECK(vdec_detect(z.data, z.len) == VIMG_COMP_ZSTD);
	CHECK(decode_all(VIMG_COMP_ZSTD, &z, 5, 4099, &out, &err) == 0);
	CHECK(out.len == n && memcmp(out.data, plain, n) == 0);
	vimg_reader_mem(&r, z.data, z.len);
	CHECK(vimg_size_hint(&r, VIMG_COMP_ZSTD, &sz) && sz == n);
	vbuf_free(&z);
	vbuf_free(&out);

	vbuf_add(&z, xzv->data, xzv->len);
	vbuf_add(&z, "\0\0\0\0\0\0\0\0", 8);
	vbuf_add(&z, xzv->data, xzv->len);
	vbuf_add(&z, "\0\0\0\0", 4);
	CHECK(decode_all(VIMG_COMP_XZ, &z, 1000, 70000, &out, &err) == 0);
	CHECK(out.len == 2 * n && memcmp(out.data, plain, n) == 0 &&
	      memcmp(out.data + n, plain, n) == 0);
	vimg_reader_mem(&r, z.data, z.len);
	CHECK(vimg_size_hint(&r, VIMG_COMP_XZ, &sz) && sz == 2 * n);
	vbuf_free(&out);
	/* Padding that is not a multiple of four is corrupt, as xz says. */
	vbuf_add(&z, "\0", 1);
	CHECK(decode_all(VIMG_COMP_XZ, &z, 1000, 70000, &out, &err) == -1);
	vmie_error_clear(&err);
	vbuf_free(&z);
	vbuf_free(&out);

	/* A zstd frame that asks for a 256 MiB window (zstd --long=28) is
	 * refused, saying why, before anything that large is allocated. */
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 28);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	vbuf_grow(&z, ZSTD_compressBound(1000));
	ZSTD_inBuffer ib = {plain, 1000, 0};
	ZSTD_outBuffer ob = {z.data, ZSTD_compressBound(1000), 0};
	/* Streamed (size unknown when the frame starts), or the encoder
	 * would shrink the window to the input. */
	ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
	while (ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end) != 0)
		;
	z.len = ob.pos;
	ZSTD_freeCCtx(c);
	CHECK(decode_all(VIMG_COMP_ZSTD, &z, 1000, 1000, &out, &err) == -1);
	CHECK_CONTAINS(err.message, "window");
	vmie_error_clear(&err);
	vbuf_free(&z);
	vbuf_free(&out);

	gz(plain, 1000, &z);
	vbuf_add(&z, "\0\0\0\0trailing", 12);
	CHECK(decode_all(VIMG_COMP_GZIP, &z, 7, 100, &out, &err) == 0);
	CHECK(out.len == 1000 && memcmp(out.data, plain, 1000) == 0);
	vbuf_free(&z);
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
	CHECK(vimg_size_hint(&r, VIMG_COMP_XZ, &sz) && sz == n);
	vimg_reader_mem(&r, cases[3].z.data, cases[3].z.len);
	CHECK(vimg_size_hint(&r, VIMG_COMP_XZ, &sz) && sz == n);
	vimg_reader_mem(&r, cases[4].z.data, cases[4].z.len);
	CHECK(vimg_size_hint(&r, VIMG_COMP_XZ, &sz) && sz == n);
	vimg_reader_mem(&r, cases[7].z.data, cases[7].z.len);
	CHECK(vimg_size_hint(&r, VIMG_COMP_ZSTD, &sz) && sz == n);
	vimg_reader_mem(&r, cases[8].z.data, cases[8].z.len);
	CHECK(!vimg_size_hint(&r, VIMG_COMP_ZSTD, &sz));
	vimg_reader_mem(&r, cases[0].z.data, cases[0].z.len);
	CHECK(!vimg_size_hint(&r, VIMG_COMP_GZIP, &sz));
	vimg_reader_mem(&r, cases[2].z.data, cases[2].z.len - 1);
	CHECK(!vimg_size_hint(&r, VIMG_COMP_XZ, &sz));

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
		CHECK(vimg_read(&d, n + 12345, buf, 10) == 0);
		/* Both sides of block boundaries, past the head and in it. */
		for (uint64_t k = 1; k * 65536 < n; k += 7) {
			uint64_t o = k * 65536 - 3;
			CHECK(vimg_read(&d, o, buf, 6) == 6 &&
			      memcmp(buf, plain + o, 6) == 0);
		}
		/* Random places and lengths, in random order. */
		unsigned x = 7 + (unsigned)i;
		int bad = 0;
		for (int j = 0; j < 24; j++) {
			x = x * 1103515245u + 12345u;
			uint64_t o = (uint64_t)(x >> 4) % (n + 1000);
			x = x * 1103515245u + 12345u;
			size_t len = 1 + (x >> 8) % sizeof(buf);
			size_t want = o >= n ? 0 : o + len > n ? n - o : len;
			long long got = vimg_read(&d, o, buf, len);
			bad += got != (long long)want ||
			       memcmp(buf, plain + (o < n ? o : 0), want) != 0;
		}
		CHECK_INT(bad, 0);
		vimg_reader_close(&d);
		vmie_error_clear(&err);
		/* A limit below the decoded size refuses the stream. */
		CHECK(vimg_reader_decompress(&d, &r, cases[i].c, MIB, &err) == -1);
		CHECK(err.message != NULL);
		vmie_error_clear(&err);
	}

	test_reader_damage(&cases[0].z, &cases[2].z, n);
	test_framing(&cases[2].z, &cases[7].z, plain, n);

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

/* 256 MiB, mostly zeros, streamed into gzip and zstd (no size in the
 * header) a MiB at a time: the reader counts it at open, reads the end,
 * goes back (a restart), and its peak memory stays a few MiB whatever the
 * size.  Each MiB carries its number, so reads are checked. */
#define BIG_MIB 256u

static void big_mib(unsigned char *p, unsigned k)
{
	memset(p, 0, MIB);
	memcpy(p + 12345, &k, sizeof(k));
}

static void big_stream(vimg_compression c, vbuf *out)
{
	unsigned char *p = malloc(MIB);
	z_stream z = {0};
	ZSTD_CCtx *zc = NULL;

	if (c == VIMG_COMP_GZIP)
		deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	else
		zc = ZSTD_createCCtx();
	for (unsigned k = 0; k < BIG_MIB; k++) {
		big_mib(p, k);
		bool last = k + 1 == BIG_MIB;
		if (c == VIMG_COMP_GZIP) {
			z.next_in = p;
			z.avail_in = MIB;
			do {
				vbuf_grow(out, 64 << 10);
				z.next_out = (Bytef *)out->data + out->len;
				z.avail_out = 64 << 10;
				deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
				out->len += (64 << 10) - z.avail_out;
			} while (z.avail_in || (last && z.avail_out == 0));
			continue;
		}
		ZSTD_inBuffer ib = {p, MIB, 0};
		size_t left;
		do {
			vbuf_grow(out, 64 << 10);
			ZSTD_outBuffer ob = {out->data + out->len, 64 << 10, 0};
			left = ZSTD_compressStream2(zc, &ob, &ib,
						    last ? ZSTD_e_end : ZSTD_e_continue);
			out->len += ob.pos;
		} while (ib.pos < ib.size || (last && left));
	}
	if (c == VIMG_COMP_GZIP)
		deflateEnd(&z);
	ZSTD_freeCCtx(zc);
	free(p);
}

static long peak_kib(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss;
}

static void test_bounded(vimg_compression c)
{
	vbuf z = VBUF_INIT;
	vimg_reader r, d;
	vmie_error err = {0};
	uint64_t sz;
	unsigned char *want = malloc(MIB), got[4096];

	big_stream(c, &z);
	vimg_reader_mem(&r, z.data, z.len);
	CHECK(!vimg_size_hint(&r, c, &sz));
	long before = peak_kib();
	CHECK(vimg_reader_decompress(&d, &r, c, 0, &err) == 0);
	CHECK(d.size == (uint64_t)BIG_MIB * MIB);
	static const unsigned order[] = {BIG_MIB - 1, 2, 200, 3, 0, 130};
	int bad = 0;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		uint64_t at = (uint64_t)order[i] * MIB + 12345 - 1000;
		big_mib(want, order[i]);
		bad += vimg_read(&d, at, got, sizeof(got)) != (long long)sizeof(got) ||
		       memcmp(got, want + 12345 - 1000, sizeof(got)) != 0;
	}
	CHECK_INT(bad, 0);
	CHECK(vimg_read(&d, d.size - 10, got, 100) == 10);
	long grew = peak_kib() - before;
	/* The reader holds ~3.3 MiB plus the decoder's state; the limit
	 * leaves room for the sanitizers' bookkeeping, far below 256 MiB. */
	CHECK(grew < 48 * 1024);
	printf("decompressing reader over %u MiB of %s: peak memory +%ld KiB\n",
	       BIG_MIB, vimg_compression_name(c), grew);
	vimg_reader_close(&d);
	vmie_error_clear(&err);
	vbuf_free(&z);
	free(want);
}

static double seconds_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* The pipeline's way: 256 KiB of input at a time into a 1 MiB buffer
 * that is then dropped (the upload would send it).  Seconds, or -1. */
static double time_decode(vimg_compression c, unsigned threads, const vbuf *z)
{
	vdec *d = vdec_new(c, threads);
	unsigned char *piece = malloc(MIB);
	size_t fed = 0;
	struct timespec a;
	double s = -1;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (;;) {
		size_t avail = z->len - fed < (256u << 10) ? z->len - fed : 256u << 10;
		const unsigned char *ip = (const unsigned char *)z->data + fed;
		size_t il = avail, ol = MIB;
		unsigned char *op = piece;
		vdec_result rc = vdec_run(d, &ip, &il, &op, &ol, fed + avail == z->len, NULL);
		fed += avail - il;
		if (rc == VDEC_ERROR)
			break;
		if (rc == VDEC_END) {
			s = seconds_since(&a);
			break;
		}
	}
	free(piece);
	vdec_free(d);
	return s;
}

/* zlib's inflate on the same gzip data, for comparison with ISA-L. */
static double time_zlib(const vbuf *zv)
{
	unsigned char *piece = malloc(MIB);
	z_stream z = {0};
	struct timespec a;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &a);
	inflateInit2(&z, 16 + MAX_WBITS);
	z.next_in = (Bytef *)zv->data;
	z.avail_in = (uInt)zv->len;
	do {
		z.next_out = piece;
		z.avail_out = MIB;
		rc = inflate(&z, Z_NO_FLUSH);
	} while (rc == Z_OK);
	inflateEnd(&z);
	free(piece);
	return rc == Z_STREAM_END ? seconds_since(&a) : -1;
}

/* Information only: decode rates on this machine (never asserted), in
 * MiB of output per second, on the disk-like sample. */
static void rates(void)
{
	/* xz and bzip2 encode slowly: a quarter of the size for those. */
	size_t n = 64 * MIB, nq = 16 * MIB;
	unsigned char *plain = sample(n, 3);
	vbuf g = VBUF_INIT, x = VBUF_INIT, b = VBUF_INIT, zz = VBUF_INIT;
	gz(plain, n, &g);
	xz(plain, nq, true, &x);
	bz(plain, nq, &b);
	zs(plain, n, false, &zz);
#ifdef VMIE_HAVE_ISAL
	const char *gzname = "gzip(isa-l)";
#else
	const char *gzname = "gzip(zlib)";
#endif
	struct { const char *name; vimg_compression c; unsigned threads;
		 const vbuf *z; size_t n; } r[] = {
		{gzname, VIMG_COMP_GZIP, 1, &g, n},
		{"xz(1 thread)", VIMG_COMP_XZ, 1, &x, nq},
		{"xz(2 threads, 256 KiB blocks)", VIMG_COMP_XZ, 2, &x, nq},
		{"bzip2", VIMG_COMP_BZIP2, 1, &b, nq},
		{"zstd", VIMG_COMP_ZSTD, 1, &zz, n},
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		double s = time_decode(r[i].c, r[i].threads, r[i].z);
		CHECK(s >= 0);
		printf("decode %s: %.0f MiB/s (%zu MiB)\n", r[i].name,
		       (double)r[i].n / MIB / s, r[i].n / MIB);
	}
	double s = time_zlib(&g);
	printf("decode gzip with plain zlib inflate, for comparison: %.0f MiB/s\n",
	       (double)n / MIB / s);
	vbuf_free(&g);
	vbuf_free(&x);
	vbuf_free(&b);
	vbuf_free(&zz);
	free(plain);
}

int main(void)
{
	/* First, while the process's peak memory is still low. */
	test_bounded(VIMG_COMP_GZIP);
	test_bounded(VIMG_COMP_ZSTD);
	test_detect_near_misses();
	test_codecs(150000);
	test_codecs(3 * MIB + 333);
	test_garbage();
	rates();
	return check_done("decode");
}
