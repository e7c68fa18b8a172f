/*
 * The pipeline's sniffer (sniff.h).
 */
#include "transfer/sniff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void vsniff_init(vsniff *s)
{
	memset(s, 0, sizeof(*s));
	s->head = xmalloc(VSNIFF_HEAD);
	s->tail = xmalloc(VSNIFF_TAIL);
}

void vsniff_free(vsniff *s)
{
	free(s->head);
	free(s->tail);
	memset(s, 0, sizeof(*s));
}

void vsniff_feed(vsniff *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (s->head_len < VSNIFF_HEAD) {
		size_t n = VSNIFF_HEAD - s->head_len;
		memcpy(s->head + s->head_len, p, n < len ? n : len);
		s->head_len += n < len ? n : len;
	}
	s->total += len;
	/* Only the last VSNIFF_TAIL bytes of a long feed can end up in the
	 * ring, so skip the rest. */
	if (len > VSNIFF_TAIL) {
		p += len - VSNIFF_TAIL;
		len = VSNIFF_TAIL;
	}
	while (len) {
		size_t n = VSNIFF_TAIL - s->tail_pos;
		if (n > len)
			n = len;
		memcpy(s->tail + s->tail_pos, p, n);
		s->tail_pos = (s->tail_pos + n) % VSNIFF_TAIL;
		p += n;
		len -= n;
	}
}

void vsniff_skip(vsniff *s, uint64_t n)
{
	if (!n)
		return;
	s->total += n;
	s->tail_pos = 0;
	s->tail_floor = s->total;
}

void vsniff_from_ends(vsniff *s, const void *head, size_t head_len,
		      const void *tail, size_t tail_len, uint64_t total)
{
	vsniff_init(s);
	vsniff_feed(s, head, head_len);
	/* The ring then holds the tail as its newest bytes; the count is the
	 * object's, whatever was skipped between. */
	vsniff_feed(s, tail, tail_len);
	s->total = total < head_len + tail_len ? head_len + tail_len : total;
}

static long long kept_read_at(const vimg_reader *r, uint64_t off, void *buf,
			      size_t len)
{
	const vsniff *s = r->ctx;
	uint64_t tail_len = s->total < VSNIFF_TAIL ? s->total : VSNIFF_TAIL;
	uint64_t tail_start = s->total - tail_len;
	/* After a skip the ring fills again from tail_pos 0. */
	uint64_t fresh = s->total - s->tail_floor;

	if (off >= s->total)
		return 0;
	if (len > s->total - off)
		len = (size_t)(s->total - off);
	if (off + len <= s->head_len) {
		memcpy(buf, s->head + off, len);
		return (long long)len;
	}
	if (off >= tail_start && off >= s->tail_floor) {
		/* The oldest kept byte sits at tail_pos once the ring is full,
		 * at 0 before. */
		size_t first = fresh >= VSNIFF_TAIL ? s->tail_pos : 0;
		uint64_t base = fresh >= VSNIFF_TAIL ? tail_start : s->tail_floor;
		for (size_t i = 0; i < len; i++)
			((unsigned char *)buf)[i] =
				s->tail[(first + (off - base) + i) % VSNIFF_TAIL];
		return (long long)len;
	}
	errno = ENODATA; /* a byte the sniffer did not keep */
	return -1;
}

void vsniff_reader(const vsniff *s, vimg_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->read_at = kept_read_at;
	r->ctx = (void *)s;
	r->size = s->total;
}

vimg_format vsniff_format(const vsniff *s)
{
	vimg_reader r;
	vsniff_reader(s, &r);
	return vimg_detect(&r);
}

/* Findings the head alone decides; any other finding from a head-only
 * inspection could be an artefact of not having the rest. */
static const char *const head_codes[] = {
	"unsupported-qcow2", "unsupported-vdi", "unsupported-iso",
	"tar-without-ovf", "vmdk-not-stream-optimized",
	"raw-no-partition-table",
};

static bool head_decides(const char *code)
{
	for (size_t i = 0; i < sizeof(head_codes) / sizeof(head_codes[0]); i++)
		if (strcmp(code, head_codes[i]) == 0)
			return true;
	return false;
}

/* A RAW disk's partition table lies in its head (the MBR's primary
 * entries, the GPT header and its entry array): the head-only reading of
 * it stands, unless the primary GPT was unusable there (its backup is at
 * the end, which the head does not have). */
static bool head_partitions_stand(const vimg_info *all)
{
	if (all->format != VIMG_RAW || !all->partition_table[0])
		return false;
	for (size_t i = 0; i < all->nfindings; i++)
		if (strncmp(all->findings[i].code, "gpt-", 4) == 0 &&
		    strcmp(all->findings[i].code, "gpt-backup-missing") != 0)
			return false;
	return true;
}

void vsniff_check_head(const void *head, size_t len, vimg_info *info)
{
	vimg_reader r;
	vimg_info all = {0};
	vimg_inspect_opts o = {NULL, NULL, 0, 0};

	vimg_reader_mem(&r, head, len);
	vimg_inspect(&r, &o, &all, NULL);
	info->format = all.format;
	snprintf(info->subformat, sizeof(info->subformat), "%s", all.subformat);
	for (size_t i = 0; i < all.nfindings; i++) {
		const vimg_finding *f = &all.findings[i];
		if (head_decides(f->code))
			vimg_add_finding(info, f->severity, f->code, f->aws, "%s",
					 f->message);
	}
	if (head_partitions_stand(&all)) {
		memcpy(info->partition_table, all.partition_table,
		       sizeof(info->partition_table));
		info->partitions = all.partitions;
		info->npartitions = all.npartitions;
		all.partitions = NULL;
		all.npartitions = 0;
	}
	vimg_info_free(&all);
}
