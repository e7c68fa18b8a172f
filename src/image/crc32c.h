/*
 * CRC32C (Castagnoli), the checksum VHDX puts in its headers, region tables
 * and log entries.  Table-driven; fast enough for the few KiB we check.
 */
#ifndef VMIE_IMAGE_CRC32C_H
#define VMIE_IMAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC32C: pass 0 to start; vimg_crc32c(0, "123456789", 9) is
 * 0xE3069283.  Chaining calls gives the CRC of the concatenation. */
uint32_t vimg_crc32c(uint32_t crc, const void *data, size_t len);

#endif
