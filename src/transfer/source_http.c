/*
 * An http(s) URL read as a stream: libcurl's multi interface drives one
 * transfer whose body lands in a small ring; vsource_read drains it, and
 * curl is paused while the ring is full, so memory stays a few MiB
 * whatever the image.  A connection that drops mid-body is resumed with
 * a Range request for the same entity (If-Range), a few times.
 */
#include "transfer/source_internal.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#define RING (4u << 20)
#define LOW_SPEED_TIME 60 /* seconds under 1 B/s before giving up a connection */

typedef struct http_src {
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	vsource_http_opts o;
	char *url;            /* as given (never logged: may carry a signature) */
	char *shown;          /* the URL without userinfo or query, for messages */
	unsigned char *ring;
	size_t head, len;     /* ring[head .. head+len) (mod RING) holds data */
	bool paused;
	bool running;         /* the transfer is under way */
	CURLcode result;      /* when !running */
	uint64_t got;         /* body bytes received over all attempts */
	uint64_t total;       /* Content-Length of the entity; 0: unknown */
	char *etag, *last_modified;
	bool accept_ranges;
	bool encoded;         /* Content-Encoding: the length is not the image's */
	bool headers_done;
	long status;
	uint64_t range_start; /* Content-Range of a 206 */
	uint64_t range_total; /* its complete length; 0: unknown ("*") */
	uint64_t resume_from; /* the Range this attempt asked for; 0: none */
	int resumes;
	bool seeking;         /* the Range is vsource_seek's, not a resume */
	char errbuf[CURL_ERROR_SIZE];
} http_src;

/* scheme://user:pw@host/path?query -> scheme://host/path */
static char *redact(const char *url)
{
	vbuf b = VBUF_INIT;
	const char *p = strstr(url, "://");
	const char *host = p ? p + 3 : url;
	const char *at = strchr(host, '@'), *slash = strchr(host, '/');
	if (at && (!slash || at < slash))
		host = at + 1;
	if (p)
		vbuf_add(&b, url, (size_t)(p + 3 - url));
	size_t n = strcspn(host, "?#");
	vbuf_add(&b, host, n);
	if (host[n])
		vbuf_adds(&b, "?...");
	return vbuf_detach(&b);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	http_src *h = ctx;
	size_t n = size * nmemb;

	/* A resumed answer that is not the rest of the same entity must not
	 * reach the ring: abort it (check_answer says why). */
	if (h->resume_from && (h->status != 206 || h->range_start != h->resume_from ||
			       (h->total && h->range_total && h->range_total != h->total)))
		return 0;
	if (RING - h->len < n) {
		h->paused = true;
		return CURL_WRITEFUNC_PAUSE; /* curl keeps it and calls again */
	}
	size_t tail = (h->head + h->len) % RING;
	size_t first = RING - tail < n ? RING - tail : n;
	memcpy(h->ring + tail, data, first);
	memcpy(h->ring, data + first, n - first);
	h->len += n;
	h->got += n;
	return n;
}

static void set_str(char **dst, const char *v, size_t n)
{
	free(*dst);
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	*dst = xstrndup(v, n);
}

/* Each response's headers (redirects included) start with its status
 * line: keep only the last response's. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
	http_src *h = ctx;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', n);
		h->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		h->headers_done = false;
		h->accept_ranges = false;
		h->encoded = false;
		h->range_start = h->range_total = 0;
		return n;
	}
	if (n <= 2) { /* the blank line: a final (non-1xx, non-redirect) answer? */
		if (h->status >= 200 && !(h->status >= 300 && h->status < 400))
			h->headers_done = true;
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon)
		return n;
	size_t klen = (size_t)(colon - data);
	const char *v = colon + 1;
	while (v < data + n && *v == ' ')
		v++;
	size_t vlen = (size_t)(data + n - v);
	if (klen == 4 && strncasecmp(data, "ETag", 4) == 0)
		set_str(&h->etag, v, vlen);
	else if (klen == 13 && strncasecmp(data, "Last-Modified", 13) == 0)
		set_str(&h->last_modified, v, vlen);
	else if (klen == 13 && strncasecmp(data, "Accept-Ranges", 13) == 0)
		h->accept_ranges = vlen >= 5 && strncasecmp(v, "bytes", 5) == 0;
	else if (klen == 16 && strncasecmp(data, "Content-Encoding", 16) == 0)
		h->encoded = !(vlen >= 8 && strncasecmp(v, "identity", 8) == 0);
	else if (klen == 13 && strncasecmp(data, "Content-Range", 13) == 0 &&
		 vlen > 6 && strncasecmp(v, "bytes ", 6) == 0) {
		/* "bytes START-END/TOTAL" (TOTAL may be "*") */
		h->range_start = strtoull(v + 6, NULL, 10);
		const char *slash = memchr(v, '/', vlen);
		h->range_total = slash ? strtoull(slash + 1, NULL, 10) : 0;
	}
	return n;
}

/* What If-Range names: a strong ETag, else Last-Modified. */
static const char *validator_of(const http_src *h)
{
	return h->etag && strncmp(h->etag, "W/", 2) != 0 ? h->etag : h->last_modified;
}

static int start(http_src *h, vmie_error *err)
{
	if (h->easy) {
		curl_multi_remove_handle(h->multi, h->easy);
		curl_easy_cleanup(h->easy);
	}
	curl_slist_free_all(h->hdrs);
	h->hdrs = NULL;
	h->easy = curl_easy_init();
	if (!h->easy)
		return verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				"cannot set up an HTTP transfer");
	CURL *c = h->easy;
	curl_easy_setopt(c, CURLOPT_URL, h->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->o.ca_bundle)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->o.ca_bundle);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)LOW_SPEED_TIME);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vmie/" VMIE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	h->resume_from = h->got;
	if (h->got) {
		vbuf r = VBUF_INIT;
		vbuf_addf(&r, "Range: bytes=%llu-", (unsigned long long)h->got);
		h->hdrs = curl_slist_append(h->hdrs, vbuf_str(&r));
		vbuf_reset(&r);
		/* The same entity or the whole of a new one, never a splice. */
		const char *validator = validator_of(h);
		if (validator) {
			vbuf_addf(&r, "If-Range: %s", validator);
			h->hdrs = curl_slist_append(h->hdrs, vbuf_str(&r));
		}
		vbuf_free(&r);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->hdrs);
	}
	h->errbuf[0] = '\0';
	h->headers_done = false;
	h->status = 0;
	h->paused = false;
	h->running = true;
	curl_multi_add_handle(h->multi, c);
	return 0;
}

/* One round of curl's work: 0, or -1 when multi itself fails. */
static int pump(http_src *h, vmie_error *err)
{
	int still = 0;
	if (h->paused && RING - h->len >= 512u * 1024) {
		h->paused = false;
		curl_easy_pause(h->easy, CURLPAUSE_CONT);
	}
	CURLMcode mc = curl_multi_perform(h->multi, &still);
	if (mc == CURLM_OK && still && !h->paused)
		mc = curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
	if (mc != CURLM_OK)
		return verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED, "%s: %s",
				h->shown, curl_multi_strerror(mc));
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(h->multi, &left)))
		if (m->msg == CURLMSG_DONE) {
			h->running = false;
			h->result = m->data.result;
		}
	return 0;
}

static int http_failure(http_src *h, vmie_error *err)
{
	long code = 0;
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
	if (h->result == CURLE_HTTP_RETURNED_ERROR) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED, "%s: the server "
			 "answered HTTP %ld", h->shown, code);
		return verr_hint(err, code == 403 || code == 401
				 ? "the URL needs credentials or has expired (a "
				   "presigned URL lasts a limited time)"
				 : code == 404 ? "check the URL"
					       : "try again later, or check the server");
	}
	if (h->result == CURLE_UNSUPPORTED_PROTOCOL || h->result == CURLE_TOO_MANY_REDIRECTS)
		return verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED, "%s: %s (only "
				"http and https are followed, at most 10 redirects)",
				h->shown, h->errbuf[0] ? h->errbuf
						       : curl_easy_strerror(h->result));
	return verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED, "%s: %s", h->shown,
			h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->result));
}

/* After headers: what the answer says about the entity. */
static int check_answer(http_src *h, vsource *s, bool resumed, vmie_error *err)
{
	if (!resumed) {
		curl_off_t cl = -1;
		curl_easy_getinfo(h->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		h->total = cl > 0 ? (uint64_t)cl : 0;
		/* An encoded body's length is the encoding's, not the image's. */
		s->size = h->encoded ? 0 : h->total;
		s->raw_size = h->total;
		char *eff = NULL;
		curl_easy_getinfo(h->easy, CURLINFO_EFFECTIVE_URL, &eff);
		free(s->name);
		const char *path = eff ? strstr(eff, "://") : NULL;
		path = path ? strchr(path + 3, '/') : NULL;
		s->name = vsource_name_from(path ? path : "", true);
		free(s->validator);
		s->validator = validator_of(h) ? xstrdup(validator_of(h)) : NULL;
		s->seekable = !h->encoded && h->accept_ranges && s->validator;
		return 0;
	}
	if (h->seeking && (h->status != 206 || h->range_start != h->resume_from ||
			   (h->total && h->range_total && h->range_total != h->total))) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "%s: the server did not send the rest of the same file from "
			 "byte %llu (HTTP %ld): the file changed", h->shown,
			 (unsigned long long)h->resume_from, h->status);
		return verr_hint(err, "the upload cannot go on with another version of "
				      "the image: run the same command with --restart to "
				      "upload it from the start");
	}
	if (h->status != 206 || h->range_start != h->resume_from)
		return verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				"%s: the connection dropped after %llu bytes and the "
				"server cannot resume it (it answered HTTP %ld to a "
				"range request%s)", h->shown,
				(unsigned long long)h->resume_from, h->status,
				h->status == 206 ? " with another start" : "");
	if (h->total && h->range_total && h->range_total != h->total)
		return verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				"%s: the file changed size while it was read "
				"(%llu bytes, now %llu)", h->shown,
				(unsigned long long)h->total,
				(unsigned long long)h->range_total);
	return 0;
}

/* Run the transfer until its headers are in (or it ends). */
static int await_headers(http_src *h, vsource *s, bool resumed, vmie_error *err)
{
	while (h->running && !h->headers_done)
		if (pump(h, err) < 0)
			return -1;
	if (h->headers_done && h->status >= 400) {
		h->result = CURLE_HTTP_RETURNED_ERROR;
		return http_failure(h, err);
	}
	if (!h->running && h->result != CURLE_OK && !h->headers_done)
		return http_failure(h, err);
	return check_answer(h, s, resumed, err);
}

/* The transfer ended before the entity did: try again from where it
 * stopped, when the server can. */
static int resume(http_src *h, vsource *s, vmie_error *err)
{
	if (h->resumes >= h->o.max_resumes)
		return verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				"%s: the connection dropped %d times; gave up after "
				"%llu bytes", h->shown, h->resumes + 1,
				(unsigned long long)h->got);
	h->resumes++;
	vlog_warn("%s: the connection dropped after %llu bytes (%s); resuming",
		  h->shown, (unsigned long long)h->got,
		  h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->result));
	if (start(h, err) < 0)
		return -1;
	/* Nothing received yet: a plain new request, not a resume. */
	return await_headers(h, s, h->resume_from > 0, err);
}

static long long http_read(vsource *s, void *buf, size_t len, vmie_error *err)
{
	http_src *h = s->impl;

	for (;;) {
		if (h->len) {
			size_t n = h->len < len ? h->len : len;
			size_t first = RING - h->head < n ? RING - h->head : n;
			memcpy(buf, h->ring + h->head, first);
			memcpy((char *)buf + first, h->ring, n - first);
			h->head = (h->head + n) % RING;
			h->len -= n;
			s->raw_offset += n;
			return (long long)n;
		}
		if (s->stop && atomic_load(s->stop))
			return verr_set(err, VMIE_ERR_INTERRUPTED, "%s: reading "
					"stopped", h->shown), -1;
		if (h->running) {
			if (pump(h, err) < 0)
				return -1;
			continue;
		}
		bool short_body = h->total && h->got < h->total;
		if (h->result == CURLE_OK && !short_body)
			return 0;
		if (h->result == CURLE_HTTP_RETURNED_ERROR)
			return http_failure(h, err), -1;
		/* A body of unknown length cut short cannot be told from its
		 * end unless curl saw the cut; a known one can. */
		if (h->result == CURLE_OK && !h->total)
			return 0;
		if (resume(h, s, err) < 0)
			return -1;
	}
}

static int http_seek(vsource *s, uint64_t offset, vmie_error *err)
{
	http_src *h = s->impl;
	if (h->encoded || !h->accept_ranges || !validator_of(h))
		return VSOURCE_NO_SEEK;
	h->head = h->len = 0;
	h->got = offset;
	h->seeking = true;
	int rc = start(h, err);
	if (rc == 0)
		rc = await_headers(h, s, offset > 0, err);
	h->seeking = false;
	if (rc != 0)
		return err && err->status ? err->status : VMIE_ERR_FILE_DOWNLOAD_FAILED;
	s->raw_offset = offset;
	return 0;
}

static void http_free(vsource *s)
{
	http_src *h = s->impl;
	if (h->easy) {
		curl_multi_remove_handle(h->multi, h->easy);
		curl_easy_cleanup(h->easy);
	}
	curl_multi_cleanup(h->multi);
	curl_slist_free_all(h->hdrs);
	free(h->url);
	free(h->shown);
	free(h->ring);
	free(h->etag);
	free(h->last_modified);
	free(h);
}

static const vsource_ops http_ops = {http_read, http_free, NULL};

int vsource_open_http(const char *url, const vsource_http_opts *o,
		      vsource **out, vmie_error *err)
{
	http_src *h = xcalloc(1, sizeof(*h));
	vsource *s = vsource_alloc(&http_ops, h);

	*out = NULL;
	if (o)
		h->o = *o;
	if (!h->o.connect_timeout_ms)
		h->o.connect_timeout_ms = 10000;
	if (!h->o.max_resumes)
		h->o.max_resumes = 5;
	h->url = xstrdup(url);
	h->shown = redact(url);
	h->ring = xmalloc(RING);
	h->multi = curl_multi_init();
	s->name = xstrdup("image");
	if (!h->multi || start(h, err) < 0 || await_headers(h, s, false, err) < 0) {
		if (!h->multi)
			verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				 "cannot set up an HTTP transfer");
		vsource_free(s);
		return err ? err->status : VMIE_ERR_FILE_DOWNLOAD_FAILED;
	}
	s->seek = http_seek;
	*out = s;
	return 0;
}
