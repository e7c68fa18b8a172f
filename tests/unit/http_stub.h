/*
 * A tiny HTTP/1.1 server for unit tests: listens on 127.0.0.1 on an
 * ephemeral port in its own thread, answers canned responses chosen by
 * method and path, and records every request for assertions.
 *
 *   http_stub *s = http_stub_start();
 *   http_stub_add(s, "GET", "/creds", 200, "Content-Type: application/json\r\n", "{...}");
 *   ... point the code under test at http_stub_url(s) ...
 *   CHECK_INT(http_stub_count(s, "GET", "/creds"), 1);
 *   http_stub_stop(s);
 *
 * Several responses added for one route are served in order; the last one
 * then repeats.  Unmatched requests get 404 "no stub for METHOD PATH".
 * Each response closes the connection (clients reconnect), which keeps
 * the server single-threaded and simple.  Paths are matched without the
 * query string.
 */
#ifndef VMIE_TEST_HTTP_STUB_H
#define VMIE_TEST_HTTP_STUB_H

#include <stddef.h>

typedef struct http_stub http_stub;

typedef struct http_stub_request {
	char *method;
	char *target;  /* path and query as sent */
	char *headers; /* raw header block, "Name: value\r\n" lines */
	char *body;    /* NUL-terminated copy */
	size_t body_len;
} http_stub_request;

/* NULL if the socket or thread cannot be created. */
http_stub *http_stub_start(void);
void http_stub_stop(http_stub *s); /* joins the thread, frees all */

int http_stub_port(const http_stub *s);
const char *http_stub_url(const http_stub *s); /* "http://127.0.0.1:PORT" */

/* headers: extra "Name: value\r\n" lines, or NULL.  body may be NULL. */
void http_stub_add(http_stub *s, const char *method, const char *path,
		   int status, const char *headers, const char *body);
/* Answer this route only after delay_ms (for timeout tests). */
void http_stub_add_delayed(http_stub *s, const char *method,
			   const char *path, int status, const char *headers,
			   const char *body, int delay_ms);
/* Drop the canned responses and the recorded requests. */
void http_stub_reset(http_stub *s);

/* Requests recorded so far matching method and path (NULL: any). */
size_t http_stub_count(http_stub *s, const char *method, const char *path);
/* A copy of the i-th recorded request (0-based); false when out of range.
 * Free with http_stub_request_free. */
int http_stub_request_get(http_stub *s, size_t i, http_stub_request *out);
void http_stub_request_free(http_stub_request *r);
/* Value of header `name` (case-blind) in a recorded request, malloc'd, or
 * NULL. */
char *http_stub_header(const http_stub_request *r, const char *name);

#endif
