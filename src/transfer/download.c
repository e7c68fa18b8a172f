/*
 * One download, start to end: learn the object (download_object.c), open
 * the target, cut the object into chunks, pick up an earlier run's state
 * or start over, fetch what is missing (download_send.c), check the bytes
 * (download_verify.c), and drop the state once they are verified.
 */
#include "transfer/download_internal.h"
#include "transfer/download_vmdk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"

/* The state is saved at most this often while chunks complete (and at
 * the end, whatever happens). */
#define SAVE_MS 2000
/* Bounds the state file and the plan: 2 TiB in 16 MiB chunks. */
#define MAX_CHUNKS 131072u
/* A chunk is costly to lose: more tries than a control call's 3. */
#define CHUNK_ATTEMPTS 5

void vdownload_result_free(vdownload_result *r)
{
	if (!r)
		return;
	free(r->verified_with);
	free(r->etag);
	free(r->not_decoded);
	memset(r, 0, sizeof(*r));
}

size_t vdl_chunk_size(const vdownload_opts *o, const vdl_object *ob)
{
	uint64_t cs = o->chunk_size;
	if (o->threshold && ob->size < o->threshold)
		cs = ob->size > VDL_MIN_CHUNK ? ob->size : VDL_MIN_CHUNK;
	if (!cs && ob->verify == VDL_VERIFY_MD5_MULTIPART && ob->part_off &&
	    ob->part_off[1] >= VDL_MIN_CHUNK &&
	    ob->part_off[1] <= VDL_MAX_PART_CHUNK)
		cs = ob->part_off[1]; /* each part's MD5 on the fly */
	if (!cs)
		cs = VDL_DEFAULT_CHUNK;
	uint64_t floor = (ob->size + MAX_CHUNKS - 1) / MAX_CHUNKS;
	if (cs < floor)
		cs = (floor + VDL_MIB - 1) / VDL_MIB * VDL_MIB;
	return (size_t)cs;
}

void vdl_plan_make(vdl_plan *p, uint64_t size, const uint64_t *part_off,
		   unsigned nparts, size_t chunk_size)
{
	memset(p, 0, sizeof(*p));
	p->chunk_size = chunk_size;
	if (!part_off)
		nparts = 1;
	size_t cap = 0;
	for (unsigned n = 1; n <= nparts; n++) {
		uint64_t a = part_off ? part_off[n - 1] : 0;
		uint64_t b = part_off ? part_off[n] : size;
		for (uint64_t off = a; off < b; off += chunk_size) {
			xgrow((void **)&p->chunks, &cap, p->n + 1,
			      sizeof(*p->chunks));
			vdl_chunk *c = &p->chunks[p->n++];
			memset(c, 0, sizeof(*c));
			c->off = off;
			c->len = b - off < chunk_size ? b - off : chunk_size;
			c->part = n;
			c->whole_part = off == a && c->len == b - a;
			c->job = (vxfer_job)VXFER_JOB_INIT;
		}
	}
}

void vdl_plan_free(vdl_plan *p)
{
	free(p->chunks);
	free(p->vx);
	memset(p, 0, sizeof(*p));
}

int vdl_run_save(vdl_run *r, bool force, vmie_error *err)
{
	long long now = vxfer_now_ms();
	if (!r->dirty || (!force && now - r->last_save < SAVE_MS))
		return 0;
	/* The state may only claim bytes that are on the target (EINVAL:
	 * a target that has nothing to sync). */
	if (fdatasync(r->t.fd) != 0 && errno != EINVAL) {
		int e = errno;
		verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
			 "cannot flush %s: %s", r->o->path, strerror(e));
		return verr_hint(err, "check the target (free space, device "
				      "errors), then run the download again");
	}
	int rc = vdl_state_save(r->t.state_path, &r->id, &r->plan, err);
	if (rc == 0) {
		r->dirty = false;
		r->last_save = now;
	}
	return rc;
}

static int check_opts(const vdownload_opts *o, vmie_error *err)
{
	if (!o || !o->client || !o->bucket || !*o->bucket || !o->key ||
	    !*o->key || !o->path || !*o->path)
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"download: a client, a bucket, a key and a "
				"target path are needed");
	if (o->parallel > VDL_MAX_PARALLEL)
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"download: at most %d ranges in flight, not %u",
				VDL_MAX_PARALLEL, o->parallel);
	if (o->chunk_size &&
	    (o->chunk_size < VDL_MIN_CHUNK || o->chunk_size > VDL_MAX_CHUNK))
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"download: the chunk size must be from 64 KiB "
				"to 5 GiB, not %zu bytes",
				o->chunk_size);
	return 0;
}

static int exists_refused(const vdownload_opts *o, vmie_error *err)
{
	verr_set(err, VMIE_ERR_INVALID_ARGUMENT, "%s already exists", o->path);
	return verr_hint(err, "add --overwrite to replace it, or choose "
			      "another path");
}

/* The state says which chunks an earlier run wrote; the target says
 * what is there now.  A file that shrank (truncated, emptied) is brought
 * back to the object's size first, so what it lost reads as zeros; every
 * chunk whose bytes no longer match what it received is fetched again. */
static int trust_but_verify(vdl_run *r, vmie_error *err)
{
	const vdownload_opts *o = r->o;
	struct stat st;
	if (!r->t.device && fstat(r->t.fd, &st) == 0 &&
	    (uint64_t)st.st_size != r->target_size) {
		vlog_warn("%s is %lld bytes, not the %" PRIu64 " the earlier "
			  "run left: checking what is still there",
			  o->path, (long long)st.st_size, r->target_size);
		if (ftruncate(r->t.fd, (off_t)r->target_size) != 0) {
			int e = errno;
			verr_set(err, VMIE_ERR_FILE_DOWNLOAD_FAILED,
				 "cannot size %s to %" PRIu64 " bytes: %s",
				 o->path, r->target_size, strerror(e));
			return verr_hint(err, "check the free space and the "
					      "filesystem's file size limit");
		}
	}
	uint64_t stale = 0;
	int rc = r->vmdk ? vdl_vmdk_recheck(r, &stale, err)
			 : vdl_recheck(r, &stale, err);
	if (rc == 0 && stale)
		vlog_warn("%s: %" PRIu64 " bytes that the earlier run wrote "
			  "no longer match what it received: fetching them "
			  "again", o->path, stale);
	return rc;
}

/* An earlier run's state, or a fresh start (refused over a file that is
 * not one of our downloads, unless overwrite). */
static int resume_or_reset(vdl_run *r, uint64_t *resumed, vmie_error *err)
{
	const vdownload_opts *o = r->o;
	char *why = NULL;
	bool matched = !r->t.created &&
		       vdl_state_load(r->t.state_path, &r->id, &r->plan, &why);
	*resumed = 0;
	if (matched) {
		int rc = trust_but_verify(r, err);
		if (rc != 0)
			return rc;
		for (size_t i = 0; i < r->plan.n; i++) {
			vdl_chunk *c = &r->plan.chunks[i];
			if (c->done)
				*resumed += c->len;
			/* Its bytes may be half there: zeros must be
			 * written unless the file can be a hole again
			 * (in VMDK mode where its disk bytes are, once
			 * known). */
			else if (r->skip_zero)
				c->stale = r->vmdk ||
					   !vdl_target_punch(&r->t, c->off,
							     c->len);
		}
		r->done_bytes = *resumed;
		if (*resumed)
			vlog_info("resuming the download of s3://%s/%s: %" PRIu64
				  " of its %" PRIu64 " bytes are already in %s "
				  "(read back and checked)",
				  o->bucket, o->key, *resumed, r->obj.size,
				  o->path);
		else
			vlog_info("downloading s3://%s/%s to %s again from "
				  "the start", o->bucket, o->key, o->path);
		return 0;
	}
	if (why && !r->t.created)
		vlog_warn("%s: starting over (the state in %s is not used: %s)",
			  o->path, r->t.state_path, why);
	bool ours = why != NULL;
	free(why);
	if (!r->t.created && !r->t.device && !ours && !o->overwrite)
		return exists_refused(o, err);
	for (size_t i = 0; i < r->plan.n; i++)
		r->plan.chunks[i].done = false;
	return vdl_target_reset(&r->t, o->path, r->target_size, err);
}

static void fill_result(const vdl_run *r, vdownload_result *res,
			uint64_t resumed, const char *with, long long t0)
{
	res->size = r->obj.size;
	res->fetched = r->fetched;
	res->resumed_from = resumed;
	res->zero_skipped = r->zero_skipped;
	res->verified = with != NULL;
	res->verified_with = xstrdup(with);
	res->etag = xstrdup(r->obj.etag);
	res->seconds = (double)(vxfer_now_ms() - t0) / 1000.0;
	res->decoded = r->vmdk != NULL;
	res->disk_size = r->target_size;
	res->not_decoded = xstrdup(r->not_decoded);
}

int vdownload_run(const vdownload_opts *o, vdownload_result *res,
		  vmie_error *err)
{
	memset(res, 0, sizeof(*res));
	long long t0 = vxfer_now_ms();
	vdl_run r = {.o = o};
	r.t.fd = -1;
	uint64_t resumed = 0;
	const char *with = NULL;
	int rc = check_opts(o, err);
	if (rc != 0)
		return rc;
	r.parallel = o->parallel ? o->parallel : VDL_DEFAULT_PARALLEL;
	rc = vaws_client_retry_policy(o->client, CHUNK_ATTEMPTS, &r.retry, err);
	if (rc == 0 && o->cancel && *o->cancel)
		rc = verr_set(err, VMIE_ERR_INTERRUPTED,
			      "the download was interrupted");
	if (rc == 0)
		rc = vdl_object_head(o->client, o->bucket, o->key, &r.obj, err);
	if (rc == 0 && o->vmdk_to_raw)
		rc = vdl_vmdk_probe(&r, err);
	if (rc != 0)
		goto out;
	r.target_size = r.vmdk ? r.vmdk->so.capacity : r.obj.size;
	rc = vdl_target_open(o->path, r.target_size,
			     r.vmdk ? "the disk the VMDK holds" : "the object",
			     &r.t, err);
	if (rc != 0)
		goto out;
	r.skip_zero = !r.t.device || o->sparse;
	vdl_plan_make(&r.plan, r.obj.size, r.obj.part_off, r.obj.parts,
		      r.vmdk ? vdl_vmdk_chunk_size(o, &r.obj)
			     : vdl_chunk_size(o, &r.obj));
	if (r.vmdk)
		vdl_vmdk_prepare(&r);
	r.id = (vdl_state_id){.mode = r.vmdk ? "vmdk-to-raw" : NULL,
			      .bucket = o->bucket, .key = o->key,
			      .etag = r.obj.etag, .size = r.obj.size,
			      .chunk_size = r.plan.chunk_size,
			      .nchunks = r.plan.n, .dev = r.t.id_dev,
			      .ino = r.t.id_ino};
	vlog_debug("download of s3://%s/%s (%" PRIu64 " bytes, ETag %s): %zu "
		   "chunks of %zu bytes, %u in flight, checked by %d",
		   o->bucket, o->key, r.obj.size, r.obj.etag, r.plan.n,
		   r.plan.chunk_size, r.parallel, (int)r.obj.verify);
	rc = resume_or_reset(&r, &resumed, err);
	if (rc != 0)
		goto out;
	r.dirty = true; /* the state names the file as ours from now on */
	rc = vdl_run_save(&r, true, err);
	if (rc == 0)
		rc = vdl_send_all(&r, err);
	vmie_error e = {0};
	if (vdl_run_save(&r, true, rc == 0 ? err : &e) != 0 && rc == 0)
		rc = err ? err->status : VMIE_ERR_FILE_DOWNLOAD_FAILED;
	vmie_error_clear(&e);
	if (rc != 0)
		goto out;
	rc = vdl_verify(&r, &with, err);
	if (rc == 0 && r.vmdk)
		rc = vdl_vmdk_check(&r, with != NULL, err);
	if (rc == 0) {
		/* Verified: nothing to resume. */
		unlink(r.t.state_path);
	} else {
		/* Damaged: nothing worth resuming, but the state still says
		 * the target is ours, so the run that the error asks for
		 * starts over without --overwrite. */
		for (size_t i = 0; i < r.plan.n; i++)
			r.plan.chunks[i].done = false;
		vmie_error e2 = {0};
		vdl_state_save(r.t.state_path, &r.id, &r.plan, &e2);
		vmie_error_clear(&e2);
	}
out:
	fill_result(&r, res, resumed, rc == 0 ? with : NULL, t0);
	vdl_plan_free(&r.plan);
	vdl_target_close(&r.t);
	vdl_object_free(&r.obj);
	vdl_vmdk_free(r.vmdk);
	free(r.not_decoded);
	return rc;
}
