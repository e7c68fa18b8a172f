/*
 * A signed request's headers as libcurl takes them, for the engines that
 * drive libcurl themselves (upload_part.c, download_get.c).  The list
 * holds the signature and maybe a session token: it is wiped when freed.
 */
#ifndef VMIE_TRANSFER_CURL_HEADERS_H
#define VMIE_TRANSFER_CURL_HEADERS_H

#include <curl/curl.h>

#include "base/kv.h"

/* "Name: value" for each of h, then "Name:" for each of the NULL-ended
 * `blank` list: headers curl would otherwise add by itself, unsigned
 * (Accept; Content-Type and Expect for bodies). */
struct curl_slist *vxfer_curl_headers(const vkv *h, const char *const *blank);
void vxfer_curl_headers_free(struct curl_slist *l);

#endif
