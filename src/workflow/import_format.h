/*
 * What an upload sends (--upload-format): a disk vmie can read (RAW,
 * compressed or not; a fixed or dynamic VHD, a VHDX or a VMDK that is not
 * streamOptimized, as local files) goes as a streamOptimized VMDK made on
 * the fly, so only what the disk holds travels; OVAs, streamOptimized
 * VMDKs and whatever vmie cannot convert go as they are.
 */
#ifndef VMIE_WORKFLOW_IMPORT_FORMAT_H
#define VMIE_WORKFLOW_IMPORT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "transfer/source.h"
#include "workflow/run_ctx.h"

typedef struct vwf_upload_src {
	vsource *src;        /* the bytes that go to S3 */
	bool vmdk;           /* a VMDK made on the fly */
	char *name;          /* what the S3 key defaults to */
	uint64_t disk_bytes; /* the guest's disk, when known without the end */
} vwf_upload_src;

/* Opens the import's --source (a local file or an http(s) URL) as what
 * will be sent, and logs the choice. */
int vwf_open_upload_source(vwf_run *r, vmie_source_kind kind,
			   vwf_upload_src *u, vmie_error *err);
void vwf_upload_src_free(vwf_upload_src *u);

/* The compression of a local file, by its magic (VIMG_COMP_NONE when it
 * cannot be read). */
vimg_compression vwf_file_compression(const char *path);
/* A local, uncompressed image of this kind is sent as a VMDK made from
 * its disk (not as it is) under these options. */
bool vwf_converts_local(const vmie_options *o, const vimg_info *info);

#endif
