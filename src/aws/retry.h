/*
 * The SDKs' retry policy, "standard" mode (botocore retries/standard.py):
 * at most max_attempts (default 3, AWS_MAX_ATTEMPTS / max_attempts),
 * full-jitter exponential backoff  delay = rand * min(2^(n-1), 20) s,
 * transient and throttling errors only, and a token-bucket retry quota
 * (500; 5 per retry, 10 after a timeout; +1 per success, refunds).
 * "legacy" mode (AWS_RETRY_MODE=legacy) keeps the old 5 attempts and
 * uncapped backoff.  Pure logic: no I/O, deterministic with a seed.
 */
#ifndef VMIE_AWS_RETRY_H
#define VMIE_AWS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/http.h"

typedef enum vretry_mode { VRETRY_STANDARD, VRETRY_LEGACY } vretry_mode;

typedef struct vretry_policy {
	vretry_mode mode;
	int max_attempts;     /* total attempts, first included */
	int quota;            /* tokens left in the retry bucket */
	uint64_t rng;         /* xorshift state for jitter */
} vretry_policy;

/* From AWS_RETRY_MODE / retry_mode and AWS_MAX_ATTEMPTS / max_attempts
 * (given as strings, NULL when unset).  Returns 0, or -1 when a value is
 * invalid (err says which). */
int vretry_policy_init(vretry_policy *p, const char *mode,
		       const char *max_attempts, uint64_t seed,
		       vmie_error *err);

/* What one attempt ended with. */
typedef struct vretry_outcome {
	vhttp_transport transport;  /* VHTTP_OK when a response arrived */
	long http_status;
	const char *aws_code;       /* parsed error code, may be NULL */
} vretry_outcome;

bool vretry_is_throttling(const char *aws_code);
bool vretry_is_transient(const vretry_outcome *o);

/* After attempt number `attempt` (1-based) failed with o: true when
 * another attempt should be made (safe_to_retry says whether the request
 * may be repeated), with *delay_ms how long to wait first.  Takes the
 * retry cost from the quota. */
bool vretry_should_retry(vretry_policy *p, int attempt,
			 const vretry_outcome *o, bool safe_to_retry,
			 long *delay_ms);

/* A request succeeded after `attempt` attempts: refill the quota. */
void vretry_on_success(vretry_policy *p, int attempt);

#endif
