/*
 * The plain readers: memory (tests, fuzz inputs), a window onto another
 * reader (an OVA member, a fixed VHD's data), and a local file.
 */
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"

static long long mem_read_at(const vimg_reader *r, uint64_t off, void *buf,
			     size_t len)
{
	if (off >= r->size)
		return 0;
	uint64_t n = r->size - off;
	if (n > len)
		n = len;
	memcpy(buf, (const unsigned char *)r->mem + off, (size_t)n);
	return (long long)n;
}

/* Nothing is allocated: a test or a fuzz input needs no close call. */
void vimg_reader_mem(vimg_reader *r, const void *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->read_at = mem_read_at;
	r->mem = data;
	r->size = data ? len : 0;
}

long long vimg_read(const vimg_reader *r, uint64_t off, void *buf, size_t len)
{
	return r->read_at(r, off, buf, len);
}

bool vimg_read_exact(const vimg_reader *r, uint64_t off, void *buf, size_t len)
{
	if (off > r->size || len > r->size - off)
		return false;
	return vimg_read(r, off, buf, len) == (long long)len;
}

static long long window_read_at(const vimg_reader *r, uint64_t off, void *buf,
				size_t len)
{
	if (off >= r->size)
		return 0;
	if (len > r->size - off)
		len = (size_t)(r->size - off);
	return vimg_read(r->parent, r->parent_off + off, buf, len);
}

int vimg_reader_window(vimg_reader *r, const vimg_reader *parent,
		       uint64_t off, uint64_t len)
{
	memset(r, 0, sizeof(*r));
	if (off > parent->size || len > parent->size - off)
		return -1;
	r->read_at = window_read_at;
	r->parent = parent;
	r->parent_off = off;
	r->size = len;
	return 0;
}

typedef struct file_ctx {
	int fd;
} file_ctx;

static long long file_read_at(const vimg_reader *r, uint64_t off, void *buf,
			      size_t len)
{
	const file_ctx *f = r->ctx;
	size_t done = 0;

	if (off >= r->size)
		return 0;
	if (len > r->size - off)
		len = (size_t)(r->size - off);
	while (done < len) {
		ssize_t n = pread(f->fd, (char *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break; /* the file shrank under us */
		done += (size_t)n;
	}
	return (long long)done;
}

static void file_close(vimg_reader *r)
{
	file_ctx *f = r->ctx;
	close(f->fd);
	free(f);
}

int vimg_reader_file(vimg_reader *r, const char *path, vmie_error *err)
{
	struct stat st;
	int fd;

	memset(r, 0, sizeof(*r));
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer, forever; its type is checked right after. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return verr_set(err, VMIE_ERR_INVALID_SOURCE,
				"cannot open %s: %s", path, strerror(errno)),
		       -1;
	/* A FIFO or a directory would block or make no sense here; a block
	 * device is a disk, which is what a RAW image is. */
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		verr_set(err, VMIE_ERR_INVALID_SOURCE,
			 "%s is not a regular file or a block device", path);
		verr_hint(err, "a disk image is read from a file or a block "
			  "device: copy a FIFO's or a directory's image into a "
			  "file first");
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		size = end > 0 ? (uint64_t)end : 0;
	}
	file_ctx *f = xmalloc(sizeof(*f));
	f->fd = fd;
	r->read_at = file_read_at;
	r->close = file_close;
	r->ctx = f;
	r->size = size;
	return 0;
}

void vimg_reader_close(vimg_reader *r)
{
	if (!r)
		return;
	if (r->close)
		r->close(r);
	memset(r, 0, sizeof(*r));
}
