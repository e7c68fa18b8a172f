/*
 * Streaming decompression: gzip, xz, bzip2 and zstd behind one interface,
 * for the upload pipeline (decode as the bytes arrive) and for image
 * inspection through a compressed file.  A decoder depends on nothing but
 * the compression libraries and base/.
 *
 * The wrapper is found by magic, never by file name.  Concatenated
 * streams (pigz/pbzip2/pzstd output, `cat a.gz b.gz`) decode as one, as
 * the command-line tools do.
 */
#ifndef VMIE_CODEC_DECODE_H
#define VMIE_CODEC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmie.h" /* vimg_compression (vmie_image.h), vmie_error */

/* The compression the first bytes say (VIMG_COMP_NONE when none); n may be
 * short, up to 6 bytes are looked at. */
vimg_compression vdec_detect(const void *head, size_t n);

typedef struct vdec vdec;

/* threads: xz may decode blocks in parallel (liblzma's multithreaded
 * decoder); 0 or 1 means one thread.  Other formats ignore it. */
vdec *vdec_new(vimg_compression c, unsigned threads);
void vdec_free(vdec *d);

typedef enum vdec_result {
	VDEC_MORE,  /* consumed input and/or filled output; call again */
	VDEC_END,   /* the (last) stream ended; no more output */
	VDEC_ERROR, /* corrupt or truncated data; err says which */
} vdec_result;

/* Decode from *in (*in_len bytes) into *out (*out_len bytes of room);
 * advances the pointers and lengths by what was consumed and produced.
 * in may be empty (at_eof true) to flush.  at_eof says the input has no
 * more bytes: a stream that has not ended then is VDEC_ERROR ("truncated").
 * err gets VMIE_ERR_FILE_DECOMPRESS_FAILED (_GZ_ / _BZ2_ for those). */
vdec_result vdec_run(vdec *d, const unsigned char **in, size_t *in_len,
		     unsigned char **out, size_t *out_len, bool at_eof,
		     vmie_error *err);

/* A compressed file read at random, for vdec_size_hint: read_at returns
 * the bytes read (short at the end), or -1. */
typedef struct vdec_file {
	long long (*read_at)(void *ctx, uint64_t off, void *buf, size_t len);
	void *ctx;
	uint64_t size;
} vdec_file;

/* The decompressed size, read without decompressing where the format
 * allows: the xz index (every stream's), zstd frame headers that carry the
 * content size (every frame's).  gzip's ISIZE is only the size mod 2^32
 * and bzip2 records nothing: false for those, and for any file whose
 * headers do not say. */
bool vdec_size_hint(const vdec_file *f, vimg_compression c, uint64_t *size);

#endif
