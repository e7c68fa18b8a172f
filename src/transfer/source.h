/*
 * Where the bytes of an import come from: a local file or an http(s) URL,
 * read once, front to back.  vsource_open_decoded puts a decoder (found by
 * magic) in front of either, so the pipeline always reads image bytes.
 */
#ifndef VMIE_TRANSFER_SOURCE_H
#define VMIE_TRANSFER_SOURCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h" /* vimg_compression */
#include "vmie.h"

typedef struct vsource vsource;

/* A local file (regular file or block device).  Errors: VMIE_ERR_INVALID_SOURCE. */
int vsource_open_file(const char *path, vsource **out, vmie_error *err);

typedef struct vsource_http_opts {
	const char *ca_bundle;     /* NULL: the system's */
	long connect_timeout_ms;   /* 0: 10 s */
	int max_resumes;           /* dropped connections resumed with Range; 0: 5 */
} vsource_http_opts;

/* An http:// or https:// URL (no other scheme, on redirects either):
 * GET with redirects followed; with or without Content-Length; a dropped
 * connection resumed with a Range request from the byte it stopped at,
 * when the server answers 206 for the same entity (ETag / Last-Modified).
 * TLS is always verified.  The open sends the request and waits for the
 * status line and headers: a 4xx/5xx fails here, with
 * VMIE_ERR_FILE_DOWNLOAD_FAILED. */
int vsource_open_http(const char *url, const vsource_http_opts *o,
		      vsource **out, vmie_error *err);

/* Reads up to len bytes; returns the count, 0 at the end, -1 with err set
 * (VMIE_ERR_FILE_DOWNLOAD_FAILED, VMIE_ERR_FILE_PROCESS_FAILED,
 * VMIE_ERR_FILE_DECOMPRESS_*). */
long long vsource_read(vsource *s, void *buf, size_t len, vmie_error *err);

/* At the source's position, skips up to max bytes that it knows read as
 * zeros without reading them (a hole of a sparse local file), as if they
 * had been read.  Returns the bytes skipped: 0 when there are data here or
 * the source cannot tell (a stream), -1 with err set. */
long long vsource_skip_zeros(vsource *s, uint64_t max, vmie_error *err);

/* Bytes the source will give (decoded bytes for a decoded source), 0 when
 * unknown (no Content-Length, a compressed stream without a size record). */
uint64_t vsource_size(const vsource *s);
/* Bytes consumed from the underlying file or connection so far: the
 * progress of a compressed source, whose decoded size is unknown. */
uint64_t vsource_raw_offset(const vsource *s);
uint64_t vsource_raw_size(const vsource *s); /* 0: unknown */
/* The file name the source carries (last path segment of the file or of
 * the URL's path after redirects, percent-decoded, never empty: "image"
 * when there is none), minus the compression suffix for a decoded
 * source ("disk.raw.xz" -> "disk.raw"). */
const char *vsource_name(const vsource *s);
vimg_compression vsource_compression(const vsource *s);

/* Wraps raw (taking ownership, also on failure): peeks at its first bytes,
 * and when they are gzip/xz/bzip2/zstd decodes through transfer/decode.h
 * (xz with `threads` decoder threads); otherwise returns raw's bytes
 * unchanged. */
int vsource_open_decoded(vsource *raw, unsigned threads, vsource **out,
			 vmie_error *err);

/* Positions the source at byte `offset` of what it reads, for an upload
 * that resumes: a local file seeks; an http source asks again with Range
 * and If-Range naming the entity of its first answer (a server that then
 * sends another entity fails with VMIE_ERR_FILE_DOWNLOAD_FAILED: the
 * file changed); a decoded source that passes bytes through seeks what it
 * reads.  VSOURCE_NO_SEEK when this source cannot (a compressed stream, a
 * server without ranges or validator): read it from the start instead.
 * Call before the first read, or after reading only the head. */
#define VSOURCE_NO_SEEK 1
int vsource_seek(vsource *s, uint64_t offset, vmie_error *err);
/* Would vsource_seek work (without trying it)? */
bool vsource_seekable(const vsource *s);

/* What names the bytes of an http source: its strong ETag, else its
 * Last-Modified (NULL for a file, or a server that gives neither).  A
 * decoded source answers for the one it reads. */
const char *vsource_validator(const vsource *s);
/* Wraps inner (taking ownership, also on failure) and gives its first
 * `want` bytes back first, after reading them at once: a look at the head
 * of a stream (its format) before deciding what to do with it. */
int vsource_open_peek(vsource *inner, size_t want, vsource **out,
		      vmie_error *err);
/* The bytes a peek source read at its open (NULL for another kind). */
const void *vsource_peeked(const vsource *s, size_t *len);

/* The disk inside a local image file of `format` (VHD, VHDX, VMDK), read
 * front to back through the image's tables: what the guest sees.
 * VMIE_ERR_FILE_UNSUPPORTED_FORMAT when vmie cannot read it that way (a
 * differencing disk, a missing extent). */
int vsource_open_image(const char *path, vimg_format format, vsource **out,
		       vmie_error *err);

/* Wraps inner (taking ownership, also on failure), a disk of a known size
 * (vsource_size), and gives it as a streamOptimized VMDK whose descriptor
 * names the file `name` (source_vmdk.c); `threads` compress (0: 2).  The
 * VMDK's size is not known before its end (vsource_size 0); its progress
 * is inner's. */
int vsource_open_vmdk(vsource *inner, const char *name, unsigned threads,
		      vsource **out, vmie_error *err);
/* What a VMDK source has read of its disk's first VSNIFF_HEAD bytes (the
 * guest's partition table, for the checks on the head); NULL for another
 * kind. */
const void *vsource_vmdk_head(const vsource *s, size_t *len);
/* The disk's size a VMDK source carries; 0 for another kind. */
uint64_t vsource_vmdk_disk_size(const vsource *s);
/* The most bytes the source may give (0: no limit); why (static text)
 * names whose limit it is.  A read past it fails with
 * VMIE_ERR_FILE_UNSUPPORTED_FORMAT, so an image bigger than AWS imports (a
 * decompression bomb among them) stops instead of streaming on.
 * vsource_open_decoded sets AWS's image size limit; an import lowers it to
 * what the image's head declares.  Safe from another thread than the
 * reader's. */
void vsource_limit(vsource *s, uint64_t max, const char *why);

/* A flag another thread sets to stop the reader: a read waiting on the
 * network returns -1 with VMIE_ERR_INTERRUPTED within a second of it
 * (a local file's reads never wait that long).  Also set on the source
 * a decoded one reads. */
void vsource_set_stop(vsource *s, const atomic_bool *stop);

void vsource_free(vsource *s);

#endif
