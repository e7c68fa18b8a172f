/* The AWS CLI's S3 transfer settings (s3_transfer_config.h). */
#include "aws/s3_transfer_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"

/* Up to 5 TiB per value: far past any sane setting, far from overflow. */
#define MAX_VALUE (5ull << 40)

static int parse_uint(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > MAX_VALUE)
			return -1;
	}
	*out = v;
	return 0;
}

int vaws_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {{"kib", 10}, {"mib", 20}, {"gib", 30}, {"tib", 40},
		     {"kb", 10},  {"mb", 20},  {"gb", 30},  {"tb", 40}};
	size_t n = s ? strlen(s) : 0;
	uint64_t v;
	for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
		size_t k = strlen(units[i].suffix);
		if (n > k && strcasecmp(s + n - k, units[i].suffix) == 0) {
			if (parse_uint(s, n - k, &v) != 0 ||
			    v > MAX_VALUE >> units[i].shift)
				return -1;
			*out = v << units[i].shift;
			return *out ? 0 : -1;
		}
	}
	if (parse_uint(s, n, &v) != 0 || v == 0)
		return -1;
	*out = v;
	return 0;
}

int vaws_parse_rate(const char *s, uint64_t *out)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 3 || s[n - 2] != '/' || s[n - 1] != 's')
		return -1;
	char size[64];
	if (n - 2 >= sizeof size)
		return -1;
	/* "50MB/s": the size "50MB"; "80Mb/s": bits. */
	memcpy(size, s, n - 2);
	size[n - 2] = '\0';
	bool bits = s[n - 3] == 'b';
	if (vaws_parse_size(size, out) != 0)
		return -1;
	if (bits && (*out /= 8) == 0)
		return -1;
	return 0;
}

static int invalid(const vaws_config *cfg, const char *key, const char *value,
		   const char *want, vmie_error *err)
{
	verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
		 "invalid s3.%s '%s' in the profile %s of %s", key, value,
		 cfg->profile, cfg->config_path ? cfg->config_path : "the config");
	return verr_hint(err, "%s, as the AWS CLI reads it", want);
}

int vaws_s3_transfer_load(const vaws_config *cfg, vaws_s3_transfer *out,
			  vmie_error *err)
{
	memset(out, 0, sizeof(*out));
	const char *v = vaws_config_get(cfg, "s3.max_concurrent_requests");
	uint64_t n;
	if (v) {
		if (parse_uint(v, strlen(v), &n) != 0 || n == 0 || n > 64)
			return invalid(cfg, "max_concurrent_requests", v,
				       "a whole number from 1 to 64 (vmie's "
				       "limit)",
				       err);
		out->max_concurrent_requests = (unsigned)n;
	}
	v = vaws_config_get(cfg, "s3.multipart_threshold");
	if (v && vaws_parse_size(v, &out->multipart_threshold) != 0)
		return invalid(cfg, "multipart_threshold", v,
			       "a size such as 64MB", err);
	v = vaws_config_get(cfg, "s3.multipart_chunksize");
	if (v && vaws_parse_size(v, &out->multipart_chunksize) != 0)
		return invalid(cfg, "multipart_chunksize", v,
			       "a size such as 16MB", err);
	v = vaws_config_get(cfg, "s3.max_bandwidth");
	if (v && vaws_parse_rate(v, &out->max_bandwidth) != 0)
		return invalid(cfg, "max_bandwidth", v,
			       "a rate such as 50MB/s (bytes) or 400Mb/s "
			       "(bits)",
			       err);
	return 0;
}
