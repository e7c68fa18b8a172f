/*
 * CRC32C (Castagnoli), vmie's one implementation: S3's per-part and
 * whole-object checksums (x-amz-checksum-crc32c) at memory speed, and the
 * checksums VHDX puts in its headers and logs.  ISA-L's crc32_iscsi when
 * vmie is built with it, else the CPU's crc32 instruction (x86 SSE4.2),
 * else a table.  Start from 0 and chain calls: the CRC of a concatenation;
 * vcrc32c(0, "123456789", 9) is 0xE3069283.
 */
#ifndef VMIE_CODEC_CRC32C_H
#define VMIE_CODEC_CRC32C_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

uint32_t vcrc32c(uint32_t crc, const void *data, size_t len);
/* The table version every build has (crc32c_table.c), same results. */
uint32_t vcrc32c_portable(uint32_t crc, const void *data, size_t len);

/* The CRC32C of A followed by B from crc_a, crc_b and B's length (zlib's
 * crc32_combine for the Castagnoli polynomial): the downloader's chunks,
 * fetched out of order, make the whole object's CRC without a re-read. */
uint32_t vcrc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/* A CRC32C as S3 shows it (x-amz-checksum-crc32c): its big-endian bytes,
 * and their base64 (out[9], NUL-terminated). */
void vcrc32c_be(uint32_t crc, unsigned char out[4]);
void vcrc32c_b64(uint32_t crc, char out[9]);
/* The other way (ListParts' ChecksumCRC32C): false when b64 is not the
 * base64 of 4 bytes. */
bool vcrc32c_from_b64(const char *b64, uint32_t *crc);

/* "isa-l", "sse4.2" or "table": for logs and benchmarks. */
const char *vcrc32c_impl(void);

#endif
