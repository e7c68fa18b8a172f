/*
 * VMDK to RAW mode (download_vmdk.h): the grain map.  Grain tables are
 * read a window of 64 directory entries at a time (adjacent tables in one
 * GET), at most two windows ahead, and only while the grains known do not
 * reach far enough past the first unfinished chunk: the map holds the
 * grains of a few chunks, whatever the disk's size.  Windows are added in
 * order; their grains must come in disk order in the object too (every
 * streamOptimized writer's, VMware's and qemu-img's: a stream), which is
 * what lets a chunk start once a grain at or past its end is known.  Each
 * grain's length is bounded by the next grain, the next metadata and the
 * largest record (vmdk_so_grains_done), the next window's first grain
 * included: so a chunk knows exactly how far its last grain may reach,
 * and so does the next chunk, which hashes those bytes.
 */
#include "transfer/download_vmdk.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

static vdl_window *window(vdl_vmdk *v, uint64_t k)
{
	return &v->win[k % VDL_WINDOWS];
}

/* Window k: its tables, by offset, merged into GETs. */
static void open_window(vdl_vmdk *v, uint64_t k)
{
	const vmdk_so *so = &v->so;
	vdl_window *w = window(v, k);
	uint64_t idx[VDL_WINDOW];
	size_t n = 0;
	memset(w, 0, sizeof(*w));
	w->first = k * VDL_WINDOW;
	w->end = w->first + VDL_WINDOW < so->ngd ? w->first + VDL_WINDOW
						 : so->ngd;
	for (uint64_t i = w->first; i < w->end; i++) {
		if (!so->gd[i])
			continue;
		/* By the table's place (at most 64: an insertion). */
		size_t j = n++;
		for (; j > 0 && so->gd[idx[j - 1]] > so->gd[i]; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	size_t len = (size_t)so->gtes * 4;
	for (size_t j = 0; j < n; j++) {
		uint64_t off = (uint64_t)so->gd[idx[j]] * 512;
		vdl_gtfetch *f = w->nf ? &w->f[w->nf - 1] : NULL;
		/* The regions are disjoint (download_vmdk.c): off is past
		 * the previous table's end. */
		if (!f || off - (f->off + f->len) > VDL_GT_GAP ||
		    off + len - f->off > VDL_GT_GET) {
			f = &w->f[w->nf++];
			f->off = off;
			f->job = (vxfer_job)VXFER_JOB_INIT;
		}
		f->len = (size_t)(off + len - f->off);
		w->at_f[idx[j] - w->first] = (unsigned char)(f - w->f);
		w->at_off[idx[j] - w->first] = (uint32_t)(off - f->off);
	}
}

static int out_of_order(vmie_error *err)
{
	verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
		 "this VMDK's grains are not in disk order in the object (not "
		 "a stream), which vmie does not decode while downloading");
	return VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
}

/* The grain with the highest offset known (pruned or not), NULL when
 * none is. */
static vmdk_grain *last_known(vdl_vmdk *v)
{
	if (v->gn > v->g0)
		return &v->g[v->gn - 1];
	return v->have_prev ? &v->prev : NULL;
}

/* Appends a window's grains (sorted by offset) to the map. */
static int append(vdl_vmdk *v, vmie_error *err)
{
	uint64_t min_gap = v->so.markers ? VMDK_GRAIN_MARKER : 1;
	for (size_t i = 0; i < v->list.n; i++) {
		const vmdk_grain *g = &v->list.v[i];
		vmdk_grain *last = last_known(v);
		if (last) {
			if (g->offset < last->offset + min_gap ||
			    g->guest <= last->guest)
				return out_of_order(err);
			if (last->length > g->offset - last->offset)
				last->length = g->offset - last->offset;
		}
		xgrow((void **)&v->g, &v->gcap, v->gn + 1, sizeof(*v->g));
		v->g[v->gn++] = *g;
	}
	return 0;
}

/* Adds the windows whose tables have all arrived, in order. */
static int add_ready(vdl_run *r, vmie_error *err)
{
	vdl_vmdk *v = r->vmdk;
	const vmdk_so *so = &v->so;
	size_t len = (size_t)so->gtes * 4;
	while (v->wappend < v->wnext) {
		vdl_window *w = window(v, v->wappend);
		if (w->ndone < w->nf)
			return 0;
		vmdk_grains_reset(&v->list);
		int rc = 0;
		for (uint64_t i = w->first; i < w->end && rc == 0; i++) {
			if (!so->gd[i])
				continue;
			const vdl_gtfetch *f = &w->f[w->at_f[i - w->first]];
			const unsigned char *gt = f->buf + w->at_off[i - w->first];
			rc = vmdk_so_add_gt(so, i, gt, len, &v->list, err);
			v->meta_want += vdl_vmdk_pieces(&r->plan,
							(uint64_t)so->gd[i] * 512,
							gt, len);
		}
		if (rc == 0)
			rc = vmdk_so_grains_done(so, &v->list, err);
		if (rc == 0)
			rc = append(v, err);
		for (size_t j = 0; j < w->nf; j++) {
			free(w->f[j].buf);
			w->f[j].buf = NULL;
		}
		w->nf = w->ndone = 0;
		if (rc != 0) {
			verr_prefix(err, "s3://%s/%s", r->o->bucket, r->o->key);
			if (err)
				err->status = VMIE_ERR_FILE_DOWNLOAD_FAILED;
			return verr_hint(err, "run the download again; if this "
					      "persists, download the object as "
					      "it is (--download-format as-is) "
					      "and check it with qemu-img check");
		}
		v->wappend++;
		if (v->wappend * VDL_WINDOW >= so->ngd)
			v->all_known = true;
	}
	return 0;
}

static bool reaches(vdl_vmdk *v, uint64_t off)
{
	const vmdk_grain *last = last_known(v);
	return v->all_known || (last && last->offset >= off);
}

int vdl_map_next(vdl_run *r, uint64_t want, long long now, vxfer_job **job,
		 vmie_error *err)
{
	vdl_vmdk *v = r->vmdk;
	while (v->wnext * VDL_WINDOW < v->so.ngd &&
	       v->wnext - v->wappend < VDL_WINDOWS && !reaches(v, want)) {
		open_window(v, v->wnext++);
		int rc = add_ready(r, err); /* a window without tables */
		if (rc != 0)
			return rc;
	}
	for (uint64_t k = v->wappend; k < v->wnext; k++) {
		vdl_window *w = window(v, k);
		for (size_t i = 0; i < w->nf; i++) {
			vdl_gtfetch *f = &w->f[i];
			if (!f->done && !f->active && f->job.not_before <= now) {
				f->active = true;
				*job = &f->job;
				return VXFER_JOB;
			}
		}
	}
	return VXFER_NONE;
}

vdl_gtfetch *vdl_map_fetch_of(vdl_run *r, vxfer_job *job)
{
	vdl_vmdk *v = r->vmdk;
	for (unsigned k = 0; k < VDL_WINDOWS; k++)
		for (size_t i = 0; i < v->win[k].nf; i++)
			if (&v->win[k].f[i].job == job)
				return &v->win[k].f[i];
	return NULL;
}

int vdl_map_fetched(vdl_run *r, vdl_gtfetch *f, vmie_error *err)
{
	vdl_vmdk *v = r->vmdk;
	f->done = true;
	f->active = false;
	for (unsigned k = 0; k < VDL_WINDOWS; k++)
		if (f >= v->win[k].f && f < v->win[k].f + VDL_WINDOW)
			v->win[k].ndone++;
	int rc = add_ready(r, err);
	if (rc == 0)
		vdl_map_release(r);
	return rc;
}

void vdl_map_release(vdl_run *r)
{
	vdl_vmdk *v = r->vmdk;
	while (v->released < r->plan.n) {
		vdl_chunk *c = &r->plan.chunks[v->released];
		if (!reaches(v, c->off + c->len))
			return;
		if (!c->done && !c->active && c->job.not_before == LLONG_MAX)
			c->job.not_before = 0;
		v->released++;
	}
}

void vdl_map_prune(vdl_run *r, uint64_t off)
{
	vdl_vmdk *v = r->vmdk;
	while (v->g0 < v->gn && v->g[v->g0].offset < off) {
		v->prev = v->g[v->g0++];
		v->have_prev = true;
	}
	if (v->g0 > 4096 && v->g0 > (v->gn - v->g0)) {
		memmove(v->g, v->g + v->g0, (v->gn - v->g0) * sizeof(*v->g));
		v->gbase += v->g0;
		v->gn -= v->g0;
		v->g0 = 0;
	}
}

static uint64_t guest_end(const vdl_vmdk *v, const vmdk_grain *g)
{
	uint64_t end = g->guest + v->so.grain;
	return end < v->so.capacity ? end : v->so.capacity;
}

/* The first live grain (array index) at or past object offset off. */
static size_t first_at(const vdl_vmdk *v, uint64_t off)
{
	size_t lo = v->g0, hi = v->gn;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->g[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void vdl_map_chunk(vdl_run *r, const vdl_chunk *c, vdl_chunk_map *m)
{
	vdl_vmdk *v = r->vmdk;
	uint64_t end = c->off + c->len;
	size_t lo = first_at(v, c->off), hi = first_at(v, end);
	bool last_chunk = c == &r->plan.chunks[r->plan.n - 1];
	memset(m, 0, sizeof(*m));
	m->g_first = v->gbase + lo;
	m->g_end = v->gbase + hi;
	m->pred = lo > v->g0 ? &v->g[lo - 1] : v->have_prev ? &v->prev : NULL;
	m->fetch_end = end;
	if (hi > lo) {
		const vmdk_grain *g = &v->g[hi - 1];
		if (g->offset + g->length > end)
			m->fetch_end = g->offset + g->length;
	}
	if (m->fetch_end > r->obj.size)
		m->fetch_end = r->obj.size;
	/* The disk bytes it owns: the zeros since the grain before, its
	 * grains; the last chunk also the zeros to the disk's end. */
	if (hi > lo || last_chunk) {
		m->gs = m->pred ? guest_end(v, m->pred) : 0;
		m->ge = last_chunk ? v->so.capacity : guest_end(v, &v->g[hi - 1]);
	}
}
