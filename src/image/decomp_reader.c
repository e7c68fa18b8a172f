/*
 * Random access over a compressed stream (vimg_reader_decompress).  The
 * inspectors read a handful of places: the head, a footer, a superblock
 * per partition, a table here and there.  So: keep the first MiB, cache a
 * few recently read blocks, decode forward to reach a later offset and
 * start over for an earlier one.  Memory is fixed whatever the image.
 */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "codec/decode.h"

#define BLOCK (64u << 10)
#define HEAD (1u << 20)
#define NCACHE 32
#define INBUF (256u << 10)

typedef struct cached {
	uint64_t index; /* block number */
	size_t len;     /* < BLOCK only for the last block */
	uint64_t used;  /* LRU tick; 0: empty slot */
	unsigned char *data;
} cached;

typedef struct dr {
	const vimg_reader *src;
	vimg_compression c;
	vdec *dec;
	uint64_t src_off;     /* compressed bytes read so far */
	unsigned char *in;    /* INBUF of compressed bytes */
	size_t in_pos, in_len;
	bool ended;           /* the decoder reached the stream's end */
	uint64_t pos;         /* decoded bytes produced so far */
	unsigned char *head;  /* the first HEAD decoded bytes */
	size_t head_len;
	cached cache[NCACHE];
	uint64_t tick;
	unsigned char *block; /* scratch for one decoded block */
	vmie_error err;       /* the first decode failure */
} dr;

static int restart(dr *d)
{
	vdec_free(d->dec);
	/* Two threads for xz: inspection reads the head and, for a fixed
	 * VHD's footer, the end; both cores help. */
	d->dec = vdec_new(d->c, 2);
	d->src_off = 0;
	d->in_pos = d->in_len = 0;
	d->ended = false;
	d->pos = 0;
	if (!d->dec)
		return verr_set(&d->err, VMIE_ERR_FILE_DECOMPRESS_FAILED,
				"cannot start the %s decoder",
				vimg_compression_name(d->c)),
		       -1;
	return 0;
}

/* Decode the next block (BLOCK bytes, fewer at the end) into d->block;
 * returns its length, 0 at the end of the stream, -1 on corrupt data. */
static long long next_block(dr *d)
{
	unsigned char *out = d->block;
	size_t room = BLOCK;

	while (room && !d->ended) {
		if (d->in_pos == d->in_len && d->src_off < d->src->size) {
			long long got = vimg_read(d->src, d->src_off, d->in, INBUF);
			if (got <= 0)
				return verr_set(&d->err, VMIE_ERR_FILE_PROCESS_FAILED,
						"reading the compressed file failed"),
				       -1;
			d->src_off += (uint64_t)got;
			d->in_pos = 0;
			d->in_len = (size_t)got;
		}
		const unsigned char *ip = d->in + d->in_pos;
		size_t il = d->in_len - d->in_pos;
		bool eof = d->src_off >= d->src->size;
		vmie_error e = {0};
		vdec_result rc = vdec_run(d->dec, &ip, &il, &out, &room, eof, &e);
		d->in_pos = d->in_len - il;
		if (rc == VDEC_ERROR) {
			if (!d->err.message)
				verr_move(&d->err, &e);
			vmie_error_clear(&e);
			return -1;
		}
		if (rc == VDEC_END)
			d->ended = true;
	}
	size_t len = BLOCK - room;
	if (len && d->pos < HEAD) { /* the head is kept from the first pass */
		size_t n = HEAD - d->pos < len ? (size_t)(HEAD - d->pos) : len;
		if (d->pos + n > d->head_len) {
			memcpy(d->head + d->pos, d->block, n);
			d->head_len = (size_t)d->pos + n;
		}
	}
	d->pos += len;
	return (long long)len;
}

static cached *lookup(dr *d, uint64_t index)
{
	for (int i = 0; i < NCACHE; i++)
		if (d->cache[i].used && d->cache[i].index == index) {
			d->cache[i].used = ++d->tick;
			return &d->cache[i];
		}
	return NULL;
}

static cached *store(dr *d, uint64_t index, size_t len)
{
	cached *victim = &d->cache[0];
	for (int i = 1; i < NCACHE; i++)
		if (d->cache[i].used < victim->used)
			victim = &d->cache[i];
	if (!victim->data)
		victim->data = xmalloc(BLOCK);
	memcpy(victim->data, d->block, len);
	victim->index = index;
	victim->len = len;
	victim->used = ++d->tick;
	return victim;
}

/* Block `index`, from the cache or decoded (restarting when the stream
 * has already passed it).  NULL past the end or on failure. */
static cached *get_block(dr *d, uint64_t index)
{
	cached *b = lookup(d, index);
	if (b)
		return b;
	/* A decoder that failed once stays failed: the data will not mend,
	 * and a library's state after an error is not to be trusted. */
	if (d->err.message)
		return NULL;
	if (index * BLOCK < d->pos && restart(d) < 0)
		return NULL;
	for (;;) {
		uint64_t at = d->pos / BLOCK;
		long long len = next_block(d);
		if (len <= 0)
			return NULL;
		if (at == index)
			return store(d, index, (size_t)len);
	}
}

static long long dr_read_at(const vimg_reader *r, uint64_t off, void *buf,
			    size_t len)
{
	dr *d = r->ctx;
	unsigned char *p = buf;
	size_t done = 0;

	if (off >= r->size)
		return 0;
	if (len > r->size - off)
		len = (size_t)(r->size - off);
	while (done < len) {
		uint64_t at = off + done;
		size_t in_block = (size_t)(at % BLOCK);
		size_t n = BLOCK - in_block < len - done ? BLOCK - in_block : len - done;
		if (at + n <= d->head_len) {
			memcpy(p + done, d->head + at, n);
		} else {
			cached *b = get_block(d, at / BLOCK);
			if (!b)
				return d->err.message ? -1 : (long long)done;
			if (in_block >= b->len)
				break;
			if (n > b->len - in_block)
				n = b->len - in_block;
			memcpy(p + done, b->data + in_block, n);
		}
		done += n;
	}
	return (long long)done;
}

static void dr_close(vimg_reader *r)
{
	dr *d = r->ctx;
	vdec_free(d->dec);
	for (int i = 0; i < NCACHE; i++)
		free(d->cache[i].data);
	free(d->in);
	free(d->head);
	free(d->block);
	vmie_error_clear(&d->err);
	free(d);
}

/* What the image says about its own size, read through the stream:
 * decoding as far as its headers lie (a VHDX's metadata is a few MiB
 * in), never further than PROBE. */
#define PROBE (64u << 20)

static uint64_t declared_bound(dr *d, const char **what)
{
	vimg_reader probe;
	memset(&probe, 0, sizeof(probe));
	probe.read_at = dr_read_at;
	probe.ctx = d;
	probe.size = PROBE;
	uint64_t bound = vimg_declared_size_bound(&probe, what);
	/* A read past the end of a short stream is no decoding error. */
	return d->err.message ? 0 : bound;
}

/* The size the stream decodes to, by decoding all of it once (keeping
 * the head on the way), stopping at the first bound it passes: the
 * caller's limit, AWS's image size limit, or what the image's own headers
 * declare.  A decompression bomb ends there, not after 100 GiB. */
static int count_size(dr *d, uint64_t limit, uint64_t *size)
{
	const char *why = "AWS's image size limit";
	uint64_t max = vimg_max_image_size();
	if (limit && limit < max) {
		max = limit;
		why = "the limit for this image";
	}
	const char *what = NULL;
	uint64_t declared = declared_bound(d, &what);
	if (d->err.message)
		return -1;
	if (declared && declared < max) {
		max = declared;
		why = what;
	}
	long long len = 0;
	while (d->pos <= max && (len = next_block(d)) > 0)
		;
	if (d->pos > max)
		return verr_set(&d->err, VMIE_ERR_FILE_DECOMPRESS_FAILED,
				"it decompresses to more than %llu bytes, more "
				"than %s allows (a decompression bomb, or the "
				"wrong file)",
				(unsigned long long)max, why),
		       -1;
	if (len < 0)
		return -1;
	*size = d->pos;
	return 0;
}

static long long hint_read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	return vimg_read(ctx, off, buf, len);
}

bool vimg_size_hint(const vimg_reader *r, vimg_compression c, uint64_t *size)
{
	vdec_file f = {.read_at = hint_read_at, .ctx = (void *)r, .size = r->size};
	return vdec_size_hint(&f, c, size);
}

int vimg_reader_decompress(vimg_reader *out, const vimg_reader *compressed,
			   vimg_compression c, uint64_t limit, vmie_error *err)
{
	dr *d = xcalloc(1, sizeof(*d));
	uint64_t size = 0;

	memset(out, 0, sizeof(*out));
	d->src = compressed;
	d->c = c;
	d->in = xmalloc(INBUF);
	d->head = xmalloc(HEAD);
	d->block = xmalloc(BLOCK);
	if (restart(d) < 0)
		goto fail;
	bool known = vimg_size_hint(compressed, c, &size);
	uint64_t max = vimg_max_image_size();
	if (limit && limit < max)
		max = limit;
	if (known && size > max) {
		verr_set(&d->err, VMIE_ERR_FILE_DECOMPRESS_FAILED,
			 "its headers say it decompresses to %llu bytes, more "
			 "than %llu", (unsigned long long)size,
			 (unsigned long long)max);
		goto fail;
	}
	if (!known && (count_size(d, limit, &size) < 0 || restart(d) < 0))
		goto fail;
	if (known) {
		/* A size record can be as much of a lie as the data: hold it to
		 * what the image's headers declare. */
		const char *what = NULL;
		uint64_t declared = declared_bound(d, &what);
		if (d->err.message)
			goto fail;
		if (declared && size > declared) {
			verr_set(&d->err, VMIE_ERR_FILE_DECOMPRESS_FAILED,
				 "its %s headers say it decompresses to %llu "
				 "bytes, more than %s allows (%llu)",
				 vimg_compression_name(c),
				 (unsigned long long)size, what,
				 (unsigned long long)declared);
			goto fail;
		}
	}
	/* Decode the head now: a stream corrupt from its first bytes is
	 * refused at open, not on some later read. */
	while (d->pos < HEAD && !d->ended)
		if (next_block(d) < 0)
			goto fail;
	if (known && d->ended && d->pos != size) {
		verr_set(&d->err, VMIE_ERR_FILE_DECOMPRESS_FAILED,
			 "the %s headers promise %llu bytes but the data holds "
			 "%llu", vimg_compression_name(c),
			 (unsigned long long)size, (unsigned long long)d->pos);
		goto fail;
	}
	out->read_at = dr_read_at;
	out->close = dr_close;
	out->ctx = d;
	out->size = size;
	return 0;
fail:
	verr_move(err, &d->err);
	out->ctx = d;
	dr_close(out);
	memset(out, 0, sizeof(*out));
	return -1;
}
