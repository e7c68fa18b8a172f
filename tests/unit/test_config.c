/* The INI parser, profile selection, the two files, region resolution. */
#include "aws/config.h"
#include "base/buf.h"
#include "check.h"
#include "test_env.h"
#include "vmie.h"

/* Collects "section|key=value" lines ("section|[]" for headers). */
static void collect(void *ctx, const char *section, const char *key,
		    const char *value)
{
	vbuf *b = ctx;
	if (key)
		vbuf_addf(b, "%s|%s=%s\n", section, key, value);
	else
		vbuf_addf(b, "%s|[]\n", section);
}

static void test_ini(void)
{
	vbuf b = VBUF_INIT;
	const char text[] =
		"\xEF\xBB\xBF# comment\r\n"
		"; another\r\n"
		"[default]\r\n"
		"Region = us-west-2  \r\n"
		"  # indented comment\r\n"
		"this line has no delimiter\r\n"
		"output:json\r\n"
		"\r\n"
		"[ profile dev ] trailing text\n"
		"s3 =\n"
		"    endpoint_url = http://localhost:9000\n"
		"\tAddressing_Style = path\n"
		"role_arn = arn:aws:iam::123456789012:role/x\n"
		"multi = first\n"
		"   second\n"
		"empty =\n"
		"[services local]\n"
		"ec2 =\n"
		"  endpoint_url = http://127.0.0.1:1\n"
		"[]\n"
		"orphan = after bad header\n"
		"[unterminated\n"
		"[last]";
	int bad = vaws_ini_parse(text, sizeof text - 1, collect, &b);
	CHECK_INT(bad, 6);
	CHECK_STR(vbuf_str(&b),
		  "default|[]\n"
		  "default|region=us-west-2\n"
		  "default|output=json\n"
		  "profile dev|[]\n"
		  "profile dev|s3.endpoint_url=http://localhost:9000\n"
		  "profile dev|s3.addressing_style=path\n"
		  "profile dev|role_arn=arn:aws:iam::123456789012:role/x\n"
		  "profile dev|multi=first\nsecond\n"
		  "profile dev|empty=\n"
		  "services local|[]\n"
		  "services local|ec2.endpoint_url=http://127.0.0.1:1\n"
		  "last|[]\n");

	/* Keys before any section, NUL bytes, an over-long line. */
	vbuf_reset(&b);
	const char nul[] = "k = v\n[s]\na = 1\0x\nb = 2\n";
	bad = vaws_ini_parse(nul, sizeof nul - 1, collect, &b);
	CHECK_INT(bad, 1);
	CHECK_STR(vbuf_str(&b), "s|[]\ns|b=2\n");

	vbuf big = VBUF_INIT;
	vbuf_adds(&big, "[s]\nk = ");
	for (int i = 0; i < 70000; i++)
		vbuf_addch(&big, 'x');
	vbuf_adds(&big, "\nj = ok\n");
	vbuf_reset(&b);
	bad = vaws_ini_parse(big.data, big.len, collect, &b);
	CHECK_INT(bad, 2);
	CHECK_STR(vbuf_str(&b), "s|[]\ns|j=ok\n");
	vbuf_free(&big);

	/* Empty input and garbage never crash. */
	vbuf_reset(&b);
	CHECK_INT(vaws_ini_parse("", 0, collect, &b), 0);
	const char junk[] = "\n\n[\n]\n=\n==\n[a]\n  = x\n\x01\xff=\xfe\n";
	vaws_ini_parse(junk, sizeof junk - 1, collect, &b);
	CHECK_CONTAINS(vbuf_str(&b), "a|[]");

	/* A cheap fuzz pass (the real target comes later): random lines from
	 * an alphabet rich in the parser's special characters. */
	static const char alpha[] = "[]=:#; \t\r\nab.\0\xff";
	unsigned seed = 12345;
	char junk2[512];
	int all_ok = 1;
	for (int round = 0; round < 3000; round++) {
		size_t n = 0;
		seed = seed * 1103515245u + 12345u;
		size_t len = (seed >> 16) % sizeof junk2;
		while (n < len) {
			seed = seed * 1103515245u + 12345u;
			junk2[n++] = alpha[(seed >> 16) % (sizeof alpha - 1)];
		}
		vbuf_reset(&b);
		if (vaws_ini_parse(junk2, n, collect, &b) < 0)
			all_ok = 0;
	}
	CHECK(all_ok);
	vbuf_free(&b);
}

static const char config_text[] =
	"[default]\n"
	"region = eu-west-1\n"
	"[profile dev]\n"
	"region = us-gov-west-1\n"
	"services = local\n"
	"max_attempts = 7\n"
	"[dev]\n"
	"region = cn-north-1\n" /* bare name: not a profile in config */
	"[bare]\n"
	"region = ap-south-1\n"
	"[services local]\n"
	"s3 =\n"
	"  endpoint_url = http://127.0.0.1:9000\n"
	"[profile empty]\n"
	"[profile bad]\n"
	"region = Mars\n";

static const char creds_text[] =
	"[default]\n"
	"aws_access_key_id = AKIADEFAULT\n"
	"aws_secret_access_key = s3cret\n"
	"[only-creds]\n"
	"aws_access_key_id = AKIAONLY\n";

static void test_profiles(void)
{
	test_env_clear();
	test_write(".aws/config", config_text);
	test_write(".aws/credentials", creds_text);
	vaws_config cfg;
	vmie_error err = {0};

	CHECK_INT(vaws_config_load(&cfg, NULL, &err), 0);
	CHECK_STR(cfg.profile, "default");
	CHECK_STR(cfg.profile_source, "default");
	CHECK(!cfg.profile_explicit);
	CHECK(cfg.profile_found);
	CHECK_STR(vaws_config_get(&cfg, "region"), "eu-west-1");
	CHECK_STR(vkv_get(&cfg.credentials, "aws_access_key_id"),
		  "AKIADEFAULT");
	CHECK_CONTAINS(cfg.config_path, "/.aws/config");
	CHECK_CONTAINS(cfg.credentials_path, "/.aws/credentials");
	vaws_config_free(&cfg);

	/* AWS_PROFILE; the services section is flattened. */
	setenv("AWS_PROFILE", "dev", 1);
	CHECK_INT(vaws_config_load(&cfg, NULL, &err), 0);
	CHECK_STR(cfg.profile, "dev");
	CHECK_STR(cfg.profile_source, "AWS_PROFILE");
	CHECK_STR(vaws_config_get(&cfg, "region"), "us-gov-west-1");
	CHECK_STR(vkv_get(&cfg.services, "s3.endpoint_url"),
		  "http://127.0.0.1:9000");
	CHECK_INT(cfg.credentials.n, 0);
	/* env beats the profile in vaws_config_setting */
	CHECK_STR(vaws_config_setting(&cfg, "AWS_MAX_ATTEMPTS", "max_attempts"),
		  "7");
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	CHECK_STR(vaws_config_setting(&cfg, "AWS_MAX_ATTEMPTS", "max_attempts"),
		  "3");
	setenv("AWS_MAX_ATTEMPTS", "", 1); /* empty counts as unset */
	CHECK_STR(vaws_config_setting(&cfg, "AWS_MAX_ATTEMPTS", "max_attempts"),
		  "7");
	vaws_config_free(&cfg);

	/* AWS_DEFAULT_PROFILE beats AWS_PROFILE (botocore's order) */
	setenv("AWS_DEFAULT_PROFILE", "only-creds", 1);
	CHECK_INT(vaws_config_load(&cfg, NULL, &err), 0);
	CHECK_STR(cfg.profile, "only-creds");
	CHECK_STR(cfg.profile_source, "AWS_DEFAULT_PROFILE");
	CHECK(cfg.profile_found);
	CHECK_INT(cfg.config.n, 0);
	CHECK_STR(vkv_get(&cfg.credentials, "aws_access_key_id"), "AKIAONLY");
	vaws_config_free(&cfg);

	/* --profile beats both */
	CHECK_INT(vaws_config_load(&cfg, "empty", &err), 0);
	CHECK_STR(cfg.profile, "empty");
	CHECK(cfg.profile_explicit);
	CHECK(cfg.profile_found);
	vaws_config_free(&cfg);

	/* a bare [bare] in the config file is not a profile */
	CHECK_INT(vaws_config_load(&cfg, "bare", &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_STR(err.message, "The config profile (bare) could not be found");
	CHECK_CONTAINS(err.hint, "--profile");
	CHECK_CONTAINS(err.hint, "/.aws/config");
	CHECK(cfg.profile == NULL);

	/* ... also when named by the environment */
	unsetenv("AWS_DEFAULT_PROFILE");
	setenv("AWS_PROFILE", "nope", 1);
	CHECK_INT(vaws_config_load(&cfg, NULL, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.hint, "AWS_PROFILE");
	unsetenv("AWS_PROFILE");

	/* no files at all: fine for the default profile */
	test_unlink(".aws/config");
	test_unlink(".aws/credentials");
	CHECK_INT(vaws_config_load(&cfg, NULL, &err), 0);
	CHECK(!cfg.profile_found);
	CHECK_INT(cfg.config.n + cfg.credentials.n, 0);
	vaws_config_free(&cfg);
	CHECK_INT(vaws_config_load(&cfg, "default", &err), 0);
	vaws_config_free(&cfg);

	/* AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, with ~ expanded */
	test_write("other-config", "[profile x]\nregion = us-east-2\n");
	test_write("other-creds", "[x]\naws_access_key_id = A\n");
	setenv("AWS_CONFIG_FILE", "~/other-config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", test_write("other-creds",
		"[x]\naws_access_key_id = A\n"), 1);
	CHECK_INT(vaws_config_load(&cfg, "x", &err), 0);
	CHECK_STR(vaws_config_get(&cfg, "region"), "us-east-2");
	CHECK_STR(vkv_get(&cfg.credentials, "aws_access_key_id"), "A");
	CHECK(strncmp(cfg.config_path, test_home, strlen(test_home)) == 0);
	vaws_config_free(&cfg);

	/* a directory where the file should be is an error, not a crash */
	char dir[PATH_MAX + 16];
	snprintf(dir, sizeof dir, "%s/.aws", test_home);
	setenv("AWS_CONFIG_FILE", dir, 1);
	CHECK_INT(vaws_config_load(&cfg, NULL, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "directory");
	vmie_error_clear(&err);
	test_env_clear();
}

static void test_region(void)
{
	test_env_clear();
	test_write(".aws/config", config_text);
	vaws_config cfg;
	vmie_error err = {0};
	char *r = NULL;
	const char *src = NULL;

	CHECK_INT(vaws_config_load(&cfg, "dev", &err), 0);
	CHECK_INT(vaws_config_region(&cfg, NULL, &r, &src, &err), 0);
	CHECK_STR(r, "us-gov-west-1");
	CHECK_STR(src, "config-file");
	free(r);
	setenv("AWS_DEFAULT_REGION", "eu-isoe-west-1", 1);
	CHECK_INT(vaws_config_region(&cfg, NULL, &r, &src, &err), 0);
	CHECK_STR(r, "eu-isoe-west-1");
	CHECK_STR(src, "AWS_DEFAULT_REGION");
	free(r);
	setenv("AWS_REGION", "cn-north-1", 1);
	CHECK_INT(vaws_config_region(&cfg, NULL, &r, &src, &err), 0);
	CHECK_STR(r, "cn-north-1");
	CHECK_STR(src, "AWS_REGION");
	free(r);
	CHECK_INT(vaws_config_region(&cfg, "ap-southeast-2", &r, &src, &err),
		  0);
	CHECK_STR(r, "ap-southeast-2");
	CHECK_STR(src, "--region");
	free(r);

	/* bad values name their source */
	CHECK_INT(vaws_config_region(&cfg, "US-EAST-1", &r, &src, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(err.message, "--region");
	CHECK(r == NULL);
	setenv("AWS_REGION", "us-east-1a", 1);
	CHECK_INT(vaws_config_region(&cfg, NULL, &r, &src, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(err.message, "AWS_REGION");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	vaws_config_free(&cfg);

	CHECK_INT(vaws_config_load(&cfg, "bad", &err), 0);
	CHECK_INT(vaws_config_region(&cfg, NULL, &r, &src, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(err.message, "'Mars'");
	CHECK_CONTAINS(err.message, "[profile bad]");
	vaws_config_free(&cfg);

	/* none anywhere: the hint names the profile and the file */
	CHECK_INT(vaws_config_load(&cfg, "empty", &err), 0);
	CHECK_INT(vaws_config_region(&cfg, NULL, &r, &src, &err),
		  VMIE_ERR_AWS_REGION_NOT_FOUND);
	CHECK_STR(err.message, "no AWS region is set");
	CHECK_CONTAINS(err.hint, "--region us-west-2");
	CHECK_CONTAINS(err.hint, "AWS_REGION");
	CHECK_CONTAINS(err.hint, "[profile empty]");
	CHECK_CONTAINS(err.hint, cfg.config_path);
	vaws_config_free(&cfg);

	/* shapes */
	static const char *const good[] = {
		"us-east-1", "us-west-2", "us-gov-west-1", "cn-north-1",
		"cn-northwest-1", "eu-isoe-west-1", "us-iso-east-1",
		"us-isob-east-1", "ap-southeast-5", "il-central-1",
		"me-south-1", "eusc-de-east-1"};
	static const char *const bad[] = {
		"", "us", "us-east", "useast-1", "us-east-1-", "us--east-1",
		"us-east-1 ", "us-east-x", "-us-east-1", "us_east_1",
		"us-east-1/../x", "local"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		int rc = vaws_config_region(NULL, good[i], &r, &src, &err);
		if (rc)
			fprintf(stderr, "rejected %s\n", good[i]);
		CHECK_INT(rc, 0);
		free(r);
	}
	for (size_t i = 1; i < sizeof bad / sizeof *bad; i++) {
		int rc = vaws_config_region(NULL, bad[i], &r, &src, &err);
		if (rc != VMIE_ERR_INVALID_ARGUMENT)
			fprintf(stderr, "accepted %s\n", bad[i]);
		CHECK_INT(rc, VMIE_ERR_INVALID_ARGUMENT);
	}

	/* the public entry point */
	vmie_aws_opts o = {.profile = "dev"};
	CHECK_INT(vmie_resolve_region(&o, &r, &src, &err), 0);
	CHECK_STR(r, "us-gov-west-1");
	free(r);
	o.region = "eu-central-1";
	CHECK_INT(vmie_resolve_region(&o, &r, &src, &err), 0);
	CHECK_STR(src, "--region");
	free(r);
	o = (vmie_aws_opts){.profile = "missing"};
	CHECK_INT(vmie_resolve_region(&o, &r, &src, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	test_unlink(".aws/config");
	CHECK_INT(vmie_resolve_region(NULL, &r, &src, &err),
		  VMIE_ERR_AWS_REGION_NOT_FOUND);
	CHECK_CONTAINS(err.hint, "[default]");
	vmie_error_clear(&err);
}

/* The sso-session section a profile names, and a source profile loaded
 * from the same two files. */
static void test_sso_session_and_other_profile(void)
{
	test_env_clear();
	test_write(".aws/config",
		   "[profile dev]\n"
		   "sso_session = corp\n"
		   "sso_account_id = 123456789012\n"
		   "[sso-session corp]\n"
		   "sso_start_url = https://corp.awsapps.com/start\n"
		   "sso_region = eu-west-1\n"
		   "[sso-session other]\n"
		   "sso_region = us-east-1\n"
		   "[profile base]\n"
		   "region = ap-south-1\n"
		   "[profile lost]\n"
		   "sso_session = nowhere\n");
	test_write(".aws/credentials", "[keys]\naws_access_key_id = AKIAKEYS\n");
	vaws_config cfg, other;
	vmie_error err = {0};
	CHECK_INT(vaws_config_load(&cfg, "dev", &err), 0);
	CHECK(cfg.sso_session_found);
	CHECK_STR(vkv_get(&cfg.sso_session, "sso_region"), "eu-west-1");
	CHECK_STR(vkv_get(&cfg.sso_session, "sso_start_url"),
		  "https://corp.awsapps.com/start");
	CHECK_INT(vaws_config_load_other(&cfg, "base", &other, &err), 0);
	CHECK_STR(other.profile, "base");
	CHECK(other.profile_explicit);
	CHECK_STR(vaws_config_get(&other, "region"), "ap-south-1");
	CHECK(!other.sso_session_found);
	vaws_config_free(&other);
	CHECK_INT(vaws_config_load_other(&cfg, "keys", &other, &err), 0);
	CHECK_STR(vkv_get(&other.credentials, "aws_access_key_id"), "AKIAKEYS");
	vaws_config_free(&other);
	CHECK_INT(vaws_config_load_other(&cfg, "nowhere", &other, &err), 1);
	CHECK(other.profile == NULL);
	vaws_config_free(&cfg);
	CHECK_INT(vaws_config_load(&cfg, "lost", &err), 0);
	CHECK(!cfg.sso_session_found);
	vaws_config_free(&cfg);
	test_unlink(".aws/config");
	test_unlink(".aws/credentials");
	vmie_error_clear(&err);
}

int main(void)
{
	test_env_init();
	test_ini();
	test_profiles();
	test_region();
	test_sso_session_and_other_profile();
	test_env_cleanup();
	return check_done("config");
}
