/* The run's transfer settings (transfer_settings.h). */
#include "workflow/transfer_settings.h"

#include "aws/s3_transfer_config.h"
#include "base/log.h"

/* S3's limits on a part, which the AWS CLI also holds chunks to. */
#define MIN_CHUNK (5ull << 20)
#define MAX_CHUNK (5ull << 30)

int vwf_transfer_settings(vwf_run *r, vwf_transfer *out, vmie_error *err)
{
	vaws_s3_transfer s3;
	int rc = vaws_s3_transfer_load(vaws_client_config(r->client), &s3, err);
	if (rc != 0)
		return rc;
	out->parallel = s3.max_concurrent_requests;
	out->chunk_size = s3.multipart_chunksize;
	if (out->chunk_size && out->chunk_size < MIN_CHUNK)
		out->chunk_size = MIN_CHUNK;
	if (out->chunk_size > MAX_CHUNK)
		out->chunk_size = MAX_CHUNK;
	out->threshold = s3.multipart_threshold;
	out->max_bps = s3.max_bandwidth;
	/* Validated already: a rate that parses. */
	if (r->opts->max_bandwidth)
		vaws_parse_rate(r->opts->max_bandwidth, &out->max_bps);
	if (out->max_bps)
		vlog_info("transfers capped at %.1f MiB/s (%s)",
			  (double)out->max_bps / (1 << 20),
			  r->opts->max_bandwidth ? "--max-bandwidth"
						 : "s3.max_bandwidth");
	return 0;
}

uint64_t vwf_part_size(const vwf_transfer *xs, uint64_t size)
{
	if (!xs->threshold || !size || size >= xs->threshold ||
	    size <= (xs->chunk_size ? xs->chunk_size : MIN_CHUNK))
		return xs->chunk_size;
	return size < MAX_CHUNK ? size : MAX_CHUNK;
}
