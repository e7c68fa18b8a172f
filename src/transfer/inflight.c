/*
 * Requests in flight (inflight.h): the loop, the slots, and the retry of
 * a failed transfer, shared by the upload and download engines.
 */
#include "transfer/inflight.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/client_sign.h"
#include "aws/config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "transfer/curl_headers.h"

#define POLL_MS 100
#define CONNECT_TIMEOUT_MS 10000L
/* A transfer that moves no byte for this long is dropped (and retried). */
#define LOW_SPEED_TIME_S 60L
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
	for (unsigned i = 0; x->multi && i < x->nslots; i++) {
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

static size_t keep_body(char *p, size_t size, size_t n, void *ctx)
{
	vhttp_response *rs = ctx;
	size_t len = size * n;
	if (rs->body.len + len <= MAX_RESPONSE_BODY)
		vbuf_add(&rs->body, p, len);
	return len;
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
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &sl->rs);
	curl_easy_setopt(e, CURLOPT_PRIVATE, sl);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl->hdrs);
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
		/* Signed again at the next start, with fresh credentials. */
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
	for (unsigned i = 0; i < x->nslots; i++) {
		const vxfer_slot *sl = &x->slots[i];
		curl_off_t up = 0, down = 0;
		if (!sl->hdrs)
			continue;
		if (curl_easy_getinfo(sl->easy, CURLINFO_SIZE_UPLOAD_T, &up) ==
			    CURLE_OK &&
		    up > 0)
			n += (uint64_t)up;
		if (curl_easy_getinfo(sl->easy, CURLINFO_SIZE_DOWNLOAD_T,
				      &down) == CURLE_OK &&
		    down > 0)
			n += (uint64_t)down;
	}
	return n;
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
		rc = dispatch(x, err);
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
		curl_multi_poll(x->multi, NULL, 0, POLL_MS, NULL);
	}
	if (rc == VXFER_ALL_DONE)
		rc = ops->tick(x->o.ctx, 0, true, err);
	stop_all(x);
	return rc;
}
