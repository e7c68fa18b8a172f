/*
 * VMDK inspection: a sparse file ("KDMV": monolithicSparse,
 * streamOptimized, one extent of a twoGbMaxExtentSparse disk) or a text
 * descriptor ("# Disk DescriptorFile") whose extents are opened by name.
 * VM Import takes only streamOptimized; everything else is inspected (so
 * `vmie inspect` can show it) and refused with the conversion to run.
 */
#include "image/vmdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* Per-extent findings stop being added past this many findings. */
#define MAX_FINDINGS 64

static const char aws_unsupported[] =
	"the import task fails with ClientError: Disk validation failed "
	"[Unsupported VMDK File Format]";

static void set_subformat(vimg_info *info, const char *s)
{
	snprintf(info->subformat, sizeof(info->subformat), "%s", s);
}

static void not_stream_optimized(vimg_info *info, bool descriptor)
{
	const char *sub = info->subformat[0] ? info->subformat : "unknown";

	if (descriptor)
		vimg_add_finding(info, VIMG_ERROR, "vmdk-not-stream-optimized",
				 aws_unsupported,
				 "this VMDK is a text descriptor (createType "
				 "\"%s\") whose data lives in separate extent "
				 "files, but VM Import accepts only a single "
				 "streamOptimized VMDK file; convert it with "
				 "qemu-img convert -O vmdk -o "
				 "subformat=streamOptimized IN.vmdk OUT.vmdk, "
				 "giving the descriptor as IN.vmdk with its extents "
				 "beside it (or to RAW: qemu-img convert -O raw "
				 "IN.vmdk OUT.raw)", sub);
	else
		vimg_add_finding(info, VIMG_ERROR, "vmdk-not-stream-optimized",
				 aws_unsupported,
				 "this VMDK is %s, but VM Import accepts only the "
				 "streamOptimized VMDK subformat; convert it with "
				 "qemu-img convert -O vmdk -o "
				 "subformat=streamOptimized IN.vmdk OUT.vmdk (or "
				 "to RAW: qemu-img convert -O raw IN.vmdk OUT.raw)",
				 sub);
}

static void check_parent(const vmdk_desc *d, vimg_info *info)
{
	if (!d->has_parent_cid || d->parent_cid == 0xffffffffu)
		return;
	vimg_add_finding(info, VIMG_ERROR, "vmdk-snapshot-child",
			 vmdk_aws_invalid,
			 "this VMDK is a snapshot (delta) disk: its parentCID is "
			 "%08x%s%s%s, so it holds only the changes since its "
			 "parent; AWS needs the whole disk: consolidate the "
			 "snapshots (or clone the VM) and export again, or "
			 "flatten it with qemu-img convert -O vmdk -o "
			 "subformat=streamOptimized CHILD.vmdk OUT.vmdk",
			 d->parent_cid, d->parent_hint ? " (parent \"" : "",
			 d->parent_hint ? d->parent_hint : "",
			 d->parent_hint ? "\")" : "");
}

static int inspect_sparse(const vimg_reader *r, vimg_info *info)
{
	vmdk_sparse s;
	vmdk_desc d;
	bool have_desc = false;

	if (vmdk_sparse_header(r, NULL, info, &s) < 0) {
		/* What the first header says, when it was read at all. */
		if (s.capacity && s.capacity <= VMDK_MAX_CAPACITY) {
			set_subformat(info, s.compress == VMDK_COMPRESS_DEFLATE
						    ? "streamOptimized"
						    : "monolithicSparse");
			info->virtual_size = s.capacity * VMDK_SECTOR;
		}
		return 0;
	}
	char *text = vmdk_sparse_descriptor(r, &s);
	if (text && vmdk_desc_parse(text, strlen(text), &d) == 0)
		have_desc = true;
	free(text);
	if (s.compressed)
		set_subformat(info, "streamOptimized");
	else if (have_desc && d.create_type[0] &&
		 strcmp(d.create_type, "streamOptimized") != 0)
		set_subformat(info, d.create_type);
	else
		set_subformat(info, "monolithicSparse");
	info->virtual_size = s.capacity * VMDK_SECTOR;
	if (have_desc) {
		check_parent(&d, info);
		vmdk_desc_free(&d);
	}
	vmdk_sparse_check(r, NULL, &s, info);
	if (!s.compressed)
		not_stream_optimized(info, false);
	return 0;
}

typedef struct desc_check {
	size_t missing;
	const char *first_missing;
	uint64_t total;     /* sectors */
	bool overflow;
} desc_check;

static void check_extent(const vimg_opener *op, const vmdk_extent *e,
			 vimg_info *info, desc_check *c)
{
	vimg_reader er;

	if (e->sectors > VMDK_MAX_CAPACITY - c->total)
		c->overflow = true;
	else
		c->total += e->sectors;
	if (e->type == VMDK_EXT_ZERO)
		return;
	if (!op || op->open(op, e->name, &er) < 0) {
		if (c->missing++ == 0)
			c->first_missing = e->name;
		return;
	}
	if (info->nfindings > MAX_FINDINGS)
		goto out;
	switch (e->type) {
	case VMDK_EXT_FLAT:
	case VMDK_EXT_VMFS: {
		uint64_t need = e->offset + e->sectors; /* both < 2^55 */
		if (e->sectors > VMDK_MAX_CAPACITY ||
		    e->offset > UINT64_MAX / VMDK_SECTOR - VMDK_MAX_CAPACITY ||
		    need * VMDK_SECTOR > er.size)
			vimg_add_finding(info, VIMG_ERROR, "vmdk-flat-extent-short",
					 vmdk_aws_invalid,
					 "extent \"%s\" holds %llu bytes, but the "
					 "descriptor needs %llu sectors from sector "
					 "%llu of it: the extent file is truncated "
					 "or not the one the descriptor means",
					 e->name, (unsigned long long)er.size,
					 (unsigned long long)e->sectors,
					 (unsigned long long)e->offset);
		break;
	}
	case VMDK_EXT_SPARSE: {
		vmdk_sparse s;
		if (vmdk_sparse_header(&er, e->name, info, &s) < 0)
			break;
		if (s.capacity != e->sectors)
			vimg_add_finding(info, VIMG_ERROR,
					 "vmdk-extent-capacity-mismatch",
					 vmdk_aws_invalid,
					 "extent \"%s\" holds %llu sectors but the "
					 "descriptor says %llu: the extent is not "
					 "the one the descriptor means",
					 e->name, (unsigned long long)s.capacity,
					 (unsigned long long)e->sectors);
		vmdk_sparse_check(&er, e->name, &s, info);
		break;
	}
	default:
		vimg_add_finding(info, VIMG_ERROR, "vmdk-extent-unsupported",
				 vmdk_aws_invalid,
				 "extent \"%s\" is of type %s (%s), which vmie "
				 "cannot read and VM Import does not accept",
				 e->name, vmdk_ext_type_name(e->type),
				 e->type == VMDK_EXT_VMFSSPARSE ||
						 e->type == VMDK_EXT_SESPARSE
					 ? "a snapshot's redo log"
					 : "a raw device mapping");
		break;
	}
out:
	vimg_reader_close(&er);
}

static void check_extents(const vimg_opener *op, const vmdk_desc *d,
			  vimg_info *info)
{
	desc_check c = { 0 };

	if (d->nextents == 0) {
		vimg_add_finding(info, VIMG_ERROR, "vmdk-descriptor-invalid",
				 vmdk_aws_invalid,
				 "the VMDK descriptor lists no extents, so it "
				 "describes no disk data");
		return;
	}
	for (size_t i = 0; i < d->nextents; i++)
		check_extent(op, &d->extents[i], info, &c);
	if (c.overflow)
		vimg_add_finding(info, VIMG_ERROR, "vmdk-capacity",
				 vmdk_aws_invalid,
				 "the extents add up to more than 64 TiB; the "
				 "descriptor is corrupt");
	info->virtual_size = c.total * VMDK_SECTOR;
	if (c.missing)
		vimg_add_finding(info, VIMG_ERROR, "vmdk-extent-missing",
				 vmdk_aws_invalid,
				 "this is a VMDK descriptor without its extents: "
				 "%zu of the %zu extent files it names %s not "
				 "there (the first is \"%s\"); the disk's data is "
				 "in those files: keep them beside the descriptor, "
				 "or convert descriptor and extents into one "
				 "streamOptimized file",
				 c.missing, d->nextents,
				 c.missing == 1 ? "is" : "are", c.first_missing);
}

static int inspect_descriptor(const vimg_reader *r, const vimg_opener *op,
			      vimg_info *info)
{
	size_t len = r->size > VMDK_MAX_DESC ? VMDK_MAX_DESC : (size_t)r->size;
	char *text = xmalloc(len + 1);
	vmdk_desc d;
	int rc = -1;

	if (!vimg_read_exact(r, 0, text, len))
		goto out;
	text[len] = '\0';
	if (vmdk_desc_parse(text, len, &d) < 0)
		goto out;
	rc = 0;
	if (r->size > VMDK_MAX_DESC)
		vimg_add_finding(info, VIMG_ERROR, "vmdk-descriptor-invalid",
				 vmdk_aws_invalid,
				 "this VMDK descriptor is %llu bytes long; "
				 "descriptors are a few hundred bytes, so the "
				 "file is damaged (only its first 64 KiB were "
				 "read)", (unsigned long long)r->size);
	if (d.create_type[0])
		set_subformat(info, d.create_type);
	else
		vimg_add_finding(info, VIMG_ERROR, "vmdk-descriptor-invalid",
				 vmdk_aws_invalid,
				 "the VMDK descriptor has no createType line");
	if (d.version < 0 || d.version > 3)
		vimg_add_finding(info, VIMG_WARNING, "vmdk-descriptor-version",
				 NULL, "the VMDK descriptor's version is not 1, 2 "
				 "or 3");
	if (d.bad_line)
		vimg_add_finding(info, VIMG_ERROR, "vmdk-descriptor-invalid",
				 vmdk_aws_invalid,
				 "the VMDK descriptor has an extent line that does "
				 "not parse: %s", d.bad_line);
	if (d.too_many)
		vimg_add_finding(info, VIMG_ERROR, "vmdk-too-many-extents",
				 vmdk_aws_invalid,
				 "the VMDK descriptor lists more than %u extents; "
				 "vmie did not read past them", VMDK_MAX_EXTENTS);
	check_parent(&d, info);
	check_extents(op, &d, info);
	/* Even a descriptor that says streamOptimized is not one file. */
	not_stream_optimized(info, true);
	vmdk_desc_free(&d);
out:
	free(text);
	return rc;
}

int vimg_vmdk_inspect(const vimg_reader *r, const vimg_opener *op,
		      vimg_info *info)
{
	unsigned char head[4];

	info->format = VIMG_VMDK;
	info->file_size = r->size;
	if (!vimg_read_exact(r, 0, head, sizeof(head)))
		return -1;
	if (memcmp(head, "KDMV", 4) == 0)
		return inspect_sparse(r, info);
	return inspect_descriptor(r, op, info);
}
