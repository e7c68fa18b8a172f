/*
 * The sniffer of the import pipeline: it sees every byte once, on its way
 * to S3, and keeps only the image's first MiB and last 64 KiB.  That is
 * enough to name the format at the end of the stream (a fixed VHD is known
 * only by its footer) and to refuse, from the head alone, an image AWS
 * would reject, before most of it is uploaded.
 */
#ifndef VMIE_TRANSFER_SNIFF_H
#define VMIE_TRANSFER_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

#define VSNIFF_HEAD (1u << 20)
#define VSNIFF_TAIL (64u << 10)

typedef struct vsniff {
	unsigned char *head;
	size_t head_len;
	unsigned char *tail; /* a ring of VSNIFF_TAIL bytes */
	size_t tail_pos;     /* where the next byte goes */
	uint64_t total;      /* bytes seen */
	uint64_t tail_floor; /* the ring holds nothing before this offset */
} vsniff;

void vsniff_init(vsniff *s);
void vsniff_free(vsniff *s);
void vsniff_feed(vsniff *s, const void *data, size_t len);

/* The next n bytes of the stream pass unseen (an upload that resumes
 * after the head: the parts already in S3 are not read again). */
void vsniff_skip(vsniff *s, uint64_t n);

/* A sniffer as if it had seen a stream of `total` bytes starting with
 * head and ending with tail (an S3 object read with two ranged GETs). */
void vsniff_from_ends(vsniff *s, const void *head, size_t head_len,
		      const void *tail, size_t tail_len, uint64_t total);

/* A reader over what the sniffer kept: the stream's size, the head and the
 * tail readable, anything between them an I/O error.  Valid until the
 * next feed; nothing to close. */
void vsniff_reader(const vsniff *s, vimg_reader *r);

/* The format of the whole stream (call at its end). */
vimg_format vsniff_format(const vsniff *s);

/* The checks that the head decides on its own (a format AWS refuses, a
 * VMDK that is not stream-optimized, a RAW disk without a partition
 * table), run on the first `len` bytes of the image.  Fills info with
 * those findings only, and with a RAW disk's partition table when the
 * head holds all of it (for vimg_check_boot_mode). */
void vsniff_check_head(const void *head, size_t len, vimg_info *info);

#endif
