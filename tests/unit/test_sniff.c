/* The pipeline's sniffer: what it keeps of a stream fed in any chunking,
 * the format it names at the end, and the head-only checks. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "transfer/sniff.h"

static unsigned char *pattern(size_t n)
{
	unsigned char *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + (i >> 9));
	return p;
}

static void feed_in(vsniff *s, const unsigned char *p, size_t n, size_t chunk)
{
	for (size_t off = 0; off < n; off += chunk)
		vsniff_feed(s, p + off, n - off < chunk ? n - off : chunk);
}

static void test_keeps_head_and_tail(size_t n, size_t chunk)
{
	unsigned char *p = pattern(n);
	unsigned char buf[4096];
	vsniff s;
	vimg_reader r;

	vsniff_init(&s);
	feed_in(&s, p, n, chunk);
	vsniff_reader(&s, &r);
	CHECK(r.size == n);
	size_t h = n < 512 ? n : 512, t = n < 4096 ? n : 4096;
	CHECK(vimg_read_exact(&r, 0, buf, h) && memcmp(buf, p, h) == 0);
	CHECK(vimg_read_exact(&r, n - t, buf, t) &&
	      memcmp(buf, p + n - t, t) == 0);
	if (n > VSNIFF_HEAD + VSNIFF_TAIL + 8192) {
		/* Neither head nor tail: not kept, an error, never zeros. */
		CHECK(vimg_read(&r, VSNIFF_HEAD + 4096, buf, 512) == -1);
		CHECK(vimg_read_exact(&r, n - VSNIFF_TAIL, buf, 4096) &&
		      memcmp(buf, p + n - VSNIFF_TAIL, 4096) == 0);
	}
	CHECK(vimg_read(&r, n, buf, 1) == 0);
	vsniff_free(&s);
	free(p);
}

static void test_format_at_the_end(void)
{
	size_t n = 3u << 20;
	unsigned char *p = calloc(1, n);
	vsniff s;

	/* A fixed VHD is RAW data with a footer: only the end tells. */
	memcpy(p + n - 512, "conectix", 8);
	vsniff_init(&s);
	feed_in(&s, p, n, 100000);
	CHECK(vsniff_format(&s) == VIMG_VHD);
	vsniff_free(&s);

	memset(p + n - 512, 0, 8);
	vsniff_init(&s);
	feed_in(&s, p, n, 1 << 20);
	CHECK(vsniff_format(&s) == VIMG_RAW);
	vsniff_free(&s);
	free(p);
}

static void test_from_ends(void)
{
	size_t n = 5u << 20;
	unsigned char *p = pattern(n);
	unsigned char buf[512];
	vsniff s;
	vimg_reader r;

	memcpy(p + n - 512, "conectix", 8);
	vsniff_from_ends(&s, p, VSNIFF_HEAD, p + n - VSNIFF_TAIL, VSNIFF_TAIL, n);
	vsniff_reader(&s, &r);
	CHECK(r.size == n);
	CHECK(vimg_read_exact(&r, 100, buf, 512) && memcmp(buf, p + 100, 512) == 0);
	CHECK(vimg_read_exact(&r, n - 1000, buf, 512) &&
	      memcmp(buf, p + n - 1000, 512) == 0);
	CHECK(vimg_read(&r, 2u << 20, buf, 512) == -1);
	CHECK(vsniff_format(&s) == VIMG_VHD);
	vsniff_free(&s);
	free(p);
}

static bool has_code(const vimg_info *info, const char *code)
{
	for (size_t i = 0; i < info->nfindings; i++)
		if (strcmp(info->findings[i].code, code) == 0)
			return true;
	return false;
}

static void test_head_checks(void)
{
	size_t n = 4u << 20;
	unsigned char *p = calloc(1, n);
	vimg_info info = {0};

	memcpy(p, "QFI\xfb\0\0\0\3", 8);
	vsniff_check_head(p, n, &info);
	CHECK(info.format == VIMG_QCOW2);
	CHECK(has_code(&info, "unsupported-qcow2"));
	CHECK(vimg_has_errors(&info));
	vimg_info_free(&info);

	memset(p, 0, 8);
	vsniff_check_head(p, n, &info);
	CHECK(info.format == VIMG_RAW);
	CHECK(has_code(&info, "raw-no-partition-table"));
	vimg_info_free(&info);

	/* An MBR whose partition runs past the head: that is not the
	 * head's to judge, so no finding. */
	unsigned char *e = p + 446;
	e[4] = 0x83;
	e[8] = 0x00; e[9] = 0x08;              /* LBA 2048 */
	e[12] = 0x00; e[13] = 0x00; e[14] = 0x10; /* 1 Mi sectors */
	p[510] = 0x55;
	p[511] = 0xaa;
	vsniff_check_head(p, n, &info);
	CHECK(info.format == VIMG_RAW);
	CHECK_INT((long)info.nfindings, 0L);
	vimg_info_free(&info);
	free(p);
}

/* A resumed upload: the head read again, the parts already in S3
 * skipped, the rest fed.  What was skipped is not there; what was fed
 * after it reads back at its offsets, also when less than a tail's worth
 * came after the skip. */
static void test_skip(size_t after)
{
	size_t head = 1u << 20, gap = 7u << 20, n = head + gap + after;
	unsigned char *p = pattern(n);
	unsigned char buf[4096];
	vsniff s;
	vimg_reader r;
	vsniff_init(&s);
	feed_in(&s, p, head, 65536);
	vsniff_skip(&s, gap);
	feed_in(&s, p + head + gap, after, 1000);
	vsniff_reader(&s, &r);
	CHECK(r.size == n);
	CHECK(vimg_read_exact(&r, 0, buf, 512) && memcmp(buf, p, 512) == 0);
	size_t t = after < 4096 ? after : 4096;
	CHECK(vimg_read_exact(&r, n - t, buf, t) && memcmp(buf, p + n - t, t) == 0);
	CHECK(vimg_read(&r, head + gap - 512, buf, 512) == -1);
	vsniff_free(&s);
	free(p);
}

int main(void)
{
	test_skip(3u << 20);
	test_skip(1000);
	test_keeps_head_and_tail(100, 7);
	test_keeps_head_and_tail(VSNIFF_HEAD + 10, 4096);
	test_keeps_head_and_tail((5u << 20) + 333, 65537);
	test_keeps_head_and_tail((5u << 20) + 333, 3u << 20);
	test_keeps_head_and_tail(VSNIFF_TAIL + 1, 1);
	test_format_at_the_end();
	test_from_ends();
	test_head_checks();
	return check_done("sniff");
}
