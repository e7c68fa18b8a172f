/*
 * The SDKs' retry policy, "standard" mode (botocore retries/standard.py):
 * at most max_attempts (default 3, AWS_MAX_ATTEMPTS / max_attempts),
 * full-jitter exponential backoff  delay = rand * min(2^(n-1), 20) s,
 * transient and throttling errors only, and a token-bucket retry quota
 * (500; 5 per retry, 10 after a timeout; +1 per success, refunds).
 * "legacy" mode (AWS_RETRY_MODE=legacy) keeps the old 5 attempts,
 * uncapped backoff, its wider list (429, 509) and no quota.  "adaptive"
 * is accepted and behaves as standard (vmie has no client-side rate
 * limiter).  Pure logic: no I/O, deterministic with a seed.
 *
 * A policy belongs to one client and is not thread-safe: the quota is
 * shared by every request of that client, as in the SDKs.
 */
#ifndef VMIE_AWS_RETRY_H
#define VMIE_AWS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/http.h"

typedef enum vretry_mode { VRETRY_STANDARD, VRETRY_LEGACY } vretry_mode;

#define VRETRY_QUOTA_MAX 500
#define VRETRY_COST 5
#define VRETRY_TIMEOUT_COST 10

typedef struct vretry_policy {
	vretry_mode mode;
	int max_attempts;     /* total attempts, first included */
	int quota;            /* tokens left in the retry bucket */
	uint64_t rng;         /* xorshift state for jitter */
} vretry_policy;

/* From AWS_RETRY_MODE / retry_mode and AWS_MAX_ATTEMPTS / max_attempts
 * (given as strings, NULL when unset).  Returns 0, or
 * VMIE_ERR_AWS_CONFIG_INVALID when a value is invalid (err says which).
 * seed 0 is replaced by a fixed non-zero value. */
int vretry_policy_init(vretry_policy *p, const char *mode,
		       const char *max_attempts, uint64_t seed,
		       vmie_error *err);

/* Per-request state: which attempt is running and what the last retry
 * took from the quota (refunded when the request then succeeds). */
typedef struct vretry_state {
	int attempt;          /* 1-based number of the current attempt */
	int last_cost;        /* quota taken by the last retry; 0: none */
} vretry_state;

#define VRETRY_STATE_INIT { 1, 0 }

/* What one attempt ended with. */
typedef struct vretry_outcome {
	vhttp_transport transport;  /* VHTTP_OK when a response arrived */
	long http_status;
	const char *aws_code;       /* parsed error code, may be NULL */
} vretry_outcome;

bool vretry_is_throttling(const char *aws_code);
/* Standard mode's transient class: timeouts and 5xx-ish answers, and
 * connection failures (never TLS: a bad certificate does not heal). */
bool vretry_is_transient(const vretry_outcome *o);
/* Would the policy's mode retry this outcome at all (ignoring attempts,
 * quota and idempotency)? */
bool vretry_is_retryable(const vretry_policy *p, const vretry_outcome *o);

/* After attempt s->attempt failed with o: true when another attempt
 * should be made (safe_to_retry says whether the request may be
 * repeated), with *delay_ms how long to wait first; s->attempt is then
 * advanced.  Takes the retry cost from the quota (standard mode); false
 * when the quota cannot pay for it. */
bool vretry_should_retry(vretry_policy *p, vretry_state *s,
			 const vretry_outcome *o, bool safe_to_retry,
			 long *delay_ms);

/* The request succeeded: +1 to the quota when it needed no retry, else
 * the cost of its last retry is refunded (capped at VRETRY_QUOTA_MAX). */
void vretry_on_success(vretry_policy *p, const vretry_state *s);

#endif
