/*
 * One codec behind vdec: its state and three operations.  Shared by
 * decode.c (the dispatch) and decode_<codec>.c; nothing else includes it.
 */
#ifndef VMIE_CODEC_DECODE_INTERNAL_H
#define VMIE_CODEC_DECODE_INTERNAL_H

#include "codec/decode.h"

typedef struct vdec_codec {
	const char *name;
	int error_status; /* VMIE_ERR_FILE_DECOMPRESS_*_FAILED */
	/* 0, or -1 when the library cannot be set up */
	int (*init)(vdec *d, unsigned threads);
	/* Consume from *in, produce into *out (pointers and lengths advance).
	 * Sets d->ended when the current stream or frame is complete (more
	 * may follow: concatenation).  Returns 0, or -1 with d->why set. */
	int (*step)(vdec *d, const unsigned char **in, size_t *in_len,
		    unsigned char **out, size_t *out_len, bool at_eof);
	void (*end)(vdec *d);
} vdec_codec;

struct vdec {
	const vdec_codec *codec;
	void *state;      /* the library's stream */
	bool ended;       /* the last stream or frame is complete */
	bool started;     /* any input seen since the last end */
	const char *why;  /* the library's reason for -1 */
	unsigned threads;
	unsigned stalls;  /* calls in a row that moved nothing */
};

extern const vdec_codec vdec_gzip, vdec_xz, vdec_bzip2, vdec_zstd;

#endif
