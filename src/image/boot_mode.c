/*
 * The boot mode an import asks for, against the disk's partition table.
 * ImportImage believes --boot-mode: an AMI marked uefi whose disk has no
 * EFI system partition, or one marked legacy-bios whose GPT disk has only
 * an ESP (no BIOS boot partition for GRUB's core image), imports fine and
 * then never boots.  The partition table says so an hour earlier.
 */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

static const char bios_boot_guid[] = "21686148-6449-6E6F-744E-656564454649";

/* Drop the findings with this code (a general one the boot mode given
 * makes moot or replaces with a sharper one). */
static void drop_findings(vimg_info *info, const char *code)
{
	size_t kept = 0;
	for (size_t i = 0; i < info->nfindings; i++) {
		vimg_finding *f = &info->findings[i];
		if (strcmp(f->code, code) == 0) {
			free(f->code);
			free(f->message);
			free(f->aws);
			continue;
		}
		info->findings[kept++] = *f;
	}
	info->nfindings = kept;
}

static void check_disk(vimg_info *info, const char *mode)
{
	bool esp = false, bios_boot = false;
	bool gpt = strcmp(info->partition_table, "gpt") == 0;

	if (!info->partition_table[0])
		return; /* the partitions were not read: nothing to say */
	for (size_t i = 0; i < info->npartitions; i++) {
		esp |= info->partitions[i].os == VIMG_OS_EFI;
		bios_boot |= strcmp(info->partitions[i].type, bios_boot_guid) == 0;
	}
	if (strcmp(mode, "uefi") == 0) {
		drop_findings(info, "uefi-only");
		if (!esp)
			vimg_add_finding(info, VIMG_ERROR, "uefi-without-esp",
					 "ImportImage makes a UEFI AMI whose "
					 "instances find nothing to boot",
					 "--boot-mode uefi, but the %s disk has "
					 "no EFI system partition: UEFI firmware "
					 "cannot boot it; import it without "
					 "--boot-mode (or with legacy-bios)",
					 gpt ? "GPT" : "MBR");
	} else if (strcmp(mode, "legacy-bios") == 0 && gpt && esp &&
		   !bios_boot) {
		drop_findings(info, "uefi-only");
		vimg_add_finding(info, VIMG_WARNING, "legacy-bios-uefi-disk",
				 "ImportImage makes a legacy-BIOS AMI whose "
				 "instances most likely do not boot",
				 "--boot-mode legacy-bios, but the GPT disk has "
				 "an EFI system partition and no BIOS boot "
				 "partition: it boots with UEFI; import it with "
				 "--boot-mode uefi");
	}
}

void vimg_check_boot_mode(vimg_info *info, const char *boot_mode)
{
	if (!boot_mode)
		return;
	/* An OVA's first disk becomes the root volume: it is the one that
	 * boots. */
	if (info->ndisks) {
		if (info->disks[0].info)
			check_disk(info->disks[0].info, boot_mode);
		return;
	}
	check_disk(info, boot_mode);
}
