/* The credential chain and every provider, against a local HTTP stub. */
#include "aws/config.h"
#include "aws/creds.h"
#include "aws/creds_internal.h"
#include "aws/http.h"
#include "base/buf.h"
#include "base/isotime.h"
#include "base/xalloc.h"
#include "check.h"
#include "http_stub.h"
#include "test_env.h"
#include "vmie.h"

#include <sys/stat.h>
#include <time.h>

static vhttp *http;
static http_stub *stub;
static vaws_endpoint sts_ep; /* the stub, as STS */

/* The clock the chains read: real time plus what a test adds. */
static long clock_shift;
static time_t test_now(void)
{
	return time(NULL) + clock_shift;
}

/* Answers for the MFA prompt, one per question; NULL: "no terminal". */
static const char *prompt_answers[4];
static int prompts_asked;
static int test_prompt(void *ctx, const char *question, char *answer,
		       size_t size, const char **why)
{
	(void)ctx;
	(void)question;
	const char *a = prompts_asked < 4 ? prompt_answers[prompts_asked] : NULL;
	prompts_asked++;
	if (!a) {
		*why = "no terminal (test)";
		return -1;
	}
	if (strcmp(a, "^C") == 0) {
		*why = "interrupted";
		return -2;
	}
	snprintf(answer, size, "%s", a);
	return 0;
}

static vaws_creds_chain *new_chain(const vaws_config *cfg)
{
	vaws_creds_opts o = {
		.cfg = cfg,
		.http = http,
		.sts = &sts_ep,
		.endpoint_flag = http_stub_url(stub),
		.prompt = test_prompt,
	};
	vaws_creds_chain *ch = vaws_creds_chain_new(&o);
	vaws_creds_chain_set_clock(ch, test_now);
	return ch;
}

/* Load the config for profile, run the chain once: status, and the
 * credentials copied into *out (caller frees). */
static int chain_get(const char *profile, vaws_creds *out, vmie_error *err)
{
	vaws_config cfg;
	memset(out, 0, sizeof(*out));
	int rc = vaws_config_load(&cfg, profile, err);
	if (rc)
		return rc;
	vaws_creds_chain *ch = new_chain(&cfg);
	const vaws_creds *c;
	rc = vaws_creds_get(ch, &c, err);
	if (rc == 0) {
		out->access_key_id = xstrdup(c->access_key_id);
		out->secret_access_key = xstrdup(c->secret_access_key);
		out->session_token = xstrdup(c->session_token);
		out->account_id = xstrdup(c->account_id);
		out->expiration = c->expiration;
		out->source = c->source;
		out->chain = xstrdup(c->chain);
	}
	vaws_creds_chain_free(ch);
	vaws_config_free(&cfg);
	return rc;
}

static const char *data_dir(void)
{
	const char *d = getenv("VMIE_TEST_DATA");
	return d ? d : "tests/unit/data";
}

static void test_isotime(void)
{
	time_t t;
	CHECK_INT(visotime_parse("2020-11-05T02:02:26Z", &t), 0);
	CHECK_INT(t, 1604541746);
	CHECK_INT(visotime_parse("2020-11-05T02:02:26.123456Z", &t), 0);
	CHECK_INT(t, 1604541746);
	CHECK_INT(visotime_parse("2020-11-05T02:02:26+00:00", &t), 0);
	CHECK_INT(t, 1604541746);
	CHECK_INT(visotime_parse("2020-11-05T04:02:26+02:00", &t), 0);
	CHECK_INT(t, 1604541746);
	CHECK_INT(visotime_parse("1970-01-01T00:00:00Z", &t), 0);
	CHECK_INT(t, 0);
	CHECK_INT(visotime_parse("2024-02-29T00:00:00Z", &t), 0);
	CHECK_INT(visotime_parse("2023-02-29T00:00:00Z", &t), -1);
	CHECK_INT(visotime_parse("2020-11-05T02:02:26", &t), -1);
	CHECK_INT(visotime_parse("2020-11-05 02:02", &t), -1);
	CHECK_INT(visotime_parse("2020-13-05T02:02:26Z", &t), -1);
	CHECK_INT(visotime_parse("2020-11-05T02:02:26Zjunk", &t), -1);
	CHECK_INT(visotime_parse("2020-11-05T02:02:26.Z", &t), -1);
	CHECK_INT(visotime_parse("", &t), -1);
	CHECK_INT(visotime_parse(NULL, &t), -1);
	char buf[VISOTIME_LEN];
	visotime_format(1604541746, buf);
	CHECK_STR(buf, "2020-11-05T02:02:26Z");
}

static void test_shell_split(void)
{
	char **v;
	CHECK_INT(vaws_shell_split("a  'b c' \"d \\\"e\\\"\" f\\ g h''i", &v),
		  5);
	CHECK_STR(v[0], "a");
	CHECK_STR(v[1], "b c");
	CHECK_STR(v[2], "d \"e\"");
	CHECK_STR(v[3], "f g");
	CHECK_STR(v[4], "hi");
	CHECK(v[5] == NULL);
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
	CHECK_INT(vaws_shell_split("'unterminated", &v), -1);
	CHECK_INT(vaws_shell_split("\"unterminated\\\"", &v), -1);
	CHECK_INT(vaws_shell_split("   ", &v), -1);
	CHECK(v == NULL);
}

static void test_env_provider(void)
{
	test_env_clear();
	vaws_creds c;
	vmie_error err = {0};
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SECURITY_TOKEN", "legacy", 1);
	setenv("AWS_ACCOUNT_ID", "123456789012", 1);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "environment");
	CHECK_STR(c.access_key_id, "AKIDENV");
	CHECK_STR(c.secret_access_key, "envsecret");
	CHECK_STR(c.session_token, "legacy");
	CHECK_STR(c.account_id, "123456789012");
	CHECK_INT(c.expiration, 0);
	vaws_creds_free(&c);
	CHECK(c.access_key_id == NULL && c.secret_access_key == NULL);

	setenv("AWS_SESSION_TOKEN", "current", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", "2099-01-01T00:00:00Z", 1);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.session_token, "current");
	CHECK_INT(c.expiration, 4070908800);
	vaws_creds_free(&c);

	setenv("AWS_CREDENTIAL_EXPIRATION", "tomorrow", 1);
	CHECK_INT(chain_get(NULL, &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "AWS_CREDENTIAL_EXPIRATION");
	unsetenv("AWS_CREDENTIAL_EXPIRATION");

	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK_INT(chain_get(NULL, &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_STR(err.message, "the environment sets AWS_ACCESS_KEY_ID but "
			       "not AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", "x", 1);
	CHECK_INT(chain_get(NULL, &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "not AWS_ACCESS_KEY_ID");
	vmie_error_clear(&err);
	test_env_clear();
}

static void test_files_and_order(void)
{
	test_env_clear();
	vaws_creds c;
	vmie_error err = {0};
	char cfgtext[4096];
	snprintf(cfgtext, sizeof cfgtext,
		 "[default]\n"
		 "aws_access_key_id = AKIDCONFIG\n"
		 "aws_secret_access_key = configsecret\n"
		 "[profile proc]\n"
		 "credential_process = '%s/creds/process.sh' ok "
		 "\"secret with spaces\"\n"
		 "aws_access_key_id = AKIDCONFIGPROC\n"
		 "aws_secret_access_key = x\n"
		 "[profile fail]\n"
		 "credential_process = %s/creds/process.sh fail\n"
		 "[profile version]\n"
		 "credential_process = %s/creds/process.sh version\n"
		 "[profile garbage]\n"
		 "credential_process = %s/creds/process.sh garbage\n"
		 "[profile partial]\n"
		 "credential_process = %s/creds/process.sh partial\n"
		 "[profile big]\n"
		 "credential_process = %s/creds/process.sh big\n"
		 "[profile missing]\n"
		 "credential_process = /nonexistent/helper\n"
		 "[profile halfkey]\n"
		 "aws_secret_access_key = only\n"
		 "[profile login]\n"
		 "login_session = arn:aws:iam::123456789012:user/u\n",
		 data_dir(), data_dir(), data_dir(), data_dir(), data_dir(),
		 data_dir());
	test_write(".aws/config", cfgtext);
	test_write(".aws/credentials",
		   "[default]\n"
		   "aws_access_key_id = AKIDSHARED\n"
		   "aws_secret_access_key = sharedsecret\n"
		   "aws_session_token = sharedtoken\n"
		   "[proc]\n");

	/* env beats the files */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "environment");
	vaws_creds_free(&c);
	/* AWS_PROFILE alone keeps env first... */
	setenv("AWS_PROFILE", "proc", 1);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "environment");
	vaws_creds_free(&c);
	unsetenv("AWS_PROFILE");
	/* ...--profile skips it */
	CHECK_INT(chain_get("default", &c, &err), 0);
	CHECK_STR(c.source, "shared-credentials-file");
	CHECK_STR(c.access_key_id, "AKIDSHARED");
	CHECK_STR(c.secret_access_key, "sharedsecret");
	CHECK_STR(c.session_token, "sharedtoken");
	vaws_creds_free(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	/* credential_process beats static keys in the config file */
	CHECK_INT(chain_get("proc", &c, &err), 0);
	CHECK_STR(c.source, "credential-process");
	CHECK_STR(c.access_key_id, "AKIDPROCESS");
	CHECK_STR(c.secret_access_key, "secret with spaces");
	CHECK_STR(c.session_token, "tok");
	CHECK_STR(c.account_id, "111122223333");
	CHECK_INT(c.expiration, 4070908800);
	vaws_creds_free(&c);

	/* the shared file beats the config file */
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "shared-credentials-file");
	vaws_creds_free(&c);
	test_write(".aws/credentials", "[other]\n");
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "config-file");
	CHECK_STR(c.access_key_id, "AKIDCONFIG");
	CHECK(c.session_token == NULL);
	vaws_creds_free(&c);

	/* failing processes are errors, not misses */
	CHECK_INT(chain_get("fail", &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "exited with status 3");
	CHECK_CONTAINS(err.message, "token expired; run aws sso login");
	CHECK_INT(chain_get("version", &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_STR(err.message, "Unsupported version '2' for credential "
			       "process provider, supported versions: 1");
	CHECK_INT(chain_get("garbage", &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "not JSON");
	CHECK_INT(chain_get("partial", &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "SecretAccessKey");
	CHECK_INT(chain_get("big", &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "more than 65536 bytes");
	CHECK_INT(chain_get("missing", &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "/nonexistent/helper");

	/* half a key pair in a file */
	CHECK_INT(chain_get("halfkey", &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "sets aws_secret_access_key but not "
				    "aws_access_key_id");
	/* profile kinds vmie does not carry are named, not skipped */
	CHECK_INT(chain_get("login", &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "`aws login`");
	vmie_error_clear(&err);
	test_env_clear();
}

static void test_not_found(void)
{
	test_env_clear();
	test_unlink(".aws/config");
	test_unlink(".aws/credentials");
	vaws_creds c;
	vmie_error err = {0};
	CHECK_INT(chain_get(NULL, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "no AWS credentials found; looked in: "
				    "environment (AWS_ACCESS_KEY_ID), "
				    "web identity (AWS_WEB_IDENTITY_TOKEN_FILE), "
				    "shared credentials file (");
	CHECK_CONTAINS(err.message, "/.aws/credentials [profile default]), "
				    "credential_process (not set), "
				    "config file (");
	CHECK_CONTAINS(err.message, "container (AWS_CONTAINER_CREDENTIALS_*), "
				    "instance metadata (disabled by "
				    "AWS_EC2_METADATA_DISABLED)");
	CHECK_CONTAINS(err.hint, "aws configure");
	CHECK_CONTAINS(err.hint, "AWS_PROFILE");

	/* IMDS enabled but nothing listening: a miss with the reason, fast */
	http_stub *dead = http_stub_start();
	char url[64];
	snprintf(url, sizeof url, "%s", http_stub_url(dead));
	http_stub_stop(dead);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	time_t t0 = time(NULL);
	CHECK_INT(chain_get(NULL, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK(time(NULL) - t0 <= 3);
	CHECK_CONTAINS(err.message, "instance metadata (http://127.0.0.1:");
	CHECK_CONTAINS(err.message, "not reachable");
	vmie_error_clear(&err);
	test_env_clear();
}

static char *stub_request_header(size_t i, const char *name)
{
	http_stub_request r;
	if (!http_stub_request_get(stub, i, &r))
		return NULL;
	char *v = http_stub_header(&r, name);
	http_stub_request_free(&r);
	return v;
}

static void test_web_identity(void)
{
	test_env_clear();
	test_unlink(".aws/config");
	test_unlink(".aws/credentials");
	http_stub_reset(stub);
	vaws_creds c;
	vmie_error err = {0};
	const char ok[] =
		"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
		"<AssumeRoleWithWebIdentityResult>"
		"<AssumedRoleUser><Arn>arn:aws:sts::210987654321:assumed-role/r/s</Arn>"
		"<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>"
		"<Credentials><AccessKeyId>ASIAWEBID</AccessKeyId>"
		"<SecretAccessKey>websecret</SecretAccessKey>"
		"<SessionToken>webtoken</SessionToken>"
		"<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
		"</AssumeRoleWithWebIdentityResult>"
		"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
		"</AssumeRoleWithWebIdentityResponse>";
	http_stub_add(stub, "POST", "/", 200, "Content-Type: text/xml\r\n", ok);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE",
	       test_write("oidc-token", "eyJ.token+/=\n"), 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::210987654321:role/r", 1);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "web-identity");
	CHECK_STR(c.access_key_id, "ASIAWEBID");
	CHECK_STR(c.secret_access_key, "websecret");
	CHECK_STR(c.session_token, "webtoken");
	CHECK_STR(c.account_id, "210987654321");
	CHECK_INT(c.expiration, 4070908800);
	vaws_creds_free(&c);
	http_stub_request r;
	CHECK(http_stub_request_get(stub, 0, &r));
	CHECK_STR(r.method, "POST");
	CHECK_CONTAINS(r.body, "Action=AssumeRoleWithWebIdentity&"
			       "Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%"
			       "3A210987654321%3Arole%2Fr&RoleSessionName="
			       "vmie-session-");
	CHECK_CONTAINS(r.body, "&WebIdentityToken=eyJ.token%2B%2F%3D");
	char *auth = http_stub_header(&r, "Authorization");
	CHECK(auth == NULL); /* unsigned */
	free(auth);
	char *ct = http_stub_header(&r, "Content-Type");
	CHECK_CONTAINS(ct, "application/x-www-form-urlencoded");
	free(ct);
	http_stub_request_free(&r);

	/* session name from the environment */
	setenv("AWS_ROLE_SESSION_NAME", "my-session", 1);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	vaws_creds_free(&c);
	CHECK(http_stub_request_get(stub, 1, &r));
	CHECK_CONTAINS(r.body, "&RoleSessionName=my-session&");
	http_stub_request_free(&r);

	/* an STS error shows its Code and Message */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 400, "Content-Type: text/xml\r\n",
		      "<ErrorResponse><Error><Type>Sender</Type>"
		      "<Code>InvalidIdentityToken</Code>"
		      "<Message>Couldn't retrieve verification key</Message>"
		      "</Error><RequestId>req-9</RequestId></ErrorResponse>");
	CHECK_INT(chain_get(NULL, &c, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_CONTAINS(err.message, "InvalidIdentityToken: Couldn't retrieve "
				    "verification key");
	CHECK_STR(err.aws_code, "InvalidIdentityToken");
	CHECK_STR(err.request_id, "req-9");
	CHECK_INT(err.http_status, 400);

	/* token file without a role */
	unsetenv("AWS_ROLE_ARN");
	CHECK_INT(chain_get(NULL, &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "no role ARN");

	/* the profile's keys, and web identity beats the files */
	test_env_clear();
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL, ok);
	char cfg[PATH_MAX + 512];
	snprintf(cfg, sizeof cfg,
		 "[profile wi]\n"
		 "web_identity_token_file = %s/oidc-token\n"
		 "role_arn = arn:aws:iam::210987654321:role/r\n"
		 "role_session_name = from-profile\n"
		 "aws_access_key_id = AKIDCONFIG\n"
		 "aws_secret_access_key = s\n",
		 test_home);
	test_write(".aws/config", cfg);
	CHECK_INT(chain_get("wi", &c, &err), 0);
	CHECK_STR(c.source, "web-identity");
	vaws_creds_free(&c);
	CHECK(http_stub_request_get(stub, 0, &r));
	CHECK_CONTAINS(r.body, "RoleSessionName=from-profile");
	http_stub_request_free(&r);
	test_unlink(".aws/config");
	test_unlink("oidc-token");
	vmie_error_clear(&err);
	test_env_clear();
}

static const char container_json[] =
	"{\"AccessKeyId\":\"ASIACONT\",\"SecretAccessKey\":\"contsecret\","
	"\"Token\":\"conttoken\",\"Expiration\":\"2099-01-01T00:00:00Z\","
	"\"AccountId\":\"444455556666\"}";

static void test_container(void)
{
	test_env_clear();
	http_stub_reset(stub);
	vaws_creds c;
	vmie_error err = {0};
	char url[128];
	snprintf(url, sizeof url, "%s/v1/creds?id=1", http_stub_url(stub));
	http_stub_add(stub, "GET", "/v1/creds", 200, NULL, container_json);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-env", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	       test_write("pod-token", "from-file\n"), 1);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "container");
	CHECK_STR(c.access_key_id, "ASIACONT");
	CHECK_STR(c.session_token, "conttoken");
	CHECK_STR(c.account_id, "444455556666");
	vaws_creds_free(&c);
	char *auth = stub_request_header(0, "Authorization");
	CHECK_STR(auth, "from-file"); /* the file wins */
	free(auth);
	char *acc = stub_request_header(0, "Accept");
	CHECK_STR(acc, "application/json");
	free(acc);

	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	vaws_creds_free(&c);
	auth = stub_request_header(1, "Authorization");
	CHECK_STR(auth, "from-env");
	free(auth);

	/* header injection */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Evil: 1", 1);
	CHECK_INT(chain_get(NULL, &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "line break");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");

	/* plain http off this host is refused */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/c", 1);
	CHECK_INT(chain_get(NULL, &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "http://example.com/c");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI",
	       "http://127.0.0.1.example.com/c", 1);
	CHECK_INT(chain_get(NULL, &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);

	/* an HTTP error or a document without a Token is an error */
	http_stub_reset(stub);
	http_stub_add(stub, "GET", "/v1/creds", 403, NULL, "denied");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CHECK_INT(chain_get(NULL, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "HTTP 403: denied");
	CHECK_INT(http_stub_count(stub, "GET", "/v1/creds"), 1);
	http_stub_reset(stub);
	http_stub_add(stub, "GET", "/v1/creds", 200, NULL,
		      "{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\"}");
	CHECK_INT(chain_get(NULL, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "no Token");
	test_unlink("pod-token");
	vmie_error_clear(&err);
	test_env_clear();
}

static void imds_routes(const char *doc)
{
	http_stub_add(stub, "GET", "/latest/meta-data/iam/security-credentials/",
		      200, NULL, "my-role\n");
	http_stub_add(stub, "GET",
		      "/latest/meta-data/iam/security-credentials/my-role", 200,
		      NULL, doc);
}

static const char imds_json[] =
	"{\"Code\":\"Success\",\"LastUpdated\":\"2020-11-04T19:38:27Z\","
	"\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS\","
	"\"SecretAccessKey\":\"imdssecret\",\"Token\":\"imdstoken\","
	"\"Expiration\":\"2099-01-01T00:00:00Z\"}";

static void test_imds(void)
{
	test_env_clear();
	http_stub_reset(stub);
	vaws_creds c;
	vmie_error err = {0};
	unsetenv("AWS_EC2_METADATA_DISABLED");
	char base[80];
	snprintf(base, sizeof base, "%s/", http_stub_url(stub));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", base, 1);

	/* IMDSv2 */
	http_stub_add(stub, "PUT", "/latest/api/token", 200, NULL, "TOKEN123");
	imds_routes(imds_json);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "imds");
	CHECK_STR(c.access_key_id, "ASIAIMDS");
	CHECK_STR(c.session_token, "imdstoken");
	CHECK_INT(c.expiration, 4070908800);
	vaws_creds_free(&c);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 3);
	char *ttl = stub_request_header(0, "x-aws-ec2-metadata-token-ttl-seconds");
	CHECK_STR(ttl, "21600");
	free(ttl);
	for (size_t i = 1; i < 3; i++) {
		char *tok = stub_request_header(i, "x-aws-ec2-metadata-token");
		CHECK_STR(tok, "TOKEN123");
		free(tok);
	}

	/* fallback to IMDSv1 when the token PUT is refused */
	static const int refusals[] = {403, 404, 405};
	for (size_t k = 0; k < 3; k++) {
		http_stub_reset(stub);
		http_stub_add(stub, "PUT", "/latest/api/token", refusals[k],
			      NULL, "");
		imds_routes(imds_json);
		CHECK_INT(chain_get(NULL, &c, &err), 0);
		CHECK_STR(c.access_key_id, "ASIAIMDS");
		vaws_creds_free(&c);
		char *tok = stub_request_header(2, "x-aws-ec2-metadata-token");
		CHECK(tok == NULL);
		free(tok);
	}
	/* ... unless IMDSv1 is disabled */
	setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
	http_stub_reset(stub);
	http_stub_add(stub, "PUT", "/latest/api/token", 404, NULL, "");
	imds_routes(imds_json);
	CHECK_INT(chain_get(NULL, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "IMDSv1 is disabled");
	CHECK_INT(http_stub_count(stub, "GET", NULL), 0);
	unsetenv("AWS_EC2_METADATA_V1_DISABLED");

	/* no role attached: a miss */
	http_stub_reset(stub);
	http_stub_add(stub, "PUT", "/latest/api/token", 200, NULL, "T");
	CHECK_INT(chain_get(NULL, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "no IAM role attached");

	/* a role with an unusable document: an error */
	http_stub_reset(stub);
	http_stub_add(stub, "PUT", "/latest/api/token", 200, NULL, "T");
	imds_routes("{\"Code\":\"Success\",\"AccessKeyId\":\"a\"}");
	CHECK_INT(chain_get(NULL, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "instance metadata: the answer has no "
				    "SecretAccessKey");
	CHECK(strstr(err.message, "looked in") == NULL);

	/* a token PUT that times out falls back to v1 as well */
	http_stub_reset(stub);
	http_stub_add_delayed(stub, "PUT", "/latest/api/token", 200, NULL, "T",
			      1500);
	imds_routes(imds_json);
	CHECK_INT(chain_get(NULL, &c, &err), 0);
	CHECK_STR(c.source, "imds");
	vaws_creds_free(&c);
	vmie_error_clear(&err);
	test_env_clear();
}

/* A container credentials answer expiring at `when`. */
static void refresh_json(char *buf, size_t n, const char *key,
			   const char *secret, const char *token, time_t when)
{
	char exp[VISOTIME_LEN];
	visotime_format(when, exp);
	snprintf(buf, n,
		 "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\","
		 "\"Token\":\"%s\",\"Expiration\":\"%s\"}",
		 key, secret, token, exp);
}

/* The chain asks the same provider again when a set is due (a quarter of
 * its lifetime left, at most five minutes), and only then. */
static void test_refresh(void)
{
	test_env_clear();
	http_stub_reset(stub);
	clock_shift = 0;
	vmie_error err = {0};
	char near[256], later[256];
	refresh_json(near, sizeof near, "ASIAOLD", "s1",
		       "t1", time(NULL) + 3600);
	refresh_json(later, sizeof later, "ASIANEW", "s2",
		       "t2", time(NULL) + 7200);
	http_stub_add(stub, "GET", "/creds", 200, NULL, near);
	http_stub_add(stub, "GET", "/creds", 200, NULL, later);
	char url[128];
	snprintf(url, sizeof url, "%s/creds", http_stub_url(stub));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);

	vaws_config cfg;
	CHECK_INT(vaws_config_load(&cfg, NULL, &err), 0);
	vaws_creds_chain *ch = new_chain(&cfg);
	const vaws_creds *c = NULL;
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_STR(c ? c->access_key_id : NULL, "ASIAOLD");
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 1);
	/* an hour's set: kept until five minutes before its end */
	clock_shift = 3600 - 301;
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_STR(c ? c->access_key_id : NULL, "ASIAOLD");
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 1);
	clock_shift = 3600 - 299;
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_STR(c ? c->access_key_id : NULL, "ASIANEW");
	CHECK_STR(c ? c->secret_access_key : NULL, "s2");
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 2);
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_STR(c ? c->access_key_id : NULL, "ASIANEW");
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 2);
	/* refused by AWS as expired: asked again at once */
	vaws_creds_renew(ch);
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 3);
	vaws_creds_chain_free(ch);

	/* a set that lives 40 s is renewed with 10 s left, not at once */
	http_stub_reset(stub);
	clock_shift = 0;
	refresh_json(near, sizeof near, "ASIASHORT", "s1",
		       "t1", time(NULL) + 40);
	http_stub_add(stub, "GET", "/creds", 200, NULL, near);
	http_stub_add(stub, "GET", "/creds", 200, NULL, later);
	ch = new_chain(&cfg);
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	clock_shift = 29;
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_STR(c ? c->access_key_id : NULL, "ASIASHORT");
	clock_shift = 31;
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_STR(c ? c->access_key_id : NULL, "ASIANEW");
	vaws_creds_chain_free(ch);

	/* a failed refresh keeps credentials that are still valid... */
	http_stub_reset(stub);
	clock_shift = 0;
	refresh_json(near, sizeof near, "ASIAOLD", "s1",
		       "t1", time(NULL) + 200);
	http_stub_add(stub, "GET", "/creds", 200, NULL, near);
	http_stub_add(stub, "GET", "/creds", 403, NULL, "no");
	ch = new_chain(&cfg);
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	clock_shift = 160;
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_STR(c ? c->access_key_id : NULL, "ASIAOLD");
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 2);
	/* ...without asking on every request... */
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_INT(http_stub_count(stub, "GET", "/creds"), 2);
	/* ...but not once AWS refused them */
	vaws_creds_renew(ch);
	CHECK_INT(vaws_creds_get(ch, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK(c == NULL);
	vaws_creds_chain_free(ch);

	/* ...nor expired ones */
	http_stub_reset(stub);
	clock_shift = 0;
	snprintf(near, sizeof near,
		 "{\"AccessKeyId\":\"ASIAOLD\",\"SecretAccessKey\":\"s1\","
		 "\"Token\":\"t1\",\"Expiration\":\"2001-01-01T00:00:00Z\"}");
	http_stub_add(stub, "GET", "/creds", 200, NULL, near);
	http_stub_add(stub, "GET", "/creds", 403, NULL, "no");
	ch = new_chain(&cfg);
	CHECK_INT(vaws_creds_get(ch, &c, &err), 0);
	CHECK_INT(vaws_creds_get(ch, &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK(c == NULL);
	CHECK_CONTAINS(err.message, "HTTP 403");
	vaws_creds_chain_free(ch);
	vaws_config_free(&cfg);
	vmie_error_clear(&err);
	test_env_clear();
}

static const char assume_ok[] =
	"<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
	"<AssumeRoleResult><Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId>"
	"<SecretAccessKey>assumedsecret</SecretAccessKey>"
	"<SessionToken>assumedtoken</SessionToken>"
	"<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
	"<AssumedRoleUser><AssumedRoleId>AROAX:s</AssumedRoleId>"
	"<Arn>arn:aws:sts::210987654321:assumed-role/R/s</Arn></AssumedRoleUser>"
	"</AssumeRoleResult></AssumeRoleResponse>";

static int file_mode(const char *rel)
{
	char path[PATH_MAX + 64];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", test_home, rel);
	return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

/* An assume-role profile: AssumeRole signed with the source profile's
 * keys, the CLI's cache key and file, MFA through the prompt, loops. */
static void test_assume_role(void)
{
	test_env_clear();
	test_unlink(".aws/credentials");
	http_stub_reset(stub);
	clock_shift = 0;
	vaws_creds c;
	vmie_error err = {0};
	test_write(".aws/config",
		   "[profile base]\n"
		   "aws_access_key_id = AKIDBASE\n"
		   "aws_secret_access_key = basesecret\n"
		   "[profile r]\n"
		   "role_arn = arn:aws:iam::210987654321:role/R\n"
		   "source_profile = base\n"
		   "external_id = ext/1\n"
		   "duration_seconds = 1800\n"
		   "[profile mfa]\n"
		   "role_arn = arn:aws:iam::210987654321:role/R\n"
		   "source_profile = base\n"
		   "role_session_name = me\n"
		   "mfa_serial = arn:aws:iam::210987654321:mfa/me\n"
		   "[profile self]\n"
		   "role_arn = arn:aws:iam::210987654321:role/R\n"
		   "source_profile = self\n"
		   "[profile x]\n"
		   "role_arn = arn:aws:iam::210987654321:role/R\n"
		   "source_profile = y\n"
		   "[profile y]\n"
		   "role_arn = arn:aws:iam::210987654321:role/R\n"
		   "source_profile = x\n"
		   "[profile both]\n"
		   "role_arn = arn:aws:iam::210987654321:role/R\n"
		   "source_profile = base\n"
		   "credential_source = Environment\n"
		   "[profile badsrc]\n"
		   "role_arn = arn:aws:iam::210987654321:role/R\n"
		   "credential_source = Keychain\n"
		   "[profile short]\n"
		   "role_arn = arn:aws:iam::210987654321:role/R\n"
		   "source_profile = base\n"
		   "duration_seconds = 60\n");
	http_stub_add(stub, "POST", "/", 200, NULL, assume_ok);
	CHECK_INT(chain_get("r", &c, &err), 0);
	CHECK_STR(c.source, "assume-role");
	CHECK_STR(c.access_key_id, "ASIAASSUMED");
	CHECK_STR(c.account_id, "210987654321");
	CHECK_STR(c.chain, "config-file → assumed "
			   "arn:aws:iam::210987654321:role/R from profile base");
	vaws_creds_free(&c);
	http_stub_request r;
	CHECK(http_stub_request_get(stub, 0, &r));
	CHECK_CONTAINS(r.body, "Action=AssumeRole&Version=2011-06-15&RoleArn="
			       "arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2FR&"
			       "RoleSessionName=botocore-session-");
	CHECK_CONTAINS(r.body, "&DurationSeconds=1800&ExternalId=ext%2F1");
	char *auth = http_stub_header(&r, "Authorization");
	CHECK_CONTAINS(auth, "Credential=AKIDBASE/");
	CHECK_CONTAINS(auth, "/us-east-1/sts/aws4_request");
	free(auth);
	http_stub_request_free(&r);
	/* The AWS CLI's cache key: SHA-1 of Python's json.dumps(sort_keys=True)
	 * of {"DurationSeconds": 1800, "ExternalId": "ext/1", "RoleArn": ...}
	 * (computed with hashlib, the session name left out). */
	const char *entry = ".aws/cli/cache/"
			    "6ed1a04adf6cf434eb734c5298bc63ed27104576.json";
	CHECK_INT(file_mode(entry), 0600);
	/* A second chain finds the session in the cache. */
	CHECK_INT(chain_get("r", &c, &err), 0);
	CHECK_STR(c.access_key_id, "ASIAASSUMED");
	CHECK_CONTAINS(c.chain, "cached in ~/.aws/cli/cache");
	vaws_creds_free(&c);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 1);

	/* MFA: the code comes from the prompt; none to ask, an error. */
	prompts_asked = 0;
	prompt_answers[0] = " 12a456";
	prompt_answers[1] = "123456 ";
	CHECK_INT(chain_get("mfa", &c, &err), 0);
	vaws_creds_free(&c);
	CHECK_INT(prompts_asked, 2);
	CHECK(http_stub_request_get(stub, 1, &r));
	CHECK_CONTAINS(r.body, "&RoleSessionName=me&SerialNumber=arn%3Aaws%3A"
			       "iam%3A%3A210987654321%3Amfa%2Fme&TokenCode=123456");
	http_stub_request_free(&r);
	test_unlink(".aws/cli/cache/"
		    "967f39da1d97d124ab002e9fc0cc802c0fa655e6.json");
	prompts_asked = 0;
	prompt_answers[0] = NULL;
	CHECK_INT(chain_get("mfa", &c, &err),
		  VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND);
	CHECK_CONTAINS(err.message, "needs a code from MFA device "
				    "arn:aws:iam::210987654321:mfa/me");
	CHECK_CONTAINS(err.message, "no terminal (test)");
	prompts_asked = 0;
	prompt_answers[0] = "^C";
	CHECK_INT(chain_get("mfa", &c, &err), VMIE_ERR_INTERRUPTED);
	CHECK_CONTAINS(err.message, "no MFA code for "
				    "arn:aws:iam::210987654321:mfa/me: interrupted");
	CHECK_INT(http_stub_count(stub, "POST", "/"), 2);

	/* Configurations botocore refuses, refused the same way. */
	CHECK_INT(chain_get("self", &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "loop: self → self");
	CHECK_INT(chain_get("x", &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "loop: x → y → x");
	CHECK_INT(chain_get("both", &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "contains both source_profile and "
				    "credential_source");
	CHECK_INT(chain_get("badsrc", &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "\"Keychain\" referenced in profile "
				    "\"badsrc\" is not valid");
	CHECK_INT(chain_get("short", &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "duration_seconds = 60 in profile short");
	CHECK_INT(http_stub_count(stub, "POST", "/"), 2);

	/* Renewed near the end: past the cache, a new AssumeRole. */
	http_stub_reset(stub);
	char soon[1024], when[VISOTIME_LEN];
	visotime_format(time(NULL) + 3600, when);
	snprintf(soon, sizeof soon, "%.*s%s%s",
		 (int)(strstr(assume_ok, "2099") - assume_ok), assume_ok, when,
		 strstr(assume_ok, "2099") + strlen("2099-01-01T00:00:00Z"));
	http_stub_add(stub, "POST", "/", 200, NULL, soon);
	test_unlink(entry);
	vaws_config cfg;
	CHECK_INT(vaws_config_load(&cfg, "r", &err), 0);
	vaws_creds_chain *ch = new_chain(&cfg);
	const vaws_creds *cur;
	CHECK_INT(vaws_creds_get(ch, &cur, &err), 0);
	clock_shift = 3600 - 200;
	CHECK_INT(vaws_creds_get(ch, &cur, &err), 0);
	CHECK_INT(http_stub_count(stub, "POST", "/"), 2);
	vaws_creds_chain_free(ch);
	vaws_config_free(&cfg);
	clock_shift = 0;
	test_unlink(entry);
	vmie_error_clear(&err);
	test_env_clear();
}

/* IAM Identity Center: the token file `aws sso login` leaves, renewed
 * through OIDC when it has run out, exchanged at the portal. */
static void test_sso(void)
{
	test_env_clear();
	http_stub_reset(stub);
	vaws_creds c;
	vmie_error err = {0};
	test_write(".aws/config",
		   "[profile s]\n"
		   "sso_session = corp\n"
		   "sso_account_id = 210987654321\n"
		   "sso_role_name = Admin\n"
		   "[sso-session corp]\n"
		   "sso_start_url = https://corp.awsapps.com/start\n"
		   "sso_region = eu-west-1\n"
		   "[profile clash]\n"
		   "sso_session = corp\n"
		   "sso_region = us-east-1\n"
		   "sso_account_id = 210987654321\n"
		   "sso_role_name = Admin\n"
		   "[profile nosession]\n"
		   "sso_session = gone\n"
		   "sso_account_id = 210987654321\n"
		   "sso_role_name = Admin\n");
	char dir[PATH_MAX + 32];
	snprintf(dir, sizeof dir, "%s/.aws/sso", test_home);
	mkdir(dir, 0700);
	snprintf(dir, sizeof dir, "%s/.aws/sso/cache", test_home);
	mkdir(dir, 0700);
	/* SHA-1 of "corp" (the session name), as botocore's SSOTokenLoader. */
	const char *tok = ".aws/sso/cache/"
			  "ee0bfd2552fbd840c02cc48b6e823320543c450f.json";
	char doc[1024], past[VISOTIME_LEN], future[VISOTIME_LEN];
	visotime_format(time(NULL) - 60, past);
	visotime_format(time(NULL) + 86400, future);
	snprintf(doc, sizeof doc,
		 "{\"startUrl\":\"https://corp.awsapps.com/start\","
		 "\"region\":\"eu-west-1\",\"accessToken\":\"aoaOLD\","
		 "\"expiresAt\":\"%s\",\"refreshToken\":\"aorOLD\","
		 "\"clientId\":\"cid\",\"clientSecret\":\"csecret\","
		 "\"registrationExpiresAt\":\"%s\"}",
		 past, future);
	test_write(tok, doc);
	http_stub_add(stub, "POST", "/token", 200, NULL,
		      "{\"accessToken\":\"aoaNEW\",\"tokenType\":\"Bearer\","
		      "\"expiresIn\":3600,\"refreshToken\":\"aorNEW\"}");
	http_stub_add(stub, "GET", "/federation/credentials", 200, NULL,
		      "{\"roleCredentials\":{\"accessKeyId\":\"ASIASSO\","
		      "\"secretAccessKey\":\"ssosecret\",\"sessionToken\":"
		      "\"ssotoken\",\"expiration\":4070908800000}}");
	CHECK_INT(chain_get("s", &c, &err), 0);
	CHECK_STR(c.source, "sso");
	CHECK_STR(c.access_key_id, "ASIASSO");
	CHECK_STR(c.account_id, "210987654321");
	CHECK_INT(c.expiration, 4070908800);
	CHECK_STR(c.chain, "SSO session corp → account 210987654321 role Admin");
	vaws_creds_free(&c);
	http_stub_request r;
	CHECK(http_stub_request_get(stub, 0, &r));
	CHECK_STR(r.target, "/token");
	CHECK_CONTAINS(r.body, "\"grantType\":\"refresh_token\"");
	CHECK_CONTAINS(r.body, "\"refreshToken\":\"aorOLD\"");
	http_stub_request_free(&r);
	CHECK(http_stub_request_get(stub, 1, &r));
	CHECK_STR(r.target, "/federation/credentials?role_name=Admin&"
			    "account_id=210987654321");
	char *bearer = http_stub_header(&r, "x-amz-sso_bearer_token");
	CHECK_STR(bearer, "aoaNEW");
	free(bearer);
	http_stub_request_free(&r);
	CHECK_INT(file_mode(tok), 0600);
	/* The role credentials are cached under the CLI's key: SHA-1 of
	 * {"accountId":"210987654321","roleName":"Admin","sessionName":"corp"}. */
	CHECK_INT(file_mode(".aws/cli/cache/"
			    "ce4e0bea6434da852ba4518c14f4df3784ed859e.json"),
		  0600);

	/* A profile that contradicts its session; a session that is not
	 * there. */
	CHECK_INT(chain_get("clash", &c, &err), VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "The value for sso_region is inconsistent "
				    "between profile (us-east-1) and "
				    "sso-session (eu-west-1)");
	CHECK_INT(chain_get("nosession", &c, &err),
		  VMIE_ERR_AWS_CONFIG_INVALID);
	CHECK_CONTAINS(err.message, "sso-session does not exist: \"gone\"");
	vmie_error_clear(&err);
	test_env_clear();
}

/* Secrets never reach the log. */
static vbuf logged;
static void log_fn(void *ctx, vmie_log_level level, const char *msg)
{
	vbuf_addf(&logged, "%s %s\n", vmie_log_level_name(level), msg);
}

int main(void)
{
	test_env_init();
	vmie_set_log_handler(log_fn, NULL);
	http = vhttp_new(NULL);
	stub = http_stub_start();
	if (!http || !stub ||
	    vaws_endpoint_parse_url(http_stub_url(stub), "test", &sts_ep,
				    NULL) != 0) {
		fprintf(stderr, "cannot start the HTTP stub or client\n");
		return 2;
	}
	sts_ep.signing_region = xstrdup("us-east-1");
	sts_ep.service = "sts";
	test_isotime();
	test_shell_split();
	test_env_provider();
	test_files_and_order();
	test_not_found();
	test_web_identity();
	test_container();
	test_imds();
	test_refresh();
	test_assume_role();
	test_sso();

	CHECK_CONTAINS(vbuf_str(&logged), "credentials from imds (key ...IMDS");
	static const char *const secrets[] = {
		"envsecret", "sharedsecret", "secret with spaces", "websecret",
		"contsecret", "imdssecret", "conttoken", "imdstoken",
		"webtoken", "TOKEN123", "eyJ.token", "from-file", "basesecret",
		"assumedsecret", "assumedtoken", "ssosecret", "ssotoken",
		"aoaOLD", "aoaNEW", "aorOLD", "aorNEW", "csecret", "123456"};
	for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
		CHECK(strstr(vbuf_str(&logged), secrets[i]) == NULL);
	vbuf_free(&logged);
	vmie_set_log_handler(NULL, NULL);

	vaws_endpoint_free(&sts_ep);
	http_stub_stop(stub);
	vhttp_free(http);
	test_env_cleanup();
	return check_done("creds");
}
