/* libFuzzer target: the download's resume file (a file on disk that a
 * crash, a full disk or a hand edit may leave in any shape), loaded
 * against a fixed download of 16 chunks, as the object's bytes and in
 * VMDK to RAW mode. */
#include "transfer/download_vmdk.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/vmie-fuzz-state-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	vdl_state_id id = {.bucket = "b", .key = "disk.raw", .etag = "\"e-2\"",
			   .size = 1 << 20, .chunk_size = 65536, .nchunks = 16,
			   .dev = 1, .ino = 2};
	uint64_t parts[] = {0, 1 << 19, 1 << 20};
	vdl_plan plan = {0};
	char *why = NULL;
	vdl_plan_make(&plan, id.size, parts, 2, id.chunk_size);
	(void)vdl_state_load(path, &id, &plan, &why);
	free(why);
	why = NULL;
	vdl_plan_free(&plan);
	/* The VMDK to RAW mode's file: each chunk's disk bytes too. */
	id.mode = "vmdk-to-raw";
	vdl_plan_make(&plan, id.size, parts, 2, id.chunk_size);
	plan.vx = calloc(plan.n, sizeof(vdl_vchunk));
	(void)vdl_state_load(path, &id, &plan, &why);
	free(why);
	vdl_plan_free(&plan);
	unlink(path);
	return 0;
}
