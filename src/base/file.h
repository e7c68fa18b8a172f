/*
 * Small files that hold state: read whole (bounded), written atomically
 * (a temporary file, fsync, rename), so that a crash or a full disk leaves
 * the old file or the new one, never half of one.
 */
#ifndef VMIE_BASE_FILE_H
#define VMIE_BASE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/buf.h"

/* mkdir -p; what it creates gets mode.  0, or an errno value. */
int vfile_mkdirs(const char *dir, mode_t mode);
/* Replace path with data, mode for a new file.  0, or an errno value. */
int vfile_write_atomic(const char *path, const void *data, size_t len,
		       mode_t mode);
/* The whole file into out (appended) when it is a regular file of at most
 * max bytes.  0, or an errno value (EFBIG when larger). */
int vfile_read(const char *path, size_t max, vbuf *out);

#endif
