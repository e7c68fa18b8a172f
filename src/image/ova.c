/*
 * OVA (DMTF DSP0243, "OVF package"): a tar whose first member is the OVF
 * descriptor, then optionally a manifest (.mf) and a certificate (.cert),
 * then the files the descriptor references.  Each disk is inspected as an
 * image of its own, through a window onto its member's bytes.
 */
#include "image/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"
#include "image/ova_manifest.h"
#include "image/ovf.h"
#include "image/tar.h"

static const char aws_no_ovf[] =
	"ImportImage does not recognise the file as an OVA; the import task "
	"fails";
static const char aws_disk[] =
	"ImportImage cannot import a disk the OVA does not hold; the import "
	"task fails";

typedef struct ova_ctx {
	const vimg_reader *r;
	vtar tar;
	ovf_desc ovf;
	vimg_info *info;
} ova_ctx;

static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n > s && strcasecmp(name + n - s, suffix) == 0;
}

/* A member named from inside the OVA (an href, a VMDK extent): a plain
 * name, never a path that could point elsewhere. */
static const vtar_entry *member(const vtar *tar, const char *name)
{
	if (!name[0] || strchr(name, '/') || strchr(name, '\\') ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return NULL;
	return vtar_find(tar, name);
}

static int member_open(const vimg_opener *op, const char *name,
		       vimg_reader *out)
{
	const ova_ctx *c = op->ctx;
	const vtar_entry *e = member(&c->tar, name);

	if (!e)
		return -1;
	return vimg_reader_window(out, c->r, e->offset, e->size);
}

/* The descriptor: the first member by the OVF spec; one found later is
 * still read, for the rest of the checks. */
static const vtar_entry *find_ovf(ova_ctx *c)
{
	const vtar *t = &c->tar;

	if (t->n && has_suffix(t->entries[0].name, ".ovf"))
		return &t->entries[0];
	for (size_t i = 1; i < t->n; i++) {
		if (!has_suffix(t->entries[i].name, ".ovf"))
			continue;
		vimg_add_finding(c->info, VIMG_ERROR, "ova-ovf-not-first",
				 aws_no_ovf,
				 "the OVF descriptor %s is member %zu of the "
				 "archive, but an OVA must begin with it; rebuild "
				 "it with the descriptor first: tar -cf VM.ova "
				 "VM.ovf VM.mf DISK.vmdk",
				 t->entries[i].name, i + 1);
		return &t->entries[i];
	}
	vimg_add_finding(c->info, VIMG_ERROR, "ova-no-ovf", aws_no_ovf,
			 "the archive holds no .ovf descriptor, so it is not "
			 "an OVA; import the disk image inside it instead");
	return NULL;
}

static char *read_ovf(ova_ctx *c, const vtar_entry *e)
{
	if (e->size > OVF_MAX_SIZE) {
		vimg_add_finding(c->info, VIMG_ERROR, "ovf-too-large", NULL,
				 "the OVF descriptor %s is %llu bytes, more than "
				 "the 4 MiB vmie reads; it is not a descriptor a "
				 "hypervisor wrote", e->name,
				 (unsigned long long)e->size);
		return NULL;
	}
	char *text = xmalloc((size_t)e->size + 1);
	if (!vimg_read_exact(c->r, e->offset, text, (size_t)e->size)) {
		vimg_add_finding(c->info, VIMG_ERROR, "ovf-unreadable", NULL,
				 "vmie could not read the OVF descriptor %s",
				 e->name);
		free(text);
		return NULL;
	}
	text[e->size] = '\0';
	return text;
}

static void compressed_member(vimg_disk *d, const ovf_file *f)
{
	d->info->format = VIMG_UNKNOWN;
	if (strcasecmp(f->compression, "gzip") == 0)
		d->info->compression = VIMG_COMP_GZIP;
	vimg_add_finding(d->info, VIMG_ERROR, "ova-compressed-member",
			 "ImportImage does not import an OVA whose disk files "
			 "are compressed inside it; the import task fails",
			 "the OVF marks %s as %s-compressed; export the VM "
			 "again without compression (ovftool without "
			 "--compress), or decompress the member, drop "
			 "ovf:compression from the .ovf and rebuild the OVA",
			 d->href, f->compression);
}

static void inspect_member(ova_ctx *c, vimg_disk *d, const ovf_disk *k,
			   const vtar_entry *e)
{
	vimg_opener op = { member_open, c };
	vimg_inspect_opts o = { d->href, &op, 1, 0 };
	vmie_error err = { 0 };
	vimg_reader w;

	if (vimg_reader_window(&w, c->r, e->offset, e->size) < 0 ||
	    vimg_inspect(&w, &o, d->info, &err) < 0)
		vimg_add_finding(d->info, VIMG_ERROR, "ova-disk-unreadable", NULL,
				 "vmie could not read disk %s in the OVA: %s",
				 d->href, err.message ? err.message : "?");
	vmie_error_clear(&err);
	if (k->has_capacity && d->info->virtual_size &&
	    d->info->virtual_size != k->capacity)
		vimg_add_finding(d->info, VIMG_WARNING, "ova-capacity-mismatch",
				 NULL, "the OVF gives disk %s a capacity of %llu "
				 "bytes but its image is %llu bytes; the "
				 "descriptor is stale or the disk was replaced: "
				 "export the VM again if the size matters",
				 d->href, (unsigned long long)k->capacity,
				 (unsigned long long)d->info->virtual_size);
}

/* One vimg_disk for the OVF disk k: where its member is, and what it is. */
static void add_disk(ova_ctx *c, const ovf_disk *k)
{
	vimg_info *info = c->info;
	const ovf_file *f = ovf_file_by_id(&c->ovf, k->file_ref);

	info->disks = xrealloc(info->disks,
			       (info->ndisks + 1) * sizeof(*info->disks));
	vimg_disk *d = &info->disks[info->ndisks++];
	memset(d, 0, sizeof(*d));
	d->capacity = k->has_capacity ? k->capacity : 0;
	if (!f)
		return; /* ovf.c reported the dangling fileRef */
	d->href = xstrdup(f->href);
	if (f->chunked) {
		vimg_add_finding(info, VIMG_ERROR, "ova-chunked-member", aws_disk,
				 "the OVF splits disk file %s into chunks "
				 "(ovf:chunkSize); export the VM again as a "
				 "single file per disk", d->href);
		return;
	}
	const vtar_entry *e = member(&c->tar, d->href);
	if (!e) {
		vimg_add_finding(info, VIMG_ERROR, "ova-disk-missing", aws_disk,
				 "the OVF references disk file %s but the OVA has "
				 "no member of that name; rebuild the OVA with the "
				 "disk, or fix ovf:href in the descriptor", d->href);
		return;
	}
	d->offset = e->offset;
	d->size = e->size;
	if (f->has_size && f->size != e->size)
		vimg_add_finding(info, VIMG_WARNING, "ovf-file-size-mismatch",
				 NULL, "the OVF gives %s a size of %llu bytes but "
				 "the member has %llu; the descriptor is stale or "
				 "the member was replaced", d->href,
				 (unsigned long long)f->size,
				 (unsigned long long)e->size);
	d->info = xcalloc(1, sizeof(*d->info));
	if (f->compression)
		compressed_member(d, f);
	else
		inspect_member(c, d, k, e);
}

static void check_extras(ova_ctx *c)
{
	const vtar_entry *mf = NULL;

	for (size_t i = 0; i < c->tar.n; i++) {
		const vtar_entry *e = &c->tar.entries[i];
		if (e->type != '0' && e->type != '7')
			continue;
		if (!mf && has_suffix(e->name, ".mf"))
			mf = e;
		else if (has_suffix(e->name, ".cert"))
			vimg_add_finding(c->info, VIMG_WARNING,
					 "ova-cert-not-verified", NULL,
					 "the OVA is signed (%s) but vmie does "
					 "not verify the signature; check it "
					 "with ovftool if the OVA's origin "
					 "matters", e->name);
	}
	if (mf)
		ova_manifest_check(c->r, &c->tar, mf, c->info);
}

int vimg_ova_inspect(const vimg_reader *r, vimg_info *info)
{
	ova_ctx c = { .r = r, .info = info };
	char *text = NULL;

	if (vtar_read(r, &c.tar, info) < 0)
		return -1;
	info->format = VIMG_OVA;
	snprintf(info->subformat, sizeof(info->subformat), "ova");
	info->file_size = r->size;
	const vtar_entry *ovf = find_ovf(&c);
	if (ovf && (text = read_ovf(&c, ovf)) &&
	    ovf_parse(text, (size_t)ovf->size, &c.ovf, info) == 0) {
		for (size_t i = 0; i < c.ovf.ndisks; i++)
			add_disk(&c, &c.ovf.disks[i]);
	}
	/* The first disk is the boot disk; its OVF capacity stands in when
	 * its image could not be read. */
	if (info->ndisks) {
		const vimg_disk *boot = &info->disks[0];
		info->virtual_size = boot->info && boot->info->virtual_size
					     ? boot->info->virtual_size
					     : boot->capacity;
	}
	check_extras(&c);
	free(text);
	ovf_desc_free(&c.ovf);
	vtar_free(&c.tar);
	return 0;
}
