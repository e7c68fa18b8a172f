/*
 * CRC-64/NVME (crc64nvme.h).  Slice-by-16 over the tables the build
 * generates (crc64nvme_table.h): sixteen bytes per step.
 */
#include "codec/crc64nvme.h"
#include "codec/crc64nvme_table.h"
#include "codec/crc_combine.h"

/* The reflected polynomial: 0xAD93D23594C93659 bit-reversed. */
#define POLY 0x9A6C9329AC4BC9B5ull
#define table vcrc64nvme_table

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t vcrc64nvme(uint64_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t r = ~crc;
	while (len >= 16) {
		uint64_t a = r ^ load_le64(p);
		uint64_t b = load_le64(p + 8);
		r = table[15][a & 0xff] ^ table[14][(a >> 8) & 0xff] ^
		    table[13][(a >> 16) & 0xff] ^ table[12][(a >> 24) & 0xff] ^
		    table[11][(a >> 32) & 0xff] ^ table[10][(a >> 40) & 0xff] ^
		    table[9][(a >> 48) & 0xff] ^ table[8][a >> 56] ^
		    table[7][b & 0xff] ^ table[6][(b >> 8) & 0xff] ^
		    table[5][(b >> 16) & 0xff] ^ table[4][(b >> 24) & 0xff] ^
		    table[3][(b >> 32) & 0xff] ^ table[2][(b >> 40) & 0xff] ^
		    table[1][(b >> 48) & 0xff] ^ table[0][b >> 56];
		p += 16;
		len -= 16;
	}
	while (len--)
		r = table[0][(r ^ *p++) & 0xff] ^ (r >> 8);
	return ~r;
}

uint64_t vcrc64nvme_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
	return vcrc_combine(crc_a, crc_b, len_b, POLY, 64);
}

void vcrc64nvme_b64(uint64_t crc, char out[13])
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char b[9] = {0};
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(crc >> (56 - 8 * i));
	for (int g = 0; g < 3; g++) {
		const unsigned char *s = b + 3 * g;
		out[4 * g] = a[s[0] >> 2];
		out[4 * g + 1] = a[((s[0] & 3) << 4) | (s[1] >> 4)];
		out[4 * g + 2] = a[((s[1] & 15) << 2) | (s[2] >> 6)];
		out[4 * g + 3] = a[s[2] & 63];
	}
	out[11] = '='; /* 8 bytes: the last group holds 2 */
	out[12] = '\0';
}
