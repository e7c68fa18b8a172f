/*
 * The options of export, --install-sanbootable and download: the export
 * format, the download target, the temporary instance's type and subnet,
 * and `vmie download`'s s3:// URL.  Checked before anything reaches AWS.
 */
#include "base/error.h"
#include "vmie.h"
#include "workflow/validate_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_format(const char *v, vmie_error *err)
{
	if (!strcmp(v, "RAW") || !strcmp(v, "VMDK") || !strcmp(v, "VHD"))
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--export-format '%s' is not "
		 "valid", v);
	return verr_hint(err, "use one of RAW, VMDK, VHD (upper case, as "
			      "ExportImage takes them)");
}

/* A file to create or resume, or a block device; never a directory, and
 * its directory must exist. */
static int check_target(const char *path, const char *opt, vmie_error *err)
{
	struct stat st;
	if (!*path) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s is empty", opt);
		return verr_hint(err, "name a file or a block device");
	}
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s '%s' is a "
				 "directory", opt, path);
			return verr_hint(err, "name the file to write, e.g. "
					      "%s/disk.raw", path);
		}
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s '%s' is "
				 "neither a regular file nor a block device",
				 opt, path);
			return verr_hint(err, "name a file or a block device");
		}
		return 0;
	}
	if (errno != ENOENT) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s '%s': %s", opt,
			 path, strerror(errno));
		return verr_hint(err, "check the path and its permissions");
	}
	char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	int rc = 0;
	if (slash && slash != dir) {
		*slash = '\0';
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s '%s': the "
				 "directory %s does not exist", opt, path, dir);
			rc = verr_hint(err, "create it first (mkdir -p %s)", dir);
		}
	}
	free(dir);
	return rc;
}

/* EC2 instance types look like family.size: t3.micro, m7i-flex.large. */
static int check_instance_type(const char *v, vmie_error *err)
{
	const char *dot = strchr(v, '.');
	bool ok = dot && dot != v && dot[1] && strlen(v) <= 64;
	for (const char *p = v; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '.' || *p == '-';
	if (ok)
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--instance-type '%s' is not "
		 "an EC2 instance type", v);
	return verr_hint(err, "write it as family.size, e.g. t3.micro (the "
			      "default) or m6i.large");
}

static int check_subnet(const char *v, vmie_error *err)
{
	size_t n = strlen(v);
	bool ok = strncmp(v, "subnet-", 7) == 0 && (n == 15 || n == 24);
	for (size_t i = 7; ok && i < n; i++)
		ok = isxdigit((unsigned char)v[i]) && !isupper((unsigned char)v[i]);
	if (ok)
		return 0;
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--subnet-id '%s' is not a "
		 "subnet id", v);
	return verr_hint(err, "use the id as EC2 shows it, e.g. "
			      "subnet-0123456789abcdef0");
}

/* vmie download's source: s3://bucket/key, any bucket. */
static int check_download_url(const char *url, vmie_error *err)
{
	const char *rest = url && !strncmp(url, "s3://", 5) ? url + 5 : NULL;
	const char *slash = rest ? strchr(rest, '/') : NULL;
	if (rest && slash && slash != rest && slash[1])
		return 0;
	verr_set(err, VMIE_ERR_INVALID_SOURCE, "'%s' is not an S3 object URL",
		 url ? url : "");
	return verr_hint(err, "write s3://BUCKET/KEY, e.g. "
			      "s3://my-bucket/exports/export-ami-0123.raw");
}

int vmie_check_export_options(vmie_operation op, const vmie_options *o,
			      vmie_error *err)
{
	int rc;
	const char *target_opt = op == VMIE_OP_DOWNLOAD ? "the target" : "--download";

	if (op == VMIE_OP_DOWNLOAD && (rc = check_download_url(o->source, err)))
		return rc;
	if (o->export_format && (rc = check_format(o->export_format, err)))
		return rc;
	if (o->download_path && (rc = check_target(o->download_path, target_opt, err)))
		return rc;
	if ((o->sparse || o->overwrite) && !o->download_path) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--%s applies to a "
			 "download", o->sparse ? "sparse" : "overwrite");
		return verr_hint(err, "add --download PATH, or leave it out");
	}
	if (o->download_format && strcmp(o->download_format, "raw") != 0 &&
	    strcmp(o->download_format, "as-is") != 0) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--download-format "
			 "'%s' is not valid", o->download_format);
		return verr_hint(err, "use raw (a VMDK written as the disk it "
				      "holds) or as-is (the object byte for "
				      "byte)");
	}
	if (o->download_format && !o->download_path) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--download-format "
			 "applies to a download");
		return verr_hint(err, "add --download PATH, or leave it out");
	}
	/* A VHD is written as it is or not at all: the disk vmie writes
	 * from an export is RAW (a VMDK is decoded on the way). */
	if (o->download_path && o->export_format &&
	    !strcmp(o->export_format, "VHD") &&
	    !(o->download_format && !strcmp(o->download_format, "as-is"))) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--download writes the "
			 "exported disk as RAW, which a VHD export is not");
		return verr_hint(err, "use --export-format RAW or VMDK (a VMDK "
				      "is written as RAW while it downloads), or "
				      "add --download-format as-is to keep the "
				      "VHD as it is");
	}
	if ((o->instance_type || o->subnet_id) && !o->install_sanbootable) {
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "--%s applies to the "
			 "sanbootable instance", o->instance_type ? "instance-type"
			 : "subnet-id");
		return verr_hint(err, "add --install-sanbootable, or leave it out");
	}
	if (o->instance_type && (rc = check_instance_type(o->instance_type, err)))
		return rc;
	if (o->subnet_id && (rc = check_subnet(o->subnet_id, err)))
		return rc;
	if (o->install_sanbootable && o->platform &&
	    !strcmp(o->platform, "Windows")) {
		verr_set(err, VMIE_ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED,
			 "--install-sanbootable is for Linux images; --platform "
			 "says Windows");
		return verr_hint(err, "iPXE's sanbootable package is Linux only: "
				      "import without --install-sanbootable");
	}
	return 0;
}
