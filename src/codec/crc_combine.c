/*
 * CRC combination in GF(2) (crc_combine.h).
 */
#include "codec/crc_combine.h"

/* a * b modulo the polynomial, reflected: the top bit (top) is x^0. */
static uint64_t multmodp(uint64_t a, uint64_t b, uint64_t poly, uint64_t top)
{
	uint64_t m = top, p = 0;
	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ poly : b >> 1;
	}
	return p;
}

/* Appending len_b bytes multiplies A's register by x^(8 len_b): computed
 * by squaring x^8, bit by bit of len_b. */
uint64_t vcrc_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b,
		      uint64_t poly, unsigned width)
{
	uint64_t top = 1ull << (width - 1);
	uint64_t sq = top >> 1; /* x^1 */
	for (int i = 0; i < 3; i++)
		sq = multmodp(sq, sq, poly, top); /* x^8 */
	uint64_t p = top; /* x^0 */
	for (uint64_t n = len_b; n; n >>= 1) {
		if (n & 1)
			p = multmodp(sq, p, poly, top);
		sq = multmodp(sq, sq, poly, top);
	}
	return multmodp(p, crc_a, poly, top) ^ crc_b;
}
