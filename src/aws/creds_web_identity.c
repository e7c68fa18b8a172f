/*
 * Web identity: exchange an OIDC token (EKS IRSA, GitHub Actions, ...) for
 * role credentials with STS AssumeRoleWithWebIdentity.  The call is
 * unsigned (it is how one gets credentials in the first place), a plain
 * form POST.  The token file is read on every call: issuers rotate it.
 */
#include "aws/creds_internal.h"
#include "aws/xml.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_MAX (64 * 1024)
#define STS_TIMEOUT_MS 30000

/* Env first, then the profile, per setting (botocore _get_config). */
static const char *setting(const vaws_config *cfg, const char *env,
			   const char *key)
{
	return vaws_config_setting(cfg, env, key);
}

static void form(vbuf *b, const char *name, const char *value)
{
	vbuf_addf(b, "&%s=", name);
	vhttp_uri_encode(b, value, strlen(value), 0);
}

static int sts_error(const vhttp_response *rs, vmie_error *err)
{
	vxml *doc = vxml_parse(vbuf_str(&rs->body), rs->body.len);
	vxml_node *root = doc ? vxml_root(doc) : NULL;
	char *code = root ? vxml_text(root, "//Error/Code") : NULL;
	char *msg = root ? vxml_text(root, "//Error/Message") : NULL;
	char *rid = root ? vxml_text(root, "//RequestId") : NULL;
	if (code)
		verr_set(err, VMIE_ERR_AWS_REQUEST_FAILED,
			 "web identity: AssumeRoleWithWebIdentity failed: "
			 "%s: %s", code, msg ? msg : "(no message)");
	else
		verr_set(err, VMIE_ERR_AWS_REQUEST_FAILED,
			 "web identity: AssumeRoleWithWebIdentity failed: "
			 "HTTP %ld", rs->status);
	if (err) {
		err->service = xstrdup("sts");
		err->operation = xstrdup("AssumeRoleWithWebIdentity");
		err->aws_code = code;
		err->request_id = rid;
		err->http_status = rs->status;
		code = rid = NULL;
	}
	verr_hint(err, "check that the role's trust policy allows this "
		       "identity provider and that the token is current");
	free(code);
	free(msg);
	free(rid);
	vxml_free(doc);
	return err ? err->status : VMIE_ERR_AWS_REQUEST_FAILED;
}

static int parse_ok(const vhttp_response *rs, vaws_creds *out,
		    vmie_error *err)
{
	int rc = 0;
	vxml *doc = vxml_parse(vbuf_str(&rs->body), rs->body.len);
	vxml_node *c = doc ? vxml_find(vxml_root(doc), "//Credentials") : NULL;
	if (!c) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "web identity: STS answered without "
			      "Credentials");
		goto out;
	}
	out->access_key_id = vxml_text(c, "AccessKeyId");
	out->secret_access_key = vxml_text(c, "SecretAccessKey");
	out->session_token = vxml_text(c, "SessionToken");
	char *exp = vxml_text(c, "Expiration");
	if (!out->access_key_id || !out->secret_access_key ||
	    !out->session_token || !exp ||
	    visotime_parse(exp, &out->expiration) != 0)
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "web identity: STS Credentials lack AccessKeyId, "
			      "SecretAccessKey, SessionToken or a valid "
			      "Expiration");
	free(exp);
	/* arn:aws:sts::123456789012:assumed-role/... -> the account */
	char *arn = vxml_text(vxml_root(doc), "//AssumedRoleUser/Arn");
	if (arn && !strncmp(arn, "arn:", 4)) {
		const char *p = arn;
		for (int i = 0; i < 4 && p; i++)
			p = strchr(p + 1, ':');
		const char *q = p ? strchr(p + 1, ':') : NULL;
		if (q && q > p + 1)
			out->account_id = xstrndup(p + 1, (size_t)(q - p - 1));
	}
	free(arn);
out:
	vxml_free(doc);
	return rc;
}

int vaws_creds_web_identity(const vaws_creds_ctx *ctx, vaws_creds *out,
			    vbuf *looked, vmie_error *err)
{
	const vaws_config *cfg = ctx->cfg;
	const char *path = setting(cfg, "AWS_WEB_IDENTITY_TOKEN_FILE",
				   "web_identity_token_file");
	if (!path) {
		vaws_looked(looked, "web identity "
				    "(AWS_WEB_IDENTITY_TOKEN_FILE)");
		return 0;
	}
	const char *role = setting(cfg, "AWS_ROLE_ARN", "role_arn");
	if (!role) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "web identity is configured (token file %s) but no "
			 "role ARN is set", path);
		return verr_hint(err, "set AWS_ROLE_ARN, or role_arn in the "
				      "profile");
	}
	if (!ctx->http || !ctx->sts_endpoint)
		return verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
				"web identity: no STS endpoint to call");
	vbuf token = VBUF_INIT, body = VBUF_INIT, url = VBUF_INIT;
	vhttp_response rs = {0};
	vkv hdr = VKV_INIT;
	char *session = NULL;
	int rc = vaws_read_file(path, TOKEN_MAX, &token, err);
	if (rc == 1)
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "web identity token file %s does not exist",
			      path);
	if (rc)
		goto out;
	vbuf_rtrim(&token);
	const char *name = setting(cfg, "AWS_ROLE_SESSION_NAME",
				   "role_session_name");
	if (name) {
		session = xstrdup(name);
	} else {
		vbuf s = VBUF_INIT;
		vbuf_addf(&s, "vmie-session-%lld", (long long)time(NULL));
		session = vbuf_detach(&s);
	}
	vbuf_adds(&body, "Action=AssumeRoleWithWebIdentity");
	form(&body, "Version", "2011-06-15");
	form(&body, "RoleArn", role);
	form(&body, "RoleSessionName", session);
	form(&body, "WebIdentityToken", vbuf_str(&token));
	vbuf_adds(&url, ctx->sts_endpoint);
	const char *scheme = strstr(ctx->sts_endpoint, "://");
	if (!scheme || !strchr(scheme + 3, '/'))
		vbuf_addch(&url, '/');
	vkv_add(&hdr, "Content-Type",
		"application/x-www-form-urlencoded; charset=utf-8");
	vkv_add(&hdr, "Accept", "text/xml");
	vhttp_request rq = {
		.method = "POST",
		.url = vbuf_str(&url),
		.headers = &hdr,
		.body = body.data,
		.body_len = body.len,
		.timeout_ms = STS_TIMEOUT_MS,
	};
	vlog_debug("web identity: AssumeRoleWithWebIdentity %s at %s", role,
		   vbuf_str(&url));
	if (vhttp_send(ctx->http, &rq, &rs) != 0) {
		rc = verr_set(err, VMIE_ERR_AWS_CONNECTION_FAILED,
			      "web identity: cannot reach STS at %s: %s",
			      vbuf_str(&url),
			      rs.transport_error ? rs.transport_error
						 : "transport error");
		goto out;
	}
	if (rs.status != 200) {
		rc = sts_error(&rs, err);
		goto out;
	}
	rc = parse_ok(&rs, out, err);
	if (rc == 0) {
		out->source = "web-identity";
		rc = 1;
	}
out:
	if (rc < 0)
		vaws_creds_free(out);
	vbuf_free_secret(&token);
	vbuf_free_secret(&body);
	vbuf_free_secret(&rs.body);
	vhttp_response_free(&rs);
	vbuf_free(&url);
	vkv_free(&hdr);
	free(session);
	return rc;
}
