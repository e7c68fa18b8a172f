#include "http_stub_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)

typedef struct answer {
	unsigned char *bytes;
	size_t len;
} answer;

struct http_stream_stub {
	int fd;
	char url[64];
	pthread_t thread;
	pthread_mutex_t lock;
	bool stop;
	answer *answers;
	size_t nanswers, next;
	char **reqs;
	size_t nreqs;
};

static void *xmem(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static void send_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the client went away: fine for a test */
		p += w;
		n -= (size_t)w;
	}
}

static void serve(http_stream_stub *s, int fd)
{
	char *buf = xmem(MAX_HEAD + 1);
	size_t len = 0;
	char *end = NULL;
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
	end[2] = '\0';

	pthread_mutex_lock(&s->lock);
	char **nr = realloc(s->reqs, (s->nreqs + 1) * sizeof(*nr));
	if (!nr)
		abort();
	s->reqs = nr;
	s->reqs[s->nreqs++] = strdup(buf);
	answer a = {NULL, 0};
	if (s->nanswers) {
		answer *src = &s->answers[s->next < s->nanswers ? s->next : s->nanswers - 1];
		a.bytes = xmem(src->len);
		memcpy(a.bytes, src->bytes, src->len);
		a.len = src->len;
		if (s->next < s->nanswers)
			s->next++;
	}
	pthread_mutex_unlock(&s->lock);
	send_all(fd, a.bytes, a.len);
	free(a.bytes);
out:
	free(buf);
}

static void *loop(void *arg)
{
	http_stream_stub *s = arg;
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

http_stream_stub *http_stream_stub_start(void)
{
	http_stream_stub *s = calloc(1, sizeof(*s));
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
	snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", ntohs(a.sin_port));
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

void http_stream_stub_reset(http_stream_stub *s)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nanswers; i++)
		free(s->answers[i].bytes);
	free(s->answers);
	s->answers = NULL;
	s->nanswers = s->next = 0;
	for (size_t i = 0; i < s->nreqs; i++)
		free(s->reqs[i]);
	free(s->reqs);
	s->reqs = NULL;
	s->nreqs = 0;
	pthread_mutex_unlock(&s->lock);
}

void http_stream_stub_stop(http_stream_stub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->fd);
	http_stream_stub_reset(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const char *http_stream_stub_url(const http_stream_stub *s)
{
	return s->url;
}

void http_stream_stub_push(http_stream_stub *s, const void *bytes, size_t n)
{
	unsigned char *copy = xmem(n);
	memcpy(copy, bytes, n);
	pthread_mutex_lock(&s->lock);
	answer *na = realloc(s->answers, (s->nanswers + 1) * sizeof(*na));
	if (!na)
		abort();
	s->answers = na;
	s->answers[s->nanswers++] = (answer){copy, n};
	pthread_mutex_unlock(&s->lock);
}

size_t http_stream_stub_count(http_stream_stub *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->nreqs;
	pthread_mutex_unlock(&s->lock);
	return n;
}

char *http_stream_stub_request(http_stream_stub *s, size_t i)
{
	pthread_mutex_lock(&s->lock);
	char *r = i < s->nreqs ? strdup(s->reqs[i]) : NULL;
	pthread_mutex_unlock(&s->lock);
	return r;
}
