/* Helpers for the typed AWS call tests (aws_test_util.h). */
#include "aws_test_util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void awst_isolate_env(void)
{
	static const char *const vars[] = {"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_RETRY_MODE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("AWS_CONFIG_FILE", "/nonexistent/vmie-test/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/vmie-test/credentials", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

vaws_client *awst_client(http_stub *stub, const char *region)
{
	vaws_client *c = NULL;
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE0TESTKEY1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_REGION", region, 1);
	setenv("AWS_ENDPOINT_URL", http_stub_url(stub), 1);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	if (vaws_client_new(NULL, &c, NULL) != 0)
		return NULL;
	return c;
}

/* Calls fn(key, value, ctx) for each decoded pair of the form body. */
static void each_pair(http_stub *stub, size_t i,
		      void (*fn)(const char *, const char *, void *), void *ctx)
{
	http_stub_request rq;
	if (!http_stub_request_get(stub, i, &rq))
		return;
	char *save = NULL;
	for (char *kv = strtok_r(rq.body, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			continue;
		*eq = '\0';
		int n = 0;
		char *k = curl_easy_unescape(NULL, kv, 0, &n);
		char *v = curl_easy_unescape(NULL, eq + 1, 0, &n);
		fn(k, v, ctx);
		curl_free(k);
		curl_free(v);
	}
	http_stub_request_free(&rq);
}

struct find_ctx {
	const char *key;
	char *value;
};

static void find_fn(const char *k, const char *v, void *ctx)
{
	struct find_ctx *f = ctx;
	if (!f->value && strcmp(k, f->key) == 0)
		f->value = strdup(v);
}

char *awst_form(http_stub *stub, size_t i, const char *key)
{
	struct find_ctx f = {key, NULL};
	each_pair(stub, i, find_fn, &f);
	return f.value;
}

static void count_fn(const char *k, const char *v, void *ctx)
{
	(void)k;
	(void)v;
	(*(size_t *)ctx)++;
}

size_t awst_form_count(http_stub *stub, size_t i)
{
	size_t n = 0;
	each_pair(stub, i, count_fn, &n);
	return n;
}

json_t *awst_json(http_stub *stub, size_t i)
{
	http_stub_request rq;
	if (!http_stub_request_get(stub, i, &rq))
		return NULL;
	json_t *j = json_loadb(rq.body, rq.body_len, 0, NULL);
	http_stub_request_free(&rq);
	return j;
}

char *awst_header(http_stub *stub, size_t i, const char *name)
{
	http_stub_request rq;
	if (!http_stub_request_get(stub, i, &rq))
		return NULL;
	char *v = http_stub_header(&rq, name);
	http_stub_request_free(&rq);
	return v;
}

void awst_answer(http_stub *stub, int status, const char *headers,
		 const char *body)
{
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", status, headers, body);
}

const char *awst_ec2_error(const char *code)
{
	static char buf[512];
	snprintf(buf, sizeof(buf),
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
		 "<Code>%s</Code><Message>about %s: the thing '%s' does not exist"
		 "</Message></Error></Errors><RequestID>req-9</RequestID></Response>",
		 code, code, code);
	return buf;
}
