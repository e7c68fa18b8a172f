/* The slice-by-16 tables of CRC-64/NVME, generated at build time by
 * scripts/crc64nvme_table.py; only crc64nvme.c reads them. */
#ifndef VMIE_CODEC_CRC64NVME_TABLE_H
#define VMIE_CODEC_CRC64NVME_TABLE_H

#include <stdint.h>

extern const uint64_t vcrc64nvme_table[16][256];

#endif
