/*
 * The downloader's VMDK to RAW pieces without the network
 * (transfer/download_vmdk.h): a VMDK made by the upload's writer is read
 * as the downloader reads it (its ends and directory, the windows of
 * tables, each chunk's bytes fed to a slot in uneven pieces) into a
 * sparse file, for several chunk sizes: the file is the disk, its zeros
 * holes; the chunks' disk bytes tile the disk; the digests that tie
 * bytes read twice agree, and disagree when a table changed between two
 * reads; a resumed run's read back finds exactly the damaged chunk; the
 * state file keeps what a chunk wrote, in its own mode.  The
 * transfers themselves are tested against the emulator
 * (tests/integration/test_download_vmdk.py).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "check.h"
#include "codec/crc32c.h"
#include "transfer/download_vmdk.h"
#include "transfer/source.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define G (64u * KIB)

static char dir[] = "/tmp/vmie-dlvmdk-XXXXXX";
static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Runs of noise, text and single bytes at random places, most of the
 * disk left zeros. */
static unsigned char *make_disk(size_t size, uint64_t seed)
{
	unsigned char *d = calloc(1, size);
	rng = seed * 2654435761u + 1;
	for (unsigned k = 0; k < 40; k++) {
		size_t off = rnd() % size, n = 1 + rnd() % (3 * G);
		if (n > size - off)
			n = size - off;
		unsigned kind = rnd() % 3;
		for (size_t i = 0; i < n; i++)
			d[off + i] = kind == 0 ? (unsigned char)rnd()
				   : kind == 1 ? (unsigned char)("vmdk to raw "[i % 12])
					       : 0x5a;
	}
	return d;
}

/* The upload's streamOptimized writer over the disk. */
static int encode(const unsigned char *d, size_t size, vbuf *out)
{
	char path[64];
	vmie_error err = {0};
	vsource *f = NULL, *v = NULL;
	char buf[65536];
	long long n = -1;
	snprintf(path, sizeof path, "%s/disk.raw", dir);
	FILE *fp = fopen(path, "wb");
	if (!fp || fwrite(d, 1, size, fp) != size) {
		if (fp)
			fclose(fp);
		return -1;
	}
	fclose(fp);
	if (vsource_open_file(path, &f, &err) == 0 &&
	    vsource_open_vmdk(f, "disk.vmdk", 2, &v, &err) == 0)
		while ((n = vsource_read(v, buf, sizeof buf, &err)) > 0)
			vbuf_add(out, buf, (size_t)n);
	vsource_free(v);
	vmie_error_clear(&err);
	unlink(path);
	return n < 0 ? -1 : 0;
}

typedef struct object {
	const unsigned char *data;
	size_t size;
} object;

static int from_memory(void *ctx, uint64_t off, size_t len,
		       unsigned char *out, vmie_error *err)
{
	const object *o = ctx;
	if (off > o->size || len > o->size - off)
		return verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED, "past the end");
	memcpy(out, o->data + off, len);
	return 0;
}

typedef struct dl {
	vdownload_opts o;
	vdl_run r;
	char path[64];
} dl;

/* Opens the object as the downloader does, with chunks of chunk bytes,
 * writing to a new file. */
static bool dl_open(dl *d, const object *ob, size_t chunk)
{
	vmie_error err = {0};
	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof d->path, "%s/out.raw", dir);
	d->o = (vdownload_opts){.bucket = "b", .key = "disk.vmdk",
				.path = d->path};
	d->r.o = &d->o;
	d->r.obj.size = ob->size;
	d->r.t.fd = -1;
	vdl_vmdk *v = calloc(1, sizeof(*v));
	if (vdl_vmdk_read_ends(v, ob->size, from_memory, (void *)ob, &err)) {
		fprintf(stderr, "read_ends: %s\n", err.message);
		vmie_error_clear(&err);
		vdl_vmdk_free(v);
		return false;
	}
	d->r.vmdk = v;
	d->r.t.fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (d->r.t.fd < 0 || ftruncate(d->r.t.fd, (off_t)v->so.capacity))
		return false;
	d->r.skip_zero = true;
	vdl_plan_make(&d->r.plan, ob->size, NULL, 0, chunk);
	vdl_vmdk_prepare(&d->r);
	for (size_t i = 0; i < d->r.plan.n; i++)
		d->r.plan.chunks[i].job.not_before = LLONG_MAX;
	return true;
}

static void dl_close(dl *d)
{
	if (d->r.t.fd >= 0)
		close(d->r.t.fd);
	vdl_plan_free(&d->r.plan);
	vdl_vmdk_free(d->r.vmdk);
	unlink(d->path);
}

static bool answer_tables(vdl_run *r, const object *ob, uint64_t want)
{
	for (;;) {
		vxfer_job *job = NULL;
		vmie_error err = {0};
		int rc = vdl_map_next(r, want, 0, &job, &err);
		if (rc == VXFER_NONE)
			return true;
		vdl_gtfetch *t = rc == VXFER_JOB ? vdl_map_fetch_of(r, job) : NULL;
		if (!t) {
			vmie_error_clear(&err);
			return false;
		}
		if (!t->buf)
			t->buf = malloc(t->len);
		memcpy(t->buf, ob->data + t->off, t->len);
		rc = vdl_map_fetched(r, t, &err);
		vmie_error_clear(&err);
		if (rc != 0)
			return false;
	}
}

/* Every chunk, as the sender runs them (in order, once the map reaches
 * past them); `tamper` flips a byte of what the chunk that holds it
 * receives (not what the table GETs did).  What download_vmdk_send.c
 * keeps of each chunk goes into plan.vx. */
static bool dl_run(dl *d, const object *ob, uint64_t tamper)
{
	vdl_run *r = &d->r;
	vdl_vslot s = {.r = r};
	unsigned char *copy = malloc(ob->size);
	bool ok = true;
	memcpy(copy, ob->data, ob->size);
	if (tamper < ob->size)
		copy[tamper] ^= 0x40;
	for (size_t i = 0; i < r->plan.n && ok; i++) {
		vdl_chunk *c = &r->plan.chunks[i];
		vdl_vchunk *vx = &r->plan.vx[i];
		ok = answer_tables(r, ob, UINT64_MAX);
		vdl_map_release(r);
		ok = ok && c->job.not_before == 0;
		if (!ok)
			break;
		uint64_t end = vdl_vslot_prepare_chunk(&s, c);
		for (uint64_t at = c->off; at < end && ok;) {
			size_t n = 1 + rnd() % 40000;
			if (n > end - at)
				n = (size_t)(end - at);
			ok = vdl_vslot_feed(&s, copy + at, n);
			at += n;
		}
		if (vx->ge > s.wpos)
			s.wcrc = vdl_crc32c_zeros(s.wcrc, vx->ge - s.wpos);
		vx->wcrc = s.wcrc;
		vx->seen = s.seen;
		vx->used = s.used;
		c->done = true;
		r->zero_skipped += s.skipped;
		ok = ok && s.gi == s.g_end && !s.decode_failed;
		vdl_map_prune(r, c->off + c->len);
	}
	vdl_vslot_free(&s);
	free(copy);
	return ok;
}

static bool file_is(const char *path, const unsigned char *want, size_t size,
		    uint64_t cap)
{
	FILE *f = fopen(path, "rb");
	unsigned char *got = malloc(cap + 1);
	bool ok = f && fread(got, 1, cap + 1, f) == cap && cap >= size &&
		  memcmp(got, want, size) == 0;
	for (uint64_t i = size; ok && i < cap; i++)
		ok = got[i] == 0;
	if (f)
		fclose(f);
	free(got);
	return ok;
}

static void test_crc_of_zeros(void)
{
	static const unsigned char z[200000];
	static const uint64_t ns[] = {0, 1, 511, 4096, 65537, sizeof z};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		CHECK(vdl_crc32c_zeros(0, ns[i]) == vcrc32c(0, z, ns[i]));
		uint32_t a = vcrc32c(0, "abc", 3);
		CHECK(vdl_crc32c_zeros(a, ns[i]) == vcrc32c(a, z, ns[i]));
	}
}

/* A run of bytes is summed as its pieces cut at the chunks' ends. */
static void test_pieces(void)
{
	vdl_plan p = {0};
	unsigned char b[2500];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (unsigned char)(i * 7);
	vdl_plan_make(&p, 4000, NULL, 0, 1000);
	uint64_t want = vdl_vmdk_piece(500, 500, vcrc32c(0, b, 500)) +
			vdl_vmdk_piece(1000, 1000, vcrc32c(0, b + 500, 1000)) +
			vdl_vmdk_piece(2000, 1000, vcrc32c(0, b + 1500, 1000));
	CHECK(vdl_vmdk_pieces(&p, 500, b, 2500) == want);
	CHECK(vdl_vmdk_pieces(&p, 500, b, 2500) != vdl_vmdk_pieces(&p, 501, b, 2500));
	CHECK(vdl_chunk_index(&p, 0) == 0 && vdl_chunk_index(&p, 999) == 0 &&
	      vdl_chunk_index(&p, 1000) == 1 && vdl_chunk_index(&p, 3999) == 3);
	vdl_plan_free(&p);
}

static void decode_with(const unsigned char *disk, size_t size,
			const object *ob, size_t chunk)
{
	dl d;
	vmie_error err = {0};
	CHECK(dl_open(&d, ob, chunk));
	CHECK(dl_run(&d, ob, UINT64_MAX));
	uint64_t cap = d.r.vmdk->so.capacity;
	CHECK(file_is(d.path, disk, size, cap));
	/* The chunks' disk bytes tile the disk, in order. */
	uint64_t at = 0;
	for (size_t i = 0; i < d.r.plan.n; i++) {
		const vdl_vchunk *vx = &d.r.plan.vx[i];
		if (vx->ge == vx->gs)
			continue;
		CHECK(vx->gs == at && vx->ge > vx->gs);
		at = vx->ge;
	}
	CHECK(at == cap);
	/* The metadata and grain ends read by two requests agree. */
	CHECK(vdl_vmdk_check(&d.r, true, &err) == 0);
	vmie_error_clear(&err);
	/* Holes: only what holds data is allocated. */
	struct stat st;
	CHECK(fstat(d.r.t.fd, &st) == 0 && (uint64_t)st.st_blocks * 512 < cap);
	/* A resumed run reads it back: nothing stale; then one byte of the
	 * file damaged: its chunk, and only it, is fetched again. */
	uint64_t stale = 1;
	CHECK(vdl_vmdk_recheck(&d.r, &stale, &err) == 0 && stale == 0);
	size_t k = d.r.plan.n / 2;
	while (k < d.r.plan.n && d.r.plan.vx[k].ge == d.r.plan.vx[k].gs)
		k++;
	if (k < d.r.plan.n) {
		const vdl_vchunk *vx = &d.r.plan.vx[k];
		uint64_t off = vx->gs + (vx->ge - vx->gs) / 2;
		CHECK(pwrite(d.r.t.fd, "!", 1, (off_t)off) == 1);
		CHECK(vdl_vmdk_recheck(&d.r, &stale, &err) == 0);
		CHECK(stale == vx->ge - vx->gs);
		for (size_t i = 0; i < d.r.plan.n; i++)
			CHECK(d.r.plan.chunks[i].done == (i != k));
	}
	vmie_error_clear(&err);
	dl_close(&d);
}

static void test_decode(void)
{
	static const size_t sizes[] = {5 * MIB + 512, 3 * MIB + 12288,
				       2 * MIB};
	static const size_t chunks[] = {4096, 100000, MIB, 64 * MIB};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		unsigned char *disk = make_disk(sizes[i], i + 1);
		vbuf v = {0};
		CHECK(encode(disk, sizes[i], &v) == 0);
		object ob = {(const unsigned char *)v.data, v.len};
		for (size_t j = 0; j < sizeof chunks / sizeof chunks[0]; j++)
			decode_with(disk, sizes[i], &ob, chunks[j]);
		vbuf_free(&v);
		free(disk);
	}
}

/* A table whose bytes differ between its own GET and the chunk that
 * hashes it: the object's checksum covers the chunk, not what the map
 * used, and the check says so. */
static void test_table_changed_between_reads(void)
{
	size_t size = 3 * MIB;
	unsigned char *disk = make_disk(size, 9);
	vbuf v = {0};
	vmie_error err = {0};
	dl d;
	CHECK(encode(disk, size, &v) == 0);
	object ob = {(const unsigned char *)v.data, v.len};
	CHECK(dl_open(&d, &ob, 100000));
	uint64_t gt = (uint64_t)d.r.vmdk->so.gd[0] * 512;
	CHECK(gt > 0 && gt < ob.size);
	/* Byte 3 of the first entry: a high byte, zero in a small file. */
	CHECK(dl_run(&d, &ob, gt + 3));
	CHECK(vdl_vmdk_check(&d.r, true, &err) == VMIE_ERR_FILE_DOWNLOAD_FAILED);
	CHECK(err.message && strstr(err.message, "differ between two GETs"));
	vmie_error_clear(&err);
	dl_close(&d);
	vbuf_free(&v);
	free(disk);
}

/* The vmdk-to-raw state keeps each chunk's disk bytes and digests, and
 * does not pass for a state of the object as it is, nor the reverse. */
static void test_state(void)
{
	char path[96];
	snprintf(path, sizeof path, "%s/out.raw.vmie-download", dir);
	vdl_state_id id = {.mode = "vmdk-to-raw", .bucket = "b", .key = "d.vmdk",
			   .etag = "\"e\"", .size = 100, .chunk_size = 10,
			   .nchunks = 10, .dev = 1, .ino = 2};
	vdl_plan p = {0}, q = {0};
	vmie_error err = {0};
	char *why = NULL;
	vdl_plan_make(&p, 100, NULL, 0, 10);
	p.vx = calloc(p.n, sizeof(*p.vx));
	p.chunks[4].done = true;
	p.chunks[4].crc = 7;
	p.chunks[4].crc64 = 0xFEDCBA9876543210ull;
	p.vx[4] = (vdl_vchunk){.gs = 65536, .ge = 3 * 65536 + 5,
			       .wcrc = 0xCAFEF00D, .seen = UINT64_MAX,
			       .used = 1};
	CHECK(vdl_state_save(path, &id, &p, &err) == 0);
	vdl_plan_make(&q, 100, NULL, 0, 10);
	q.vx = calloc(q.n, sizeof(*q.vx));
	CHECK(vdl_state_load(path, &id, &q, &why) && why == NULL);
	CHECK(q.chunks[4].done && q.chunks[4].crc == 7 &&
	      q.chunks[4].crc64 == 0xFEDCBA9876543210ull);
	CHECK(q.vx[4].gs == 65536 && q.vx[4].ge == 3 * 65536 + 5 &&
	      q.vx[4].wcrc == 0xCAFEF00D && q.vx[4].seen == UINT64_MAX &&
	      q.vx[4].used == 1);
	CHECK(!q.chunks[3].done);
	vdl_plan_free(&q);
	vdl_state_id as_is = id;
	as_is.mode = NULL;
	vdl_plan_make(&q, 100, NULL, 0, 10);
	CHECK(!vdl_state_load(path, &as_is, &q, &why) && why &&
	      strstr(why, "VMDK's disk"));
	free(why);
	why = NULL;
	CHECK(vdl_state_save(path, &as_is, &q, &err) == 0);
	vdl_plan_free(&q);
	vdl_plan_make(&q, 100, NULL, 0, 10);
	q.vx = calloc(q.n, sizeof(*q.vx));
	CHECK(!vdl_state_load(path, &id, &q, &why) && why &&
	      strstr(why, "as it is"));
	free(why);
	vdl_plan_free(&q);
	vdl_plan_free(&p);
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_crc_of_zeros();
	test_pieces();
	test_decode();
	test_table_changed_between_reads();
	test_state();
	rmdir(dir);
	return check_done("download_vmdk");
}
