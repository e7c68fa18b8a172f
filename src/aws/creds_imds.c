/*
 * EC2 instance metadata (IMDSv2, falling back to v1 the way botocore
 * does).  Off EC2 nothing answers at 169.254.169.254, so every request has
 * a short timeout and every failure to reach it, or an instance without a
 * role, is "not here" rather than an error; only a role whose credentials
 * document is unusable is an error.
 */
#include "aws/creds_internal.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMDS_V4 "http://169.254.169.254"
#define IMDS_V6 "http://[fd00:ec2::254]"
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"

typedef struct imds {
	vhttp *http;
	const char *base;
	long timeout_ms;
	char *token;   /* NULL: IMDSv1 */
} imds;

static int get(imds *m, const char *method, const char *path, vkv *hdr,
	       vhttp_response *rs)
{
	vbuf url = VBUF_INIT;
	vbuf_addf(&url, "%s%s", m->base, path);
	vhttp_request rq = {
		.method = method,
		.url = vbuf_str(&url),
		.headers = hdr,
		.timeout_ms = m->timeout_ms,
	};
	int rc = vhttp_send(m->http, &rq, rs);
	vbuf_free(&url);
	return rc;
}

static int metadata(imds *m, const char *path, vhttp_response *rs)
{
	vkv hdr = VKV_INIT;
	if (m->token)
		vkv_add(&hdr, "x-aws-ec2-metadata-token", m->token);
	int rc = get(m, "GET", path, &hdr, rs);
	vkv_free_secret(&hdr);
	return rc;
}

/* 0: token or v1 chosen; 1: not reachable / refused (why in *why). */
static int fetch_token(imds *m, bool v1_disabled, const char **why)
{
	vkv hdr = VKV_INIT;
	vhttp_response rs = {0};
	int rc = 0;
	vkv_add(&hdr, "x-aws-ec2-metadata-token-ttl-seconds", "21600");
	if (get(m, "PUT", "/latest/api/token", &hdr, &rs) != 0) {
		if (rs.transport != VHTTP_TIMEOUT || v1_disabled) {
			*why = rs.transport == VHTTP_TIMEOUT ? "timed out"
							     : "not reachable";
			rc = 1;
		}
	} else if (rs.status == 200 && rs.body.len > 0) {
		m->token = xstrndup(rs.body.data, rs.body.len);
	} else if (rs.status == 403 || rs.status == 404 || rs.status == 405) {
		if (v1_disabled) {
			*why = "no IMDSv2 token and IMDSv1 is disabled";
			rc = 1;
		}
	} else {
		*why = "token request refused";
		rc = 1;
	}
	if (!m->token && !rc)
		vlog_debug("IMDS: no token, falling back to IMDSv1");
	vbuf_free_secret(&rs.body);
	vhttp_response_free(&rs);
	vkv_free(&hdr);
	return rc;
}

int vaws_creds_imds(const vaws_creds_ctx *ctx, vaws_creds *out, vbuf *looked,
		    vmie_error *err)
{
	const vaws_config *cfg = ctx->cfg;
	if (vaws_is_true(vaws_env("AWS_EC2_METADATA_DISABLED"))) {
		vaws_looked(looked, "instance metadata (disabled by "
				    "AWS_EC2_METADATA_DISABLED)");
		return 0;
	}
	const char *mode = vaws_config_setting(
		cfg, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
		"ec2_metadata_service_endpoint_mode");
	const char *base = vaws_config_setting(
		cfg, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
		"ec2_metadata_service_endpoint");
	if (!base)
		base = mode && !strcasecmp(mode, "IPv6") ? IMDS_V6 : IMDS_V4;
	bool v1_disabled = vaws_is_true(vaws_config_setting(
		cfg, "AWS_EC2_METADATA_V1_DISABLED",
		"ec2_metadata_v1_disabled"));
	const char *t = vaws_env("AWS_METADATA_SERVICE_TIMEOUT");
	long secs = t ? strtol(t, NULL, 10) : 1;
	char *trimmed = xstrdup(base);
	size_t bl = strlen(trimmed);
	while (bl && trimmed[bl - 1] == '/')
		trimmed[--bl] = '\0';
	imds m = {
		.http = ctx->http,
		.base = trimmed,
		.timeout_ms = (secs > 0 && secs < 60 ? secs : 1) * 1000,
	};
	vhttp_response rs = {0};
	vbuf path = VBUF_INIT;
	char *role = NULL;
	json_t *doc = NULL;
	const char *why = NULL;
	int rc = 0;
	if (!ctx->http) {
		why = "no HTTP client";
		goto out;
	}
	if (fetch_token(&m, v1_disabled, &why))
		goto out;
	if (metadata(&m, CREDS_PATH, &rs) != 0) {
		why = "not reachable";
		goto out;
	}
	if (rs.status != 200 || rs.body.len == 0) {
		why = rs.status == 404 ? "no IAM role attached"
					: "role list refused";
		goto out;
	}
	/* One role per instance profile; take the first line. */
	size_t n = strcspn(vbuf_str(&rs.body), "\r\n");
	role = xstrndup(rs.body.data, n);
	if (!*role || strpbrk(role, "/?#% ")) {
		why = "unusable role name";
		goto out;
	}
	vbuf_addf(&path, CREDS_PATH "%s", role);
	if (metadata(&m, vbuf_str(&path), &rs) != 0 || rs.status != 200) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "instance metadata: cannot read credentials of "
			      "role %s (%s)", role,
			      rs.transport == VHTTP_OK ? "HTTP error"
						       : "not reachable");
		if (err && rs.status)
			err->http_status = rs.status;
		goto out;
	}
	json_error_t jerr;
	doc = json_loadb(vbuf_str(&rs.body), rs.body.len, 0, &jerr);
	const char *code = json_string_value(json_object_get(doc, "Code"));
	if (!doc || (code && strcmp(code, "Success") != 0)) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "instance metadata: credentials of role %s are "
			      "%s%.60s", role, doc ? "not ready: " : "not JSON",
			      doc ? code : "");
		goto out;
	}
	rc = vaws_creds_from_json(doc, "instance metadata", "Token", true,
				  true, out, err);
	if (rc)
		goto out;
	out->source = "imds";
	vlog_debug("IMDS%s: credentials of role %s", m.token ? "v2" : "v1",
		   role);
	rc = 1;
out:
	if (rc == 0)
		vaws_looked(looked, "instance metadata (%s: %s)", m.base,
			    why ? why : "no credentials");
	if (rc < 0)
		vaws_creds_free(out);
	json_decref(doc);
	xfree_secret(m.token);
	vbuf_free_secret(&rs.body);
	vhttp_response_free(&rs);
	vbuf_free(&path);
	free(role);
	free(trimmed);
	return rc;
}
