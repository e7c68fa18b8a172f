/*
 * The canonical request's pieces, for the signer (sigv4.c); nothing
 * outside src/aws/sigv4*.c includes this.
 */
#ifndef VMIE_AWS_SIGV4_CANON_H
#define VMIE_AWS_SIGV4_CANON_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/sigv4.h"
#include "base/buf.h"
#include "base/kv.h"

typedef struct vsigv4_qparam {
	char *key; /* encoded */
	char *value;
} vsigv4_qparam;

typedef struct vsigv4_qlist {
	vsigv4_qparam *items;
	size_t n, cap;
} vsigv4_qlist;

/*
 * RFC 3986 encoding of s[0..n): unreserved bytes stay, the rest become
 * %XX.  keep_slash keeps '/' (paths); keep_escapes keeps well-formed %XX
 * sequences as they are (S3 paths, already encoded by the caller).
 */
void vsigv4_uri_encode(vbuf *out, const char *s, size_t n, bool keep_slash,
		       bool keep_escapes);

/* The path as signed: normalized and encoded as p asks. */
void vsigv4_canonical_path(vbuf *out, const vsigv4_params *p,
			   const char *path);

/* Add k=v, both encoded. */
void vsigv4_qlist_add(vsigv4_qlist *q, const char *k, const char *v);
/* Values may hold the session token: wiped. */
void vsigv4_qlist_free(vsigv4_qlist *q);

/* Split a raw query on '&', decode and re-encode each pair into q.
 * drop_auth drops the signer's own X-Amz-* parameters (presigning). */
void vsigv4_parse_query(vsigv4_qlist *q, const char *query, bool drop_auth);

/* Sort q and join it as "k=v&k=v". */
void vsigv4_canonical_query(vbuf *out, vsigv4_qlist *q);

/*
 * canon gets "name:value\n" lines, names gets "a;b;c".  Duplicate names
 * become one line whose values are joined with ',' in request order.
 * Headers a transport may rewrite are left out, and so is
 * X-Amz-Security-Token when skip_token.
 */
void vsigv4_canonical_headers(vbuf *canon, vbuf *names, const vkv *headers,
			      bool skip_token);

#endif
