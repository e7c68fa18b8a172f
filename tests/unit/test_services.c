/* The typed S3, IAM and EC2 VM Import calls against the local HTTP stub:
 * the exact requests they send (parameters, documents, bodies) and how
 * they read AWS-shaped answers and errors. */
#include "aws/ec2_import.h"
#include "aws/iam.h"
#include "aws/s3.h"
#include "base/buf.h"
#include "check.h"
#include "http_stub.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static http_stub *stub;

static vaws_client *client(const char *region)
{
	vaws_client *c = NULL;
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE0TESTKEY1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_REGION", region, 1);
	setenv("AWS_ENDPOINT_URL", http_stub_url(stub), 1);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	CHECK_INT(vaws_client_new(NULL, &c, NULL), 0);
	return c;
}

/* The form-encoded body of recorded request i, decoded, as a lookup. */
static char *form_value(size_t i, const char *key)
{
	http_stub_request rq;
	char *out = NULL;
	if (!http_stub_request_get(stub, i, &rq))
		return NULL;
	char *save = NULL;
	for (char *kv = strtok_r(rq.body, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			continue;
		*eq = '\0';
		int n = 0;
		char *k = curl_easy_unescape(NULL, kv, 0, &n);
		if (strcmp(k, key) == 0) {
			char *v = curl_easy_unescape(NULL, eq + 1, 0, &n);
			out = strdup(v);
			curl_free(v);
		}
		curl_free(k);
	}
	http_stub_request_free(&rq);
	return out;
}

static void test_s3_bucket(void)
{
	vaws_client *c = client("eu-west-1");
	vs3_bucket_state st;
	vmie_error err = {0};

	http_stub_add(stub, "HEAD", "/missing-b", 404, NULL, NULL);
	http_stub_add(stub, "HEAD", "/theirs-b", 403, NULL, NULL);
	http_stub_add(stub, "HEAD", "/ours-b", 200, NULL, NULL);
	/* A bodiless 403 makes the client ask STS who it is: here the
	 * credentials are good, so the bucket is someone else's. */
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>1"
		      "</Account></GetCallerIdentityResult></GetCallerIdentityResponse>");
	char *where = NULL;
	CHECK_INT(vs3_head_bucket(c, "missing-b", &st, &where, &err), 0);
	CHECK(st == VS3_BUCKET_MISSING);
	CHECK_INT(vs3_head_bucket(c, "theirs-b", &st, &where, &err), 0);
	CHECK(st == VS3_BUCKET_FORBIDDEN);
	CHECK_INT((long)http_stub_count(stub, "POST", "/"), 1L);
	CHECK_INT(vs3_head_bucket(c, "ours-b", &st, &where, &err), 0);
	CHECK(st == VS3_BUCKET_EXISTS);
	CHECK(where == NULL);
	CHECK(err.message == NULL);
	/* In another region: refused (400, signed for the wrong region) or
	 * redirected (301), the answer naming the bucket's region. */
	http_stub_add(stub, "HEAD", "/far-b", 400, "x-amz-bucket-region: ap-south-1\r\n", NULL);
	CHECK_INT(vs3_head_bucket(c, "far-b", &st, &where, &err), 0);
	CHECK(st == VS3_BUCKET_EXISTS);
	CHECK_STR(where, "ap-south-1");
	free(where);
	where = NULL;
	http_stub_add(stub, "HEAD", "/moved-b", 301, "x-amz-bucket-region: us-east-2\r\n", NULL);
	CHECK_INT(vs3_head_bucket(c, "moved-b", &st, &where, &err), 0);
	CHECK_STR(where, "us-east-2");
	free(where);
	where = NULL;
	/* Bad credentials (issue 12, defect 6): STS refuses them too, and
	 * that is what is reported, not "someone else's bucket". */
	http_stub_reset(stub);
	http_stub_add(stub, "HEAD", "/mine-b", 403, NULL, NULL);
	http_stub_add(stub, "POST", "/", 403, NULL,
		      "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch"
		      "</Code><Message>The request signature we calculated does not match"
		      "</Message></Error><RequestId>r-9</RequestId></ErrorResponse>");
	CHECK_INT(vs3_head_bucket(c, "mine-b", &st, &where, &err),
		  VMIE_ERR_AWS_CREDENTIALS_INVALID);
	CHECK_INT(err.status, VMIE_ERR_AWS_CREDENTIALS_INVALID);
	CHECK_CONTAINS(err.message, "AWS refused the credentials in use (environment)");
	CHECK_CONTAINS(err.message, "S3 HeadBucket answered 403");
	CHECK_CONTAINS(err.message, "SignatureDoesNotMatch");
	CHECK_CONTAINS(err.hint, "vmie whoami");
	CHECK_STR(err.aws_code, "SignatureDoesNotMatch");
	vmie_error_clear(&err);
	/* An STS that cannot be reached says nothing: the 403 stays. */
	http_stub_reset(stub);
	http_stub_add(stub, "HEAD", "/obj-b/k", 403, NULL, NULL);
	http_stub_add(stub, "POST", "/", 503, NULL, NULL);
	vs3_object obj = {0};
	CHECK_INT(vs3_head_object(c, "obj-b", "k", &obj, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(err.http_status, 403);
	vs3_object_free(&obj);
	vmie_error_clear(&err);
	/* A 400 that names no region is an error. */
	http_stub_add(stub, "HEAD", "/bad-b", 400, NULL, NULL);
	CHECK(vs3_head_bucket(c, "bad-b", &st, &where, &err) != 0);
	CHECK(where == NULL);
	vmie_error_clear(&err);

	/* Outside us-east-1 the region goes in a LocationConstraint. */
	http_stub_add(stub, "PUT", "/new-b", 200, NULL, NULL);
	CHECK_INT(vs3_create_bucket(c, "new-b", "eu-west-1", &err), 0);
	http_stub_request rq;
	size_t last = http_stub_count(stub, NULL, NULL) - 1;
	CHECK(http_stub_request_get(stub, last, &rq));
	CHECK(strstr(rq.body, "<LocationConstraint>eu-west-1</LocationConstraint>"));
	http_stub_request_free(&rq);
	CHECK_INT(vs3_create_bucket(c, "new-b", "us-east-1", &err), 0);
	CHECK(http_stub_request_get(stub, last + 1, &rq));
	CHECK(rq.body_len == 0); /* none for us-east-1 */
	http_stub_request_free(&rq);

	/* Already ours: success; someone else's: the error. */
	http_stub_add(stub, "PUT", "/again-b", 409, NULL,
		      "<Error><Code>BucketAlreadyOwnedByYou</Code><Message>yours</Message></Error>");
	CHECK_INT(vs3_create_bucket(c, "again-b", "eu-west-1", &err), 0);
	http_stub_add(stub, "PUT", "/taken-b", 409, NULL,
		      "<Error><Code>BucketAlreadyExists</Code><Message>taken</Message></Error>");
	CHECK(vs3_create_bucket(c, "taken-b", "eu-west-1", &err) != 0);
	CHECK_STR(err.aws_code, "BucketAlreadyExists");
	vmie_error_clear(&err);

	/* The configuration calls carry Content-MD5 (S3 requires it). */
	http_stub_add(stub, "PUT", "/ours-b", 200, NULL, NULL);
	CHECK_INT(vs3_put_public_access_block(c, "ours-b", &err), 0);
	CHECK_INT(vs3_put_bucket_encryption_sse_s3(c, "ours-b", &err), 0);
	last = http_stub_count(stub, NULL, NULL) - 1;
	CHECK(http_stub_request_get(stub, last - 1, &rq));
	CHECK(strstr(rq.target, "publicAccessBlock"));
	CHECK(strstr(rq.body, "<RestrictPublicBuckets>true</RestrictPublicBuckets>"));
	char *md5 = http_stub_header(&rq, "Content-MD5");
	CHECK(md5 && strlen(md5) == 24);
	free(md5);
	http_stub_request_free(&rq);
	CHECK(http_stub_request_get(stub, last, &rq));
	CHECK(strstr(rq.target, "encryption"));
	CHECK(strstr(rq.body, "<SSEAlgorithm>AES256</SSEAlgorithm>"));
	http_stub_request_free(&rq);

	/* GetBucketLocation's special values. */
	const char *answers[][2] = {
		{"<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>", "us-east-1"},
		{"<LocationConstraint>EU</LocationConstraint>", "eu-west-1"},
		{"<LocationConstraint>ap-south-1</LocationConstraint>", "ap-south-1"},
	};
	for (int i = 0; i < 3; i++) {
		char *region = NULL;
		http_stub_reset(stub);
		http_stub_add(stub, "GET", "/loc-b", 200, NULL, answers[i][0]);
		CHECK_INT(vs3_bucket_region(c, "loc-b", &region, &err), 0);
		CHECK_STR(region, answers[i][1]);
		free(region);
	}
	vaws_client_free(c);
}

static void test_s3_objects(void)
{
	vaws_client *c = client("us-west-2");
	vmie_error err = {0};
	vs3_object o;
	vbuf body = VBUF_INIT;

	char size_body[1001];
	memset(size_body, 'x', 1000);
	size_body[1000] = '\0';
	http_stub_reset(stub);
	/* The stub's Content-Length is its body's, which HEAD does not send. */
	http_stub_add(stub, "HEAD", "/b/disk.raw", 200,
		      "ETag: \"abc-2\"\r\n"
		      "x-amz-storage-class: STANDARD_IA\r\nx-amz-checksum-crc32c: AAAAAA==-2\r\n",
		      size_body);
	http_stub_add(stub, "HEAD", "/b/gone.raw", 404, NULL, NULL);
	CHECK_INT(vs3_head_object(c, "b", "disk.raw", &o, &err), 0);
	CHECK(o.size == 1000);
	CHECK_STR(o.etag, "\"abc-2\"");
	CHECK_STR(o.storage_class, "STANDARD_IA");
	CHECK_STR(o.checksum_crc32c, "AAAAAA==-2");
	vs3_object_free(&o);
	CHECK_INT(vs3_head_object(c, "b", "gone.raw", &o, &err), VS3_NOT_FOUND);
	CHECK(err.message == NULL);

	http_stub_add(stub, "GET", "/b/disk.raw", 206, NULL, "0123456789");
	CHECK_INT(vs3_get_range(c, "b", "disk.raw", 100, 10, &body, &err), 0);
	CHECK(body.len == 10 && memcmp(body.data, "0123456789", 10) == 0);
	http_stub_request rq;
	CHECK(http_stub_request_get(stub, http_stub_count(stub, NULL, NULL) - 1, &rq));
	char *range = http_stub_header(&rq, "Range");
	CHECK_STR(range, "bytes=100-109");
	free(range);
	http_stub_request_free(&rq);
	vbuf_free(&body);
	vaws_client_free(c);
}

static const char *role_xml =
	"<GetRoleResponse><GetRoleResult><Role><RoleName>vmimport</RoleName>"
	"<Arn>arn:aws:iam::123456789012:role/vmimport</Arn>"
	"<AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument>"
	"</Role></GetRoleResult></GetRoleResponse>";

static void test_iam_role(void)
{
	vaws_client *c = client("us-west-2");
	vmie_error err = {0};
	viam_role_result res;
	const char *buckets[] = {"my-b"};
	viam_role_needs needs = {.read_buckets = buckets, .nread = 1};

	/* From nothing: CreateRole with the trust, PutRolePolicy. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 404, NULL,
		      "<ErrorResponse><Error><Code>NoSuchEntity</Code><Message>no</Message>"
		      "</Error></ErrorResponse>");
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<CreateRoleResponse><CreateRoleResult><Role><Arn>arn:aws:iam::1:role/vmimport"
		      "</Arn></Role></CreateRoleResult></CreateRoleResponse>");
	http_stub_add(stub, "POST", "/", 200, NULL, "<PutRolePolicyResponse/>");
	CHECK_INT(viam_ensure_vmimport_role(c, "vmimport", &needs, &res, &err), 0);
	CHECK(res.created);
	CHECK_STR(res.arn, "arn:aws:iam::1:role/vmimport");
	CHECK(res.added && strstr(res.added, "resource arn:aws:s3:::my-b/*"));
	viam_role_result_free(&res);
	CHECK_INT((long)http_stub_count(stub, "POST", "/"), 3L);
	char *action = form_value(1, "Action");
	CHECK_STR(action, "CreateRole");
	free(action);
	char *trust = form_value(1, "AssumeRolePolicyDocument");
	json_t *t = trust ? json_loads(trust, 0, NULL) : NULL;
	json_t *st = json_array_get(json_object_get(t, "Statement"), 0);
	CHECK_STR(json_string_value(json_object_get(json_object_get(st, "Principal"), "Service")),
		  "vmie.amazonaws.com");
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(st,
		  "Condition"), "StringEquals"), "sts:Externalid")), "vmimport");
	char *policy = form_value(2, "PolicyDocument");
	CHECK(policy && strstr(policy, "arn:aws:s3:::my-b/*") &&
	      strstr(policy, "ec2:RegisterImage") && strstr(policy, "s3:GetObject"));

	/* Already right: GetRole, ListRolePolicies and GetRolePolicy only,
	 * nothing written. */
	vbuf get_role = VBUF_INIT, get_policy = VBUF_INIT;
	char *e1 = curl_easy_escape(NULL, trust, 0), *e2 = curl_easy_escape(NULL, policy, 0);
	static const char list_xml[] =
		"<ListRolePoliciesResponse><ListRolePoliciesResult><PolicyNames>"
		"<member>vmimport</member></PolicyNames><IsTruncated>false</IsTruncated>"
		"</ListRolePoliciesResult></ListRolePoliciesResponse>";
	vbuf_addf(&get_role, role_xml, e1);
	vbuf_addf(&get_policy, "<GetRolePolicyResponse><GetRolePolicyResult><PolicyDocument>%s"
		  "</PolicyDocument></GetRolePolicyResult></GetRolePolicyResponse>", e2);
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL, vbuf_str(&get_role));
	http_stub_add(stub, "POST", "/", 200, NULL, list_xml);
	http_stub_add(stub, "POST", "/", 200, NULL, vbuf_str(&get_policy));
	CHECK_INT(viam_ensure_vmimport_role(c, "vmimport", &needs, &res, &err), 0);
	CHECK(!res.created && !res.updated);
	CHECK(res.added == NULL);
	CHECK_INT((long)http_stub_count(stub, "POST", "/"), 3L);
	action = form_value(1, "Action");
	CHECK_STR(action, "ListRolePolicies");
	free(action);
	viam_role_result_free(&res);

	/* Another bucket: added to the policy, the first one kept, the trust
	 * left alone. */
	const char *other[] = {"other-b"};
	viam_role_needs needs2 = {.read_buckets = other, .nread = 1};
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL, vbuf_str(&get_role));
	http_stub_add(stub, "POST", "/", 200, NULL, list_xml);
	http_stub_add(stub, "POST", "/", 200, NULL, vbuf_str(&get_policy));
	http_stub_add(stub, "POST", "/", 200, NULL, "<PutRolePolicyResponse/>");
	CHECK_INT(viam_ensure_vmimport_role(c, "vmimport", &needs2, &res, &err), 0);
	CHECK(!res.created && res.updated);
	action = form_value(3, "Action");
	CHECK_STR(action, "PutRolePolicy");
	free(action);
	char *policy2 = form_value(3, "PolicyDocument");
	CHECK(policy2 && strstr(policy2, "arn:aws:s3:::my-b/*") &&
	      strstr(policy2, "arn:aws:s3:::other-b/*"));
	free(policy2);
	viam_role_result_free(&res);

	/* Created by another run between our GetRole and CreateRole (the
	 * shards of one batch start together): an existing role, so its
	 * policies are read and only what is missing is added, not ours
	 * written over another run's bucket. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 404, NULL,
		      "<ErrorResponse><Error><Code>NoSuchEntity</Code><Message>no</Message>"
		      "</Error></ErrorResponse>");
	http_stub_add(stub, "POST", "/", 409, NULL,
		      "<ErrorResponse><Error><Code>EntityAlreadyExists</Code><Message>Role with "
		      "name vmimport already exists.</Message></Error></ErrorResponse>");
	http_stub_add(stub, "POST", "/", 200, NULL, vbuf_str(&get_role));
	http_stub_add(stub, "POST", "/", 200, NULL, list_xml);
	http_stub_add(stub, "POST", "/", 200, NULL, vbuf_str(&get_policy));
	http_stub_add(stub, "POST", "/", 200, NULL, "<PutRolePolicyResponse/>");
	CHECK_INT(viam_ensure_vmimport_role(c, "vmimport", &needs2, &res, &err), 0);
	CHECK(res.raced && !res.created && !err.message);
	CHECK_INT((long)http_stub_count(stub, "POST", "/"), 6L);
	policy2 = form_value(5, "PolicyDocument");
	CHECK(policy2 && strstr(policy2, "arn:aws:s3:::my-b/*") &&
	      strstr(policy2, "arn:aws:s3:::other-b/*"));
	free(policy2);
	viam_role_result_free(&res);

	curl_free(e1);
	curl_free(e2);
	vbuf_free(&get_role);
	vbuf_free(&get_policy);
	json_decref(t);
	free(trust);
	free(policy);
	vaws_client_free(c);
}

static void test_ec2_import(void)
{
	vaws_client *c = client("us-west-2");
	vmie_error err = {0};
	vkv tags = VKV_INIT;
	char *id = NULL;

	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<ImportImageResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
		      "<requestId>r</requestId><importTaskId>import-ami-0123456789abcdef0"
		      "</importTaskId><status>active</status></ImportImageResponse>");
	vkv_add(&tags, "Project", "migration");
	vec2_disk_container dc[] = {{"RAW", "b", "disk.raw", NULL, "boot"},
				    {"VMDK", "b", "data.vmdk", NULL, NULL}};
	vec2_import_params p = {.description = "d", .disks = dc, .ndisks = 2,
				.license_type = "BYOL", .architecture = "x86_64",
				.boot_mode = "uefi", .encrypted = true, .kms_key_id = "alias/k",
				.role_name = "myrole", .client_token = "vmie-tok", .tags = &tags};
	CHECK_INT(vec2_import_image(c, &p, &id, &err), 0);
	CHECK_STR(id, "import-ami-0123456789abcdef0");
	free(id);
	const char *want[][2] = {
		{"Action", "ImportImage"}, {"ClientToken", "vmie-tok"},
		{"DiskContainer.1.Format", "RAW"}, {"DiskContainer.1.Description", "boot"},
		{"DiskContainer.1.UserBucket.S3Bucket", "b"},
		{"DiskContainer.2.UserBucket.S3Key", "data.vmdk"},
		{"LicenseType", "BYOL"}, {"Architecture", "x86_64"}, {"BootMode", "uefi"},
		{"Encrypted", "true"}, {"KmsKeyId", "alias/k"}, {"RoleName", "myrole"},
		{"TagSpecification.1.ResourceType", "import-image-task"},
		{"TagSpecification.1.Tag.1.Key", "Project"},
		{"TagSpecification.1.Tag.1.Value", "migration"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *v = form_value(0, want[i][0]);
		CHECK_STR(v, want[i][1]);
		free(v);
	}
	char *none = form_value(0, "Platform");
	CHECK(none == NULL); /* not given: not sent */
	vkv_free(&tags);

	/* A running task, a completed one, an unknown one. */
	vec2_import_task t;
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<DescribeImportImageTasksResponse><importImageTaskSet><item>"
		      "<importTaskId>import-ami-1</importTaskId><status>active</status>"
		      "<statusMessage>converting</statusMessage><progress>28</progress>"
		      "</item></importImageTaskSet></DescribeImportImageTasksResponse>");
	CHECK_INT(vec2_describe_import_image_task(c, "import-ami-1", &t, &err), 0);
	CHECK_STR(t.status, "active");
	CHECK_STR(t.status_message, "converting");
	CHECK_INT(t.progress, 28);
	CHECK(t.image_id == NULL && t.nsnapshot_ids == 0);
	vec2_import_task_free(&t);
	char *idv = form_value(0, "ImportTaskId.1");
	CHECK_STR(idv, "import-ami-1");
	free(idv);
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<DescribeImportImageTasksResponse><importImageTaskSet><item>"
		      "<status>completed</status><imageId>ami-0abc</imageId><snapshotDetailSet>"
		      "<item><snapshotId>snap-1</snapshotId></item>"
		      "<item><snapshotId>snap-2</snapshotId></item></snapshotDetailSet>"
		      "</item></importImageTaskSet></DescribeImportImageTasksResponse>");
	CHECK_INT(vec2_describe_import_image_task(c, "import-ami-1", &t, &err), 0);
	CHECK_STR(t.image_id, "ami-0abc");
	CHECK_INT(t.progress, -1);
	CHECK(t.nsnapshot_ids == 2 && strcmp(t.snapshot_ids[1], "snap-2") == 0);
	vec2_import_task_free(&t);
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<DescribeImportImageTasksResponse><importImageTaskSet/>"
		      "</DescribeImportImageTasksResponse>");
	CHECK(vec2_describe_import_image_task(c, "import-ami-x", &t, &err) ==
	      VMIE_ERR_AWS_TASK_STATUS_CHECK_FAILED);
	vec2_import_task_free(&t);
	vmie_error_clear(&err);

	/* The service-role error comes back as AWS said it. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 400, NULL,
		      "<Response><Errors><Error><Code>InvalidParameter</Code><Message>The "
		      "service role vmimport provided does not exist or does not have "
		      "sufficient permissions</Message></Error></Errors><RequestID>q</RequestID>"
		      "</Response>");
	CHECK(vec2_import_image(c, &p, &id, &err) != 0);
	CHECK_STR(err.aws_code, "InvalidParameter");
	CHECK(err.message && strstr(err.message, "service role"));
	vmie_error_clear(&err);

	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL, "<CancelImportTaskResponse/>");
	CHECK_INT(vec2_cancel_import_task(c, "import-ami-1", "stop", &err), 0);
	char *reason = form_value(0, "CancelReason");
	CHECK_STR(reason, "stop");
	free(reason);
	vaws_client_free(c);
}

int main(void)
{
	/* Nothing of the developer's AWS setup: only what client() sets. */
	static const char *const vars[] = {"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_RETRY_MODE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("AWS_CONFIG_FILE", "/nonexistent/vmie-test/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/vmie-test/credentials", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	stub = http_stub_start();
	if (!stub) {
		printf("SKIP services: cannot start the local HTTP stub\n");
		return 77;
	}
	test_s3_bucket();
	test_s3_objects();
	test_iam_role();
	test_ec2_import();
	http_stub_stop(stub);
	return check_done("services");
}
