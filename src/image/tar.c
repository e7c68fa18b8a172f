/*
 * The tar walker (POSIX.1-2001 ustar and pax, with GNU's long names and
 * base-256 numbers, which is what tar(1), VMware's ovftool and VirtualBox
 * write).  Every header is untrusted: checksums are verified, numbers
 * parsed strictly, and member data must lie inside the file.
 */
#include "image/tar.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define BLOCK 512u
/* pax records carry a path and a few times; xattrs can make them longer,
 * but nothing an OVA needs is bigger than this. */
#define MAX_PAX (1u << 20)
/* pax and long-name headers come before their entry: a few per member. */
#define MAX_HEADERS (4u * VTAR_MAX_ENTRIES)

static const char aws_damaged[] =
	"ImportImage cannot unpack a damaged OVA; the import task fails";

typedef struct walk {
	const vimg_reader *r;
	vtar *t;
	vimg_info *info;
	uint64_t pos;
	char *long_name; /* GNU 'L': the next entry's name */
	char *pax_path;  /* pax path=: the next entry's name (wins over 'L') */
	bool pax_has_size;
	uint64_t pax_size;
} walk;

/* Octal, space- or NUL-terminated, leading spaces allowed; or GNU/star
 * base-256 (high bit of the first byte set; negative values refused). */
static bool parse_number(const unsigned char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] & 0x40)
			return false;
		v = f[0] & 0x3f;
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return false;
			v = (v << 8) | f[i];
		}
		*out = v;
		return true;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 61)
			return false;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	if (i < len && f[i] != ' ' && f[i] != '\0')
		return false;
	*out = v;
	return true;
}

/* The stored sum counts the checksum field as eight spaces.  Old tars
 * summed signed chars; both are accepted, as GNU tar does. */
static bool checksum_ok(const unsigned char *h)
{
	uint64_t want;
	uint32_t usum = 0;
	int32_t ssum = 0;

	if (!parse_number(h + 148, 8, &want))
		return false;
	for (size_t i = 0; i < BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
		usum += c;
		ssum += (signed char)c;
	}
	return want == usum || (ssum >= 0 && want == (uint64_t)ssum);
}

static bool all_zero(const unsigned char *h)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (h[i])
			return false;
	return true;
}

/* The ustar magic ("ustar\0" POSIX, "ustar  " GNU) of the first header. */
static bool has_magic(const vimg_reader *r)
{
	char m[5];
	return vimg_read_exact(r, 257, m, sizeof(m)) && memcmp(m, "ustar", 5) == 0;
}

static void damaged(walk *w, const char *code, const char *what)
{
	vimg_add_finding(w->info, VIMG_ERROR, code, aws_damaged,
			 "the OVA's tar archive is damaged at offset %llu: %s; "
			 "rebuild the OVA (export the VM again, or tar -cf "
			 "VM.ova VM.ovf VM.mf DISK.vmdk)",
			 (unsigned long long)w->pos, what);
}

/* Member data of size bytes after the header at w->pos: inside the file? */
static bool data_fits(const walk *w, uint64_t size)
{
	uint64_t start = w->pos + BLOCK;
	return start <= w->r->size && size <= w->r->size - start;
}

/* The data of a pax or long-name header, NUL-terminated. */
static char *read_meta(walk *w, uint64_t size, uint64_t cap)
{
	if (size > cap) {
		damaged(w, "ova-tar-header", "an extended header is too long");
		return NULL;
	}
	if (!data_fits(w, size)) {
		damaged(w, "ova-truncated", "the file ends inside an extended "
			"header");
		return NULL;
	}
	char *p = xmalloc((size_t)size + 1);
	if (!vimg_read_exact(w->r, w->pos + BLOCK, p, (size_t)size)) {
		damaged(w, "ova-truncated", "an extended header cannot be read");
		free(p);
		return NULL;
	}
	p[size] = '\0';
	return p;
}

static bool parse_decimal(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* One "LEN key=value\n" record after another; keeps path and size. */
static bool parse_pax(walk *w, const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t digits = 0;
		uint64_t rec;
		while (i + digits < len && p[i + digits] >= '0' &&
		       p[i + digits] <= '9')
			digits++;
		if (!parse_decimal(p + i, digits, &rec) || rec > len - i ||
		    rec < digits + 3 || p[i + digits] != ' ' ||
		    p[i + rec - 1] != '\n')
			return false;
		const char *kv = p + i + digits + 1;
		size_t kvlen = (size_t)rec - digits - 2;
		const char *eq = memchr(kv, '=', kvlen);
		if (!eq)
			return false;
		size_t klen = (size_t)(eq - kv);
		const char *val = eq + 1;
		size_t vlen = kvlen - klen - 1;
		if (klen == 4 && memcmp(kv, "path", 4) == 0) {
			if (vlen == 0 || vlen > VTAR_MAX_NAME ||
			    memchr(val, '\0', vlen))
				return false;
			free(w->pax_path);
			w->pax_path = xstrndup(val, vlen);
		} else if (klen == 4 && memcmp(kv, "size", 4) == 0) {
			if (!parse_decimal(val, vlen, &w->pax_size))
				return false;
			w->pax_has_size = true;
		}
		i += (size_t)rec;
	}
	return true;
}

/* POSIX ustar joins prefix and name; GNU's magic ("ustar  ") uses the
 * prefix field for other things. */
static char *ustar_name(const unsigned char *h)
{
	size_t nlen = strnlen((const char *)h, 100);
	size_t plen = memcmp(h + 257, "ustar\0", 6) == 0
			      ? strnlen((const char *)h + 345, 155)
			      : 0;
	char *s = xmalloc(plen + 1 + nlen + 1);
	size_t k = 0;

	if (plen) {
		memcpy(s, h + 345, plen);
		s[plen] = '/';
		k = plen + 1;
	}
	memcpy(s + k, h, nlen);
	s[k + nlen] = '\0';
	return s;
}

static void add_entry(walk *w, char *name, uint64_t size, char type)
{
	xgrow((void **)&w->t->entries, &w->t->cap, w->t->n + 1,
	      sizeof(*w->t->entries));
	vtar_entry *e = &w->t->entries[w->t->n++];
	e->name = name;
	e->offset = w->pos + BLOCK;
	e->size = size;
	e->type = type;
}

/* No data follows a link, a device, a FIFO or a directory (POSIX). */
static bool has_data(char type)
{
	return !(type >= '1' && type <= '6');
}

typedef enum step { STEP_NEXT, STEP_END } step;

/* A header that describes the next one: pax 'x' (path=, size=), GNU 'L'
 * (a long name), or one that is skipped (pax 'g', GNU 'K'). */
static step meta_header(walk *w, char type, uint64_t size)
{
	if (type == 'g' || type == 'K') {
		if (data_fits(w, size))
			return STEP_NEXT;
		damaged(w, "ova-truncated", "the file ends inside an extended "
			"header");
		return STEP_END;
	}
	char *meta = read_meta(w, size, type == 'x' ? MAX_PAX
						    : VTAR_MAX_NAME + 1);
	bool ok = true;
	if (!meta)
		return STEP_END;
	if (type == 'x') {
		ok = parse_pax(w, meta, (size_t)size);
	} else {
		free(w->long_name);
		w->long_name = xstrdup(meta);
	}
	free(meta);
	if (!ok) {
		damaged(w, "ova-tar-header", "a pax extended header is "
			"malformed");
		return STEP_END;
	}
	return STEP_NEXT;
}

/* Handle the header at w->pos; on STEP_NEXT, *advance is the bytes of data
 * to skip after the header. */
static step one_header(walk *w, const unsigned char *h, uint64_t *advance)
{
	char type = (char)h[156];
	uint64_t size;

	if (!parse_number(h + 124, 12, &size)) {
		damaged(w, "ova-tar-header", "a member's size field is not a "
			"number");
		return STEP_END;
	}
	*advance = size;
	if (type == 'x' || type == 'L' || type == 'g' || type == 'K')
		return meta_header(w, type, size);

	if (w->pax_has_size)
		size = w->pax_size;
	if (!has_data(type))
		size = 0;
	*advance = size;
	char *name = w->pax_path ? w->pax_path
		     : w->long_name ? w->long_name : ustar_name(h);
	if (name == w->pax_path)
		free(w->long_name);
	else if (name == w->long_name)
		free(w->pax_path);
	w->pax_path = w->long_name = NULL;
	w->pax_has_size = false;
	if (strlen(name) > VTAR_MAX_NAME || !name[0]) {
		free(name);
		damaged(w, "ova-tar-name", "a member's name is empty or longer "
			"than 4096 bytes");
		return STEP_END;
	}
	if (!data_fits(w, size)) {
		vimg_add_finding(w->info, VIMG_ERROR, "ova-truncated", aws_damaged,
				 "the OVA is truncated: member %s needs %llu "
				 "bytes at offset %llu but the file ends at %llu; "
				 "copy or download it again",
				 name, (unsigned long long)size,
				 (unsigned long long)(w->pos + BLOCK),
				 (unsigned long long)w->r->size);
		free(name);
		return STEP_END;
	}
	if (w->t->n >= VTAR_MAX_ENTRIES) {
		free(name);
		damaged(w, "ova-tar-too-many-entries", "it has more than 10000 "
			"members, far more than an OVA holds");
		return STEP_END;
	}
	add_entry(w, name, size, type ? type : '0');
	return STEP_NEXT;
}

int vtar_read(const vimg_reader *r, vtar *t, vimg_info *info)
{
	walk w = { .r = r, .t = t, .info = info };
	unsigned char h[BLOCK];
	int rc = 0;

	memset(t, 0, sizeof(*t));
	for (unsigned n = 0;; n++) {
		uint64_t advance = 0;

		if (w.pos == r->size)
			break; /* no end-of-archive blocks: tar accepts that */
		if (r->size - w.pos < BLOCK || !vimg_read_exact(r, w.pos, h, BLOCK)) {
			if (n == 0 && !has_magic(r)) {
				rc = -1;
				break;
			}
			damaged(&w, "ova-truncated", "the file ends inside a "
				"member's header");
			break;
		}
		if (all_zero(h))
			break; /* the end-of-archive marker */
		if (!checksum_ok(h)) {
			if (n == 0 && !has_magic(r)) {
				rc = -1;
				break;
			}
			damaged(&w, "ova-tar-checksum", "a header's checksum "
				"does not match its contents");
			break;
		}
		if (n >= MAX_HEADERS) {
			damaged(&w, "ova-tar-too-many-entries", "it has more "
				"headers than any OVA needs");
			break;
		}
		if (one_header(&w, h, &advance) == STEP_END)
			break;
		/* data_fits or read_meta checked advance against the size */
		uint64_t padded = advance + (BLOCK - 1);
		if (padded < advance || padded / BLOCK * BLOCK >
					       r->size - w.pos - BLOCK) {
			w.pos = r->size; /* the last member's padding is cut */
			continue;
		}
		w.pos += BLOCK + padded / BLOCK * BLOCK;
	}
	free(w.long_name);
	free(w.pax_path);
	if (rc < 0)
		vtar_free(t);
	return rc;
}

void vtar_free(vtar *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->entries[i].name);
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

const char *vtar_rel_name(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	return name;
}

const vtar_entry *vtar_find(const vtar *t, const char *name)
{
	for (size_t i = t->n; i-- > 0;) {
		const vtar_entry *e = &t->entries[i];
		if ((e->type == '0' || e->type == '7') &&
		    strcmp(vtar_rel_name(e->name), name) == 0)
			return e;
	}
	return NULL;
}
