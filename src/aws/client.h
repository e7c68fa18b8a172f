/*
 * vaws_client: the one way service modules (ec2.c, s3.c, iam.c, sts.c,
 * ssm.c) talk to AWS.  It owns the configuration, region, HTTP handle,
 * credential chain, retry policy and a per-service endpoint cache, and
 * runs every call the same way: resolve the endpoint (once), get
 * credentials (each attempt: they refresh), sign, send, retry what may be
 * retried, and turn failures into a filled vmie_error.
 *
 * Three protocols: query (EC2, IAM, STS) returns the parsed XML, JSON 1.1
 * (SSM) returns a jansson value, REST (S3) returns the raw response.
 * A client is used by one thread at a time.
 */
#ifndef VMIE_AWS_CLIENT_H
#define VMIE_AWS_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "aws/endpoint.h"
#include "aws/http.h"
#include "aws/retry.h"
#include "aws/xml.h"
#include "base/kv.h"
#include "vmie.h"

typedef struct vaws_client vaws_client;

/* Loads the config (profile), resolves the region, reads the retry and
 * CA-bundle settings and builds the HTTP handle and credential chain
 * (credentials themselves are fetched on the first call).  Errors:
 * VMIE_ERR_AWS_CONFIG_INVALID, VMIE_ERR_AWS_REGION_NOT_FOUND,
 * VMIE_ERR_INVALID_ARGUMENT (bad region), VMIE_ERR_AWS_CLIENT_INIT_FAILED. */
int vaws_client_new(const vmie_aws_opts *opts, vaws_client **out,
		    vmie_error *err);
void vaws_client_free(vaws_client *c);

const char *vaws_client_region(const vaws_client *c);
const char *vaws_client_region_source(const vaws_client *c); /* static */
const vaws_config *vaws_client_config(const vaws_client *c);

/* The endpoint for a service ("ec2", "s3", "iam", "sts", "ssm"),
 * resolved on first use and cached; *out stays owned by the client. */
int vaws_client_endpoint(vaws_client *c, const char *service,
			 const vaws_endpoint **out, vmie_error *err);

/* Source ("environment", ...) of the credentials that signed the latest
 * request, NULL before any. */
const char *vaws_client_creds_source(const vaws_client *c);

/* The credentials in use (fetched or renewed as a request would): how
 * they were obtained (NULL when the source says it all; valid until the
 * next call on c) and when they expire (0: never). */
int vaws_client_credentials(vaws_client *c, const char **chain,
			    time_t *expiration, vmie_error *err);

/* AWS refused a request as signed with expired credentials (ExpiredToken):
 * the next signature uses renewed ones.  The send loop does this itself;
 * an engine that sends its own requests (upload, download) calls it
 * before signing the refused request again. */
void vaws_client_renew_credentials(vaws_client *c);

/* Query protocol: POST / with Action, Version and params form-encoded
 * (params keep their order; keys like "Filters.1.Name" are the caller's).
 * safe_to_retry: the action is read-only or carries a client token.
 * On success *out is the parsed response document (vxml_free it). */
int vaws_query(vaws_client *c, const char *service, const char *action,
	       const char *version, const vkv *params, bool safe_to_retry,
	       vxml **out, vmie_error *err);

/* JSON 1.1: POST / with X-Amz-Target <target_prefix>.<operation> (e.g.
 * "AmazonSSM", "SendCommand").  body NULL sends "{}".  On success *out is
 * the decoded response object (json_decref it). */
int vaws_json(vaws_client *c, const char *service, const char *target_prefix,
	      const char *operation, const json_t *body, bool safe_to_retry,
	      json_t **out, vmie_error *err);

/* REST (S3).  The key is encoded once ('/' kept); the bucket goes in the
 * path when the endpoint asks for path style or the name cannot be a DNS
 * label under TLS, in the host otherwise.  query pairs are encoded here;
 * a NULL value sends the bare name ("?uploads").  x-amz-content-sha256 is
 * always sent: payload_hash (hex, UNSIGNED-PAYLOAD, ...) or the hash of
 * body.  GET, HEAD, PUT and DELETE are retried; POST only when
 * safe_to_retry. */
typedef struct vaws_rest_request {
	const char *operation;    /* "PutObject": for logs and errors */
	const char *method;
	const char *bucket;       /* NULL: service level ("/") */
	const char *key;          /* NULL or "": the bucket itself */
	const vkv *query;
	const vkv *headers;       /* extra headers, signed */
	const void *body;
	size_t body_len;
	const char *payload_hash; /* NULL: SHA-256 of body */
	bool safe_to_retry;       /* for POST (e.g. CompleteMultipartUpload) */
	long timeout_ms;          /* 0: none (low-speed limit applies) */
} vaws_rest_request;

/* Returns 0 on a 2xx answer with *rs filled.  On an AWS error returns
 * VMIE_ERR_AWS_REQUEST_FAILED with err filled and *rs still holding the
 * response (a HEAD 404 is how callers test existence). */
int vaws_rest(vaws_client *c, const vaws_rest_request *rq, vhttp_response *rs,
	      vmie_error *err);

/* A retry policy from the client's settings (retry mode, max attempts),
 * for an engine that runs its own requests (the upload and download
 * engines, many at once over libcurl multi).  When the user set no
 * attempt count, at least min_attempts: one part of thousands is costlier
 * to lose than one API call. */
int vaws_client_retry_policy(const vaws_client *c, int min_attempts,
			     vretry_policy *out, vmie_error *err);

/* The outage window (retry.h) every mechanism of this client uses, in
 * ms already scaled by the test clock knob; 0 when turned off. */
long long vaws_client_outage_window_ms(const vaws_client *c);

/* The run's stop flag: a wait in the outage window ends when it is set
 * (VMIE_ERR_INTERRUPTED), and a call made once it is set (a cleanup after
 * Ctrl-C) gets the policy's few retries but no window.  NULL: none. */
void vaws_client_set_cancel(vaws_client *c, volatile sig_atomic_t *cancel);

/* Did the latest call fail on an outcome the outage window covers
 * (transient or throttling, after the window)?  A polling loop goes on
 * polling after such a failure: the task lives on in AWS. */
bool vaws_client_failed_transient(const vaws_client *c);

/* "600", "90s", "10m", "1.5h" -> ms (0 turns the window off); -1 when
 * the text is not such a duration. */
long long vaws_parse_outage_window(const char *text);

/* Tests: replace the sleep between attempts (e.g. record the delays and
 * not sleep) and reseed the jitter.  Not for production use. */
typedef void (*vaws_sleep_fn)(void *ctx, long delay_ms);
void vaws_client_set_sleep(vaws_client *c, vaws_sleep_fn fn, void *ctx);
void vaws_client_set_seed(vaws_client *c, unsigned long long seed);

#endif
