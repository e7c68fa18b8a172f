#include "base/buf.h"
#include "base/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vbuf_free(vbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void vbuf_free_secret(vbuf *b)
{
	if (b->data)
		secure_zero(b->data, b->cap);
	vbuf_free(b);
}

void vbuf_reset(vbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void vbuf_grow(vbuf *b, size_t extra)
{
	if (extra > (size_t)-1 - b->len - 1)
		xgrow((void **)&b->data, &b->cap, (size_t)-1, 1); /* dies */
	void *p = b->data;
	xgrow(&p, &b->cap, b->len + extra + 1, 1);
	b->data = p;
}

void vbuf_add(vbuf *b, const void *p, size_t n)
{
	vbuf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void vbuf_adds(vbuf *b, const char *s)
{
	vbuf_add(b, s, strlen(s));
}

void vbuf_addch(vbuf *b, char c)
{
	vbuf_add(b, &c, 1);
}

void vbuf_vaddf(vbuf *b, const char *fmt, va_list ap)
{
	/* Most lines fit on the stack: one formatting pass instead of two. */
	char small[256];
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		vbuf_add(b, small, (size_t)n);
		return;
	}
	vbuf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void vbuf_addf(vbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vbuf_vaddf(b, fmt, ap);
	va_end(ap);
}

void vbuf_addhex(vbuf *b, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	vbuf_grow(b, n * 2);
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = hex[p[i] >> 4];
		b->data[b->len++] = hex[p[i] & 15];
	}
	b->data[b->len] = '\0';
}

const char *vbuf_str(const vbuf *b)
{
	return b->data ? b->data : "";
}

char *vbuf_detach(vbuf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void vbuf_rtrim(vbuf *b)
{
	while (b->len && isspace((unsigned char)b->data[b->len - 1]))
		b->len--;
	if (b->data)
		b->data[b->len] = '\0';
}
