/*
 * One upload, start to end: create the multipart upload, send the parts
 * (upload_send.c, fed by upload_pool.c), complete it and check S3's
 * composite checksum against ours; on any failure or cancellation, abort
 * it so nothing is left billed.
 */
#include "transfer/upload_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"

#define MIB (1ull << 20)
#define DEFAULT_PARALLEL 4
#define MAX_PARALLEL 64
/* A part is costly to lose: more tries than a control call's 3, unless
 * the user set max_attempts. */
#define PART_ATTEMPTS 5

static uint64_t min_known_part(uint64_t size)
{
	uint64_t per = (size + VUPLOAD_MAX_PARTS - 1) / VUPLOAD_MAX_PARTS;
	return (per + MIB - 1) / MIB * MIB;
}

static size_t clamp_part(uint64_t s)
{
	return (size_t)(s > VUP_MAX_PART ? VUP_MAX_PART : s);
}

/* Unknown sizes double every 1000 parts, from part 1's size. */
static uint64_t grown(uint64_t first, unsigned n)
{
	unsigned shift = n > 1 ? (n - 1) / 1000 : 0;
	if (shift > 9)
		shift = 9;
	return first << shift;
}

size_t vupload_part_size(uint64_t size, unsigned part_number)
{
	if (size) {
		uint64_t s = min_known_part(size);
		return clamp_part(s < VUPLOAD_MIN_PART ? VUPLOAD_MIN_PART : s);
	}
	return clamp_part(grown(VUPLOAD_MIN_PART, part_number));
}

size_t vup_part_size(const vupload_opts *o, uint64_t size, unsigned n)
{
	if (!o->part_size)
		return vupload_part_size(size, n);
	if (size) {
		uint64_t s = min_known_part(size);
		return clamp_part(s < o->part_size ? o->part_size : s);
	}
	return clamp_part(grown(o->part_size, n));
}

void vupload_result_free(vupload_result *res)
{
	if (!res)
		return;
	free(res->upload_id);
	free(res->etag);
	free(res->checksum_crc32c);
	memset(res, 0, sizeof(*res));
}

int vup_interrupted(vmie_error *err)
{
	verr_set(err, VMIE_ERR_INTERRUPTED, VUP_INTERRUPTED);
	return verr_hint(err, VUP_INTERRUPTED_HINT);
}

static int check_opts(const vupload_opts *o, uint64_t size, vmie_error *err)
{
	if (!o || !o->client || !o->bucket || !*o->bucket || !o->key ||
	    !*o->key)
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"upload: a client, a bucket and a key are "
				"needed");
	if (o->part_size &&
	    (o->part_size < VUP_MIN_PART || o->part_size > VUP_MAX_PART))
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"upload: the part size must be from 5 MiB to "
				"5 GiB, not %zu bytes",
				o->part_size);
	if (o->parallel > MAX_PARALLEL)
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"upload: at most %d parts in flight, not %u",
				MAX_PARALLEL, o->parallel);
	if (size > VUP_MAX_OBJECT) {
		verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
			 "the image (%llu bytes) is larger than S3's 5 TiB "
			 "object limit",
			 (unsigned long long)size);
		return verr_hint(err, "EC2 cannot import it from S3 either: "
				      "shrink the disk first");
	}
	return 0;
}

/* S3's COMPOSITE checksum: the CRC32C of the parts' big-endian CRC32Cs,
 * base64, "-<parts>". */
static char *composite(const vup_run *r)
{
	uint32_t crc = 0;
	for (unsigned i = 0; i < r->parts_done; i++) {
		unsigned char be[4];
		vcrc32c_be(r->parts[i].crc, be);
		crc = vcrc32c(crc, be, 4);
	}
	char b64[9], out[32];
	vcrc32c_b64(crc, b64);
	snprintf(out, sizeof out, "%s-%u", b64, r->parts_done);
	return xstrdup(out);
}

static int checksum_mismatch(const vup_run *r, const char *theirs,
			     const char *ours, vmie_error *err)
{
	verr_set(err, VMIE_ERR_AWS_S3_UPLOAD_FAILED,
		 "s3://%s/%s: S3's checksum %s does not match the %s of the "
		 "bytes read",
		 r->o->bucket, r->o->key, theirs, ours);
	return verr_hint(err, "the object is not the image: run the import "
			      "again");
}

/* The object is there but is not what was read: it must not be used. */
static void delete_object(const vup_run *r)
{
	vaws_rest_request rq = {.operation = "DeleteObject",
				.method = "DELETE",
				.bucket = r->o->bucket,
				.key = r->o->key};
	vhttp_response rs = {0};
	vmie_error e = {0};
	if (vaws_rest(r->o->client, &rq, &rs, &e) != 0)
		vlog_warn("could not delete s3://%s/%s: %s", r->o->bucket,
			  r->o->key, e.message ? e.message : "unknown error");
	vmie_error_clear(&e);
	vhttp_response_free(&rs);
}

/* The engine's failures in the caller's terms: S3 call failures become
 * VMIE_ERR_AWS_S3_UPLOAD_FAILED (keeping AWS's code and request id);
 * source, credential and head-check failures keep their own status. */
static int upload_status(int rc, vmie_error *err)
{
	if (rc != VMIE_ERR_AWS_REQUEST_FAILED &&
	    rc != VMIE_ERR_AWS_CONNECTION_FAILED)
		return rc;
	if (err)
		err->status = VMIE_ERR_AWS_S3_UPLOAD_FAILED;
	return VMIE_ERR_AWS_S3_UPLOAD_FAILED;
}

static void run_free(vup_run *r)
{
	for (size_t i = 0; i < r->parts_cap; i++)
		free(r->parts[i].etag);
	free(r->parts);
	free(r->upload_id);
}

/* A resumed upload: the parts before the source's position are taken as
 * S3 lists them. */
static int take_listed(vup_run *r, vmie_error *err)
{
	const vupload_resume *rs = r->o->resume;
	for (unsigned n = 1; n < rs->first_part; n++) {
		const vupload_part_info *p = vup_listed_part(r, n);
		if (!p || !p->has_crc)
			return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
					"upload: part %u is not in S3 to resume from", n);
		vup_record_part(r, n, p->size, p->crc, p->etag);
	}
	r->upload_id = xstrdup(rs->upload_id);
	return 0;
}

/* Complete, and the check of S3's composite checksum against ours.  *done
 * says the object exists (even when the check failed). */
static int complete(vup_run *r, char **etag, char **theirs, char **ours,
		    bool *done, vmie_error *err)
{
	const vupload_opts *o = r->o;
	int rc = vup_s3_complete(r, etag, theirs, err);
	*ours = composite(r);
	/* Ctrl-C ended the wait for an answer that may have been lost after
	 * S3 completed the upload: is the object there? */
	if (rc == VMIE_ERR_INTERRUPTED && vup_s3_completed(r, *ours, etag) == 1) {
		vmie_error_clear(err);
		*theirs = xstrdup(*ours);
		rc = 0;
	}
	*done = rc == 0;
	if (rc != 0)
		return rc;
	if (!*theirs) {
		vlog_warn("S3 gave no CRC32C for s3://%s/%s: the "
			  "parts' checksums were checked, the whole "
			  "object's cannot be",
			  o->bucket, o->key);
	} else if (strcmp(*theirs, *ours) != 0) {
		rc = checksum_mismatch(r, *theirs, *ours, err);
		delete_object(r);
	}
	return rc;
}

/* A failed or cancelled run: the upload is kept for a resume when the
 * caller journals it (and always when Complete is what failed: every
 * part is in S3), else aborted. */
static void keep_or_abort(vup_run *r, bool complete_failed, vupload_result *res)
{
	const vupload_opts *o = r->o;
	if (!r->upload_id)
		return;
	if (r->discard || (!o->keep_on_failure && !complete_failed)) {
		vup_s3_abort(r);
		return;
	}
	res->kept = true;
	res->upload_id = xstrdup(r->upload_id);
	vlog_debug("kept the multipart upload %s of s3://%s/%s (%u parts) for "
		   "a resume", r->upload_id, o->bucket, o->key, r->parts_done);
	if (!o->keep_on_failure)
		vlog_warn("the parts of s3://%s/%s stay in S3 until the upload is "
			  "completed or aborted: aws s3api abort-multipart-upload "
			  "--bucket %s --key %s --upload-id %s", o->bucket, o->key,
			  o->bucket, o->key, r->upload_id);
}

int vupload_run(const vupload_opts *o, vsource *src, vupload_result *res,
		vmie_error *err)
{
	memset(res, 0, sizeof(*res));
	vup_run r = {.o = o, .src = src};
	char *etag = NULL, *theirs = NULL, *ours = NULL;
	bool tried = false, done = false;
	long long t0 = vxfer_now_ms();
	r.size = src ? vsource_size(src) : 0;
	int rc = src ? check_opts(o, r.size, err)
		     : verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"upload: no source");
	if (rc != 0)
		return rc;
	r.parallel = o->parallel ? o->parallel : DEFAULT_PARALLEL;
	rc = vaws_client_retry_policy(o->client, PART_ATTEMPTS, &r.retry, err);
	if (rc != 0)
		goto out;
	if (o->cancel && *o->cancel) {
		rc = vup_interrupted(err);
		goto out;
	}
	rc = o->resume ? take_listed(&r, err) : vup_s3_create(&r, err);
	if (rc != 0)
		goto out;
	if (o->on_upload_id)
		o->on_upload_id(o->journal_ctx, r.upload_id);
	vlog_debug("multipart upload of s3://%s/%s: %u parts in flight, "
		   "CRC32C by %s",
		   o->bucket, o->key, r.parallel, vcrc32c_impl());
	rc = vup_send_all(&r, err);
	/* Every part is in S3, but the caller asked to stop: no object. */
	if (rc == 0 && o->cancel && *o->cancel)
		rc = vup_interrupted(err);
	if (rc == 0) {
		if (o->on_all_parts)
			o->on_all_parts(o->journal_ctx);
		tried = true;
		rc = complete(&r, &etag, &theirs, &ours, &done, err);
	}
	/* An image refused on the way (it decodes past what its header
	 * declares: a decompression bomb) is not worth keeping either. */
	if (rc == VMIE_ERR_FILE_UNSUPPORTED_FORMAT)
		r.discard = true;
	if (rc != 0 && !done)
		keep_or_abort(&r, tried, res);
out:
	if (rc == 0) {
		res->upload_id = r.upload_id;
		r.upload_id = NULL;
		res->etag = etag;
		etag = NULL;
		res->checksum_crc32c = theirs ? theirs : ours;
		if (theirs)
			free(ours);
		theirs = ours = NULL;
		res->size = r.bytes_done;
		res->parts = r.parts_done;
		res->sent = r.sent;
		res->seconds = (double)(vxfer_now_ms() - t0) / 1000.0;
		vlog_debug("uploaded s3://%s/%s: %llu bytes in %u parts over %u "
			   "connections, %.1f s (%llu bytes sent now)",
			   o->bucket, o->key, (unsigned long long)res->size,
			   res->parts, r.connects, res->seconds,
			   (unsigned long long)r.sent);
	} else {
		res->parts = r.parts_done;
		res->size = r.bytes_done;
		res->sent = r.sent;
	}
	free(etag);
	free(theirs);
	free(ours);
	run_free(&r);
	return upload_status(rc, err);
}
