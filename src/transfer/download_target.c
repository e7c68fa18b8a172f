/*
 * The download's target: a regular file (holes where the object is zero)
 * or a block device (its size from BLKGETSIZE64), written with pwrite at
 * each chunk's offset.  Zero detection works on filesystem-block units so
 * that a skipped block is a real hole.
 */
#include "transfer/download_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

bool vdl_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (!len)
		return true;
	/* p[0] is zero and every byte equals the one before it. */
	return p[0] == 0 && memcmp(p, p + 1, len - 1) == 0;
}

char *vdl_state_path(const char *path, bool device)
{
	vbuf b = VBUF_INIT;
	if (!device) {
		vbuf_addf(&b, "%s.vmie-download", path);
		return vbuf_detach(&b);
	}
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg)
		vbuf_addf(&b, "%s/vmie/", xdg);
	else
		vbuf_addf(&b, "%s/.local/state/vmie/", home && *home ? home : "/tmp");
	/* /dev/sdb -> dev_sdb.vmie-download */
	const char *s = path[0] == '/' ? path + 1 : path;
	for (; *s; s++)
		vbuf_addch(&b, *s == '/' ? '_' : *s);
	vbuf_adds(&b, ".vmie-download");
	return vbuf_detach(&b);
}

static int refuse(const char *path, const char *why, const char *hint,
		  vmie_error *err)
{
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s: %s", path, why);
	return verr_hint(err, "%s", hint);
}

int vdl_target_open(const char *path, uint64_t size, const char *what,
		    vdl_target *t, vmie_error *err)
{
	struct stat st;
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return refuse(path, "is a directory",
			      "give the path of a file or a block device", err);
	t->created = access(path, F_OK) != 0;
	/* 0600: a disk image holds the guest's secrets (shadow hashes,
	 * host keys); the user widens it when they mean to share it.
	 * O_NOFOLLOW: a file is never written through a symbolic link
	 * (someone else's link could aim the image at any file we may
	 * write).  A block device is commonly reached through one
	 * (/dev/mapper/..., /dev/disk/by-id/...): a link is followed only to
	 * a device, and then never creates anything. */
	t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool linked = t->fd < 0 && errno == ELOOP;
	if (linked)
		t->fd = open(path, O_RDWR | O_CLOEXEC);
	if (t->fd < 0 || fstat(t->fd, &st) != 0) {
		int e = errno;
		if (t->fd >= 0)
			vdl_target_close(t);
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "cannot open %s: %s",
			 path, strerror(e));
		return verr_hint(err, linked ? "it is a symbolic link to nothing "
					       "vmie may open: give the real path"
					     : "check the path and its permissions");
	}
	t->device = S_ISBLK(st.st_mode);
	if (linked && !t->device) {
		vdl_target_close(t);
		return refuse(path, "is a symbolic link, and vmie writes a file "
			      "only at its real path", "give the path the link "
			      "points to (readlink -f), or remove the link", err);
	}
	if (!t->device && !S_ISREG(st.st_mode)) {
		vdl_target_close(t);
		return refuse(path, "is neither a regular file nor a block device",
			      "give the path of a file or a block device", err);
	}
	/* An existing file (replaced with --overwrite, or an earlier
	 * download) gets the same 0600 as a new one. */
	if (!t->device && (st.st_mode & 077) && fchmod(t->fd, 0600) != 0) {
		int e = errno;
		vdl_target_close(t);
		verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "cannot make %s private "
			 "(mode 0600): %s", path, strerror(e));
		return verr_hint(err, "download to a file you own");
	}
	if (t->device) {
		uint64_t bytes = 0;
		if (ioctl(t->fd, BLKGETSIZE64, &bytes) != 0)
			bytes = 0;
		t->dev_size = bytes;
		t->id_dev = st.st_rdev;
		t->id_ino = 0;
		if (bytes < size) {
			vdl_target_close(t);
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "%s: the device (%" PRIu64 " bytes) is smaller "
				 "than %s (%" PRIu64 " bytes)",
				 path, bytes, what, size);
			return verr_hint(err, "use a device of at least %" PRIu64
					      " bytes",
					 size);
		}
	} else {
		t->id_dev = st.st_dev;
		t->id_ino = st.st_ino;
	}
	t->state_path = vdl_state_path(path, t->device);
	return 0;
}

int vdl_target_reset(vdl_target *t, const char *path, uint64_t size,
		     vmie_error *err)
{
	if (t->device)
		return 0;
	if (ftruncate(t->fd, 0) != 0 || ftruncate(t->fd, (off_t)size) != 0) {
		int e = errno;
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "cannot size %s to %" PRIu64 " bytes: %s", path, size,
			 strerror(e));
		return verr_hint(err, "check the free space and the "
				      "filesystem's file size limit");
	}
	return 0;
}

bool vdl_target_punch(vdl_target *t, uint64_t off, uint64_t len)
{
	if (t->device)
		return false;
	return fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)off, (off_t)len) == 0;
}

static int write_all(int fd, const unsigned char *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int vdl_target_write(vdl_target *t, const void *buf, size_t len, uint64_t off,
		     bool skip_zero, uint64_t *skipped)
{
	const unsigned char *p = buf;
	if (!skip_zero)
		return write_all(t->fd, p, len, off);
	/* Runs of non-zero blocks are written in one call each; blocks end
	 * at VDL_ZERO_BLOCK boundaries of the target. */
	size_t run = 0, i = 0;
	while (i < len) {
		uint64_t abs = off + i;
		size_t n = VDL_ZERO_BLOCK - (size_t)(abs % VDL_ZERO_BLOCK);
		if (n > len - i)
			n = len - i;
		if (vdl_is_zero(p + i, n)) {
			if (i > run) {
				int e = write_all(t->fd, p + run, i - run,
						  off + run);
				if (e)
					return e;
			}
			*skipped += n;
			run = i + n;
		}
		i += n;
	}
	return len > run ? write_all(t->fd, p + run, len - run, off + run) : 0;
}

void vdl_target_close(vdl_target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	free(t->state_path);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}
