/*
 * The upload an interrupted run left (import_steps.h): what the journal
 * says it sent, what S3 says it holds (ListParts), and from which part
 * the source must be read again.  A part is kept when S3 lists it with
 * the size and CRC32C the journal recorded; S3's other parts are checked
 * against the bytes read again instead of sent.  An upload S3 no longer
 * knows was either completed (the object is there: the run died after
 * CompleteMultipartUpload answered) or aborted (start again).
 */
#include "workflow/import_steps.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/s3.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "codec/crc32c.h"
#include "workflow/journal.h"

void vwf_upload_resume_free(vwf_upload_resume *p)
{
	vupload_part_infos_free(p->parts, p->nparts);
	memset(p, 0, sizeof(*p));
}

/* The journal's record of part n (parts[n - 1]): true with its size and
 * CRC. */
static bool recorded(const json_t *parts, unsigned n, uint64_t *size, uint32_t *crc)
{
	json_t *p = n ? json_array_get(parts, n - 1) : NULL;
	if (!json_is_array(p) || (unsigned)json_integer_value(json_array_get(p, 0)) != n)
		return false;
	*size = (uint64_t)json_integer_value(json_array_get(p, 1));
	return vcrc32c_from_b64(json_string_value(json_array_get(p, 2)), crc);
}

/* S3's composite checksum of the journal's parts 1..n, when it holds
 * them all: what the object of a completed upload shows. */
static char *composite(const json_t *parts)
{
	uint32_t crc = 0, pc;
	uint64_t size;
	unsigned n = (unsigned)json_array_size(parts);
	for (unsigned i = 1; i <= n; i++) {
		unsigned char be[4];
		if (!recorded(parts, i, &size, &pc))
			return NULL;
		vcrc32c_be(pc, be);
		crc = vcrc32c(crc, be, 4);
	}
	char b64[9], out[32];
	vcrc32c_b64(crc, b64);
	snprintf(out, sizeof out, "%s-%u", b64, n);
	return xstrdup(out);
}

/* The upload is gone from S3: completed, with our parts, or not. */
static bool completed(vwf_run *r, const json_t *step)
{
	const char *bucket = vwf_js(step, "bucket"), *key = vwf_js(step, "key");
	char *ours = composite(json_object_get(step, "parts"));
	vs3_object obj = {0};
	vmie_error e = {0};
	bool done = ours && vs3_head_object(r->client, bucket, key, &obj, &e) == 0 &&
		    obj.checksum_crc32c && strcmp(obj.checksum_crc32c, ours) == 0;
	vs3_object_free(&obj);
	vmie_error_clear(&e);
	free(ours);
	return done;
}

/* The source is the one the earlier run read: same length, compression
 * and (for a URL) the same entity. */
static int same_source(vwf_run *r, const json_t *step, vsource *src, vmie_error *err)
{
	const json_t *was = json_object_get(step, "source");
	const char *v = vsource_validator(src), *then = vwf_js(was, "validator");
	uint64_t len = vsource_raw_size(src);
	size_t head_len;
	/* A VMDK made on the fly is other bytes than the disk sent as it is. */
	const char *sent = vwf_js(step, "sent");
	bool vmdk = vsource_vmdk_head(src, &head_len) != NULL;
	bool same = strcmp(sent ? sent : "", vmdk ? "vmdk" : "as-is") == 0 &&
		    (uint64_t)vwf_ji(step, "size", 0) == vsource_size(src) &&
		    (uint64_t)vwf_ji(was, "length", 0) == len &&
		    strcmp(vwf_js(step, "compression") ? vwf_js(step, "compression") : "",
			   vimg_compression_name(vsource_compression(src))) == 0 &&
		    ((!v && !then) || (v && then && strcmp(v, then) == 0));
	if (same)
		return 0;
	verr_set(err, VMIE_ERR_INVALID_SOURCE,
		 "%s is not what the interrupted upload read (its length, version "
		 "or compression changed, or it is no longer sent as %s): the "
		 "upload cannot go on with another image",
		 r->opts->source, sent && strcmp(sent, "vmdk") == 0
					  ? "a VMDK made on the fly" : "it is");
	return verr_hint(err, "add --restart to upload the image as it is now (the "
			      "interrupted upload is aborted first)");
}

int vwf_upload_plan_resume(vwf_run *r, json_t *step, vsource *src,
			   vwf_upload_resume *out, vmie_error *err)
{
	memset(out, 0, sizeof(*out));
	const char *id = vwf_js(step, "upload_id");
	if (!id)
		return VWF_UPLOAD_NEW;
	int rc = same_source(r, step, src, err);
	if (rc != 0)
		return rc;
	rc = vupload_list_parts(r->client, vwf_js(step, "bucket"), vwf_js(step, "key"), id,
				&out->parts, &out->nparts, err);
	if (rc == VUPLOAD_NO_SUCH_UPLOAD) {
		if (completed(r, step))
			return VWF_UPLOAD_COMPLETED;
		vlog_warn("the interrupted upload of s3://%s/%s is no longer in S3 "
			  "(aborted): uploading the image again", vwf_js(step, "bucket"),
			  vwf_js(step, "key"));
		return VWF_UPLOAD_NEW;
	}
	if (rc != 0)
		return rc;
	const json_t *parts = json_object_get(step, "parts");
	unsigned first = 1;
	uint64_t offset = 0, held = 0;
	for (size_t i = 0; i < out->nparts; i++) {
		const vupload_part_info *p = &out->parts[i];
		uint64_t size;
		uint32_t crc;
		held += p->size;
		if (p->number == first && p->has_crc && recorded(parts, first, &size, &crc) &&
		    size == p->size && crc == p->crc) {
			offset += p->size;
			first++;
		}
	}
	out->rs.upload_id = id;
	out->rs.parts = out->parts;
	out->rs.nparts = out->nparts;
	out->rs.first_part = first;
	out->rs.offset = offset;
	out->held = held;
	return 0;
}
