/* libFuzzer target: the AWS CLI's JSON caches vmie reads (a cached role
 * session in ~/.aws/cli/cache, an `aws sso login` token in
 * ~/.aws/sso/cache): files another program wrote, in any shape. */
#include "aws/creds_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/vmie-fuzz-cache-XXXXXX";
	if (!mkdtemp(dir))
		return 0;
	char path[sizeof dir + 16];
	snprintf(path, sizeof path, "%s/entry.json", dir);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(data, 1, size, f);
		fclose(f);
		json_t *doc = NULL;
		if (vaws_cache_read(dir, "entry", &doc, NULL) == 0) {
			vaws_creds c = {0};
			if (vaws_cache_creds(doc, 1700000000, 0, &c) == 0)
				vaws_creds_free(&c);
			const char *access;
			time_t exp;
			bool refreshable;
			(void)vaws_sso_token_read(doc, 1700000000, &access,
						  &exp, &refreshable);
		}
		json_decref(doc);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}
