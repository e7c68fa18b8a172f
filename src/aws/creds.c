/*
 * The credential chain: walk the providers in the AWS CLI's order, keep
 * what the first one with credentials returned, and ask that same
 * provider again when the set is due for renewal.  Assume-role profiles
 * build chains of their own (the source_profile's, the
 * credential_source's) with the same code, each renewing its own set.
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

/* Renew this long before expiry at the latest: a request signed now must
 * still be valid when a slow upload part reaches AWS. */
#define VAWS_CREDS_REFRESH_S (5 * 60)

static const vaws_creds_provider_fn default_order[] = {
	vaws_creds_env,
	vaws_creds_unsupported, /* `aws login` profiles: say so */
	vaws_creds_assume,
	vaws_creds_web_identity,
	vaws_creds_sso,
	vaws_creds_shared_file,
	vaws_creds_process,
	vaws_creds_config_file,
	vaws_creds_container,
	vaws_creds_imds,
};

struct vaws_creds_chain {
	vaws_creds_ctx ctx;
	const vaws_creds_provider_fn *order;
	size_t n;
	char *what;       /* the not-found message of a sub-chain */
	vaws_creds cur;
	bool have;
	bool renew;       /* AWS refused cur as expired */
	size_t provider;  /* index of the provider that answered */
	time_t obtained;  /* when cur arrived */
	time_t quiet;     /* a renewal failed: not again before then */
};

void vaws_creds_free(vaws_creds *c)
{
	if (!c)
		return;
	xfree_secret(c->access_key_id);
	xfree_secret(c->secret_access_key);
	xfree_secret(c->session_token);
	free(c->account_id);
	free(c->chain);
	memset(c, 0, sizeof(*c));
}

static time_t real_now(void)
{
	return time(NULL);
}

static vaws_creds_chain *chain_alloc(const vaws_creds_ctx *ctx,
				     const vaws_creds_provider_fn *order,
				     size_t n, const char *what)
{
	vaws_creds_chain *ch = xcalloc(1, sizeof(*ch));
	ch->ctx = *ctx;
	ch->ctx.force = false;
	ch->ctx.assume = vaws_assume_new();
	if (!ch->ctx.now)
		ch->ctx.now = real_now;
	ch->order = order;
	ch->n = n;
	ch->what = xstrdup(what);
	return ch;
}

vaws_creds_chain *vaws_creds_chain_new(const vaws_creds_opts *o)
{
	vaws_creds_ctx ctx = {
		.cfg = o->cfg,
		.http = o->http,
		.sts = o->sts,
		.endpoint_flag = o->endpoint_flag,
		.prompt = o->prompt,
		.prompt_ctx = o->prompt_ctx,
	};
	return chain_alloc(&ctx, default_order,
			   sizeof(default_order) / sizeof(default_order[0]),
			   NULL);
}

vaws_creds_chain *vaws_creds_chain_sub(const vaws_creds_ctx *ctx,
				       const vaws_creds_provider_fn *list,
				       size_t n, const char *what)
{
	return chain_alloc(ctx, list, n, what);
}

void vaws_creds_chain_free(vaws_creds_chain *ch)
{
	if (!ch)
		return;
	vaws_creds_free(&ch->cur);
	vaws_assume_free(ch->ctx.assume);
	free(ch->what);
	free(ch);
}

void vaws_creds_chain_set_clock(vaws_creds_chain *ch, time_t (*now)(void))
{
	ch->ctx.now = now ? now : real_now;
}

void vaws_creds_renew(vaws_creds_chain *ch)
{
	if (ch->have)
		ch->renew = true;
}

static void log_found(const vaws_creds *c)
{
	char when[VISOTIME_LEN] = "never";
	if (c->expiration)
		visotime_format(c->expiration, when);
	vlog_debug("credentials from %s (key ...%s, expire %s)%s%s",
		   c->source, vaws_key_tail(c->access_key_id), when,
		   c->chain ? ": " : "", c->chain ? c->chain : "");
}

static void take(vaws_creds_chain *ch, vaws_creds *c, size_t provider)
{
	vaws_creds_free(&ch->cur);
	ch->cur = *c;
	memset(c, 0, sizeof(*c));
	ch->have = true;
	ch->renew = false;
	ch->provider = provider;
	ch->obtained = ch->ctx.now();
	log_found(&ch->cur);
}

static int walk(vaws_creds_chain *ch, vmie_error *err)
{
	vbuf looked = VBUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < ch->n; i++) {
		vaws_creds c = {0};
		rc = ch->order[i](&ch->ctx, &c, &looked, err);
		if (rc < 0) {
			vaws_creds_free(&c);
			goto out;
		}
		if (rc == 1) {
			take(ch, &c, i);
			rc = 0;
			goto out;
		}
	}
	if (ch->what) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "%s; looked in: %s", ch->what,
			      vbuf_str(&looked));
		goto out;
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

/* How long before expiry a set is renewed: a quarter of the lifetime it
 * had when it arrived, at most five minutes (botocore renews assumed
 * roles 15 minutes before the end of an hour; a set that lives minutes,
 * as on the emulator's fast clock, must not be renewed on every call). */
static long margin(const vaws_creds_chain *ch)
{
	long life = (long)(ch->cur.expiration - ch->obtained);
	if (life < 4) /* (nearly) expired on arrival: renewed at every use */
		return VAWS_CREDS_REFRESH_S;
	return life / 4 < VAWS_CREDS_REFRESH_S ? life / 4
					       : VAWS_CREDS_REFRESH_S;
}

static bool due(const vaws_creds_chain *ch, time_t now)
{
	if (ch->renew)
		return true;
	return ch->cur.expiration && now >= ch->quiet &&
	       now + margin(ch) >= ch->cur.expiration;
}

/* Ask the provider that answered before; keep the old set while it is
 * still good for a while if that fails (as botocore does inside its
 * advisory window), unless AWS already refused it. */
static int refresh(vaws_creds_chain *ch, vmie_error *err)
{
	vbuf looked = VBUF_INIT;
	vaws_creds c = {0};
	vmie_error e = {0};
	ch->ctx.force = ch->renew;
	int rc = ch->order[ch->provider](&ch->ctx, &c, &looked, &e);
	ch->ctx.force = false;
	if (rc == 1) {
		take(ch, &c, ch->provider);
		rc = 0;
		goto out;
	}
	vaws_creds_free(&c);
	if (rc == 0)
		verr_set(&e, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			 "refreshing credentials from %s: no longer "
			 "available (%s)",
			 ch->cur.source, vbuf_str(&looked));
	long grace = margin(ch) / 5;
	if (grace > 60)
		grace = 60;
	time_t now = ch->ctx.now();
	if (!ch->renew && now + grace < ch->cur.expiration) {
		/* Not on every request: a missing terminal or a dead
		 * endpoint stays so for a while. */
		ch->quiet = now + (grace > 1 ? grace / 2 : 1);
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
	else if (due(ch, ch->ctx.now()))
		rc = refresh(ch, err);
	else
		rc = 0;
	if (rc == 0)
		*out = &ch->cur;
	return rc;
}
