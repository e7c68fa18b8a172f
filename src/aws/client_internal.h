/*
 * Shared by client.c (the send loop) and client_proto.c (the three
 * protocols); nothing outside src/aws/client*.c includes this.
 */
#ifndef VMIE_AWS_CLIENT_INTERNAL_H
#define VMIE_AWS_CLIENT_INTERNAL_H

#include "aws/client.h"
#include "aws/config.h"
#include "aws/creds.h"
#include "aws/retry.h"
#include "base/buf.h"

#include <signal.h>

#define VAWS_NSERVICES 5

struct vaws_client {
	vaws_config cfg;
	bool cfg_loaded;
	char *region;
	const char *region_source;
	char *endpoint_flag;
	bool allow_http;     /* --allow-http */
	bool warned_http;    /* the clear-text warning was given */
	vhttp *http;
	vaws_creds_chain *creds;
	vretry_policy retry;
	vaws_endpoint eps[VAWS_NSERVICES]; /* ec2, s3, iam, sts, ssm */
	bool have_ep[VAWS_NSERVICES];
	const char *creds_source;
	vaws_sleep_fn sleep_fn;
	void *sleep_ctx;
	vretry_outage outage;      /* the request core's outage window */
	long long outage_window_ms; /* scaled; 0: off */
	volatile sig_atomic_t *cancel; /* ends a wait in the window; NULL */
	bool failed_transient;     /* the latest call failed on an outage */
};

/* One request, laid out and ready to sign. */
typedef struct vaws_call {
	const char *service;      /* "sts" */
	const char *operation;    /* "GetCallerIdentity" */
	const vaws_endpoint *ep;
	const char *method;
	const char *url;          /* absolute, encoded, query included */
	const char *host;         /* Host header */
	const char *path;         /* path as on the wire */
	const char *query;        /* raw query (no '?'), or NULL */
	const vkv *headers;       /* extra headers, signed; may be NULL */
	const void *body;
	size_t body_len;
	const char *payload_hash; /* NULL: hash the body */
	bool s3;                  /* S3 signing rules */
	bool safe_to_retry;
	long timeout_ms;
} vaws_call;

/* Sign, send and retry; 0 on a 2xx answer (rs filled), else a status
 * with err filled (rs holds the last response when one arrived). */
int vaws_call_run(vaws_client *c, const vaws_call *k, vhttp_response *rs,
		  vmie_error *err);

/* One attempt's headers: credentials (refreshed near expiry), then Host,
 * k->headers and the SigV4 headers appended to *h.  On failure *h is
 * wiped and freed.  The send loop and vaws_client_sign_rest share it. */
int vaws_call_sign(vaws_client *c, const vaws_call *k, vkv *h,
		   vmie_error *err);

/* After a 403 with no body (which says nothing about why: S3 answers a
 * HEAD that way for a wrong secret key and for someone else's bucket
 * alike), ask STS GetCallerIdentity, which needs no permission.  When AWS
 * refuses the credentials there too, err is replaced by that: which
 * credentials (source, profile), AWS's words, and the vmie whoami hint,
 * with status VMIE_ERR_AWS_CREDENTIALS_INVALID.  Returns true when it
 * replaced err. */
bool vaws_explain_forbidden(vaws_client *c, const char *service,
			    const char *operation, vmie_error *err);

/* An S3 REST request laid out as a call (URL, host, path and query per
 * vaws_rest's rules); call points into the buffers. */
typedef struct vaws_rest_layout {
	vbuf host, path, query, url;
	vaws_call call;
} vaws_rest_layout;

int vaws_rest_layout_init(vaws_client *c, const vaws_rest_request *rq,
			  vaws_rest_layout *l, vmie_error *err);
void vaws_rest_layout_free(vaws_rest_layout *l);

#endif
