/*
 * A look at a stream's first bytes before deciding what to do with it
 * (send it as it is, or as a VMDK made on the fly): they are read once,
 * kept, and given back first.
 */
#include "transfer/source_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

typedef struct peek_src {
	vsource *inner;
	unsigned char *head;
	size_t len, pos;
} peek_src;

static long long peek_read(vsource *s, void *buf, size_t len, vmie_error *err)
{
	peek_src *p = s->impl;
	if (p->pos < p->len) {
		size_t n = p->len - p->pos < len ? p->len - p->pos : len;
		memcpy(buf, p->head + p->pos, n);
		p->pos += n;
		return (long long)n;
	}
	long long n = vsource_read(p->inner, buf, len, err);
	s->raw_offset = vsource_raw_offset(p->inner);
	return n;
}

static long long peek_skip_zeros(vsource *s, uint64_t max, vmie_error *err)
{
	peek_src *p = s->impl;
	if (p->pos < p->len)
		return 0;
	long long n = vsource_skip_zeros(p->inner, max, err);
	s->raw_offset = vsource_raw_offset(p->inner);
	return n;
}

/* A resumed upload of a file sent as it is: the head is given up, the
 * inner source seeks. */
static int peek_seek(vsource *s, uint64_t offset, vmie_error *err)
{
	peek_src *p = s->impl;
	int rc = vsource_seek(p->inner, offset, err);
	if (rc == 0) {
		p->pos = p->len;
		s->raw_offset = vsource_raw_offset(p->inner);
	}
	return rc;
}

static void peek_free(vsource *s)
{
	peek_src *p = s->impl;
	vsource_free(p->inner);
	free(p->head);
	free(p);
}

static const vsource_ops peek_ops = {peek_read, peek_free, peek_skip_zeros};

int vsource_open_peek(vsource *inner, size_t want, vsource **out,
		      vmie_error *err)
{
	peek_src *p = xcalloc(1, sizeof(*p));
	vsource *s = vsource_alloc(&peek_ops, p);

	*out = NULL;
	p->inner = inner;
	s->inner = inner;
	p->head = xmalloc(want ? want : 1);
	while (p->len < want) {
		long long n = vsource_read(inner, p->head + p->len, want - p->len,
					   err);
		if (n < 0) {
			vsource_free(s);
			return -1;
		}
		if (n == 0)
			break;
		p->len += (size_t)n;
	}
	s->size = inner->size;
	s->raw_size = inner->raw_size;
	s->raw_offset = vsource_raw_offset(inner);
	s->name = xstrdup(inner->name);
	s->compression = inner->compression;
	s->seek = peek_seek;
	s->seekable = vsource_seekable(inner);
	*out = s;
	return 0;
}

const void *vsource_peeked(const vsource *s, size_t *len)
{
	if (s->ops != &peek_ops) {
		*len = 0;
		return NULL;
	}
	const peek_src *p = s->impl;
	*len = p->len;
	return p->head;
}
