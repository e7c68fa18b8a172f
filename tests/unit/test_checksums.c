/*
 * The codec's checksums: CRC32C (the fast implementation against the
 * portable table, the published check value, combining) and CRC-64/NVME
 * (the published check value, slice-by-16 against a bit-at-a-time
 * reference at every length and alignment, combining, S3's base64).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/crc32c.h"
#include "codec/crc64nvme.h"

static void fill(unsigned char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

static void test_crc32c(void)
{
	CHECK_INT(vcrc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_INT(vcrc32c_portable(0, "123456789", 9), 0xE3069283u);
	CHECK_INT(vcrc32c(0, "", 0), 0);
	/* RFC 3720 B.4 vectors */
	static const unsigned char zeros[32];
	unsigned char ones[32];
	memset(ones, 0xff, sizeof(ones));
	CHECK_INT(vcrc32c(0, zeros, 32), 0x8A9136AAu);
	CHECK_INT(vcrc32c_portable(0, ones, 32), 0x62A8AB43u);
	CHECK_INT(vcrc32c(vcrc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	unsigned char buf[4200];
	fill(buf, sizeof buf, 3);
	/* Every alignment and the lengths around the fast paths' steps. */
	for (size_t off = 0; off < 16; off++)
		for (size_t n = 0; n + off <= sizeof buf; n += n < 64 ? 1 : 97)
			CHECK_INT(vcrc32c(0, buf + off, n),
				  vcrc32c_portable(0, buf + off, n));
	char b64[9];
	vcrc32c_b64(0xE3069283u, b64);
	CHECK_STR(b64, "4waSgw==");
}

static void test_crc32c_combine(void)
{
	unsigned char buf[70000];
	fill(buf, sizeof buf, 7);
	uint32_t whole = vcrc32c(0, buf, sizeof buf);
	size_t cuts[] = {0, 1, 3, 4096, 33333, 69999, sizeof buf};
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		size_t k = cuts[i];
		uint32_t a = vcrc32c(0, buf, k);
		uint32_t b = vcrc32c(0, buf + k, sizeof buf - k);
		CHECK_INT(vcrc32c_combine(a, b, sizeof buf - k), whole);
	}
	/* Three pieces, combined left to right. */
	uint32_t c = vcrc32c_combine(vcrc32c(0, buf, 100),
				     vcrc32c(0, buf + 100, 5000), 5000);
	c = vcrc32c_combine(c, vcrc32c(0, buf + 5100, sizeof buf - 5100),
			    sizeof buf - 5100);
	CHECK_INT(c, whole);
}

/* CRC-64/NVME one bit at a time, straight from its definition. */
static uint64_t crc64_reference(const unsigned char *p, size_t n)
{
	uint64_t c = ~0ull;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x9A6C9329AC4BC9B5ull : c >> 1;
	}
	return ~c;
}

static void test_crc64nvme(void)
{
	/* The catalogue's check value and residue-free edge cases. */
	CHECK(vcrc64nvme(0, "123456789", 9) == 0xAE8B14860A799888ull);
	CHECK(vcrc64nvme(0, "", 0) == 0);
	unsigned char buf[1200];
	fill(buf, sizeof buf, 11);
	for (size_t off = 0; off < 16; off++)
		for (size_t n = 0; n + off <= sizeof buf; n += n < 48 ? 1 : 61)
			CHECK(vcrc64nvme(0, buf + off, n) ==
			      crc64_reference(buf + off, n));
	/* Chained calls give the CRC of the concatenation. */
	uint64_t chained = vcrc64nvme(vcrc64nvme(0, buf, 5), buf + 5, 995);
	CHECK(chained == vcrc64nvme(0, buf, 1000));
	char b64[13];
	vcrc64nvme_b64(0xAE8B14860A799888ull, b64);
	CHECK_STR(b64, "rosUhgp5mIg=");
	vcrc64nvme_b64(0, b64);
	CHECK_STR(b64, "AAAAAAAAAAA=");
}

static void test_crc64nvme_combine(void)
{
	size_t n = 300000;
	unsigned char *buf = malloc(n);
	fill(buf, n, 5);
	uint64_t whole = vcrc64nvme(0, buf, n);
	size_t cuts[] = {0, 1, 15, 16, 4096, 123457, n - 1, n};
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		size_t k = cuts[i];
		uint64_t a = vcrc64nvme(0, buf, k);
		uint64_t b = vcrc64nvme(0, buf + k, n - k);
		CHECK(vcrc64nvme_combine(a, b, n - k) == whole);
	}
	/* A zero-filled stretch, as a hole in a disk image reads. */
	memset(buf, 0, 65536);
	CHECK(vcrc64nvme_combine(vcrc64nvme(0, buf, 40000),
				 vcrc64nvme(0, buf + 40000, 25536),
				 25536) == vcrc64nvme(0, buf, 65536));
	free(buf);
}

int main(void)
{
	test_crc32c();
	test_crc32c_combine();
	test_crc64nvme();
	test_crc64nvme_combine();
	return check_done("checksums");
}
