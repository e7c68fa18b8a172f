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
#include "base/timescale.h"
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

char *vwf_vmdk_name(const char *image_name)
{
	static const char *const disk_ext[] = {
		".raw", ".img", ".image", ".bin", ".dd", ".disk",
		".vhd", ".vhdx", ".vmdk", ".hdd",
	};
	const char *name = image_name && image_name[0] ? image_name : "image";
	size_t n = strlen(name);
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && dot != name &&
			   i < sizeof(disk_ext) / sizeof(disk_ext[0]); i++)
		if (strcasecmp(dot, disk_ext[i]) == 0) {
			n = (size_t)(dot - name);
			break;
		}
	vbuf b = VBUF_INIT;
	vbuf_add(&b, name, n);
	vbuf_adds(&b, ".vmdk");
	return vbuf_detach(&b);
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

double vwf_poll_scale(void)
{
	return vtime_scale();
}

long vwf_poll_delay_ms(unsigned attempt)
{
	static const long steps[] = {2000, 3000, 5000, 8000, 13000, 20000};
	long ms = attempt < sizeof(steps) / sizeof(steps[0]) ? steps[attempt] : 30000;
	ms = (long)((double)ms * vwf_poll_scale());
	return ms < 1 ? 1 : ms;
}

/* Matched in order, case-insensitively, on a piece of AWS's message (the
 * wordings are those of the VM Import troubleshooting page and of real
 * task outputs). */
static const struct {
	const char *needle;
	const char *hint;
} failure_hints[] = {
	{"Unknown OS",
	 "AWS found no operating system it supports on the disk: check that "
	 "the image holds the boot disk with its partition table and an OS "
	 "AWS VM Import supports (vmie inspect IMAGE lists the partitions and "
	 "the OS family it sees)"},
	{"403 Forbidden",
	 "VM Import could not read the object: check that the vmimport role "
	 "may read the bucket (s3:GetObject, s3:ListBucket) and that a bucket "
	 "policy or KMS key does not deny it"},
	{"Unsupported VMDK",
	 "AWS imports only stream-optimized VMDKs: convert with qemu-img "
	 "convert -O vmdk -o subformat=streamOptimized IN.vmdk OUT.vmdk (or "
	 "-O raw) and import that"},
	{"Footers not identical",
	 "the VHD's two footers differ (a damaged or truncated copy): "
	 "re-export the disk, or convert it with qemu-img convert -O raw"},
	{"Disk validation failed",
	 "AWS could not read the image in the format it was given: run vmie "
	 "inspect IMAGE; convert unsupported formats (qemu-img convert -O raw, "
	 "or -O vmdk -o subformat=streamOptimized) and import again"},
	{"EFI partition detected",
	 "the image boots with UEFI: import with --boot-mode uefi (and an "
	 "instance type that supports it)"},
	{"kernel version",
	 "AWS does not support this kernel for import: boot the VM on a "
	 "kernel the VM Import requirements list, then export it again"},
	{"fstab",
	 "AWS could not read /etc/fstab on the root filesystem: check that the "
	 "root partition is in the image and is not encrypted"},
	{"Logical volume",
	 "AWS could not activate the LVM volume group: make sure every "
	 "physical volume of the root volume group is in the import"},
	{"grub",
	 "AWS could not make sense of the boot loader configuration: leave one "
	 "GRUB configuration with a default entry for the installed kernel"},
	{"initramfs",
	 "AWS could not read the initramfs: regenerate it (dracut -f or "
	 "update-initramfs -u) with the virtio/xen drivers, then export again"},
	{"FirstBootFailure",
	 "the converted instance did not boot or reach the network: check the "
	 "network configuration uses DHCP and no fixed MAC address"},
	{"service role",
	 "the vmimport service role is missing or lacks permissions: check that "
	 "its trust policy names vmie.amazonaws.com with ExternalId vmimport "
	 "and that its policy allows reading the bucket (or pass --role-name)"},
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
