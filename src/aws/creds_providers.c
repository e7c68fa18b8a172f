/*
 * The providers that read only the environment and the profile (env,
 * shared credentials file, static keys in the config file), the check for
 * profile kinds vmie does not carry, and helpers the other providers
 * (creds_assume.c, creds_sso.c, creds_web_identity.c, creds_process.c,
 * creds_container.c, creds_imds.c) share.
 */
#include "aws/creds_internal.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *vaws_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

bool vaws_is_true(const char *v)
{
	return v && strcasecmp(v, "true") == 0;
}

void vaws_looked(vbuf *looked, const char *fmt, ...)
{
	if (looked->len)
		vbuf_adds(looked, ", ");
	va_list ap;
	va_start(ap, fmt);
	vbuf_vaddf(looked, fmt, ap);
	va_end(ap);
}

const char *vaws_key_tail(const char *akid)
{
	size_t n = akid ? strlen(akid) : 0;
	return n >= 4 ? akid + n - 4 : "";
}

/* Key and secret must come together; say which half is missing. */
static int pair(const char *key, const char *secret, const char *key_name,
		const char *secret_name, const char *where, vmie_error *err)
{
	if (key && !secret)
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "%s sets %s but not %s", where, key_name,
			 secret_name);
	else if (!key && secret)
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "%s sets %s but not %s", where, secret_name,
			 key_name);
	else
		return 0;
	return verr_hint(err, "set both (partial credentials are never "
			      "combined with another source)");
}

static void fill(vaws_creds *out, const char *key, const char *secret,
		 const char *token, const char *account, const char *source)
{
	out->access_key_id = xstrdup(key);
	out->secret_access_key = xstrdup(secret);
	out->session_token = token && *token ? xstrdup(token) : NULL;
	out->account_id = account && *account ? xstrdup(account) : NULL;
	out->source = source;
}

int vaws_creds_env(const vaws_creds_ctx *ctx, vaws_creds *out, vbuf *looked,
		   vmie_error *err)
{
	if (ctx->cfg && ctx->cfg->profile_explicit) {
		vaws_looked(looked, "environment (skipped: --profile given)");
		return 0;
	}
	const char *key = vaws_env("AWS_ACCESS_KEY_ID");
	const char *secret = vaws_env("AWS_SECRET_ACCESS_KEY");
	int rc = pair(key, secret, "AWS_ACCESS_KEY_ID",
		      "AWS_SECRET_ACCESS_KEY", "the environment", err);
	if (rc)
		return rc;
	if (!key) {
		vaws_looked(looked, "environment (AWS_ACCESS_KEY_ID)");
		return 0;
	}
	const char *token = vaws_env("AWS_SESSION_TOKEN");
	if (!token)
		token = vaws_env("AWS_SECURITY_TOKEN");
	const char *exp = vaws_env("AWS_CREDENTIAL_EXPIRATION");
	time_t when = 0;
	if (exp && visotime_parse(exp, &when) != 0) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "AWS_CREDENTIAL_EXPIRATION is not an ISO-8601 time: "
			 "'%s'", exp);
		return verr_hint(err, "use the form 2030-01-31T12:00:00Z, "
				      "or unset it");
	}
	fill(out, key, secret, token, vaws_env("AWS_ACCOUNT_ID"),
	     "environment");
	out->expiration = when;
	return 1;
}

/* Profiles that need a provider vmie does not have would otherwise fall
 * through to some other credentials (IMDS, a default key) and act as
 * someone else: refuse them by name instead. */
int vaws_creds_unsupported(const vaws_creds_ctx *ctx, vaws_creds *out,
			   vbuf *looked, vmie_error *err)
{
	const vaws_config *cfg = ctx->cfg;
	if (!cfg || !vaws_profile_get(cfg, "login_session"))
		return 0;
	verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
		 "profile %s uses `aws login` (login_session) credentials, "
		 "which vmie does not support", cfg->profile);
	return verr_hint(err,
			 "add a profile with credential_process = aws "
			 "configure export-credentials --profile %s --format "
			 "process, and pass that profile to vmie",
			 cfg->profile);
}

const char *vaws_profile_get(const vaws_config *cfg, const char *key)
{
	if (!cfg)
		return NULL;
	const char *v = vkv_get(&cfg->credentials, key);
	if (!v)
		v = vkv_get(&cfg->config, key);
	return v && *v ? v : NULL;
}

char *vaws_arn_account(const char *arn)
{
	/* arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE */
	if (!arn || strncmp(arn, "arn:", 4) != 0)
		return NULL;
	const char *p = arn;
	for (int i = 0; i < 4 && p; i++)
		p = strchr(p + 1, ':');
	const char *q = p ? strchr(p + 1, ':') : NULL;
	return q && q > p + 1 ? xstrndup(p + 1, (size_t)(q - p - 1)) : NULL;
}

static int from_profile(const vkv *kv, const char *where, const char *src,
			vaws_creds *out, vmie_error *err)
{
	const char *key = vkv_get(kv, "aws_access_key_id");
	const char *secret = vkv_get(kv, "aws_secret_access_key");
	if (key && !*key)
		key = NULL;
	if (secret && !*secret)
		secret = NULL;
	int rc = pair(key, secret, "aws_access_key_id",
		      "aws_secret_access_key", where, err);
	if (rc)
		return rc;
	if (!key)
		return 0;
	const char *token = vkv_get(kv, "aws_session_token");
	if (!token)
		token = vkv_get(kv, "aws_security_token");
	fill(out, key, secret, token, vkv_get(kv, "aws_account_id"), src);
	return 1;
}

int vaws_creds_shared_file(const vaws_creds_ctx *ctx, vaws_creds *out,
			   vbuf *looked, vmie_error *err)
{
	const vaws_config *cfg = ctx->cfg;
	if (!cfg)
		return 0;
	vbuf where = VBUF_INIT;
	vbuf_addf(&where, "%s [%s]", cfg->credentials_path, cfg->profile);
	int rc = from_profile(&cfg->credentials, vbuf_str(&where),
			      "shared-credentials-file", out, err);
	if (rc == 0)
		vaws_looked(looked, "shared credentials file (%s [profile %s])",
			    cfg->credentials_path, cfg->profile);
	vbuf_free(&where);
	return rc;
}

int vaws_creds_config_file(const vaws_creds_ctx *ctx, vaws_creds *out,
			   vbuf *looked, vmie_error *err)
{
	const vaws_config *cfg = ctx->cfg;
	if (!cfg)
		return 0;
	bool dflt = strcmp(cfg->profile, "default") == 0;
	vbuf where = VBUF_INIT;
	vbuf_addf(&where, "%s [%s%s]", cfg->config_path,
		  dflt ? "" : "profile ", cfg->profile);
	int rc = from_profile(&cfg->config, vbuf_str(&where), "config-file",
			      out, err);
	if (rc == 0)
		vaws_looked(looked, "config file (%s [profile %s])",
			    cfg->config_path, cfg->profile);
	vbuf_free(&where);
	return rc;
}

/* A string member, NULL when absent or not a non-empty string. */
static const char *jstr(json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));
	return s && *s ? s : NULL;
}

int vaws_creds_from_json(json_t *doc, const char *what,
			 const char *token_key, bool require_token,
			 bool require_expiration, vaws_creds *out,
			 vmie_error *err)
{
	if (!json_is_object(doc))
		return verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
				"%s: the answer is not a JSON object", what);
	const char *key = jstr(doc, "AccessKeyId");
	const char *secret = jstr(doc, "SecretAccessKey");
	const char *token = jstr(doc, token_key);
	const char *exp = jstr(doc, "Expiration");
	const char *missing = !key ? "AccessKeyId"
			      : !secret ? "SecretAccessKey"
			      : !token && require_token ? token_key
			      : !exp && require_expiration ? "Expiration"
							  : NULL;
	if (missing)
		return verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
				"%s: the answer has no %s", what, missing);
	time_t when = 0;
	if (exp && visotime_parse(exp, &when) != 0)
		return verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
				"%s: Expiration '%.40s' is not an ISO-8601 "
				"time", what, exp);
	fill(out, key, secret, token, jstr(doc, "AccountId"), NULL);
	out->expiration = when;
	return 0;
}
