/*
 * What nothing else cleans up: the multipart upload of a run that was
 * stopped and never resumed nor discarded.  A bucket vmie creates gets a
 * lifecycle rule that aborts incomplete uploads after a week, so their
 * parts are not billed for ever.  A bucket the user made is theirs: its
 * lifecycle is left alone.
 */
#include "workflow/import_steps.h"

#include "aws/s3.h"
#include "base/log.h"

#define ABORT_AFTER_DAYS 7

void vwf_bucket_lifecycle(vwf_run *r, const char *bucket)
{
	vmie_error e = {0};
	if (vs3_put_lifecycle_abort_uploads(r->client, bucket, ABORT_AFTER_DAYS, &e) == 0)
		vlog_info("bucket %s: incomplete multipart uploads are aborted after %d "
			  "days", bucket, ABORT_AFTER_DAYS);
	else
		vlog_warn("could not give bucket %s its lifecycle rule for incomplete "
			  "uploads (%s): an upload that is never resumed stays until "
			  "'vmie runs --discard' aborts it", bucket,
			  e.message ? e.message : "unknown error");
	vmie_error_clear(&e);
}
