/*
 * The import options beyond the reference tool's: where the object goes,
 * what ImportImage is told, and what the run does.  Each value AWS would
 * reject is rejected here first, with the accepted values in the hint.
 */
#include "base/error.h"
#include "vmie.h"
#include "workflow/validate_internal.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static int one_of(const char *opt, const char *v, const char *const *ok,
		  size_t n, vmie_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, ok[i]) == 0)
			return 0;
	char list[256] = "";
	for (size_t i = 0; i < n; i++) {
		strncat(list, ok[i], sizeof(list) - strlen(list) - 1);
		if (i + 1 < n)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s '%s' is not valid", opt, v);
	return verr_hint(err, "use one of %s", list);
}

#define ONE_OF(opt, v, ...)                                                   \
	one_of(opt, v, (const char *const[]){__VA_ARGS__},                    \
	       sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *), err)

static int check_tag(const char *t, vmie_error *err)
{
	const char *eq = strchr(t, '=');
	size_t klen = eq ? (size_t)(eq - t) : 0;
	if (!eq || !klen) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--tag '%s' is not "
			 "KEY=VALUE", t);
		return verr_hint(err, "write --tag Project=migration (repeat "
				 "--tag for more tags)");
	}
	/* EC2's tag limits; the aws: prefix is reserved for AWS's own. */
	if (klen > 128 || strlen(eq + 1) > 256) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--tag '%.40s...': a key "
			 "is at most 128 characters and a value 256", t);
		return verr_hint(err, "shorten the tag");
	}
	if (strncasecmp(t, "aws:", 4) == 0) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--tag '%s': keys "
			 "starting with aws: are reserved for AWS", t);
		return verr_hint(err, "choose another key");
	}
	return 0;
}

/* The slots shared through S3 lease objects (task_lease.h). */
static int check_slots(const vmie_options *o, vmie_error *err)
{
	if (o->max_tasks > 100 || o->max_instances > 100) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--max-%s is above 100",
			 o->max_tasks > 100 ? "tasks" : "instances");
		return verr_hint(err, "AWS's quotas are far lower: ask for what "
				 "the account may run at once");
	}
	const char *p = o->lease_prefix;
	if (p && (!*p || *p == '/' || strlen(p) > 900)) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--lease-prefix must be 1 "
			 "to 900 characters and not start with '/'");
		return verr_hint(err, "write --lease-prefix vmie-leases/");
	}
	return 0;
}

/* EC2 allows 50 user tags on a resource (the task); more fail the
 * ImportImage or ExportImage call. */
#define MAX_TAGS 50

/* ImportImage refuses uefi-preferred ("The uefi-preferred boot mode isn't
 * supported for importing images"), after the whole upload. */
static int check_boot_mode(const char *v, vmie_error *err)
{
	if (strcmp(v, "uefi-preferred") == 0) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--boot-mode "
			 "uefi-preferred is not supported for importing "
			 "images (ImportImage refuses it)");
		return verr_hint(err, "use --boot-mode uefi or legacy-bios, or "
				 "leave it out and AWS detects the boot mode");
	}
	return ONE_OF("--boot-mode", v, "legacy-bios", "uefi");
}

static bool all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

/* ImportImage's KmsKeyId: a key id, a multi-Region key id, an alias, or
 * the ARN of a key or an alias (EC2 API reference). */
static int check_kms_key(const char *v, vmie_error *err)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	size_t n = strlen(v);
	bool ok = (n == 36 && all_of(v, n, "0123456789abcdefABCDEF-")) ||
		  (n == 36 && strncmp(v, "mrk-", 4) == 0 && all_of(v + 4, 32, hex)) ||
		  (n > 6 && strncmp(v, "alias/", 6) == 0) ||
		  (strncmp(v, "arn:", 4) == 0 && strstr(v, ":kms:") &&
		   (strstr(v, ":key/") || strstr(v, ":alias/")));
	if (ok && n <= 2048)
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--kms-key-id '%s' is not a "
		 "KMS key id, alias or ARN", v);
	return verr_hint(err, "give the key id (1234abcd-12ab-34cd-56ef-"
			 "1234567890ab), alias/NAME, or the key's ARN");
}

int vmie_check_import_options(vmie_operation op, const vmie_options *o,
			      vmie_error *err)
{
	int rc = 0;

	/* Export tags its task and describes it too. */
	if (o->description && strlen(o->description) > 255) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--description is "
			 "longer than 255 characters");
		return verr_hint(err, "shorten it");
	}
	if (o->ntags > MAX_TAGS) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--tag given %zu times; "
			 "EC2 allows at most %d tags on a resource", o->ntags,
			 MAX_TAGS);
		return verr_hint(err, "keep %d tags or fewer", MAX_TAGS);
	}
	for (size_t i = 0; i < o->ntags; i++)
		if ((rc = check_tag(o->tags[i], err)) != 0)
			return rc;
	if ((rc = check_slots(o, err)) != 0)
		return rc;
	if (op == VMIE_OP_EXPORT || op == VMIE_OP_DOWNLOAD)
		return 0;
	if (o->storage_class &&
	    (rc = ONE_OF("--storage-class", o->storage_class, "STANDARD",
			 "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
			 "GLACIER_IR")))
		return rc;
	if (o->upload_format &&
	    (rc = ONE_OF("--upload-format", o->upload_format, "vmdk", "as-is")))
		return rc;
	if (o->architecture &&
	    (rc = ONE_OF("--architecture", o->architecture, "i386", "x86_64", "arm64")))
		return rc;
	if (o->platform && (rc = ONE_OF("--platform", o->platform, "Linux", "Windows")))
		return rc;
	if (o->boot_mode && (rc = check_boot_mode(o->boot_mode, err)))
		return rc;
	if (o->kms_key_id && (rc = check_kms_key(o->kms_key_id, err)))
		return rc;
	if (o->s3_key && (!*o->s3_key || strlen(o->s3_key) > 1024 ||
			  o->s3_key[0] == '/')) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--s3-key must be 1 to "
			 "1024 characters and not start with '/'");
		return verr_hint(err, "write --s3-key images/disk.raw");
	}
	if (o->upload_only && o->install_sanbootable) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--upload-only and "
			 "--install-sanbootable do not go together");
		return verr_hint(err, "--upload-only stops before there is an "
				 "AMI to change");
	}
	return 0;
}
