/*
 * How a run's transfers go: the AWS CLI's s3 settings of the profile
 * (aws/s3_transfer_config.h) with --max-bandwidth over s3.max_bandwidth,
 * for the import's upload and the download.
 */
#ifndef VMIE_WORKFLOW_TRANSFER_SETTINGS_H
#define VMIE_WORKFLOW_TRANSFER_SETTINGS_H

#include <stdint.h>

#include "workflow/run_ctx.h"

typedef struct vwf_transfer {
	unsigned parallel;     /* requests in flight; 0: the engine's */
	uint64_t chunk_size;   /* part / range size; 0: the engine's */
	uint64_t threshold;    /* below it, one request; 0: none */
	uint64_t max_bps;      /* bytes per second; 0: no cap */
} vwf_transfer;

/* VMIE_ERR_AWS_CONFIG_INVALID for a bad s3 setting in the profile. */
int vwf_transfer_settings(vwf_run *r, vwf_transfer *out, vmie_error *err);

/* The upload's part size for a stream of `size` bytes (0: unknown):
 * s3.multipart_chunksize, or one part for the whole when it is below
 * s3.multipart_threshold; 0 leaves it to the engine. */
uint64_t vwf_part_size(const vwf_transfer *xs, uint64_t size);

#endif
