/* Endpoint resolution: precedence, validation, partitions, IAM. */
#include "aws/client.h"
#include "aws/endpoint.h"
#include "check.h"

#include <stdlib.h>

static void clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2",
		"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_IAM",
		"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSM",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void test_defaults(void)
{
	vaws_endpoint ep;
	vmie_error err = {0};
	CHECK_INT(vaws_endpoint_resolve(NULL, "ec2", "us-west-2", NULL, &ep,
					&err), 0);
	CHECK_STR(ep.url, "https://ec2.us-west-2.amazonaws.com");
	CHECK_STR(ep.host, "ec2.us-west-2.amazonaws.com");
	CHECK_STR(ep.base_path, "");
	CHECK_STR(ep.scheme, "https");
	CHECK_STR(ep.signing_region, "us-west-2");
	CHECK_STR(ep.service, "ec2");
	CHECK_STR(ep.source, "default");
	CHECK(!ep.custom && !ep.s3_path_style);
	vaws_endpoint_free(&ep);

	vaws_endpoint_resolve(NULL, "sts", "eu-central-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://sts.eu-central-1.amazonaws.com");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(NULL, "s3", "cn-northwest-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://s3.cn-northwest-1.amazonaws.com.cn");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(NULL, "ssm", "us-gov-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://ssm.us-gov-east-1.amazonaws.com");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(NULL, "ec2", "us-iso-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://ec2.us-iso-east-1.c2s.ic.gov");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(NULL, "ec2", "us-isob-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://ec2.us-isob-east-1.sc2s.sgov.gov");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(NULL, "ec2", "eu-isoe-west-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://ec2.eu-isoe-west-1.cloud.adc-e.uk");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(NULL, "ec2", "us-isof-south-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://ec2.us-isof-south-1.csp.hci.ic.gov");
	vaws_endpoint_free(&ep);
	CHECK_STR(vaws_partition_suffix("eusc-de-east-1"), "amazonaws.eu");

	/* IAM: one global endpoint per partition, signed for its home. */
	vaws_endpoint_resolve(NULL, "iam", "eu-west-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://iam.amazonaws.com");
	CHECK_STR(ep.signing_region, "us-east-1");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(NULL, "iam", "cn-northwest-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://iam.cn-north-1.amazonaws.com.cn");
	CHECK_STR(ep.signing_region, "cn-north-1");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(NULL, "iam", "us-gov-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://iam.us-gov.amazonaws.com");
	CHECK_STR(ep.signing_region, "us-gov-west-1");
	vaws_endpoint_free(&ep);

	CHECK_INT(vaws_endpoint_resolve(NULL, "kms", "us-east-1", NULL, &ep,
					&err), VMIE_ERR_INVALID_ARGUMENT);
	CHECK_INT(vaws_endpoint_resolve(NULL, "ec2", NULL, NULL, &ep, &err),
		  VMIE_ERR_AWS_REGION_NOT_FOUND);
	vmie_error_clear(&err);
}

static void test_precedence(void)
{
	vaws_config cfg = {0};
	cfg.profile = "dev";
	cfg.config_path = "/tmp/cfg";
	vkv_add(&cfg.config, "endpoint_url", "http://profile:1");
	vkv_add(&cfg.services, "s3.endpoint_url", "http://services-s3:2");
	vaws_endpoint ep;
	vmie_error err = {0};

	clear_env();
	vaws_endpoint_resolve(&cfg, "ec2", "us-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "http://profile:1");
	CHECK_STR(ep.source, "config-file endpoint_url");
	CHECK(ep.custom && ep.s3_path_style);
	CHECK_STR(ep.signing_region, "us-east-1");
	vaws_endpoint_free(&ep);

	vaws_endpoint_resolve(&cfg, "s3", "us-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "http://services-s3:2");
	CHECK_STR(ep.source, "config-file services");
	vaws_endpoint_free(&ep);

	setenv("AWS_ENDPOINT_URL", "http://global:3/", 1);
	vaws_endpoint_resolve(&cfg, "s3", "us-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "http://global:3");
	CHECK_STR(ep.source, "AWS_ENDPOINT_URL");
	vaws_endpoint_free(&ep);

	setenv("AWS_ENDPOINT_URL_S3", "https://s3-env:4/base/", 1);
	vaws_endpoint_resolve(&cfg, "s3", "us-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://s3-env:4/base");
	CHECK_STR(ep.host, "s3-env:4");
	CHECK_STR(ep.base_path, "/base");
	CHECK_STR(ep.source, "AWS_ENDPOINT_URL_S3");
	vaws_endpoint_free(&ep);
	/* Only S3's own variable applies to S3. */
	vaws_endpoint_resolve(&cfg, "ec2", "us-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "http://global:3");
	vaws_endpoint_free(&ep);

	vaws_endpoint_resolve(&cfg, "s3", "us-east-1", "http://flag:5", &ep,
			      &err);
	CHECK_STR(ep.url, "http://flag:5");
	CHECK_STR(ep.source, "--endpoint-url");
	vaws_endpoint_free(&ep);

	/* Ignoring configured endpoints: the flag still wins. */
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	vaws_endpoint_resolve(&cfg, "s3", "us-east-1", NULL, &ep, &err);
	CHECK_STR(ep.url, "https://s3.us-east-1.amazonaws.com");
	CHECK(!ep.custom);
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(&cfg, "s3", "us-east-1", "http://flag:5", &ep,
			      &err);
	CHECK_STR(ep.url, "http://flag:5");
	vaws_endpoint_free(&ep);
	clear_env();
	vkv_add(&cfg.config, "ignore_configured_endpoint_urls", "TRUE");
	vaws_endpoint_resolve(&cfg, "ec2", "us-east-1", NULL, &ep, &err);
	CHECK_STR(ep.source, "default");
	vaws_endpoint_free(&ep);

	/* IAM on a custom endpoint keeps its signing region. */
	vkv_free(&cfg.config);
	vaws_endpoint_resolve(&cfg, "iam", "eu-west-1", "http://127.0.0.1:9",
			      &ep, &err);
	CHECK_STR(ep.signing_region, "us-east-1");
	vaws_endpoint_free(&ep);
	vaws_endpoint_resolve(&cfg, "sts", "eu-west-1", "http://127.0.0.1:9",
			      &ep, &err);
	CHECK_STR(ep.signing_region, "eu-west-1");
	vaws_endpoint_free(&ep);

	/* A bad configured URL names where it came from. */
	vkv_add(&cfg.config, "endpoint_url", "ftp://x");
	CHECK_INT(vaws_endpoint_resolve(&cfg, "ec2", "us-east-1", NULL, &ep,
					&err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "profile dev in /tmp/cfg");
	CHECK(err.hint != NULL);
	setenv("AWS_ENDPOINT_URL_EC2", "http://u:p@host", 1);
	CHECK_INT(vaws_endpoint_resolve(&cfg, "ec2", "us-east-1", NULL, &ep,
					&err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "AWS_ENDPOINT_URL_EC2");
	CHECK(ep.url == NULL);
	clear_env();
	vmie_error_clear(&err);
	vkv_free(&cfg.config);
	vkv_free(&cfg.services);
}

static void test_validation(void)
{
	static const char *const good[] = {
		"http://127.0.0.1:4566", "https://example.com",
		"HTTPS://Example.com/", "http://[::1]:8080/x/y",
		"http://localhost:65535", "http://my_host.internal",
	};
	static const char *const bad[] = {
		"", "127.0.0.1:4566", "ftp://example.com", "http://",
		"http://:80", "http://h:0", "http://h:65536", "http://h:8x",
		"http://h:", "http://user@h", "http://u:p@h/",
		"http://h/?a=b", "http://h/#frag", "http://h /x",
		"http://h\n", "http://[zz]/", "http://h%41/", "file:///etc",
	};
	vmie_error err = {0};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		vaws_endpoint ep = {0};
		int rc = vaws_endpoint_parse_url(good[i], "test", &ep, &err);
		if (rc != 0)
			fprintf(stderr, "rejected good URL %s\n", good[i]);
		CHECK_INT(rc, 0);
		vaws_endpoint_free(&ep);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vaws_endpoint ep = {0};
		int rc = vaws_endpoint_parse_url(bad[i], "test", &ep, &err);
		if (rc == 0)
			fprintf(stderr, "accepted bad URL %s\n", bad[i]);
		CHECK_INT(rc, VMIE_ERR_AWS_CONFIG_INVALID);
		CHECK(ep.url == NULL);
		vaws_endpoint_free(&ep);
	}
	vaws_endpoint ep = {0};
	vaws_endpoint_parse_url("HTTPS://Example.com:443/", "t", &ep, &err);
	CHECK_STR(ep.url, "https://Example.com:443");
	CHECK_STR(ep.host, "Example.com:443");
	vaws_endpoint_free(&ep);
	vaws_endpoint_parse_url("http://[::1]:8080/x/y", "t", &ep, &err);
	CHECK_STR(ep.host, "[::1]:8080");
	CHECK_STR(ep.base_path, "/x/y");
	vaws_endpoint_free(&ep);
	vmie_error_clear(&err);
}

/* Issue 12: --endpoint-url file:///x is a usage error (exit 2), the same
 * URL from the environment bad configuration (3); plain http goes only
 * to this machine unless --allow-http. */
static void test_flag_and_clear_text(void)
{
	vaws_endpoint ep = {0};
	vmie_error err = {0};
	CHECK_INT(vaws_endpoint_resolve(NULL, "s3", "us-west-2", "file:///x", &ep, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(err.message, "(from --endpoint-url)");
	setenv("AWS_ENDPOINT_URL", "file:///x", 1);
	CHECK_INT(vaws_endpoint_resolve(NULL, "s3", "us-west-2", NULL, &ep, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	unsetenv("AWS_ENDPOINT_URL");

	static const char *const loop[] = {"127.0.0.1:4566", "127.1.2.3", "localhost",
					   "LOCALHOST:80", "[::1]:8080", "[::1]"};
	static const char *const far[] = {"10.0.0.5:4566", "example.com", "127.0.0.1.evil.com",
					  "localhost.example.com", "[::2]:80", "127.0.0",
					  "1127.0.0.1"};
	for (size_t i = 0; i < sizeof loop / sizeof *loop; i++)
		CHECK(vaws_host_is_loopback(loop[i]));
	for (size_t i = 0; i < sizeof far / sizeof *far; i++)
		CHECK(!vaws_host_is_loopback(far[i]));

	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE0TESTKEY1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_REGION", "us-west-2", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/vmie-test/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/vmie-test/credentials", 1);
	vaws_client *c = NULL;
	vmie_aws_opts o = {.endpoint_url = "http://10.0.0.5:4566"};
	CHECK_INT(vaws_client_new(&o, &c, &err), VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(err.message, "plain http to another host");
	CHECK_CONTAINS(err.hint, "--allow-http");
	CHECK(c == NULL);
	setenv("AWS_ENDPOINT_URL", "http://10.0.0.5:4566", 1);
	CHECK_INT(vaws_client_new(NULL, &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	o.allow_http = true;
	o.endpoint_url = NULL;
	CHECK_INT(vaws_client_new(&o, &c, &err), 0);
	vaws_client_free(c);
	c = NULL;
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566", 1);
	CHECK_INT(vaws_client_new(NULL, &c, &err), 0);
	vaws_client_free(c);
	unsetenv("AWS_ENDPOINT_URL");
	vmie_error_clear(&err);
}

int main(void)
{
	clear_env();
	test_defaults();
	test_precedence();
	test_validation();
	test_flag_and_clear_text();
	return check_done("endpoint");
}
