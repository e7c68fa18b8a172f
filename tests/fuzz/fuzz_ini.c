/* libFuzzer target: the AWS config/credentials INI parser.  The files are
 * user-controlled and sometimes written by other tools. */
#include "aws/config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_key(void *ctx, const char *section, const char *key,
		   const char *value)
{
	size_t *n = ctx;
	/* Touch every string so ASan sees any overread. */
	*n += strlen(section) + (key ? strlen(key) : 0) +
	      (value ? strlen(value) : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	vaws_ini_parse((const char *)data, size, on_key, &n);
	return 0;
}
