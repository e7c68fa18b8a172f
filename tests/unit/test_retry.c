/* Retry policy: modes, attempts, backoff bounds, quota, idempotency. */
#include "aws/retry.h"
#include "check.h"

#include <stdlib.h>

static vretry_outcome status(long s, const char *code)
{
	vretry_outcome o = {VHTTP_OK, s, code};
	return o;
}

static vretry_outcome transport(vhttp_transport t)
{
	vretry_outcome o = {t, 0, NULL};
	return o;
}

static void test_init(void)
{
	vretry_policy p;
	vmie_error err = {0};
	CHECK_INT(vretry_policy_init(&p, NULL, NULL, 1, &err), 0);
	CHECK_INT(p.mode, VRETRY_STANDARD);
	CHECK_INT(p.max_attempts, 3);
	CHECK_INT(p.quota, 500);
	CHECK_INT(vretry_policy_init(&p, "legacy", NULL, 1, &err), 0);
	CHECK_INT(p.mode, VRETRY_LEGACY);
	CHECK_INT(p.max_attempts, 5);
	CHECK_INT(vretry_policy_init(&p, "adaptive", "7", 1, &err), 0);
	CHECK_INT(p.mode, VRETRY_STANDARD);
	CHECK_INT(p.max_attempts, 7);
	CHECK_INT(vretry_policy_init(&p, "standard", "1", 0, &err), 0);
	CHECK_INT(p.max_attempts, 1);
	CHECK(p.rng != 0);

	CHECK_INT(vretry_policy_init(&p, "fast", NULL, 1, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "AWS_RETRY_MODE");
	CHECK_CONTAINS(err.message, "'fast'");
	CHECK(err.hint != NULL);
	static const char *const bad[] = {"0", "-1", "x", "3x", "101", " "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(vretry_policy_init(&p, NULL, bad[i], 1, &err),
			  VMIE_ERR_AWS_CONFIG_INVALID);
		CHECK_CONTAINS(err.message, "AWS_MAX_ATTEMPTS");
	}
	vmie_error_clear(&err);
}

static void test_classes(void)
{
	vretry_policy std, leg;
	vretry_policy_init(&std, NULL, NULL, 1, NULL);
	vretry_policy_init(&leg, "legacy", NULL, 1, NULL);
	vretry_outcome o;

	CHECK(vretry_is_throttling("Throttling"));
	CHECK(vretry_is_throttling("RequestLimitExceeded"));
	CHECK(vretry_is_throttling("SlowDown"));
	CHECK(vretry_is_throttling("ThrottlingException"));
	CHECK(!vretry_is_throttling("AccessDenied"));
	CHECK(!vretry_is_throttling(NULL));

	static const long transient[] = {500, 502, 503, 504};
	for (size_t i = 0; i < 4; i++) {
		o = status(transient[i], NULL);
		CHECK(vretry_is_transient(&o));
		CHECK(vretry_is_retryable(&std, &o));
	}
	o = status(400, "RequestTimeout");
	CHECK(vretry_is_retryable(&std, &o));
	o = status(400, "IDPCommunicationError");
	CHECK(vretry_is_retryable(&std, &o));
	o = status(400, "ValidationError");
	CHECK(!vretry_is_retryable(&std, &o));
	o = status(403, "AccessDenied");
	CHECK(!vretry_is_retryable(&std, &o));
	o = status(501, NULL);
	CHECK(!vretry_is_retryable(&std, &o));
	/* 429 with a code nobody knows: standard no, legacy yes. */
	o = status(429, "Whatever");
	CHECK(!vretry_is_retryable(&std, &o));
	CHECK(vretry_is_retryable(&leg, &o));
	o = status(429, "TooManyRequestsException");
	CHECK(vretry_is_retryable(&std, &o));
	o = status(509, NULL);
	CHECK(!vretry_is_retryable(&std, &o));
	CHECK(vretry_is_retryable(&leg, &o));
	o = status(400, "BadDigest");
	CHECK(vretry_is_retryable(&leg, &o));
	o = status(200, NULL);
	CHECK(!vretry_is_retryable(&std, &o));

	o = transport(VHTTP_CONNECT);
	CHECK(vretry_is_retryable(&std, &o) && vretry_is_retryable(&leg, &o));
	o = transport(VHTTP_TIMEOUT);
	CHECK(vretry_is_retryable(&std, &o) && vretry_is_retryable(&leg, &o));
	o = transport(VHTTP_IO);
	CHECK(vretry_is_retryable(&std, &o));
	/* A certificate problem never heals by itself. */
	o = transport(VHTTP_TLS);
	CHECK(!vretry_is_retryable(&std, &o) && !vretry_is_retryable(&leg, &o));
	o = transport(VHTTP_OTHER);
	CHECK(!vretry_is_retryable(&std, &o));
}

static void test_attempts_and_delays(void)
{
	vretry_policy p;
	vretry_policy_init(&p, NULL, NULL, 42, NULL);
	vretry_outcome o = status(503, "ServiceUnavailable");
	vretry_state s = VRETRY_STATE_INIT;
	long d;
	CHECK(vretry_should_retry(&p, &s, &o, true, &d));
	CHECK(d >= 0 && d < 1000);
	CHECK_INT(s.attempt, 2);
	CHECK(vretry_should_retry(&p, &s, &o, true, &d));
	CHECK(d >= 0 && d < 2000);
	CHECK_INT(s.attempt, 3);
	CHECK(!vretry_should_retry(&p, &s, &o, true, &d)); /* 3 = max */
	CHECK_INT(d, 0);
	CHECK_INT(p.quota, 490);

	/* Same seed, same delays. */
	vretry_policy a, b;
	vretry_policy_init(&a, NULL, "10", 7, NULL);
	vretry_policy_init(&b, NULL, "10", 7, NULL);
	vretry_state sa = VRETRY_STATE_INIT, sb = VRETRY_STATE_INIT;
	bool same = true, varied = false;
	long first = -1;
	for (int i = 0; i < 9; i++) {
		long da, db;
		CHECK(vretry_should_retry(&a, &sa, &o, true, &da));
		CHECK(vretry_should_retry(&b, &sb, &o, true, &db));
		same = same && da == db;
		/* attempt i+1 failed: cap min(2^i, 20) s */
		long cap = i >= 5 ? 20000 : 1000L << i;
		CHECK(da >= 0 && da < cap);
		if (first < 0)
			first = da;
		else if (da != first)
			varied = true;
	}
	CHECK(same);
	CHECK(varied);
	CHECK_INT(sa.attempt, 10);

	/* Legacy: 5 attempts, rand * 2^(n-1), no quota. */
	vretry_policy_init(&p, "legacy", NULL, 3, NULL);
	s = (vretry_state)VRETRY_STATE_INIT;
	int n = 0;
	while (vretry_should_retry(&p, &s, &o, true, &d)) {
		CHECK(d >= 0 && d < (1000L << n));
		n++;
	}
	CHECK_INT(n, 4);
	CHECK_INT(p.quota, 500);

	/* Not idempotent and no client token: never retried. */
	vretry_policy_init(&p, NULL, NULL, 1, NULL);
	s = (vretry_state)VRETRY_STATE_INIT;
	CHECK(!vretry_should_retry(&p, &s, &o, false, &d));
	CHECK_INT(s.attempt, 1);
	CHECK_INT(p.quota, 500);

	/* Not retryable: no cost. */
	vretry_outcome denied = status(403, "AccessDenied");
	CHECK(!vretry_should_retry(&p, &s, &denied, true, &d));
	CHECK_INT(p.quota, 500);
	vretry_outcome tls = transport(VHTTP_TLS);
	CHECK(!vretry_should_retry(&p, &s, &tls, true, &d));

	/* max_attempts 1: nothing is retried. */
	vretry_policy_init(&p, NULL, "1", 1, NULL);
	s = (vretry_state)VRETRY_STATE_INIT;
	CHECK(!vretry_should_retry(&p, &s, &o, true, &d));
}

static void test_quota(void)
{
	vretry_policy p;
	vretry_policy_init(&p, NULL, "100", 5, NULL);
	vretry_outcome o = status(500, NULL);
	vretry_outcome to = transport(VHTTP_TIMEOUT);
	long d;

	/* Timeouts cost 10, other errors 5. */
	vretry_state s = VRETRY_STATE_INIT;
	CHECK(vretry_should_retry(&p, &s, &to, true, &d));
	CHECK_INT(p.quota, 490);
	CHECK_INT(s.last_cost, 10);
	CHECK(vretry_should_retry(&p, &s, &o, true, &d));
	CHECK_INT(p.quota, 485);
	CHECK_INT(s.last_cost, 5);
	/* Success after retries refunds the last cost only. */
	vretry_on_success(&p, &s);
	CHECK_INT(p.quota, 490);
	/* Success without retry: +1, capped at 500. */
	vretry_state fresh = VRETRY_STATE_INIT;
	vretry_on_success(&p, &fresh);
	CHECK_INT(p.quota, 491);
	for (int i = 0; i < 20; i++)
		vretry_on_success(&p, &fresh);
	CHECK_INT(p.quota, 500);

	/* Exhaust: 500 / 5 = 100 retries over many requests, then none. */
	int retries = 0;
	for (int r = 0; r < 50; r++) {
		vretry_state st = VRETRY_STATE_INIT;
		while (vretry_should_retry(&p, &st, &o, true, &d))
			retries++;
	}
	CHECK_INT(retries, 100);
	CHECK_INT(p.quota, 0);
	vretry_state st = VRETRY_STATE_INIT;
	CHECK(!vretry_should_retry(&p, &st, &o, true, &d));
	/* A timeout needs 10: with 5 left it is not retried, a 5xx is. */
	p.quota = 5;
	CHECK(!vretry_should_retry(&p, &st, &to, true, &d));
	CHECK(vretry_should_retry(&p, &st, &o, true, &d));
	CHECK_INT(p.quota, 0);
}

/* The outage window: after the policy, transient failures are waited
 * out while they have lasted less than the window; a success closes it. */
static void test_outage_window(void)
{
	vretry_outage w;
	long d = 0;
	int n = 0;
	vretry_outage_init(&w, 600000, 1.0, 7);
	vretry_outcome refused = transport(VHTTP_CONNECT);
	/* What it covers: no connection, 5xx, throttling; never TLS or a 4xx. */
	CHECK(vretry_outage_covers(&refused));
	vretry_outcome o = status(503, "SlowDown");
	CHECK(vretry_outage_covers(&o));
	o = status(400, "RequestLimitExceeded");
	CHECK(vretry_outage_covers(&o));
	o = transport(VHTTP_TLS);
	CHECK(!vretry_outage_covers(&o));
	CHECK(!vretry_outage_next(&w, &o, 0, &d, &n));
	o = status(403, "AccessDenied");
	CHECK(!vretry_outage_covers(&o));
	o = status(200, NULL);
	CHECK(!vretry_outage_covers(&o));

	/* Delays grow, with jitter, to the cap; the count goes up. */
	long long now = 1000;
	long prev_max = 0;
	for (int i = 1; i <= 12; i++) {
		CHECK(vretry_outage_next(&w, &refused, now, &d, &n));
		CHECK_INT(n, i);
		long cap = i == 1 ? 2500 : i == 2 ? 5000 : i == 3 ? 10000 : 20000;
		CHECK(d >= cap / 2 && d <= cap);
		if (d > prev_max)
			prev_max = d;
		now += d;
	}
	CHECK(prev_max <= VRETRY_OUTAGE_CAP_S * 1000);
	CHECK(vretry_outage_elapsed_s(&w, now) > 100);
	/* The last retry lands on the window's end, then no more. */
	CHECK(vretry_outage_next(&w, &refused, 1000 + 599000, &d, &n));
	CHECK(d <= 1000);
	CHECK(!vretry_outage_next(&w, &refused, 1000 + 600000, &d, &n));
	/* A success: a new outage gets a whole window again. */
	vretry_outage_ok(&w);
	CHECK(vretry_outage_next(&w, &refused, 5000000, &d, &n));
	CHECK_INT(n, 1);

	/* Warnings: the first at once, then every 30 s, not per request. */
	vretry_outage_ok(&w);
	CHECK(vretry_outage_should_warn(&w, 0));
	CHECK(!vretry_outage_should_warn(&w, 10000));
	CHECK(vretry_outage_should_warn(&w, 30000));

	/* The test clock scales delays; a zero window is no window. */
	vretry_outage_init(&w, 6000, 0.01, 7);
	CHECK(vretry_outage_next(&w, &refused, 0, &d, &n));
	CHECK(d >= 12 && d <= 25);
	vretry_outage_init(&w, 0, 1.0, 7);
	CHECK(!vretry_outage_next(&w, &refused, 0, &d, &n));

	char why[64], line[256];
	vretry_outage_why(&refused, "Failed to connect: Connection refused", why, sizeof why);
	CHECK_STR(why, "connection refused");
	o = status(500, "InternalError");
	vretry_outage_why(&o, NULL, why, sizeof why);
	CHECK_STR(why, "HTTP 500 InternalError");
	o = status(400, "RequestLimitExceeded");
	vretry_outage_why(&o, NULL, why, sizeof why);
	CHECK_STR(why, "throttled: RequestLimitExceeded");
	vretry_outage_init(&w, 600000, 1.0, 7);
	vretry_outage_failed(&w, 0);
	vretry_outage_message(&w, "S3", "connection refused", 1, 2000, 0, line, sizeof line);
	CHECK_STR(line, "waiting for S3 (connection refused), retry 1 in 2.0 s; vmie keeps "
		  "trying for up to 10 min (--outage-window)");
	vretry_outage_message(&w, "S3", "connection refused", 4, 20000, 65000, line, sizeof line);
	CHECK_STR(line, "waiting for S3 (connection refused), retry 4 in 20 s (failing for 65 s)");
}

/* The test clock knob scales the policy's delays too. */
static void test_time_scale(void)
{
	vretry_policy p;
	vretry_policy_init(&p, NULL, "10", 9, NULL);
	p.time_scale = 0.01;
	vretry_state st = VRETRY_STATE_INIT;
	vretry_outcome o = status(503, NULL);
	long d = 0;
	for (int i = 0; i < 6; i++) {
		CHECK(vretry_should_retry(&p, &st, &o, true, &d));
		CHECK(d <= 200);
	}
}

int main(void)
{
	test_init();
	test_outage_window();
	test_time_scale();
	test_classes();
	test_attempts_and_delays();
	test_quota();
	return check_done("retry");
}
