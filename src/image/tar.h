/*
 * Walking a tar archive (an OVA): ustar, pax extended headers and GNU long
 * names, read through a vimg_reader.  The walker lists the members and
 * where their bytes lie; it never copies member data.
 */
#ifndef VMIE_IMAGE_TAR_H
#define VMIE_IMAGE_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/* More members than any OVA has; the cap bounds the walk and the list. */
#define VTAR_MAX_ENTRIES 10000
/* Longer than PATH_MAX: no member an importer could extract. */
#define VTAR_MAX_NAME 4096

typedef struct vtar_entry {
	char *name;      /* as stored (pax path, GNU long name or ustar) */
	uint64_t offset; /* where the member's data starts in the archive */
	uint64_t size;   /* bytes of data (0 for links and directories) */
	char type;       /* typeflag; '0' for a regular file (also '\0', '7') */
} vtar_entry;

typedef struct vtar {
	vtar_entry *entries;
	size_t n;
	size_t cap;
} vtar;

/* List the members of the archive in r.  A damaged archive (bad header
 * checksum, member data past the end, too many members, a name too long)
 * adds an error finding to info and keeps the members read so far.
 * Returns -1 (and adds nothing) when the first block is not a tar header
 * at all, 0 otherwise. */
int vtar_read(const vimg_reader *r, vtar *t, vimg_info *info);
void vtar_free(vtar *t);

/* The last regular-file member called name (a leading "./" in the
 * archive's names is ignored, as tar does on extraction), or NULL. */
const vtar_entry *vtar_find(const vtar *t, const char *name);
/* name without its leading "./" (or "././..."). */
const char *vtar_rel_name(const char *name);

#endif
