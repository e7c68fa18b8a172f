/*
 * A local file or block device, read front to back in large reads.
 */
#include "transfer/source_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"

typedef struct file_src {
	int fd;
	char *path;
} file_src;

static long long file_read(vsource *s, void *buf, size_t len, vmie_error *err)
{
	file_src *f = s->impl;
	for (;;) {
		ssize_t n = read(f->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
					"reading %s: %s", f->path, strerror(errno)),
			       -1;
		s->raw_offset += (uint64_t)n;
		return n;
	}
}

static int file_seek(vsource *s, uint64_t offset, vmie_error *err)
{
	file_src *f = s->impl;
	if (lseek(f->fd, (off_t)offset, SEEK_SET) < 0)
		return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED, "seeking in %s: %s",
				f->path, strerror(errno));
	s->raw_offset = offset;
	return 0;
}

/* SEEK_DATA finds the next byte the file system holds; what lies before
 * it is a hole.  A file system without the call (EINVAL), a device or no
 * hole here: nothing skipped. */
static long long file_skip_zeros(vsource *s, uint64_t max, vmie_error *err)
{
	file_src *f = s->impl;
	off_t pos = lseek(f->fd, 0, SEEK_CUR);
	if (pos < 0 || (uint64_t)pos >= s->size)
		return 0;
	off_t data = lseek(f->fd, pos, SEEK_DATA);
	if (data < 0 && errno == ENXIO)
		data = (off_t)s->size; /* a hole to the end */
	if (data < 0 || data <= pos) {
		/* SEEK_DATA may have moved nothing, or failed: stay put. */
		if (lseek(f->fd, pos, SEEK_SET) < 0)
			return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
					"seeking in %s: %s", f->path,
					strerror(errno)),
			       -1;
		return 0;
	}
	uint64_t skip = (uint64_t)(data - pos);
	if (skip > max)
		skip = max;
	if (lseek(f->fd, pos + (off_t)skip, SEEK_SET) < 0)
		return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
				"seeking in %s: %s", f->path, strerror(errno)),
		       -1;
	s->raw_offset += skip;
	return (long long)skip;
}

static void file_free(vsource *s)
{
	file_src *f = s->impl;
	close(f->fd);
	free(f->path);
	free(f);
}

static const vsource_ops file_ops = {file_read, file_free, file_skip_zeros};

int vsource_open_file(const char *path, vsource **out, vmie_error *err)
{
	struct stat st;
	/* O_NONBLOCK until the type is known: a FIFO would block the open. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	*out = NULL;
	if (fd < 0)
		return verr_set(err, VMIE_ERR_INVALID_SOURCE, "cannot open %s: %s",
				path, strerror(errno));
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		return verr_set(err, VMIE_ERR_INVALID_SOURCE,
				"%s is not a regular file or a block device", path);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		size = end > 0 ? (uint64_t)end : 0;
		lseek(fd, 0, SEEK_SET);
	}
	/* One pass, front to back: let the kernel read ahead generously. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	file_src *f = xcalloc(1, sizeof(*f));
	f->fd = fd;
	f->path = xstrdup(path);
	vsource *s = vsource_alloc(&file_ops, f);
	s->size = s->raw_size = size;
	s->fd = fd;
	s->name = vsource_name_from(path, false);
	s->seek = file_seek;
	s->seekable = true;
	*out = s;
	return 0;
}
