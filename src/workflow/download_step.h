/*
 * The download step (src/workflow/download.c): an S3 object onto the
 * file or block device of --download / vmie download, through the
 * downloader (src/transfer/download.h).
 */
#ifndef VMIE_WORKFLOW_DOWNLOAD_STEP_H
#define VMIE_WORKFLOW_DOWNLOAD_STEP_H

#include <stdbool.h>

#include "workflow/run_ctx.h"

/* Phase "download": r->opts->download_path, sparse, overwrite; fills
 * download_path, downloaded_bytes, zero_skipped, download_verified,
 * verified_with, download_decoded, download_size in r->res.
 * vmdk_to_raw: the object is a VMDK to write as its RAW disk. */
int vwf_download(vwf_run *r, const char *bucket, const char *key,
		 bool vmdk_to_raw, vmie_error *err);

#endif
