/*
 * The fast CRC32C.  ISA-L's crc32_iscsi neither inverts the register on
 * entry nor on exit (it continues a raw register), so the standard
 * CRC32C, which does both, is ~crc32_iscsi(data, len, ~crc).
 */
#include "codec/crc32c.h"
#include "codec/crc_combine.h"
#include <string.h>

/* Reflected Castagnoli polynomial. */
#define POLY 0x82F63B78u

uint32_t vcrc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	return (uint32_t)vcrc_combine(crc_a, crc_b, len_b, POLY, 32);
}

#if defined(VMIE_HAVE_ISAL)
#include <isa-l/crc.h>

uint32_t vcrc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t r = ~crc;
	while (len > 0) {
		/* crc32_iscsi takes an int length. */
		size_t n = len > (1u << 30) ? (1u << 30) : len;
		r = crc32_iscsi((unsigned char *)p, (int)n, r);
		p += n;
		len -= n;
	}
	return ~r;
}

const char *vcrc32c_impl(void)
{
	return "isa-l";
}

#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#include <string.h>

__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t r = ~crc;
	while (len > 0 && ((uintptr_t)p & 7)) {
		r = _mm_crc32_u8((uint32_t)r, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		r = _mm_crc32_u64(r, v);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		r = _mm_crc32_u8((uint32_t)r, *p++);
	return ~(uint32_t)r;
}

static int have_sse42(void)
{
	return __builtin_cpu_supports("sse4.2");
}

uint32_t vcrc32c(uint32_t crc, const void *data, size_t len)
{
	if (have_sse42())
		return crc_sse42(crc, data, len);
	return vcrc32c_portable(crc, data, len);
}

const char *vcrc32c_impl(void)
{
	return have_sse42() ? "sse4.2" : "table";
}

#else

uint32_t vcrc32c(uint32_t crc, const void *data, size_t len)
{
	return vcrc32c_portable(crc, data, len);
}

const char *vcrc32c_impl(void)
{
	return "table";
}

#endif

void vcrc32c_be(uint32_t crc, unsigned char out[4])
{
	out[0] = (unsigned char)(crc >> 24);
	out[1] = (unsigned char)(crc >> 16);
	out[2] = (unsigned char)(crc >> 8);
	out[3] = (unsigned char)crc;
}

void vcrc32c_b64(uint32_t crc, char out[9])
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char b[4];
	vcrc32c_be(crc, b);
	out[0] = a[b[0] >> 2];
	out[1] = a[((b[0] & 3) << 4) | (b[1] >> 4)];
	out[2] = a[((b[1] & 15) << 2) | (b[2] >> 6)];
	out[3] = a[b[2] & 63];
	out[4] = a[b[3] >> 2];
	out[5] = a[(b[3] & 3) << 4];
	out[6] = '=';
	out[7] = '=';
	out[8] = '\0';
}

bool vcrc32c_from_b64(const char *b64, uint32_t *crc)
{
	uint64_t v = 0;
	char again[9];
	if (!b64 || strlen(b64) != 8 || strcmp(b64 + 6, "==") != 0)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *p = strchr(a, b64[i]);
		if (!p || !b64[i])
			return false;
		v = (v << 6) | (uint32_t)(p - a);
	}
	/* 36 bits read, the 4 low ones padding. */
	*crc = (uint32_t)(v >> 4);
	vcrc32c_b64(*crc, again);
	return strcmp(again, b64) == 0;
}
