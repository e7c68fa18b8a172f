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
	double time_scale;    /* delays times this (1; the test clock knob) */
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

/*
 * The outage window.  The policy above is tuned for blips: 3 attempts and
 * a quota, so that a client does not hammer a struggling service.  A run
 * that has moved 100 GiB must not end on a two-minute outage either: when
 * the policy gives up on an outcome vretry_outage_covers (transient or
 * throttling), the request is tried again -- capped exponential backoff
 * with jitter -- for as long as failures have been consecutive for less
 * than the window.  One window per mechanism (the request core, each
 * transfer): a success anywhere in it closes the outage.  Pure logic: the
 * caller sleeps, logs and decides what may be repeated (a request that is
 * not idempotent only after a refused connection, as for the policy).
 */
#define VRETRY_OUTAGE_DEFAULT_S 600
#define VRETRY_OUTAGE_CAP_S 20

typedef struct vretry_outage {
	long long window_ms;  /* 0: no window */
	double time_scale;    /* delays times this (the window is given scaled) */
	long long since_ms;   /* first failure of the current outage; -1: none */
	long long warned_ms;  /* the latest warning; -1: none yet */
	int waits;            /* retries the window made in this outage */
	uint64_t rng;
} vretry_outage;

void vretry_outage_init(vretry_outage *w, long long window_ms, double time_scale,
			uint64_t seed);
/* Every failed attempt, retried by the policy or not: the outage begins
 * at the first. */
void vretry_outage_failed(vretry_outage *w, long long now_ms);
/* Any success: the outage is over. */
void vretry_outage_ok(vretry_outage *w);
/* Could the window cover this outcome: a connection or timeout failure
 * (never TLS), a 5xx or RequestTimeout, or throttling; never another 4xx. */
bool vretry_outage_covers(const vretry_outcome *o);
/* After the policy gave up on o at now_ms: true, with *delay_ms and
 * *retry (the window's retry count, 1 for the first), while failures have
 * been consecutive for less than the window; the last retry lands on the
 * window's end.  False when the window is off, spent, or does not cover o. */
bool vretry_outage_next(vretry_outage *w, const vretry_outcome *o,
			long long now_ms, long *delay_ms, int *retry);
/* Whether to show a "waiting for ..." line now: the first of an outage at
 * once, then one every 30 s (scaled), not one per request. */
bool vretry_outage_should_warn(vretry_outage *w, long long now_ms);
/* Seconds the current outage has lasted at now_ms (0 when none). */
double vretry_outage_elapsed_s(const vretry_outage *w, long long now_ms);
/* "20 s", "1.5 s", "1 min 5 s", "10 min": a wait, for messages. */
void vretry_fmt_duration(double seconds, char *buf, size_t len);
/* The line to show for a window retry: "waiting for S3 (connection
 * refused), retry 4 in 20 s", with on the first retry how long vmie will
 * keep trying, later how long the outage has lasted. */
void vretry_outage_message(const vretry_outage *w, const char *service,
			   const char *why, int retry, long delay_ms,
			   long long now_ms, char *buf, size_t len);
/* Words for an outcome in a "waiting for S3 (...)" line: "connection
 * refused", "timed out", "connection reset", "HTTP 503 SlowDown", ... */
void vretry_outage_why(const vretry_outcome *o, const char *transport_error,
		       char *buf, size_t len);

#endif
