/*
 * The streamOptimized VMDK parser of the download side (vmdk_stream.h):
 * footer or header, grain directory, grain tables, the grain list and
 * its fetch plan, one grain inflated.
 */
#include "image/vmdk_stream.h"

#include <stdlib.h>
#include <string.h>

#include "base/endian.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "image/vmdk.h"
#include "image/vmdk_codec.h"

/* Metadata between two grains (a grain table and its marker: 2.5 KiB) is
 * fetched along rather than paid for with another request. */
#define MERGE_GAP (64u << 10)

/* A grain's record is at most a marker and twice the grain (qemu's own
 * limit on the marker's size), rounded to the sector. */
uint64_t vmdk_so_record_max(const vmdk_so *so)
{
	uint64_t n = VMDK_GRAIN_MARKER + 2 * (uint64_t)so->grain;
	return (n + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
}

static int bad(vmie_error *err, const char *what)
{
	verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
		 "not a streamOptimized VMDK vmie can decode: %s", what);
	return verr_hint(err, "the object is kept as it is; check it with "
			      "qemu-img check, or export the image again");
}

static bool is_marker(const unsigned char *m, uint32_t type)
{
	return le32(m + 8) == 0 && le32(m + 12) == type;
}

/* The footer block (marker, footer, end of stream) at the end of the
 * tail, which ends at object_size. */
static const unsigned char *find_footer(const unsigned char *tail,
					size_t tail_len, uint64_t size)
{
	uint64_t end = size / VMDK_SECTOR * VMDK_SECTOR; /* a whole sector */
	uint64_t tail_start = size - tail_len;
	if (end < VMDK_SO_TAIL + VMDK_SECTOR || end - VMDK_SO_TAIL < tail_start)
		return NULL;
	const unsigned char *f = tail + (end - VMDK_SO_TAIL - tail_start);
	if (!is_marker(f, VMDK_MARKER_FOOTER) ||
	    memcmp(f + VMDK_SECTOR, "KDMV", 4) != 0 ||
	    le64(f + 2 * VMDK_SECTOR) != 0 ||
	    !is_marker(f + 2 * VMDK_SECTOR, VMDK_MARKER_EOS))
		return NULL;
	return f + VMDK_SECTOR;
}

static int parse_header(vmdk_so *so, const unsigned char *h, vmie_error *err)
{
	uint32_t version = le32(h + 4), flags = le32(h + 8);
	uint64_t capacity = le64(h + 12), grain = le64(h + 20);
	uint32_t gtes = le32(h + 44);
	uint64_t gd = le64(h + 56);
	uint16_t compress = le16(h + 77);

	if (version < 1 || version > 3)
		return bad(err, "an unknown sparse extent version");
	if (!(flags & VMDK_FLAG_COMPRESSED) || compress != VMDK_COMPRESS_DEFLATE)
		return bad(err, "its grains are not compressed (it is not "
				"streamOptimized)");
	if (grain < VMDK_MIN_GRAIN_SECTORS || grain > VMDK_MAX_GRAIN_SECTORS ||
	    (grain & (grain - 1)))
		return bad(err, "an invalid grain size");
	if (gtes == 0 || gtes > VMDK_MAX_GTES)
		return bad(err, "an invalid grain table size");
	if (capacity > VMDK_MAX_CAPACITY)
		return bad(err, "a capacity beyond any real disk");
	if (gd == VMDK_GD_AT_END)
		return bad(err, "the header puts the grain directory in a "
				"footer, and the object does not end with one "
				"(it is truncated)");
	so->capacity = capacity * VMDK_SECTOR;
	so->grain = (uint32_t)(grain * VMDK_SECTOR);
	so->gtes = gtes;
	so->markers = (flags & VMDK_FLAG_MARKERS) != 0;
	so->zero_grain = (flags & VMDK_FLAG_ZERO_GRAIN) != 0;
	uint64_t span = grain * gtes;
	so->ngd = capacity / span + (capacity % span != 0);
	if (so->ngd > VMDK_MAX_GD_ENTRIES)
		return bad(err, "a grain directory larger than vmie reads");
	if (gd == 0 || gd > so->data_end / VMDK_SECTOR ||
	    so->ngd * 4 > so->data_end - gd * VMDK_SECTOR)
		return bad(err, "a grain directory beyond the end of the "
				"object");
	so->gd_off = gd * VMDK_SECTOR;
	return 0;
}

int vmdk_so_open(vmdk_so *so, const void *head, size_t head_len,
		 const void *tail, size_t tail_len, uint64_t object_size,
		 vmie_error *err)
{
	memset(so, 0, sizeof(*so));
	so->object_size = object_size;
	if (tail_len > object_size)
		return bad(err, "more tail than object");
	const unsigned char *h = tail ? find_footer(tail, tail_len, object_size)
				      : NULL;
	if (h) {
		so->from_footer = true;
		so->data_end = object_size / VMDK_SECTOR * VMDK_SECTOR - VMDK_SO_TAIL;
	} else {
		if (!head || head_len < VMDK_SO_HEAD ||
		    memcmp(head, "KDMV", 4) != 0)
			return bad(err, "no \"KDMV\" sparse header");
		h = head;
		so->data_end = object_size;
	}
	if (memcmp(h, "KDMV", 4) != 0)
		return bad(err, "no \"KDMV\" sparse header");
	return parse_header(so, h, err);
}

void vmdk_so_free(vmdk_so *so)
{
	if (!so)
		return;
	free(so->gd);
	free(so->fences);
	memset(so, 0, sizeof(*so));
}

void vmdk_so_gd_range(const vmdk_so *so, uint64_t *offset, size_t *len)
{
	*offset = so->gd_off;
	*len = (size_t)(so->ngd * 4);
}

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Where metadata starts (a table or the directory, with its marker), and
 * the end of the data area: no grain's record reaches past the next one. */
static void build_fences(vmdk_so *so)
{
	uint64_t m = so->markers ? VMDK_SECTOR : 0;
	so->fences = xmalloc((size_t)(so->ngd + 2) * sizeof(*so->fences));
	size_t n = 0;
	for (uint64_t i = 0; i < so->ngd; i++)
		if (so->gd[i])
			so->fences[n++] = (uint64_t)so->gd[i] * VMDK_SECTOR - m;
	so->fences[n++] = so->gd_off - (so->gd_off >= m ? m : 0);
	so->fences[n++] = so->data_end;
	qsort(so->fences, n, sizeof(*so->fences), by_u64);
	so->nfences = n;
}

int vmdk_so_set_gd(vmdk_so *so, const void *gd, size_t len, vmie_error *err)
{
	const unsigned char *p = gd;
	uint64_t gt_bytes = (uint64_t)so->gtes * 4;

	if (len < so->ngd * 4)
		return bad(err, "a short grain directory");
	free(so->gd);
	free(so->fences);
	so->fences = NULL;
	so->gd = xmalloc((size_t)(so->ngd ? so->ngd : 1) * sizeof(*so->gd));
	for (uint64_t i = 0; i < so->ngd; i++) {
		uint32_t e = le32(p + 4 * i);
		/* A table overlapping the header, or running past the data
		 * area, cannot be one. */
		if (e && ((uint64_t)e * VMDK_SECTOR > so->data_end ||
			  gt_bytes > so->data_end - (uint64_t)e * VMDK_SECTOR))
			return bad(err, "a grain table beyond the end of the "
					"object");
		so->gd[i] = e;
	}
	build_fences(so);
	return 0;
}

bool vmdk_so_gt_range(const vmdk_so *so, uint64_t i, uint64_t *offset,
		      size_t *len)
{
	if (!so->gd || i >= so->ngd || so->gd[i] == 0)
		return false;
	*offset = (uint64_t)so->gd[i] * VMDK_SECTOR;
	*len = (size_t)so->gtes * 4;
	return true;
}

int vmdk_so_add_gt(const vmdk_so *so, uint64_t i, const void *gt, size_t len,
		   vmdk_grains *list, vmie_error *err)
{
	const unsigned char *p = gt;

	if (i >= so->ngd || len < (size_t)so->gtes * 4)
		return bad(err, "a short grain table");
	for (uint32_t k = 0; k < so->gtes; k++) {
		uint32_t e = le32(p + 4 * k);
		if (e == 0 || (e == 1 && so->zero_grain))
			continue;
		uint64_t guest = (i * so->gtes + k) * (uint64_t)so->grain;
		uint64_t off = (uint64_t)e * VMDK_SECTOR;
		if (guest >= so->capacity)
			return bad(err, "a grain past the end of the disk");
		if (off < VMDK_SECTOR || off >= so->data_end ||
		    so->data_end - off < (so->markers ? VMDK_GRAIN_MARKER : 1))
			return bad(err, "a grain outside the object's data");
		xgrow((void **)&list->v, &list->cap, list->n + 1,
		      sizeof(*list->v));
		list->v[list->n++] = (vmdk_grain){off, 0, guest};
	}
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const vmdk_grain *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The first fence past off (there is always one: data_end). */
static uint64_t next_fence(const vmdk_so *so, uint64_t off)
{
	size_t lo = 0, hi = so->nfences;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (so->fences[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < so->nfences ? so->fences[lo] : so->data_end;
}

int vmdk_so_grains_done(const vmdk_so *so, vmdk_grains *list,
			vmie_error *err)
{
	if (!so->fences)
		return bad(err, "grains listed before the grain directory");
	if (list->n > 1)
		qsort(list->v, list->n, sizeof(*list->v), by_offset);
	for (size_t i = 0; i < list->n; i++) {
		vmdk_grain *g = &list->v[i];
		uint64_t end = next_fence(so, g->offset);
		if (i + 1 < list->n && list->v[i + 1].offset < end)
			end = list->v[i + 1].offset;
		if (end > so->data_end)
			end = so->data_end;
		if (end <= g->offset)
			return bad(err, "two grains at one place");
		g->length = end - g->offset;
		if (g->length > vmdk_so_record_max(so))
			g->length = vmdk_so_record_max(so);
		if (so->markers && g->length < VMDK_GRAIN_MARKER)
			return bad(err, "a grain overlapping the metadata");
	}
	return 0;
}

void vmdk_grains_reset(vmdk_grains *list)
{
	list->n = 0;
}

void vmdk_grains_free(vmdk_grains *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

size_t vmdk_so_plan(const vmdk_grains *list, uint64_t max_len,
		    vmdk_range **out)
{
	vmdk_range *r = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < list->n; i++) {
		const vmdk_grain *g = &list->v[i];
		uint64_t end = g->offset + g->length;
		if (n) {
			vmdk_range *last = &r[n - 1];
			uint64_t last_end = last->offset + last->length;
			/* Stored grains follow each other; a table between
			 * two costs less fetched than another request.  A
			 * wider gap (another window's grains, a large
			 * directory) starts a new range. */
			if (g->offset >= last_end &&
			    g->offset - last_end <= MERGE_GAP &&
			    end - last->offset <= max_len) {
				last->length = end - last->offset;
				last->count++;
				continue;
			}
		}
		xgrow((void **)&r, &cap, n + 1, sizeof(*r));
		r[n++] = (vmdk_range){g->offset, g->length, i, 1};
	}
	*out = r;
	return n;
}

long long vmdk_so_inflate(const vmdk_so *so, const vmdk_grain *g,
			  const void *rec, size_t len, void *out,
			  vmie_error *err)
{
	const unsigned char *p = rec;
	size_t n = len;

	if (g->guest >= so->capacity)
		return bad(err, "a grain past the end of the disk"), -1;
	if (so->markers) {
		if (len < VMDK_GRAIN_MARKER)
			return bad(err, "a grain's marker cut short"), -1;
		uint64_t lba = le64(p);
		uint32_t size = le32(p + 8);
		if (lba > UINT64_MAX / VMDK_SECTOR || lba * VMDK_SECTOR != g->guest)
			return bad(err, "a grain whose marker names another "
					"place of the disk"), -1;
		if (size == 0 || size > len - VMDK_GRAIN_MARKER)
			return bad(err, "a grain's size beyond its bytes"), -1;
		p += VMDK_GRAIN_MARKER;
		n = size;
	}
	long long got = vmdk_inflate(p, n, out, so->grain);
	if (got < 0) {
		verr_set(err, VMIE_ERR_FILE_DECOMPRESS_FAILED,
			 "the grain at guest byte %llu (object byte %llu) does "
			 "not inflate: the object is corrupt",
			 (unsigned long long)g->guest,
			 (unsigned long long)g->offset);
		verr_hint(err, "download it again, or export the image again");
		return -1;
	}
	memset((unsigned char *)out + got, 0, so->grain - (size_t)got);
	uint64_t left = so->capacity - g->guest;
	return (long long)(left < so->grain ? left : so->grain);
}
