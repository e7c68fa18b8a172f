#include "base/kv.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void vkv_free(vkv *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->items[i].key);
		free(kv->items[i].value);
	}
	free(kv->items);
	kv->items = NULL;
	kv->n = kv->cap = 0;
}

void vkv_free_secret(vkv *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		xfree_secret(kv->items[i].value);
		kv->items[i].value = NULL;
	}
	vkv_free(kv);
}

void vkv_addn(vkv *kv, const char *key, size_t klen, const char *value,
	      size_t vlen)
{
	void *p = kv->items;
	xgrow(&p, &kv->cap, kv->n + 1, sizeof(vkv_pair));
	kv->items = p;
	kv->items[kv->n].key = xstrndup(key, klen);
	kv->items[kv->n].value = xstrndup(value, vlen);
	kv->n++;
}

void vkv_add(vkv *kv, const char *key, const char *value)
{
	vkv_addn(kv, key, strlen(key), value, strlen(value));
}

void vkv_set(vkv *kv, const char *key, const char *value)
{
	for (size_t i = 0; i < kv->n; i++) {
		if (strcmp(kv->items[i].key, key) == 0) {
			free(kv->items[i].value);
			kv->items[i].value = xstrdup(value);
			return;
		}
	}
	vkv_add(kv, key, value);
}

void vkv_remove_ci(vkv *kv, const char *key)
{
	size_t w = 0;
	for (size_t r = 0; r < kv->n; r++) {
		if (strcasecmp(kv->items[r].key, key) == 0) {
			free(kv->items[r].key);
			free(kv->items[r].value);
			continue;
		}
		kv->items[w++] = kv->items[r];
	}
	kv->n = w;
}

const char *vkv_get(const vkv *kv, const char *key)
{
	for (size_t i = 0; i < kv->n; i++)
		if (strcmp(kv->items[i].key, key) == 0)
			return kv->items[i].value;
	return NULL;
}

const char *vkv_get_ci(const vkv *kv, const char *key)
{
	for (size_t i = 0; i < kv->n; i++)
		if (strcasecmp(kv->items[i].key, key) == 0)
			return kv->items[i].value;
	return NULL;
}

void vkv_copy(vkv *dst, const vkv *src)
{
	for (size_t i = 0; i < src->n; i++)
		vkv_add(dst, src->items[i].key, src->items[i].value);
}
