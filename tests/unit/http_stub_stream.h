/*
 * A raw-bytes HTTP server for unit tests that need what http_stub cannot
 * give: a response without Content-Length, a body cut off mid-way (a
 * dropped connection), a 206 with the caller's own headers.  Each
 * connection reads one request head, records it, sends the next scripted
 * bytes verbatim and closes.
 *
 *   http_stream_stub *s = http_stream_stub_start();
 *   http_stream_stub_push(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 41);
 *   ... the client sees the body stop after 3 of 10 bytes ...
 *   char *head = http_stream_stub_request(s, 0);
 *   http_stream_stub_stop(s);
 *
 * Scripted answers are served in order; the last one then repeats.
 */
#ifndef VMIE_TEST_HTTP_STUB_STREAM_H
#define VMIE_TEST_HTTP_STUB_STREAM_H

#include <stddef.h>

typedef struct http_stream_stub http_stream_stub;

/* NULL if the socket or thread cannot be created. */
http_stream_stub *http_stream_stub_start(void);
void http_stream_stub_stop(http_stream_stub *s); /* joins, frees all */
const char *http_stream_stub_url(const http_stream_stub *s);

/* The exact bytes (status line, headers, body) of the next answer. */
void http_stream_stub_push(http_stream_stub *s, const void *bytes, size_t n);
/* Forget the scripted answers and recorded requests. */
void http_stream_stub_reset(http_stream_stub *s);

size_t http_stream_stub_count(http_stream_stub *s);
/* The i-th request's head (request line and headers), malloc'd; NULL
 * when out of range. */
char *http_stream_stub_request(http_stream_stub *s, size_t i);

#endif
