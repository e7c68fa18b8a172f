/*
 * An S3 REST request signed but not sent: for the upload engine, which
 * sends its parts itself (libcurl multi, many at once) yet must resolve,
 * lay out and sign them exactly as vaws_rest does.
 */
#ifndef VMIE_AWS_CLIENT_SIGN_H
#define VMIE_AWS_CLIENT_SIGN_H

#include "aws/client.h"
#include "base/kv.h"

typedef struct vaws_signed_request {
	char *url;    /* absolute, encoded, query included */
	/* Every header to send, as given: Host, rq->headers, X-Amz-Date,
	 * X-Amz-Security-Token, x-amz-content-sha256, Authorization. */
	vkv headers;
} vaws_signed_request;

/* Resolves the S3 endpoint, fetches the credentials (refreshed when they
 * near expiry), builds the URL (path or virtual-host style, as vaws_rest)
 * and signs: rq->payload_hash, else the SHA-256 of rq->body.  Nothing is
 * sent.  Errors as vaws_rest's before sending (endpoint, credentials).
 * *out must be zeroed or hold an earlier result (it is freed first);
 * vaws_signed_request_free it either way. */
int vaws_client_sign_rest(vaws_client *c, const vaws_rest_request *rq,
			  vaws_signed_request *out, vmie_error *err);

/* Wipes the headers (they hold the signature and any session token). */
void vaws_signed_request_free(vaws_signed_request *s);

#endif
