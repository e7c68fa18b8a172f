/* libFuzzer target: SigV4 canonicalization of hostile paths, queries and
 * header values (the input is split on NUL bytes into those three). */
#include "aws/sigv4.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xstrndup((const char *)data, size);
	/* xstrndup stops nothing at NUL bytes: split by hand. */
	const char *parts[3] = {"/", "", ""};
	size_t at = 0;
	for (int i = 0; i < 3 && at <= size; i++) {
		parts[i] = buf + at;
		at += strlen(buf + at) + 1;
	}
	vkv headers = VKV_INIT;
	vkv_add(&headers, "Host", "example.amazonaws.com");
	vkv_add(&headers, "X-Fuzz", parts[2]);
	vsigv4_params p = {
		.key = {"AKIDEXAMPLE", "secret", NULL},
		.region = "us-east-1",
		.service = "service",
		.when = 1440938160,
		.normalize_path = size & 1,
		.double_encode_path = size & 2,
		.content_sha256_header = size & 4,
		.expires = 60,
	};
	vsigv4_request rq = {"GET", parts[0], parts[1], &headers, NULL, 0};
	vsigv4_result r;
	memset(&r, 0, sizeof(r));
	if (size & 8)
		vsigv4_presign(&p, &rq, &r);
	else
		vsigv4_sign_headers(&p, &rq, &r);
	vsigv4_result_free(&r);
	vkv_free(&headers);
	free(buf);
	return 0;
}
