/*
 * VMDK to RAW mode (download_vmdk.h): what a slot does with the bytes of
 * its GET.  A table GET keeps them for the map.  A chunk's bytes, as
 * they arrive and in one pass:
 *  - its own range [start, end) is hashed for the object's checksum
 *    (CRC32C, CRC-64/NVME when that is the check, the part's MD5);
 *  - where other requests read the same bytes (metadata regions, and the
 *    head of the chunk that the grain before it reaches into) their
 *    pieces go into `seen`; the bytes it reads past its end (the rest of
 *    its last grain) go into `used`, cut at chunk boundaries;
 *  - each grain that starts in it is gathered (the record its marker
 *    says, at most its bound), inflated and written at its guest offset,
 *    and the CRC32C of the disk bytes it owns (zeros between grains
 *    included) is kept for a resumed run to check them.
 * Memory: a record and a grain per slot.
 */
#include "transfer/download_vmdk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/endian.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"
#include "codec/crc64nvme.h"

#define MAX_ERROR_BODY (64u << 10)

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void digest(vdl_vslot *s, const unsigned char *p, uint64_t a,
		   uint64_t b)
{
	if (a >= s->end)
		return;
	size_t n = (size_t)(min64(b, s->end) - a);
	s->crc = vcrc32c(s->crc, p, n);
	if (s->r->obj.verify == VDL_VERIFY_CRC64)
		s->crc64 = vcrc64nvme(s->crc64, p, n);
	if (s->md5)
		EVP_DigestUpdate(s->md5, p, n);
}

/* The metadata regions' pieces inside [start, end). */
static void regions(vdl_vslot *s, const unsigned char *p, uint64_t a,
		    uint64_t b)
{
	const vdl_vmdk *v = s->r->vmdk;
	uint64_t lim = min64(b, s->end);
	while (s->ri < v->nreg && a < lim) {
		const vdl_region *g = &v->reg[s->ri];
		uint64_t ps = max64(g->off, s->start);
		uint64_t pe = min64(g->off + g->len, s->end);
		if (ps >= lim)
			return;
		uint64_t x = max64(a, ps), y = min64(lim, pe);
		if (y > x)
			s->rcrc = vcrc32c(s->rcrc, p + (x - a), (size_t)(y - x));
		if (y < pe)
			return;
		s->seen += vdl_vmdk_piece(ps, pe - ps, s->rcrc);
		s->rcrc = 0;
		s->ri++;
	}
}

/* The chunk's head that the grain before it reaches into. */
static void prefix(vdl_vslot *s, const unsigned char *p, uint64_t a,
		   uint64_t b)
{
	uint64_t pe = min64(s->pre_end, s->end);
	if (a >= pe)
		return;
	uint64_t y = min64(b, pe);
	s->pcrc = vcrc32c(s->pcrc, p, (size_t)(y - a));
	if (y == pe)
		s->seen += vdl_vmdk_piece(s->start, pe - s->start, s->pcrc);
}

/* The bytes past the chunk's end, cut where the next chunks begin. */
static void extension(vdl_vslot *s, const unsigned char *p, uint64_t a,
		      uint64_t b)
{
	const vdl_plan *pl = &s->r->plan;
	for (uint64_t x = max64(a, s->end); x < b;) {
		if (s->ecut <= x) {
			const vdl_chunk *c = &pl->chunks[vdl_chunk_index(pl, x)];
			s->ecut = min64(c->off + c->len, s->fetch_end);
		}
		uint64_t y = min64(b, s->ecut);
		s->ecrc = vcrc32c(s->ecrc, p + (x - a), (size_t)(y - x));
		if (y == s->ecut) {
			const vdl_chunk *c = &pl->chunks[vdl_chunk_index(pl, x)];
			uint64_t from = max64(c->off, s->end);
			s->used += vdl_vmdk_piece(from, y - from, s->ecrc);
			s->ecrc = 0;
		}
		x = y;
	}
}

/* A grain is whole: inflated and written.  A grain that does not inflate
 * is remembered (the object's checksum will say whether S3 holds it so);
 * a write the target refuses ends the download. */
static int grain_ready(vdl_vslot *s, const vmdk_grain *g)
{
	vdl_vmdk *v = s->r->vmdk;
	vmie_error e = {0};
	long long n = vmdk_so_inflate(&v->so, g, s->rec, s->rlen, s->out, &e);
	if (n < 0) {
		if (!s->decode_failed) {
			s->decode_failed = true;
			verr_move(&s->decode_err, &e);
		}
		vmie_error_clear(&e);
		return 0;
	}
	if (g->guest > s->wpos)
		s->wcrc = vdl_crc32c_zeros(s->wcrc, g->guest - s->wpos);
	int we = vdl_target_write(&s->r->t, s->out, (size_t)n, g->guest,
				  s->zero_skip, &s->skipped);
	if (we) {
		s->write_errno = we;
		s->write_at = g->guest;
		return -1;
	}
	s->wcrc = vcrc32c(s->wcrc, s->out, (size_t)n);
	s->wpos = g->guest + (uint64_t)n;
	s->gbytes += (uint64_t)n;
	return 0;
}

static int grains(vdl_vslot *s, const unsigned char *p, uint64_t a,
		  uint64_t b)
{
	vdl_vmdk *v = s->r->vmdk;
	while (s->gi < s->g_end) {
		const vmdk_grain *g = vdl_grain(v, s->gi);
		if (!s->rneed)
			s->rneed = (size_t)g->length;
		uint64_t from = g->offset + s->rlen, to = g->offset + s->rneed;
		if (b <= from)
			return 0;
		uint64_t x = max64(a, from), y = min64(b, to);
		memcpy(s->rec + s->rlen, p + (x - a), (size_t)(y - x));
		s->rlen += (size_t)(y - x);
		/* The marker says how much of the bound is the record. */
		if (v->so.markers && !s->sized && s->rlen >= VMDK_GRAIN_MARKER) {
			uint64_t need = VMDK_GRAIN_MARKER + (uint64_t)le32(s->rec + 8);
			if (need < s->rneed)
				s->rneed = (size_t)need;
			s->sized = true;
		}
		if (s->rlen < s->rneed)
			return 0;
		int rc = grain_ready(s, g);
		s->rlen = s->rneed = 0;
		s->sized = false;
		s->gi++;
		if (rc != 0)
			return rc;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	vdl_vslot *s = ctx;
	size_t len = size * n;
	if (!vxfer_receive(s->xs, len))
		return CURL_WRITEFUNC_PAUSE;
	if (s->body == 0) {
		long status = 0;
		curl_easy_getinfo(s->xs->easy, CURLINFO_RESPONSE_CODE, &status);
		s->body = status == 200 || status == 206 ? 1 : -1;
		if (s->body == 1 &&
		    !vdl_right_range(s->xs, status, s->start,
				     s->fetch_end - s->start, s->r->obj.size)) {
			s->bad_range = true;
			return 0;
		}
	}
	if (s->body < 0) {
		if (s->xs->rs.body.len + len <= MAX_ERROR_BODY)
			vbuf_add(&s->xs->rs.body, p, len);
		return len;
	}
	return vdl_vslot_feed(s, (const unsigned char *)p, len) ? len : 0;
}

bool vdl_vslot_feed(vdl_vslot *s, const unsigned char *b, size_t len)
{
	if (len > s->fetch_end - s->pos) {
		s->bad_range = true;
		return false;
	}
	s->r->fetched += len;
	uint64_t a = s->pos;
	s->pos += len;
	if (s->t) {
		memcpy(s->t->buf + (a - s->start), b, len);
		s->t->got += len;
		return true;
	}
	digest(s, b, a, s->pos);
	regions(s, b, a, s->pos);
	prefix(s, b, a, s->pos);
	extension(s, b, a, s->pos);
	return grains(s, b, a, s->pos) == 0;
}

static void reset(vdl_vslot *s, uint64_t start, uint64_t end,
		  uint64_t fetch_end)
{
	s->start = s->pos = start;
	s->end = end;
	s->fetch_end = fetch_end;
	s->body = 0;
	s->bad_range = false;
	s->write_errno = 0;
	s->crc = s->rcrc = s->pcrc = s->ecrc = s->wcrc = 0;
	s->crc64 = s->seen = s->used = s->skipped = s->gbytes = 0;
	s->ecut = 0;
	s->rlen = s->rneed = 0;
	s->sized = false;
	s->decode_failed = false;
	vmie_error_clear(&s->decode_err);
	if (s->md5) {
		EVP_MD_CTX_free(s->md5);
		s->md5 = NULL;
	}
}

int vdl_vslot_start_table(vdl_vslot *s, vxfer *x, vdl_gtfetch *t,
			  vmie_error *err)
{
	s->c = NULL;
	s->t = t;
	reset(s, t->off, t->off, t->off + t->len);
	s->gi = s->g_end = 0;
	t->got = 0;
	if (!t->buf)
		t->buf = xmalloc(t->len);
	return vdl_get_send(s->r, x, s->xs, t->off, t->off + t->len, on_body,
			    s, err);
}

/* The first region that ends past off. */
static size_t region_at(const vdl_vmdk *v, uint64_t off)
{
	size_t lo = 0, hi = v->nreg;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->reg[mid].off + v->reg[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t vdl_vslot_prepare_chunk(vdl_vslot *s, vdl_chunk *c)
{
	vdl_run *r = s->r;
	vdl_vmdk *v = r->vmdk;
	vdl_vchunk *vx = &r->plan.vx[c - r->plan.chunks];
	vdl_chunk_map m;
	vdl_map_chunk(r, c, &m);
	vx->gs = m.gs;
	vx->ge = m.ge;
	vx->fill_g = m.g_first;
	vx->g_end = m.g_end;
	/* Resumed: what an earlier run left of it becomes a hole again
	 * (else its zeros are written). */
	if (c->stale && r->skip_zero &&
	    (m.ge == m.gs || vdl_target_punch(&r->t, m.gs, m.ge - m.gs)))
		c->stale = false;
	s->t = NULL;
	s->c = c;
	reset(s, c->off, c->off + c->len, m.fetch_end);
	s->ri = region_at(v, c->off);
	s->pre_end = 0;
	if (m.pred) {
		s->pre_end = m.pred->offset + m.pred->length;
		if (s->pre_end > r->obj.size)
			s->pre_end = r->obj.size;
	}
	s->gi = m.g_first;
	s->g_end = m.g_end;
	s->wpos = m.gs;
	s->zero_skip = r->skip_zero && !c->stale;
	if (c->whole_part && (r->obj.verify == VDL_VERIFY_MD5 ||
			      r->obj.verify == VDL_VERIFY_MD5_MULTIPART)) {
		s->md5 = EVP_MD_CTX_new();
		if (s->md5 && !EVP_DigestInit_ex(s->md5, EVP_md5(), NULL)) {
			EVP_MD_CTX_free(s->md5);
			s->md5 = NULL;
		}
	}
	if (!s->rec) {
		s->rec = xmalloc((size_t)v->record_max);
		s->out = xmalloc(v->so.grain);
	}
	return m.fetch_end;
}

int vdl_vslot_start_chunk(vdl_vslot *s, vxfer *x, vdl_chunk *c,
			  vmie_error *err)
{
	uint64_t end = vdl_vslot_prepare_chunk(s, c);
	return vdl_get_send(s->r, x, s->xs, c->off, end, on_body, s, err);
}

bool vdl_vslot_end(vdl_vslot *s)
{
	if (s->bad_range)
		vdl_get_bad_range(&s->xs->rs);
	return s->body == 1 && !s->bad_range && !s->write_errno &&
	       s->pos == s->fetch_end;
}

void vdl_vslot_free(vdl_vslot *s)
{
	if (s->md5)
		EVP_MD_CTX_free(s->md5);
	vmie_error_clear(&s->decode_err);
	free(s->rec);
	free(s->out);
	memset(s, 0, sizeof(*s));
}
