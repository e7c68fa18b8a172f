/*
 * vhttp: one HTTP client over libcurl.  It keeps one easy handle so
 * connections (and TLS sessions) are reused between requests; TLS peer and
 * host verification are always on.  It knows nothing about AWS: signing,
 * retries and error parsing live above it (client.c, retry.c, error.c).
 */
#ifndef VMIE_AWS_HTTP_H
#define VMIE_AWS_HTTP_H

#include "base/buf.h"
#include "base/kv.h"
#include "vmie.h"

typedef struct vhttp vhttp;

typedef struct vhttp_opts {
	const char *ca_bundle;     /* AWS_CA_BUNDLE / ca_bundle; NULL: system */
	long connect_timeout_ms;   /* 0: 10 s */
	long low_speed_time_s;     /* abort below 1 byte/s for this long; 0: 60 */
} vhttp_opts;

typedef struct vhttp_request {
	const char *method;      /* "GET", "PUT", "POST", "HEAD", "DELETE" */
	const char *url;         /* absolute, already percent-encoded */
	const vkv *headers;      /* sent as given; may be NULL */
	const void *body;        /* may be NULL */
	size_t body_len;
	long timeout_ms;         /* whole request; 0: none (low-speed applies) */
} vhttp_request;

/* Why a request produced no HTTP response. */
typedef enum vhttp_transport {
	VHTTP_OK = 0,        /* a response arrived (any status) */
	VHTTP_CONNECT,       /* DNS, refused, unreachable */
	VHTTP_TIMEOUT,       /* connect or read timeout, too slow */
	VHTTP_TLS,           /* certificate or handshake failure: never retried */
	VHTTP_IO,            /* connection reset or closed mid-response */
	VHTTP_OTHER,
} vhttp_transport;

typedef struct vhttp_response {
	long status;             /* 0 when transport != VHTTP_OK */
	vkv headers;             /* names as received; use vkv_get_ci */
	vbuf body;
	vhttp_transport transport;
	char *transport_error;   /* curl's words when transport != VHTTP_OK */
} vhttp_response;

vhttp *vhttp_new(const vhttp_opts *opts);
void vhttp_free(vhttp *h);

/* Returns 0 when a response arrived (whatever its status) and -1 on a
 * transport failure (rs->transport says which).  rs is reset first. */
int vhttp_send(vhttp *h, const vhttp_request *rq, vhttp_response *rs);
void vhttp_response_free(vhttp_response *rs);

/* For code that drives libcurl itself (the upload engine's multi handle):
 * the header callback that fills rs->headers (ctx = the vhttp_response),
 * and a CURLcode in vhttp's terms, for the retry policy. */
size_t vhttp_header_cb(char *p, size_t size, size_t n, void *ctx);
/* What every request of vmie's sets on a (reset) easy handle: the URL,
 * http(s) only, TLS verified (ca_bundle: NULL for the system's), the
 * connect timeout, the low-speed abort, the user agent, errbuf, and the
 * answer's headers into rs.  The caller adds the body and the sink. */
void vhttp_easy_defaults(void *easy, const char *url, const char *ca_bundle,
			 long connect_timeout_ms, long low_speed_time_s,
			 char *errbuf, vhttp_response *rs);
vhttp_transport vhttp_classify(int curl_code);
/* The words for a transfer that got no answer (malloc'd): curl's, with
 * "(connection refused)" when the OS said so and curl did not. */
char *vhttp_transport_words(void *easy, int curl_code, const char *errbuf);

/* RFC 3986 percent-encoding of everything but unreserved characters
 * (A-Z a-z 0-9 - _ . ~); keep_slash leaves '/' as is (URI paths). */
void vhttp_uri_encode(vbuf *out, const char *s, size_t n, int keep_slash);

#endif
