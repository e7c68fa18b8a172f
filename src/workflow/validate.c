/*
 * vmie_validate: every option checked before anything is sent to AWS, so
 * a doomed run fails in milliseconds with the option named and the fix
 * given, instead of an hour later inside an import task.  It lives in the
 * library so every front-end gets the same checks.
 *
 * Order: cheap string checks first, then the source on the filesystem,
 * then the region (which reads the AWS config files).
 */
#include "aws/s3_transfer_config.h"
#include "aws/endpoint.h"
#include "base/error.h"
#include "base/log.h"
#include "vmie.h"
#include "workflow/validate_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* IAM names: [\w+=,.@-]{1,max}. */
static bool iam_name_ok(const char *v, size_t max)
{
	size_t n = strlen(v);
	bool ok = n >= 1 && n <= max;
	for (const char *p = v; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || strchr("_+=,.@-", *p);
	return ok;
}

static int check_instance_profile(const char *v, vmie_error *err)
{
	if (iam_name_ok(v, 128))
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
		 "--instance-profile '%s' is not an IAM instance profile name",
		 v);
	return verr_hint(err, "use 1 to 128 letters, digits and _+=,.@- "
			      "(default: " VMIE_DEFAULT_INSTANCE_PROFILE ")");
}

/* IAM role names: [\w+=,.@-]{1,64} (IAM's RoleName, shorter than the
 * 128 characters of other IAM names). */
static int check_role_name(const char *v, vmie_error *err)
{
	size_t n = strlen(v);
	if (iam_name_ok(v, 64))
		return 0;
	if (n > 64)
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--role-name is %zu "
			 "characters long; IAM role names are at most 64", n);
	else
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--role-name '%s' is "
			 "not an IAM role name", v);
	return verr_hint(err, "use 1 to 64 letters, digits and _+=,.@- "
			      "(default: vmimport)");
}

/* --endpoint-url, before anything runs: a bad URL is a usage error (the
 * client would refuse it too, after the preflight), and so is plain http
 * to another host without --allow-http. */
static int check_endpoint_flag(const vmie_aws_opts *aws, vmie_error *err)
{
	vaws_endpoint ep = {0};
	int rc = vaws_endpoint_parse_url(aws->endpoint_url, "--endpoint-url",
					 &ep, err);
	if (rc == 0 && strcmp(ep.scheme, "http") == 0 && !aws->allow_http &&
	    !vaws_host_is_loopback(ep.host)) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--endpoint-url %s is "
			 "plain http to another host: the signed requests and "
			 "the session token would cross the network in clear "
			 "text", ep.url);
		rc = verr_hint(err, "use https://, or pass --allow-http if the "
				    "network in between is trusted");
	}
	vaws_endpoint_free(&ep);
	return rc;
}

/* Options that do not belong to the operation (a CLI rejects them while
 * parsing; other front-ends get the same answer here). */
static int check_applicable(vmie_operation op, const vmie_options *o,
			    vmie_error *err)
{
	const char *name = NULL;
	if (op == VMIE_OP_DOWNLOAD) {
		if (o->s3_bucket)
			name = "--s3-bucket";
	} else if (op == VMIE_OP_EXPORT) {
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
		else if (op == VMIE_OP_IMPORT && o->download_path)
			name = "--download";
		else if (op == VMIE_OP_IMPORT && o->export_format)
			name = "--export-format";
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
	if (op == VMIE_OP_DOWNLOAD)
		name = !o->download_path || !*o->download_path ? "PATH" : NULL;
	else if (!o->s3_bucket || !*o->s3_bucket)
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
	    (op != VMIE_OP_DOWNLOAD && (rc = check_bucket(o->s3_bucket, err)) != 0))
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
	if (o->role_name && (rc = check_role_name(o->role_name, err)) != 0)
		return rc;
	if (o->aws.endpoint_url && *o->aws.endpoint_url &&
	    (rc = check_endpoint_flag(&o->aws, err)) != 0)
		return rc;
	return 0;
}

/* --max-bandwidth: a rate as the AWS CLI writes s3.max_bandwidth, for a
 * run that moves bytes itself (an export does only with --download). */
static int check_bandwidth(vmie_operation op, const vmie_options *o,
			   vmie_error *err)
{
	uint64_t bps;
	if (!o->max_bandwidth)
		return 0;
	if (vaws_parse_rate(o->max_bandwidth, &bps) != 0) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			 "--max-bandwidth '%s' is not a rate", o->max_bandwidth);
		return verr_hint(err, "write bytes per second as 50MB/s or "
				      "800KB/s, or bits as 400Mb/s (K, M, G "
				      "are powers of 1024, as in the AWS CLI)");
	}
	if (op == VMIE_OP_EXPORT && !o->download_path) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			 "--max-bandwidth applies to a download");
		return verr_hint(err, "add --download PATH, or leave it out "
				      "(AWS writes the export itself)");
	}
	return 0;
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
	if ((rc = check_strings(op, opts, &e)) != 0 ||
	    (rc = vmie_check_import_options(op, opts, &e)) != 0 ||
	    (rc = vmie_check_export_options(op, opts, &e)) != 0 ||
	    (rc = check_bandwidth(op, opts, &e)) != 0)
		goto out;
	if (op != VMIE_OP_EXPORT && op != VMIE_OP_DOWNLOAD &&
	    (rc = vmie_check_source(opts->source, opts->s3_bucket, &kind, &e)))
		goto out;
	if (opts->upload_only && kind != VMIE_SOURCE_FILE && kind != VMIE_SOURCE_HTTP) {
		rc = verr_set(&e, VMIE_ERR_INVALID_ARGUMENT, "--upload-only "
			      "needs a local file or an http(s) URL to upload");
		verr_hint(&e, "the source is already in S3: there is nothing to "
			  "upload");
		goto out;
	}
	if (opts->upload_format && kind != VMIE_SOURCE_FILE &&
	    kind != VMIE_SOURCE_HTTP) {
		rc = verr_set(&e, VMIE_ERR_INVALID_ARGUMENT, "--upload-format "
			      "applies to a local file or an http(s) URL");
		verr_hint(&e, "the source is already in S3 and is imported as "
			  "it is: leave --upload-format out");
		goto out;
	}
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
