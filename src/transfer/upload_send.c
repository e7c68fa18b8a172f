/*
 * The parts in flight: the upload engine's side of the shared sender
 * (inflight.h).  Jobs are the producer's part buffers, taken from the pool
 * in part order once READY; the image's head is checked before the first
 * part leaves; a part is done when S3 answers with its ETag and the
 * CRC32C we sent.  A failed part stays in its buffer (READY again) until
 * its retry or the end.  Progress is reported here, in the caller's
 * thread.
 */
#include "transfer/upload_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

#define PROGRESS_MS 200

typedef struct sender {
	vup_run *r;
	vup_pool *pool;
	vxfer *x;
	long long last_progress;
} sender;

static vup_buf *buf_of(vxfer_job *job)
{
	return (vup_buf *)((char *)job - offsetof(vup_buf, job));
}

static void wake_sender(void *ctx)
{
	vxfer_wake(ctx);
}

static vup_buf *next_ready(vup_pool *p, long long now)
{
	vup_buf *best = NULL;
	for (unsigned i = 0; i < p->nbufs; i++) {
		vup_buf *b = &p->bufs[i];
		if (b->state == VUP_READY && b->job.not_before <= now &&
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

/* A refused image is not worth keeping for a resume. */
static int head_refused(vup_run *r, int rc, vmie_error *err)
{
	r->discard = true;
	if (err && !err->message)
		verr_set(err, rc, "the image was refused before the upload");
	return rc;
}

static int source_changed(const vup_run *r, const vup_buf *b,
			  const vupload_part_info *in_s3, vmie_error *err)
{
	char mine[9], theirs[9];
	vcrc32c_b64(b->crc, mine);
	vcrc32c_b64(in_s3->crc, theirs);
	verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
		 "part %u of the image (%zu bytes, CRC32C %s) is not the part %u "
		 "already in s3://%s/%s (%llu bytes, CRC32C %s): the source "
		 "changed since the upload began", b->part, b->len, mine, b->part,
		 r->o->bucket, r->o->key, (unsigned long long)in_s3->size, theirs);
	return verr_hint(err, "run the same command with --restart to upload the "
			      "image as it is now");
}

/* A part read again for a resumed upload that S3 already holds: kept
 * when it is the same bytes, never sent twice.  1 when b was such a part
 * (released), 0 when it must be sent, or a status. */
static int already_in_s3(sender *s, vup_buf *b, vmie_error *err)
{
	const vupload_part_info *in_s3 = vup_listed_part(s->r, b->part);
	if (!in_s3)
		return 0;
	if (in_s3->size != b->len || !in_s3->has_crc || in_s3->crc != b->crc)
		return source_changed(s->r, b, in_s3, err);
	vup_record_part(s->r, b->part, b->len, b->crc, in_s3->etag);
	b->state = VUP_FREE;
	pthread_cond_broadcast(&s->pool->cv);
	return 1;
}

/* The producer's failure, the head check, then the next ready part. */
static int next(void *ctx, long long now, vxfer_job **job, vmie_error *err)
{
	sender *s = ctx;
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
			return VXFER_NONE;
		/* READY buffers are the sender's: no lock needed to read. */
		const vupload_opts *o = r->o;
		int rc = o->check_head(o->check_ctx, b->data, b->len, err);
		if (rc != 0)
			return head_refused(r, rc, err);
		pthread_mutex_lock(&p->mu);
		p->head_ok = true;
		pthread_cond_broadcast(&p->cv);
	}
	int rc = VXFER_NONE;
	vup_buf *b;
	for (;;) {
		if (p->eof && r->parts_done == p->nparts) {
			rc = VXFER_ALL_DONE;
		} else if ((b = next_ready(p, now))) {
			int kept = r->o->resume ? already_in_s3(s, b, err) : 0;
			if (kept == 1)
				continue;
			if (kept < 0) {
				rc = kept;
			} else {
				b->state = VUP_SENDING;
				*job = &b->job;
				rc = VXFER_JOB;
			}
		}
		break;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static int start(void *ctx, vxfer *x, vxfer_slot *sl, vmie_error *err)
{
	sender *s = ctx;
	return vup_part_start(s->r, x, sl, err);
}

void vup_record_part(vup_run *r, unsigned part, uint64_t size, uint32_t crc,
		     const char *etag)
{
	if (part > r->parts_cap) {
		size_t cap = r->parts_cap ? r->parts_cap : 64;
		while (cap < part)
			cap *= 2;
		r->parts = xrealloc(r->parts, cap * sizeof(*r->parts));
		memset(r->parts + r->parts_cap, 0,
		       (cap - r->parts_cap) * sizeof(*r->parts));
		r->parts_cap = cap;
	}
	vup_part *pt = &r->parts[part - 1];
	free(pt->etag);
	pt->etag = xstrdup(etag);
	pt->crc = crc;
	pt->size = size;
	r->parts_done++;
	r->bytes_done += size;
	if (r->o->on_part)
		r->o->on_part(r->o->journal_ctx, part, size, crc);
}

const vupload_part_info *vup_listed_part(const vup_run *r, unsigned part)
{
	const vupload_resume *rs = r->o->resume;
	size_t lo = 0, hi = rs ? rs->nparts : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rs->parts[mid].number == part)
			return &rs->parts[mid];
		if (rs->parts[mid].number < part)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void release(sender *s, vup_buf *b, vup_state state)
{
	pthread_mutex_lock(&s->pool->mu);
	b->state = state;
	pthread_cond_broadcast(&s->pool->cv);
	pthread_mutex_unlock(&s->pool->mu);
}

static void requeue(void *ctx, vxfer_job *job)
{
	release(ctx, buf_of(job), VUP_READY);
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
	vup_record_part(r, b->part, b->len, b->crc, etag);
	r->sent += b->len;
	release(s, b, VUP_FREE);
	return VXFER_DONE;
}

static int ended(void *ctx, vxfer_slot *sl, vxfer_outcome *out,
		 vmie_error *err)
{
	const vhttp_response *rs = &sl->rs;
	if (rs->transport == VHTTP_OK && rs->status >= 200 && rs->status < 300)
		return part_done(ctx, buf_of(sl->job), rs, err);
	/* A part damaged on the way (S3 checked our CRC32C) is whole in its
	 * buffer: sending it again heals it, as legacy mode knows. */
	if (out->o.aws_code && strcmp(out->o.aws_code, "BadDigest") == 0)
		out->o.http_status = 500;
	return VXFER_FAILED;
}

static int give_up(void *ctx, vxfer_slot *sl, int attempts,
		   const vxfer_outcome *out, vmie_error *err)
{
	sender *s = ctx;
	vup_run *r = s->r;
	const vhttp_response *rs = &sl->rs;
	unsigned part = buf_of(sl->job)->part;
	if (rs->transport != VHTTP_OK) {
		vxfer_no_answer(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED, rs, attempts,
				"check the network and proxy settings, then "
				"run the same command again");
		verr_prefix(err, "S3 UploadPart failed for part %u of s3://%s/%s",
			    part, r->o->bucket, r->o->key);
		if (err) {
			err->service = xstrdup("s3");
			err->operation = xstrdup("UploadPart");
		}
		return VMIE_ERR_AWS_S3_UPLOAD_FAILED;
	}
	vawserr_fill(err, "s3", "UploadPart", rs->status, &out->info);
	verr_prefix(err, "part %u (after %d attempt%s)", part, attempts,
		    attempts == 1 ? "" : "s");
	if (err)
		err->status = VMIE_ERR_AWS_S3_UPLOAD_FAILED;
	return VMIE_ERR_AWS_S3_UPLOAD_FAILED;
}

/* Bytes in S3 plus bytes on their way, never going back (a retried part
 * starts over), at most every PROGRESS_MS. */
static int tick(void *ctx, uint64_t moving, bool final, vmie_error *err)
{
	(void)err;
	sender *s = ctx;
	vup_run *r = s->r;
	if (!r->o->progress)
		return 0;
	long long now = vxfer_now_ms();
	if (!final && now - s->last_progress < PROGRESS_MS)
		return 0;
	uint64_t done = r->bytes_done + moving;
	if (done <= r->progress_sent && !final)
		return 0;
	if (done < r->progress_sent)
		done = r->progress_sent;
	s->last_progress = now;
	r->progress_sent = done;
	r->o->progress(r->o->progress_ctx, done, r->size);
	return 0;
}

static const vxfer_ops ops = {next, start, ended, requeue, give_up, tick};

int vup_send_all(vup_run *r, vmie_error *err)
{
	sender s = {.r = r};
	vup_pool pool = {0};
	s.pool = &pool;
	vxfer_opts xo = {
		.client = r->o->client,
		.parallel = r->parallel,
		.retry = &r->retry,
		.cancel = r->o->cancel,
		.max_bps = r->o->max_bps,
		.ops = &ops,
		.ctx = &s,
		.operation = "UploadPart",
		.fail_status = VMIE_ERR_AWS_S3_UPLOAD_FAILED,
		.interrupted = VUP_INTERRUPTED,
		.interrupted_hint = VUP_INTERRUPTED_HINT,
	};
	int rc = 0;
	s.x = vxfer_new(&xo, err);
	if (!s.x)
		return VMIE_ERR_AWS_CLIENT_INIT_FAILED;
	vup_pool_init(&pool, r->parallel + 1, r->src, r->o, wake_sender, s.x);
	rc = vup_pool_start(&pool, err);
	if (rc == 0)
		rc = vxfer_run(s.x, err);
	r->connects = vxfer_connects(s.x);
	/* The producer may be waiting on the pool or reading; it stops
	 * before the sender it wakes goes away. */
	vup_pool_stop(&pool);
	vxfer_free(s.x);
	vup_pool_free(&pool);
	return rc;
}
