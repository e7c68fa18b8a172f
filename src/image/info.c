/*
 * The pieces of image.h every parser shares: names for the enums and the
 * list of findings.
 */
#include "image/image.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"

const char *vimg_format_name(vimg_format f)
{
	switch (f) {
	case VIMG_RAW: return "RAW";
	case VIMG_VMDK: return "VMDK";
	case VIMG_VHD: return "VHD";
	case VIMG_VHDX: return "VHDX";
	case VIMG_OVA: return "OVA";
	case VIMG_QCOW2: return "QCOW2";
	case VIMG_VDI: return "VDI";
	case VIMG_ISO: return "ISO";
	case VIMG_TAR: return "TAR";
	case VIMG_UNKNOWN: break;
	}
	return "UNKNOWN";
}

const char *vimg_compression_name(vimg_compression c)
{
	switch (c) {
	case VIMG_COMP_GZIP: return "gzip";
	case VIMG_COMP_XZ: return "xz";
	case VIMG_COMP_BZIP2: return "bzip2";
	case VIMG_COMP_ZSTD: return "zstd";
	case VIMG_COMP_NONE: break;
	}
	return "none";
}

const char *vimg_os_name(vimg_os os)
{
	switch (os) {
	case VIMG_OS_LINUX: return "linux";
	case VIMG_OS_WINDOWS: return "windows";
	case VIMG_OS_EFI: return "efi";
	case VIMG_OS_NONE: break;
	}
	return "none";
}

void vimg_info_free(vimg_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->nfindings; i++) {
		free(info->findings[i].code);
		free(info->findings[i].message);
		free(info->findings[i].aws);
	}
	free(info->findings);
	free(info->partitions);
	for (size_t i = 0; i < info->ndisks; i++) {
		free(info->disks[i].href);
		vimg_info_free(info->disks[i].info);
		free(info->disks[i].info);
	}
	free(info->disks);
	memset(info, 0, sizeof(*info));
}

void vimg_add_finding(vimg_info *info, vimg_severity sev, const char *code,
		      const char *aws, const char *fmt, ...)
{
	vbuf msg = VBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	vbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	/* Growing by one keeps no capacity field in the public struct; the
	 * list is a handful of entries at most. */
	info->findings = xrealloc(info->findings,
				  (info->nfindings + 1) * sizeof(*info->findings));
	vimg_finding *f = &info->findings[info->nfindings++];
	f->severity = sev;
	f->code = xstrdup(code);
	f->message = vbuf_detach(&msg);
	f->aws = xstrdup(aws);
}

bool vimg_has_errors(const vimg_info *info)
{
	for (size_t i = 0; i < info->nfindings; i++)
		if (info->findings[i].severity == VIMG_ERROR)
			return true;
	for (size_t i = 0; i < info->ndisks; i++)
		if (info->disks[i].info && vimg_has_errors(info->disks[i].info))
			return true;
	return false;
}

uint64_t vimg_total_virtual_size(const vimg_info *info)
{
	if (!info->ndisks)
		return info->virtual_size;
	uint64_t total = 0;
	for (size_t i = 0; i < info->ndisks; i++) {
		const vimg_disk *d = &info->disks[i];
		/* As for the boot disk: the OVF's capacity when the image
		 * itself could not be read. */
		total += d->info && d->info->virtual_size ? d->info->virtual_size
							  : d->capacity;
	}
	return total;
}
