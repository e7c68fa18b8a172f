/*
 * What every kind of source shares (source.h): a small table of
 * operations and the facts the pipeline asks about.  Shared by
 * source*.c only.
 */
#ifndef VMIE_TRANSFER_SOURCE_INTERNAL_H
#define VMIE_TRANSFER_SOURCE_INTERNAL_H

#include <stdatomic.h>

#include "transfer/source.h"

typedef struct vsource_ops {
	long long (*read)(vsource *s, void *buf, size_t len, vmie_error *err);
	void (*free)(vsource *s); /* the kind's own state (s->impl) */
	/* vsource_skip_zeros; NULL: the kind cannot tell (never skips). */
	long long (*skip_zeros)(vsource *s, uint64_t max, vmie_error *err);
} vsource_ops;

struct vsource {
	const vsource_ops *ops;
	void *impl;
	uint64_t size;        /* bytes read() will give; 0: unknown */
	/* Bytes taken from the file or connection; written by the thread
	 * that reads, read by the one that reports progress. */
	_Atomic uint64_t raw_offset;
	uint64_t raw_size;    /* 0: unknown */
	char *name;
	vimg_compression compression;
	/* A local file's descriptor, which the decoded source may read at
	 * random for a size record (the xz index); -1 for a stream. */
	int fd;
	/* Set by another thread to stop: a read blocked on the network
	 * returns -1 (VMIE_ERR_INTERRUPTED) within a second.  NULL: none. */
	const atomic_bool *stop;
	vsource *inner;       /* the source a decoded one reads; NULL */
	/* vsource_seek for the kinds that can (NULL: VSOURCE_NO_SEEK). */
	int (*seek)(vsource *s, uint64_t offset, vmie_error *err);
	bool seekable;        /* seek would work */
	char *validator;      /* vsource_validator's answer; NULL */
	/* vsource_limit: the most bytes vsource_read may give (0: none), set
	 * from another thread; `given` is the reader's own count. */
	_Atomic uint64_t limit;
	_Atomic(const char *) limit_why;
	uint64_t given;
};

vsource *vsource_alloc(const vsource_ops *ops, void *impl);
/* The last segment of a path, percent-decoded when `url`, with '/' and
 * control characters made safe; "image" when nothing is left. */
char *vsource_name_from(const char *path, bool url);

#endif
