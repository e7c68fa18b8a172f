/*
 * State files (file.h).
 */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"

int vfile_mkdirs(const char *dir, mode_t mode)
{
	char *p = xstrdup(dir);
	int rc = 0;
	for (char *s = p + 1; *s && !rc; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			rc = errno;
		*s = '/';
	}
	if (!rc && mkdir(p, mode) != 0 && errno != EEXIST)
		rc = errno;
	free(p);
	return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int vfile_write_atomic(const char *path, const void *data, size_t len,
		       mode_t mode)
{
	vbuf tmp = VBUF_INIT;
	vbuf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(vbuf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int rc = fd < 0 ? errno : write_all(fd, data, len);
	if (fd >= 0) {
		if (!rc && fsync(fd) != 0)
			rc = errno;
		if (close(fd) != 0 && !rc)
			rc = errno;
	}
	if (!rc && rename(vbuf_str(&tmp), path) != 0)
		rc = errno;
	if (rc && fd >= 0)
		unlink(vbuf_str(&tmp));
	vbuf_free(&tmp);
	return rc;
}

int vfile_read(const char *path, size_t max, vbuf *out)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = errno;
	else if (!S_ISREG(st.st_mode))
		rc = EINVAL;
	else if ((unsigned long long)st.st_size > max)
		rc = EFBIG;
	char buf[65536];
	while (!rc) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = errno;
		if (n <= 0)
			break;
		if (out->len + (size_t)n > max)
			rc = EFBIG; /* it grew while we read */
		else
			vbuf_add(out, buf, (size_t)n);
	}
	close(fd);
	return rc;
}
