/* Signed headers for libcurl (curl_headers.h). */
#include "transfer/curl_headers.h"

#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"

struct curl_slist *vxfer_curl_headers(const vkv *h, const char *const *blank)
{
	struct curl_slist *l = NULL;
	vbuf line = VBUF_INIT;
	for (size_t i = 0; i < h->n; i++) {
		vbuf_reset(&line);
		vbuf_addf(&line, "%s: %s", h->items[i].key, h->items[i].value);
		l = curl_slist_append(l, vbuf_str(&line));
	}
	for (size_t i = 0; blank && blank[i]; i++) {
		vbuf_reset(&line);
		vbuf_addf(&line, "%s:", blank[i]);
		l = curl_slist_append(l, vbuf_str(&line));
	}
	secure_zero(line.data, line.cap);
	vbuf_free(&line);
	return l;
}

void vxfer_curl_headers_free(struct curl_slist *l)
{
	for (struct curl_slist *e = l; e; e = e->next)
		secure_zero(e->data, strlen(e->data));
	curl_slist_free_all(l);
}
