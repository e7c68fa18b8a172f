/*
 * The OVA manifest (the .mf member): "SHA256(disk1.vmdk)= <hex>" lines,
 * each checked against the member's bytes.
 */
#ifndef VMIE_IMAGE_OVA_MANIFEST_H
#define VMIE_IMAGE_OVA_MANIFEST_H

#include "image/image.h"
#include "image/tar.h"

/* The manifest's size cap: a line per member is a few KiB at most. */
#define OVA_MF_MAX_SIZE (1u << 20)
#define OVA_MF_MAX_LINES 10000

/* Check every digest the manifest mf (a member of tar, read from r) lists.
 * Mismatches and listed-but-missing members are errors in info; lines
 * vmie cannot read or algorithms it does not know are warnings.  Each
 * member is read once, whatever the number of lines naming it. */
void ova_manifest_check(const vimg_reader *r, const vtar *tar,
			const vtar_entry *mf, vimg_info *info);

#endif
