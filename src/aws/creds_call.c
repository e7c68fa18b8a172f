/*
 * The requests credential providers make on their own, outside the
 * client (which needs credentials to exist first): STS AssumeRole and
 * AssumeRoleWithWebIdentity, the IAM Identity Center portal and OIDC.
 * They get the standard retry mode's patience for what passes (a
 * dropped connection, a 5xx, throttling), nothing else.
 */
#include "aws/creds_internal.h"
#include "aws/awserr.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 30000

int vaws_creds_http(vhttp *http, const vhttp_request *rq, const char *what,
		    vhttp_response *rs, vmie_error *err)
{
	if (!http)
		return verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
				"%s: no HTTP client", what);
	vretry_policy pol;
	vretry_policy_init(&pol, NULL, NULL,
			   (unsigned long long)time(NULL) ^
				   ((unsigned long long)getpid() << 16),
			   NULL);
	vretry_state st = VRETRY_STATE_INIT;
	for (;;) {
		vhttp_send(http, rq, rs);
		vawserr_info info = {0};
		vretry_outcome o = {rs->transport, rs->status, NULL};
		if (rs->transport == VHTTP_OK && rs->status >= 300) {
			vawserr_parse(rs, &info);
			o.aws_code = info.code;
		}
		long delay = 0;
		bool again = (rs->transport != VHTTP_OK || rs->status >= 300) &&
			     vretry_should_retry(&pol, &st, &o, true, &delay);
		vawserr_info_free(&info);
		if (!again)
			break;
		vlog_debug("%s: %s; retrying in %ld ms", what,
			   rs->transport != VHTTP_OK ? "transport error"
						     : "transient error",
			   delay);
		struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	if (rs->transport == VHTTP_OK)
		return 0;
	verr_set(err, VMIE_ERR_AWS_CONNECTION_FAILED,
		 "%s: cannot reach %s: %s", what, rq->url,
		 rs->transport_error ? rs->transport_error : "transport error");
	return verr_hint(err, rs->transport == VHTTP_TLS
				      ? "the TLS connection could not be "
					"verified: check the system CA "
					"certificates and AWS_CA_BUNDLE"
				      : "check the network, proxy settings "
					"and the endpoint URL");
}

static void form(vbuf *b, const char *name, const char *value)
{
	vbuf_addf(b, "&%s=", name);
	vhttp_uri_encode(b, value, strlen(value), 0);
}

static int parse_ok(const vhttp_response *rs, const char *action,
		    vaws_creds *out, char **user_arn, char **user_id,
		    vmie_error *err)
{
	int rc = 0;
	vxml *doc = vxml_parse(vbuf_str(&rs->body), rs->body.len);
	vxml_node *c = doc ? vxml_find(vxml_root(doc), "//Credentials") : NULL;
	char *exp = c ? vxml_text(c, "Expiration") : NULL;
	if (c) {
		out->access_key_id = vxml_text(c, "AccessKeyId");
		out->secret_access_key = vxml_text(c, "SecretAccessKey");
		out->session_token = vxml_text(c, "SessionToken");
	}
	if (!out->access_key_id || !out->secret_access_key ||
	    !out->session_token || !exp ||
	    visotime_parse(exp, &out->expiration) != 0) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "STS %s: the answer lacks AccessKeyId, "
			      "SecretAccessKey, SessionToken or a valid "
			      "Expiration", action);
		goto out;
	}
	char *arn = vxml_text(vxml_root(doc), "//AssumedRoleUser/Arn");
	out->account_id = vaws_arn_account(arn);
	if (user_id)
		*user_id = vxml_text(vxml_root(doc),
				     "//AssumedRoleUser/AssumedRoleId");
	if (user_arn)
		*user_arn = arn;
	else
		free(arn);
out:
	free(exp);
	vxml_free(doc);
	return rc;
}

int vaws_creds_sts(const vaws_creds_ctx *ctx, const vaws_creds *with,
		   const char *action, const vkv *params, vaws_creds *out,
		   char **user_arn, char **user_id, vmie_error *err)
{
	if (user_arn)
		*user_arn = NULL;
	if (user_id)
		*user_id = NULL;
	const vaws_endpoint *ep = ctx->sts;
	if (!ep)
		return verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
				"STS %s: no STS endpoint to call", action);
	vbuf body = VBUF_INIT, url = VBUF_INIT, path = VBUF_INIT;
	vkv hdr = VKV_INIT;
	vhttp_response rs = {0};
	int rc = 0;
	vbuf_adds(&body, "Action=");
	vbuf_adds(&body, action);
	form(&body, "Version", "2011-06-15");
	for (size_t i = 0; params && i < params->n; i++)
		form(&body, params->items[i].key, params->items[i].value);
	vbuf_addf(&path, "%s/", ep->base_path);
	vbuf_addf(&url, "%s://%s%s", ep->scheme, ep->host, vbuf_str(&path));
	vkv_add(&hdr, "Host", ep->host);
	vkv_add(&hdr, "Content-Type",
		"application/x-www-form-urlencoded; charset=utf-8");
	if (with) {
		vsigv4_params p = {0};
		p.key.access_key_id = with->access_key_id;
		p.key.secret_access_key = with->secret_access_key;
		p.key.session_token = with->session_token;
		p.region = ep->signing_region;
		p.service = ep->service;
		p.when = time(NULL);
		p.normalize_path = true;
		p.double_encode_path = true;
		vsigv4_request srq = {"POST", vbuf_str(&path), NULL, &hdr,
				      body.data, body.len};
		vsigv4_result res = {0};
		int s = vsigv4_sign_headers(&p, &srq, &res);
		vsigv4_result_free(&res);
		if (s != 0) {
			rc = verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
				      "STS %s: the request could not be "
				      "signed", action);
			goto out;
		}
	}
	vhttp_request rq = {
		.method = "POST",
		.url = vbuf_str(&url),
		.headers = &hdr,
		.body = body.data,
		.body_len = body.len,
		.timeout_ms = CALL_TIMEOUT_MS,
	};
	vbuf what = VBUF_INIT;
	vbuf_addf(&what, "STS %s", action);
	vlog_debug("STS %s at %s%s", action, vbuf_str(&url),
		   with ? "" : " (unsigned)");
	rc = vaws_creds_http(ctx->http, &rq, vbuf_str(&what), &rs, err);
	vbuf_free(&what);
	if (rc)
		goto out;
	if (rs.status != 200) {
		rc = vawserr_from_response(err, "sts", action, &rs);
		goto out;
	}
	rc = parse_ok(&rs, action, out, user_arn, user_id, err);
out:
	if (rc)
		vaws_creds_free(out);
	vbuf_free_secret(&body);
	vbuf_free_secret(&rs.body);
	vhttp_response_free(&rs);
	vbuf_free(&url);
	vbuf_free(&path);
	vkv_free_secret(&hdr);
	return rc;
}
