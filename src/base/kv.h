/*
 * vkv: an ordered list of key/value strings.  Used for HTTP headers, query
 * parameters and config-file sections; lists here are short, so lookups are
 * linear scans.  A zeroed vkv is valid and empty.
 */
#ifndef VMIE_BASE_KV_H
#define VMIE_BASE_KV_H

#include <stddef.h>

typedef struct vkv_pair {
	char *key;
	char *value;
} vkv_pair;

typedef struct vkv {
	vkv_pair *items;
	size_t n;
	size_t cap;
} vkv;

#define VKV_INIT { NULL, 0, 0 }

void vkv_free(vkv *kv);
void vkv_free_secret(vkv *kv); /* zero values first (credentials files) */
void vkv_add(vkv *kv, const char *key, const char *value);
void vkv_addn(vkv *kv, const char *key, size_t klen, const char *value,
	      size_t vlen);
/* Replace the value of the first pair whose key matches exactly, or add. */
void vkv_set(vkv *kv, const char *key, const char *value);
/* Remove every pair whose key matches case-insensitively. */
void vkv_remove_ci(vkv *kv, const char *key);
const char *vkv_get(const vkv *kv, const char *key);    /* exact key */
const char *vkv_get_ci(const vkv *kv, const char *key); /* ASCII case-blind */
void vkv_copy(vkv *dst, const vkv *src);                /* append all */

#endif
