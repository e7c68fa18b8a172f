/*
 * A source that reads a disk from another source and gives it as a
 * streamOptimized VMDK, made on the fly: one pass, no temporary file,
 * memory bounded whatever the disk (a few batches in flight, one grain
 * table, the grain directory: 256 KiB for 2 TiB).
 *
 * The caller's thread (the upload's producer) reads the disk in batches
 * of grains into a small ring of slots; worker threads deflate each
 * batch's grains into ready-made records; the caller's thread emits the
 * slots in order, so the output is the same whatever the timing: the
 * head, each batch's records, each grain table after the grains it
 * covers (left out when they are all zero), and at the end the grain
 * directory, the footer and the end-of-stream marker (image/vmdk_write.h).
 *
 * All-zero grains are left out; the holes of a sparse local file are not
 * even read (vsource_skip_zeros), so a 2 TiB disk with a few grains of
 * data costs what its data costs.
 */
#include "transfer/source_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "image/vmdk_codec.h"
#include "image/vmdk_write.h"
#include "transfer/sniff.h"

#define G VMDK_W_GRAIN
#define GRAIN_SECTORS (G / VMDK_SECTOR)
#define BATCH_GRAINS 32u /* 2 MiB of disk; divides a grain table's 512 */
#define BATCH_BYTES ((uint64_t)BATCH_GRAINS * G)
#define SLOTS_PER_THREAD 2u
#define MAX_THREADS 8u
#define ZERO_GRAIN UINT32_MAX /* a rec_off: no record */

typedef enum { SLOT_FREE, SLOT_READY, SLOT_BUSY, SLOT_DONE } slot_state;

typedef struct slot {
	slot_state state;
	uint64_t seq;          /* the batch */
	uint64_t first;        /* its first grain */
	unsigned n;            /* grains in it */
	uint32_t holes;        /* bit j: grain j is a hole, never read */
	unsigned char *raw;    /* n grains of disk */
	unsigned char *out;    /* their records, back to back */
	size_t out_len;
	uint32_t rec_off[BATCH_GRAINS]; /* sector of grain j's record in out */
} slot;

typedef enum { EMIT_BODY, EMIT_TAIL, EMIT_END } emit_phase;

typedef struct vmdk_src {
	vsource *self;
	vsource *inner;
	char *extent_name;
	uint64_t disk;         /* bytes */
	uint64_t ngrains, nbatches;

	pthread_mutex_t mu;
	pthread_cond_t work;   /* workers wait here */
	pthread_cond_t done;   /* the reader waits here */
	bool quit;
	slot *slots;
	unsigned nslots;
	pthread_t threads[MAX_THREADS];
	unsigned nthreads;

	/* The reading side (the caller's thread only). */
	uint64_t next_fill;    /* batch */
	uint64_t pos;          /* bytes of disk taken from inner */
	uint64_t hole_left;    /* bytes of a hole skipped in inner, not yet used */
	uint64_t probe_at;     /* ask inner for a hole again from here */
	unsigned char *head;   /* the disk's first VSNIFF_HEAD bytes */
	size_t head_len;

	/* The emitting side (the caller's thread only). */
	emit_phase phase;
	uint64_t next_emit;    /* batch */
	slot *emitting;        /* being served; freed once served */
	const unsigned char *seg;
	size_t seg_len;
	unsigned char *meta;   /* head, a table, the tail */
	uint64_t sector;       /* sectors emitted so far */
	uint32_t gt[VMDK_W_GTES];
	bool gt_used;
	uint32_t *gd;
	uint64_t ngd;
	bool failed;
} vmdk_src;

/* --- workers ------------------------------------------------------------ */

static void deflate_batch(slot *sl, vmdk_deflater *d)
{
	size_t p = 0;
	for (unsigned j = 0; j < sl->n; j++) {
		const unsigned char *g = sl->raw + (size_t)j * G;
		if ((sl->holes >> j & 1u) || vmdk_all_zero(g, G)) {
			sl->rec_off[j] = ZERO_GRAIN;
			continue;
		}
		unsigned char *rec = sl->out + p;
		size_t n = vmdk_deflate(d, g, G, rec + VMDK_GRAIN_MARKER,
					VMDK_W_RECORD_MAX - VMDK_GRAIN_MARKER);
		sl->rec_off[j] = (uint32_t)(p / VMDK_SECTOR);
		p += vmdk_w_grain_record(rec, (sl->first + j) * GRAIN_SECTORS, n);
	}
	sl->out_len = p;
}

/* The READY slot of the lowest batch, or NULL. */
static slot *ready_slot(vmdk_src *v)
{
	slot *best = NULL;
	for (unsigned i = 0; i < v->nslots; i++)
		if (v->slots[i].state == SLOT_READY &&
		    (!best || v->slots[i].seq < best->seq))
			best = &v->slots[i];
	return best;
}

static void *worker(void *arg)
{
	vmdk_src *v = arg;
	vmdk_deflater *d = vmdk_deflater_new();

	pthread_mutex_lock(&v->mu);
	for (;;) {
		slot *sl;
		while (!v->quit && !(sl = ready_slot(v)))
			pthread_cond_wait(&v->work, &v->mu);
		if (v->quit)
			break;
		sl->state = SLOT_BUSY;
		pthread_mutex_unlock(&v->mu);
		deflate_batch(sl, d);
		pthread_mutex_lock(&v->mu);
		sl->state = SLOT_DONE;
		pthread_cond_broadcast(&v->done);
	}
	pthread_mutex_unlock(&v->mu);
	vmdk_deflater_free(d);
	return NULL;
}

/* --- reading the disk ----------------------------------------------------- */

static int short_source(vmdk_src *v, vmie_error *err)
{
	verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
		 "%s ended after %llu of the %llu bytes it announced",
		 vsource_name(v->inner), (unsigned long long)v->pos,
		 (unsigned long long)v->disk);
	return verr_hint(err, "the file changed while it was read, or the "
			      "download was cut: upload it again");
}

/* Asks inner for a hole at pos: once per batch of data, at once after a
 * hole (another may follow it). */
static int probe_hole(vmdk_src *v, vmie_error *err)
{
	if (v->hole_left || v->pos < v->probe_at)
		return 0;
	long long k = vsource_skip_zeros(v->inner, v->disk - v->pos, err);
	if (k < 0)
		return -1;
	v->hole_left = (uint64_t)k;
	v->probe_at = v->pos + (k ? (uint64_t)k : BATCH_BYTES);
	return 0;
}

static void keep_head(vmdk_src *v, const unsigned char *data, uint64_t at,
		      size_t len, bool zeros)
{
	if (at >= VSNIFF_HEAD)
		return;
	size_t n = at + len > VSNIFF_HEAD ? (size_t)(VSNIFF_HEAD - at) : len;
	if (zeros)
		memset(v->head + at, 0, n);
	else
		memcpy(v->head + at, data, n);
	if (at + n > v->head_len)
		v->head_len = (size_t)(at + n);
}

/* One grain (glen bytes of disk: G, or the disk's last bytes) into g. */
static int fill_grain(vmdk_src *v, slot *sl, unsigned j, vmie_error *err)
{
	unsigned char *g = sl->raw + (size_t)j * G;
	uint64_t glen = v->disk - v->pos < G ? v->disk - v->pos : G;
	uint64_t have = 0;

	while (have < glen) {
		if (probe_hole(v, err) < 0)
			return -1;
		if (v->hole_left) {
			uint64_t take = v->hole_left < glen - have
						? v->hole_left : glen - have;
			if (have == 0 && take == G)
				sl->holes |= 1u << j; /* not even zeroed */
			else
				memset(g + have, 0, (size_t)take);
			keep_head(v, NULL, v->pos, (size_t)take, true);
			v->hole_left -= take;
			v->pos += take;
			have += take;
			continue;
		}
		long long got = vsource_read(v->inner, g + have,
					     (size_t)(glen - have), err);
		if (got < 0)
			return -1;
		if (got == 0)
			return short_source(v, err);
		keep_head(v, g + have, v->pos, (size_t)got, false);
		v->pos += (uint64_t)got;
		have += (uint64_t)got;
	}
	if (glen < G)
		memset(g + glen, 0, (size_t)(G - glen));
	return 0;
}

/* After the last byte: the source must end there. */
static int check_end(vmdk_src *v, vmie_error *err)
{
	unsigned char extra;
	if (v->hole_left)
		return 0; /* a hole to the end: inner is at its end */
	long long got = vsource_read(v->inner, &extra, 1, err);
	if (got < 0)
		return -1;
	if (got > 0) {
		verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
			 "%s gave more than the %llu bytes it announced",
			 vsource_name(v->inner), (unsigned long long)v->disk);
		return verr_hint(err, "the file changed while it was read: "
				      "upload it again once nothing writes "
				      "to it");
	}
	return 0;
}

static int fill_batch(vmdk_src *v, slot *sl, vmie_error *err)
{
	sl->seq = v->next_fill;
	sl->first = sl->seq * BATCH_GRAINS;
	sl->n = (unsigned)(v->ngrains - sl->first < BATCH_GRAINS
				   ? v->ngrains - sl->first : BATCH_GRAINS);
	sl->holes = 0;
	for (unsigned j = 0; j < sl->n; j++)
		if (fill_grain(v, sl, j, err) < 0)
			return -1;
	v->self->raw_offset = vsource_raw_offset(v->inner);
	if (++v->next_fill == v->nbatches)
		return check_end(v, err);
	return 0;
}

/* Fills every free slot with the next batches and hands them to the
 * workers (a batch of holes only needs none). */
static int fill_slots(vmdk_src *v, vmie_error *err)
{
	while (v->next_fill < v->nbatches) {
		slot *sl = NULL;
		pthread_mutex_lock(&v->mu);
		for (unsigned i = 0; i < v->nslots && !sl; i++)
			if (v->slots[i].state == SLOT_FREE)
				sl = &v->slots[i];
		pthread_mutex_unlock(&v->mu);
		if (!sl)
			return 0;
		if (fill_batch(v, sl, err) < 0)
			return -1;
		bool all_holes = sl->holes == (sl->n == BATCH_GRAINS
							   ? UINT32_MAX
							   : (1u << sl->n) - 1);
		pthread_mutex_lock(&v->mu);
		if (all_holes) {
			for (unsigned j = 0; j < sl->n; j++)
				sl->rec_off[j] = ZERO_GRAIN;
			sl->out_len = 0;
			sl->state = SLOT_DONE;
		} else {
			sl->state = SLOT_READY;
			pthread_cond_signal(&v->work);
		}
		pthread_mutex_unlock(&v->mu);
	}
	return 0;
}

/* --- emitting ------------------------------------------------------------- */

static int too_large(vmdk_src *v, vmie_error *err)
{
	verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
		 "the disk's data does not fit in a VMDK (2 TiB of compressed "
		 "grains at most), at byte %llu of %llu",
		 (unsigned long long)v->pos, (unsigned long long)v->disk);
	return verr_hint(err, "send the image as it is: --upload-format as-is");
}

static void serve(vmdk_src *v, const unsigned char *p, size_t len)
{
	v->seg = p;
	v->seg_len = len;
}

/* The table that ends with grain `last` is complete: out with it, unless
 * all its grains were left out. */
static int flush_gt(vmdk_src *v, uint64_t last, vmie_error *err)
{
	uint64_t idx = last / VMDK_W_GTES;
	if (!v->gt_used) {
		v->gd[idx] = 0;
		return 0;
	}
	if (v->sector + VMDK_W_GT_RECORD / VMDK_SECTOR > VMDK_W_MAX_SECTORS)
		return too_large(v, err);
	vmdk_w_gt(v->meta, v->gt);
	v->gd[idx] = (uint32_t)(v->sector + 1);
	v->sector += VMDK_W_GT_RECORD / VMDK_SECTOR;
	memset(v->gt, 0, sizeof(v->gt));
	v->gt_used = false;
	serve(v, v->meta, VMDK_W_GT_RECORD);
	return 0;
}

/* The slot just served goes back to the ring; the table it completed
 * follows it. */
static int release(vmdk_src *v, vmie_error *err)
{
	slot *sl = v->emitting;
	uint64_t last = sl->first + sl->n - 1;
	v->emitting = NULL;
	pthread_mutex_lock(&v->mu);
	sl->state = SLOT_FREE;
	pthread_mutex_unlock(&v->mu);
	if ((last + 1) % VMDK_W_GTES == 0 || last + 1 == v->ngrains)
		return flush_gt(v, last, err);
	return 0;
}

static slot *wait_done(vmdk_src *v, uint64_t seq)
{
	pthread_mutex_lock(&v->mu);
	for (;;) {
		for (unsigned i = 0; i < v->nslots; i++) {
			slot *sl = &v->slots[i];
			if (sl->state == SLOT_DONE && sl->seq == seq) {
				pthread_mutex_unlock(&v->mu);
				return sl;
			}
		}
		pthread_cond_wait(&v->done, &v->mu);
	}
}

static int emit_batch(vmdk_src *v, vmie_error *err)
{
	if (fill_slots(v, err) < 0)
		return -1;
	slot *sl = wait_done(v, v->next_emit++);
	if (v->sector + sl->out_len / VMDK_SECTOR > VMDK_W_MAX_SECTORS)
		return too_large(v, err);
	for (unsigned j = 0; j < sl->n; j++) {
		if (sl->rec_off[j] == ZERO_GRAIN)
			continue;
		v->gt[(sl->first + j) % VMDK_W_GTES] =
			(uint32_t)(v->sector + sl->rec_off[j]);
		v->gt_used = true;
	}
	v->sector += sl->out_len / VMDK_SECTOR;
	v->emitting = sl;
	serve(v, sl->out, sl->out_len);
	return 0;
}

static void emit_tail(vmdk_src *v)
{
	size_t len = vmdk_w_tail_size(v->ngd);
	free(v->meta);
	v->meta = xmalloc(len);
	vmdk_w_tail(v->meta, v->disk, v->gd, v->ngd, v->sector);
	v->sector += len / VMDK_SECTOR;
	serve(v, v->meta, len);
}

/* What comes after the segment just served. */
static int next_segment(vmdk_src *v, vmie_error *err)
{
	if (v->emitting && release(v, err) < 0)
		return -1;
	if (v->seg_len)
		return 0; /* a grain table */
	switch (v->phase) {
	case EMIT_BODY:
		if (v->next_emit < v->nbatches)
			return emit_batch(v, err);
		v->phase = EMIT_TAIL;
		emit_tail(v);
		return 0;
	case EMIT_TAIL:
		v->phase = EMIT_END;
		return 0;
	case EMIT_END:
		return 0;
	}
	return 0;
}

static long long vmdk_read(vsource *s, void *buf, size_t len, vmie_error *err)
{
	vmdk_src *v = s->impl;
	if (v->failed)
		return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
				"the VMDK writer already failed"), -1;
	while (!v->seg_len && v->phase != EMIT_END) {
		if (next_segment(v, err) < 0) {
			v->failed = true;
			return -1;
		}
	}
	size_t n = v->seg_len < len ? v->seg_len : len;
	memcpy(buf, v->seg, n);
	v->seg += n;
	v->seg_len -= n;
	return (long long)n;
}

static void vmdk_free(vsource *s)
{
	vmdk_src *v = s->impl;
	pthread_mutex_lock(&v->mu);
	v->quit = true;
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&v->mu);
	for (unsigned i = 0; i < v->nthreads; i++)
		pthread_join(v->threads[i], NULL);
	for (unsigned i = 0; i < v->nslots; i++) {
		free(v->slots[i].raw);
		free(v->slots[i].out);
	}
	free(v->slots);
	pthread_cond_destroy(&v->work);
	pthread_cond_destroy(&v->done);
	pthread_mutex_destroy(&v->mu);
	vsource_free(v->inner);
	free(v->extent_name);
	free(v->head);
	free(v->meta);
	free(v->gd);
	free(v);
}

static const vsource_ops vmdk_ops = {vmdk_read, vmdk_free, NULL};

int vsource_open_vmdk(vsource *inner, const char *name, unsigned threads,
		      vsource **out, vmie_error *err)
{
	uint64_t disk = vsource_size(inner);
	vmdk_src *v = xcalloc(1, sizeof(*v));
	vsource *s = vsource_alloc(&vmdk_ops, v);

	*out = NULL;
	v->self = s;
	v->inner = inner;
	s->inner = inner;
	s->raw_size = inner->raw_size;
	s->raw_offset = vsource_raw_offset(inner);
	s->name = xstrdup(name);
	s->compression = inner->compression;
	v->disk = disk;
	v->ngrains = disk / G + (disk % G != 0);
	v->nbatches = v->ngrains / BATCH_GRAINS + (v->ngrains % BATCH_GRAINS != 0);
	v->ngd = vmdk_w_gd_entries(disk);
	v->gd = xcalloc(v->ngd ? v->ngd : 1, sizeof(*v->gd));
	v->head = xcalloc(1, VSNIFF_HEAD);
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->work, NULL);
	pthread_cond_init(&v->done, NULL);
	threads = threads ? threads : 2;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	v->nslots = threads * SLOTS_PER_THREAD;
	v->slots = xcalloc(v->nslots, sizeof(*v->slots));
	for (unsigned i = 0; i < v->nslots; i++) {
		v->slots[i].raw = xmalloc(BATCH_BYTES);
		v->slots[i].out = xmalloc((size_t)BATCH_GRAINS * VMDK_W_RECORD_MAX);
	}
	for (unsigned i = 0; i < threads; i++) {
		int rc = pthread_create(&v->threads[i], NULL, worker, v);
		if (rc != 0) {
			verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
				 "cannot start a compression thread: %s",
				 strerror(rc));
			vsource_free(s);
			return -1;
		}
		v->nthreads++;
	}
	/* The head goes first: header and descriptor. */
	v->meta = xmalloc(VMDK_W_HEAD_MAX);
	size_t head = vmdk_w_head(v->meta, disk, name);
	v->sector = head / VMDK_SECTOR;
	serve(v, v->meta, head);
	*out = s;
	return 0;
}

const void *vsource_vmdk_head(const vsource *s, size_t *len)
{
	if (s->ops != &vmdk_ops) {
		*len = 0;
		return NULL;
	}
	const vmdk_src *v = s->impl;
	*len = v->head_len;
	return v->head;
}

uint64_t vsource_vmdk_disk_size(const vsource *s)
{
	return s->ops == &vmdk_ops ? ((const vmdk_src *)s->impl)->disk : 0;
}
