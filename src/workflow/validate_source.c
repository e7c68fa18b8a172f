/*
 * --source checks: what it names (an http(s) or S3 URL, a local image
 * file, a JSON file of disk containers), and that what it names is there
 * and usable before anything is uploaded or imported.
 */
#include "base/error.h"
#include "workflow/validate_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A container's Url: s3://BUCKET/KEY in the --s3-bucket (checked with
 * HeadObject and used for the role like a UserBucket), or an https:// URL
 * VM Import fetches itself. */
static int check_container_url(const char *url, const char *bucket,
			       vmie_error *err)
{
	if (url && strncasecmp(url, "https://", 8) == 0 && url[8] &&
	    url[8] != '/')
		return 0;
	if (!url || strncasecmp(url, "s3://", 5) != 0) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "Url '%s' is not an "
			 "s3:// or https:// URL", url ? url : "(not a string)");
		return verr_hint(err, "write \"Url\": \"s3://%s/disk.vmdk\"",
				 bucket);
	}
	const char *b = url + 5, *slash = strchr(b, '/');
	size_t blen = slash ? (size_t)(slash - b) : strlen(b);
	if (!slash || !slash[1] || !blen) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "Url '%s' names no "
			 "object (s3://BUCKET/KEY)", url);
		return verr_hint(err, "write \"Url\": \"s3://%s/disk.vmdk\"",
				 bucket);
	}
	if (strlen(bucket) != blen || strncmp(b, bucket, blen) != 0) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE, "Url '%s' is not in the "
			 "--s3-bucket '%s'", url, bucket);
		return verr_hint(err, "upload the disks to %s, or pass "
				 "--s3-bucket %.*s", bucket, (int)blen, b);
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
	json_t *url = json_object_get(c, "Url");
	if (ub && url) {
		verr_set(err, VMIE_ERR_INVALID_SOURCE,
			 "has both UserBucket and Url");
		return verr_hint(err, "give one of them: a disk container "
				      "names one object");
	}
	if (url)
		return check_container_url(json_string_value(url), bucket, err);
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

int vmie_check_source(const char *src, const char *bucket,
		      vmie_source_kind *kind, vmie_error *err)
{
	int rc = classify_source(src, bucket, kind, err);
	if (rc)
		return rc;
	if (*kind == VMIE_SOURCE_FILE)
		return check_local_file(src, err);
	if (*kind == VMIE_SOURCE_JSON)
		return check_json_source(src, bucket, err);
	return 0;
}
