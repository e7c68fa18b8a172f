/*
 * Bodiless 403s, explained (client_internal.h: vaws_explain_forbidden).
 * A wrong secret key and a bucket that belongs to someone else look the
 * same to a HEAD request; STS GetCallerIdentity tells them apart, since
 * it answers any valid credentials and refuses invalid ones.
 */
#include "aws/client_internal.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* "environment", or "shared-credentials-file (profile dev)". */
static void describe_source(const vaws_client *c, vbuf *b)
{
	const char *src = c->creds_source ? c->creds_source : "an unknown source";
	vbuf_adds(b, src);
	if (strcmp(src, "environment") != 0 && c->cfg.profile)
		vbuf_addf(b, ", profile %s", c->cfg.profile);
}

bool vaws_explain_forbidden(vaws_client *c, const char *service,
			    const char *operation, vmie_error *err)
{
	vmie_error e = {0};
	vxml *doc = NULL;
	vlog_debug("%s %s: HTTP 403 with no details; checking the credentials "
		   "with STS GetCallerIdentity", service, operation);
	int rc = vaws_query(c, "sts", "GetCallerIdentity", "2011-06-15", NULL,
			    true, &doc, &e);
	vxml_free(doc);
	/* Only an answer from STS that refuses the credentials says they are
	 * the problem; a network failure or an STS outage says nothing. */
	bool refused = rc == VMIE_ERR_AWS_REQUEST_FAILED && e.http_status >= 400 &&
		       e.http_status < 500;
	if (!refused || !err) {
		vmie_error_clear(&e);
		return false;
	}
	vbuf who = VBUF_INIT, svc = VBUF_INIT;
	describe_source(c, &who);
	for (const char *p = service; p && *p; p++)
		vbuf_addch(&svc, (char)toupper((unsigned char)*p));
	/* e.message reads "STS GetCallerIdentity failed: Code: words (HTTP n)". */
	verr_set(err, VMIE_ERR_AWS_CREDENTIALS_INVALID,
		 "AWS refused the credentials in use (%s): %s %s answered 403 "
		 "with no details, and %s", vbuf_str(&who), vbuf_str(&svc),
		 operation, e.message ? e.message : "STS refused them too");
	verr_hint(err, "check the access key ID, secret access key and session "
		  "token of %s (or whether they expired); 'vmie whoami' shows "
		  "which credentials vmie uses and where they come from",
		  vbuf_str(&who));
	err->service = xstrdup("sts");
	err->operation = xstrdup("GetCallerIdentity");
	err->aws_code = xstrdup(e.aws_code);
	err->request_id = xstrdup(e.request_id);
	err->http_status = e.http_status;
	vbuf_free(&who);
	vbuf_free(&svc);
	vmie_error_clear(&e);
	return true;
}
