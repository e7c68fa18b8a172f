/* Which filesystem a partition holds, from its first bytes (internal to
 * src/image/). */
#ifndef VMIE_IMAGE_FS_PROBE_H
#define VMIE_IMAGE_FS_PROBE_H

#include "image/image.h"

/* Fill p->fs ("" when unknown) and p->os from the bytes at p->start, read
 * no further than p->size bytes into the partition. */
void vimg_fs_probe(const vimg_reader *disk, vimg_partition *p);

#endif
