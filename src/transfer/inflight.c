/*
 * Requests in flight (inflight.h): the loop, the slots, and the retry of
 * a failed transfer, shared by the upload and download engines.
 */
#include "transfer/inflight.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "aws/client_sign.h"
#include "aws/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "transfer/curl_headers.h"
#include "transfer/rate_limit.h"

#define POLL_MS 100
#define CONNECT_TIMEOUT_MS 10000L
/* A transfer that moves no byte for this long is dropped (and retried). */
#define LOW_SPEED_TIME_S 60L
/* Socket buffers under a bandwidth cap (see small_buffers). */
#define MIN_SOCKBUF (16 << 10)
#define MAX_SOCKBUF (4 << 20)
/* What is kept of an answer's body unless the engine reads it itself:
 * headers and at most an error document matter. */
#define MAX_RESPONSE_BODY (64u << 10)

struct vxfer {
	vxfer_opts o;
	CURLM *multi;
	vxfer_slot *slots;
	unsigned nslots;
	const char *ca_bundle;       /* the client's config owns it */
	unsigned connects;
	vretry_outage outage;        /* this transfer's outage window */
	uint64_t wire_bytes;         /* moved by every transfer, either way */
	vxfer_bucket bucket;         /* the bandwidth cap */
	bool held;                   /* transfers paused by the cap */
};

long long vxfer_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool vxfer_expired_code(const char *code)
{
	static const char *const codes[] = {"ExpiredToken", "RequestExpired",
					    "TokenRefreshRequired"};
	for (size_t i = 0; code && i < sizeof codes / sizeof *codes; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

int vxfer_no_answer(vmie_error *err, int status, const vhttp_response *rs,
		    int attempts, const char *hint)
{
	verr_set(err, status, "%s (after %d attempt%s)",
		 rs->transport_error ? rs->transport_error : "transport error",
		 attempts, attempts == 1 ? "" : "s");
	return verr_hint(err, "%s",
			 rs->transport == VHTTP_TLS
				 ? "the TLS connection could not be verified: "
				   "check the system CA certificates and "
				   "AWS_CA_BUNDLE"
				 : hint);
}

vxfer *vxfer_new(const vxfer_opts *o, vmie_error *err)
{
	vxfer *x = xcalloc(1, sizeof(*x));
	x->o = *o;
	x->ca_bundle = vaws_config_setting(vaws_client_config(o->client),
					   "AWS_CA_BUNDLE", "ca_bundle");
	vretry_outage_init(&x->outage, vaws_client_outage_window_ms(o->client),
			   o->retry ? o->retry->time_scale : 1.0,
			   (uint64_t)vxfer_now_ms() ^ (uint64_t)(uintptr_t)x);
	x->multi = curl_multi_init();
	x->nslots = o->parallel;
	x->slots = xcalloc(x->nslots, sizeof(*x->slots));
	vxfer_bucket_init(&x->bucket, o->max_bps, vxfer_now_ms());
	for (unsigned i = 0; x->multi && i < x->nslots; i++) {
		x->slots[i].owner = x;
		x->slots[i].easy = curl_easy_init();
		if (!x->slots[i].easy)
			break;
		if (i + 1 == x->nslots)
			return x;
	}
	vxfer_free(x);
	verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
		 "cannot initialise the HTTP client (libcurl)");
	return NULL;
}

static void slot_end(vxfer *x, vxfer_slot *sl)
{
	if (sl->hdrs)
		curl_multi_remove_handle(x->multi, sl->easy);
	vxfer_curl_headers_free(sl->hdrs);
	sl->hdrs = NULL;
}

void vxfer_free(vxfer *x)
{
	if (!x)
		return;
	for (unsigned i = 0; i < x->nslots; i++) {
		vxfer_slot *sl = &x->slots[i];
		slot_end(x, sl);
		vhttp_response_free(&sl->rs);
		if (sl->easy)
			curl_easy_cleanup(sl->easy);
	}
	free(x->slots);
	if (x->multi)
		curl_multi_cleanup(x->multi);
	free(x);
}

void vxfer_wake(vxfer *x)
{
	curl_multi_wakeup(x->multi);
}

unsigned vxfer_connects(const vxfer *x)
{
	return x->connects;
}

unsigned vxfer_nslots(const vxfer *x)
{
	return x->nslots;
}

vxfer_slot *vxfer_slot_at(vxfer *x, unsigned i)
{
	return i < x->nslots ? &x->slots[i] : NULL;
}

static void pause_slot(vxfer_slot *sl, bool pause)
{
	if (sl->paused == pause)
		return;
	sl->paused = pause;
	/* Resuming may hand held bytes to the sink at once (it counts them). */
	curl_easy_pause(sl->easy, pause ? CURLPAUSE_ALL : CURLPAUSE_CONT);
}

/* Whether the bucket is below empty now. */
static bool over_cap(vxfer *x)
{
	return x->o.max_bps &&
	       vxfer_bucket_wait(&x->bucket, x->wire_bytes, vxfer_now_ms()) > 0;
}

/* An upload's bytes sent so far, as curl counts them (for this attempt:
 * curl's counters restart with each request, so the count is kept here). */
static void count_sent(vxfer_slot *sl, uint64_t now)
{
	if (now > sl->sent) {
		sl->owner->wire_bytes += now - sl->sent;
		sl->sent = now;
	}
}

/* curl's progress callback, called as bytes go out: a send is bounded by
 * the socket's buffer, so holding here, between sends, is enough. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	vxfer_slot *sl = ctx;
	count_sent(sl, ulnow > 0 ? (uint64_t)ulnow : 0);
	if (over_cap(sl->owner))
		pause_slot(sl, true);
	return 0;
}

bool vxfer_receive(vxfer_slot *sl, size_t n)
{
	vxfer *x = sl->owner;
	if (over_cap(x)) {
		/* Returning CURL_WRITEFUNC_PAUSE pauses the receiving side. */
		sl->paused = true;
		return false;
	}
	sl->received += n;
	x->wire_bytes += n;
	return true;
}

static size_t keep_body(char *p, size_t size, size_t n, void *ctx)
{
	vxfer_slot *sl = ctx;
	size_t len = size * n;
	if (!vxfer_receive(sl, len))
		return CURL_WRITEFUNC_PAUSE;
	if (sl->rs.body.len + len <= MAX_RESPONSE_BODY)
		vbuf_add(&sl->rs.body, p, len);
	return len;
}

/* Under a cap, what a held transfer can still move is what the kernel's
 * socket buffers take (megabytes each, with autotuning): it would reach
 * the peer as bursts the cap never allowed, and each turn of the loop
 * would find more than the bucket let through.  A twentieth of a second
 * of the rate, shared by the slots (the kernel doubles it), keeps that
 * small and still covers a 100 ms round trip at the capped rate. */
static int small_buffers(void *ctx, curl_socket_t fd, curlsocktype purpose)
{
	const vxfer *x = ctx;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKOPT_OK;
	uint64_t b = x->o.max_bps / 20 / (x->nslots ? x->nslots : 1);
	int size = b < MIN_SOCKBUF ? MIN_SOCKBUF
		 : b > MAX_SOCKBUF ? MAX_SOCKBUF
				   : (int)b;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	return CURL_SOCKOPT_OK;
}

static void setup_easy(vxfer *x, vxfer_slot *sl, const char *url)
{
	CURL *e = sl->easy;
	vhttp_easy_defaults(e, url, x->ca_bundle, CONNECT_TIMEOUT_MS,
			    LOW_SPEED_TIME_S, sl->errbuf, &sl->rs);
	/* One connection per request in flight: S3 speaks HTTP/1.1 only. */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, sl);
	curl_easy_setopt(e, CURLOPT_PRIVATE, sl);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl->hdrs);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, sl);
	sl->sent = sl->received = 0;
	sl->paused = false;
	if (x->o.max_bps) {
		/* One call of curl's may read or write on one transfer for
		 * as long as the peer keeps up; curl's own limit makes it
		 * stop at the rate and come back to the loop, where the
		 * bucket holds all transfers together to it. */
		curl_off_t bps = (curl_off_t)x->o.max_bps;
		curl_easy_setopt(e, CURLOPT_MAX_SEND_SPEED_LARGE, bps);
		curl_easy_setopt(e, CURLOPT_MAX_RECV_SPEED_LARGE, bps);
		curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, small_buffers);
		curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, x);
	}
}

int vxfer_prepare(vxfer *x, vxfer_slot *sl, const vaws_rest_request *rq,
		  const char *const *blank, vmie_error *err)
{
	vaws_signed_request sr = {0};
	int rc = vaws_client_sign_rest(x->o.client, rq, &sr, err);
	if (rc == 0) {
		vhttp_response_free(&sl->rs);
		sl->errbuf[0] = '\0';
		sl->hdrs = vxfer_curl_headers(&sr.headers, blank);
		setup_easy(x, sl, sr.url);
	}
	vaws_signed_request_free(&sr);
	return rc;
}

int vxfer_add(vxfer *x, vxfer_slot *sl, const char *what, vmie_error *err)
{
	if (curl_multi_add_handle(x->multi, sl->easy) == CURLM_OK)
		return 0;
	vxfer_curl_headers_free(sl->hdrs);
	sl->hdrs = NULL;
	return verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
			"cannot start the transfer of %s", what);
}

/* A transfer for each idle slot a job can fill.  VXFER_ALL_DONE when the
 * engine has nothing left, else 0 or a status. */
static int dispatch(vxfer *x, vmie_error *err)
{
	long long now = vxfer_now_ms();
	for (unsigned i = 0; i < x->nslots; i++) {
		vxfer_slot *sl = &x->slots[i];
		if (sl->job)
			continue;
		vxfer_job *job = NULL;
		int rc = x->o.ops->next(x->o.ctx, now, &job, err);
		if (rc == VXFER_NONE)
			return 0;
		if (rc != VXFER_JOB)
			return rc;
		sl->job = job;
		rc = x->o.ops->start(x->o.ctx, x, sl, err);
		if (rc != 0) {
			sl->job = NULL;
			x->o.ops->requeue(x->o.ctx, job);
			return rc;
		}
	}
	return 0;
}

/* The status line, or why there is none. */
static void read_answer(vxfer *x, vxfer_slot *sl, CURLcode cc)
{
	vhttp_response *rs = &sl->rs;
	long connects = 0;
	curl_easy_getinfo(sl->easy, CURLINFO_NUM_CONNECTS, &connects);
	x->connects += (unsigned)connects;
	curl_off_t up = 0;
	if (curl_easy_getinfo(sl->easy, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK &&
	    up > 0)
		count_sent(sl, (uint64_t)up);
	vxfer_curl_headers_free(sl->hdrs);
	sl->hdrs = NULL;
	if (cc == CURLE_OK) {
		curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE,
				  &rs->status);
		rs->transport = VHTTP_OK;
	} else {
		rs->status = 0;
		rs->transport = vhttp_classify(cc);
		rs->transport_error = vhttp_transport_words(sl->easy, cc, sl->errbuf);
	}
}

static const char *why(const vxfer_outcome *out, const vhttp_response *rs)
{
	if (out->o.aws_code)
		return out->o.aws_code;
	if (rs->transport_error)
		return rs->transport_error;
	return out->o.transport != VHTTP_OK ? "connection dropped"
					    : "server error";
}

/* The policy gave up on out: the outage window may still wait it out
 * (never after Ctrl-C: the loop is ending).  One line for every job
 * failing at once, not one per job. */
static bool outage_retry(vxfer *x, vxfer_slot *sl, const vxfer_outcome *out,
			 long *delay)
{
	int retry = 0;
	long long now = vxfer_now_ms();
	if (out->final || (x->o.cancel && *x->o.cancel) ||
	    !vretry_outage_next(&x->outage, &out->o, now, delay, &retry))
		return false;
	char why[96], line[256];
	vretry_outage_why(&out->o, sl->rs.transport_error, why, sizeof why);
	vretry_outage_message(&x->outage, "S3", why, retry, *delay, now, line, sizeof line);
	if (vretry_outage_should_warn(&x->outage, now))
		vlog_warn("%s", line);
	else
		vlog_debug("s3 %s: %s", x->o.operation, line);
	return true;
}

/* A success after an outage the user was told about: say it is over. */
static void outage_over(vxfer *x)
{
	if (x->outage.warned_ms >= 0) {
		char dur[32];
		vretry_fmt_duration(vretry_outage_elapsed_s(&x->outage, vxfer_now_ms()),
				    dur, sizeof dur);
		vlog_info("S3 answers again (after %s of failures)", dur);
	}
	vretry_outage_ok(&x->outage);
}

/* A transfer ended.  0 (done, or waiting for its retry) or a status. */
static int finish(vxfer *x, vxfer_slot *sl, CURLcode cc, vmie_error *err)
{
	const vxfer_ops *ops = x->o.ops;
	vxfer_job *job = sl->job;
	read_answer(x, sl, cc);
	vxfer_outcome out = {{sl->rs.transport, sl->rs.status, NULL},
			     {0},
			     false};
	if (sl->rs.transport == VHTTP_OK && sl->rs.status >= 300) {
		vawserr_parse(&sl->rs, &out.info);
		out.o.aws_code = out.info.code;
	}
	int rc = ops->ended(x->o.ctx, sl, &out, err);
	if (rc == VXFER_DONE) {
		vretry_on_success(x->o.retry, &job->retry);
		outage_over(x);
		sl->job = NULL;
		vawserr_info_free(&out.info);
		return 0;
	}
	if (rc != VXFER_FAILED) {
		sl->job = NULL;
		ops->requeue(x->o.ctx, job);
		vawserr_info_free(&out.info);
		return rc;
	}
	int attempt = job->retry.attempt;
	long delay = 0;
	bool again;
	if (vxfer_expired_code(out.o.aws_code) && !job->resigned) {
		/* Signed again at the next start, with credentials renewed
		 * now (AWS said the ones in hand are over). */
		vaws_client_renew_credentials(x->o.client);
		job->resigned = true;
		again = true;
	} else {
		vretry_outage_failed(&x->outage, vxfer_now_ms());
		again = !out.final &&
			vretry_should_retry(x->o.retry, &job->retry, &out.o,
					    true, &delay);
		if (!again && (again = outage_retry(x, sl, &out, &delay)))
			job->retry.attempt++;
	}
	if (again) {
		vlog_debug("s3 %s: attempt %d: %s; retrying in %ld ms",
			   x->o.operation, attempt, why(&out, &sl->rs), delay);
		job->not_before = vxfer_now_ms() + delay;
		sl->job = NULL;
		ops->requeue(x->o.ctx, job);
		rc = 0;
	} else {
		rc = ops->give_up(x->o.ctx, sl, attempt, &out, err);
		sl->job = NULL;
		ops->requeue(x->o.ctx, job);
	}
	vawserr_info_free(&out.info);
	return rc;
}

/* Every transfer that ended is handled, also after one failed for good:
 * the others' work counts (a download's state keeps their chunks).  The
 * first failure is the one reported. */
static int reap(vxfer *x, vmie_error *err)
{
	CURLMsg *m;
	int left, first = 0;
	while ((m = curl_multi_info_read(x->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *e = m->easy_handle;
		CURLcode cc = m->data.result;
		char *priv = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		curl_multi_remove_handle(x->multi, e);
		vmie_error later = {0};
		int rc = finish(x, (vxfer_slot *)priv, cc,
				first ? &later : err);
		vmie_error_clear(&later);
		if (rc != 0 && !first)
			first = rc;
	}
	return first;
}

/* Body bytes of the transfers under way: sent for an upload, received
 * for a download (the other direction is an answer's few bytes). */
static uint64_t moving(const vxfer *x)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < x->nslots; i++)
		if (x->slots[i].hdrs)
			n += x->slots[i].sent + x->slots[i].received;
	return n;
}

/* The bandwidth cap's say for this turn: every transfer under way held
 * while the bucket is below empty, all going again once it is not; how
 * long to poll (ms). */
static long pace(vxfer *x)
{
	long wait = vxfer_bucket_wait(&x->bucket, x->wire_bytes, vxfer_now_ms());
	x->held = wait > 0;
	for (unsigned i = 0; i < x->nslots; i++)
		if (x->slots[i].hdrs)
			pause_slot(&x->slots[i], x->held);
	return wait > 0 && wait < POLL_MS ? wait : POLL_MS;
}

/* Every slot idle again; their jobs go back to the engine. */
static void stop_all(vxfer *x)
{
	for (unsigned i = 0; i < x->nslots; i++) {
		vxfer_slot *sl = &x->slots[i];
		slot_end(x, sl);
		if (sl->job) {
			x->o.ops->requeue(x->o.ctx, sl->job);
			sl->job = NULL;
		}
	}
}

int vxfer_run(vxfer *x, vmie_error *err)
{
	const vxfer_ops *ops = x->o.ops;
	int rc = 0;
	while (rc == 0) {
		if (x->o.cancel && *x->o.cancel) {
			verr_set(err, VMIE_ERR_INTERRUPTED, "%s",
				 x->o.interrupted);
			rc = verr_hint(err, "%s", x->o.interrupted_hint);
			break;
		}
		/* Held by the cap: no new transfer either. */
		rc = x->held ? 0 : dispatch(x, err);
		if (rc != 0)
			break;
		int running = 0;
		if (curl_multi_perform(x->multi, &running) != CURLM_OK) {
			rc = verr_set(err, x->o.fail_status,
				      "the HTTP client (libcurl) failed");
			break;
		}
		rc = reap(x, err);
		if (rc == 0)
			rc = ops->tick(x->o.ctx, moving(x), false, err);
		if (rc != 0)
			break;
		curl_multi_poll(x->multi, NULL, 0, (int)pace(x), NULL);
	}
	if (rc == VXFER_ALL_DONE)
		rc = ops->tick(x->o.ctx, 0, true, err);
	stop_all(x);
	return rc;
}
