/*
 * The VMDK text descriptor: "key = value" lines (version, CID, parentCID,
 * createType, ddb.*) and extent lines
 *   RW|RDONLY|NOACCESS <sectors> SPARSE|FLAT|ZERO|VMFS|... "name" [offset]
 * It may be a file of its own or embedded in a sparse extent; either way
 * it is untrusted text, parsed line by line without sscanf.
 */
#include "image/vmdk.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"

static const struct {
	const char *name;
	vmdk_ext_type type;
} ext_types[] = {
	{ "SPARSE", VMDK_EXT_SPARSE },   { "FLAT", VMDK_EXT_FLAT },
	{ "ZERO", VMDK_EXT_ZERO },       { "VMFS", VMDK_EXT_VMFS },
	{ "VMFSSPARSE", VMDK_EXT_VMFSSPARSE },
	{ "SESPARSE", VMDK_EXT_SESPARSE },
	{ "VMFSRDM", VMDK_EXT_VMFSRDM }, { "VMFSRAW", VMDK_EXT_VMFSRAW },
};

const char *vmdk_ext_type_name(vmdk_ext_type t)
{
	for (size_t i = 0; i < sizeof(ext_types) / sizeof(ext_types[0]); i++)
		if (ext_types[i].type == t)
			return ext_types[i].name;
	return "?";
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* A whitespace-delimited word into out (cap bytes with the NUL). */
static const char *word(const char *p, const char *end, char *out, size_t cap)
{
	size_t n = 0;

	p = skip_ws(p, end);
	while (p < end && *p != ' ' && *p != '\t') {
		if (n + 1 < cap)
			out[n++] = *p;
		else
			n = cap; /* too long: the caller sees "" */
		p++;
	}
	if (n >= cap)
		n = 0;
	out[n] = '\0';
	return p;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || x > (UINT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return true;
}

static bool is_access(const char *w)
{
	return !strcmp(w, "RW") || !strcmp(w, "RDONLY") || !strcmp(w, "NOACCESS");
}

static bool parse_extent(const char *p, const char *end, vmdk_extent *e)
{
	char w[32];
	size_t i;

	memset(e, 0, sizeof(*e));
	p = word(p, end, e->access, sizeof(e->access));
	p = word(p, end, w, sizeof(w));
	if (!parse_u64(w, &e->sectors))
		return false;
	p = word(p, end, w, sizeof(w));
	for (i = 0; i < sizeof(ext_types) / sizeof(ext_types[0]); i++)
		if (!strcmp(w, ext_types[i].name))
			break;
	if (i == sizeof(ext_types) / sizeof(ext_types[0]))
		return false;
	e->type = ext_types[i].type;
	p = skip_ws(p, end);
	if (e->type == VMDK_EXT_ZERO && p == end)
		return true;
	const char *name = p, *name_end;
	if (p < end && *p == '"') {
		name = ++p;
		while (p < end && *p != '"')
			p++;
		if (p == end)
			return false;
		name_end = p++;
	} else {
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		name_end = p;
	}
	if (name_end == name)
		return false;
	for (const char *c = name; c < name_end; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false; /* no file is named so; keep it off screens */
	p = word(p, end, w, sizeof(w));
	if (w[0] && !parse_u64(w, &e->offset))
		return false;
	if (skip_ws(p, end) != end)
		return false;
	if (e->type == VMDK_EXT_FLAT && e->offset > UINT64_MAX / VMDK_SECTOR)
		return false;
	e->name = xmalloc((size_t)(name_end - name) + 1);
	memcpy(e->name, name, (size_t)(name_end - name));
	e->name[name_end - name] = '\0';
	return true;
}

/* Values end up in messages and JSON: control characters become '?'. */
static void copy_value(char *out, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(out, v, n);
	out[n] = '\0';
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static void key_value(vmdk_desc *d, const char *k, size_t kn, const char *v,
		      size_t vn)
{
	char num[24];

	if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
		v++;
		vn -= 2;
	}
#define KEY(s) (kn == sizeof(s) - 1 && !strncasecmp(k, s, kn))
	if (KEY("version")) {
		copy_value(num, sizeof(num), v, vn);
		d->version = atoi(num) > 0 && atoi(num) < 100 ? atoi(num) : -1;
	} else if (KEY("CID") || KEY("parentCID")) {
		copy_value(num, sizeof(num), v, vn);
		char *endp;
		unsigned long x = strtoul(num, &endp, 16);
		if (endp == num || *endp || x > UINT32_MAX)
			return;
		if (KEY("CID")) {
			d->has_cid = true;
			d->cid = (uint32_t)x;
		} else {
			d->has_parent_cid = true;
			d->parent_cid = (uint32_t)x;
		}
	} else if (KEY("createType")) {
		copy_value(d->create_type, sizeof(d->create_type), v, vn);
	} else if (KEY("ddb.adapterType")) {
		copy_value(d->adapter, sizeof(d->adapter), v, vn);
	} else if (KEY("parentFileNameHint") && !d->parent_hint) {
		d->parent_hint = xmalloc(vn + 1);
		copy_value(d->parent_hint, vn + 1, v, vn);
	}
#undef KEY
}

static void one_line(vmdk_desc *d, const char *p, const char *end)
{
	char w[12];

	p = skip_ws(p, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if (p == end || *p == '#')
		return;
	word(p, end, w, sizeof(w));
	if (is_access(w)) {
		vmdk_extent e;
		if (d->nextents >= VMDK_MAX_EXTENTS) {
			d->too_many = true;
			return;
		}
		if (!parse_extent(p, end, &e)) {
			free(e.name);
			if (!d->bad_line) {
				size_t n = (size_t)(end - p) > 200 ? 200 : (size_t)(end - p);
				d->bad_line = xmalloc(n + 1);
				memcpy(d->bad_line, p, n);
				d->bad_line[n] = '\0';
				for (size_t i = 0; i < n; i++)
					if (!isprint((unsigned char)d->bad_line[i]))
						d->bad_line[i] = '?';
			}
			return;
		}
		if ((d->nextents & (d->nextents - 1)) == 0)
			d->extents = xrealloc(d->extents, (d->nextents ? 2 * d->nextents : 1) *
							      sizeof(*d->extents));
		d->extents[d->nextents++] = e;
		return;
	}
	const char *eq = memchr(p, '=', (size_t)(end - p));
	if (!eq)
		return;
	const char *k_end = eq;
	while (k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t'))
		k_end--;
	const char *v = skip_ws(eq + 1, end);
	key_value(d, p, (size_t)(k_end - p), v, (size_t)(end - v));
}

int vmdk_desc_parse(const char *text, size_t len, vmdk_desc *d)
{
	memset(d, 0, sizeof(*d));
	const char *nul = memchr(text, '\0', len);
	const char *end = nul ? nul : text + len;

	for (const char *p = text; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		one_line(d, p, le);
		p = nl ? nl + 1 : end;
	}
	if (!d->version && !d->create_type[0] && !d->nextents && !d->bad_line) {
		vmdk_desc_free(d);
		return -1;
	}
	return 0;
}

void vmdk_desc_free(vmdk_desc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nextents; i++)
		free(d->extents[i].name);
	free(d->extents);
	free(d->parent_hint);
	free(d->bad_line);
	memset(d, 0, sizeof(*d));
}
