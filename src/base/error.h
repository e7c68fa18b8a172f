/*
 * Filling a vmie_error.  Each setter returns the status it recorded so a
 * failure reads as one line:  return verr_set(err, VMIE_ERR_..., "...");
 * err may be NULL (the caller does not want details).
 */
#ifndef VMIE_BASE_ERROR_H
#define VMIE_BASE_ERROR_H

#include "vmie.h"

int verr_set(vmie_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set (replace) the hint; returns err->status (or -20000 when err NULL). */
int verr_hint(vmie_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefix the message with context: "reading ~/.aws/config: <old>". */
void verr_prefix(vmie_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Move src into dst (dst cleared first; src left empty). */
void verr_move(vmie_error *dst, vmie_error *src);

#endif
