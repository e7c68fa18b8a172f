/*
 * The producer: one thread that reads the source into the pool's part
 * buffers, computing each part's CRC32C and feeding on_bytes as the bytes
 * arrive (while they are still in cache), so reading and checksumming
 * overlap with the sender's network work.  Memory is the pool: a buffer
 * is reused once its part is in S3, and grows only when parts grow.
 */
#include "transfer/upload_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"

/* Reads (and CRCs) at most this much at a time: the bytes are still in
 * the CPU's cache when the CRC and the sniffer see them. */
#define READ_CHUNK (256u << 10)

/* fill()'s answer when asked to stop: not a status (those are < 0). */
#define STOPPED 1

static void *producer(void *arg);

void vup_pool_init(vup_pool *p, unsigned nbufs, vsource *src,
		   const vupload_opts *o, vup_wake_fn wake, void *wake_ctx)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->bufs = xcalloc(nbufs, sizeof(*p->bufs));
	p->nbufs = nbufs;
	p->src = src;
	p->o = o;
	p->size = vsource_size(src);
	p->wake = wake;
	p->wake_ctx = wake_ctx;
	p->head_ok = o->check_head == NULL;
	if (o->resume && o->resume->first_part > 1) {
		/* The head is in S3 already, checked by the run that sent it
		 * (and by the caller again). */
		p->head_ok = true;
		p->nparts = o->resume->first_part - 1;
		p->bytes_read = o->resume->offset;
	}
	atomic_init(&p->stop, false);
	/* A read waiting on a stalled server must not hold up a stop. */
	vsource_set_stop(src, &p->stop);
}

int vup_pool_start(vup_pool *p, vmie_error *err)
{
	int rc = pthread_create(&p->thread, NULL, producer, p);
	if (rc != 0)
		return verr_set(err, VMIE_ERR_GENERAL_OPERATION_FAILED,
				"cannot start the thread that reads the "
				"source: %s",
				strerror(rc));
	p->started = true;
	return 0;
}

void vup_pool_stop(vup_pool *p)
{
	if (!p->started)
		return;
	atomic_store(&p->stop, true);
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	p->started = false;
}

void vup_pool_free(vup_pool *p)
{
	if (!p->bufs)
		return;
	vup_pool_stop(p);
	for (unsigned i = 0; i < p->nbufs; i++)
		free(p->bufs[i].data);
	free(p->bufs);
	vmie_error_clear(&p->err);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	memset(p, 0, sizeof(*p));
}

static int source_mismatch(const vup_pool *p, vmie_error *err)
{
	verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
		 "the source gave %s bytes than the %llu it announced",
		 p->bytes_read > p->size ? "more" : "fewer",
		 (unsigned long long)p->size);
	verr_hint(err, "the file changed while it was read: upload it again "
		       "once nothing writes to it");
	return VMIE_ERR_FILE_PROCESS_FAILED;
}

/* Fills b with part n.  Returns 0 (with *at_end when the source ended),
 * STOPPED when asked to stop, or a status with err set. */
static int fill(vup_pool *p, vup_buf *b, unsigned n, bool *at_end,
		vmie_error *err)
{
	size_t want = 1; /* past the last part: only the end may come */
	if (n <= VUPLOAD_MAX_PARTS) {
		want = vup_part_size(p->o, p->size, n);
		if (p->size) {
			uint64_t left = p->size > p->bytes_read
						? p->size - p->bytes_read
						: 0;
			if (left < want)
				want = (size_t)left;
		}
		/* A known size used up: read once more to see the end. */
		if (want == 0)
			want = 1;
	}
	if (b->cap < want) {
		free(b->data);
		b->data = xmalloc(want);
		b->cap = want;
	}
	b->len = 0;
	b->crc = 0;
	*at_end = false;
	while (b->len < want) {
		if (atomic_load(&p->stop))
			return STOPPED;
		size_t ask = want - b->len < READ_CHUNK ? want - b->len
							 : READ_CHUNK;
		unsigned char *data = b->data + b->len;
		long long got = vsource_read(p->src, data, ask, err);
		if (got < 0 && atomic_load(&p->stop))
			return STOPPED; /* our own stop, not a source failure */
		if (got < 0 && err->status)
			return err->status;
		if (got < 0)
			return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
					"reading the source failed");
		if (got == 0) {
			*at_end = true;
			break;
		}
		if ((unsigned long long)got > ask)
			return verr_set(err, VMIE_ERR_FILE_PROCESS_FAILED,
					"the source returned more bytes than "
					"asked for");
		b->crc = vcrc32c(b->crc, data, (size_t)got);
		if (p->o->on_bytes)
			p->o->on_bytes(p->o->bytes_ctx, data, (size_t)got);
		b->len += (size_t)got;
		p->bytes_read += (uint64_t)got;
	}
	if (p->size && (p->bytes_read > p->size ||
			(*at_end && p->bytes_read < p->size)))
		return source_mismatch(p, err);
	if (p->bytes_read > VUP_MAX_OBJECT) {
		verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
			 "the image is larger than S3's 5 TiB object limit");
		return verr_hint(err, "EC2 cannot import it from S3 either: "
				      "shrink the disk first");
	}
	if (n > VUPLOAD_MAX_PARTS && b->len > 0) {
		verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
			 "the stream is longer than %u parts of this size can "
			 "hold",
			 VUPLOAD_MAX_PARTS);
		return verr_hint(err, "use a larger part size");
	}
	return 0;
}

static vup_buf *free_buf(vup_pool *p)
{
	for (unsigned i = 0; i < p->nbufs; i++)
		if (p->bufs[i].state == VUP_FREE)
			return &p->bufs[i];
	return NULL;
}

/* Waits for a free buffer, marks it FILLING for the next part number;
 * NULL when asked to stop. */
static vup_buf *next_buffer(vup_pool *p, unsigned *n)
{
	vup_buf *b = NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (atomic_load(&p->stop))
			break;
		/* Nothing past the head is read until check_head has
		 * passed it: a refused image costs one part. */
		if (p->nparts == 0 || p->head_ok) {
			b = free_buf(p);
			if (b)
				break;
		}
		pthread_cond_wait(&p->cv, &p->mu);
	}
	if (b) {
		b->state = VUP_FILLING;
		*n = ++p->nparts;
	}
	pthread_mutex_unlock(&p->mu);
	return b;
}

static void *producer(void *arg)
{
	vup_pool *p = arg;
	bool done = false;
	while (!done) {
		unsigned n;
		vup_buf *b = next_buffer(p, &n);
		if (!b)
			break;
		vmie_error err = {0};
		bool at_end = false;
		int rc = fill(p, b, n, &at_end, &err);

		pthread_mutex_lock(&p->mu);
		if (rc != 0 || (b->len == 0 && n > 1)) {
			/* A failure, a stop, or the end found on a part
			 * boundary: this part does not exist. */
			b->state = VUP_FREE;
			p->nparts--;
			if (rc < 0) {
				p->status = rc;
				verr_move(&p->err, &err);
			} else if (rc == 0) {
				p->eof = true;
			}
			done = true;
		} else {
			b->part = n;
			b->state = VUP_READY;
			b->job = (vxfer_job)VXFER_JOB_INIT;
			if (at_end) {
				p->eof = true;
				done = true;
			}
		}
		pthread_mutex_unlock(&p->mu);
		vmie_error_clear(&err);
		if (p->wake)
			p->wake(p->wake_ctx);
	}
	return NULL;
}
