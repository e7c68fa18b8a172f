/* libFuzzer target: a run journal (a file on disk that a crash, a full
 * disk or a hand edit may leave in any shape), loaded as vmie runs and a
 * resume read it: the version check, where the run stopped, what it
 * keeps, its result. */
#include "workflow/journal_internal.h"
#include "workflow/journal_steps.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/vmie-fuzz-journal-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	json_t *doc = vwf_journal_load(path);
	if (doc) {
		free(vwf_journal_where(doc));
		free(vwf_journal_kept(doc));
		vmie_result res = {0};
		vwf_result_from_json(json_object_get(doc, "result"), &res);
		vmie_result_free(&res);
		json_decref(doc);
	}
	unlink(path);
	return 0;
}
