/* The request core end to end against a local HTTP stub: signing, the
 * three protocols, retries, error parsing, whoami. */
#include "aws/client.h"
#include "aws/sigv4.h"
#include "aws/sts.h"
#include "base/buf.h"
#include "base/xalloc.h"
#include "check.h"
#include "http_stub.h"
#include "test_env.h"
#include "vmie.h"

#include <ctype.h>
#include <signal.h>
#include <time.h>

#define AKID "AKIDEXAMPLE0TESTKEY1"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static http_stub *stub;

static const char *const sts_ok =
	"<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
	"2011-06-15/\"><GetCallerIdentityResult><UserId>AIDAEXAMPLE</UserId>"
	"<Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/"
	"tester</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>"
	"rid-ok</RequestId></ResponseMetadata></GetCallerIdentityResponse>";

static const char *const ec2_unavailable =
	"<Response><Errors><Error><Code>Unavailable</Code><Message>The server "
	"is overloaded</Message></Error></Errors><RequestID>rid-503"
	"</RequestID></Response>";

/* Sleeps are recorded, never taken. */
static long delays[16];
static int ndelays;

static void fake_sleep(void *ctx, long ms)
{
	(void)ctx;
	if (ndelays < 16)
		delays[ndelays] = ms;
	ndelays++;
}

/* Every log line, to check what is (and is not) logged. */
static vbuf logged;

static void on_log(void *ctx, vmie_log_level level, const char *msg)
{
	(void)ctx;
	vbuf_addf(&logged, "%s %s\n", vmie_log_level_name(level), msg);
}

static void env_for_stub(void)
{
	test_env_clear();
	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_REGION", "us-west-2", 1);
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/none-config", test_home);
	setenv("AWS_CONFIG_FILE", p, 1);
	snprintf(p, sizeof p, "%s/none-credentials", test_home);
	setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
	setenv("AWS_ENDPOINT_URL", http_stub_url(stub), 1);
	unsetenv("AWS_RETRY_MODE");
	http_stub_reset(stub);
	ndelays = 0;
}

static vaws_client *client(void)
{
	vaws_client *c = NULL;
	vmie_error err = {0};
	int rc = vaws_client_new(NULL, &c, &err);
	if (rc != 0)
		fprintf(stderr, "client: %s\n", err.message);
	CHECK_INT(rc, 0);
	vmie_error_clear(&err);
	if (c) {
		vaws_client_set_sleep(c, fake_sleep, NULL);
		vaws_client_set_seed(c, 12345);
	}
	return c;
}

static time_t amz_time(const char *d)
{
	struct tm tm = {0};
	if (!d || sscanf(d, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon,
			 &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* Re-sign what the stub received with our own signer: the Authorization
 * header must match, which proves that the request went out exactly as
 * it was signed (Host, path, body). */
static void check_signature(const http_stub_request *r, const char *service,
			    const char *extra_header)
{
	char *auth = http_stub_header(r, "Authorization");
	char *date = http_stub_header(r, "X-Amz-Date");
	char *host = http_stub_header(r, "Host");
	char *ctype = http_stub_header(r, "Content-Type");
	char *extra = extra_header ? http_stub_header(r, extra_header) : NULL;
	CHECK(auth && date && host);
	if (!auth || !date || !host)
		goto out;
	vbuf want = VBUF_INIT;
	vbuf_addf(&want, "AWS4-HMAC-SHA256 Credential=" AKID "/%.8s/us-west-2"
			 "/%s/aws4_request, SignedHeaders=",
		  date, service);
	CHECK(strncmp(auth, vbuf_str(&want), want.len) == 0);
	CHECK_CONTAINS(auth, "host;");
	CHECK_CONTAINS(auth, "x-amz-date");
	const char *sig = strstr(auth, "Signature=");
	CHECK(sig && strlen(sig + 10) == 64);
	for (const char *p = sig ? sig + 10 : ""; *p; p++)
		CHECK(isxdigit((unsigned char)*p) && !isupper((unsigned char)*p));
	vbuf_free(&want);

	vkv h = VKV_INIT;
	vkv_add(&h, "Host", host);
	if (ctype)
		vkv_add(&h, "Content-Type", ctype);
	if (extra)
		vkv_add(&h, extra_header, extra);
	vsigv4_params p = {0};
	p.key.access_key_id = AKID;
	p.key.secret_access_key = SECRET;
	p.region = "us-west-2";
	p.service = service;
	p.when = amz_time(date);
	p.normalize_path = true;
	p.double_encode_path = true;
	vsigv4_request rq = {r->method, "/", NULL, &h, r->body, r->body_len};
	vsigv4_result res = {0};
	CHECK_INT(vsigv4_sign_headers(&p, &rq, &res), 0);
	CHECK_STR(vbuf_str(&res.authorization), auth);
	vsigv4_result_free(&res);
	vkv_free(&h);
out:
	free(auth);
	free(date);
	free(host);
	free(ctype);
	free(extra);
}

static void test_query_ok(void)
{
	env_for_stub();
	http_stub_add(stub, "POST", "/", 200,
		      "Content-Type: text/xml\r\nx-amzn-RequestId: rid-ok\r\n",
		      sts_ok);
	vaws_client *c = client();
	if (!c)
		return;
	CHECK_STR(vaws_client_region(c), "us-west-2");
	CHECK_STR(vaws_client_region_source(c), "AWS_REGION");
	CHECK(vaws_client_creds_source(c) == NULL);
	char *acct = NULL, *arn = NULL, *uid = NULL;
	vmie_error err = {0};
	vbuf_reset(&logged);
	CHECK_INT(vsts_get_caller_identity(c, &acct, &arn, &uid, &err), 0);
	CHECK_STR(acct, "123456789012");
	CHECK_STR(arn, "arn:aws:iam::123456789012:user/tester");
	CHECK_STR(uid, "AIDAEXAMPLE");
	CHECK_STR(vaws_client_creds_source(c), "environment");
	CHECK_INT(http_stub_count(stub, "POST", "/"), 1);

	http_stub_request r;
	CHECK(http_stub_request_get(stub, 0, &r));
	CHECK_STR(r.body, "Action=GetCallerIdentity&Version=2011-06-15");
	char *ct = http_stub_header(&r, "Content-Type");
	CHECK_STR(ct, "application/x-www-form-urlencoded; charset=utf-8");
	free(ct);
	check_signature(&r, "sts", NULL);
	http_stub_request_free(&r);

	/* DEBUG lines say what happened and nothing secret. */
	CHECK_CONTAINS(vbuf_str(&logged), "sts GetCallerIdentity");
	CHECK_CONTAINS(vbuf_str(&logged), "attempt 1/3: HTTP 200");
	CHECK_CONTAINS(vbuf_str(&logged), "rid-ok");
	CHECK(!strstr(vbuf_str(&logged), SECRET));
	CHECK(!strstr(vbuf_str(&logged), "Signature="));
	CHECK(!strstr(vbuf_str(&logged), "Authorization"));
	free(acct);
	free(arn);
	free(uid);

	/* Parameters are form-encoded, RFC 3986, in order. */
	vkv params = VKV_INIT;
	vkv_add(&params, "Filters.1.Name", "task-state");
	vkv_add(&params, "Description", "a b&c=d/é~");
	vxml *doc = NULL;
	CHECK_INT(vaws_query(c, "ec2", "DescribeImportImageTasks",
			     "2016-11-15", &params, true, &doc, &err), 0);
	CHECK(doc != NULL);
	vxml_free(doc);
	CHECK(http_stub_request_get(stub, 1, &r));
	CHECK_STR(r.body, "Action=DescribeImportImageTasks&Version=2016-11-15"
			  "&Filters.1.Name=task-state"
			  "&Description=a%20b%26c%3Dd%2F%C3%A9~");
	check_signature(&r, "ec2", NULL);
	http_stub_request_free(&r);
	vkv_free(&params);
	vmie_error_clear(&err);
	vaws_client_free(c);
}

static void test_retries(void)
{
	vmie_error err = {0};
	char *acct = NULL;

	/* A 503 then success: two attempts, one short jittered sleep. */
	env_for_stub();
	http_stub_add(stub, "POST", "/", 503, NULL, ec2_unavailable);
	http_stub_add(stub, "POST", "/", 200, NULL, sts_ok);
	vaws_client *c = client();
	if (!c)
		return;
	CHECK_INT(vsts_get_caller_identity(c, &acct, NULL, NULL, &err), 0);
	CHECK_STR(acct, "123456789012");
	free(acct);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 2);
	CHECK_INT(ndelays, 1);
	CHECK(delays[0] >= 0 && delays[0] < 1000);
	vaws_client_free(c);

	/* Always 503: stops at AWS_MAX_ATTEMPTS and reports the last error. */
	env_for_stub();
	setenv("AWS_MAX_ATTEMPTS", "4", 1);
	http_stub_add(stub, "POST", "/", 503, "x-amzn-RequestId: h\r\n",
		      ec2_unavailable);
	c = client();
	vxml *doc = NULL;
	CHECK_INT(vaws_query(c, "ec2", "DescribeImages", "2016-11-15", NULL,
			     true, &doc, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK(doc == NULL);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 4);
	CHECK_INT(ndelays, 3);
	CHECK(delays[0] < 1000 && delays[1] < 2000 && delays[2] < 4000);
	CHECK_STR(err.aws_code, "Unavailable");
	CHECK_STR(err.request_id, "rid-503");
	CHECK_STR(err.service, "ec2");
	CHECK_STR(err.operation, "DescribeImages");
	CHECK_INT(err.http_status, 503);
	CHECK_CONTAINS(err.message, "after 4 attempts");
	vaws_client_free(c);
	unsetenv("AWS_MAX_ATTEMPTS");

	/* A 400 is the caller's problem: no retry. */
	env_for_stub();
	http_stub_add(stub, "POST", "/", 400, NULL,
		      "<Response><Errors><Error><Code>InvalidParameterValue"
		      "</Code><Message>bad</Message></Error></Errors>"
		      "<RequestID>r400</RequestID></Response>");
	c = client();
	CHECK_INT(vaws_query(c, "ec2", "DescribeImages", "2016-11-15", NULL,
			     true, &doc, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 1);
	CHECK_INT(ndelays, 0);
	CHECK_STR(err.aws_code, "InvalidParameterValue");

	/* Not safe to retry (no client token): a 503 is final. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 503, NULL, ec2_unavailable);
	CHECK_INT(vaws_query(c, "ec2", "RunInstances", "2016-11-15", NULL,
			     false, &doc, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 1);
	vaws_client_free(c);

	/* A throttled call is retried. */
	env_for_stub();
	http_stub_add(stub, "POST", "/", 400, NULL,
		      "<ErrorResponse><Error><Type>Sender</Type><Code>"
		      "Throttling</Code><Message>Rate exceeded</Message>"
		      "</Error><RequestId>t</RequestId></ErrorResponse>");
	http_stub_add(stub, "POST", "/", 200, NULL, sts_ok);
	c = client();
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err), 0);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 2);
	vaws_client_free(c);

	/* Nothing listening: connection failure, retried, then reported. */
	env_for_stub();
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	c = client();
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err),
		  VMIE_ERR_AWS_CONNECTION_FAILED);
	CHECK_CONTAINS(err.message, "127.0.0.1:9");
	CHECK_STR(err.operation, "GetCallerIdentity");
	CHECK(err.hint != NULL);
	CHECK_INT(ndelays, 1);
	vaws_client_free(c);
	unsetenv("AWS_MAX_ATTEMPTS");
	vmie_error_clear(&err);
}

static void test_json(void)
{
	env_for_stub();
	http_stub_add(stub, "POST", "/", 200,
		      "Content-Type: application/x-amz-json-1.1\r\n",
		      "{\"InstanceInformationList\":[{\"InstanceId\":"
		      "\"i-0123456789abcdef0\",\"PingStatus\":\"Online\"}]}");
	vaws_client *c = client();
	if (!c)
		return;
	json_t *body = json_pack("{s:[{s:s,s:[s]}]}", "Filters", "Key",
				 "InstanceIds", "Values", "i-0123456789abcdef0");
	json_t *out = NULL;
	vmie_error err = {0};
	CHECK_INT(vaws_json(c, "ssm", "AmazonSSM", "DescribeInstanceInformation",
			    body, true, &out, &err), 0);
	json_t *first = json_array_get(
		json_object_get(out, "InstanceInformationList"), 0);
	CHECK_STR(json_string_value(json_object_get(first, "PingStatus")),
		  "Online");
	json_decref(out);
	http_stub_request r;
	CHECK(http_stub_request_get(stub, 0, &r));
	char *tgt = http_stub_header(&r, "X-Amz-Target");
	char *ct = http_stub_header(&r, "Content-Type");
	CHECK_STR(tgt, "AmazonSSM.DescribeInstanceInformation");
	CHECK_STR(ct, "application/x-amz-json-1.1");
	CHECK_STR(r.body, "{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":"
			  "[\"i-0123456789abcdef0\"]}]}");
	char *auth = http_stub_header(&r, "Authorization");
	CHECK_CONTAINS(auth, "/us-west-2/ssm/aws4_request");
	CHECK_CONTAINS(auth, "SignedHeaders=content-type;host;x-amz-date;"
			     "x-amz-target,");
	check_signature(&r, "ssm", "X-Amz-Target");
	free(auth);
	free(tgt);
	free(ct);
	http_stub_request_free(&r);

	/* Its error shape. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 400,
		      "Content-Type: application/x-amz-json-1.1\r\n"
		      "x-amzn-RequestId: ssm-rid-1\r\n",
		      "{\"__type\":\"InvocationDoesNotExist\",\"message\":"
		      "\"no such invocation\"}");
	CHECK_INT(vaws_json(c, "ssm", "AmazonSSM", "GetCommandInvocation",
			    body, true, &out, &err),
		  VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK(out == NULL);
	CHECK_STR(err.aws_code, "InvocationDoesNotExist");
	CHECK_STR(err.request_id, "ssm-rid-1");
	CHECK_STR(err.service, "ssm");
	CHECK_INT(err.http_status, 400);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 1);

	/* A 200 that is not JSON. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL, "<html>portal</html>");
	CHECK_INT(vaws_json(c, "ssm", "AmazonSSM", "SendCommand", NULL, false,
			    &out, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_CONTAINS(err.message, "not readable JSON");
	http_stub_request_get(stub, 0, &r);
	CHECK_STR(r.body, "{}");
	http_stub_request_free(&r);
	json_decref(body);
	vmie_error_clear(&err);
	vaws_client_free(c);
}

static void test_rest(void)
{
	env_for_stub();
	http_stub_add(stub, "PUT", "/bkt/dir/a%20b.raw", 200,
		      "ETag: \"abc\"\r\n", NULL);
	http_stub_add(stub, "HEAD", "/bkt/missing", 404,
		      "x-amz-request-id: head-rid\r\n", NULL);
	vaws_client *c = client();
	if (!c)
		return;
	vmie_error err = {0};
	vhttp_response rs = {0};
	vkv q = VKV_INIT;
	vkv_add(&q, "partNumber", "1");
	vkv_add(&q, "uploadId", "u/1=");
	vaws_rest_request rq = {0};
	rq.operation = "UploadPart";
	rq.method = "PUT";
	rq.bucket = "bkt";
	rq.key = "dir/a b.raw";
	rq.query = &q;
	rq.body = "hello";
	rq.body_len = 5;
	CHECK_INT(vaws_rest(c, &rq, &rs, &err), 0);
	CHECK_INT(rs.status, 200);
	CHECK_STR(vkv_get_ci(&rs.headers, "ETag"), "\"abc\"");
	http_stub_request r;
	CHECK(http_stub_request_get(stub, 0, &r));
	CHECK_STR(r.target, "/bkt/dir/a%20b.raw?partNumber=1&uploadId=u%2F1%3D");
	CHECK_STR(r.body, "hello");
	char *sha = http_stub_header(&r, "x-amz-content-sha256");
	CHECK_STR(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	char *auth = http_stub_header(&r, "Authorization");
	CHECK_CONTAINS(auth, "/us-west-2/s3/aws4_request");
	CHECK_CONTAINS(auth, "x-amz-content-sha256");
	free(sha);
	free(auth);
	http_stub_request_free(&r);

	/* HEAD of a missing key: the status is the answer. */
	rq = (vaws_rest_request){0};
	rq.operation = "HeadObject";
	rq.method = "HEAD";
	rq.bucket = "bkt";
	rq.key = "missing";
	rq.payload_hash = VSIGV4_UNSIGNED_PAYLOAD;
	CHECK_INT(vaws_rest(c, &rq, &rs, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(rs.status, 404);
	CHECK_STR(err.aws_code, "NotFound");
	CHECK_STR(err.request_id, "head-rid");
	CHECK_INT(http_stub_count(stub, "HEAD", "/bkt/missing"), 1);
	CHECK(http_stub_request_get(stub, 1, &r));
	sha = http_stub_header(&r, "x-amz-content-sha256");
	CHECK_STR(sha, "UNSIGNED-PAYLOAD");
	free(sha);
	http_stub_request_free(&r);

	/* POST is retried only when the caller says so. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/bkt/k", 500, NULL,
		      "<Error><Code>InternalError</Code><Message>x</Message>"
		      "</Error>");
	rq = (vaws_rest_request){0};
	rq.operation = "CompleteMultipartUpload";
	rq.method = "POST";
	rq.bucket = "bkt";
	rq.key = "k";
	CHECK_INT(vaws_rest(c, &rq, &rs, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 1);
	rq.safe_to_retry = true;
	CHECK_INT(vaws_rest(c, &rq, &rs, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 4);
	CHECK_STR(err.aws_code, "InternalError");

	vhttp_response_free(&rs);
	vkv_free(&q);
	vmie_error_clear(&err);
	vaws_client_free(c);
}

static void test_errors(void)
{
	vmie_error err = {0};
	vaws_client *c = NULL;

	/* No credentials anywhere. */
	env_for_stub();
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	c = client();
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 0);
	vaws_client_free(c);

	/* Bad settings fail at construction, naming the setting. */
	env_for_stub();
	setenv("AWS_MAX_ATTEMPTS", "zero", 1);
	CHECK_INT(vaws_client_new(NULL, &c, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK(c == NULL);
	CHECK_CONTAINS(err.message, "AWS_MAX_ATTEMPTS");
	unsetenv("AWS_MAX_ATTEMPTS");
	setenv("AWS_RETRY_MODE", "turbo", 1);
	CHECK_INT(vaws_client_new(NULL, &c, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	unsetenv("AWS_RETRY_MODE");
	setenv("AWS_ENDPOINT_URL", "http://user:pw@127.0.0.1:1", 1);
	CHECK_INT(vaws_client_new(NULL, &c, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_REGION");
	CHECK_INT(vaws_client_new(NULL, &c, &err),
		  VMIE_ERR_AWS_REGION_NOT_FOUND);
	env_for_stub();
	setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem", 1);
	CHECK_INT(vaws_client_new(NULL, &c, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "/nonexistent/ca.pem");
	unsetenv("AWS_CA_BUNDLE");

	/* A wrong clock: the Date header says by how much. */
	env_for_stub();
	http_stub_add(stub, "POST", "/", 403,
		      "Date: Mon, 01 Jan 2001 00:00:00 GMT\r\n",
		      "<ErrorResponse><Error><Type>Sender</Type><Code>"
		      "SignatureDoesNotMatch</Code><Message>The request "
		      "signature we calculated does not match</Message>"
		      "</Error><RequestId>sk</RequestId></ErrorResponse>");
	c = client();
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err),
		  VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_STR(err.aws_code, "SignatureDoesNotMatch");
	CHECK_CONTAINS(err.hint, "clock");
	CHECK_CONTAINS(err.hint, "ahead of AWS");
	CHECK(!strstr(err.message, SECRET) && !strstr(err.hint, SECRET));
	vaws_client_free(c);

	/* A proxy's page instead of AWS. */
	env_for_stub();
	http_stub_add(stub, "POST", "/", 407, "Content-Type: text/html\r\n",
		      "<html><body><h1>Proxy Authentication Required</h1>"
		      "</body></html>");
	c = client();
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err),
		  VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_CONTAINS(err.message, "HTTP 407");
	CHECK_CONTAINS(err.message, "Proxy Authentication Required");
	CHECK_INT(err.http_status, 407);
	vaws_client_free(c);
	vmie_error_clear(&err);
}

static void test_whoami(void)
{
	env_for_stub();
	http_stub_add(stub, "POST", "/", 200, NULL, sts_ok);
	vmie_identity id;
	vmie_error err = {0};
	CHECK_INT(vmie_whoami(NULL, &id, &err), 0);
	CHECK_STR(id.account, "123456789012");
	CHECK_STR(id.arn, "arn:aws:iam::123456789012:user/tester");
	CHECK_STR(id.user_id, "AIDAEXAMPLE");
	CHECK_STR(id.region, "us-west-2");
	CHECK_STR(id.region_source, "AWS_REGION");
	CHECK_STR(id.endpoint, http_stub_url(stub));
	CHECK_STR(id.credential_source, "environment");
	vmie_identity_free(&id);

	/* --region and --endpoint-url win. */
	vmie_aws_opts o = {.region = "eu-west-1", .endpoint_url = http_stub_url(stub)};
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	CHECK_INT(vmie_whoami(&o, &id, &err), 0);
	CHECK_STR(id.region, "eu-west-1");
	CHECK_STR(id.region_source, "--region");
	vmie_identity_free(&id);

	/* Failures keep what was resolved. */
	env_for_stub();
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK_INT(vmie_whoami(NULL, &id, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_STR(id.region, "us-west-2");
	CHECK(id.account == NULL);
	vmie_identity_free(&id);
	unsetenv("AWS_REGION");
	CHECK_INT(vmie_whoami(NULL, &id, &err), VMIE_ERR_AWS_REGION_NOT_FOUND);
	vmie_identity_free(&id);
	vmie_error_clear(&err);
}

/* A stop flag the fake sleep raises after a number of sleeps. */
static volatile sig_atomic_t stop_flag;
static int stop_after;

static void stopping_sleep(void *ctx, long ms)
{
	fake_sleep(ctx, ms);
	if (stop_after && ndelays >= stop_after)
		stop_flag = 1;
}

/* The outage window: after the standard policy's attempts, a transient
 * failure is retried (with a warning) while the window lasts; never a
 * 4xx; Ctrl-C ends the wait; a call made after Ctrl-C gets no window. */
static void test_outage_window(void)
{
	vmie_error err = {0};
	env_for_stub();
	setenv("VMIE_OUTAGE_WINDOW", "60", 1);
	for (int i = 0; i < 6; i++)
		http_stub_add(stub, "POST", "/", 503, NULL, ec2_unavailable);
	http_stub_add(stub, "POST", "/", 200, NULL, sts_ok);
	vaws_client *c = client();
	if (!c)
		return;
	CHECK_INT(vaws_client_outage_window_ms(c), 60000);
	vbuf_reset(&logged);
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err), 0);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 7);
	CHECK_CONTAINS(vbuf_str(&logged), "WARN waiting for STS (HTTP 503 Unavailable), "
		       "retry 1 in ");
	CHECK_CONTAINS(vbuf_str(&logged), "vmie keeps trying for up to 60 s");
	CHECK_CONTAINS(vbuf_str(&logged), "STS answers again");
	CHECK(!vaws_client_failed_transient(c));
	vaws_client_free(c);

	/* A 4xx that is not throttling: no window. */
	env_for_stub();
	http_stub_add(stub, "POST", "/", 403, NULL,
		      "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no"
		      "</Message></Error><RequestId>r</RequestId></ErrorResponse>");
	c = client();
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err),
		  VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 1);
	CHECK(!vaws_client_failed_transient(c));
	vmie_error_clear(&err);

	/* Ctrl-C during the wait ends it. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 503, NULL, ec2_unavailable);
	stop_flag = 0;
	stop_after = 5;
	vaws_client_set_cancel(c, &stop_flag);
	vaws_client_set_sleep(c, stopping_sleep, NULL);
	ndelays = 0;
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err), VMIE_ERR_INTERRUPTED);
	CHECK_CONTAINS(err.message, "interrupted while waiting for STS");
	vmie_error_clear(&err);
	/* A cleanup call after it: the policy's 3 attempts, no window. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 503, NULL, ec2_unavailable);
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err),
		  VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 3);
	CHECK(vaws_client_failed_transient(c));
	vmie_error_clear(&err);
	vaws_client_free(c);

	/* A bad setting is refused, naming where it came from. */
	setenv("VMIE_OUTAGE_WINDOW", "soon", 1);
	vaws_client *bad = NULL;
	CHECK_INT(vaws_client_new(NULL, &bad, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "VMIE_OUTAGE_WINDOW");
	vmie_error_clear(&err);
	vmie_aws_opts o = {.outage_window = "-5"};
	CHECK_INT(vaws_client_new(&o, &bad, &err), VMIE_ERR_INVALID_ARGUMENT);
	CHECK_CONTAINS(err.message, "--outage-window");
	vmie_error_clear(&err);
	CHECK_INT(vaws_parse_outage_window("90s"), 90000);
	CHECK_INT(vaws_parse_outage_window("10m"), 600000);
	CHECK_INT(vaws_parse_outage_window("1.5h"), 5400000);
	CHECK_INT(vaws_parse_outage_window("0"), 0);
	CHECK_INT(vaws_parse_outage_window("8d"), -1);
	setenv("VMIE_OUTAGE_WINDOW", "0", 1);
}

/* AWS calls the session expired before its time: the credentials are
 * renewed and the request sent again, at once and only once. */
static void test_expired_token(void)
{
	env_for_stub();
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	char url[128], creds[256], when[32];
	snprintf(url, sizeof url, "%s/creds", http_stub_url(stub));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	time_t later = time(NULL) + 3600;
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&later));
	snprintf(creds, sizeof creds,
		 "{\"AccessKeyId\":\"" AKID "\",\"SecretAccessKey\":\"" SECRET
		 "\",\"Token\":\"tok\",\"Expiration\":\"%s\"}",
		 when);
	http_stub_add(stub, "GET", "/creds", 200, NULL, creds);
	static const char expired[] =
		"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken"
		"</Code><Message>The security token included in the request is "
		"expired</Message></Error><RequestId>rid-x</RequestId>"
		"</ErrorResponse>";
	http_stub_add(stub, "POST", "/", 403, NULL, expired);
	http_stub_add(stub, "POST", "/", 200, NULL, sts_ok);
	vaws_client *c = client();
	vmie_error err = {0};
	char *acct = NULL;
	CHECK_INT(vsts_get_caller_identity(c, &acct, NULL, NULL, &err), 0);
	CHECK_STR(acct, "123456789012");
	free(acct);
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 2);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 2);
	CHECK_INT(ndelays, 0);
	/* An engine's renewal (vaws_client_renew_credentials) is honoured
	 * by the next signature. */
	vaws_client_renew_credentials(c);
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err), 0);
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 3);
	vaws_client_free(c);

	/* Refused again after the renewal: the error, not a loop. */
	http_stub_reset(stub);
	http_stub_add(stub, "GET", "/creds", 200, NULL, creds);
	http_stub_add(stub, "POST", "/", 403, NULL, expired);
	c = client();
	CHECK_INT(vsts_get_caller_identity(c, NULL, NULL, NULL, &err),
		  VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_STR(err.aws_code, "ExpiredToken");
	CHECK_INT(http_stub_count(stub, "POST", "/"), 2);
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 2);
	vaws_client_free(c);
	vmie_error_clear(&err);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

int main(void)
{
	(void)test_write; /* shared helpers this file does not need */
	(void)test_unlink;
	test_env_init();
	stub = http_stub_start();
	if (!stub) {
		fprintf(stderr, "cannot start the HTTP stub\n");
		return 2;
	}
	vmie_set_log_handler(on_log, NULL);
	test_query_ok();
	test_retries();
	test_outage_window();
	test_json();
	test_rest();
	test_errors();
	test_whoami();
	test_expired_token();
	vmie_set_log_handler(NULL, NULL);
	vbuf_free(&logged);
	http_stub_stop(stub);
	test_env_cleanup();
	return check_done("client");
}
