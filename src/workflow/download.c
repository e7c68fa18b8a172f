/*
 * The download step (download_step.h) and `vmie download S3_URL PATH`:
 * the downloader (transfer/download.h) run as phase "download", its
 * result in the run's, and one line saying whether the bytes were
 * verified and with what.  A VMDK asked to be written as RAW that does
 * not decode is written as it is, and the line says so.
 *
 * VMIE_DOWNLOAD_CHUNK_SIZE (bytes) is a test knob: it forces small chunks
 * so that tests see many chunks, resumes and part splits on small objects.
 */
#include "workflow/download_step.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "aws/s3.h"
#include "transfer/download.h"
#include "workflow/journal_steps.h"
#include "workflow/transfer_settings.h"
#include "workflow/workflows.h"

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	vwf_progress(ctx, done, total);
}

static size_t chunk_knob(void)
{
	const char *v = getenv("VMIE_DOWNLOAD_CHUNK_SIZE");
	char *end = NULL;
	unsigned long long n = v && *v ? strtoull(v, &end, 10) : 0;
	if (!n || (end && *end)) {
		if (v && *v)
			vlog_warn("VMIE_DOWNLOAD_CHUNK_SIZE=%s is not a number "
				  "of bytes: ignored", v);
		return 0;
	}
	return (size_t)n;
}

static void report(vwf_run *r, const char *bucket, const char *key,
		   const vdownload_result *dr)
{
	const char *path = r->opts->download_path;
	char resumed[64] = "", what[128] = "";
	if (dr->resumed_from)
		snprintf(resumed, sizeof resumed, ", %" PRIu64
			 " resumed from an earlier run", dr->resumed_from);
	if (dr->decoded)
		snprintf(what, sizeof what, " as the RAW disk it holds (%" PRIu64
			 " bytes; %" PRIu64 " fetched)", dr->disk_size,
			 dr->fetched);
	else if (dr->not_decoded)
		snprintf(what, sizeof what, " as it is (not a VMDK vmie decodes)");
	if (dr->verified)
		vlog_success("downloaded s3://%s/%s (%" PRIu64 " bytes%s) to "
			     "%s%s, verified with %s",
			     bucket, key, dr->size, resumed, path, what,
			     dr->verified_with);
	else
		vlog_warn("downloaded s3://%s/%s (%" PRIu64 " bytes%s) to %s%s, "
			  "but UNVERIFIED: S3 gives neither a CRC32C nor an "
			  "MD5 ETag for it",
			  bucket, key, dr->size, resumed, path, what);
}

int vwf_download(vwf_run *r, const char *bucket, const char *key,
		 bool vmdk_to_raw, vmie_error *err)
{
	const vmie_options *o = r->opts;
	vwf_transfer xs = {0};
	int rc = vwf_transfer_settings(r, &xs, err);
	if (rc != 0)
		return rc;
	size_t knob = chunk_knob();
	vdownload_opts dop = {
		.client = r->client,
		.bucket = bucket,
		.key = key,
		.path = o->download_path,
		.sparse = o->sparse,
		.overwrite = o->overwrite,
		.vmdk_to_raw = vmdk_to_raw,
		.parallel = xs.parallel,
		.chunk_size = knob ? knob : (size_t)xs.chunk_size,
		.threshold = knob ? 0 : xs.threshold,
		.max_bps = xs.max_bps,
		.progress = on_progress,
		.progress_ctx = r,
		.cancel = o->cancel,
	};
	vdownload_result dr = {0};
	json_t *st = vwf_journal_step(r->journal, VWF_STEP_DOWNLOAD);
	if (vwf_journal_step_done(r->journal, VWF_STEP_DOWNLOAD)) {
		vlog_info("downloaded already to %s", o->download_path);
		if (!r->res->download_path)
			r->res->download_path = xstrdup(o->download_path);
		return 0;
	}
	vwf_step_state(st, "started");
	vwf_jset(st, "path", o->download_path);
	vwf_journal_save(r->journal);
	vwf_phase_begin(r, "download");
	vlog_info("downloading s3://%s/%s to %s", bucket, key,
		  o->download_path);
	rc = vdownload_run(&dop, &dr, err);
	vmie_result *res = r->res;
	free(res->download_path);
	res->download_path = xstrdup(o->download_path);
	res->downloaded_bytes = dr.fetched;
	res->zero_skipped = dr.zero_skipped;
	res->download_verified = rc == 0 && dr.verified;
	free(res->verified_with);
	res->verified_with = rc == 0 ? xstrdup(dr.verified_with) : NULL;
	res->download_decoded = dr.decoded;
	res->download_size = dr.disk_size;
	if (rc == 0) {
		vwf_step_state(st, "done");
		vwf_journal_save(r->journal);
		vwf_report_result(r, "download_path", o->download_path);
		report(r, bucket, key, &dr);
		vwf_phase_end(r, dr.fetched);
	}
	vdownload_result_free(&dr);
	return rc;
}

/* `vmie download` reads from any bucket, as `aws s3 cp` does: one in
 * another region is reached there (S3 names the region when asked in the
 * wrong one) instead of failing. */
static int follow_bucket_region(vwf_run *r, const char *bucket, vmie_error *err)
{
	vs3_bucket_state state;
	char *where = NULL;
	int rc = vs3_head_bucket(r->client, bucket, &state, &where, err);
	if (rc != 0 || !where ||
	    strcmp(where, vaws_client_region(r->client)) == 0) {
		free(where);
		return rc;
	}
	vlog_info("bucket %s is in %s: downloading from there", bucket, where);
	vmie_aws_opts aws = r->opts->aws;
	aws.region = where;
	vaws_client *c = NULL;
	rc = vaws_client_new(&aws, &c, err);
	if (rc == 0) {
		vaws_client_set_cancel(c, r->opts->cancel);
		vaws_client_free(r->client);
		r->client = c;
	}
	free(where);
	return rc;
}

int vwf_download_op(const vmie_options *o, vmie_result *res, vmie_error *err)
{
	vwf_run r;
	char *bucket = NULL;
	const char *key = NULL;
	int rc = vwf_run_start(&r, o, res, err);
	if (rc != 0)
		goto out;
	/* Validation checked the s3://BUCKET/KEY shape. */
	const char *rest = o->source + strlen("s3://");
	const char *slash = strchr(rest, '/');
	bucket = xstrndup(rest, (size_t)(slash - rest));
	key = slash + 1;
	free(res->source);
	res->source = xstrdup(o->source);
	bool to_raw = o->download_format && !strcmp(o->download_format, "raw");
	if ((rc = follow_bucket_region(&r, bucket, err)) == 0)
		rc = vwf_download(&r, bucket, key, to_raw, err);
out:
	free(bucket);
	vwf_run_finish(&r);
	return rc;
}
