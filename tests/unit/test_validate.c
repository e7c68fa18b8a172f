/*
 * vmie_validate and vmie_run: every option rule, the source kinds, the
 * order of the checks, and the statuses other front-ends rely on.
 */
#include "check.h"
#include "vmie.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[] = "/tmp/vmie-validate-XXXXXX";

static const char *path_in_tmp(const char *name)
{
	static char buf[4][512];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", tmp, name);
	return p;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path_in_tmp(name), "w");
	if (!f) {
		perror(name);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static void setup_env(void)
{
	static const char *const vars[] = {
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
	};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
		unsetenv(vars[i]);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		exit(2);
	}
	setenv("HOME", tmp, 1);
	setenv("AWS_CONFIG_FILE", path_in_tmp("no-config"), 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path_in_tmp("no-creds"), 1);
	setenv("AWS_REGION", "us-west-2", 1);
	write_file("disk.vmdk", "KDMV fake image bytes");
	write_file("empty.raw", "");
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(p);
}

static vmie_options import_opts(const char *source)
{
	vmie_options o = {0};
	o.s3_bucket = "my-bucket";
	o.source = source;
	return o;
}

/* Validate and return the status; the message lands in msg_out. */
static int validate(vmie_operation op, const vmie_options *o, char *msg_out,
		    size_t n, vmie_source_kind *kind)
{
	vmie_error err = {0};
	int rc = vmie_validate(op, o, kind, &err);
	snprintf(msg_out, n, "%s | %s", err.message ? err.message : "",
		 err.hint ? err.hint : "");
	if (rc != 0) {
		CHECK(err.message != NULL);
		CHECK(err.hint != NULL);
		CHECK_INT(err.status, rc);
	}
	vmie_error_clear(&err);
	return rc;
}

static void test_buckets(void)
{
	static const struct {
		const char *name;
		const char *why; /* NULL: valid */
	} cases[] = {
		{"my-bucket", NULL},
		{"abc", NULL},
		{"a.b-c.d9", NULL},
		{"0123456789", NULL},
		{"1.2.3", NULL},
		{"ab", "3 to 63 characters"},
		{"a234567890123456789012345678901234567890123456789012345678901234",
		 "3 to 63 characters"},
		{"My-Bucket", "lowercase letters"},
		{"my_bucket", "lowercase letters"},
		{"-bucket", "begin and end"},
		{"bucket-", "begin and end"},
		{".bucket", "begin and end"},
		{"my..bucket", "adjacent dots"},
		{"192.168.1.1", "IP address"},
		{"xn--bucket", "start with 'xn--'"},
		{"sthree-bucket", "start with 'sthree-'"},
		{"amzn-s3-demo-bucket", "start with 'amzn-s3-demo-'"},
		{"bucket-s3alias", "end with '-s3alias'"},
		{"bucket--ol-s3", "end with '--ol-s3'"},
		{"bucket.mrap", "end with '.mrap'"},
		{"bucket--x-s3", "end with '--x-s3'"},
	};
	char msg[1024];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		vmie_options o = {0};
		o.s3_bucket = cases[i].name;
		o.ami_id = "ami-12345678";
		int rc = validate(VMIE_OP_EXPORT, &o, msg, sizeof msg, NULL);
		if (!cases[i].why) {
			CHECK_INT(rc, 0);
			if (rc)
				fprintf(stderr, "  bucket %s: %s\n",
					cases[i].name, msg);
			continue;
		}
		CHECK_INT(rc, VMIE_ERR_INVALID_ARGUMENT);
		CHECK_CONTAINS(msg, "--s3-bucket");
		CHECK_CONTAINS(msg, cases[i].why);
	}
}

static void test_ami_ids(void)
{
	static const struct {
		const char *id;
		int ok;
	} cases[] = {
		{"ami-12345678", 1},
		{"ami-0123456789abcdef0", 1},
		{"ami-1234567", 0},
		{"ami-123456789", 0},
		{"ami-0123456789ABCDEF0", 0},
		{"ami-0123456789abcdefg", 0},
		{"AMI-12345678", 0},
		{"snap-12345678", 0},
		{"ami-0123456789abcdef01", 0},
	};
	char msg[1024];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		vmie_options o = {0};
		o.s3_bucket = "my-bucket";
		o.ami_id = cases[i].id;
		int rc = validate(VMIE_OP_EXPORT, &o, msg, sizeof msg, NULL);
		CHECK_INT(rc, cases[i].ok ? 0 : VMIE_ERR_INVALID_ARGUMENT);
		if (!cases[i].ok)
			CHECK_CONTAINS(msg, "--ami-id");
	}
}

static void test_required_and_applicable(void)
{
	char msg[1024];
	vmie_options o = {0};
	o.ami_id = "ami-12345678";
	CHECK_INT(validate(VMIE_OP_EXPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "--s3-bucket");
	o = import_opts(NULL);
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "--source");
	o = (vmie_options){0};
	o.s3_bucket = "my-bucket";
	CHECK_INT(validate(VMIE_OP_EXPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "--ami-id");
	o = import_opts("https://example.com/a.ova");
	o.ami_id = "ami-12345678";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "--ami-id is not an option of 'vmie import'");
	o = import_opts("https://example.com/a.ova");
	o.s3_export_prefix = "x/";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_INT(validate(VMIE_OP_CONVERT, &o, msg, sizeof msg, NULL), 0);
	/* NULL err still gets the right status. */
	o = import_opts("ftp://example.com/a.ova");
	CHECK_INT(vmie_validate(VMIE_OP_IMPORT, &o, NULL, NULL),
		  VMIE_ERR_INVALID_SOURCE);
	CHECK_INT(vmie_validate(VMIE_OP_IMPORT, NULL, NULL, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
}

static void test_other_options(void)
{
	static const struct {
		const char *license, *usage, *prefix, *profile;
		const char *want; /* NULL: valid */
	} cases[] = {
		{"AWS", NULL, NULL, NULL, NULL},
		{"BYOL", NULL, NULL, NULL, NULL},
		{"byol", NULL, NULL, NULL, "--license-type BYOL"},
		{"Aws", NULL, NULL, NULL, "--license-type AWS"},
		{"GPL", NULL, NULL, NULL, "is not AWS or BYOL"},
		{"AWS", "RunInstances:0010", NULL, NULL, "mutually exclusive"},
		{NULL, "RunInstances", NULL, NULL, NULL},
		{NULL, "RunInstances:0010", NULL, NULL, NULL},
		{NULL, "RunInstances:000g", NULL, NULL, NULL},
		{NULL, "RunInstances:10", NULL, NULL, "--usage-operation"},
		{NULL, "runinstances:0010", NULL, NULL, "--usage-operation"},
		{NULL, "RunInstances:00100", NULL, NULL, "--usage-operation"},
		{NULL, NULL, "exports/x/", NULL, NULL},
		{NULL, NULL, "/exports/x/", NULL, "starts with '/'"},
		{NULL, NULL, "a\tb", NULL, "control character"},
		{NULL, NULL, NULL, "VMIEInstanceProfile", NULL},
		{NULL, NULL, NULL, "my_profile+=,.@-1", NULL},
		{NULL, NULL, NULL, "bad profile", "--instance-profile"},
		{NULL, NULL, NULL, "a/b", "--instance-profile"},
	};
	char msg[1024];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		vmie_options o = import_opts("https://example.com/a.ova");
		o.license_type = cases[i].license;
		o.usage_operation = cases[i].usage;
		o.s3_export_prefix = cases[i].prefix;
		o.instance_profile = cases[i].profile;
		int rc = validate(VMIE_OP_CONVERT, &o, msg, sizeof msg, NULL);
		CHECK_INT(rc, cases[i].want ? VMIE_ERR_INVALID_ARGUMENT : 0);
		if (cases[i].want)
			CHECK_CONTAINS(msg, cases[i].want);
	}
	/* Long prefixes: 1024 bytes pass, 1025 do not. */
	char big[1026];
	memset(big, 'a', sizeof big - 1);
	big[1025] = '\0';
	vmie_options o = import_opts("https://example.com/a.ova");
	o.s3_export_prefix = big;
	CHECK_INT(validate(VMIE_OP_CONVERT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	big[1024] = '\0';
	CHECK_INT(validate(VMIE_OP_CONVERT, &o, msg, sizeof msg, NULL), 0);
	char long_name[130];
	memset(long_name, 'p', 129);
	long_name[129] = '\0';
	o = import_opts("https://example.com/a.ova");
	o.instance_profile = long_name;
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
}

/* --upload-format: vmdk or as-is, for what is uploaded (not an S3
 * source, which is imported as it is). */
static void test_upload_format(void)
{
	static const struct {
		const char *format, *source;
		const char *want; /* NULL: valid */
	} cases[] = {
		{"vmdk", "https://example.com/disk.raw", NULL},
		{"as-is", "https://example.com/disk.raw.xz", NULL},
		{"VMDK", "https://example.com/disk.raw", "use one of vmdk, as-is"},
		{"raw", "https://example.com/disk.raw", "'raw' is not valid"},
		{"vmdk", "s3://my-bucket/disk.raw", "already in S3"},
	};
	char msg[1024];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		vmie_options o = import_opts(cases[i].source);
		o.upload_format = cases[i].format;
		int rc = validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL);
		CHECK_INT(rc, cases[i].want ? VMIE_ERR_INVALID_ARGUMENT : 0);
		if (cases[i].want)
			CHECK_CONTAINS(msg, cases[i].want);
	}
}

/* What ImportImage and IAM would refuse, refused before the upload:
 * uefi-preferred, more than 50 tags, a role name over 64 characters, a
 * KMS key that is no id, alias or ARN (issue 12). */
static void test_aws_limits(void)
{
	char msg[1024];
	vmie_options o = import_opts("https://example.com/a.ova");
	o.boot_mode = "uefi-preferred";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "not supported for importing images");
	CHECK_CONTAINS(msg, "--boot-mode uefi");
	CHECK_INT(validate(VMIE_OP_CONVERT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	o.boot_mode = "uefi";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL), 0);
	o.boot_mode = "legacy-bios";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL), 0);

	static char tagbuf[52][16];
	const char *tags[52];
	for (int i = 0; i < 52; i++) {
		snprintf(tagbuf[i], sizeof tagbuf[i], "k%d=v", i);
		tags[i] = tagbuf[i];
	}
	o = import_opts("https://example.com/a.ova");
	o.tags = tags;
	o.ntags = 50;
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL), 0);
	o.ntags = 51;
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "at most 50 tags");
	o.s3_bucket = "my-bucket";
	o.source = NULL;
	o.ami_id = "ami-0123456789abcdef0";
	CHECK_INT(validate(VMIE_OP_EXPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);

	char role[66];
	memset(role, 'r', 65);
	role[65] = '\0';
	o = import_opts("https://example.com/a.ova");
	o.role_name = role;
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(msg, "at most 64");
	role[64] = '\0';
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL), 0);
	o.role_name = "my role";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	o.role_name = "";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);

	static const struct {
		const char *key;
		bool ok;
	} keys[] = {
		{"1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"mrk-1234abcd12ab34cd56ef1234567890ab", true},
		{"alias/my-key", true},
		{"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"arn:aws:kms:us-west-2:111122223333:alias/my-key", true},
		{"my-key", false},
		{"alias/", false},
		{"arn:aws:s3:::bucket", false},
	};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		o = import_opts("https://example.com/a.ova");
		o.kms_key_id = keys[i].key;
		CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
			  keys[i].ok ? 0 : VMIE_ERR_INVALID_ARGUMENT);
	}
}

static void test_sources(void)
{
	write_file("ok.json",
		   "[{\"Format\": \"vhd\", \"UserBucket\": {\"S3Bucket\": "
		   "\"my-bucket\", \"S3Key\": \"a.vhd\"}},"
		   " {\"Format\": \"VMDK\", \"Url\": \"s3://my-bucket/b\"}]");
	write_file("bad.json", "[{\"Format\": ");
	write_file("empty.json", "[]");
	write_file("object.json", "{\"Format\": \"vhd\"}");
	write_file("wrong-bucket.json",
		   "[{\"Format\": \"vhd\", \"UserBucket\": {\"S3Bucket\": "
		   "\"my-bucket\", \"S3Key\": \"a.vhd\"}},"
		   " {\"Format\": \"vhd\", \"UserBucket\": {\"S3Bucket\": "
		   "\"x\", \"S3Key\": \"b.vhd\"}}]");
	write_file("bad-format.json",
		   "[{\"Format\": \"qcow2\", \"UserBucket\": {\"S3Bucket\": "
		   "\"my-bucket\", \"S3Key\": \"a\"}}]");
	write_file("no-key.json",
		   "[{\"UserBucket\": {\"S3Bucket\": \"my-bucket\"}}]");
	write_file("neither.json", "[{\"Format\": \"RAW\"}]");
	write_file("not-object.json", "[42]");
	mkdir(path_in_tmp("dir.raw"), 0700);

	static const struct {
		const char *src; /* a name in tmp when not a URL */
		int rc;
		vmie_source_kind kind;
		const char *want;
	} cases[] = {
		{"https://example.com/image.ova", 0, VMIE_SOURCE_HTTP, NULL},
		{"http://example.com:8080/image.ova", 0, VMIE_SOURCE_HTTP, NULL},
		{"HTTPS://example.com/x", 0, VMIE_SOURCE_HTTP, NULL},
		{"https:///image.ova", VMIE_ERR_INVALID_SOURCE,
		 VMIE_SOURCE_HTTP, "no host"},
		{"ftp://example.com/a.ova", VMIE_ERR_INVALID_SOURCE,
		 VMIE_SOURCE_NONE, "ftp:// URLs are not supported"},
		{"file:///tmp/a.ova", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_NONE,
		 "http(s)://"},
		{"s3://my-bucket/images/a.vmdk", 0, VMIE_SOURCE_S3, NULL},
		{"s3://other/a.vmdk", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_S3,
		 "not the --s3-bucket 'my-bucket'"},
		{"s3://my-bucket/", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_S3,
		 "no object key"},
		{"s3://my-bucket", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_S3,
		 "no object key"},
		{"s3:///key", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_S3,
		 "no bucket"},
		{"disk.vmdk", 0, VMIE_SOURCE_FILE, NULL},
		{"missing.vmdk", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_FILE,
		 "No such file or directory"},
		{"dir.raw", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_FILE,
		 "is a directory"},
		{"empty.raw", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_FILE,
		 "is empty"},
		{"ok.json", 0, VMIE_SOURCE_JSON, NULL},
		{"bad.json", VMIE_ERR_JSON_LOAD_FAILED, VMIE_SOURCE_JSON,
		 "not valid JSON"},
		{"empty.json", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_JSON,
		 "is empty"},
		{"object.json", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_JSON,
		 "not a JSON array"},
		{"wrong-bucket.json", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_JSON,
		 "disk container 2: UserBucket.S3Bucket 'x' is not the "
		 "--s3-bucket 'my-bucket'"},
		{"bad-format.json", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_JSON,
		 "disk container 1: Format 'qcow2' is not supported"},
		{"no-key.json", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_JSON,
		 "S3Key is missing"},
		{"neither.json", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_JSON,
		 "neither UserBucket nor Url"},
		{"not-object.json", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_JSON,
		 "not a JSON object"},
		{"missing.json", VMIE_ERR_INVALID_SOURCE, VMIE_SOURCE_JSON,
		 "No such file"},
	};
	char msg[1024];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *src = strstr(cases[i].src, "://")
					  ? cases[i].src
					  : path_in_tmp(cases[i].src);
		vmie_options o = import_opts(src);
		vmie_source_kind kind = VMIE_SOURCE_NONE;
		int rc = validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, &kind);
		CHECK_INT(rc, cases[i].rc);
		CHECK_INT(kind, cases[i].kind);
		if (cases[i].want)
			CHECK_CONTAINS(msg, cases[i].want);
		if (rc != cases[i].rc)
			fprintf(stderr, "  source %s: %s\n", cases[i].src, msg);
	}
}

static void test_region_and_run(void)
{
	char msg[1024];
	vmie_options o = import_opts("https://example.com/a.ova");
	unsetenv("AWS_REGION");
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_AWS_REGION_NOT_FOUND);
	CHECK_CONTAINS(msg, "--region");
	/* Cheap checks come before the region. */
	o.s3_bucket = "BAD";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL),
		  VMIE_ERR_INVALID_ARGUMENT);
	o.s3_bucket = "my-bucket";
	o.aws.region = "eu-west-1";
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL), 0);
	setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
	o.aws.region = NULL;
	CHECK_INT(validate(VMIE_OP_IMPORT, &o, msg, sizeof msg, NULL), 0);
	unsetenv("AWS_DEFAULT_REGION");
	setenv("AWS_REGION", "us-west-2", 1);

	/* No credentials anywhere: the runs below stop at the first AWS call. */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/vmie-test/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/vmie-test/config", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	static const vmie_operation ops[] = {VMIE_OP_IMPORT, VMIE_OP_EXPORT,
					     VMIE_OP_CONVERT};
	for (size_t i = 0; i < 3; i++) {
		vmie_error err = {0};
		vmie_options r = import_opts(path_in_tmp("disk.vmdk"));
		/* disk.vmdk is no image: the preflight refuses it ... */
		if (ops[i] != VMIE_OP_EXPORT)
			CHECK_INT(vmie_run(ops[i], &r, NULL, NULL),
				  VMIE_ERR_FILE_UNSUPPORTED_FORMAT);
		/* ... unless forced, and then the run goes on (import to
		 * AWS: its tests run against the emulator). */
		r.force = true;
		if (ops[i] == VMIE_OP_IMPORT)
			continue;
		if (ops[i] == VMIE_OP_EXPORT) {
			r.source = NULL;
			r.ami_id = "ami-0123456789abcdef0";
		}
		/* Past the checks, the first AWS call finds no credentials
		 * (none anywhere in this environment). */
		CHECK_INT(vmie_run(ops[i], &r, NULL, &err),
			  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
		CHECK(err.message && strstr(err.message, "no AWS credentials found"));
		vmie_error_clear(&err);
		CHECK_INT(vmie_run(ops[i], &r, NULL, NULL),
			  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	}
	vmie_error err = {0};
	o = import_opts("ftp://x/y");
	CHECK_INT(vmie_run(VMIE_OP_IMPORT, &o, NULL, &err), VMIE_ERR_INVALID_SOURCE);
	vmie_error_clear(&err);
}

int main(void)
{
	setup_env();
	test_buckets();
	test_ami_ids();
	test_required_and_applicable();
	test_other_options();
	test_upload_format();
	test_aws_limits();
	test_sources();
	test_region_and_run();
	nftw(tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return check_done("validate");
}
