/*
 * Allocation that cannot fail.  Like git's xmalloc: running out of memory
 * while moving a disk image is not a condition any caller can repair, so we
 * report it once and abort instead of threading ENOMEM through every path.
 */
#ifndef VMIE_BASE_XALLOC_H
#define VMIE_BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);          /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
/* Grow *array (of *cap elements of elem_size) so it holds at least want. */
void xgrow(void **array, size_t *cap, size_t want, size_t elem_size);

/* Overwrite then free a secret (credentials, signing keys). */
void xfree_secret(char *s);
void secure_zero(void *p, size_t n);

#endif
