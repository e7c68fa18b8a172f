/*
 * The AWS CLI's S3 transfer settings, which users already keep in their
 * profile (`aws configure set default.s3.max_bandwidth 50MB/s`):
 *
 *   [profile dev]
 *   s3 =
 *     max_concurrent_requests = 20
 *     multipart_threshold = 64MB
 *     multipart_chunksize = 16MB
 *     max_bandwidth = 50MB/s
 *
 * read with the CLI's rules (awscli/customizations/s3/transferconfig.py):
 * sizes are bytes or a number with KB, MB, GB, TB (powers of 1024; KiB ...
 * too); rates are a size per second, "10MB/s" in bytes or "80Mb/s" in
 * bits; every value must be a positive integer.
 */
#ifndef VMIE_AWS_S3_TRANSFER_CONFIG_H
#define VMIE_AWS_S3_TRANSFER_CONFIG_H

#include <stdint.h>

#include "aws/config.h"
#include "vmie.h"

typedef struct vaws_s3_transfer {
	unsigned max_concurrent_requests; /* 0: unset */
	uint64_t multipart_threshold;     /* bytes; 0: unset */
	uint64_t multipart_chunksize;     /* bytes; 0: unset */
	uint64_t max_bandwidth;           /* bytes per second; 0: unset */
} vaws_s3_transfer;

/* The profile's s3 settings; VMIE_ERR_AWS_CONFIG_INVALID naming the key
 * and the file when a value is not valid. */
int vaws_s3_transfer_load(const vaws_config *cfg, vaws_s3_transfer *out,
			  vmie_error *err);

/* "8MB" -> 8388608.  0, or -1 when s is not a size. */
int vaws_parse_size(const char *s, uint64_t *out);
/* "50MB/s" -> 52428800, "80Mb/s" -> 10485760.  0, or -1. */
int vaws_parse_rate(const char *s, uint64_t *out);

#endif
