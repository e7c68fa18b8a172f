/*
 * VMDK sparse extents ("KDMV"): the 512-byte little-endian header, the
 * streamOptimized footer that replaces it when the header says the grain
 * directory is at the end, and the grain directory / grain tables checked
 * against the file's size (a truncated copy is the common failure).
 */
#include "image/vmdk.h"
#include "base/endian.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* Grain directory entries read per chunk.  The markers of a chunk's
 * grains are read in file order once its tables are read: VMware writes
 * each table after its grains, and a reader over a compressed stream
 * pays for every step backwards.  1024 tables hold at most 512Ki grains
 * (8 MiB of pending markers). */
#define GD_CHUNK 1024u

const char vmdk_aws_invalid[] =
	"the import task fails with ClientError: Disk validation failed";

/* "extent NAME: " before a finding about one extent of a descriptor. */
#define PFX(name) (name) ? "extent \"" : "", (name) ? (name) : "", \
		  (name) ? "\": " : ""

static void parse_header(const unsigned char *h, vmdk_sparse *s)
{
	s->version = le32(h + 4);
	s->flags = le32(h + 8);
	s->capacity = le64(h + 12);
	s->grain = le64(h + 20);
	s->desc_off = le64(h + 28);
	s->desc_size = le64(h + 36);
	s->gtes = le32(h + 44);
	s->rgd_off = le64(h + 48);
	s->gd_off = le64(h + 56);
	s->overhead = le64(h + 64);
	s->unclean = h[72] != 0;
	s->compress = le16(h + 77);
}

/* The last 1536 bytes of a streamOptimized file: a footer marker, the
 * footer (a header with the real gdOffset) and an end-of-stream marker. */
static bool read_footer(const vimg_reader *r, vmdk_sparse *s)
{
	unsigned char f[3 * VMDK_SECTOR];
	uint64_t end = r->size / VMDK_SECTOR * VMDK_SECTOR;

	if (end < 4 * VMDK_SECTOR ||
	    !vimg_read_exact(r, end - sizeof(f), f, sizeof(f)))
		return false;
	const unsigned char *fm = f, *hd = f + 512, *eos = f + 1024;
	if (le32(fm + 8) != 0 || le32(fm + 12) != VMDK_MARKER_FOOTER ||
	    memcmp(hd, "KDMV", 4) != 0 || le64(eos) != 0 ||
	    le32(eos + 8) != 0 || le32(eos + 12) != VMDK_MARKER_EOS)
		return false;
	parse_header(hd, s);
	s->from_footer = true;
	return true;
}

static bool newline_chars_ok(const unsigned char *h, uint32_t flags)
{
	static const unsigned char want[4] = { '\n', ' ', '\r', '\n' };
	static const unsigned char none[4] = { 0, 0, 0, 0 };

	if (memcmp(h + 73, want, 4) == 0)
		return true;
	/* Files from before the check existed leave the bytes zero. */
	return !(flags & VMDK_FLAG_NL_DETECT) && memcmp(h + 73, none, 4) == 0;
}

int vmdk_sparse_header(const vimg_reader *r, const char *name,
		       vimg_info *info, vmdk_sparse *s)
{
	unsigned char h[VMDK_SECTOR];

	memset(s, 0, sizeof(*s));
	if (!vimg_read_exact(r, 0, h, sizeof(h)) || memcmp(h, "KDMV", 4) != 0) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-bad-magic",
				 vmdk_aws_invalid,
				 "%s%s%sthis is not a VMDK sparse extent (no "
				 "\"KDMV\" header%s); the file is damaged or not "
				 "what the descriptor names", PFX(name),
				 r->size < sizeof(h) ? ", the file is shorter "
						       "than one sector" : "");
		return -1;
	}
	/* The check characters are tested on the first header: a text-mode
	 * copy mangles the whole file, footer included. */
	if (!newline_chars_ok(h, le32(h + 8))) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-text-mode-corrupted",
				 vmdk_aws_invalid,
				 "%s%s%sthe header's newline-detection bytes are "
				 "not \"\\n \\r\\n\": the file was copied in text "
				 "mode (FTP ASCII, a CRLF conversion) and its "
				 "binary content is corrupted; copy it again in "
				 "binary mode", PFX(name));
		return -1;
	}
	parse_header(h, s);
	if (s->gd_off == VMDK_GD_AT_END) {
		if (!read_footer(r, s)) {
			vimg_add_finding(info, VIMG_ERROR, "vmdk-footer-missing",
					 vmdk_aws_invalid,
					 "%s%s%sthe header puts the grain directory "
					 "in the footer, but the file does not end "
					 "with a valid footer and end-of-stream "
					 "marker: the streamOptimized file is "
					 "truncated (an interrupted download or "
					 "export); copy or export it again",
					 PFX(name));
			return -1;
		}
		if (s->gd_off == VMDK_GD_AT_END) {
			vimg_add_finding(info, VIMG_ERROR, "vmdk-footer-missing",
					 vmdk_aws_invalid,
					 "%s%s%sthe footer does not say where the "
					 "grain directory is; export the disk "
					 "again", PFX(name));
			return -1;
		}
	}
	if (s->version < 1 || s->version > 3) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-version",
				 vmdk_aws_invalid,
				 "%s%s%sunsupported sparse extent version %u "
				 "(1, 2 and 3 exist); convert the disk: qemu-img "
				 "convert -O vmdk -o subformat=streamOptimized "
				 "IN.vmdk OUT.vmdk", PFX(name), s->version);
		return -1;
	}
	if (s->grain < VMDK_MIN_GRAIN_SECTORS ||
	    s->grain > VMDK_MAX_GRAIN_SECTORS || (s->grain & (s->grain - 1))) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-grain-size",
				 vmdk_aws_invalid,
				 "%s%s%sinvalid grain size of %llu sectors (a "
				 "power of two from %u to %u); the header is "
				 "corrupt", PFX(name),
				 (unsigned long long)s->grain,
				 VMDK_MIN_GRAIN_SECTORS, VMDK_MAX_GRAIN_SECTORS);
		return -1;
	}
	if (s->gtes == 0 || s->gtes > VMDK_MAX_GTES) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-gt-size",
				 vmdk_aws_invalid,
				 "%s%s%sinvalid grain table size of %u entries "
				 "(VMware writes 512); the header is corrupt",
				 PFX(name), s->gtes);
		return -1;
	}
	if (s->capacity == 0 || s->capacity > VMDK_MAX_CAPACITY) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-capacity",
				 vmdk_aws_invalid,
				 "%s%s%sthe header's capacity of %llu sectors is "
				 "%s; the header is corrupt", PFX(name),
				 (unsigned long long)s->capacity,
				 s->capacity ? "beyond any real disk (64 TiB at "
					       "most)" : "zero");
		return -1;
	}
	if ((s->flags & VMDK_FLAG_COMPRESSED) &&
	    s->compress != VMDK_COMPRESS_DEFLATE) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-compression",
				 vmdk_aws_invalid,
				 "%s%s%sgrains are compressed with unknown "
				 "algorithm %u (only 1, deflate, exists)",
				 PFX(name), s->compress);
		return -1;
	}
	s->compressed = s->compress == VMDK_COMPRESS_DEFLATE;
	s->markers = (s->flags & VMDK_FLAG_MARKERS) != 0;
	s->zero_grain = (s->flags & VMDK_FLAG_ZERO_GRAIN) != 0;
	uint64_t per_gt = s->grain * s->gtes;
	s->ngd = s->capacity / per_gt + (s->capacity % per_gt != 0);
	if (s->ngd > VMDK_MAX_GD_ENTRIES) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-gd-too-large",
				 vmdk_aws_invalid,
				 "%s%s%sa grain directory of %llu entries "
				 "(capacity %llu sectors in grains of %llu) is "
				 "more than vmie will read; the header is "
				 "corrupt", PFX(name),
				 (unsigned long long)s->ngd,
				 (unsigned long long)s->capacity,
				 (unsigned long long)s->grain);
		return -1;
	}
	if (s->gd_off == 0 || s->gd_off > r->size / VMDK_SECTOR ||
	    s->ngd * 4 > r->size - s->gd_off * VMDK_SECTOR) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-gd-beyond-eof",
				 vmdk_aws_invalid,
				 "%s%s%sthe grain directory (sector %llu, %llu "
				 "entries) lies beyond the end of the %llu-byte "
				 "file: the file is truncated; copy it again",
				 PFX(name), (unsigned long long)s->gd_off,
				 (unsigned long long)s->ngd,
				 (unsigned long long)r->size);
		return -1;
	}
	if (s->unclean)
		vimg_add_finding(info, VIMG_WARNING, "vmdk-unclean-shutdown",
				 "the import may work, or fail validating the "
				 "disk",
				 "%s%s%sthe disk was not closed cleanly (the "
				 "uncleanShutdown flag is set); its tables may be "
				 "stale: shut the VM down and export it again",
				 PFX(name));
	return 0;
}

typedef struct pending {
	uint32_t sector; /* the grain's marker */
	uint64_t idx;    /* the grain */
} pending;

typedef struct check_state {
	const vimg_reader *r;
	const vmdk_sparse *s;
	uint64_t bad_gt, bad_grain, bad_marker;
	uint64_t first_gt, first_grain; /* indices of the first bad ones */
	uint64_t first_marker;
	uint64_t gts, grains;           /* allocated ones seen */
	bool shared;                    /* more than the file could hold */
	pending *pend;                  /* markers to read, GD_CHUNK tables' */
	size_t npend;
} check_state;

static void bad(uint64_t *count, uint64_t *first, uint64_t idx)
{
	if ((*count)++ == 0 || idx < *first)
		*first = idx;
}

static void check_grain(check_state *c, uint64_t gte, uint64_t idx)
{
	const vmdk_sparse *s = c->s;
	uint64_t size = c->r->size;
	uint64_t grain_bytes = s->grain * VMDK_SECTOR;

	if (gte == 0 || (gte == 1 && s->zero_grain))
		return;
	c->grains++;
	if (gte > size / VMDK_SECTOR) {
		bad(&c->bad_grain, &c->first_grain, idx);
		return;
	}
	uint64_t off = gte * VMDK_SECTOR;
	if (!s->compressed) {
		if (grain_bytes > size - off)
			bad(&c->bad_grain, &c->first_grain, idx);
		return;
	}
	if (!s->markers)
		return; /* the data's length is known only by inflating it */
	c->pend[c->npend].sector = (uint32_t)gte;
	c->pend[c->npend++].idx = idx;
}

static int by_sector(const void *a, const void *b)
{
	const pending *x = a, *y = b;

	return x->sector < y->sector ? -1 : x->sector > y->sector;
}

static void check_markers(check_state *c)
{
	uint64_t size = c->r->size;
	uint64_t grain_bytes = c->s->grain * VMDK_SECTOR;

	if (c->npend == 0)
		return;
	qsort(c->pend, c->npend, sizeof(*c->pend), by_sector);
	for (size_t i = 0; i < c->npend; i++) {
		uint64_t off = (uint64_t)c->pend[i].sector * VMDK_SECTOR;
		uint64_t idx = c->pend[i].idx;
		unsigned char m[VMDK_GRAIN_MARKER];
		if (!vimg_read_exact(c->r, off, m, sizeof(m))) {
			bad(&c->bad_grain, &c->first_grain, idx);
			continue;
		}
		uint32_t len = le32(m + 8);
		/* deflate never grows a grain by more than a few bytes per
		 * 16 KiB; qemu reads at most two grains' worth. */
		if (len == 0 || len > 2 * grain_bytes)
			bad(&c->bad_marker, &c->first_marker, idx);
		else if ((uint64_t)len > size - off - sizeof(m))
			bad(&c->bad_grain, &c->first_grain, idx);
	}
	c->npend = 0;
}

static void check_gt(check_state *c, uint64_t gde, uint64_t gd_idx,
		     unsigned char *gt)
{
	const vmdk_sparse *s = c->s;
	uint64_t size = c->r->size;
	size_t bytes = (size_t)s->gtes * 4;

	if (gde == 0)
		return;
	/* Each table and each grain takes sectors of its own, so a file
	 * cannot hold more of them than it has sectors: beyond that the
	 * tables point at shared places, and checking on would only repeat
	 * the same reads. */
	if (++c->gts > size / VMDK_SECTOR + 1) {
		c->shared = true;
		return;
	}
	if (gde > size / VMDK_SECTOR || bytes > size - gde * VMDK_SECTOR ||
	    !vimg_read_exact(c->r, gde * VMDK_SECTOR, gt, bytes)) {
		bad(&c->bad_gt, &c->first_gt, gd_idx);
		return;
	}
	for (uint32_t i = 0; i < s->gtes && !c->shared; i++) {
		check_grain(c, le32(gt + 4 * i), gd_idx * s->gtes + i);
		if (c->grains > size / VMDK_SECTOR + 1)
			c->shared = true;
	}
}

int vmdk_sparse_check(const vimg_reader *r, const char *name,
		      const vmdk_sparse *s, vimg_info *info)
{
	check_state c = { .r = r, .s = s };
	unsigned char *gd = xmalloc(GD_CHUNK * 4);
	unsigned char *gt = xmalloc((size_t)s->gtes * 4);
	int rc = 0;

	if (s->compressed && s->markers)
		c.pend = xmalloc((size_t)(s->ngd < GD_CHUNK ? s->ngd : GD_CHUNK) *
				 s->gtes * sizeof(*c.pend));

	for (uint64_t i = 0; i < s->ngd && !c.shared; i += GD_CHUNK) {
		uint64_t n = s->ngd - i < GD_CHUNK ? s->ngd - i : GD_CHUNK;
		if (!vimg_read_exact(r, s->gd_off * VMDK_SECTOR + i * 4, gd,
				     (size_t)n * 4)) {
			bad(&c.bad_gt, &c.first_gt, i);
			break;
		}
		for (uint64_t j = 0; j < n && !c.shared; j++)
			check_gt(&c, le32(gd + 4 * j), i + j, gt);
		check_markers(&c);
	}
	if (c.bad_gt) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-gt-beyond-eof",
				 vmdk_aws_invalid,
				 "%s%s%s%llu grain table(s) lie beyond the end of "
				 "the %llu-byte file (the first for grain "
				 "directory entry %llu): the file is truncated; "
				 "copy it again", PFX(name),
				 (unsigned long long)c.bad_gt,
				 (unsigned long long)r->size,
				 (unsigned long long)c.first_gt);
		rc = -1;
	}
	if (c.bad_grain) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-grain-beyond-eof",
				 vmdk_aws_invalid,
				 "%s%s%s%llu grain(s) lie beyond the end of the "
				 "%llu-byte file (the first is grain %llu, at "
				 "guest byte %llu): the file is truncated; copy "
				 "it again", PFX(name),
				 (unsigned long long)c.bad_grain,
				 (unsigned long long)r->size,
				 (unsigned long long)c.first_grain,
				 (unsigned long long)(c.first_grain * s->grain *
						      VMDK_SECTOR));
		rc = -1;
	}
	if (c.bad_marker) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-grain-marker",
				 vmdk_aws_invalid,
				 "%s%s%s%llu compressed grain(s) have an invalid "
				 "marker (a size of 0 or more than two grains); "
				 "the grain tables or the grains are corrupt",
				 PFX(name), (unsigned long long)c.bad_marker);
		rc = -1;
	}
	if (c.shared) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-tables-corrupt",
				 vmdk_aws_invalid,
				 "%s%s%sthe grain tables allocate more grains "
				 "than the %llu-byte file can hold; they are "
				 "corrupt", PFX(name),
				 (unsigned long long)r->size);
		rc = -1;
	}
	free(c.pend);
	free(gd);
	free(gt);
	return rc;
}

char *vmdk_sparse_descriptor(const vimg_reader *r, const vmdk_sparse *s)
{
	if (s->desc_off == 0 || s->desc_size == 0 ||
	    s->desc_off >= r->size / VMDK_SECTOR)
		return NULL;
	uint64_t off = s->desc_off * VMDK_SECTOR;
	uint64_t len = s->desc_size > VMDK_MAX_DESC / VMDK_SECTOR
			       ? VMDK_MAX_DESC
			       : s->desc_size * VMDK_SECTOR;
	if (len > r->size - off)
		len = r->size - off;
	char *buf = xmalloc((size_t)len + 1);
	long long got = vimg_read(r, off, buf, (size_t)len);
	if (got <= 0 || buf[0] == '\0') {
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	return buf;
}
