/*
 * The credential chain: walk the providers in the AWS CLI's order, keep
 * what the first one with credentials returned, and ask that same
 * provider again when the set is within five minutes of expiring.
 */
#include "aws/creds.h"
#include "aws/creds_internal.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Refresh this long before expiry: a request signed now must still be
 * valid when a slow upload part reaches AWS. */
#define VAWS_CREDS_REFRESH_S (5 * 60)

static const vaws_creds_provider_fn chain_order[] = {
	vaws_creds_env,
	vaws_creds_unsupported, /* assume-role and SSO profiles: say so */
	vaws_creds_web_identity,
	vaws_creds_shared_file,
	vaws_creds_process,
	vaws_creds_config_file,
	vaws_creds_container,
	vaws_creds_imds,
};
#define CHAIN_LEN (sizeof(chain_order) / sizeof(chain_order[0]))

struct vaws_creds_chain {
	vaws_creds_ctx ctx;
	char *sts_endpoint;
	vaws_creds cur;
	bool have;
	size_t provider; /* index of the provider that answered */
};

void vaws_creds_free(vaws_creds *c)
{
	if (!c)
		return;
	xfree_secret(c->access_key_id);
	xfree_secret(c->secret_access_key);
	xfree_secret(c->session_token);
	free(c->account_id);
	memset(c, 0, sizeof(*c));
}

vaws_creds_chain *vaws_creds_chain_new(const vaws_config *cfg, vhttp *http,
				       const char *sts_endpoint)
{
	vaws_creds_chain *ch = xcalloc(1, sizeof(*ch));
	ch->sts_endpoint = xstrdup(sts_endpoint);
	ch->ctx.cfg = cfg;
	ch->ctx.http = http;
	ch->ctx.sts_endpoint = ch->sts_endpoint;
	return ch;
}

void vaws_creds_chain_free(vaws_creds_chain *ch)
{
	if (!ch)
		return;
	vaws_creds_free(&ch->cur);
	free(ch->sts_endpoint);
	free(ch);
}

static void log_found(const vaws_creds *c)
{
	if (c->expiration) {
		char when[VISOTIME_LEN];
		visotime_format(c->expiration, when);
		vlog_debug("credentials from %s (key ...%s, expire %s)",
			   c->source, vaws_key_tail(c->access_key_id), when);
	} else {
		vlog_debug("credentials from %s (key ...%s)", c->source,
			   vaws_key_tail(c->access_key_id));
	}
}

static int walk(vaws_creds_chain *ch, vmie_error *err)
{
	vbuf looked = VBUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < CHAIN_LEN; i++) {
		vaws_creds c = {0};
		rc = chain_order[i](&ch->ctx, &c, &looked, err);
		if (rc < 0) {
			vaws_creds_free(&c);
			goto out;
		}
		if (rc == 1) {
			ch->cur = c;
			ch->have = true;
			ch->provider = i;
			log_found(&ch->cur);
			rc = 0;
			goto out;
		}
	}
	verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
		 "no AWS credentials found; looked in: %s", vbuf_str(&looked));
	const char *profile = ch->ctx.cfg && ch->ctx.cfg->profile
				      ? ch->ctx.cfg->profile
				      : "default";
	rc = verr_hint(err,
		       "run `aws configure%s%s` to store keys for this "
		       "profile, set AWS_PROFILE to a profile that has "
		       "credentials, or export AWS_ACCESS_KEY_ID and "
		       "AWS_SECRET_ACCESS_KEY",
		       strcmp(profile, "default") ? " --profile " : "",
		       strcmp(profile, "default") ? profile : "");
out:
	vbuf_free(&looked);
	return rc;
}

/* Ask the provider that answered before; keep the old set while it is
 * still good for a minute if that fails, as botocore does inside its
 * advisory window. */
static int refresh(vaws_creds_chain *ch, vmie_error *err)
{
	vbuf looked = VBUF_INIT;
	vaws_creds c = {0};
	vmie_error e = {0};
	int rc = chain_order[ch->provider](&ch->ctx, &c, &looked, &e);
	if (rc == 1) {
		vaws_creds_free(&ch->cur);
		ch->cur = c;
		log_found(&ch->cur);
		rc = 0;
		goto out;
	}
	vaws_creds_free(&c);
	if (rc == 0)
		verr_set(&e, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			 "refreshing credentials from %s: no longer "
			 "available (%s)",
			 ch->cur.source, vbuf_str(&looked));
	if (time(NULL) + 60 < ch->cur.expiration) {
		vlog_warn("could not refresh credentials from %s (%s); using "
			  "the current ones until they expire",
			  ch->cur.source, e.message ? e.message : "");
		vmie_error_clear(&e);
		rc = 0;
		goto out;
	}
	rc = e.status ? e.status : VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND;
	verr_move(err, &e);
out:
	vmie_error_clear(&e);
	vbuf_free(&looked);
	return rc;
}

int vaws_creds_get(vaws_creds_chain *ch, const vaws_creds **out,
		   vmie_error *err)
{
	*out = NULL;
	int rc;
	if (!ch->have)
		rc = walk(ch, err);
	else if (ch->cur.expiration &&
		 time(NULL) + VAWS_CREDS_REFRESH_S >= ch->cur.expiration)
		rc = refresh(ch, err);
	else
		rc = 0;
	if (rc == 0)
		*out = &ch->cur;
	return rc;
}
