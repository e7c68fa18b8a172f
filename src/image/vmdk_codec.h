/*
 * One VMDK grain in and out of deflate: the zlib streams a
 * streamOptimized VMDK carries after each grain marker.  ISA-L's igzip
 * when the build found it (several times zlib's speed at the cost of a few
 * per cent of size), zlib otherwise.
 *
 * Compression is stateless per grain, so the same grain always gives the
 * same bytes with the same library on the same CPU: a re-created upload
 * part can be checked against the one already sent.
 */
#ifndef VMIE_IMAGE_VMDK_CODEC_H
#define VMIE_IMAGE_VMDK_CODEC_H

#include <stdbool.h>
#include <stddef.h>

/* Room a deflated grain of n bytes may need (stored blocks, zlib header
 * and trailer, with margin). */
#define VMDK_DEFLATE_BOUND(n) ((n) + (n) / 64 + 64)

/* A compressor's working memory; one per thread. */
typedef struct vmdk_deflater vmdk_deflater;

vmdk_deflater *vmdk_deflater_new(void);
void vmdk_deflater_free(vmdk_deflater *d);

/* The zlib stream (header, deflate, Adler-32) of in[0..len) in out, which
 * holds cap >= VMDK_DEFLATE_BOUND(len) bytes.  Returns its length. */
size_t vmdk_deflate(vmdk_deflater *d, const void *in, size_t len, void *out,
		    size_t cap);

/* Inflates the zlib stream at in[0..len) (bytes after its end are
 * ignored) into out[0..cap).  Returns the bytes it decoded, or -1 when the
 * stream is corrupt, fails its Adler-32, is cut short, or decodes to more
 * than cap bytes. */
long long vmdk_inflate(const void *in, size_t len, void *out, size_t cap);

/* Every byte of p[0..len) is zero. */
bool vmdk_all_zero(const void *p, size_t len);

#endif
