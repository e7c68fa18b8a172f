/*
 * vmie whoami: one signed STS call, and a report of where every input
 * came from (region, endpoint, credentials and how they were obtained:
 * an assume-role chain, an SSO session) and when the credentials expire,
 * so a user can see why vmie talks to the account it does.
 */
#include "aws/client.h"
#include "aws/sts.h"
#include "base/xalloc.h"
#include "vmie.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void vmie_identity_free(vmie_identity *id)
{
	if (!id)
		return;
	free(id->account);
	free(id->arn);
	free(id->user_id);
	free(id->region);
	free(id->region_source);
	free(id->endpoint);
	free(id->credential_source);
	free(id->credential_chain);
	memset(id, 0, sizeof(*id));
}

int vmie_whoami(const vmie_aws_opts *aws, vmie_identity *out, vmie_error *err)
{
	memset(out, 0, sizeof(*out));
	vaws_client *c = NULL;
	/* A quick question: answered now or not at all, no outage waited out
	 * unless asked (--outage-window). */
	vmie_aws_opts o = aws ? *aws : (vmie_aws_opts){0};
	if (!o.outage_window)
		o.outage_window = "0";
	int rc = vaws_client_new(&o, &c, err);
	if (rc != 0)
		return rc;
	out->region = xstrdup(vaws_client_region(c));
	out->region_source = xstrdup(vaws_client_region_source(c));
	const vaws_endpoint *ep = NULL;
	rc = vaws_client_endpoint(c, "sts", &ep, err);
	if (rc != 0)
		goto out;
	out->endpoint = xstrdup(ep->url);
	rc = vsts_get_caller_identity(c, &out->account, &out->arn,
				      &out->user_id, err);
	out->credential_source = xstrdup(vaws_client_creds_source(c));
	if (rc == 0) {
		/* The set that signed the call: no renewal is due yet. */
		const char *chain = NULL;
		time_t exp = 0;
		rc = vaws_client_credentials(c, &chain, &exp, err);
		out->credential_chain = xstrdup(chain);
		out->credential_expiration = (long long)exp;
	}
out:
	vaws_client_free(c);
	if (rc != 0) {
		/* Keep what was resolved: the CLI shows it with the error. */
		free(out->account);
		free(out->arn);
		free(out->user_id);
		out->account = out->arn = out->user_id = NULL;
	}
	return rc;
}
