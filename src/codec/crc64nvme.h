/*
 * CRC-64/NVME, the full-object checksum S3 gives new objects since late
 * 2024 (x-amz-checksum-crc64nvme): width 64, polynomial 0xAD93D23594C93659,
 * reflected, initial value and final XOR all ones.  Debian 12's ISA-L has
 * no routine for it, so this is a slice-by-16 table version.  Start from 0
 * and chain calls: the CRC of a concatenation; vcrc64nvme(0, "123456789",
 * 9) is 0xAE8B14860A799888.
 */
#ifndef VMIE_CODEC_CRC64NVME_H
#define VMIE_CODEC_CRC64NVME_H

#include <stddef.h>
#include <stdint.h>

uint64_t vcrc64nvme(uint64_t crc, const void *data, size_t len);

/* The CRC of A followed by B from crc_a, crc_b and B's length: chunks
 * fetched out of order make the whole object's CRC without a re-read. */
uint64_t vcrc64nvme_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

/* As S3 shows it: the big-endian bytes, base64 (out[13], NUL-ended). */
void vcrc64nvme_b64(uint64_t crc, char out[13]);

#endif
