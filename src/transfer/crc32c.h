/*
 * CRC32C at memory speed, for the upload's per-part checksums (S3's
 * x-amz-checksum-crc32c): ISA-L's crc32_iscsi when vmie is built with it,
 * else the CPU's crc32 instruction (x86 SSE4.2), else image/crc32c.c's
 * table.  Same convention as vimg_crc32c: start from 0, chain calls;
 * vcrc32c(0, "123456789", 9) is 0xE3069283.
 */
#ifndef VMIE_TRANSFER_CRC32C_H
#define VMIE_TRANSFER_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t vcrc32c(uint32_t crc, const void *data, size_t len);

/* "isa-l", "sse4.2" or "table": for logs and benchmarks. */
const char *vcrc32c_impl(void);

#endif
