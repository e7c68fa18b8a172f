/*
 * The OVF descriptor, read with the project's safe XML reader (no DTD, no
 * entities, no network).  Elements and attributes are matched by local
 * name, so the namespace prefixes and versions (OVF 1.x and 2.x, VMware's
 * and VirtualBox's extensions) do not matter.
 */
#include "image/ovf.h"

#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/xml.h"
#include "base/xalloc.h"

static const char aws_ovf[] =
	"ImportImage cannot find the OVA's disks without a readable OVF "
	"descriptor; the import task fails";

/* The value of n's attribute with this local name (any namespace), malloc'd,
 * or NULL.  xml.h reads elements only, so attributes come from the tree. */
static char *attr(vxml_node *n, const char *local)
{
	for (xmlAttr *a = n->properties; a; a = a->next) {
		if (strcmp((const char *)a->name, local) != 0)
			continue;
		xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
		char *s = xstrdup(v ? (const char *)v : "");
		xmlFree(v);
		return s;
	}
	return NULL;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	*out = v;
	return *s == '\0';
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
	if (a && b > UINT64_MAX / a)
		return false;
	*out = a * b;
	return true;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* One factor: N or N^M (DSP0004's programmatic units). */
static const char *factor(const char *s, uint64_t *out)
{
	uint64_t base = 0, exp = 1, v = 1;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned dgt = (unsigned)(*p - '0');
		if (base > (UINT64_MAX - dgt) / 10)
			return NULL;
		base = base * 10 + dgt;
	}
	if (p == s)
		return NULL;
	if (*p == '^') {
		const char *q = ++p;
		exp = 0;
		for (; *p >= '0' && *p <= '9'; p++)
			if ((exp = exp * 10 + (uint64_t)(*p - '0')) > 64)
				return NULL;
		if (p == q)
			return NULL;
	}
	for (uint64_t i = 0; i < exp; i++)
		if (!mul_ok(v, base, &v))
			return NULL;
	*out = v;
	return p;
}

int ovf_capacity_units(const char *units, uint64_t *mult)
{
	uint64_t m = 1;
	const char *s = skip_ws(units ? units : "");

	if (!*s) {
		*mult = 1;
		return 0;
	}
	if (strncasecmp(s, "byte", 4) != 0)
		return -1;
	s = skip_ws(s + 4);
	while (*s) {
		uint64_t f;
		if (*s != '*')
			return -1;
		s = factor(skip_ws(s + 1), &f);
		if (!s || !mul_ok(m, f, &m))
			return -1;
		s = skip_ws(s);
	}
	if (m == 0)
		return -1;
	*mult = m;
	return 0;
}

static void read_files(vxml_node *root, ovf_desc *d, vimg_info *info)
{
	vxml_node *refs = vxml_find(root, "References");
	size_t cap = 0;

	for (vxml_node *f = vxml_child(refs, "File"); f;
	     f = vxml_next(f, "File")) {
		if (d->nfiles == OVF_MAX_FILES) {
			vimg_add_finding(info, VIMG_ERROR, "ovf-too-many-files",
					 NULL, "the OVF references more than %d "
					 "files; vmie checked only the first %d",
					 OVF_MAX_FILES, OVF_MAX_FILES);
			return;
		}
		char *id = attr(f, "id"), *href = attr(f, "href");
		if (!id || !href || !*href) {
			vimg_add_finding(info, VIMG_WARNING, "ovf-file-invalid",
					 NULL, "the OVF has a File element without "
					 "ovf:id or ovf:href; it is ignored");
			free(id);
			free(href);
			continue;
		}
		xgrow((void **)&d->files, &cap, d->nfiles + 1, sizeof(*d->files));
		ovf_file *o = &d->files[d->nfiles++];
		memset(o, 0, sizeof(*o));
		o->id = id;
		o->href = href;
		char *size = attr(f, "size");
		o->has_size = size && parse_u64(size, &o->size);
		free(size);
		o->compression = attr(f, "compression");
		if (o->compression && (!*o->compression ||
				       strcasecmp(o->compression, "identity") == 0)) {
			free(o->compression); /* "identity" means none */
			o->compression = NULL;
		}
		char *chunk = attr(f, "chunkSize");
		o->chunked = chunk != NULL;
		free(chunk);
	}
}

/* capacity x capacityAllocationUnits, or a warning saying why not. */
static void read_capacity(vxml_node *n, ovf_disk *o, vimg_info *info)
{
	char *cap = attr(n, "capacity");
	char *units = attr(n, "capacityAllocationUnits");
	uint64_t v, mult;

	if (cap && parse_u64(cap, &v) && ovf_capacity_units(units, &mult) == 0 &&
	    mul_ok(v, mult, &o->capacity))
		o->has_capacity = true;
	else
		vimg_add_finding(info, VIMG_WARNING, "ovf-capacity-unreadable",
				 NULL, "disk %s: vmie cannot read its capacity "
				 "\"%s\" in units \"%s\", so it does not compare it "
				 "with the disk image's size",
				 o->disk_id ? o->disk_id : "?",
				 cap ? cap : "(none)", units ? units : "byte");
	free(cap);
	free(units);
}

static void read_disks(vxml_node *root, ovf_desc *d, vimg_info *info)
{
	vxml_node *ds = vxml_find(root, "//DiskSection");
	size_t cap = 0;

	d->has_disk_section = ds != NULL;
	for (vxml_node *n = vxml_child(ds, "Disk"); n; n = vxml_next(n, "Disk")) {
		if (d->ndisks == OVF_MAX_DISKS) {
			vimg_add_finding(info, VIMG_ERROR, "ovf-too-many-disks",
					 NULL, "the OVF declares more than %d "
					 "disks; vmie checked only the first %d",
					 OVF_MAX_DISKS, OVF_MAX_DISKS);
			return;
		}
		xgrow((void **)&d->disks, &cap, d->ndisks + 1, sizeof(*d->disks));
		ovf_disk *o = &d->disks[d->ndisks++];
		memset(o, 0, sizeof(*o));
		o->disk_id = attr(n, "diskId");
		o->file_ref = attr(n, "fileRef");
		o->format = attr(n, "format");
		read_capacity(n, o, info);
	}
}

static void check_disks(const ovf_desc *d, vimg_info *info)
{
	if (!d->has_disk_section) {
		vimg_add_finding(info, VIMG_ERROR, "ovf-no-disk-section", aws_ovf,
				 "the OVF descriptor has no DiskSection, so the "
				 "OVA declares no disk to import; export the VM "
				 "again with its disks");
		return;
	}
	if (d->ndisks == 0)
		vimg_add_finding(info, VIMG_ERROR, "ovf-no-disks", aws_ovf,
				 "the OVF's DiskSection lists no Disk; export "
				 "the VM again with its disks");
	for (size_t i = 0; i < d->ndisks; i++) {
		const ovf_disk *k = &d->disks[i];
		const char *id = k->disk_id ? k->disk_id : "?";
		if (!k->file_ref)
			vimg_add_finding(info, VIMG_WARNING, "ovf-disk-no-file",
					 NULL, "disk %s has no ovf:fileRef: it is "
					 "an empty disk the OVF asks to create, "
					 "with no bytes in the OVA; vmie does not "
					 "check it", id);
		else if (!ovf_file_by_id(d, k->file_ref))
			vimg_add_finding(info, VIMG_ERROR, "ovf-disk-file-unknown",
					 aws_ovf, "disk %s refers to file \"%s\" "
					 "but the OVF's References list no File "
					 "with that ovf:id; fix the descriptor or "
					 "export the VM again", id, k->file_ref);
	}
}

static void read_os(vxml_node *root, ovf_desc *d)
{
	vxml_node *os = vxml_find(root, "//OperatingSystemSection");

	if (!os)
		return;
	d->os_id = attr(os, "id");
	d->os_type = attr(os, "osType");
}

int ovf_parse(const char *text, size_t len, ovf_desc *d, vimg_info *info)
{
	memset(d, 0, sizeof(*d));
	vxml *doc = len <= OVF_MAX_SIZE ? vxml_parse(text, len) : NULL;
	vxml_node *root = vxml_root(doc);

	if (!root || strcmp(vxml_name(root), "Envelope") != 0) {
		vimg_add_finding(info, VIMG_ERROR, "ovf-malformed", aws_ovf,
				 "the OVA's OVF descriptor is %s; export the VM "
				 "again, or fix the .ovf and rebuild the OVA",
				 !root ? "not well-formed XML (or it declares "
					 "a DTD, which vmie refuses)"
				       : "not an OVF Envelope");
		vxml_free(doc);
		return -1;
	}
	read_files(root, d, info);
	read_disks(root, d, info);
	check_disks(d, info);
	read_os(root, d);
	vxml_free(doc);
	return 0;
}

const ovf_file *ovf_file_by_id(const ovf_desc *d, const char *id)
{
	for (size_t i = 0; id && i < d->nfiles; i++)
		if (strcmp(d->files[i].id, id) == 0)
			return &d->files[i];
	return NULL;
}

void ovf_desc_free(ovf_desc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nfiles; i++) {
		free(d->files[i].id);
		free(d->files[i].href);
		free(d->files[i].compression);
	}
	free(d->files);
	for (size_t i = 0; i < d->ndisks; i++) {
		free(d->disks[i].disk_id);
		free(d->disks[i].file_ref);
		free(d->disks[i].format);
	}
	free(d->disks);
	free(d->os_id);
	free(d->os_type);
	memset(d, 0, sizeof(*d));
}
