/*
 * The parts in flight: up to `parallel` UploadPart requests (upload_part.c)
 * on one libcurl multi handle, each on its own reused connection, fed by
 * the producer's pool.  A failed part stays in its buffer and is sent
 * again after a backoff when the retry policy (aws/retry.h, one quota for
 * the whole upload) allows.  Progress and cancellation are handled here,
 * in the caller's thread.
 */
#include "transfer/upload_internal.h"

#include <stdlib.h>
#include <string.h>

#include "aws/awserr.h"
#include "aws/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#define POLL_MS 100
#define PROGRESS_MS 200

typedef struct sender {
	vup_run *r;
	vup_pool *pool;
	CURLM *multi;
	vup_slot *slots;
	unsigned nslots;
	const char *ca_bundle;       /* the client's config owns it */
	long long last_progress;
} sender;

static void wake_multi(void *ctx)
{
	curl_multi_wakeup(ctx);
}

static vup_buf *next_ready(vup_pool *p, long long now)
{
	vup_buf *best = NULL;
	for (unsigned i = 0; i < p->nbufs; i++) {
		vup_buf *b = &p->bufs[i];
		if (b->state == VUP_READY && b->not_before <= now &&
		    (!best || b->part < best->part))
			best = b;
	}
	return best;
}

static vup_buf *find_part(vup_pool *p, unsigned part, vup_state state)
{
	for (unsigned i = 0; i < p->nbufs; i++)
		if (p->bufs[i].state == state && p->bufs[i].part == part)
			return &p->bufs[i];
	return NULL;
}

static int head_refused(int rc, vmie_error *err)
{
	if (err && !err->message)
		verr_set(err, rc, "the image was refused before the upload");
	return rc;
}

/* The head check, then a transfer for each idle slot that a ready part
 * can fill.  Returns 0, 1 when every part is in S3, or a status. */
static int dispatch(sender *s, vmie_error *err)
{
	vup_run *r = s->r;
	vup_pool *p = s->pool;
	pthread_mutex_lock(&p->mu);
	if (p->status != 0) {
		int rc = p->status;
		verr_move(err, &p->err);
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	if (!p->head_ok) {
		vup_buf *b = find_part(p, 1, VUP_READY);
		pthread_mutex_unlock(&p->mu);
		if (!b)
			return 0;
		/* READY buffers are the sender's: no lock needed to read. */
		const vupload_opts *o = r->o;
		int rc = o->check_head(o->check_ctx, b->data, b->len, err);
		if (rc != 0)
			return head_refused(rc, err);
		pthread_mutex_lock(&p->mu);
		p->head_ok = true;
		pthread_cond_broadcast(&p->cv);
	}
	if (p->eof && r->parts_done == p->nparts) {
		pthread_mutex_unlock(&p->mu);
		return 1;
	}
	long long now = vup_now_ms();
	for (unsigned i = 0; i < s->nslots; i++) {
		if (s->slots[i].buf)
			continue;
		vup_buf *b = next_ready(p, now);
		if (!b)
			break;
		b->state = VUP_SENDING;
		s->slots[i].buf = b;
	}
	pthread_mutex_unlock(&p->mu);

	for (unsigned i = 0; i < s->nslots; i++) {
		vup_slot *sl = &s->slots[i];
		if (!sl->buf || sl->hdrs)
			continue;
		int rc = vup_part_start(s->r, sl, s->multi, s->ca_bundle, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void record_part(vup_run *r, const vup_buf *b, const char *etag)
{
	if (b->part > r->parts_cap) {
		size_t cap = r->parts_cap ? r->parts_cap : 64;
		while (cap < b->part)
			cap *= 2;
		r->parts = xrealloc(r->parts, cap * sizeof(*r->parts));
		memset(r->parts + r->parts_cap, 0,
		       (cap - r->parts_cap) * sizeof(*r->parts));
		r->parts_cap = cap;
	}
	vup_part *pt = &r->parts[b->part - 1];
	free(pt->etag);
	pt->etag = xstrdup(etag);
	pt->crc = b->crc;
	pt->size = b->len;
	r->parts_done++;
	r->bytes_done += b->len;
}

static void release(sender *s, vup_buf *b, vup_state state)
{
	pthread_mutex_lock(&s->pool->mu);
	b->state = state;
	pthread_cond_broadcast(&s->pool->cv);
	pthread_mutex_unlock(&s->pool->mu);
}

/* A 2xx answer: S3 has the part, and says so with its ETag and (as the
 * upload asked for CRC32C) the checksum it computed. */
static int part_done(sender *s, vup_buf *b, const vhttp_response *rs,
		     vmie_error *err)
{
	vup_run *r = s->r;
	const char *etag = vkv_get_ci(&rs->headers, "ETag");
	const char *sum = vkv_get_ci(&rs->headers, "x-amz-checksum-crc32c");
	char mine[9];
	vcrc32c_b64(b->crc, mine);
	if (!etag || !*etag) {
		verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
			 "S3 UploadPart: the answer for part %u has no ETag",
			 b->part);
		return verr_hint(err, "check that --endpoint-url / "
				      "AWS_ENDPOINT_URL points at S3 or a "
				      "compatible service");
	}
	if (sum && strcmp(sum, mine) != 0) {
		verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
			 "S3 UploadPart: part %u arrived with CRC32C %s, "
			 "sent with %s",
			 b->part, sum, mine);
		return verr_hint(err, "the data changed in transit; try "
				      "again");
	}
	record_part(r, b, etag);
	vretry_on_success(&r->retry, &b->retry);
	release(s, b, VUP_FREE);
	return 0;
}

static bool expired_code(const char *code)
{
	static const char *const codes[] = {"ExpiredToken", "RequestExpired",
					    "TokenRefreshRequired"};
	for (size_t i = 0; code && i < sizeof codes / sizeof *codes; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

static int part_failed(sender *s, vup_buf *b, const vhttp_response *rs,
		       int attempts, const vawserr_info *info,
		       vmie_error *err)
{
	vup_run *r = s->r;
	if (rs->transport != VHTTP_OK) {
		verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
			 "S3 UploadPart failed for part %u of s3://%s/%s: "
			 "%s (after %d attempt%s)",
			 b->part, r->o->bucket, r->o->key,
			 rs->transport_error ? rs->transport_error
					     : "transport error",
			 attempts, attempts == 1 ? "" : "s");
		verr_hint(err, rs->transport == VHTTP_TLS
				       ? "the TLS connection could not be "
					 "verified: check the system CA "
					 "certificates and AWS_CA_BUNDLE"
				       : "check the network and proxy "
					 "settings, then run the import "
					 "again");
		if (err) {
			err->service = xstrdup("s3");
			err->operation = xstrdup("UploadPart");
		}
		return VMIE_ERR_AWS_S3_UPLOAD_FAILED;
	}
	vawserr_fill(err, "s3", "UploadPart", rs->status, info);
	verr_prefix(err, "part %u (after %d attempt%s)", b->part, attempts,
		    attempts == 1 ? "" : "s");
	if (err)
		err->status = VMIE_ERR_AWS_S3_UPLOAD_FAILED;
	return VMIE_ERR_AWS_S3_UPLOAD_FAILED;
}

/* A transfer ended.  Returns 0 (done, or queued again) or a status. */
static int finish(sender *s, vup_slot *sl, CURLcode cc, vmie_error *err)
{
	vup_run *r = s->r;
	vup_buf *b = sl->buf;
	const vhttp_response *rs = &sl->rs;
	sl->buf = NULL;
	r->connects += (unsigned)vup_part_end(sl, cc);
	if (rs->transport == VHTTP_OK && rs->status >= 200 && rs->status < 300)
		return part_done(s, b, rs, err);

	vawserr_info info = {0};
	vretry_outcome o = {rs->transport, rs->status, NULL};
	if (rs->transport == VHTTP_OK) {
		vawserr_parse(rs, &info);
		o.aws_code = info.code;
	}
	/* A part damaged on the way (S3 checked our CRC32C) is whole in its
	 * buffer: sending it again heals it, as legacy mode knows. */
	if (o.aws_code && strcmp(o.aws_code, "BadDigest") == 0)
		o.http_status = 500;
	int attempt = b->retry.attempt;
	long delay = 0;
	bool again;
	if (expired_code(o.aws_code) && !b->resigned) {
		/* Signed again at the next start, with fresh credentials. */
		b->resigned = true;
		again = true;
	} else {
		again = vretry_should_retry(&r->retry, &b->retry, &o, true,
					    &delay);
	}
	int rc = 0;
	if (again) {
		vlog_debug("s3 UploadPart: part %u attempt %d: %s; retrying "
			   "in %ld ms",
			   b->part, attempt,
			   o.aws_code	? o.aws_code
			   : rs->transport_error ? rs->transport_error
						 : "server error",
			   delay);
		b->not_before = vup_now_ms() + delay;
		release(s, b, VUP_READY);
	} else {
		rc = part_failed(s, b, rs, attempt, &info, err);
		release(s, b, VUP_READY);
	}
	vawserr_info_free(&info);
	return rc;
}

static int reap(sender *s, vmie_error *err)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(s->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode cc = m->data.result;
		char *priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		vup_slot *sl = (vup_slot *)priv;
		curl_multi_remove_handle(s->multi, e);
		int rc = finish(s, sl, cc, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Bytes in S3 plus bytes on their way, never going back (a retried part
 * starts over), at most every PROGRESS_MS. */
static void progress(sender *s, bool force)
{
	vup_run *r = s->r;
	if (!r->o->progress)
		return;
	long long now = vup_now_ms();
	if (!force && now - s->last_progress < PROGRESS_MS)
		return;
	uint64_t done = r->bytes_done;
	for (unsigned i = 0; i < s->nslots; i++) {
		curl_off_t up = 0;
		if (s->slots[i].hdrs &&
		    curl_easy_getinfo(s->slots[i].easy, CURLINFO_SIZE_UPLOAD_T,
				      &up) == CURLE_OK &&
		    up > 0)
			done += (uint64_t)up;
	}
	if (done <= r->progress_sent && !force)
		return;
	if (done < r->progress_sent)
		done = r->progress_sent;
	s->last_progress = now;
	r->progress_sent = done;
	r->o->progress(r->o->progress_ctx, done, r->size);
}

static bool cancelled(const vup_run *r)
{
	return r->o->cancel && *r->o->cancel;
}

static int sender_init(sender *s, vup_run *r, vup_pool *p, vmie_error *err)
{
	memset(s, 0, sizeof(*s));
	s->r = r;
	s->pool = p;
	s->ca_bundle = vaws_config_setting(vaws_client_config(r->o->client),
					   "AWS_CA_BUNDLE", "ca_bundle");
	s->multi = curl_multi_init();
	s->nslots = r->parallel;
	s->slots = xcalloc(s->nslots, sizeof(*s->slots));
	for (unsigned i = 0; s->multi && i < s->nslots; i++) {
		s->slots[i].easy = curl_easy_init();
		if (!s->slots[i].easy)
			break;
		if (i + 1 == s->nslots)
			return 0;
	}
	return verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
			"cannot initialise the HTTP client (libcurl)");
}

/* Ends every transfer still running; their parts are abandoned. */
static void sender_free(sender *s)
{
	for (unsigned i = 0; s->slots && i < s->nslots; i++)
		vup_slot_free(&s->slots[i], s->multi);
	free(s->slots);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	memset(s, 0, sizeof(*s));
}

int vup_send_all(vup_run *r, vmie_error *err)
{
	sender s;
	vup_pool pool = {0};
	int rc = sender_init(&s, r, &pool, err);
	if (rc != 0)
		goto out;
	vup_pool_init(&pool, r->parallel + 1, r->src, r->o, wake_multi,
		      s.multi);
	rc = vup_pool_start(&pool, err);
	while (rc == 0) {
		if (cancelled(r)) {
			rc = vup_interrupted(err);
			break;
		}
		rc = dispatch(&s, err);
		if (rc != 0)
			break;
		int running = 0;
		if (curl_multi_perform(s.multi, &running) != CURLM_OK) {
			rc = verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
				      "the HTTP client (libcurl) failed");
			break;
		}
		rc = reap(&s, err);
		if (rc != 0)
			break;
		progress(&s, false);
		curl_multi_poll(s.multi, NULL, 0, POLL_MS, NULL);
	}
	if (rc == 1) {
		rc = 0;
		progress(&s, true);
	}
out:
	/* The producer may be waiting on the pool or reading; it stops
	 * before the multi handle it wakes goes away. */
	vup_pool_stop(&pool);
	sender_free(&s);
	vup_pool_free(&pool);
	return rc;
}
