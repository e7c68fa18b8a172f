/*
 * Container credentials (ECS task roles, EKS Pod Identity): a GET to a
 * local agent named by AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
 * 169.254.170.2) or _FULL_URI.  A full URI over plain http must point at
 * this host or a known agent address, so a poisoned environment cannot
 * send the authorization token across the network in the clear.
 */
#include "aws/creds_internal.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ECS_HOST "http://169.254.170.2"
#define TOKEN_MAX (16 * 1024)
#define TIMEOUT_MS 2000
#define ATTEMPTS 3

/* Is the host of this http URL one botocore allows without TLS? */
static bool allowed_http_host(const char *url)
{
	const char *a = url + strlen("http://");
	size_t n = strcspn(a, "/?#");
	char *auth = xstrndup(a, n);
	char *host = strrchr(auth, '@') ? strrchr(auth, '@') + 1 : auth;
	if (host[0] == '[') {
		char *close = strchr(host, ']');
		if (!close) {
			free(auth);
			return false;
		}
		*close = '\0';
		host++;
	} else {
		char *colon = strchr(host, ':');
		if (colon)
			*colon = '\0';
	}
	bool ok = false;
	struct in_addr v4;
	struct in6_addr v6, ecs6;
	if (strcasecmp(host, "localhost") == 0 ||
	    strcmp(host, "169.254.170.2") == 0 ||
	    strcmp(host, "169.254.170.23") == 0) {
		ok = true;
	} else if (inet_pton(AF_INET, host, &v4) == 1) {
		ok = (ntohl(v4.s_addr) >> 24) == 127;
	} else if (inet_pton(AF_INET6, host, &v6) == 1) {
		inet_pton(AF_INET6, "fd00:ec2::23", &ecs6);
		ok = IN6_IS_ADDR_LOOPBACK(&v6) ||
		     memcmp(&v6, &ecs6, sizeof v6) == 0;
	}
	free(auth);
	return ok;
}

static int auth_token(vbuf *tok, vmie_error *err)
{
	const char *file = vaws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *env = vaws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *from;
	if (file) {
		int rc = vaws_read_file(file, TOKEN_MAX, tok, err);
		if (rc == 1)
			rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				      "container credentials: token file %s "
				      "does not exist",
				      file);
		if (rc)
			return rc;
		from = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
		/* A trailing newline from `echo > file` is not part of it. */
		while (tok->len && (tok->data[tok->len - 1] == '\n' ||
				    tok->data[tok->len - 1] == '\r'))
			tok->data[--tok->len] = '\0';
	} else if (env) {
		vbuf_adds(tok, env);
		from = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
	} else {
		return 0;
	}
	if (strpbrk(vbuf_str(tok), "\r\n") || memchr(tok->data, 0, tok->len))
		return verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				"container credentials: the token from %s "
				"contains a line break, which is not a legal "
				"header value", from);
	return 0;
}

/* A short, printable excerpt of an error body for the message. */
static void excerpt(vbuf *dst, const vbuf *body)
{
	for (size_t i = 0; i < body->len && i < 200; i++) {
		unsigned char c = (unsigned char)body->data[i];
		vbuf_addch(dst, c >= 0x20 && c < 0x7f ? (char)c : ' ');
	}
	vbuf_rtrim(dst);
}

int vaws_creds_container(const vaws_creds_ctx *ctx, vaws_creds *out,
			 vbuf *looked, vmie_error *err)
{
	const char *rel = vaws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = vaws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	if (!rel && !full) {
		vaws_looked(looked, "container (AWS_CONTAINER_CREDENTIALS_*)");
		return 0;
	}
	vbuf url = VBUF_INIT, tok = VBUF_INIT, msg = VBUF_INIT;
	vkv hdr = VKV_INIT;
	vhttp_response rs = {0};
	json_t *doc = NULL;
	int rc;
	if (rel) {
		vbuf_addf(&url, ECS_HOST "%s%s", rel[0] == '/' ? "" : "/",
			  rel);
	} else if (!strncasecmp(full, "https://", 8) ||
		   (!strncasecmp(full, "http://", 7) &&
		    allowed_http_host(full))) {
		vbuf_adds(&url, full);
	} else {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "AWS_CONTAINER_CREDENTIALS_FULL_URI %s is not https "
			 "nor a loopback or container-agent address", full);
		rc = verr_hint(err, "use https, or http to 127.0.0.1, "
				    "localhost, 169.254.170.2, 169.254.170.23 "
				    "or fd00:ec2::23");
		goto out;
	}
	if (!ctx->http) {
		rc = verr_set(err, VMIE_ERR_AWS_CLIENT_INIT_FAILED,
			      "container credentials: no HTTP client");
		goto out;
	}
	rc = auth_token(&tok, err);
	if (rc)
		goto out;
	vkv_add(&hdr, "Accept", "application/json");
	if (tok.len)
		vkv_add(&hdr, "Authorization", vbuf_str(&tok));
	vhttp_request rq = {
		.method = "GET",
		.url = vbuf_str(&url),
		.headers = &hdr,
		.timeout_ms = TIMEOUT_MS,
	};
	vlog_debug("container credentials: GET %s", vbuf_str(&url));
	/* The agent may be starting with the task: retry what may pass. */
	for (int i = 0; i < ATTEMPTS; i++) {
		if (i)
			sleep(1);
		if (vhttp_send(ctx->http, &rq, &rs) == 0 && rs.status < 500)
			break;
	}
	if (rs.transport != VHTTP_OK) {
		rc = verr_set(err, VMIE_ERR_AWS_CONNECTION_FAILED,
			      "container credentials: cannot reach %s: %s",
			      vbuf_str(&url),
			      rs.transport_error ? rs.transport_error
						 : "transport error");
		goto out;
	}
	if (rs.status != 200) {
		excerpt(&msg, &rs.body);
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "container credentials: %s answered HTTP %ld%s%s",
			      vbuf_str(&url), rs.status, msg.len ? ": " : "",
			      vbuf_str(&msg));
		if (err)
			err->http_status = rs.status;
		goto out;
	}
	json_error_t jerr;
	doc = json_loadb(vbuf_str(&rs.body), rs.body.len, 0, &jerr);
	if (!doc) {
		rc = verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
			      "container credentials: %s did not answer JSON",
			      vbuf_str(&url));
		goto out;
	}
	rc = vaws_creds_from_json(doc, "container credentials", "Token", true,
				  true, out, err);
	if (rc)
		goto out;
	out->source = "container";
	rc = 1;
out:
	if (rc < 0)
		vaws_creds_free(out);
	json_decref(doc);
	vbuf_free_secret(&rs.body);
	vhttp_response_free(&rs);
	vkv_free_secret(&hdr);
	vbuf_free_secret(&tok);
	vbuf_free(&url);
	vbuf_free(&msg);
	return rc;
}
