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

static void file_free(vsource *s)
{
	file_src *f = s->impl;
	close(f->fd);
	free(f->path);
	free(f);
}

static const vsource_ops file_ops = {file_read, file_free};

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
	*out = s;
	return 0;
}
