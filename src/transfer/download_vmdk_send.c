/*
 * VMDK to RAW mode (download_vmdk.h): its side of the shared sender.
 * Jobs are the windows' table GETs first (they let chunks start), then
 * the plan's chunks in order, each held until the map knows its grains.
 * A chunk is done when its bytes arrived, its grains were written and,
 * on a device (or where an earlier run left bytes that cannot become a
 * hole again), the zeros of its disk bytes were written: a slice per
 * turn of the loop, so transfers go on meanwhile.  The shared pieces
 * (chunk order, failures, progress, state saves) are download_send.c's.
 */
#include "transfer/download_vmdk.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"

/* Zeros written per turn of the loop (a device's holes). */
#define FILL_STEP (32u << 20)

typedef vdl_sender sender;

static vdl_vchunk *vx_of(vdl_run *r, const vdl_chunk *c)
{
	return &r->plan.vx[c - r->plan.chunks];
}

/* The first chunk not done (its offset bounds what the map keeps). */
static size_t first_open(sender *s)
{
	const vdl_plan *p = &s->r->plan;
	size_t i = s->next;
	while (i < p->n && p->chunks[i].done)
		i++;
	return i;
}

/* How far the grains known should reach: twice `parallel` chunks past
 * the first one not done. */
static uint64_t want(sender *s)
{
	const vdl_plan *p = &s->r->plan;
	size_t k = first_open(s) + 2 * (size_t)s->r->parallel;
	return k < p->n ? p->chunks[k].off + p->chunks[k].len : UINT64_MAX;
}

static int next(void *ctx, long long now, vxfer_job **job, vmie_error *err)
{
	sender *s = ctx;
	vdl_run *r = s->r;
	int rc = vdl_map_next(r, want(s), now, job, err);
	if (rc != VXFER_NONE)
		return rc;
	vdl_map_release(r);
	rc = vdl_send_next_chunk(s, now, job);
	/* Every table is read before the end: the check needs them all. */
	if (rc == VXFER_ALL_DONE && !r->vmdk->all_known)
		return VXFER_NONE;
	return rc;
}

static int start(void *ctx, vxfer *x, vxfer_slot *xs, vmie_error *err)
{
	sender *s = ctx;
	vdl_gtfetch *t = vdl_map_fetch_of(s->r, xs->job);
	if (t)
		return vdl_vslot_start_table(xs->data, x, t, err);
	return vdl_vslot_start_chunk(xs->data, x, vdl_chunk_of(xs->job), err);
}

static void requeue(void *ctx, vxfer_job *job)
{
	sender *s = ctx;
	vdl_gtfetch *t = vdl_map_fetch_of(s->r, job);
	if (t)
		t->active = false;
	else
		vdl_chunk_of(job)->active = false;
}

/* Done: counted, and saved with the next state. */
static void finish(vdl_run *r, vdl_chunk *c, uint64_t skipped)
{
	c->done = true;
	c->active = false;
	r->done_bytes += c->len;
	r->zero_skipped += skipped;
	r->dirty = true;
}

/* The chunk's bytes are in: its digests kept, then done, or filled
 * first (its holes are zeros to write). */
static void fetched(vdl_run *r, vdl_vslot *sl, vdl_chunk *c)
{
	vdl_vmdk *v = r->vmdk;
	vdl_vchunk *vx = vx_of(r, c);
	if (vx->ge > sl->wpos)
		sl->wcrc = vdl_crc32c_zeros(sl->wcrc, vx->ge - sl->wpos);
	vx->wcrc = sl->wcrc;
	vx->seen = sl->seen;
	vx->used = sl->used;
	if (sl->decode_failed && !v->decode_failed) {
		v->decode_failed = true;
		verr_move(&v->decode_err, &sl->decode_err);
	}
	c->crc = sl->crc;
	c->crc64 = sl->crc64;
	c->has_md5 = false;
	if (sl->md5) {
		unsigned len = 0;
		c->has_md5 = EVP_DigestFinal_ex(sl->md5, c->md5, &len) && len == 16;
		EVP_MD_CTX_free(sl->md5);
		sl->md5 = NULL;
	}
	uint64_t holes = vx->ge - vx->gs - sl->gbytes;
	if ((!r->skip_zero || c->stale) && holes) {
		vx->filling = true; /* c stays active until its zeros are in */
		vx->fill = vx->gs;
		return;
	}
	finish(r, c, sl->skipped + holes);
}

static int ended(void *ctx, vxfer_slot *xs, vxfer_outcome *out,
		 vmie_error *err)
{
	sender *s = ctx;
	vdl_run *r = s->r;
	vdl_vslot *sl = xs->data;
	const vhttp_response *rs = &xs->rs;
	bool whole = vdl_vslot_end(sl);
	bool ok = whole && rs->transport == VHTTP_OK &&
		  (rs->status == 200 || rs->status == 206);
	if (sl->t) {
		vdl_gtfetch *t = sl->t;
		sl->t = NULL;
		if (!ok)
			return vdl_send_failed(rs, out);
		int rc = vdl_map_fetched(r, t, err);
		return rc == 0 ? VXFER_DONE : rc;
	}
	vdl_chunk *c = sl->c;
	sl->c = NULL;
	if (sl->write_errno) {
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "cannot write to %s at offset %" PRIu64 ": %s",
			 r->o->path, sl->write_at, strerror(sl->write_errno));
		return verr_hint(err, "check the free space and the device, "
				      "then run the download again");
	}
	if (!ok)
		return vdl_send_failed(rs, out);
	fetched(r, sl, c);
	return VXFER_DONE;
}

static int give_up(void *ctx, vxfer_slot *xs, int attempts,
		   const vxfer_outcome *out, vmie_error *err)
{
	sender *s = ctx;
	vdl_gtfetch *t = vdl_map_fetch_of(s->r, xs->job);
	if (t)
		return vdl_send_give_up(s->r, &xs->rs, attempts, out, t->off,
					t->len, err);
	const vdl_chunk *c = vdl_chunk_of(xs->job);
	return vdl_send_give_up(s->r, &xs->rs, attempts, out, c->off, c->len,
				err);
}

bool vdl_vmdk_fill(vdl_run *r, vdl_chunk *c, uint64_t *budget, int *e)
{
	vdl_vmdk *v = r->vmdk;
	vdl_vchunk *vx = vx_of(r, c);
	if (!v->zeros)
		v->zeros = xcalloc(1, VDL_BLOCK);
	while (vx->fill < vx->ge && *budget) {
		uint64_t hole_end = vx->ge;
		if (vx->fill_g < vx->g_end) {
			const vmdk_grain *g = vdl_grain(v, vx->fill_g);
			if (vx->fill >= g->guest) {
				/* Step over the grain (its bytes are in). */
				uint64_t end = g->guest + v->so.grain;
				if (vx->fill < end)
					vx->fill = end < vx->ge ? end : vx->ge;
				vx->fill_g++;
				continue;
			}
			hole_end = g->guest < vx->ge ? g->guest : vx->ge;
		}
		uint64_t n = hole_end - vx->fill;
		if (n > *budget)
			n = *budget;
		if (n > VDL_BLOCK)
			n = VDL_BLOCK;
		*e = vdl_target_write(&r->t, v->zeros, (size_t)n, vx->fill, false,
				      NULL);
		if (*e)
			return false;
		vx->fill += n;
		*budget -= n;
		v->filled += n;
	}
	return vx->fill >= vx->ge;
}

/* A slice of the zeros still to write; true when more are left. */
static int fill_some(sender *s, bool *more, vmie_error *err)
{
	vdl_run *r = s->r;
	uint64_t budget = FILL_STEP;
	*more = false;
	for (size_t i = first_open(s); i < r->plan.n; i++) {
		vdl_chunk *c = &r->plan.chunks[i];
		vdl_vchunk *vx = vx_of(r, c);
		if (!vx->filling)
			continue;
		if (!budget) {
			*more = true;
			return 0;
		}
		int e = 0;
		if (vdl_vmdk_fill(r, c, &budget, &e)) {
			vx->filling = false;
			finish(r, c, 0);
		} else if (e) {
			verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				 "cannot write zeros to %s at offset %" PRIu64
				 ": %s", r->o->path, vx->fill, strerror(e));
			return verr_hint(err, "check the device, then run the "
					      "download again");
		} else {
			*more = true;
		}
	}
	return 0;
}

static int tick(void *ctx, uint64_t moving, bool final, vmie_error *err)
{
	sender *s = ctx;
	vdl_run *r = s->r;
	if (!final) {
		bool more = false;
		int rc = fill_some(s, &more, err);
		if (rc != 0)
			return rc;
		if (more)
			vxfer_wake(s->x); /* no waiting in poll meanwhile */
		size_t i = first_open(s);
		vdl_map_prune(r, i < r->plan.n ? r->plan.chunks[i].off
					       : UINT64_MAX);
	}
	return vdl_send_tick(s, moving, final, err);
}

static const vxfer_ops ops = {next, start, ended, requeue, give_up, tick};

int vdl_vmdk_send_all(vdl_run *r, vmie_error *err)
{
	/* Every chunk waits until the map knows its grains. */
	for (size_t i = 0; i < r->plan.n; i++)
		if (!r->plan.chunks[i].done)
			r->plan.chunks[i].job.not_before = LLONG_MAX;
	r->vmdk->released = 0;
	sender s;
	vxfer *x = vdl_send_new(r, &s, &ops, err);
	if (!x)
		return VMIE_ERR_AWS_CLIENT_INIT_FAILED;
	vdl_vslot *slots = xcalloc(s.nslots, sizeof(*slots));
	s.slots = slots;
	for (unsigned i = 0; i < s.nslots; i++) {
		slots[i].r = r;
		slots[i].xs = vxfer_slot_at(x, i);
		slots[i].xs->data = &slots[i];
	}
	int rc = vxfer_run(x, err);
	r->connects = vxfer_connects(x);
	vxfer_free(x);
	for (unsigned i = 0; i < s.nslots; i++)
		vdl_vslot_free(&slots[i]);
	free(slots);
	/* A chunk still filling is fetched again by the next run. */
	for (size_t i = 0; i < r->plan.n; i++)
		if (r->plan.vx[i].filling) {
			r->plan.vx[i].filling = false;
			r->plan.chunks[i].active = false;
		}
	if (rc == 0 && r->vmdk->filled)
		vlog_debug("wrote %" PRIu64 " bytes of zeros into the disk's "
			   "holes", r->vmdk->filled);
	return rc;
}
