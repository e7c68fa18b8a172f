/*
 * The client and its one send loop.  Every protocol (client_proto.c)
 * lays out a request as a `vaws_call` and hands it to vaws_call_run,
 * so signing, retries, logging and error reporting happen in one place.
 */
#include "aws/client.h"
#include "aws/awserr.h"
#include "aws/client_internal.h"
#include "aws/sigv4.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/timescale.h"
#include "base/xalloc.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const services[VAWS_NSERVICES] = {"ec2", "s3", "iam",
						     "sts", "ssm"};

static void real_sleep(void *ctx, long ms)
{
	(void)ctx;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Jitter needs no cryptographic quality, only different values in
 * concurrent vmie processes so their retries spread out. */
static unsigned long long default_seed(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((unsigned long long)ts.tv_sec << 32) ^
	       (unsigned long long)ts.tv_nsec ^
	       ((unsigned long long)getpid() << 16);
}

long long vaws_parse_outage_window(const char *text)
{
	char *end = NULL;
	if (!text || !*text)
		return -1;
	double v = strtod(text, &end);
	double unit = 1000.0;
	if (end == text || !isfinite(v) || v < 0)
		return -1;
	if (*end == 's' || *end == 'm' || *end == 'h') {
		unit = *end == 'h' ? 3600e3 : *end == 'm' ? 60e3 : 1e3;
		end++;
	}
	if (*end || v * unit > 7 * 86400e3)
		return -1;
	return (long long)(v * unit);
}

/* --outage-window, else VMIE_OUTAGE_WINDOW / vmie_outage_window in the
 * profile, else 10 minutes; scaled by the test clock knob. */
static int outage_setup(vaws_client *c, const vmie_aws_opts *opts,
			vmie_error *err)
{
	const char *flag = opts ? opts->outage_window : NULL;
	const char *v = flag ? flag : vaws_config_setting(&c->cfg, "VMIE_OUTAGE_WINDOW",
							  "vmie_outage_window");
	long long ms = v ? vaws_parse_outage_window(v) : VRETRY_OUTAGE_DEFAULT_S * 1000LL;
	if (ms < 0) {
		verr_set(err, flag ? VMIE_ERR_INVALID_ARGUMENT : VMIE_ERR_AWS_CONFIG_INVALID,
			 "invalid outage window '%s' (%s)", v,
			 flag ? "--outage-window"
			      : "VMIE_OUTAGE_WINDOW or vmie_outage_window in the config file");
		return verr_hint(err, "seconds, or a number with s, m or h: 600, 90s, "
				      "10m, 1h (at most a week); 0 turns the window off");
	}
	double scale = vtime_scale();
	c->outage_window_ms = ms ? (long long)llround((double)ms * scale) : 0;
	if (ms && c->outage_window_ms < 1)
		c->outage_window_ms = 1;
	vretry_outage_init(&c->outage, c->outage_window_ms, scale, default_seed() ^ 0x5bd1e995);
	c->retry.time_scale = scale;
	return 0;
}

int vaws_client_new(const vmie_aws_opts *opts, vaws_client **out,
		    vmie_error *err)
{
	*out = NULL;
	vaws_client *c = xcalloc(1, sizeof(*c));
	int rc = vaws_config_load(&c->cfg, opts ? opts->profile : NULL, err);
	if (rc != 0) {
		free(c);
		return rc;
	}
	c->cfg_loaded = true;
	rc = vaws_config_region(&c->cfg, opts ? opts->region : NULL,
				&c->region, &c->region_source, err);
	if (rc != 0)
		goto fail;
	rc = vretry_policy_init(
		&c->retry,
		vaws_config_setting(&c->cfg, "AWS_RETRY_MODE", "retry_mode"),
		vaws_config_setting(&c->cfg, "AWS_MAX_ATTEMPTS", "max_attempts"),
		default_seed(), err);
	if (rc != 0 || (rc = outage_setup(c, opts, err)) != 0)
		goto fail;
	c->endpoint_flag =
		xstrdup(opts && opts->endpoint_url && *opts->endpoint_url
				? opts->endpoint_url
				: NULL);
	c->allow_http = opts && opts->allow_http;

	vhttp_opts ho = {0};
	ho.ca_bundle = vaws_config_setting(&c->cfg, "AWS_CA_BUNDLE",
					   "ca_bundle");
	if (ho.ca_bundle && access(ho.ca_bundle, R_OK) != 0) {
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "cannot read the CA bundle %s (AWS_CA_BUNDLE or "
			      "ca_bundle)",
			      ho.ca_bundle);
		verr_hint(err, "point it at a readable PEM file, or unset it "
			       "to use the system's certificates");
		goto fail;
	}
	c->http = vhttp_new(&ho);
	if (!c->http) {
		rc = verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
			      "cannot initialise the HTTP client (libcurl)");
		goto fail;
	}
	/* Web identity and assume-role credentials are fetched from STS:
	 * resolve it now so a bad endpoint setting is reported before
	 * anything is sent. */
	const vaws_endpoint *sts;
	rc = vaws_client_endpoint(c, "sts", &sts, err);
	if (rc != 0)
		goto fail;
	vaws_creds_opts co = {
		.cfg = &c->cfg,
		.http = c->http,
		.sts = sts,
		.endpoint_flag = c->endpoint_flag,
		.prompt = opts ? opts->prompt : NULL,
		.prompt_ctx = opts ? opts->prompt_ctx : NULL,
	};
	c->creds = vaws_creds_chain_new(&co);
	c->sleep_fn = real_sleep;
	*out = c;
	return 0;
fail:
	vaws_client_free(c);
	return rc;
}

int vaws_client_retry_policy(const vaws_client *c, int min_attempts,
			     vretry_policy *out, vmie_error *err)
{
	const char *n = vaws_config_setting(&c->cfg, "AWS_MAX_ATTEMPTS",
					    "max_attempts");
	int rc = vretry_policy_init(
		out, vaws_config_setting(&c->cfg, "AWS_RETRY_MODE", "retry_mode"),
		n, default_seed(), err);
	if (rc == 0 && !n && out->max_attempts < min_attempts)
		out->max_attempts = min_attempts;
	out->time_scale = c->retry.time_scale;
	return rc;
}

long long vaws_client_outage_window_ms(const vaws_client *c)
{
	return c->outage_window_ms;
}

void vaws_client_set_cancel(vaws_client *c, volatile sig_atomic_t *cancel)
{
	c->cancel = cancel;
}

bool vaws_client_failed_transient(const vaws_client *c)
{
	return c->failed_transient;
}

void vaws_client_free(vaws_client *c)
{
	if (!c)
		return;
	vaws_creds_chain_free(c->creds);
	vhttp_free(c->http);
	for (int i = 0; i < VAWS_NSERVICES; i++)
		vaws_endpoint_free(&c->eps[i]);
	free(c->region);
	free(c->endpoint_flag);
	if (c->cfg_loaded)
		vaws_config_free(&c->cfg);
	free(c);
}

const char *vaws_client_region(const vaws_client *c)
{
	return c->region;
}

const char *vaws_client_region_source(const vaws_client *c)
{
	return c->region_source;
}

const vaws_config *vaws_client_config(const vaws_client *c)
{
	return &c->cfg;
}

const char *vaws_client_creds_source(const vaws_client *c)
{
	return c->creds_source;
}

int vaws_client_credentials(vaws_client *c, const char **chain,
			    time_t *expiration, vmie_error *err)
{
	const vaws_creds *cr = NULL;
	int rc = vaws_creds_get(c->creds, &cr, err);
	if (rc == 0) {
		c->creds_source = cr->source;
		*chain = cr->chain;
		*expiration = cr->expiration;
	}
	return rc;
}

void vaws_client_renew_credentials(vaws_client *c)
{
	vaws_creds_renew(c->creds);
}

void vaws_client_set_sleep(vaws_client *c, vaws_sleep_fn fn, void *ctx)
{
	c->sleep_fn = fn ? fn : real_sleep;
	c->sleep_ctx = fn ? ctx : NULL;
}

void vaws_client_set_seed(vaws_client *c, unsigned long long seed)
{
	c->retry.rng = seed ? seed : 1;
}

/* A plain http:// endpoint sends the signed requests, and with them the
 * session token, in clear text.  To this machine (an emulator, a local
 * proxy) that stays here; to any other host it is refused unless the
 * user said --allow-http, and then said out loud. */
static int check_clear_text(vaws_client *c, const vaws_endpoint *ep,
			    vmie_error *err)
{
	if (strcmp(ep->scheme, "http") != 0 || vaws_host_is_loopback(ep->host))
		return 0;
	if (c->allow_http) {
		if (!c->warned_http)
			vlog_warn("--allow-http: requests to %s (from %s) go over "
				  "plain http: anyone on the network can read "
				  "them, session tokens included, and change "
				  "what they carry; use https:// for anything "
				  "but a trusted test network", ep->url,
				  ep->source);
		c->warned_http = true;
		return 0;
	}
	bool flag = strcmp(ep->source, "--endpoint-url") == 0;
	verr_set(err, flag ? VMIE_ERR_INVALID_ARGUMENT : VMIE_ERR_AWS_CONFIG_INVALID,
		 "endpoint %s (from %s) is plain http to another host: the "
		 "signed requests and the session token would cross the "
		 "network in clear text", ep->url, ep->source);
	return verr_hint(err, "use https://, or pass --allow-http if the "
			      "network in between is trusted");
}

int vaws_client_endpoint(vaws_client *c, const char *service,
			 const vaws_endpoint **out, vmie_error *err)
{
	*out = NULL;
	for (int i = 0; i < VAWS_NSERVICES; i++) {
		if (!service || strcmp(services[i], service) != 0)
			continue;
		if (!c->have_ep[i]) {
			int rc = vaws_endpoint_resolve(&c->cfg, service,
						       c->region,
						       c->endpoint_flag,
						       &c->eps[i], err);
			if (rc == 0)
				rc = check_clear_text(c, &c->eps[i], err);
			if (rc != 0) {
				vaws_endpoint_free(&c->eps[i]);
				return rc;
			}
			c->have_ep[i] = true;
			vlog_debug("%s endpoint: %s (%s, signed for %s)",
				   service, c->eps[i].url, c->eps[i].source,
				   c->eps[i].signing_region);
		}
		*out = &c->eps[i];
		return 0;
	}
	return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
			"unknown AWS service '%s'",
			service ? service : "(null)");
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sign(const vaws_call *k, const vaws_creds *cr, vkv *headers)
{
	vsigv4_params p = {0};
	p.key.access_key_id = cr->access_key_id;
	p.key.secret_access_key = cr->secret_access_key;
	p.key.session_token = cr->session_token;
	p.region = k->ep->signing_region;
	p.service = k->ep->service;
	p.when = time(NULL);
	/* S3 keys are encoded exactly once by us; every other service gets
	 * the normalised, double-encoded path the SigV4 suite specifies. */
	p.normalize_path = !k->s3;
	p.double_encode_path = !k->s3;
	p.content_sha256_header = k->s3;
	p.payload_hash = k->payload_hash;
	vsigv4_request rq = {k->method, k->path, k->query, headers, k->body,
			     k->body_len};
	vsigv4_result res = {0};
	int rc = vsigv4_sign_headers(&p, &rq, &res);
	vsigv4_result_free(&res);
	return rc;
}

static int transport_error(const vaws_call *k, const vhttp_response *rs,
			   int attempts, vmie_error *err)
{
	vbuf svc = VBUF_INIT;
	for (const char *p = k->service; *p; p++)
		vbuf_addch(&svc, (char)toupper((unsigned char)*p));
	vbuf tries = VBUF_INIT;
	if (attempts > 1)
		vbuf_addf(&tries, " (after %d attempts)", attempts);
	verr_set(err, VMIE_ERR_AWS_CONNECTION_FAILED,
		 "%s %s failed: could not reach %s: %s%s", vbuf_str(&svc),
		 k->operation, k->url,
		 rs->transport_error ? rs->transport_error : "failed",
		 vbuf_str(&tries));
	vbuf_free(&svc);
	vbuf_free(&tries);
	switch (rs->transport) {
	case VHTTP_TLS:
		verr_hint(err, "the TLS connection could not be verified: "
			       "check the system CA certificates, AWS_CA_BUNDLE "
			       "/ ca_bundle, or a proxy that intercepts TLS");
		break;
	case VHTTP_TIMEOUT:
		verr_hint(err, "the endpoint did not answer in time: check "
			       "the network, proxy settings and the endpoint "
			       "URL");
		break;
	default:
		verr_hint(err, "check the network, proxy settings "
			       "(HTTPS_PROXY) and the endpoint URL "
			       "(--endpoint-url, AWS_ENDPOINT_URL)");
		break;
	}
	if (err) {
		free(err->service);
		err->service = xstrdup(k->service);
		free(err->operation);
		err->operation = xstrdup(k->operation);
	}
	return VMIE_ERR_AWS_CONNECTION_FAILED;
}

static void log_attempt(const vaws_call *k, int attempt, int max,
			const vhttp_response *rs, const char *request_id,
			long long ms)
{
	if (rs->transport != VHTTP_OK)
		vlog_debug("%s %s: %s attempt %d/%d: %s (%lld ms)", k->service,
			   k->operation, k->host, attempt, max,
			   rs->transport_error ? rs->transport_error
					       : "transport error",
			   ms);
	else
		vlog_debug("%s %s: %s attempt %d/%d: HTTP %ld, request id %s "
			   "(%lld ms)",
			   k->service, k->operation, k->host, attempt, max,
			   rs->status, request_id ? request_id : "-", ms);
}

static const char *response_request_id(const vhttp_response *rs)
{
	const char *id = vkv_get_ci(&rs->headers, "x-amzn-RequestId");
	if (!id)
		id = vkv_get_ci(&rs->headers, "x-amz-request-id");
	return id;
}

/* Codes where a wrong clock is a likely cause: the Date header then
 * tells how far off we are. */
static bool clock_code(const char *code)
{
	static const char *const codes[] = {
		"RequestTimeTooSkewed", "SignatureDoesNotMatch",
		"InvalidSignatureException", "RequestExpired", "AuthFailure",
	};
	for (size_t i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/* What AWS answers for a session token past its expiry (STS, IAM, S3:
 * ExpiredToken; JSON services: ExpiredTokenException; EC2 may say
 * RequestExpired) or wants renewed (TokenRefreshRequired). */
static bool expired_code(const char *code)
{
	static const char *const codes[] = {
		"ExpiredToken", "ExpiredTokenException", "RequestExpired",
		"TokenRefreshRequired",
	};
	for (size_t i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

int vaws_call_sign(vaws_client *c, const vaws_call *k, vkv *h,
		   vmie_error *err)
{
	const vaws_creds *cr = NULL;
	int rc = vaws_creds_get(c->creds, &cr, err);
	if (rc != 0)
		return rc;
	c->creds_source = cr->source;

	vkv_add(h, "Host", k->host);
	if (k->headers)
		vkv_copy(h, k->headers);
	if (sign(k, cr, h) != 0) {
		vkv_free_secret(h);
		return verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
				"%s %s: the request could not be signed",
				k->service, k->operation);
	}
	return 0;
}

/* "S3", "EC2": a service as the user knows it. */
static void service_upper(const char *service, char *buf, size_t len)
{
	size_t i = 0;
	for (; service[i] && i + 1 < len; i++)
		buf[i] = (char)toupper((unsigned char)service[i]);
	buf[i] = '\0';
}

static bool cancelled(const vaws_client *c)
{
	return c->cancel && *c->cancel;
}

/* A wait of the outage window: in slices, so that Ctrl-C ends it.  False
 * when the run was cancelled meanwhile. */
static bool window_sleep(vaws_client *c, long ms)
{
	if (c->sleep_fn != real_sleep) {
		c->sleep_fn(c->sleep_ctx, ms);
		return !cancelled(c);
	}
	while (ms > 0 && !cancelled(c)) {
		long step = ms < 100 ? ms : 100;
		real_sleep(NULL, step);
		ms -= step;
	}
	return !cancelled(c);
}

/* The policy gave up on o: wait it out when the window allows.  0 to try
 * again, 1 to give up, VMIE_ERR_INTERRUPTED (err set) when Ctrl-C ended
 * the wait. */
static int outage_wait(vaws_client *c, const vaws_call *k, const vretry_outcome *o,
		       const vhttp_response *rs, vmie_error *err)
{
	long delay = 0;
	int retry = 0;
	long long now = now_ms();
	if (!vretry_outage_next(&c->outage, o, now, &delay, &retry))
		return 1;
	char svc[16], why[96], line[256];
	service_upper(k->service, svc, sizeof svc);
	vretry_outage_why(o, rs->transport_error, why, sizeof why);
	vretry_outage_message(&c->outage, svc, why, retry, delay, now, line, sizeof line);
	if (vretry_outage_should_warn(&c->outage, now))
		vlog_warn("%s", line);
	else
		vlog_debug("%s %s: %s", k->service, k->operation, line);
	if (window_sleep(c, delay))
		return 0;
	verr_set(err, VMIE_ERR_INTERRUPTED, "interrupted while waiting for %s "
		 "(%s %s: %s)", svc, svc, k->operation, why);
	return VMIE_ERR_INTERRUPTED;
}

/* An answer after an outage the user was told about: say it is over. */
static void outage_over(vaws_client *c, const vaws_call *k)
{
	if (c->outage.warned_ms >= 0) {
		char svc[16], dur[32];
		service_upper(k->service, svc, sizeof svc);
		vretry_fmt_duration(vretry_outage_elapsed_s(&c->outage, now_ms()), dur,
				    sizeof dur);
		vlog_info("%s answers again (after %s of failures)", svc, dur);
	}
	vretry_outage_ok(&c->outage);
	c->failed_transient = false;
}

int vaws_call_run(vaws_client *c, const vaws_call *k, vhttp_response *rs,
		  vmie_error *err)
{
	vretry_state st = VRETRY_STATE_INIT;
	/* A call made after Ctrl-C is a cleanup: a few tries, no long wait. */
	bool cleanup = cancelled(c);
	bool renewed = false;
	for (;;) {
		vkv h = VKV_INIT;
		int rc = vaws_call_sign(c, k, &h, err);
		if (rc != 0)
			return rc;
		vhttp_request hr = {k->method, k->url, &h, k->body,
				    k->body_len, k->timeout_ms};
		long long t0 = now_ms();
		vhttp_send(c->http, &hr, rs);
		long long ms = now_ms() - t0;
		/* The headers hold the session token and the signature. */
		vkv_free_secret(&h);

		vretry_outcome o = {rs->transport, rs->status, NULL};
		vawserr_info info = {0};
		bool ok = rs->transport == VHTTP_OK && rs->status >= 200 &&
			  rs->status < 300;
		if (rs->transport == VHTTP_OK && !ok) {
			vawserr_parse(rs, &info);
			o.aws_code = info.code;
		}
		log_attempt(k, st.attempt, c->retry.max_attempts, rs,
			    ok ? response_request_id(rs) : info.request_id, ms);
		if (ok) {
			vretry_on_success(&c->retry, &st);
			outage_over(c, k);
			return 0;
		}

		/* Credentials AWS calls expired before we thought they
		 * would: renew them and send again, once, whatever the
		 * retry policy says (the request never ran).  AWS answered:
		 * no outage begins here. */
		if (!renewed && expired_code(o.aws_code)) {
			vlog_debug("%s %s: %s; renewing the credentials and "
				   "sending again", k->service, k->operation,
				   o.aws_code);
			renewed = true;
			vaws_creds_renew(c->creds);
			vawserr_info_free(&info);
			continue;
		}
		vretry_outage_failed(&c->outage, now_ms());
		/* A refused connection never delivered the request, so even
		 * a non-idempotent call can be tried again. */
		bool safe = k->safe_to_retry || rs->transport == VHTTP_CONNECT;
		long delay = 0;
		int attempt = st.attempt;
		if (vretry_should_retry(&c->retry, &st, &o, safe, &delay)) {
			vlog_debug("%s %s: %s; retrying in %ld ms", k->service,
				   k->operation,
				   o.aws_code ? o.aws_code
				   : rs->transport != VHTTP_OK
					   ? "transport error"
					   : "server error",
				   delay);
			vawserr_info_free(&info);
			if (delay > 0)
				c->sleep_fn(c->sleep_ctx, delay);
			continue;
		}
		if (safe && !cleanup) {
			rc = outage_wait(c, k, &o, rs, err);
			if (rc == 0) {
				st.attempt++;
				vawserr_info_free(&info);
				continue;
			}
			if (rc == VMIE_ERR_INTERRUPTED) {
				vawserr_info_free(&info);
				return rc;
			}
		}
		c->failed_transient = vretry_outage_covers(&o);
		if (rs->transport != VHTTP_OK) {
			vawserr_info_free(&info);
			return transport_error(k, rs, attempt, err);
		}
		rc = vawserr_fill(err, k->service, k->operation, rs->status,
				  &info);
		if (clock_code(info.code))
			vawserr_clock_skew(err, rs, (long long)time(NULL));
		if (k->s3)
			vawserr_wrong_region(err, rs, k->ep->signing_region);
		if (rs->status == 403 && info.from_status &&
		    strcmp(k->service, "sts") != 0 &&
		    vaws_explain_forbidden(c, k->service, k->operation, err))
			rc = err->status;
		if (attempt > 1 && err && err->message) {
			vbuf m = VBUF_INIT;
			vbuf_addf(&m, "%s (after %d attempts)", err->message,
				  attempt);
			free(err->message);
			err->message = vbuf_detach(&m);
		}
		vawserr_info_free(&info);
		return rc;
	}
}
