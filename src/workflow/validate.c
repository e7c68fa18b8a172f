/*
 * vmie_validate: every option checked before anything is sent to AWS, so
 * a doomed run fails in milliseconds with the option named and the fix
 * given, instead of an hour later inside an import task.  It lives in the
 * library so every front-end gets the same checks.
 *
 * Order: cheap string checks first, then the source on the filesystem,
 * then the region (which reads the AWS config files).
 */
#include "base/error.h"
#include "base/log.h"
#include "vmie.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) &&
		    !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool has_suffix(const char *s, const char *x)
{
	size_t n = strlen(s), m = strlen(x);
	return n >= m && strcmp(s + n - m, x) == 0;
}

/* Four dotted decimal numbers: S3 refuses bucket names shaped like IPs. */
static bool looks_like_ipv4(const char *s)
{
	int parts = 0;
	while (*s) {
		int digits = 0;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
		if (!digits || digits > 3)
			return false;
		parts++;
		if (*s == '.')
			s++;
		else if (*s)
			return false;
	}
	return parts == 4;
}

/* General-purpose bucket naming rules (S3 User Guide, "Bucket naming
 * rules"), so a typo fails here and not at CreateBucket or upload time. */
static int check_bucket(const char *b, vmie_error *err)
{
	size_t n = strlen(b);
	const char *why = NULL;
	static const char *const bad_prefix[] = {"xn--", "sthree-",
						 "amzn-s3-demo-"};
	static const char *const bad_suffix[] = {"-s3alias", "--ol-s3",
						 ".mrap", "--x-s3"};

	if (n < 3 || n > 63) {
		why = "must be 3 to 63 characters long";
		goto bad;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_lower_alnum(b[i]) && b[i] != '.' && b[i] != '-') {
			why = "may contain only lowercase letters, digits, "
			      "dots and hyphens";
			goto bad;
		}
	}
	if (!is_lower_alnum(b[0]) || !is_lower_alnum(b[n - 1])) {
		why = "must begin and end with a lowercase letter or digit";
		goto bad;
	}
	if (strstr(b, "..")) {
		why = "must not contain two adjacent dots";
		goto bad;
	}
	if (looks_like_ipv4(b)) {
		why = "must not be formatted as an IP address";
		goto bad;
	}
	for (size_t i = 0; i < sizeof bad_prefix / sizeof *bad_prefix; i++) {
		if (has_prefix(b, bad_prefix[i])) {
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "--s3-bucket '%s': bucket names must not "
				 "start with '%s'", b, bad_prefix[i]);
			goto hint;
		}
	}
	for (size_t i = 0; i < sizeof bad_suffix / sizeof *bad_suffix; i++) {
		if (has_suffix(b, bad_suffix[i])) {
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "--s3-bucket '%s': bucket names must not end "
				 "with '%s'", b, bad_suffix[i]);
			goto hint;
		}
	}
	return 0;
bad:
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
		 "--s3-bucket '%s': bucket names %s", b, why);
hint:
	return verr_hint(err, "use a bucket name such as my-vmie-bucket (see "
			      "the S3 bucket naming rules)");
}

static int check_ami(const char *id, vmie_error *err)
{
	size_t n = strlen(id);
	if (has_prefix(id, "ami-") && (n == 12 || n == 21) &&
	    is_hex(id + 4, n - 4))
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
		 "--ami-id '%s' is not an AMI id", id);
	return verr_hint(err, "an AMI id is 'ami-' and 8 or 17 lowercase hex "
			      "digits, e.g. ami-0123456789abcdef0");
}

/* AWS accepts exactly "AWS" or "BYOL"; suggest the spelling on a near
 * miss rather than silently fixing it (the value ends up on the AMI). */
static int check_license(const char *v, vmie_error *err)
{
	if (strcmp(v, "AWS") == 0 || strcmp(v, "BYOL") == 0)
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
		 "--license-type '%s' is not AWS or BYOL", v);
	if (strcasecmp(v, "AWS") == 0 || strcasecmp(v, "BYOL") == 0)
		return verr_hint(err, "write it in capitals: --license-type %s",
				 strcasecmp(v, "AWS") == 0 ? "AWS" : "BYOL");
	return verr_hint(err, "use --license-type AWS or --license-type BYOL");
}

/* "RunInstances" or "RunInstances:" plus a 4-character billing code.
 * Codes are not only digits (RunInstances:000g is SUSE, :00g0 RHEL HA),
 * so any 4 lowercase letters or digits pass. */
static int check_usage_operation(const char *v, vmie_error *err)
{
	if (strcmp(v, "RunInstances") == 0)
		return 0;
	if (has_prefix(v, "RunInstances:") && strlen(v) == 17) {
		bool ok = true;
		for (const char *p = v + 13; *p; p++)
			ok = ok && is_lower_alnum(*p);
		if (ok)
			return 0;
	}
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
		 "--usage-operation '%s' is not a usage operation", v);
	return verr_hint(err, "use RunInstances or RunInstances:NNNN, e.g. "
			      "--usage-operation RunInstances:0010");
}

static int check_export_prefix(const char *v, vmie_error *err)
{
	size_t n = strlen(v);
	if (n > 1024) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			 "--s3-export-prefix is %zu bytes long; S3 keys are at "
			 "most 1024", n);
		return verr_hint(err, "use a shorter prefix, e.g. "
				      "exports/my-image/");
	}
	if (v[0] == '/') {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			 "--s3-export-prefix '%s' starts with '/'", v);
		return verr_hint(err, "S3 keys are relative to the bucket: "
				      "--s3-export-prefix %s", v + 1);
	}
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "--s3-export-prefix contains a control "
				 "character (byte %zu)",
				 (size_t)(p - (const unsigned char *)v) + 1);
			return verr_hint(err, "use printable characters, e.g. "
					      "exports/my-image/");
		}
	}
	return 0;
}

/* IAM names: [\w+=,.@-]{1,128}. */
static int check_instance_profile(const char *v, vmie_error *err)
{
	size_t n = strlen(v);
	bool ok = n >= 1 && n <= 128;
	for (const char *p = v; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || strchr("_+=,.@-", *p);
	if (ok)
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
		 "--instance-profile '%s' is not an IAM instance profile name",
		 v);
	return verr_hint(err, "use 1 to 128 letters, digits and _+=,.@- "
			      "(default: " VMIE_DEFAULT_INSTANCE_PROFILE ")");
}

/* Options that do not belong to the operation (a CLI rejects them while
 * parsing; other front-ends get the same answer here). */
static int check_applicable(vmie_operation op, const vmie_options *o,
			    vmie_error *err)
{
	const char *name = NULL;
	if (op == VMIE_OP_EXPORT) {
		if (o->source)
			name = "--source";
		else if (o->license_type)
			name = "--license-type";
		else if (o->usage_operation)
			name = "--usage-operation";
	} else {
		if (o->ami_id)
			name = "--ami-id";
		else if (op == VMIE_OP_IMPORT && o->s3_export_prefix)
			name = "--s3-export-prefix";
	}
	if (!name)
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s is not an option of "
		 "'vmie %s'", name, vmie_operation_name(op));
	return verr_hint(err, "Run 'vmie %s --help' to see its options",
			 vmie_operation_name(op));
}

static int check_required(vmie_operation op, const vmie_options *o,
			  vmie_error *err)
{
	const char *name = NULL;
	if (!o->s3_bucket || !*o->s3_bucket)
		name = "--s3-bucket (-b)";
	else if (op == VMIE_OP_EXPORT && (!o->ami_id || !*o->ami_id))
		name = "--ami-id (-a)";
	else if (op != VMIE_OP_EXPORT && (!o->source || !*o->source))
		name = "--source (-s)";
	if (!name)
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "missing required option %s",
		 name);
	return verr_hint(err, "Run 'vmie %s --help' to see its options",
			 vmie_operation_name(op));
}

static int check_strings(vmie_operation op, const vmie_options *o,
			 vmie_error *err)
{
	int rc;
	if ((rc = check_applicable(op, o, err)) != 0 ||
	    (rc = check_required(op, o, err)) != 0 ||
	    (rc = check_bucket(o->s3_bucket, err)) != 0)
		return rc;
	if (o->ami_id && (rc = check_ami(o->ami_id, err)) != 0)
		return rc;
	if (o->license_type && o->usage_operation) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			 "--license-type and --usage-operation are mutually "
			 "exclusive");
		return verr_hint(err, "give only one of them (AWS VM Import "
				      "accepts one licensing option)");
	}
	if (o->license_type && (rc = check_license(o->license_type, err)) != 0)
		return rc;
	if (o->usage_operation &&
	    (rc = check_usage_operation(o->usage_operation, err)) != 0)
		return rc;
	if (o->s3_export_prefix &&
	    (rc = check_export_prefix(o->s3_export_prefix, err)) != 0)
		return rc;
	if (o->instance_profile &&
	    (rc = check_instance_profile(o->instance_profile, err)) != 0)
		return rc;
	return 0;
}

#define SOURCE_FORMS "an http(s):// URL, s3://BUCKET/KEY, a local image " \
		     "file, or a .json file of disk containers"

/* A URL scheme: letters, digits, + - . then "://". */
static size_t scheme_len(const char *s)
{
	size_t i = 0;
	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
	       s[i] == '.')
		i++;
	return strncmp(s + i, "://", 3) == 0 ? i : 0;
}

static int check_http(const char *src, size_t slen, vmie_error *err)
{
	const char *host = src + slen + 3;
	size_t n = strcspn(host, "/?#");
	const char *at = memchr(host, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - host);
		host = at + 1;
	}
	/* "host:port": the host part must not be empty. */
	if (n > 0 && host[0] != ':')
		return 0;
	verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s': the URL has no "
		 "host", src);
	return verr_hint(err, "write it as https://HOST/PATH/image.ova");
}

static int check_s3_url(const char *src, const char *bucket, vmie_error *err)
{
	const char *b = src + 5;
	const char *slash = strchr(b, '/');
	size_t blen = slash ? (size_t)(slash - b) : strlen(b);
	if (!blen) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s': the S3 "
			 "URL has no bucket", src);
		return verr_hint(err, "write it as s3://%s/KEY", bucket);
	}
	if (!slash || !slash[1]) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s': the S3 "
			 "URL has no object key", src);
		return verr_hint(err, "write it as s3://%.*s/path/image.vmdk",
				 (int)blen, b);
	}
	if (strlen(bucket) != blen || strncmp(b, bucket, blen) != 0) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s' is in "
			 "bucket '%.*s', not the --s3-bucket '%s'", src,
			 (int)blen, b, bucket);
		return verr_hint(err, "use --s3-bucket %.*s, or copy the "
				 "object into %s first (aws s3 cp %s s3://%s/%s)",
				 (int)blen, b, bucket, src, bucket, slash + 1);
	}
	return 0;
}

/* What --source names, from its spelling alone; URL checks included. */
static int classify_source(const char *src, const char *bucket,
			   vmie_source_kind *kind, vmie_error *err)
{
	size_t slen = scheme_len(src);
	if (!slen) {
		size_t n = strlen(src);
		*kind = n > 5 && strcasecmp(src + n - 5, ".json") == 0
				? VMIE_SOURCE_JSON
				: VMIE_SOURCE_FILE;
		return 0;
	}
	if ((slen == 4 && strncasecmp(src, "http", 4) == 0) ||
	    (slen == 5 && strncasecmp(src, "https", 5) == 0)) {
		*kind = VMIE_SOURCE_HTTP;
		return check_http(src, slen, err);
	}
	if (slen == 2 && strncasecmp(src, "s3", 2) == 0) {
		*kind = VMIE_SOURCE_S3;
		return check_s3_url(src, bucket, err);
	}
	verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s': %.*s:// URLs "
		 "are not supported", src, (int)slen, src);
	return verr_hint(err, "use " SOURCE_FORMS);
}

/* The local file exists, is a regular file or a block device, and we may
 * read it: found now, not after an hour of uploading something else. */
static int check_local_file(const char *path, vmie_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s': %s",
			 path, strerror(errno));
		return verr_hint(err, "check the path; --source takes "
				 SOURCE_FORMS);
	}
	if (S_ISDIR(st.st_mode)) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s' is a "
			 "directory", path);
		return verr_hint(err, "name the image file inside it");
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s' is not a "
			 "regular file or a block device", path);
		return verr_hint(err, "copy the image into a file first");
	}
	/* O_NONBLOCK: only an existence-and-permission probe. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s': %s",
			 path, strerror(errno));
		return verr_hint(err, "check the file's permissions "
				 "(ls -l '%s')", path);
	}
	close(fd);
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source '%s' is empty",
			 path);
		return verr_hint(err, "a disk image is at least one sector; "
				      "check the file");
	}
	return 0;
}

/* One disk container; the caller prefixes "--source F: disk container N". */
static int check_container(json_t *c, const char *bucket, vmie_error *err)
{
	static const char *const formats[] = {"OVA", "VHD", "VHDX", "VMDK",
					      "RAW"};
	if (!json_is_object(c)) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "not a JSON object");
		return verr_hint(err, "each disk container is an object with "
				      "Format and UserBucket");
	}
	/* Format is optional in ImportImage; when given it must be one of
	 * the formats VM Import reads. */
	json_t *f = json_object_get(c, "Format");
	const char *fs = json_string_value(f);
	bool ok = !f;
	for (size_t k = 0; fs && k < sizeof formats / sizeof *formats; k++)
		ok = ok || strcasecmp(fs, formats[k]) == 0;
	if (!ok) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE,
			 "Format '%s' is not supported",
			 fs ? fs : "(not a string)");
		return verr_hint(err, "set Format to one of OVA, VHD, VHDX, "
				      "VMDK, RAW");
	}
	json_t *ub = json_object_get(c, "UserBucket");
	const char *url = json_string_value(json_object_get(c, "Url"));
	if (!ub && url && *url)
		return 0;
	if (!ub) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE,
			 "has neither UserBucket nor Url");
		return verr_hint(err, "give \"UserBucket\": {\"S3Bucket\": "
				      "\"%s\", \"S3Key\": ...} or a \"Url\"",
				 bucket);
	}
	const char *sb = json_string_value(json_object_get(ub, "S3Bucket"));
	const char *sk = json_string_value(json_object_get(ub, "S3Key"));
	if (!sb) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE,
			 "UserBucket.S3Bucket is missing");
		return verr_hint(err, "set UserBucket.S3Bucket to \"%s\"",
				 bucket);
	}
	if (strcmp(sb, bucket) != 0) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "UserBucket.S3Bucket "
			 "'%s' is not the --s3-bucket '%s'", sb, bucket);
		return verr_hint(err, "upload the disks to %s and name it in "
				 "S3Bucket, or pass --s3-bucket %s", bucket,
				 sb);
	}
	if (!sk || !*sk) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE,
			 "UserBucket.S3Key is missing or empty");
		return verr_hint(err, "set UserBucket.S3Key to the object key "
				      "of the disk image");
	}
	return 0;
}

static int check_json_source(const char *path, const char *bucket,
			     vmie_error *err)
{
	json_error_t jerr;
	int rc = check_local_file(path, err);
	if (rc)
		return rc;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root) {
		verr_set(err, VMIE_ERR_JSON_LOAD_FAILED, "--source %s: not "
			 "valid JSON: %s (line %d, column %d)", path, jerr.text,
			 jerr.line, jerr.column);
		return verr_hint(err, "fix the JSON; it must be an array of "
				      "disk containers");
	}
	if (!json_is_array(root) || json_array_size(root) == 0) {
		const char *why = json_is_array(root)
			? "the array of disk containers is empty"
			: "not a JSON array of disk containers";
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "--source %s: %s", path,
			 why);
		verr_hint(err, "write [{\"Format\": \"vmdk\", \"UserBucket\": "
			  "{\"S3Bucket\": \"%s\", \"S3Key\": \"disk.vmdk\"}}]",
			  bucket);
		rc = VMIE_ERR_INVALID_SOURCE;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(root); i++) {
		rc = check_container(json_array_get(root, i), bucket, err);
		if (rc) {
			verr_prefix(err, "--source %s: disk container %zu",
				    path, i + 1);
			goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

int vmie_validate(vmie_operation op, const vmie_options *opts,
		  vmie_source_kind *kind_out, vmie_error *err)
{
	/* A local error: the checks below return verr_hint()'s status, which
	 * needs a vmie_error even when the caller passed NULL. */
	vmie_error e = {0};
	vmie_source_kind kind = VMIE_SOURCE_NONE;
	char *region = NULL;
	const char *region_src = NULL;
	int rc;

	if (!opts) {
		rc = verr_set(&e, VMIE_ERR_INVALID_ARGUMENT, "no options");
		goto out;
	}
	if ((rc = check_strings(op, opts, &e)) != 0)
		goto out;
	if (op != VMIE_OP_EXPORT &&
	    (rc = classify_source(opts->source, opts->s3_bucket, &kind, &e)))
		goto out;
	if (kind == VMIE_SOURCE_FILE)
		rc = check_local_file(opts->source, &e);
	else if (kind == VMIE_SOURCE_JSON)
		rc = check_json_source(opts->source, opts->s3_bucket, &e);
	if (rc)
		goto out;
	if ((rc = vmie_resolve_region(&opts->aws, &region, &region_src, &e)))
		goto out;
	vlog_debug("options valid: region %s (from %s)", region,
		   region_src ? region_src : "?");
out:
	if (kind_out)
		*kind_out = kind;
	free(region);
	verr_move(err, &e);
	return rc;
}
