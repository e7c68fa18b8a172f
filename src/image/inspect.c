/*
 * vimg_inspect: from a file's bytes to everything vimg can say about it.
 * Compression first (by magic), then the format (by magic), its inspector,
 * the refusals for what AWS does not import, and the partitions seen
 * through the guest view.
 */
#include "image/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "codec/decode.h"

static const char aws_formats[] =
	"ImportImage accepts only RAW, VHD, VHDX, VMDK and OVA images; the "
	"task would fail";

static void refuse(vimg_info *info, vimg_format f)
{
	switch (f) {
	case VIMG_QCOW2:
		vimg_add_finding(info, VIMG_ERROR, "unsupported-qcow2", aws_formats,
				 "this is a QCOW2 image, which VM Import does not "
				 "accept; convert it first: qemu-img convert -f qcow2 "
				 "-O raw IMAGE.qcow2 IMAGE.raw");
		break;
	case VIMG_VDI:
		vimg_add_finding(info, VIMG_ERROR, "unsupported-vdi", aws_formats,
				 "this is a VirtualBox VDI image, which VM Import "
				 "does not accept; convert it first: qemu-img convert "
				 "-f vdi -O raw IMAGE.vdi IMAGE.raw (or VBoxManage "
				 "clonemedium disk IMAGE.vdi IMAGE.raw --format RAW)");
		break;
	case VIMG_ISO:
		vimg_add_finding(info, VIMG_ERROR, "unsupported-iso", aws_formats,
				 "this is an ISO 9660 installation medium, not a disk "
				 "image; install the system into a VM and import that "
				 "VM's disk");
		break;
	case VIMG_TAR:
		vimg_add_finding(info, VIMG_ERROR, "tar-without-ovf", aws_formats,
				 "this is a tar archive whose first member is not an "
				 ".ovf descriptor, so it is not an OVA; import the disk "
				 "image inside it, or rebuild the OVA with the .ovf "
				 "first (tar -cf VM.ova VM.ovf VM.mf VM-disk1.vmdk)");
		break;
	default:
		break;
	}
}

/* The format an extension promises, or VIMG_UNKNOWN for one that says
 * nothing (a RAW image is often .img, .bin or nothing at all). */
static vimg_format ext_format(const char *ext)
{
	static const struct { const char *ext; vimg_format f; } map[] = {
		{"raw", VIMG_RAW}, {"img", VIMG_RAW},
		{"vmdk", VIMG_VMDK}, {"vhd", VIMG_VHD}, {"vhdx", VIMG_VHDX},
		{"ova", VIMG_OVA}, {"qcow2", VIMG_QCOW2}, {"qcow", VIMG_QCOW2},
		{"vdi", VIMG_VDI}, {"iso", VIMG_ISO}, {"tar", VIMG_TAR},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(ext, map[i].ext) == 0)
			return map[i].f;
	return VIMG_UNKNOWN;
}

static vimg_compression ext_compression(const char *ext)
{
	if (!strcasecmp(ext, "gz") || !strcasecmp(ext, "tgz"))
		return VIMG_COMP_GZIP;
	if (!strcasecmp(ext, "xz"))
		return VIMG_COMP_XZ;
	if (!strcasecmp(ext, "bz2"))
		return VIMG_COMP_BZIP2;
	if (!strcasecmp(ext, "zst") || !strcasecmp(ext, "zstd"))
		return VIMG_COMP_ZSTD;
	return VIMG_COMP_NONE;
}

/* The name is only a hint: warn when it promises something else, because
 * the user (or a script) may be about to pass the wrong Format. */
static void check_extension(const char *name, vimg_info *info)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	char *copy = xstrdup(base);
	char *dot = strrchr(copy, '.');
	vimg_compression named_c = VIMG_COMP_NONE;

	if (dot && dot != copy) {
		named_c = ext_compression(dot + 1);
		if (named_c != VIMG_COMP_NONE) {
			*dot = '\0';
			dot = strrchr(copy, '.');
		}
	}
	if (named_c != info->compression && (named_c != VIMG_COMP_NONE ||
					     info->compression != VIMG_COMP_NONE))
		vimg_add_finding(info, VIMG_WARNING, "extension-mismatch",
				 "no effect: vmie goes by the content",
				 "%s is named as %s but its content is %s",
				 base,
				 named_c == VIMG_COMP_NONE
					 ? "uncompressed"
					 : vimg_compression_name(named_c),
				 info->compression == VIMG_COMP_NONE
					 ? "not compressed"
					 : vimg_compression_name(info->compression));
	vimg_format named = dot && dot != copy ? ext_format(dot + 1) : VIMG_UNKNOWN;
	if (named != VIMG_UNKNOWN && named != info->format &&
	    info->format != VIMG_UNKNOWN)
		vimg_add_finding(info, VIMG_WARNING, "extension-mismatch",
				 "no effect: vmie tells ImportImage the format "
				 "it detected",
				 "%s is named as %s but its content is %s",
				 base, vimg_format_name(named),
				 vimg_format_name(info->format));
	free(copy);
}

static void inspect_partitions(const vimg_reader *img,
			       const vimg_inspect_opts *o, vimg_info *info)
{
	vimg_reader guest;

	if (vimg_guest_open(img, info->format, o ? o->opener : NULL, &guest) < 0) {
		vimg_add_finding(info, VIMG_WARNING, "partitions-not-checked", NULL,
				 "vmie could not read the guest's disk through "
				 "this %s image, so its partitions were not checked",
				 vimg_format_name(info->format));
		return;
	}
	vimg_inspect_partitions(&guest, info);
	vimg_reader_close(&guest);
}

bool vimg_broken(const vimg_info *info)
{
	for (size_t i = 0; i < info->nfindings; i++)
		if (info->findings[i].severity == VIMG_ERROR &&
		    strcmp(info->findings[i].code, "vmdk-not-stream-optimized") != 0)
			return true;
	return false;
}

/* A file that starts like a format but that format's inspector cannot
 * read (a VHD cut to its first 100 bytes): vmie cannot say what it is,
 * so it is not importable. */
static void unrecognized(const vimg_reader *img, vimg_info *info, vimg_format f)
{
	info->format = VIMG_UNKNOWN;
	vimg_add_finding(info, VIMG_ERROR, "unrecognized-image",
			 "ImportImage fails with ClientError: Disk validation "
			 "failed",
			 "the file starts like a %s image, but vmie cannot read it "
			 "as one (%llu bytes): it is truncated or damaged; copy "
			 "the image again",
			 vimg_format_name(f), (unsigned long long)img->size);
}

static void inspect_image(const vimg_reader *img, const vimg_inspect_opts *o,
			  vimg_info *info)
{
	vimg_format f = vimg_detect(img);
	int depth = o ? o->depth : 0;
	int rc = 0;

	switch (f) {
	case VIMG_RAW:
		vimg_raw_inspect(img, info); /* includes the partitions */
		return;
	case VIMG_VHD:
		rc = vimg_vhd_inspect(img, info);
		break;
	case VIMG_VHDX:
		rc = vimg_vhdx_inspect(img, info);
		break;
	case VIMG_VMDK:
		rc = vimg_vmdk_inspect(img, o ? o->opener : NULL, info);
		break;
	case VIMG_OVA:
		if (depth > 0) {
			info->format = VIMG_OVA;
			vimg_add_finding(info, VIMG_ERROR, "nested-ova", aws_formats,
					 "an OVA inside an OVA: import the inner "
					 "OVA on its own");
			return;
		}
		vimg_ova_inspect(img, info);
		return;
	default:
		info->format = f;
		refuse(info, f);
		return;
	}
	if (rc < 0) {
		unrecognized(img, info, f);
		return;
	}
	if (!vimg_broken(info))
		inspect_partitions(img, o, info);
}

/* AWS's limit, whatever the format claims. */
static void check_size(vimg_info *info)
{
	uint64_t max = vimg_max_image_size();
	if (info->virtual_size <= max)
		return;
	vimg_add_finding(info, VIMG_ERROR, "image-too-large",
			 "VM Import refuses disk images of 16 TiB or more",
			 "the image declares a virtual size of %llu bytes, more "
			 "than the %llu bytes AWS imports",
			 (unsigned long long)info->virtual_size,
			 (unsigned long long)max);
}

int vimg_inspect(const vimg_reader *r, const vimg_inspect_opts *o,
		 vimg_info *info, vmie_error *err)
{
	unsigned char head[8];
	long long got = r->size ? vimg_read(r, 0, head, sizeof(head)) : 0;
	vimg_reader dec;
	const vimg_reader *img = r;

	memset(&dec, 0, sizeof(dec));
	if (got < 0)
		return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
				"reading the image: %s", strerror(errno)),
		       -1;
	if (r->size == 0) {
		info->format = VIMG_UNKNOWN;
		vimg_add_finding(info, VIMG_ERROR, "empty-image",
				 "ImportImage fails with ClientError: Disk "
				 "validation failed.",
				 "the image is empty (0 bytes)");
		return 0;
	}
	/* An OVA member is never compressed on its own; a compressed file
	 * there is refused as what it decodes to would be. */
	vimg_compression c = (o && o->depth) ? VIMG_COMP_NONE
					      : vdec_detect(head, (size_t)got);
	if (c != VIMG_COMP_NONE) {
		vmie_error derr = {0};
		info->compression = c;
		if (vimg_reader_decompress(&dec, r, c, o ? o->max_image_size : 0,
					   &derr) < 0) {
			vimg_add_finding(info, VIMG_ERROR, "decompress-failed",
					 "the upload would fail (vmie decodes "
					 "the stream as it uploads)",
					 "cannot decompress this %s file: %s",
					 vimg_compression_name(c),
					 derr.message ? derr.message : "?");
			vmie_error_clear(&derr);
			info->file_size = r->size;
			return 0;
		}
		img = &dec;
	}
	inspect_image(img, o, info);
	check_size(info);
	info->compression = c;
	info->file_size = r->size;
	info->image_size = img->size;
	if (o && o->name)
		check_extension(o->name, info);
	vimg_reader_close(&dec);
	return 0;
}

int vimg_inspect_file(const char *path, vimg_info *info, vmie_error *err)
{
	vimg_reader r;
	vimg_opener op;

	if (vimg_reader_file(&r, path, err) < 0)
		return -1;
	vimg_opener_dir(&op, path);
	vimg_inspect_opts o = {path, &op, 0, 0};
	int rc = vimg_inspect(&r, &o, info, err);
	vimg_reader_close(&r);
	vimg_opener_dir_free(&op);
	return rc;
}
