/*
 * The guest's disk inside a local VHD, VHDX or VMDK file, read front to
 * back as a source: the bytes the virtual machine sees, through the
 * image's own tables (image/ *_guest.c), so they can be sent as another
 * format.
 */
#include "transfer/source_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

typedef struct image_src {
	vimg_reader file;  /* the guest view may borrow it: keep it here */
	vimg_reader guest;
	uint64_t pos;
} image_src;

static long long image_read(vsource *s, void *buf, size_t len, vmie_error *err)
{
	image_src *m = s->impl;
	if (m->pos >= m->guest.size)
		return 0;
	if (len > m->guest.size - m->pos)
		len = (size_t)(m->guest.size - m->pos);
	if (!vimg_read_exact(&m->guest, m->pos, buf, len))
		return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
				"reading the disk inside %s at byte %llu failed: "
				"the image is damaged or changed while it was "
				"read", s->name, (unsigned long long)m->pos),
		       -1;
	m->pos += len;
	/* Progress: the share of the guest done, scaled to the file. */
	s->raw_offset = m->guest.size ? (uint64_t)((double)m->pos /
						   (double)m->guest.size *
						   (double)s->raw_size)
				      : 0;
	return (long long)len;
}

static void image_free(vsource *s)
{
	image_src *m = s->impl;
	vimg_reader_close(&m->guest);
	vimg_reader_close(&m->file);
	free(m);
}

static const vsource_ops image_ops = {image_read, image_free, NULL};

int vsource_open_image(const char *path, vimg_format format, vsource **out,
		       vmie_error *err)
{
	image_src *m = xcalloc(1, sizeof(*m));
	vimg_opener op;

	*out = NULL;
	if (vimg_reader_file(&m->file, path, err) < 0) {
		free(m);
		return -1;
	}
	vimg_opener_dir(&op, path);
	int rc = vimg_guest_open(&m->file, format, &op, &m->guest);
	vimg_opener_dir_free(&op);
	if (rc < 0) {
		vimg_reader_close(&m->file);
		free(m);
		return verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
				"vmie cannot read the disk inside %s (%s)", path,
				vimg_format_name(format));
	}
	vsource *s = vsource_alloc(&image_ops, m);
	s->size = m->guest.size;
	s->raw_size = m->file.size;
	s->name = vsource_name_from(path, false);
	*out = s;
	return 0;
}
