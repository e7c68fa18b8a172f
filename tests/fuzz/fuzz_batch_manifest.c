/* libFuzzer target: vmie batch's manifest (an inventory export or a hand
 * edit: any bytes), read as CSV and as JSON Lines, every row made sense of
 * and turned into its VM's command line; and the same bytes as a VM's
 * events file, which a later run reads back. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "workflow/batch.h"
#include "workflow/batch_child.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rows(const char *name, const uint8_t *data, size_t size)
{
	static const char *tags[] = {"team=core"};
	vmie_options d = {.s3_bucket = "bkt", .tags = tags, .ntags = 1};
	vbatch_plan p = {&d, false, 1, 3};
	vbatch_manifest m;
	vmie_error e = {0};
	if (vbatch_parse(name, (const char *)data, size, &m, &e) == 0) {
		vbatch_rows_prepare(&m, &p);
		for (size_t i = 0; i < m.n; i++) {
			if (!m.rows[i].opts.source)
				continue;
			char **argv = vbatch_row_argv(&m.rows[i], "vmie", NULL, 0);
			vbatch_argv_free(argv);
		}
		vbatch_manifest_free(&m);
	}
	vmie_error_clear(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rows("m.csv", data, size);
	rows("m.jsonl", data, size);
	json_decref(vbatch_events_final((const char *)data, size));
	return 0;
}
