#include "http_stub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)
#define MAX_BODY (4 * 1024 * 1024)

typedef struct route {
	char *method, *path, *headers, *body;
	int status;
	int delay_ms;
	bool served;
} route;

struct http_stub {
	int fd;
	int port;
	char url[64];
	pthread_t thread;
	pthread_mutex_t lock;
	bool stop;
	route *routes;
	size_t nroutes;
	http_stub_request *reqs;
	size_t nreqs;
};

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		abort();
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *dup_s(const char *s)
{
	return s ? dup_n(s, strlen(s)) : NULL;
}

static bool path_eq(const char *target, const char *path)
{
	size_t n = strcspn(target, "?");
	return strlen(path) == n && strncmp(target, path, n) == 0;
}

/* The route for a request: the first not yet served, else the last. */
static route *pick(http_stub *s, const char *method, const char *target)
{
	route *last = NULL;
	for (size_t i = 0; i < s->nroutes; i++) {
		route *r = &s->routes[i];
		if (strcmp(r->method, method) != 0 || !path_eq(target, r->path))
			continue;
		if (!r->served)
			return r;
		last = r;
	}
	return last;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void serve(http_stub *s, int fd)
{
	char *buf = malloc(MAX_HEAD + 1);
	size_t len = 0;
	char *end = NULL;
	if (!buf)
		abort();
	while (!end) {
		if (len >= MAX_HEAD)
			goto out;
		ssize_t n = recv(fd, buf + len, MAX_HEAD - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	size_t head_len = (size_t)(end - buf) + 4;
	char method[16] = "", target[2048] = "";
	if (sscanf(buf, "%15s %2047s", method, target) != 2)
		goto out;
	char *hdrs_start = strstr(buf, "\r\n") + 2;
	char *headers = dup_n(hdrs_start, (size_t)(end + 2 - hdrs_start));
	size_t clen = 0;
	bool expect = false;
	for (char *l = headers; *l;) {
		char *eol = strstr(l, "\r\n");
		if (!eol)
			break;
		if (!strncasecmp(l, "Content-Length:", 15))
			clen = strtoul(l + 15, NULL, 10);
		if (!strncasecmp(l, "Expect:", 7))
			expect = true;
		l = eol + 2;
	}
	if (clen > MAX_BODY) {
		free(headers);
		goto out;
	}
	if (expect)
		send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	char *body = malloc(clen + 1);
	if (!body)
		abort();
	size_t have = len - head_len < clen ? len - head_len : clen;
	memcpy(body, buf + head_len, have);
	while (have < clen) {
		ssize_t n = recv(fd, body + have, clen - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	body[have] = '\0';

	pthread_mutex_lock(&s->lock);
	http_stub_request *nr = realloc(s->reqs, (s->nreqs + 1) * sizeof(*nr));
	if (!nr)
		abort();
	s->reqs = nr;
	s->reqs[s->nreqs++] = (http_stub_request){
		dup_s(method), dup_s(target), headers, body, have};
	route *r = pick(s, method, target);
	int status = 404, delay = 0;
	char *rh = NULL, *rb = NULL;
	if (r) {
		r->served = true;
		status = r->status;
		delay = r->delay_ms;
		rh = dup_s(r->headers);
		rb = dup_s(r->body);
	} else {
		char msg[2100];
		snprintf(msg, sizeof msg, "no stub for %s %s", method, target);
		rb = dup_s(msg);
	}
	pthread_mutex_unlock(&s->lock);

	if (delay > 0)
		poll(NULL, 0, delay);
	char head[512];
	size_t blen = rb ? strlen(rb) : 0;
	/* A canned HEAD answer may say the length of a body it does not
	 * send: then that Content-Length is the one. */
	bool own_length = rh && strcasestr(rh, "Content-Length:");
	int hn = own_length
			 ? snprintf(head, sizeof head,
				    "HTTP/1.1 %d Stub\r\nConnection: close\r\n",
				    status)
			 : snprintf(head, sizeof head,
				    "HTTP/1.1 %d Stub\r\nContent-Length: %zu\r\n"
				    "Connection: close\r\n",
				    status, blen);
	send_all(fd, head, (size_t)hn);
	if (rh)
		send_all(fd, rh, strlen(rh));
	send_all(fd, "\r\n", 2);
	if (strcmp(method, "HEAD") != 0 && rb)
		send_all(fd, rb, blen);
	free(rh);
	free(rb);
out:
	free(buf);
}

static void *loop(void *arg)
{
	http_stub *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		bool stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		struct pollfd pf = {s->fd, POLLIN, 0};
		if (poll(&pf, 1, 50) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve(s, c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

http_stub *http_stub_start(void)
{
	http_stub *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(s->fd, 16) != 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
		goto fail;
	s->port = ntohs(a.sin_port);
	snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
	pthread_mutex_init(&s->lock, NULL);
	if (pthread_create(&s->thread, NULL, loop, s) != 0) {
		pthread_mutex_destroy(&s->lock);
		goto fail;
	}
	return s;
fail:
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

void http_stub_reset(http_stub *s)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nroutes; i++) {
		free(s->routes[i].method);
		free(s->routes[i].path);
		free(s->routes[i].headers);
		free(s->routes[i].body);
	}
	free(s->routes);
	s->routes = NULL;
	s->nroutes = 0;
	for (size_t i = 0; i < s->nreqs; i++)
		http_stub_request_free(&s->reqs[i]);
	free(s->reqs);
	s->reqs = NULL;
	s->nreqs = 0;
	pthread_mutex_unlock(&s->lock);
}

void http_stub_stop(http_stub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->fd);
	http_stub_reset(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int http_stub_port(const http_stub *s)
{
	return s->port;
}

const char *http_stub_url(const http_stub *s)
{
	return s->url;
}

void http_stub_add_delayed(http_stub *s, const char *method,
			   const char *path, int status, const char *headers,
			   const char *body, int delay_ms)
{
	pthread_mutex_lock(&s->lock);
	route *nr = realloc(s->routes, (s->nroutes + 1) * sizeof(*nr));
	if (!nr)
		abort();
	s->routes = nr;
	s->routes[s->nroutes++] = (route){dup_s(method), dup_s(path),
					  dup_s(headers), dup_s(body), status,
					  delay_ms, false};
	pthread_mutex_unlock(&s->lock);
}

void http_stub_add(http_stub *s, const char *method, const char *path,
		   int status, const char *headers, const char *body)
{
	http_stub_add_delayed(s, method, path, status, headers, body, 0);
}

size_t http_stub_count(http_stub *s, const char *method, const char *path)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nreqs; i++)
		if ((!method || !strcmp(s->reqs[i].method, method)) &&
		    (!path || path_eq(s->reqs[i].target, path)))
			n++;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int http_stub_request_get(http_stub *s, size_t i, http_stub_request *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	int ok = i < s->nreqs;
	if (ok) {
		const http_stub_request *r = &s->reqs[i];
		out->method = dup_s(r->method);
		out->target = dup_s(r->target);
		out->headers = dup_s(r->headers);
		out->body = dup_n(r->body, r->body_len);
		out->body_len = r->body_len;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void http_stub_request_free(http_stub_request *r)
{
	free(r->method);
	free(r->target);
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

char *http_stub_header(const http_stub_request *r, const char *name)
{
	size_t n = strlen(name);
	for (const char *l = r->headers; l && *l;) {
		const char *eol = strstr(l, "\r\n");
		if (!eol)
			break;
		if (!strncasecmp(l, name, n) && l[n] == ':') {
			const char *v = l + n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			return dup_n(v, (size_t)(eol - v));
		}
		l = eol + 2;
	}
	return NULL;
}
