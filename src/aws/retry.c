/*
 * Retry decisions, after botocore: retries/standard.py, retries/quota.py
 * and, for legacy mode, data/_retry.json.  The numbers are theirs so that
 * vmie puts the same load on a struggling service as the AWS CLI would.
 */
#include "aws/retry.h"
#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STANDARD_ATTEMPTS 3
#define LEGACY_ATTEMPTS 5
#define MAX_ATTEMPTS_LIMIT 100
#define STANDARD_CAP_S 20

int vretry_policy_init(vretry_policy *p, const char *mode,
		       const char *max_attempts, uint64_t seed,
		       vmie_error *err)
{
	memset(p, 0, sizeof(*p));
	p->mode = VRETRY_STANDARD;
	if (mode && *mode) {
		if (strcmp(mode, "legacy") == 0) {
			p->mode = VRETRY_LEGACY;
		} else if (strcmp(mode, "standard") != 0 &&
			   strcmp(mode, "adaptive") != 0) {
			verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				 "invalid retry mode '%s' (AWS_RETRY_MODE or "
				 "retry_mode in the config file)",
				 mode);
			return verr_hint(err, "use standard, legacy or "
					      "adaptive");
		}
	}
	p->max_attempts = p->mode == VRETRY_LEGACY ? LEGACY_ATTEMPTS
						   : STANDARD_ATTEMPTS;
	if (max_attempts && *max_attempts) {
		char *end = NULL;
		long n = strtol(max_attempts, &end, 10);
		if (*end || end == max_attempts || n < 1 ||
		    n > MAX_ATTEMPTS_LIMIT) {
			verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				 "invalid max attempts '%s' (AWS_MAX_ATTEMPTS "
				 "or max_attempts in the config file)",
				 max_attempts);
			return verr_hint(err,
					 "a whole number from 1 to %d: the "
					 "total number of attempts, the first "
					 "included",
					 MAX_ATTEMPTS_LIMIT);
		}
		p->max_attempts = (int)n;
	}
	p->quota = VRETRY_QUOTA_MAX;
	p->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	p->time_scale = 1.0;
	return 0;
}

/* xorshift64*: plenty for jitter, and reproducible in tests. */
static double unit_from(uint64_t *rng)
{
	uint64_t x = *rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*rng = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

static double next_unit(vretry_policy *p)
{
	return unit_from(&p->rng);
}

static bool code_in(const char *code, const char *const *list, size_t n)
{
	if (!code)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(code, list[i]) == 0)
			return true;
	return false;
}

#define IN(code, list) code_in(code, list, sizeof(list) / sizeof(list[0]))

bool vretry_is_throttling(const char *aws_code)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"TransactionInProgressException", "RequestLimitExceeded",
		"BandwidthLimitExceeded", "LimitExceededException",
		"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
		"EC2ThrottledException",
	};
	return IN(aws_code, codes);
}

/* A request that got no answer: connection and timeout failures may pass
 * on the next try; TLS failures (a bad certificate) never will. */
static bool transport_retryable(vhttp_transport t)
{
	switch (t) {
	case VHTTP_CONNECT:
	case VHTTP_TIMEOUT:
	case VHTTP_IO:
		return true;
	case VHTTP_OK:
	case VHTTP_TLS:
	case VHTTP_OTHER:
		break;
	}
	return false;
}

bool vretry_is_transient(const vretry_outcome *o)
{
	static const char *const codes[] = {
		"RequestTimeout", "RequestTimeoutException",
		"PriorRequestNotComplete",
	};
	if (o->transport != VHTTP_OK)
		return transport_retryable(o->transport);
	if (IN(o->aws_code, codes))
		return true;
	return o->http_status == 500 || o->http_status == 502 ||
	       o->http_status == 503 || o->http_status == 504;
}

static bool legacy_retryable(const vretry_outcome *o)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException",
		"RequestThrottledException",
		"ProvisionedThroughputExceededException",
		/* per service in _retry.json: EC2, S3, STS */
		"RequestLimitExceeded", "EC2ThrottledException",
		"RequestTimeout", "BadDigest", "IDPCommunicationError",
	};
	if (o->transport != VHTTP_OK)
		return transport_retryable(o->transport);
	if (IN(o->aws_code, codes))
		return true;
	switch (o->http_status) {
	case 429: case 500: case 502: case 503: case 504: case 509:
		return true;
	default:
		return false;
	}
}

bool vretry_is_retryable(const vretry_policy *p, const vretry_outcome *o)
{
	if (p->mode == VRETRY_LEGACY)
		return legacy_retryable(o);
	if (o->transport == VHTTP_OK && o->http_status >= 200 &&
	    o->http_status < 300)
		return false;
	/* STS's IDPCommunicationError is botocore's one special case that
	 * concerns us (retries/special.py). */
	return vretry_is_transient(o) || vretry_is_throttling(o->aws_code) ||
	       (o->aws_code && strcmp(o->aws_code, "IDPCommunicationError") == 0);
}

bool vretry_should_retry(vretry_policy *p, vretry_state *s,
			 const vretry_outcome *o, bool safe_to_retry,
			 long *delay_ms)
{
	*delay_ms = 0;
	if (!safe_to_retry || s->attempt >= p->max_attempts ||
	    !vretry_is_retryable(p, o))
		return false;

	double base;
	if (p->mode == VRETRY_STANDARD) {
		int cost = o->transport == VHTTP_TIMEOUT ? VRETRY_TIMEOUT_COST
							 : VRETRY_COST;
		if (p->quota < cost)
			return false;
		p->quota -= cost;
		s->last_cost = cost;
		base = s->attempt - 1 >= 5 ? STANDARD_CAP_S
					  : (double)(1 << (s->attempt - 1));
		if (base > STANDARD_CAP_S)
			base = STANDARD_CAP_S;
	} else {
		/* legacy: rand * 2^(attempt-1), uncapped; at most 5
		 * attempts by default, but AWS_MAX_ATTEMPTS may ask more. */
		int e = s->attempt - 1 > 30 ? 30 : s->attempt - 1;
		base = (double)(1L << e);
	}
	*delay_ms = (long)(next_unit(p) * base * 1000.0 * p->time_scale);
	s->attempt++;
	return true;
}

void vretry_on_success(vretry_policy *p, const vretry_state *s)
{
	if (p->mode != VRETRY_STANDARD)
		return;
	p->quota += s->last_cost ? s->last_cost : 1;
	if (p->quota > VRETRY_QUOTA_MAX)
		p->quota = VRETRY_QUOTA_MAX;
}

/* The window's first retry waits about this long, doubling to the cap. */
#define OUTAGE_FIRST_MS 2500.0
#define OUTAGE_WARN_EVERY_MS 30000.0

void vretry_outage_init(vretry_outage *w, long long window_ms, double time_scale,
			uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->window_ms = window_ms > 0 ? window_ms : 0;
	w->time_scale = time_scale > 0 ? time_scale : 1.0;
	w->since_ms = -1;
	w->warned_ms = -1;
	w->rng = seed ? seed : 0x2545f4914f6cdd1dull;
}

void vretry_outage_failed(vretry_outage *w, long long now_ms)
{
	if (w->since_ms < 0)
		w->since_ms = now_ms;
}

void vretry_outage_ok(vretry_outage *w)
{
	w->since_ms = -1;
	w->warned_ms = -1;
	w->waits = 0;
}

bool vretry_outage_covers(const vretry_outcome *o)
{
	if (o->transport == VHTTP_OK && o->http_status >= 200 &&
	    o->http_status < 300)
		return false;
	return vretry_is_transient(o) || vretry_is_throttling(o->aws_code);
}

bool vretry_outage_next(vretry_outage *w, const vretry_outcome *o,
			long long now_ms, long *delay_ms, int *retry)
{
	*delay_ms = 0;
	if (!w->window_ms || !vretry_outage_covers(o))
		return false;
	vretry_outage_failed(w, now_ms);
	long long left = w->since_ms + w->window_ms - now_ms;
	if (left <= 0)
		return false;
	int e = w->waits > 10 ? 10 : w->waits;
	double d = OUTAGE_FIRST_MS * (double)(1 << e);
	if (d > VRETRY_OUTAGE_CAP_S * 1000.0)
		d = VRETRY_OUTAGE_CAP_S * 1000.0;
	/* Equal jitter: spread the clients out, yet never retry at once. */
	d = (d / 2 + unit_from(&w->rng) * d / 2) * w->time_scale;
	if (d < 1)
		d = 1;
	if (d > (double)left)
		d = (double)left;
	*delay_ms = (long)d;
	*retry = ++w->waits;
	return true;
}

bool vretry_outage_should_warn(vretry_outage *w, long long now_ms)
{
	if (w->warned_ms >= 0 &&
	    (double)(now_ms - w->warned_ms) < OUTAGE_WARN_EVERY_MS * w->time_scale)
		return false;
	w->warned_ms = now_ms;
	return true;
}

double vretry_outage_elapsed_s(const vretry_outage *w, long long now_ms)
{
	return w->since_ms < 0 ? 0 : (double)(now_ms - w->since_ms) / 1000.0;
}

void vretry_outage_why(const vretry_outcome *o, const char *transport_error,
		       char *buf, size_t len)
{
	switch (o->transport) {
	case VHTTP_OK:
		if (vretry_is_throttling(o->aws_code))
			snprintf(buf, len, "throttled: %s", o->aws_code);
		else
			snprintf(buf, len, "HTTP %ld%s%s", o->http_status,
				 o->aws_code ? " " : "", o->aws_code ? o->aws_code : "");
		return;
	case VHTTP_CONNECT:
		snprintf(buf, len, "%s", transport_error && strstr(transport_error, "refused")
					  ? "connection refused" : "cannot connect");
		return;
	case VHTTP_TIMEOUT:
		snprintf(buf, len, "timed out");
		return;
	case VHTTP_IO:
		snprintf(buf, len, "connection reset");
		return;
	case VHTTP_TLS:
	case VHTTP_OTHER:
		break;
	}
	snprintf(buf, len, "%s", transport_error ? transport_error : "no answer");
}

void vretry_fmt_duration(double seconds, char *buf, size_t len)
{
	if (seconds < 10)
		snprintf(buf, len, "%.1f s", seconds);
	else if (seconds < 120)
		snprintf(buf, len, "%.0f s", seconds);
	else if ((long)seconds % 60 == 0)
		snprintf(buf, len, "%ld min", (long)seconds / 60);
	else
		snprintf(buf, len, "%ld min %ld s", (long)seconds / 60,
			 (long)seconds % 60);
}

void vretry_outage_message(const vretry_outage *w, const char *service,
			   const char *why, int retry, long delay_ms,
			   long long now_ms, char *buf, size_t len)
{
	char in[32], more[32];
	vretry_fmt_duration((double)delay_ms / 1000.0, in, sizeof in);
	if (retry <= 1)
		vretry_fmt_duration((double)w->window_ms / 1000.0, more, sizeof more);
	else
		vretry_fmt_duration(vretry_outage_elapsed_s(w, now_ms), more, sizeof more);
	snprintf(buf, len, "waiting for %s (%s), retry %d in %s%s%s%s", service, why,
		 retry, in, retry <= 1 ? "; vmie keeps trying for up to " : " (failing for ",
		 more, retry <= 1 ? " (--outage-window)" : ")");
}
