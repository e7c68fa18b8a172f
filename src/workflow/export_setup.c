/*
 * Where the export goes: the bucket (as for import: created with public
 * access blocked and SSE-S3 when missing) and the service role that
 * writes into it.  VM Export cannot write into a bucket whose default
 * encryption is SSE-KMS: the task would fail after its conversion, so it
 * is refused here, before anything starts.
 */
#include "workflow/export_steps.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/s3.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "workflow/import_steps.h"

static int check_encryption(vwf_run *r, const char *bucket, vmie_error *err)
{
	char *alg = NULL;
	int rc = vs3_bucket_encryption(r->client, bucket, &alg, err);
	if (rc != 0) {
		verr_prefix(err, "reading the default encryption of %s", bucket);
		return rc;
	}
	if (alg && strncmp(alg, "aws:kms", 7) == 0) {
		verr_set(err, VMIE_ERR_EXPORT_OPERATION_FAILED, "bucket %s "
			 "encrypts new objects with SSE-KMS (%s), which VM "
			 "Export cannot write", bucket, alg);
		verr_hint(err, "export to a bucket with SSE-S3 (the default) or "
			  "no default encryption: another --s3-bucket, or "
			  "aws s3api put-bucket-encryption --bucket %s ... "
			  "SSEAlgorithm=AES256", bucket);
		rc = VMIE_ERR_EXPORT_OPERATION_FAILED;
	}
	free(alg);
	return rc;
}

int vwf_export_setup(vwf_run *r, bool *role_created, vmie_error *err)
{
	const char *bucket = r->opts->s3_bucket;
	int rc;

	if (r->opts->skip_setup) { /* vmie batch did it, maybe just now */
		*role_created = true;
		return 0;
	}
	vwf_phase_begin(r, "bucket");
	if ((rc = vwf_ensure_bucket(r, bucket, err)) != 0 ||
	    (rc = check_encryption(r, bucket, err)) != 0)
		return rc;
	vwf_phase_end(r, 0);
	vwf_phase_begin(r, "role");
	const char *buckets[] = {bucket};
	if ((rc = vwf_ensure_vmimport_role(r, buckets, 1, true, role_created,
					   err)) != 0)
		return rc;
	vwf_phase_end(r, 0);
	return 0;
}

char *vwf_export_prefix(const char *given)
{
	vbuf b = VBUF_INIT;
	if (given && *given) {
		vbuf_adds(&b, given);
		if (given[strlen(given) - 1] != '/')
			vbuf_addch(&b, '/');
		return vbuf_detach(&b);
	}
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	vbuf_addf(&b, "exports/vmie-export-%s/", stamp);
	return vbuf_detach(&b);
}
