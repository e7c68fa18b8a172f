/*
 * IAM Identity Center (SSO) profiles, as the AWS CLI reads them (botocore
 * SSOProvider, SSOTokenProvider): the [sso-session NAME] form (sso_session
 * in the profile) and the legacy form (sso_start_url and sso_region in
 * the profile), both with sso_account_id and sso_role_name.
 *
 * `aws sso login` leaves an access token in ~/.aws/sso/cache/<SHA-1 of
 * the session name, or of the start URL>.json; near its end it is renewed
 * with its refresh token (SSO OIDC CreateToken) and written back, as the
 * CLI does (vmie does it for the legacy form too when the file has a
 * refresh token; the CLI's legacy login never writes one).  The token
 * buys role credentials from the portal (GetRoleCredentials), cached in
 * ~/.aws/cli/cache under the CLI's key.  No token, or one that cannot be
 * renewed: the user must sign in again, and is told how.
 */
#include "aws/creds_internal.h"
#include "aws/awserr.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* botocore: a token or cached role set with less left is renewed. */
#define WINDOW_S (15 * 60)
#define CALL_TIMEOUT_MS 30000

typedef struct sso_conf {
	const char *profile;
	const char *session;    /* NULL: the legacy form */
	const char *start_url;
	const char *region;
	const char *account;
	const char *role;
} sso_conf;

/* A setting of the sso-session section, checked against the profile's
 * own (botocore refuses a profile that contradicts its session). */
static int from_session(const vaws_config *cfg, const char *key,
			const char **out, vmie_error *err)
{
	const char *s = vkv_get(&cfg->sso_session, key);
	const char *p = vaws_profile_get(cfg, key);
	if (s && p && strcmp(s, p) != 0) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "The value for %s is inconsistent between profile "
			 "(%s) and sso-session (%s).", key, p, s);
		return verr_hint(err, "remove %s from [profile %s] in %s",
				 key, cfg->profile, cfg->config_path);
	}
	*out = s && *s ? s : p;
	return 0;
}

/* 0: not an SSO credentials profile; 1: *c filled; <0: misconfigured. */
static int sso_config(const vaws_config *cfg, sso_conf *c, vmie_error *err)
{
	memset(c, 0, sizeof(*c));
	if (!cfg)
		return 0;
	c->profile = cfg->profile;
	c->account = vaws_profile_get(cfg, "sso_account_id");
	c->role = vaws_profile_get(cfg, "sso_role_name");
	if (!c->account && !c->role)
		return 0;
	c->session = vaws_profile_get(cfg, "sso_session");
	int rc;
	if (c->session) {
		if (!cfg->sso_session_found) {
			verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				 "The specified sso-session does not exist: "
				 "\"%s\"", c->session);
			return verr_hint(err, "add [sso-session %s] with "
					      "sso_start_url and sso_region "
					      "to %s (aws configure sso)",
					 c->session, cfg->config_path);
		}
		if ((rc = from_session(cfg, "sso_start_url", &c->start_url,
				       err)) != 0 ||
		    (rc = from_session(cfg, "sso_region", &c->region, err)) != 0)
			return rc;
	} else {
		c->start_url = vaws_profile_get(cfg, "sso_start_url");
		c->region = vaws_profile_get(cfg, "sso_region");
	}
	vbuf missing = VBUF_INIT;
	const char *names[] = {"sso_role_name", "sso_account_id",
			       "sso_start_url", "sso_region"};
	const char *vals[] = {c->role, c->account, c->start_url, c->region};
	for (size_t i = 0; i < 4; i++)
		if (!vals[i])
			vbuf_addf(&missing, "%s%s", missing.len ? ", " : "",
				  names[i]);
	if (missing.len) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "The profile \"%s\" is configured to use SSO but is "
			 "missing required configuration: %s",
			 cfg->profile, vbuf_str(&missing));
		vbuf_free(&missing);
		return verr_hint(err, "run aws configure sso --profile %s, "
				      "or add the missing keys to %s",
				 cfg->profile, cfg->config_path);
	}
	return 1;
}

/* "session corp" or "start URL https://..." */
static void who(vbuf *b, const sso_conf *c)
{
	if (c->session)
		vbuf_addf(b, "session %s", c->session);
	else
		vbuf_addf(b, "start URL %s", c->start_url);
}

static int login_needed(const sso_conf *c, const char *why,
			vmie_error *err)
{
	vbuf w = VBUF_INIT;
	who(&w, c);
	verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
		 "IAM Identity Center (SSO) %s: %s; run aws sso login "
		 "--profile %s",
		 vbuf_str(&w), why, c->profile);
	vbuf_free(&w);
	return verr_hint(err, "sign in again with `aws sso login --profile "
			      "%s`, then run vmie again",
			 c->profile);
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

static int endpoint(const vaws_creds_ctx *ctx, const sso_conf *c,
		    const char *service, vaws_endpoint *ep, vmie_error *err)
{
	return vaws_endpoint_resolve(ctx->cfg, service, c->region,
				     ctx->endpoint_flag, ep, err);
}

int vaws_sso_token_read(json_t *tok, time_t now, const char **access,
			time_t *expires, bool *refreshable)
{
	*access = jstr(tok, "accessToken");
	*refreshable = false;
	if (!*access || visotime_parse(jstr(tok, "expiresAt"), expires) != 0)
		return -1;
	const char *keys[] = {"refreshToken", "clientId", "clientSecret"};
	for (size_t i = 0; i < 3; i++)
		if (!jstr(tok, keys[i]))
			return 0;
	time_t reg;
	*refreshable = visotime_parse(jstr(tok, "registrationExpiresAt"),
				      &reg) == 0 &&
		       reg > now;
	return 0;
}

/* SSO OIDC CreateToken with the refresh token of tok (a token document
 * vaws_sso_token_read found refreshable); the new token document (the
 * CLI's shape) or NULL. */
static json_t *refresh_token(const vaws_creds_ctx *ctx, const sso_conf *c,
			     json_t *tok, time_t now)
{
	vaws_endpoint ep = {0};
	vbuf url = VBUF_INIT;
	vkv hdr = VKV_INIT;
	vhttp_response rs = {0};
	json_t *out = NULL, *ans = NULL;
	char *body = NULL;
	vmie_error e = {0};
	if (endpoint(ctx, c, "sso-oidc", &ep, &e) != 0)
		goto out;
	json_t *rq = json_pack("{s:s, s:s, s:s, s:s}", "clientId",
			       jstr(tok, "clientId"), "clientSecret",
			       jstr(tok, "clientSecret"), "grantType",
			       "refresh_token", "refreshToken",
			       jstr(tok, "refreshToken"));
	body = json_dumps(rq, JSON_COMPACT);
	json_decref(rq);
	vbuf_addf(&url, "%s/token", ep.url);
	vkv_add(&hdr, "Host", ep.host);
	vkv_add(&hdr, "Content-Type", "application/json");
	vhttp_request hr = {
		.method = "POST",
		.url = vbuf_str(&url),
		.headers = &hdr,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = CALL_TIMEOUT_MS,
	};
	vlog_debug("SSO OIDC CreateToken (refresh) at %s", vbuf_str(&url));
	if (!body ||
	    vaws_creds_http(ctx->http, &hr, "SSO OIDC CreateToken", &rs, &e))
		goto out;
	if (rs.status != 200) {
		vawserr_from_response(&e, "sso-oidc", "CreateToken", &rs);
		goto out;
	}
	json_error_t je;
	ans = json_loadb(vbuf_str(&rs.body), rs.body.len, 0, &je);
	const char *access = jstr(ans, "accessToken");
	json_t *in = json_object_get(ans, "expiresIn");
	if (!access || !json_is_integer(in) || json_integer_value(in) <= 0) {
		verr_set(&e, VMIE_ERR_AWS_REQUEST_FAILED,
			 "the answer has no accessToken or expiresIn");
		goto out;
	}
	char when[VISOTIME_LEN];
	visotime_format(now + (time_t)json_integer_value(in), when);
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "startUrl",
			c->start_url, "region", c->region, "accessToken",
			access, "expiresAt", when, "clientId",
			jstr(tok, "clientId"), "clientSecret",
			jstr(tok, "clientSecret"), "registrationExpiresAt",
			jstr(tok, "registrationExpiresAt"));
	if (out && jstr(ans, "refreshToken"))
		json_object_set(out, "refreshToken",
				json_object_get(ans, "refreshToken"));
out:
	if (e.message)
		vlog_warn("could not renew the IAM Identity Center token with "
			  "its refresh token: %s", e.message);
	vmie_error_clear(&e);
	json_decref(ans);
	if (body) {
		secure_zero(body, strlen(body));
		free(body);
	}
	vbuf_free_secret(&rs.body);
	vhttp_response_free(&rs);
	vkv_free(&hdr);
	vbuf_free(&url);
	vaws_endpoint_free(&ep);
	return out;
}

/* The access token `aws sso login` left, renewed when near its end;
 * malloc'd. */
static int access_token(const vaws_creds_ctx *ctx, const sso_conf *c,
			char **out, vmie_error *err)
{
	*out = NULL;
	char name[41];
	vaws_sha1_hex(c->session ? c->session : c->start_url, name);
	char *dir = vaws_cache_dir("sso");
	json_t *tok = NULL;
	vbuf why = VBUF_INIT;
	int rc = vaws_cache_read(dir, name, &tok, err);
	time_t exp = 0, now = ctx->now();
	if (rc < 0)
		goto out;
	if (rc == 1) {
		vbuf_addf(&why, "no token in %s/%s.json", dir, name);
		goto login;
	}
	const char *access;
	bool refreshable;
	if (vaws_sso_token_read(tok, now, &access, &exp, &refreshable) != 0) {
		vbuf_addf(&why, "the token in %s/%s.json is invalid", dir,
			  name);
		goto login;
	}
	if (exp - now < WINDOW_S && !refreshable)
		vlog_debug("SSO token: no refresh token or client registration "
			   "(or it expired): cannot renew it");
	if (exp - now < WINDOW_S && refreshable) {
		json_t *fresh = refresh_token(ctx, c, tok, now);
		if (fresh) {
			vmie_error e = {0};
			if (vaws_cache_write(dir, name, fresh, &e) != 0)
				vlog_warn("could not save the renewed IAM "
					  "Identity Center token: %s",
					  e.message);
			vmie_error_clear(&e);
			json_decref(tok);
			tok = fresh;
			visotime_parse(jstr(tok, "expiresAt"), &exp);
			vlog_debug("SSO token renewed with its refresh token");
		}
	}
	if (exp <= now) {
		char when[VISOTIME_LEN];
		visotime_format(exp, when);
		vbuf_addf(&why, "the sign-in expired at %s", when);
		goto login;
	}
	*out = xstrdup(jstr(tok, "accessToken"));
	rc = 0;
	goto out;
login:
	rc = login_needed(c, vbuf_str(&why), err);
out:
	json_decref(tok);
	vbuf_free(&why);
	free(dir);
	return rc;
}

/* The CLI's key for SSO role credentials: the SHA-1 of the compact,
 * sorted JSON of roleName, accountId and sessionName (or startUrl). */
static void role_key(const sso_conf *c, char out[41])
{
	json_t *o = json_pack("{s:s, s:s}", "roleName", c->role, "accountId",
			      c->account);
	if (c->session)
		json_object_set_new(o, "sessionName", json_string(c->session));
	else
		json_object_set_new(o, "startUrl", json_string(c->start_url));
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS |
					   JSON_ENSURE_ASCII);
	vaws_sha1_hex(text ? text : "", out);
	free(text);
	json_decref(o);
}

static void cache_role_creds(const char *key, const vaws_creds *cr)
{
	char when[VISOTIME_LEN];
	visotime_format(cr->expiration, when);
	json_t *doc = json_pack(
		"{s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "ProviderType", "sso",
		"Credentials", "AccessKeyId", cr->access_key_id,
		"SecretAccessKey", cr->secret_access_key, "SessionToken",
		cr->session_token, "Expiration", when, "AccountId",
		cr->account_id);
	char *dir = vaws_cache_dir("cli");
	vmie_error e = {0};
	if (doc && vaws_cache_write(dir, key, doc, &e) != 0)
		vlog_warn("could not cache the IAM Identity Center role "
			  "credentials: %s", e.message);
	vmie_error_clear(&e);
	free(dir);
	json_decref(doc);
}

static int parse_role_creds(const vhttp_response *rs, const sso_conf *c,
			    vaws_creds *out, vmie_error *err)
{
	json_error_t je;
	json_t *doc = json_loadb(vbuf_str(&rs->body), rs->body.len, 0, &je);
	json_t *rc_ = json_object_get(doc, "roleCredentials");
	json_t *exp = json_object_get(rc_, "expiration");
	int rc = 0;
	if (!jstr(rc_, "accessKeyId") || !jstr(rc_, "secretAccessKey") ||
	    !jstr(rc_, "sessionToken") || !json_is_integer(exp)) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "SSO GetRoleCredentials: the answer lacks "
			      "accessKeyId, secretAccessKey, sessionToken or "
			      "expiration");
		goto out;
	}
	out->access_key_id = xstrdup(jstr(rc_, "accessKeyId"));
	out->secret_access_key = xstrdup(jstr(rc_, "secretAccessKey"));
	out->session_token = xstrdup(jstr(rc_, "sessionToken"));
	out->expiration = (time_t)(json_integer_value(exp) / 1000);
	out->account_id = xstrdup(c->account);
out:
	json_decref(doc);
	return rc;
}

static int role_credentials(const vaws_creds_ctx *ctx, const sso_conf *c,
			    const char *token, vaws_creds *out,
			    vmie_error *err)
{
	vaws_endpoint ep = {0};
	vbuf url = VBUF_INIT;
	vkv hdr = VKV_INIT;
	vhttp_response rs = {0};
	int rc = endpoint(ctx, c, "sso", &ep, err);
	if (rc)
		goto out;
	vbuf_addf(&url, "%s/federation/credentials?role_name=", ep.url);
	vhttp_uri_encode(&url, c->role, strlen(c->role), 0);
	vbuf_adds(&url, "&account_id=");
	vhttp_uri_encode(&url, c->account, strlen(c->account), 0);
	vkv_add(&hdr, "Host", ep.host);
	vkv_add(&hdr, "x-amz-sso_bearer_token", token);
	vhttp_request hr = {
		.method = "GET",
		.url = vbuf_str(&url),
		.headers = &hdr,
		.timeout_ms = CALL_TIMEOUT_MS,
	};
	vlog_debug("SSO GetRoleCredentials for role %s in account %s at %s",
		   c->role, c->account, ep.url);
	rc = vaws_creds_http(ctx->http, &hr, "SSO GetRoleCredentials", &rs,
			     err);
	if (rc)
		goto out;
	if (rs.status == 401) {
		rc = login_needed(c, "the portal refused the sign-in token "
				     "(expired or signed out)", err);
		goto out;
	}
	if (rs.status != 200) {
		rc = vawserr_from_response(err, "sso", "GetRoleCredentials",
					   &rs);
		vbuf w = VBUF_INIT;
		who(&w, c);
		verr_prefix(err, "IAM Identity Center (SSO) %s, role %s in "
				 "account %s",
			    vbuf_str(&w), c->role, c->account);
		vbuf_free(&w);
		if (rs.status == 403 || rs.status == 404)
			verr_hint(err, "check sso_account_id and sso_role_name "
				       "of profile %s (aws sso "
				       "list-account-roles lists the roles "
				       "this sign-in may use)",
				  c->profile);
		goto out;
	}
	rc = parse_role_creds(&rs, c, out, err);
out:
	vbuf_free_secret(&rs.body);
	vhttp_response_free(&rs);
	vkv_free_secret(&hdr);
	vbuf_free(&url);
	vaws_endpoint_free(&ep);
	return rc;
}

static void describe(const sso_conf *c, bool cached, vaws_creds *out)
{
	vbuf b = VBUF_INIT;
	vbuf_adds(&b, "SSO ");
	who(&b, c);
	vbuf_addf(&b, " → account %s role %s", c->account, c->role);
	if (cached)
		vbuf_adds(&b, " (cached in ~/.aws/cli/cache)");
	out->chain = vbuf_detach(&b);
	out->source = "sso";
}

int vaws_creds_sso(const vaws_creds_ctx *ctx, vaws_creds *out, vbuf *looked,
		   vmie_error *err)
{
	(void)looked;
	sso_conf c;
	int rc = sso_config(ctx->cfg, &c, err);
	if (rc <= 0)
		return rc;
	char key[41];
	role_key(&c, key);
	if (!ctx->force) {
		char *dir = vaws_cache_dir("cli");
		json_t *doc = NULL;
		rc = vaws_cache_read(dir, key, &doc, NULL) == 0
			     ? vaws_cache_creds(doc, ctx->now(), WINDOW_S, out)
			     : 1;
		json_decref(doc);
		free(dir);
		if (rc == 0) {
			describe(&c, true, out);
			return 1;
		}
	}
	char *token = NULL;
	rc = access_token(ctx, &c, &token, err);
	if (rc == 0)
		rc = role_credentials(ctx, &c, token, out, err);
	xfree_secret(token);
	if (rc) {
		vaws_creds_free(out);
		return rc;
	}
	cache_role_creds(key, out);
	describe(&c, false, out);
	return 1;
}
