/*
 * Pure pieces of the import workflow (see import_plan.h).
 */
#include "workflow/import_plan.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/xalloc.h"

char *vwf_upload_key(const char *image_name)
{
	const char *name = image_name && image_name[0] ? image_name : "image";
	char *key = xstrdup(name);

	/* S3's guidelines list these as characters to avoid; the rest of a
	 * file name is a fine key as it is. */
	for (char *p = key; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch == 0x7f || strchr("\\{}^%`[]\"<>~#|", ch))
			*p = '_';
	}
	return key;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

char *vwf_new_run_id(void)
{
	unsigned char raw[16];
	char out[33];

	/* Without entropy a run id could repeat and two runs share a
	 * ClientToken; there is no sane way to go on. */
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		abort();
	hex(raw, sizeof(raw), out);
	return xstrdup(out);
}

char *vwf_client_token(const char *run_id, const char *const *s3_urls,
		       unsigned n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char digest[2 * EVP_MAX_MD_SIZE + 1];
	vbuf in = VBUF_INIT;

	vbuf_addf(&in, "%s", run_id);
	for (unsigned i = 0; i < n; i++)
		vbuf_addf(&in, "\n%s", s3_urls[i]);
	EVP_Digest(in.data, in.len, md, &mdlen, EVP_sha256(), NULL);
	vbuf_free(&in);
	hex(md, 20, digest);
	vbuf tok = VBUF_INIT;
	vbuf_addf(&tok, "vmie-%s", digest);
	return vbuf_detach(&tok);
}

long vwf_poll_delay_ms(unsigned attempt)
{
	static const long steps[] = {2000, 3000, 5000, 8000, 13000, 20000};
	if (attempt < sizeof(steps) / sizeof(steps[0]))
		return steps[attempt];
	return 30000;
}

/* Matched in order, case-insensitively, on a piece of AWS's message. */
static const struct {
	const char *needle;
	const char *hint;
} failure_hints[] = {
	{"Unknown OS",
	 "AWS found no operating system it supports on the disk: check that "
	 "the image holds the boot disk with its partition table and an OS "
	 "AWS VM Import supports (vmie inspect IMAGE lists the partitions and "
	 "the OS family it sees)"},
	{"Missing OS files",
	 "AWS found no operating system it supports on the disk: check that "
	 "the image holds the boot disk (vmie inspect IMAGE lists the "
	 "partitions and the OS family it sees)"},
	{"Disk validation failed",
	 "AWS could not read the image in the format it was given: run vmie "
	 "inspect IMAGE; convert unsupported formats (qemu-img convert -O raw, "
	 "or -O vmdk -o subformat=streamOptimized) and re-upload"},
	{"ServiceRole",
	 "the vmimport service role is missing or lacks permissions: vmie "
	 "creates it when it can; check that the role's trust policy names "
	 "vmie.amazonaws.com with ExternalId vmimport and that its policy "
	 "allows reading the bucket (or pass --role-name)"},
	{"sufficient permissions",
	 "the vmimport service role lacks permissions: check its policy allows "
	 "s3:GetObject and s3:ListBucket on the bucket, and the ec2 actions VM "
	 "Import needs"},
	{"kernel",
	 "AWS does not support this kernel for import: check the VM Import "
	 "requirements for Linux kernels and boot a supported kernel before "
	 "exporting the VM"},
	{"fstab",
	 "AWS could not read /etc/fstab on the root filesystem: check that the "
	 "root partition is in the image and not encrypted"},
	{"grub",
	 "AWS could not make sense of the boot loader configuration: check that "
	 "the image has one GRUB configuration for the installed kernel"},
	{"Windows",
	 "AWS does not support this Windows version or edition for import: "
	 "check the VM Import requirements for Windows"},
	{"Access Denied",
	 "AWS could not read the image from S3: check that the bucket is in "
	 "this region and the vmimport role may read it"},
};

const char *vwf_import_failure_hint(const char *status_message)
{
	if (!status_message)
		return NULL;
	for (size_t i = 0; i < sizeof(failure_hints) / sizeof(failure_hints[0]); i++)
		if (strcasestr(status_message, failure_hints[i].needle))
			return failure_hints[i].hint;
	return NULL;
}
