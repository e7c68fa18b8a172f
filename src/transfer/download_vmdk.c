/*
 * VMDK to RAW mode (download_vmdk.h): what is known before the first
 * chunk.  The object's first sector and last 1536 bytes (one GET when it
 * is smaller than both), the grain directory, and where the metadata the
 * decoder reads lies; an object that is not a streamOptimized VMDK this
 * decodes is downloaded as it is instead.  Also the digests that tie the
 * bytes read by one request to those another request hashed.
 */
#include "transfer/download_vmdk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/endian.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"

uint32_t vdl_crc32c_zeros(uint32_t crc, uint64_t n)
{
	/* Appending zeros multiplies the register by x^(8n) (the combine's
	 * operator M); the CRC of n zeros is ~M(~0), so that of A then n
	 * zeros is M(crc) ^ ~M(~0): two combines, whatever n. */
	if (!n)
		return crc;
	uint32_t zeros = ~vcrc32c_combine(0xFFFFFFFFu, 0, n);
	return vcrc32c_combine(crc, zeros, n);
}

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

uint64_t vdl_vmdk_piece(uint64_t off, uint64_t len, uint32_t crc)
{
	return mix(off ^ mix(len ^ mix(0xC0FFEE00000000ull | crc)));
}

size_t vdl_chunk_index(const vdl_plan *p, uint64_t off)
{
	size_t lo = 0, hi = p->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->chunks[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

uint64_t vdl_vmdk_pieces(const vdl_plan *p, uint64_t off, const void *buf,
			 size_t len)
{
	const unsigned char *b = buf;
	uint64_t sum = 0;
	while (len > 0 && p->n) {
		const vdl_chunk *c = &p->chunks[vdl_chunk_index(p, off)];
		uint64_t room = c->off + c->len > off ? c->off + c->len - off : len;
		size_t n = room < len ? (size_t)room : len;
		sum += vdl_vmdk_piece(off, n, vcrc32c(0, b, n));
		off += n;
		b += n;
		len -= n;
	}
	return sum;
}

void vdl_vmdk_free(vdl_vmdk *v)
{
	if (!v)
		return;
	for (unsigned k = 0; k < VDL_WINDOWS; k++)
		for (size_t i = 0; i < v->win[k].nf; i++)
			free(v->win[k].f[i].buf);
	vmdk_so_free(&v->so);
	vmdk_grains_free(&v->list);
	free(v->reg);
	free(v->g);
	free(v->zeros);
	free(v->whole);
	vmie_error_clear(&v->decode_err);
	free(v);
}

/* Object bytes [off, off+len) into out, with If-Match: a synchronous GET
 * (the few KiB before any chunk; the client retries it). */
static int get_range(void *ctx, uint64_t off, size_t len, unsigned char *out,
	       vmie_error *err)
{
	vdl_run *r = ctx;
	char range[64];
	vkv h = VKV_INIT;
	vhttp_response rs = {0};
	snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, off,
		 off + len - 1);
	vkv_add(&h, "Range", range);
	vkv_add(&h, "If-Match", r->obj.etag);
	vaws_rest_request rq = {.operation = "GetObject", .method = "GET",
				.bucket = r->o->bucket, .key = r->o->key,
				.headers = &h};
	int rc = vaws_rest(r->o->client, &rq, &rs, err);
	if (rc == 0) {
		const char *cr = vkv_get_ci(&rs.headers, "Content-Range");
		unsigned long long a, b, total;
		bool whole = rs.status == 200 && off == 0 && len == r->obj.size;
		if (rs.body.len != len ||
		    (!whole && (!cr || sscanf(cr, "bytes %llu-%llu/%llu", &a,
					      &b, &total) != 3 ||
				a != off || b + 1 != off + len))) {
			verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				 "GetObject bytes %s of s3://%s/%s: S3 answered "
				 "with another range", range + 6, r->o->bucket,
				 r->o->key);
			rc = verr_hint(err, "run the download again");
		} else {
			memcpy(out, rs.body.data, len);
			r->fetched += len;
		}
	} else if (rs.status == 412) {
		verr_hint(err, "the object changed during the download: run it "
			       "again to fetch the new object");
	}
	vhttp_response_free(&rs);
	vkv_free(&h);
	return rc;
}

static int by_off(const void *a, const void *b)
{
	const vdl_region *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Where the decoder reads metadata: the two ends, the directory and each
 * table.  They must not overlap (no writer makes them so). */
static int regions(vdl_vmdk *v, uint64_t size, vmie_error *err)
{
	const vmdk_so *so = &v->so;
	size_t n = 0;
	v->reg = xcalloc((size_t)so->ngd + 3, sizeof(*v->reg));
	v->reg[n++] = (vdl_region){0, v->head_len};
	if (v->tail_len)
		v->reg[n++] = (vdl_region){size - v->tail_len, v->tail_len};
	if (so->ngd)
		v->reg[n++] = (vdl_region){so->gd_off, so->ngd * 4};
	for (uint64_t i = 0; i < so->ngd; i++)
		if (so->gd[i])
			v->reg[n++] = (vdl_region){(uint64_t)so->gd[i] * 512,
						   (uint64_t)so->gtes * 4};
	qsort(v->reg, n, sizeof(*v->reg), by_off);
	v->nreg = n;
	for (size_t i = 1; i < n; i++)
		if (v->reg[i].off < v->reg[i - 1].off + v->reg[i - 1].len) {
			verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
				 "not a streamOptimized VMDK vmie can decode: "
				 "its grain tables or directory overlap");
			return VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
		}
	return 0;
}

int vdl_vmdk_open_ends(vdl_vmdk *v, const void *head, size_t head_len,
		       const void *tail, size_t tail_len, uint64_t size,
		       vmie_error *err)
{
	if (!tail_len) {
		/* The whole object: one piece of metadata. */
		v->whole = xmalloc(head_len ? head_len : 1);
		memcpy(v->whole, head, head_len);
		v->head_len = head_len;
		if (vmdk_so_open(&v->so, head_len >= VMDK_SO_HEAD ? head : NULL,
				 head_len, head, head_len, size, err) != 0)
			return VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
	} else {
		if (head_len != VMDK_SO_HEAD || tail_len != VMDK_SO_TAIL)
			return verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
					"not a streamOptimized VMDK vmie can "
					"decode: no header and footer");
		memcpy(v->head, head, head_len);
		memcpy(v->tail, tail, tail_len);
		v->head_len = head_len;
		v->tail_len = tail_len;
		if (vmdk_so_open(&v->so, head, head_len, tail, tail_len, size,
				 err) != 0)
			return VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
	}
	v->record_max = vmdk_so_record_max(&v->so);
	return 0;
}

int vdl_vmdk_set_gd(vdl_vmdk *v, const void *gd, size_t len, uint64_t size,
		    vmie_error *err)
{
	if (vmdk_so_set_gd(&v->so, gd, len, err) != 0)
		return VMIE_ERR_FILE_UNSUPPORTED_FORMAT;
	return regions(v, size, err);
}

int vdl_vmdk_read_ends(vdl_vmdk *v, uint64_t size, vdl_fetch_fn fetch,
		       void *ctx, vmie_error *err)
{
	unsigned char both[VMDK_SO_HEAD + VMDK_SO_TAIL];
	int rc;
	if (size == 0)
		return verr_set(err, VMIE_ERR_FILE_UNSUPPORTED_FORMAT,
				"not a streamOptimized VMDK vmie can decode: "
				"the object is empty");
	if (size <= sizeof both) {
		/* One GET of it all: the two ends would overlap. */
		if ((rc = fetch(ctx, 0, (size_t)size, both, err)) != 0)
			return rc;
		rc = vdl_vmdk_open_ends(v, both, (size_t)size, NULL, 0, size,
					err);
	} else {
		if ((rc = fetch(ctx, 0, VMDK_SO_HEAD, both, err)) != 0 ||
		    (rc = fetch(ctx, size - VMDK_SO_TAIL, VMDK_SO_TAIL,
			      both + VMDK_SO_HEAD, err)) != 0)
			return rc;
		rc = vdl_vmdk_open_ends(v, both, VMDK_SO_HEAD,
					both + VMDK_SO_HEAD, VMDK_SO_TAIL, size,
					err);
	}
	if (rc != 0)
		return rc;
	uint64_t gd_off;
	size_t gd_len;
	vmdk_so_gd_range(&v->so, &gd_off, &gd_len);
	unsigned char *gd = xmalloc(gd_len ? gd_len : 1);
	rc = gd_len ? fetch(ctx, gd_off, gd_len, gd, err) : 0;
	if (rc == 0)
		rc = vdl_vmdk_set_gd(v, gd, gd_len, size, err);
	free(gd);
	return rc;
}

int vdl_vmdk_probe(vdl_run *r, vmie_error *err)
{
	vdl_vmdk *v = xcalloc(1, sizeof(*v));
	vmie_error e = {0};
	int rc = vdl_vmdk_read_ends(v, r->obj.size, get_range, r, &e);
	if (rc == VMIE_ERR_FILE_UNSUPPORTED_FORMAT) {
		r->not_decoded = xstrdup(e.message ? e.message
						   : "not a streamOptimized VMDK");
		vlog_warn("s3://%s/%s: %s: downloading it as it is, byte for "
			  "byte, to %s (convert it with qemu-img convert -O raw)",
			  r->o->bucket, r->o->key, r->not_decoded, r->o->path);
		vmie_error_clear(&e);
		vdl_vmdk_free(v);
		return 0;
	}
	if (rc != 0) {
		verr_move(err, &e);
		vdl_vmdk_free(v);
		return rc;
	}
	r->vmdk = v;
	vlog_debug("s3://%s/%s: a streamOptimized VMDK of a %" PRIu64 "-byte "
		   "disk (%u-byte grains, %" PRIu64 " tables, %s): written as "
		   "RAW", r->o->bucket, r->o->key, v->so.capacity, v->so.grain,
		   v->so.ngd, v->so.from_footer ? "footer" : "header");
	/* A chunk's MD5 or part CRC needs the parts where they really are:
	 * nothing can be read back to mend a wrong guess. */
	if (r->obj.layout_assumed &&
	    (r->obj.verify == VDL_VERIFY_CRC_COMPOSITE ||
	     r->obj.verify == VDL_VERIFY_MD5_MULTIPART))
		rc = vdl_object_exact_layout(r->o->client, r->o->bucket,
					     r->o->key, &r->obj, err);
	return rc;
}

size_t vdl_vmdk_chunk_size(const vdownload_opts *o, const vdl_object *ob)
{
	uint64_t cs = 0;
	if (ob->verify == VDL_VERIFY_MD5)
		cs = ob->size;
	else if (ob->verify == VDL_VERIFY_MD5_MULTIPART && ob->part_off)
		for (unsigned n = 1; n <= ob->parts; n++)
			if (ob->part_off[n] - ob->part_off[n - 1] > cs)
				cs = ob->part_off[n] - ob->part_off[n - 1];
	if (!cs)
		return vdl_chunk_size(o, ob);
	return (size_t)(cs < VDL_MIN_CHUNK ? VDL_MIN_CHUNK : cs);
}

void vdl_vmdk_prepare(vdl_run *r)
{
	vdl_vmdk *v = r->vmdk;
	const vdl_plan *p = &r->plan;
	const vmdk_so *so = &v->so;
	r->plan.vx = xcalloc(p->n ? p->n : 1, sizeof(*r->plan.vx));
	if (v->whole) {
		v->meta_want = vdl_vmdk_pieces(p, 0, v->whole, v->head_len);
	} else {
		v->meta_want = vdl_vmdk_pieces(p, 0, v->head, v->head_len) +
			       vdl_vmdk_pieces(p, r->obj.size - v->tail_len,
					       v->tail, v->tail_len);
	}
	/* The directory as it was read: its entries, little-endian. */
	if (so->ngd) {
		unsigned char *gd = xmalloc((size_t)so->ngd * 4);
		for (uint64_t i = 0; i < so->ngd; i++)
			put_le32(gd + 4 * i, so->gd[i]);
		v->meta_want += vdl_vmdk_pieces(p, so->gd_off, gd,
						(size_t)so->ngd * 4);
		free(gd);
	}
	v->all_known = so->ngd == 0;
}
