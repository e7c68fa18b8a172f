/*
 * The chunks in flight: the download engine's side of the shared sender
 * (inflight.h).  Jobs are the plan's chunks not yet done, in order; a
 * chunk is done when its whole range arrived and was written.  A write
 * the target refuses ends the download; an object that changed (412) is
 * not retried.  Progress and the periodic state save happen every turn.
 */
#include "transfer/download_internal.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

#define PROGRESS_MS 200

typedef vdl_sender sender;

vdl_chunk *vdl_chunk_of(vxfer_job *job)
{
	return (vdl_chunk *)((char *)job - offsetof(vdl_chunk, job));
}

int vdl_send_next_chunk(vdl_sender *s, long long now, vxfer_job **job)
{
	vdl_plan *p = &s->r->plan;
	bool all_done = true;
	while (s->next < p->n && p->chunks[s->next].done)
		s->next++;
	for (size_t i = s->next; i < p->n; i++) {
		vdl_chunk *c = &p->chunks[i];
		if (c->done)
			continue;
		all_done = false;
		if (!c->active && c->job.not_before <= now) {
			c->active = true;
			*job = &c->job;
			return VXFER_JOB;
		}
	}
	return all_done ? VXFER_ALL_DONE : VXFER_NONE;
}

static int next(void *ctx, long long now, vxfer_job **job, vmie_error *err)
{
	(void)err;
	return vdl_send_next_chunk(ctx, now, job);
}

static int start(void *ctx, vxfer *x, vxfer_slot *xs, vmie_error *err)
{
	sender *s = ctx;
	return vdl_get_start(s->r, x, xs, err);
}

static void requeue(void *ctx, vxfer_job *job)
{
	(void)ctx;
	vdl_chunk_of(job)->active = false;
}

void vdl_chunk_done(vdl_run *r, vdl_chunk *c, uint32_t crc, uint64_t crc64,
		    EVP_MD_CTX **md5, uint64_t skipped)
{
	c->done = true;
	c->active = false;
	c->crc = crc;
	c->crc64 = crc64;
	c->has_md5 = false;
	if (md5 && *md5) {
		unsigned len = 0;
		c->has_md5 = EVP_DigestFinal_ex(*md5, c->md5, &len) && len == 16;
		EVP_MD_CTX_free(*md5);
		*md5 = NULL;
	}
	r->done_bytes += c->len;
	r->zero_skipped += skipped;
	r->dirty = true;
}

static int range_words(const vdl_run *r, uint64_t off, uint64_t len,
		       vmie_error *err)
{
	verr_prefix(err, "GetObject bytes %" PRIu64 "-%" PRIu64
			 " of s3://%s/%s",
		    off, off + len - 1, r->o->bucket, r->o->key);
	if (err)
		err->status = VMIE_ERR_FILE_DOWNLOAD_FAILED;
	return VMIE_ERR_FILE_DOWNLOAD_FAILED;
}

int vdl_send_failed(const vhttp_response *rs, vxfer_outcome *out)
{
	out->o.transport = rs->transport;
	out->o.http_status = rs->status;
	if (rs->transport == VHTTP_OK && rs->status < 300) {
		/* A 2xx cut short: the connection dropped mid-body. */
		out->o.transport = VHTTP_IO;
		out->o.http_status = 0;
	}
	out->final = rs->status == 412;
	return VXFER_FAILED;
}

static int ended(void *ctx, vxfer_slot *xs, vxfer_outcome *out,
		 vmie_error *err)
{
	sender *s = ctx;
	vdl_run *r = s->r;
	vdl_slot *sl = xs->data;
	vdl_chunk *c = sl->chunk;
	const vhttp_response *rs = &xs->rs;
	vdl_get_end(sl);
	sl->chunk = NULL;
	if (sl->write_errno) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "cannot write to %s at offset %" PRIu64 ": %s",
			 r->o->path, c->off, strerror(sl->write_errno));
		return verr_hint(err, "check the free space and the device, "
				      "then run the download again");
	}
	if (rs->transport == VHTTP_OK &&
	    (rs->status == 200 || rs->status == 206) && sl->got == c->len) {
		vdl_chunk_done(r, c, sl->crc, sl->crc64, &sl->md5, sl->skipped);
		return VXFER_DONE;
	}
	return vdl_send_failed(rs, out);
}

int vdl_send_give_up(vdl_run *r, const vhttp_response *rs, int attempts,
		     const vxfer_outcome *out, uint64_t off, uint64_t len,
		     vmie_error *err)
{
	if (rs->transport != VHTTP_OK) {
		vxfer_no_answer(err, VMIE_ERR_FILE_DOWNLOAD_FAILED, rs, attempts,
				"check the network, then run the download "
				"again: it continues where it stopped");
		return range_words(r, off, len, err);
	}
	vawserr_fill(err, "s3", "GetObject", rs->status, &out->info);
	if (rs->status == 412)
		verr_hint(err, "the object changed during the download: run "
			       "it again to fetch the new object");
	return range_words(r, off, len, err);
}

static int give_up(void *ctx, vxfer_slot *xs, int attempts,
		   const vxfer_outcome *out, vmie_error *err)
{
	sender *s = ctx;
	const vdl_chunk *c = vdl_chunk_of(xs->job);
	return vdl_send_give_up(s->r, &xs->rs, attempts, out, c->off, c->len,
				err);
}

static void progress(sender *s, uint64_t moving, bool final)
{
	vdl_run *r = s->r;
	if (!r->o->progress)
		return;
	long long now = vxfer_now_ms();
	if (!final && now - s->last_progress < PROGRESS_MS)
		return;
	uint64_t done = r->done_bytes + moving;
	if (done < r->progress_sent)
		done = r->progress_sent;
	if (done == r->progress_sent && (!final || r->progress_sent))
		return;
	s->last_progress = now;
	r->progress_sent = done;
	r->o->progress(r->o->progress_ctx, done, r->obj.size);
}

int vdl_send_tick(vdl_sender *s, uint64_t moving, bool final,
		  vmie_error *err)
{
	int rc = final ? 0 : vdl_run_save(s->r, false, err);
	if (rc == 0)
		progress(s, moving, final);
	return rc;
}

static int tick(void *ctx, uint64_t moving, bool final, vmie_error *err)
{
	return vdl_send_tick(ctx, moving, final, err);
}

static const vxfer_ops ops = {next, start, ended, requeue, give_up, tick};

vxfer *vdl_send_new(vdl_run *r, vdl_sender *s, const vxfer_ops *xops,
		    vmie_error *err)
{
	vxfer_opts xo = {
		.client = r->o->client,
		.parallel = r->parallel,
		.retry = &r->retry,
		.cancel = r->o->cancel,
		.max_bps = r->o->max_bps,
		.ops = xops,
		.ctx = s,
		.operation = "GetObject",
		.fail_status = VMIE_ERR_FILE_DOWNLOAD_FAILED,
		.interrupted = "the download was interrupted",
		.interrupted_hint = "run it again: it continues where it "
				    "stopped",
	};
	*s = (vdl_sender){.r = r, .nslots = r->parallel};
	s->x = vxfer_new(&xo, err);
	return s->x;
}

int vdl_send_all(vdl_run *r, vmie_error *err)
{
	if (r->vmdk)
		return vdl_vmdk_send_all(r, err);
	sender s;
	vxfer *x = vdl_send_new(r, &s, &ops, err);
	if (!x)
		return VMIE_ERR_AWS_CLIENT_INIT_FAILED;
	vdl_slot *slots = xcalloc(s.nslots, sizeof(*slots));
	s.slots = slots;
	for (unsigned i = 0; i < s.nslots; i++) {
		slots[i].xs = vxfer_slot_at(x, i);
		slots[i].xs->data = &slots[i];
	}
	int rc = vxfer_run(x, err);
	r->connects = vxfer_connects(x);
	vxfer_free(x);
	for (unsigned i = 0; i < s.nslots; i++)
		vdl_slot_free(&slots[i]);
	free(slots);
	return rc;
}
