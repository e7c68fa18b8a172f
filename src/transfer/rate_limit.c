/* The bandwidth cap's token bucket (rate_limit.h). */
#include "transfer/rate_limit.h"

/* What may build up while idle or between turns: a twentieth of a second
 * of the rate (64 KiB at least), so the cap holds over any window much
 * longer than that, and a paused sender does not wake for every few
 * bytes. */
#define BURST_S 0.05
#define MIN_BURST (64.0 * 1024)

void vxfer_bucket_init(vxfer_bucket *b, uint64_t rate, long long now_ms)
{
	b->rate = rate;
	b->burst = (double)rate * BURST_S;
	if (b->burst < MIN_BURST)
		b->burst = MIN_BURST;
	b->tokens = b->burst;
	b->last_ms = now_ms;
	b->last_total = 0;
}

long vxfer_bucket_wait(vxfer_bucket *b, uint64_t total, long long now_ms)
{
	if (!b->rate)
		return 0;
	if (now_ms > b->last_ms) {
		b->tokens += (double)b->rate * (double)(now_ms - b->last_ms) / 1000.0;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ms = now_ms;
	}
	if (total > b->last_total) {
		b->tokens -= (double)(total - b->last_total);
		b->last_total = total;
	}
	if (b->tokens >= 0)
		return 0;
	long ms = (long)(-b->tokens * 1000.0 / (double)b->rate) + 1;
	return ms;
}
