/*
 * Web identity: exchange an OIDC token (EKS IRSA, GitHub Actions, ...) for
 * role credentials with STS AssumeRoleWithWebIdentity.  The call is
 * unsigned (it is how one gets credentials in the first place), a plain
 * form POST.  The token file is read on every call: issuers rotate it.
 */
#include "aws/creds_internal.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_MAX (64 * 1024)

/* Env first, then the profile, per setting (botocore _get_config); a
 * source_profile reads only its profile (botocore's disable_env_vars). */
static const char *setting(const vaws_creds_ctx *ctx, const char *env,
			   const char *key)
{
	if (ctx->source_scope)
		return vaws_profile_get(ctx->cfg, key);
	return vaws_config_setting(ctx->cfg, env, key);
}

int vaws_creds_web_identity(const vaws_creds_ctx *ctx, vaws_creds *out,
			    vbuf *looked, vmie_error *err)
{
	const char *path = setting(ctx, "AWS_WEB_IDENTITY_TOKEN_FILE",
				   "web_identity_token_file");
	if (!path) {
		vaws_looked(looked, "web identity "
				    "(AWS_WEB_IDENTITY_TOKEN_FILE)");
		return 0;
	}
	const char *role = setting(ctx, "AWS_ROLE_ARN", "role_arn");
	if (!role) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "web identity is configured (token file %s) but no "
			 "role ARN is set", path);
		return verr_hint(err, "set AWS_ROLE_ARN, or role_arn in the "
				      "profile");
	}
	vbuf token = VBUF_INIT;
	vkv params = VKV_INIT;
	char *session = NULL;
	int rc = vaws_read_file(path, TOKEN_MAX, &token, err);
	if (rc == 1)
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "web identity token file %s does not exist",
			      path);
	if (rc)
		goto out;
	vbuf_rtrim(&token);
	const char *name = setting(ctx, "AWS_ROLE_SESSION_NAME",
				   "role_session_name");
	if (name) {
		session = xstrdup(name);
	} else {
		vbuf s = VBUF_INIT;
		vbuf_addf(&s, "vmie-session-%lld", (long long)time(NULL));
		session = vbuf_detach(&s);
	}
	vkv_add(&params, "RoleArn", role);
	vkv_add(&params, "RoleSessionName", session);
	vkv_add(&params, "WebIdentityToken", vbuf_str(&token));
	vlog_debug("web identity: AssumeRoleWithWebIdentity %s", role);
	rc = vaws_creds_sts(ctx, NULL, "AssumeRoleWithWebIdentity", &params,
			    out, NULL, NULL, err);
	if (rc) {
		verr_prefix(err, "web identity");
		if (err && err->aws_code)
			verr_hint(err, "check that the role's trust policy "
				       "allows this identity provider and "
				       "that the token is current");
		goto out;
	}
	out->source = "web-identity";
	rc = 1;
out:
	if (rc < 0)
		vaws_creds_free(out);
	vbuf_free_secret(&token);
	vkv_free_secret(&params);
	free(session);
	return rc;
}
