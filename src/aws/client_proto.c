/*
 * The three wire protocols as request layouts: query (form POST, XML
 * back), JSON 1.1 (X-Amz-Target, JSON both ways) and S3's REST.  Each
 * builds a vaws_call and lets vaws_call_run do the rest.
 */
#include "aws/client_internal.h"
#include "aws/sigv4.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void enc(vbuf *b, const char *s, int keep_slash)
{
	if (s)
		vhttp_uri_encode(b, s, strlen(s), keep_slash);
}

/* A 2xx answer whose body we cannot read is still a failure: report it
 * with what identifies the call. */
static int unreadable(const char *service, const char *operation,
		      const char *what, const vhttp_response *rs,
		      vmie_error *err)
{
	const char *id = vkv_get_ci(&rs->headers, "x-amzn-RequestId");
	verr_set(err, VMIE_ERR_AWS_REQUEST_FAILED,
		 "%s %s: the response (HTTP %ld) is not readable %s",
		 service, operation, rs->status, what);
	verr_hint(err, "check that --endpoint-url / AWS_ENDPOINT_URL points "
		       "at AWS or a compatible service");
	if (err) {
		err->service = xstrdup(service);
		err->operation = xstrdup(operation);
		err->request_id = xstrdup(id);
		err->http_status = rs->status;
	}
	return VMIE_ERR_AWS_REQUEST_FAILED;
}

/* POST "/" (plus the endpoint's base path) to a query or JSON service. */
static void post_root(vaws_call *k, const vaws_endpoint *ep, vbuf *url,
		      vbuf *path)
{
	vbuf_addf(path, "%s/", ep->base_path);
	vbuf_addf(url, "%s://%s%s", ep->scheme, ep->host, vbuf_str(path));
	k->ep = ep;
	k->method = "POST";
	k->url = vbuf_str(url);
	k->host = ep->host;
	k->path = vbuf_str(path);
}

int vaws_query(vaws_client *c, const char *service, const char *action,
	       const char *version, const vkv *params, bool safe_to_retry,
	       vxml **out, vmie_error *err)
{
	*out = NULL;
	const vaws_endpoint *ep;
	int rc = vaws_client_endpoint(c, service, &ep, err);
	if (rc != 0)
		return rc;

	vbuf body = VBUF_INIT, url = VBUF_INIT, path = VBUF_INIT;
	vbuf_adds(&body, "Action=");
	enc(&body, action, 0);
	vbuf_adds(&body, "&Version=");
	enc(&body, version, 0);
	for (size_t i = 0; params && i < params->n; i++) {
		vbuf_addch(&body, '&');
		enc(&body, params->items[i].key, 0);
		vbuf_addch(&body, '=');
		enc(&body, params->items[i].value, 0);
	}
	vkv hdrs = VKV_INIT;
	vkv_add(&hdrs, "Content-Type",
		"application/x-www-form-urlencoded; charset=utf-8");

	vaws_call k = {0};
	post_root(&k, ep, &url, &path);
	k.service = service;
	k.operation = action;
	k.headers = &hdrs;
	k.body = body.data;
	k.body_len = body.len;
	k.safe_to_retry = safe_to_retry;

	vhttp_response rs = {0};
	rc = vaws_call_run(c, &k, &rs, err);
	if (rc == 0) {
		*out = vxml_parse(rs.body.data, rs.body.len);
		if (!*out)
			rc = unreadable(service, action, "XML", &rs, err);
	}
	vhttp_response_free(&rs);
	vkv_free(&hdrs);
	/* Query parameters can carry secrets (e.g. a web identity token). */
	vbuf_free_secret(&body);
	vbuf_free(&url);
	vbuf_free(&path);
	return rc;
}

int vaws_json(vaws_client *c, const char *service, const char *target_prefix,
	      const char *operation, const json_t *body, bool safe_to_retry,
	      json_t **out, vmie_error *err)
{
	*out = NULL;
	const vaws_endpoint *ep;
	int rc = vaws_client_endpoint(c, service, &ep, err);
	if (rc != 0)
		return rc;

	char *text = body ? json_dumps(body, JSON_COMPACT) : xstrdup("{}");
	if (!text)
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"%s %s: the request cannot be encoded as JSON",
				service, operation);
	vbuf url = VBUF_INIT, path = VBUF_INIT, target = VBUF_INIT;
	vbuf_addf(&target, "%s.%s", target_prefix, operation);
	vkv hdrs = VKV_INIT;
	vkv_add(&hdrs, "Content-Type", "application/x-amz-json-1.1");
	vkv_add(&hdrs, "X-Amz-Target", vbuf_str(&target));

	vaws_call k = {0};
	post_root(&k, ep, &url, &path);
	k.service = service;
	k.operation = operation;
	k.headers = &hdrs;
	k.body = text;
	k.body_len = strlen(text);
	k.safe_to_retry = safe_to_retry;

	vhttp_response rs = {0};
	rc = vaws_call_run(c, &k, &rs, err);
	if (rc == 0) {
		json_error_t je;
		if (rs.body.len == 0)
			*out = json_object();
		else
			*out = json_loadb(rs.body.data, rs.body.len, 0, &je);
		if (*out && !json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
		}
		if (!*out)
			rc = unreadable(service, operation, "JSON", &rs, err);
	}
	vhttp_response_free(&rs);
	vkv_free(&hdrs);
	secure_zero(text, strlen(text));
	free(text);
	vbuf_free(&url);
	vbuf_free(&path);
	vbuf_free(&target);
	return rc;
}

/* Can the bucket be a host name label under this scheme?  Dots break the
 * *.s3 wildcard certificate under TLS; capitals and underscores are not
 * valid DNS (old us-east-1 buckets may have them). */
static bool virtual_ok(const char *bucket, const char *scheme)
{
	size_t n = strlen(bucket);
	if (n < 3 || n > 63)
		return false;
	bool tls = strcmp(scheme, "https") == 0;
	for (size_t i = 0; i < n; i++) {
		char ch = bucket[i];
		if (ch == '.' && !tls && i > 0 && bucket[i - 1] != '.')
			continue;
		if (!islower((unsigned char)ch) && !isdigit((unsigned char)ch) &&
		    ch != '-')
			return false;
	}
	return bucket[0] != '-' && bucket[n - 1] != '-' && bucket[n - 1] != '.';
}

static bool method_idempotent(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	       strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;
}

int vaws_rest_layout_init(vaws_client *c, const vaws_rest_request *rq,
			  vaws_rest_layout *l, vmie_error *err)
{
	memset(l, 0, sizeof(*l));
	const vaws_endpoint *ep;
	int rc = vaws_client_endpoint(c, "s3", &ep, err);
	if (rc != 0)
		return rc;
	const char *method = rq->method ? rq->method : "GET";
	const char *op = rq->operation ? rq->operation : method;
	bool has_bucket = rq->bucket && *rq->bucket;
	bool path_style = has_bucket &&
			  (ep->s3_path_style || !virtual_ok(rq->bucket, ep->scheme));

	if (has_bucket && !path_style)
		vbuf_addf(&l->host, "%s.%s", rq->bucket, ep->host);
	else
		vbuf_adds(&l->host, ep->host);
	vbuf_adds(&l->path, ep->base_path);
	if (path_style) {
		vbuf_addch(&l->path, '/');
		enc(&l->path, rq->bucket, 0);
	}
	if (rq->key && *rq->key) {
		vbuf_addch(&l->path, '/');
		enc(&l->path, rq->key, 1);
	} else if (!path_style) {
		vbuf_addch(&l->path, '/');
	}
	for (size_t i = 0; rq->query && i < rq->query->n; i++) {
		if (i)
			vbuf_addch(&l->query, '&');
		enc(&l->query, rq->query->items[i].key, 0);
		if (rq->query->items[i].value) {
			vbuf_addch(&l->query, '=');
			enc(&l->query, rq->query->items[i].value, 0);
		}
	}
	vbuf_addf(&l->url, "%s://%s%s", ep->scheme, vbuf_str(&l->host),
		  vbuf_str(&l->path));
	if (l->query.len)
		vbuf_addf(&l->url, "?%s", vbuf_str(&l->query));

	vaws_call *k = &l->call;
	k->service = "s3";
	k->operation = op;
	k->ep = ep;
	k->method = method;
	k->url = vbuf_str(&l->url);
	k->host = vbuf_str(&l->host);
	k->path = vbuf_str(&l->path);
	k->query = l->query.len ? vbuf_str(&l->query) : NULL;
	k->headers = rq->headers;
	k->body = rq->body;
	k->body_len = rq->body_len;
	k->payload_hash = rq->payload_hash;
	k->s3 = true;
	k->safe_to_retry = method_idempotent(method) || rq->safe_to_retry;
	k->timeout_ms = rq->timeout_ms;
	return 0;
}

void vaws_rest_layout_free(vaws_rest_layout *l)
{
	vbuf_free(&l->host);
	vbuf_free(&l->path);
	vbuf_free(&l->query);
	vbuf_free(&l->url);
	memset(l, 0, sizeof(*l));
}

int vaws_rest(vaws_client *c, const vaws_rest_request *rq, vhttp_response *rs,
	      vmie_error *err)
{
	vaws_rest_layout l;
	int rc = vaws_rest_layout_init(c, rq, &l, err);
	if (rc == 0)
		rc = vaws_call_run(c, &l.call, rs, err);
	vaws_rest_layout_free(&l);
	return rc;
}
