/* libFuzzer target: the download side's VMDK to RAW reader
 * (transfer/download_vmdk.h) over the input as the S3 object: its two
 * ends and grain directory, the windows of grain tables, the chunk map,
 * and each chunk's bytes fed to a slot in uneven pieces, grains gathered
 * by their markers and inflated to /dev/null.  Beyond memory errors it
 * checks that the map never stalls (a chunk the tables never release
 * would hang a download) and that a chunk's GET ends with every grain
 * that starts in it gathered.  The chunk size follows the input's
 * length, so one corpus tries several. */
#include "transfer/download_vmdk.h"

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct object {
	const uint8_t *data;
	size_t size;
} object;

static int from_memory(void *ctx, uint64_t off, size_t len,
		       unsigned char *out, vmie_error *err)
{
	const object *o = ctx;
	if (off > o->size || len > o->size - off)
		abort(); /* the reader asked for bytes past the object */
	memcpy(out, o->data + off, len);
	return 0;
}

/* Every table GET the map asks for, answered at once; false when the map
 * failed (a table that does not parse). */
static bool answer_tables(vdl_run *r, const object *ob, uint64_t want)
{
	for (;;) {
		vxfer_job *job = NULL;
		vmie_error err = {0};
		int rc = vdl_map_next(r, want, 0, &job, &err);
		if (rc == VXFER_NONE)
			return true;
		if (rc != VXFER_JOB) {
			vmie_error_clear(&err);
			return false;
		}
		vdl_gtfetch *t = vdl_map_fetch_of(r, job);
		if (!t || t->off > ob->size || t->len > ob->size - t->off)
			abort(); /* a table past the object's end */
		if (!t->buf)
			t->buf = xmalloc(t->len);
		memcpy(t->buf, ob->data + t->off, t->len);
		t->got = t->len;
		rc = vdl_map_fetched(r, t, &err);
		vmie_error_clear(&err);
		if (rc != 0)
			return false;
	}
}

static void run_chunks(vdl_run *r, const object *ob)
{
	vdl_vslot s = {.r = r};
	uint32_t rnd = (uint32_t)ob->size * 2654435761u;
	for (size_t i = 0; i < r->plan.n; i++) {
		vdl_chunk *c = &r->plan.chunks[i];
		size_t k = i + 4 < r->plan.n ? i + 4 : r->plan.n - 1;
		if (!answer_tables(r, ob, r->plan.chunks[k].off +
					      r->plan.chunks[k].len))
			break;
		vdl_map_release(r);
		if (c->job.not_before != 0)
			abort(); /* the map stalls: this chunk never starts */
		uint64_t end = vdl_vslot_prepare_chunk(&s, c);
		if (end < c->off + c->len || end > ob->size)
			abort();
		for (uint64_t at = c->off; at < end;) {
			rnd = rnd * 1103515245u + 12345u;
			size_t n = 1 + (rnd >> 8) % 70000;
			if (n > end - at)
				n = (size_t)(end - at);
			if (!vdl_vslot_feed(&s, ob->data + at, n))
				abort(); /* no write can fail on /dev/null */
			at += n;
		}
		if (s.gi != s.g_end)
			abort(); /* a grain of this chunk was not gathered */
		vdl_map_prune(r, i + 1 < r->plan.n ? r->plan.chunks[i + 1].off
						   : UINT64_MAX);
	}
	vdl_vslot_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	object ob = {data, size};
	vdownload_opts o = {.bucket = "b", .key = "disk.vmdk",
			    .path = "/dev/null"};
	vdl_run r = {.o = &o};
	vmie_error err = {0};
	r.obj.size = size;
	r.t.fd = -1;
	vdl_vmdk *v = xcalloc(1, sizeof(*v));
	int rc = size ? vdl_vmdk_read_ends(v, size, from_memory, &ob, &err) : 1;
	vmie_error_clear(&err);
	if (rc != 0)
		goto out;
	r.vmdk = v;
	r.t.fd = open("/dev/null", O_WRONLY);
	r.skip_zero = true;
	vdl_plan_make(&r.plan, size, NULL, 0, (size_t)4096 << (size % 6));
	vdl_vmdk_prepare(&r);
	for (size_t i = 0; i < r.plan.n; i++)
		r.plan.chunks[i].job.not_before = LLONG_MAX;
	if (r.t.fd >= 0)
		run_chunks(&r, &ob);
out:
	if (r.t.fd >= 0)
		close(r.t.fd);
	vdl_plan_free(&r.plan);
	vdl_vmdk_free(v);
	return 0;
}
