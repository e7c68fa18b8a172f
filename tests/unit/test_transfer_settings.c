/*
 * The AWS CLI's S3 transfer settings (sizes and rates as awscli's
 * transferconfig.py reads them, the profile's nested s3 keys, bad values
 * named) and the bandwidth cap's token bucket.
 */
#include <stdint.h>

#include "aws/s3_transfer_config.h"
#include "check.h"
#include "test_env.h"
#include "transfer/rate_limit.h"

static uint64_t size_of(const char *s)
{
	uint64_t v = 0;
	return vaws_parse_size(s, &v) == 0 ? v : 0;
}

static uint64_t rate_of(const char *s)
{
	uint64_t v = 0;
	return vaws_parse_rate(s, &v) == 0 ? v : 0;
}

static void test_sizes_and_rates(void)
{
	CHECK(size_of("8388608") == 8388608);
	CHECK(size_of("8MB") == 8ull << 20);
	CHECK(size_of("8mb") == 8ull << 20);
	CHECK(size_of("16MiB") == 16ull << 20);
	CHECK(size_of("1GB") == 1ull << 30);
	CHECK(size_of("2TiB") == 2ull << 40);
	CHECK(size_of("64KB") == 64ull << 10);
	/* What the CLI refuses too. */
	CHECK(size_of("") == 0);
	CHECK(size_of("MB") == 0);
	CHECK(size_of("8 MB") == 0);
	CHECK(size_of("-8MB") == 0);
	CHECK(size_of("8B") == 0);
	CHECK(size_of("0") == 0);
	CHECK(size_of("99999999999999999999") == 0);
	CHECK(rate_of("50MB/s") == 50ull << 20);
	CHECK(rate_of("800KB/s") == 800ull << 10);
	CHECK(rate_of("10Mb/s") == (10ull << 20) / 8);
	CHECK(rate_of("1GiB/s") == 1ull << 30);
	CHECK(rate_of("50MB") == 0);
	CHECK(rate_of("1000000") == 0);
	CHECK(rate_of("1000B/s") == 0);
	CHECK(rate_of("0MB/s") == 0);
	CHECK(rate_of("/s") == 0);
}

static void test_profile(void)
{
	test_env_clear();
	test_write(".aws/config",
		   "[default]\n"
		   "region = us-west-2\n"
		   "s3 =\n"
		   "  max_concurrent_requests = 20\n"
		   "  multipart_threshold = 64MB\n"
		   "  multipart_chunksize = 16MB\n"
		   "  max_bandwidth = 400Mb/s\n"
		   "[profile bad]\n"
		   "s3 =\n"
		   "  max_bandwidth = 50MB\n"
		   "[profile many]\n"
		   "s3 =\n"
		   "  max_concurrent_requests = 1000\n");
	vaws_config cfg;
	vmie_error err = {0};
	vaws_s3_transfer t;
	CHECK_INT(vaws_config_load(&cfg, NULL, &err), 0);
	CHECK_INT(vaws_s3_transfer_load(&cfg, &t, &err), 0);
	CHECK_INT(t.max_concurrent_requests, 20);
	CHECK(t.multipart_threshold == 64ull << 20);
	CHECK(t.multipart_chunksize == 16ull << 20);
	CHECK(t.max_bandwidth == (400ull << 20) / 8);
	vaws_config_free(&cfg);

	CHECK_INT(vaws_config_load(&cfg, "bad", &err), 0);
	CHECK_INT(vaws_s3_transfer_load(&cfg, &t, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "s3.max_bandwidth '50MB'");
	CHECK_CONTAINS(err.message, "profile bad");
	CHECK_CONTAINS(err.hint, "50MB/s");
	vmie_error_clear(&err);
	vaws_config_free(&cfg);

	CHECK_INT(vaws_config_load(&cfg, "many", &err), 0);
	CHECK_INT(vaws_s3_transfer_load(&cfg, &t, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "max_concurrent_requests");
	vmie_error_clear(&err);
	vaws_config_free(&cfg);
}

static void test_bucket(void)
{
	vxfer_bucket b;
	/* No cap: never a wait. */
	vxfer_bucket_init(&b, 0, 0);
	CHECK_INT(vxfer_bucket_wait(&b, 1ull << 40, 1), 0);
	/* 1 MB/s: a 50 ms burst (64 KiB at least) may go at once ... */
	vxfer_bucket_init(&b, 1000000, 0);
	CHECK_INT(vxfer_bucket_wait(&b, 60000, 0), 0);
	/* ... more must wait for its time: 100 KB over the burst, 100 ms. */
	long w = vxfer_bucket_wait(&b, 165536, 0);
	CHECK(w >= 100 && w <= 101);
	CHECK(vxfer_bucket_wait(&b, 165536, 50) > 0);
	CHECK_INT(vxfer_bucket_wait(&b, 165536, 101), 0);
	/* A steady flow at the rate never waits; 10 % over it soon does. */
	uint64_t total = 165536;
	int waits = 0;
	for (long long t = 110; t < 5110; t += 10) {
		total += 10000;
		waits += vxfer_bucket_wait(&b, total, t) > 0;
	}
	CHECK_INT(waits, 0);
	for (long long t = 5110; t < 6110; t += 10) {
		total += 11000;
		waits += vxfer_bucket_wait(&b, total, t) > 0;
	}
	CHECK(waits > 0);
	/* Idle time builds up no more than the burst. */
	CHECK_INT(vxfer_bucket_wait(&b, total, 100000), 0);
	CHECK(vxfer_bucket_wait(&b, total + 65536 + 1000, 100000) > 0);
}

int main(void)
{
	test_env_init();
	test_sizes_and_rates();
	test_profile();
	test_bucket();
	test_env_cleanup();
	return check_done("transfer_settings");
}
