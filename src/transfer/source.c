/*
 * The source interface (source.h): dispatch and the facts every kind
 * keeps.
 */
#include "transfer/source_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

vsource *vsource_alloc(const vsource_ops *ops, void *impl)
{
	vsource *s = xcalloc(1, sizeof(*s));
	s->ops = ops;
	s->impl = impl;
	s->fd = -1;
	return s;
}

long long vsource_read(vsource *s, void *buf, size_t len, vmie_error *err)
{
	long long n = s->ops->read(s, buf, len, err);
	uint64_t max = atomic_load(&s->limit);
	if (n > 0)
		s->given += (uint64_t)n;
	if (n < 0 || !max || s->given <= max)
		return n;
	verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT, "%s gives more than "
		 "%llu bytes, more than %s allows", s->name ? s->name : "the image",
		 (unsigned long long)max, atomic_load(&s->limit_why));
	verr_hint(err, "AWS imports disk images of less than 16 TiB, and an image "
		  "holds no more than its header declares: this is a "
		  "decompression bomb, a damaged image or the wrong file");
	return -1;
}

void vsource_limit(vsource *s, uint64_t max, const char *why)
{
	atomic_store(&s->limit_why, why);
	atomic_store(&s->limit, max);
}

long long vsource_skip_zeros(vsource *s, uint64_t max, vmie_error *err)
{
	return s->ops->skip_zeros && max ? s->ops->skip_zeros(s, max, err) : 0;
}

uint64_t vsource_size(const vsource *s) { return s->size; }
uint64_t vsource_raw_offset(const vsource *s) { return atomic_load(&s->raw_offset); }
uint64_t vsource_raw_size(const vsource *s) { return s->raw_size; }
const char *vsource_name(const vsource *s) { return s->name; }
vimg_compression vsource_compression(const vsource *s) { return s->compression; }

int vsource_seek(vsource *s, uint64_t offset, vmie_error *err)
{
	if (!s->seek)
		return VSOURCE_NO_SEEK;
	int rc = s->seek(s, offset, err);
	if (rc == 0)
		s->given = offset; /* vsource_limit counts the bytes skipped too */
	return rc;
}

bool vsource_seekable(const vsource *s)
{
	return s->seek && s->seekable;
}

const char *vsource_validator(const vsource *s)
{
	for (; s; s = s->inner)
		if (s->validator)
			return s->validator;
	return NULL;
}

void vsource_set_stop(vsource *s, const atomic_bool *stop)
{
	for (; s; s = s->inner)
		s->stop = stop;
}

void vsource_free(vsource *s)
{
	if (!s)
		return;
	if (s->ops->free)
		s->ops->free(s);
	free(s->name);
	free(s->validator);
	free(s);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

char *vsource_name_from(const char *path, bool url)
{
	const char *end = path + strlen(path);
	if (url) {
		/* The path only: no query, no fragment. */
		const char *q = strpbrk(path, "?#");
		if (q)
			end = q;
	}
	const char *start = end;
	while (start > path && start[-1] != '/')
		start--;
	char *name = xmalloc((size_t)(end - start) + 1);
	size_t n = 0;
	for (const char *p = start; p < end; p++) {
		int c = (unsigned char)*p;
		if (url && c == '%' && p + 2 < end + 0 && hexval(p[1]) >= 0 &&
		    hexval(p[2]) >= 0) {
			c = hexval(p[1]) * 16 + hexval(p[2]);
			p += 2;
		}
		/* A decoded '/' or a control character would make a strange
		 * S3 key and a confusing message. */
		name[n++] = (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) ? '_'
									     : (char)c;
	}
	name[n] = '\0';
	if (!n || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		free(name);
		return xstrdup("image");
	}
	return name;
}
