/*
 * The bandwidth cap (--max-bandwidth, the AWS CLI's s3.max_bandwidth): a
 * token bucket over the bytes every transfer in flight has moved.  The
 * sender (inflight.c) asks it each turn how long to hold its transfers;
 * pure arithmetic, so it is tested on its own.
 */
#ifndef VMIE_TRANSFER_RATE_LIMIT_H
#define VMIE_TRANSFER_RATE_LIMIT_H

#include <stdint.h>

typedef struct vxfer_bucket {
	uint64_t rate;        /* bytes per second; 0: no cap */
	double tokens;        /* bytes that may still go now */
	double burst;         /* the most that may build up */
	long long last_ms;
	uint64_t last_total;
} vxfer_bucket;

void vxfer_bucket_init(vxfer_bucket *b, uint64_t rate, long long now_ms);

/* `total` bytes have moved so far (never decreasing): 0 when transfers
 * may go on, or how many ms they must be held for the rate to hold. */
long vxfer_bucket_wait(vxfer_bucket *b, uint64_t total, long long now_ms);

#endif
