/*
 * vbuf: a growable byte buffer that is always NUL-terminated (git's strbuf).
 * A zeroed vbuf is valid and empty.
 */
#ifndef VMIE_BASE_BUF_H
#define VMIE_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct vbuf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
} vbuf;

#define VBUF_INIT { NULL, 0, 0 }

void vbuf_free(vbuf *b);        /* release memory; b is empty again */
void vbuf_free_secret(vbuf *b); /* same, zeroing the bytes first */
void vbuf_reset(vbuf *b);       /* len = 0, keep the memory */
void vbuf_grow(vbuf *b, size_t extra);
void vbuf_add(vbuf *b, const void *p, size_t n);
void vbuf_adds(vbuf *b, const char *s);
void vbuf_addch(vbuf *b, char c);
void vbuf_addf(vbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vbuf_vaddf(vbuf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Lowercase hex of n bytes. */
void vbuf_addhex(vbuf *b, const unsigned char *p, size_t n);
const char *vbuf_str(const vbuf *b); /* "" when empty, never NULL */
char *vbuf_detach(vbuf *b);          /* caller frees; b is empty again */
void vbuf_rtrim(vbuf *b);            /* drop trailing whitespace */

#endif
