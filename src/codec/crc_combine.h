/*
 * The CRC of A followed by B from the CRCs of A and B and B's length
 * (zlib's crc32_combine, for any reflected CRC up to 64 bits wide whose
 * initial value equals its final XOR, as CRC32C's and CRC-64/NVME's do:
 * those cancel in the XOR with B's CRC).  What lets a download make the
 * whole object's CRC from chunks fetched out of order, without a re-read.
 */
#ifndef VMIE_CODEC_CRC_COMBINE_H
#define VMIE_CODEC_CRC_COMBINE_H

#include <stdint.h>

/* poly: the reflected polynomial; width: the CRC's bits (1 to 64). */
uint64_t vcrc_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b,
		      uint64_t poly, unsigned width);

#endif
