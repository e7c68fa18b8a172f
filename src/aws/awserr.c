/*
 * Error responses into vmie_error.  The parser is lenient on purpose: the
 * body may come from AWS, from an emulator, or from a proxy or captive
 * portal in between, and in every case the user must learn what happened
 * (the status, AWS's code and words, or an excerpt of what came back).
 */
#include "aws/awserr.h"
#include "aws/xml.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* AWS messages can be long (EC2's encoded authorization messages are
 * about 1.5 KB); excerpts of foreign bodies stay short. */
#define MESSAGE_MAX 2048
#define EXCERPT_MAX 160

void vawserr_info_free(vawserr_info *info)
{
	if (!info)
		return;
	free(info->code);
	free(info->message);
	free(info->request_id);
	free(info->bucket_region);
	memset(info, 0, sizeof(*info));
}

/* One line, no control characters, at most max bytes: error text ends
 * up in logs and terminals. */
static char *one_line(const char *s, size_t len, size_t max, bool ascii)
{
	vbuf b = VBUF_INIT;
	bool space = false;
	for (size_t i = 0; i < len && b.len < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = b.len > 0;
			continue;
		}
		if (space)
			vbuf_addch(&b, ' ');
		space = false;
		vbuf_addch(&b, ascii && c >= 0x80 ? '?' : (char)c);
	}
	if (b.len == 0) {
		vbuf_free(&b);
		return NULL;
	}
	return vbuf_detach(&b);
}

static char *clean(char *s)
{
	if (!s)
		return NULL;
	char *c = one_line(s, strlen(s), MESSAGE_MAX, false);
	free(s);
	return c;
}

/* "com.amazonaws.ssm#InvalidInstanceId" and "Code:http://..." (REST-JSON
 * x-amzn-ErrorType) both carry the bare code. */
static char *bare_code(const char *t)
{
	if (!t || !*t)
		return NULL;
	const char *hash = strrchr(t, '#');
	if (hash)
		t = hash + 1;
	size_t n = strcspn(t, ":");
	return n ? clean(xstrndup(t, n)) : NULL;
}

/* The <Error> element, wherever botocore's parsers would find it: the
 * root itself (S3), or a child <Error> or <Errors><Error> of any root
 * (QueryParser lifts Errors/Error whatever the root is called, so an
 * STS or IAM error may come as <ErrorResponse><Errors><Error>, an EC2 one
 * as <Response><Error>), else the first <Error> anywhere. */
static vxml_node *error_element(vxml_node *root)
{
	const char *name = vxml_name(root);
	if (name && strcmp(name, "Error") == 0)
		return root;
	vxml_node *e = vxml_find(root, "Errors/Error");
	if (!e)
		e = vxml_find(root, "Error");
	if (!e)
		e = vxml_find(root, "//Error");
	return e;
}

static bool parse_xml(const vhttp_response *rs, vawserr_info *out)
{
	vxml *doc = vxml_parse(rs->body.data, rs->body.len);
	if (!doc)
		return false;
	vxml_node *root = vxml_root(doc);
	vxml_node *e = error_element(root);
	bool found = false;
	if (e) {
		out->code = clean(vxml_text(e, "Code"));
		out->message = clean(vxml_text(e, "Message"));
		if (!out->message) /* moto also writes a lower-case copy */
			out->message = clean(vxml_text(e, "message"));
		found = out->code != NULL;
	}
	if (found) {
		out->request_id = clean(vxml_text(root, "//RequestID"));
		if (!out->request_id)
			out->request_id = clean(vxml_text(root, "//RequestId"));
		if (!out->bucket_region)
			out->bucket_region = clean(vxml_text(root, "//Region"));
	}
	vxml_free(doc);
	return found;
}

static bool parse_json(const vhttp_response *rs, vawserr_info *out)
{
	json_error_t je;
	json_t *doc = json_loadb(rs->body.data, rs->body.len, 0, &je);
	if (!doc)
		return false;
	bool found = false;
	if (json_is_object(doc)) {
		const char *keys[] = {"__type", "code", "Code"};
		for (size_t i = 0; i < 3 && !out->code; i++)
			out->code = bare_code(
				json_string_value(json_object_get(doc, keys[i])));
		const char *mkeys[] = {"message", "Message", "errorMessage"};
		for (size_t i = 0; i < 3 && !out->message; i++) {
			const char *m = json_string_value(
				json_object_get(doc, mkeys[i]));
			if (m)
				out->message = clean(xstrdup(m));
		}
		/* A query-compatible JSON service names the query code
		 * ("Code;Sender"), as botocore reads it. */
		const char *q = vkv_get_ci(&rs->headers, "x-amzn-query-error");
		size_t qn = q ? strcspn(q, ";") : 0;
		if (qn) {
			free(out->code);
			out->code = clean(xstrndup(q, qn));
		}
		if (!out->code) /* REST-JSON puts the code in a header */
			out->code = bare_code(
				vkv_get_ci(&rs->headers, "x-amzn-ErrorType"));
		found = out->code != NULL;
	}
	json_decref(doc);
	return found;
}

static const char *reason(long status)
{
	switch (status) {
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return NULL;
	}
}

/* S3 answers HEAD (and some errors) without a body: the status is all
 * there is, named the way the S3 console and SDKs name it. */
static const char *code_from_status(long status)
{
	switch (status) {
	case 301: return "PermanentRedirect";
	case 304: return "NotModified";
	case 400: return "BadRequest";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 412: return "PreconditionFailed";
	case 503: return "ServiceUnavailable";
	default: return NULL;
	}
}

static bool body_blank(const vbuf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (!isspace((unsigned char)b->data[i]))
			return false;
	return true;
}

/* Text of a foreign body: tags dropped, whitespace collapsed. */
static char *excerpt(const vbuf *body)
{
	vbuf t = VBUF_INIT;
	bool in_tag = false;
	for (size_t i = 0; i < body->len && t.len < 4 * EXCERPT_MAX; i++) {
		char c = body->data[i];
		if (c == '<') {
			in_tag = true;
			vbuf_addch(&t, ' ');
		} else if (c == '>' && in_tag) {
			in_tag = false;
		} else if (!in_tag) {
			vbuf_addch(&t, c);
		}
	}
	char *s = one_line(vbuf_str(&t), t.len, EXCERPT_MAX, true);
	vbuf_free(&t);
	return s;
}

void vawserr_parse(const vhttp_response *rs, vawserr_info *out)
{
	memset(out, 0, sizeof(*out));
	out->bucket_region =
		clean(xstrdup(vkv_get_ci(&rs->headers, "x-amz-bucket-region")));
	if (body_blank(&rs->body)) {
		const char *c = code_from_status(rs->status);
		out->code = xstrdup(c);
		out->from_status = c != NULL;
		out->message = xstrdup(reason(rs->status));
	} else if (!parse_xml(rs, out) && !parse_json(rs, out)) {
		vawserr_info_free(out);
		out->bucket_region = clean(
			xstrdup(vkv_get_ci(&rs->headers, "x-amz-bucket-region")));
		out->message = excerpt(&rs->body);
		if (!out->message)
			out->message = xstrdup("(no readable text)");
		/* A JSON error with only a header code (REST-JSON) */
		out->code = bare_code(
			vkv_get_ci(&rs->headers, "x-amzn-ErrorType"));
	}
	if (!out->request_id) {
		static const char *const hdrs[] = {
			"x-amzn-RequestId", "x-amz-request-id",
			"x-amzn-request-id",
		};
		for (size_t i = 0; i < 3 && !out->request_id; i++)
			out->request_id = clean(
				xstrdup(vkv_get_ci(&rs->headers, hdrs[i])));
	}
}

static void upper(vbuf *b, const char *s)
{
	for (; s && *s; s++)
		vbuf_addch(b, (char)toupper((unsigned char)*s));
}

int vawserr_fill(vmie_error *err, const char *service, const char *operation,
		 long http_status, const vawserr_info *info)
{
	vbuf m = VBUF_INIT;
	upper(&m, service);
	vbuf_addf(&m, "%s%s failed: ", service ? " " : "",
		  operation ? operation : "request");
	const char *why = reason(http_status);
	if (info->code && info->message && !info->from_status)
		vbuf_addf(&m, "%s: %s (HTTP %ld)", info->code, info->message,
			  http_status);
	else if (info->code && !info->from_status)
		vbuf_addf(&m, "%s (HTTP %ld)", info->code, http_status);
	else if (info->code)
		vbuf_addf(&m, "%s (HTTP %ld%s%s, no error details)",
			  info->code, http_status, why ? " " : "",
			  why ? why : "");
	else if (info->message && !(why && strcmp(why, info->message) == 0))
		vbuf_addf(&m, "HTTP %ld%s%s, not an AWS error response: "
			      "\"%s\"",
			  http_status, why ? " " : "", why ? why : "",
			  info->message);
	else
		vbuf_addf(&m, "HTTP %ld%s%s with an empty response",
			  http_status, why ? " " : "", why ? why : "");

	verr_set(err, VMIE_ERR_AWS_REQUEST_FAILED, "%s", vbuf_str(&m));
	vbuf_free(&m);
	if (!err)
		return VMIE_ERR_AWS_REQUEST_FAILED;
	err->service = xstrdup(service);
	err->operation = xstrdup(operation);
	err->aws_code = xstrdup(info->code);
	err->request_id = xstrdup(info->request_id);
	err->http_status = http_status;

	const char *h = vawserr_hint(info->code);
	if (info->code && strcmp(info->code, "PermanentRedirect") == 0 &&
	    info->bucket_region)
		verr_hint(err, "the bucket is in %s: pass --region %s",
			  info->bucket_region, info->bucket_region);
	else if (info->code &&
		 strcmp(info->code, "AuthorizationHeaderMalformed") == 0 &&
		 info->bucket_region)
		verr_hint(err, "the bucket is in %s: pass --region %s",
			  info->bucket_region, info->bucket_region);
	else if (h)
		verr_hint(err, "%s", h);
	else if (!info->code && info->message)
		verr_hint(err, "the answer did not come from AWS: check "
			       "--endpoint-url / AWS_ENDPOINT_URL and any "
			       "proxy (HTTPS_PROXY) in between");
	else if (http_status >= 500)
		verr_hint(err, "the service reported a problem on its side; it "
			       "is usually temporary: try again");
	return VMIE_ERR_AWS_REQUEST_FAILED;
}

int vawserr_from_response(vmie_error *err, const char *service,
			  const char *operation, const vhttp_response *rs)
{
	vawserr_info info;
	vawserr_parse(rs, &info);
	int rc = vawserr_fill(err, service, operation, rs->status, &info);
	vawserr_info_free(&info);
	return rc;
}
