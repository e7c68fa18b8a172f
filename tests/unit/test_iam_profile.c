/* The sanbootable instance profile made to exist (IAM) and a bucket's
 * default encryption (S3), against the local HTTP stub: which calls are
 * made in each starting state, their parameters, and the errors. */
#include "aws/iam.h"
#include "aws/s3.h"
#include "aws_test_util.h"
#include "check.h"
#include "http_stub.h"

#include <stdlib.h>
#include <string.h>

#define IAM_NS "xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\""
#define SSM_ARN "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"

static http_stub *stub;

#define CHECK_FORM(i, key, want) AWST_CHECK_FORM(stub, i, key, want)

static void add(int status, const char *body)
{
	http_stub_add(stub, "POST", "/", status, NULL, body);
}

static const char *no_such_entity =
	"<ErrorResponse " IAM_NS "><Error><Type>Sender</Type><Code>NoSuchEntity</Code>"
	"<Message>The role with name X cannot be found.</Message></Error>"
	"<RequestId>rq</RequestId></ErrorResponse>";

static const char *exists_error =
	"<ErrorResponse " IAM_NS "><Error><Type>Sender</Type><Code>EntityAlreadyExists</Code>"
	"<Message>already exists.</Message></Error><RequestId>rq</RequestId></ErrorResponse>";

static const char *empty_ok(const char *action)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 256, "<%sResponse " IAM_NS "><ResponseMetadata><RequestId>r</RequestId>"
		 "</ResponseMetadata></%sResponse>", action, action);
	return b;
}

/* GetInstanceProfile / CreateInstanceProfile answers, with a role or not. */
static const char *profile_xml(const char *action, const char *name, const char *role)
{
	static char buf[4][1024];
	static int k;
	char *b = buf[k++ % 4];
	char roles[512] = "<Roles/>";
	if (role)
		snprintf(roles, sizeof(roles), "<Roles><member><Path>/</Path><RoleName>%s"
			 "</RoleName><Arn>arn:aws:iam::1:role/%s</Arn></member></Roles>",
			 role, role);
	snprintf(b, 1024, "<%sResponse " IAM_NS "><%sResult><InstanceProfile><Path>/</Path>"
		 "<InstanceProfileName>%s</InstanceProfileName><InstanceProfileId>AIPA1"
		 "</InstanceProfileId><Arn>arn:aws:iam::1:instance-profile/%s</Arn>"
		 "<CreateDate>2026-01-01T00:00:00Z</CreateDate>%s<Tags/></InstanceProfile>"
		 "</%sResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
		 "</%sResponse>", action, action, name, name, roles, action, action);
	return b;
}

static const char *role_xml =
	"<GetRoleResponse " IAM_NS "><GetRoleResult><Role><Path>/</Path><RoleName>P</RoleName>"
	"<Arn>arn:aws:iam::1:role/P</Arn><AssumeRolePolicyDocument>%7B%7D"
	"</AssumeRolePolicyDocument></Role></GetRoleResult></GetRoleResponse>";

static const char *attached(const char *arn, const char *marker)
{
	static char buf[4][1024];
	static int k;
	char *b = buf[k++ % 4];
	char more[128] = "<IsTruncated>false</IsTruncated>";
	if (marker)
		snprintf(more, sizeof(more), "<IsTruncated>true</IsTruncated><Marker>%s</Marker>",
			 marker);
	snprintf(b, 1024, "<ListAttachedRolePoliciesResponse " IAM_NS ">"
		 "<ListAttachedRolePoliciesResult><AttachedPolicies><member><PolicyName>x"
		 "</PolicyName><PolicyArn>%s</PolicyArn></member></AttachedPolicies>%s"
		 "</ListAttachedRolePoliciesResult></ListAttachedRolePoliciesResponse>",
		 arn, more);
	return b;
}

/* The Action of each recorded request, joined with spaces. */
static void check_actions(const char *want)
{
	char got[512] = "";
	size_t n = http_stub_count(stub, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		char *a = awst_form(stub, i, "Action");
		if (i)
			strncat(got, " ", sizeof(got) - strlen(got) - 1);
		strncat(got, a ? a : "?", sizeof(got) - strlen(got) - 1);
		free(a);
	}
	CHECK_STR(got, want);
}

static void test_profile_missing(vaws_client *c)
{
	vmie_error err = {0};
	viam_role_result res;

	http_stub_reset(stub);
	add(404, no_such_entity);                                  /* GetInstanceProfile */
	add(404, no_such_entity);                                  /* GetRole */
	add(200, "<CreateRoleResponse " IAM_NS "><CreateRoleResult><Role><RoleName>P"
		 "</RoleName></Role></CreateRoleResult></CreateRoleResponse>");
	add(200, empty_ok("AttachRolePolicy"));
	add(200, profile_xml("CreateInstanceProfile", "P", NULL));
	add(200, empty_ok("AddRoleToInstanceProfile"));
	CHECK_INT(viam_ensure_instance_profile(c, "P", &res, &err), 0);
	check_actions("GetInstanceProfile GetRole CreateRole AttachRolePolicy "
		      "CreateInstanceProfile AddRoleToInstanceProfile");
	CHECK(res.created && !res.updated);
	CHECK_STR(res.arn, "arn:aws:iam::1:instance-profile/P");
	viam_role_result_free(&res);
	CHECK_FORM(0, "InstanceProfileName", "P");
	CHECK_FORM(1, "RoleName", "P");
	CHECK_FORM(2, "RoleName", "P");
	char *trust = awst_form(stub, 2, "AssumeRolePolicyDocument");
	json_t *t = trust ? json_loads(trust, 0, NULL) : NULL;
	json_t *st = json_array_get(json_object_get(t, "Statement"), 0);
	CHECK_STR(json_string_value(json_object_get(st, "Effect")), "Allow");
	CHECK_STR(json_string_value(json_object_get(st, "Action")), "sts:AssumeRole");
	CHECK_STR(json_string_value(json_object_get(json_object_get(st, "Principal"),
						    "Service")), "ec2.amazonaws.com");
	json_decref(t);
	free(trust);
	CHECK_FORM(3, "RoleName", "P");
	CHECK_FORM(3, "PolicyArn", SSM_ARN);
	CHECK_FORM(4, "InstanceProfileName", "P");
	CHECK_FORM(5, "InstanceProfileName", "P");
	CHECK_FORM(5, "RoleName", "P");

	/* No profile, but the role is there with the policy; and another
	 * run creating the profile and adding the role at the same moment. */
	http_stub_reset(stub);
	add(404, no_such_entity);
	add(200, role_xml);
	add(200, attached(SSM_ARN, NULL));
	add(409, exists_error);
	add(409, exists_error);
	CHECK_INT(viam_ensure_instance_profile(c, "P", &res, &err), 0);
	check_actions("GetInstanceProfile GetRole ListAttachedRolePolicies "
		      "CreateInstanceProfile AddRoleToInstanceProfile");
	CHECK(err.message == NULL);
	viam_role_result_free(&res);
}

static void test_profile_exists(vaws_client *c)
{
	vmie_error err = {0};
	viam_role_result res;

	/* With a role that has the policy: nothing written. */
	http_stub_reset(stub);
	add(200, profile_xml("GetInstanceProfile", "P", "TheirRole"));
	add(200, attached(SSM_ARN, NULL));
	CHECK_INT(viam_ensure_instance_profile(c, "P", &res, &err), 0);
	check_actions("GetInstanceProfile ListAttachedRolePolicies");
	CHECK_FORM(1, "RoleName", "TheirRole");
	CHECK(!res.created && !res.updated);
	CHECK_STR(res.arn, "arn:aws:iam::1:instance-profile/P");
	viam_role_result_free(&res);

	/* With a role lacking it (two pages listed): attached to that role. */
	http_stub_reset(stub);
	add(200, profile_xml("GetInstanceProfile", "P", "TheirRole"));
	add(200, attached("arn:aws:iam::aws:policy/ReadOnlyAccess", "m-2"));
	add(200, attached("arn:aws:iam::1:policy/Mine", NULL));
	add(200, empty_ok("AttachRolePolicy"));
	CHECK_INT(viam_ensure_instance_profile(c, "P", &res, &err), 0);
	check_actions("GetInstanceProfile ListAttachedRolePolicies ListAttachedRolePolicies "
		      "AttachRolePolicy");
	CHECK_FORM(1, "Marker", NULL);
	CHECK_FORM(2, "Marker", "m-2");
	CHECK_FORM(3, "RoleName", "TheirRole");
	CHECK_FORM(3, "PolicyArn", SSM_ARN);
	CHECK(res.created && res.updated);
	viam_role_result_free(&res);

	/* Empty (a run stopped half-way): our role put in it. */
	http_stub_reset(stub);
	add(200, profile_xml("GetInstanceProfile", "P", NULL));
	add(200, role_xml);
	add(200, attached(SSM_ARN, NULL));
	add(200, empty_ok("AddRoleToInstanceProfile"));
	CHECK_INT(viam_ensure_instance_profile(c, "P", &res, &err), 0);
	check_actions("GetInstanceProfile GetRole ListAttachedRolePolicies "
		      "AddRoleToInstanceProfile");
	CHECK_FORM(3, "RoleName", "P");
	CHECK(res.created && res.updated);
	CHECK_STR(res.arn, "arn:aws:iam::1:instance-profile/P");
	viam_role_result_free(&res);
}

static void test_profile_errors(vaws_client *c)
{
	vmie_error err = {0};
	viam_role_result res;

	http_stub_reset(stub);
	add(404, no_such_entity);
	add(404, no_such_entity);
	add(403, "<ErrorResponse " IAM_NS "><Error><Type>Sender</Type><Code>AccessDenied"
		 "</Code><Message>User x is not authorized to perform: iam:CreateRole"
		 "</Message></Error><RequestId>rq-1</RequestId></ErrorResponse>");
	CHECK_INT(viam_ensure_instance_profile(c, "P", &res, &err),
		  VMIE_ERR_AWS_INSTANCE_PROFILE_CREATE_FAILED);
	check_actions("GetInstanceProfile GetRole CreateRole");
	CHECK_INT(err.status, VMIE_ERR_AWS_INSTANCE_PROFILE_CREATE_FAILED);
	CHECK_STR(err.aws_code, "AccessDenied");
	CHECK_STR(err.operation, "CreateRole");
	CHECK_STR(err.request_id, "rq-1");
	CHECK_CONTAINS(err.message, "iam:CreateRole");
	CHECK(res.arn == NULL);
	vmie_error_clear(&err);

	/* The second role a profile cannot hold is an error, not success. */
	http_stub_reset(stub);
	add(200, profile_xml("GetInstanceProfile", "P", NULL));
	add(200, role_xml);
	add(200, attached(SSM_ARN, NULL));
	add(409, "<ErrorResponse " IAM_NS "><Error><Code>LimitExceeded</Code><Message>Cannot "
		 "exceed quota for InstanceSessionsPerInstanceProfile: 1</Message></Error>"
		 "</ErrorResponse>");
	CHECK_INT(viam_ensure_instance_profile(c, "P", &res, NULL),
		  VMIE_ERR_AWS_INSTANCE_PROFILE_CREATE_FAILED);
}

static void test_partition(void)
{
	vmie_error err = {0};
	viam_role_result res;
	vaws_client *c = awst_client(stub, "cn-north-1");
	CHECK(c != NULL);
	if (!c)
		return;
	http_stub_reset(stub);
	add(200, profile_xml("GetInstanceProfile", "P", "R"));
	add(200, attached(SSM_ARN, NULL)); /* the aws partition's: not ours */
	add(200, empty_ok("AttachRolePolicy"));
	CHECK_INT(viam_ensure_instance_profile(c, "P", &res, &err), 0);
	CHECK_FORM(2, "PolicyArn", "arn:aws-cn:iam::aws:policy/AmazonSSMManagedInstanceCore");
	viam_role_result_free(&res);
	vaws_client_free(c);
}

static void test_bucket_encryption(vaws_client *c)
{
	vmie_error err = {0};
	char *alg = NULL;

	http_stub_reset(stub);
	http_stub_add(stub, "GET", "/b1", 200, "Content-Type: application/xml\r\n",
		      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		      "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
		      "2006-03-01/\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>"
		      "AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
		      "<BucketKeyEnabled>false</BucketKeyEnabled></Rule>"
		      "</ServerSideEncryptionConfiguration>");
	http_stub_add(stub, "GET", "/b2", 200, NULL,
		      "<ServerSideEncryptionConfiguration><Rule>"
		      "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>"
		      "<KMSMasterKeyID>arn:aws:kms:us-east-1:1:key/k</KMSMasterKeyID>"
		      "</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true"
		      "</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>");
	http_stub_add(stub, "GET", "/b3", 404, NULL,
		      "<Error><Code>ServerSideEncryptionConfigurationNotFoundError</Code>"
		      "<Message>The server side encryption configuration was not found</Message>"
		      "<BucketName>b3</BucketName><RequestId>x</RequestId></Error>");
	http_stub_add(stub, "GET", "/b4", 403, NULL,
		      "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
		      "<RequestId>x</RequestId></Error>");
	http_stub_add(stub, "GET", "/b5", 200, NULL, "not xml <");

	CHECK_INT(vs3_bucket_encryption(c, "b1", &alg, &err), 0);
	CHECK_STR(alg, "AES256");
	free(alg);
	http_stub_request rq;
	CHECK(http_stub_request_get(stub, 0, &rq));
	CHECK_STR(rq.method, "GET");
	CHECK_STR(rq.target, "/b1?encryption=");
	http_stub_request_free(&rq);
	CHECK_INT(vs3_bucket_encryption(c, "b2", &alg, &err), 0);
	CHECK_STR(alg, "aws:kms");
	free(alg);
	CHECK_INT(vs3_bucket_encryption(c, "b3", &alg, &err), 0);
	CHECK(alg == NULL && err.message == NULL);
	CHECK(vs3_bucket_encryption(c, "b4", &alg, &err) != 0);
	CHECK(alg == NULL);
	CHECK_STR(err.aws_code, "AccessDenied");
	CHECK_STR(err.operation, "GetBucketEncryption");
	vmie_error_clear(&err);
	CHECK(vs3_bucket_encryption(c, "b5", &alg, &err) != 0);
	CHECK(alg == NULL && err.message != NULL);
	vmie_error_clear(&err);
}

int main(void)
{
	awst_isolate_env();
	stub = http_stub_start();
	if (!stub) {
		printf("SKIP iam_profile: cannot start the local HTTP stub\n");
		return 77;
	}
	vaws_client *c = awst_client(stub, "us-west-2");
	CHECK(c != NULL);
	if (c) {
		test_profile_missing(c);
		test_profile_exists(c);
		test_profile_errors(c);
		test_bucket_encryption(c);
		vaws_client_free(c);
	}
	test_partition();
	http_stub_stop(stub);
	return check_done("iam_profile");
}
