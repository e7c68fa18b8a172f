/* The temporary instance's EC2 calls (RunInstances, DescribeInstances,
 * Stop, Terminate, CreateImage, CreateTags) against the local HTTP stub:
 * parameters, the base64 user data, AWS-shaped answers (copied from the
 * emulator), NotFound mapping, errors, and which calls are retried. */
#include "aws/ec2.h"
#include "aws_test_util.h"
#include "check.h"
#include "http_stub.h"

#include <stdlib.h>
#include <string.h>

#define NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""

static http_stub *stub;

#define CHECK_FORM(i, key, want) AWST_CHECK_FORM(stub, i, key, want)

static void answer(int status, const char *body)
{
	awst_answer(stub, status, NULL, body);
}

/* One instance as the emulator (and EC2) renders it. */
static const char *instance_item(const char *id, const char *state, bool tagged)
{
	static char buf[4][2048];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 2048,
		 "<item><instanceId>%s</instanceId><imageId>ami-1</imageId><instanceState>"
		 "<code>16</code><name>%s</name></instanceState><privateDnsName>ip</privateDnsName>"
		 "<reason/><productCodes/><instanceType>t3.micro</instanceType>"
		 "<launchTime>2026-01-02T03:04:05.000Z</launchTime><placement>"
		 "<availabilityZone>us-east-1a</availabilityZone></placement>"
		 "<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs>"
		 "<volumeId>vol-1</volumeId><status>attached</status></ebs></item>"
		 "</blockDeviceMapping><groupSet><item><groupName>default</groupName></item>"
		 "</groupSet>%s<metadataOptions><state>applied</state><httpTokens>required"
		 "</httpTokens></metadataOptions>%s</item>",
		 id, state,
		 tagged ? "<tagSet><item><key>vmie:purpose</key><value>sanbootable</value>"
			  "</item><item><key>Name</key><value></value></item></tagSet>"
			: "<tagSet/>",
		 strcmp(state, "stopped") == 0
			 ? "<stateReason><code>Client.UserInitiatedShutdown</code><message>"
			   "Client.UserInitiatedShutdown: User initiated shutdown</message>"
			   "</stateReason>"
			 : "");
	return b;
}

static char *reservations(const char *a, const char *b, const char *next)
{
	static char buf[8192];
	snprintf(buf, sizeof(buf),
		 "<DescribeInstancesResponse " NS "><requestId>r</requestId><reservationSet>"
		 "<item><reservationId>r-1</reservationId><ownerId>1</ownerId><groupSet/>"
		 "<instancesSet>%s</instancesSet></item>%s%s%s</reservationSet>%s%s%s"
		 "</DescribeInstancesResponse>",
		 a, b ? "<item><reservationId>r-2</reservationId><instancesSet>" : "",
		 b ? b : "", b ? "</instancesSet></item>" : "",
		 next ? "<nextToken>" : "", next ? next : "", next ? "</nextToken>" : "");
	return buf;
}

static void no_sleep(void *ctx, long delay_ms)
{
	(void)delay_ms;
	(*(int *)ctx)++;
}

static void test_run(vaws_client *c)
{
	vmie_error err = {0};
	vkv tags = VKV_INIT;
	char *id = NULL;

	vkv_add(&tags, "vmie:purpose", "sanbootable");
	vkv_add(&tags, "vmie:run", "run-1");
	answer(200, "<RunInstancesResponse " NS "><requestId>r</requestId><reservationId>r-1"
		    "</reservationId><ownerId>1</ownerId><groupSet/><instancesSet>"
		    "<item><instanceId>i-0123456789abcdef0</instanceId><imageId>ami-1</imageId>"
		    "<instanceState><code>0</code><name>pending</name></instanceState></item>"
		    "</instancesSet></RunInstancesResponse>");
	vec2_run_params p = {.image_id = "ami-1", .instance_type = "t3.micro",
			     .subnet_id = "subnet-a", .instance_profile_name = "VMIEProfile",
			     .user_data = "#!/bin/sh\necho hi\n", .client_token = "tok",
			     .tags = &tags};
	CHECK_INT(vec2_run_instance(c, &p, &id, &err), 0);
	CHECK_STR(id, "i-0123456789abcdef0");
	free(id);
	const char *want[][2] = {
		{"Action", "RunInstances"}, {"ImageId", "ami-1"}, {"InstanceType", "t3.micro"},
		{"MinCount", "1"}, {"MaxCount", "1"}, {"SubnetId", "subnet-a"},
		{"IamInstanceProfile.Name", "VMIEProfile"}, {"ClientToken", "tok"},
		/* base64 of "#!/bin/sh\necho hi\n" */
		{"UserData", "IyEvYmluL3NoCmVjaG8gaGkK"},
		{"MetadataOptions.HttpTokens", "required"},
		{"MetadataOptions.HttpEndpoint", "enabled"},
		{"TagSpecification.1.ResourceType", "instance"},
		{"TagSpecification.1.Tag.1.Key", "vmie:purpose"},
		{"TagSpecification.1.Tag.1.Value", "sanbootable"},
		{"TagSpecification.1.Tag.2.Key", "vmie:run"},
		{"TagSpecification.1.Tag.2.Value", "run-1"},
		{"TagSpecification.2.ResourceType", "volume"},
		{"TagSpecification.2.Tag.1.Key", "vmie:purpose"},
		{"TagSpecification.2.Tag.2.Value", "run-1"},
		{"InstanceInitiatedShutdownBehavior", NULL},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_FORM(0, want[i][0], want[i][1]);

	/* The base64 padding cases, and no subnet / no user data / no tags. */
	const char *pads[][2] = {{"a", "YQ=="}, {"ab", "YWI="}, {"abc", "YWJj"}};
	for (int i = 0; i < 3; i++) {
		vec2_run_params q = {.image_id = "ami-1", .instance_type = "t3.micro",
				     .user_data = pads[i][0]};
		CHECK_INT(vec2_run_instance(c, &q, &id, &err), 0);
		free(id);
		CHECK_FORM((size_t)i + 1, "UserData", pads[i][1]);
		CHECK_FORM((size_t)i + 1, "SubnetId", NULL);
		CHECK_FORM((size_t)i + 1, "ClientToken", NULL);
		CHECK_FORM((size_t)i + 1, "TagSpecification.1.ResourceType", NULL);
	}

	/* AWS's refusal reaches err with the launch status. */
	answer(400, awst_ec2_error("VPCIdNotSpecified"));
	CHECK_INT(vec2_run_instance(c, &p, &id, &err), VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED);
	CHECK(id == NULL);
	CHECK_STR(err.aws_code, "VPCIdNotSpecified");
	CHECK_CONTAINS(err.message, "about VPCIdNotSpecified");
	CHECK_INT(err.status, VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED);
	vmie_error_clear(&err);
	vkv_free(&tags);
}

/* With a token RunInstances is retried after a 503; without one it is
 * not (a second instance could start), nor is CreateImage. */
static void test_retries(void)
{
	int sleeps = 0;
	char *id = NULL;
	vmie_error err = {0};

	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	vaws_client *c = NULL;
	CHECK_INT(vaws_client_new(NULL, &c, NULL), 0);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	if (!c)
		return;
	vaws_client_set_sleep(c, no_sleep, &sleeps);
	const char *ok = "<RunInstancesResponse " NS "><instancesSet><item><instanceId>i-1"
			 "</instanceId></item></instancesSet></RunInstancesResponse>";
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 503, NULL, awst_ec2_error("Unavailable"));
	http_stub_add(stub, "POST", "/", 200, NULL, ok);
	vec2_run_params p = {.image_id = "ami-1", .instance_type = "t3.micro",
			     .client_token = "tok"};
	CHECK_INT(vec2_run_instance(c, &p, &id, &err), 0);
	CHECK_STR(id, "i-1");
	free(id);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 2);

	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 503, NULL, awst_ec2_error("Unavailable"));
	http_stub_add(stub, "POST", "/", 200, NULL, ok);
	p.client_token = NULL;
	CHECK_INT(vec2_run_instance(c, &p, &id, &err), VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 1);
	vmie_error_clear(&err);

	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 503, NULL, awst_ec2_error("Unavailable"));
	http_stub_add(stub, "POST", "/", 200, NULL, "<CreateImageResponse " NS "><imageId>"
		      "ami-2</imageId></CreateImageResponse>");
	vec2_create_image_params ci = {.instance_id = "i-1", .name = "n"};
	CHECK_INT(vec2_create_image(c, &ci, &id, &err), VMIE_ERR_AWS_AMI_CREATE_FAILED);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 1);
	CHECK_STR(err.aws_code, "Unavailable");
	vmie_error_clear(&err);
	vaws_client_free(c);
}

static void test_describe(vaws_client *c)
{
	vmie_error err = {0};
	vec2_instance in;

	answer(200, reservations(instance_item("i-1", "stopped", true), NULL, NULL));
	CHECK_INT(vec2_describe_instance(c, "i-1", &in, &err), 0);
	CHECK_FORM(0, "Action", "DescribeInstances");
	CHECK_FORM(0, "InstanceId.1", "i-1");
	CHECK_STR(in.instance_id, "i-1");
	CHECK_STR(in.state, "stopped");
	CHECK_STR(in.state_reason, "Client.UserInitiatedShutdown: User initiated shutdown");
	CHECK_STR(in.image_id, "ami-1");
	CHECK_STR(in.launch_time, "2026-01-02T03:04:05.000Z");
	CHECK_INT(in.tags.n, 2);
	CHECK_STR(vkv_get(&in.tags, "vmie:purpose"), "sanbootable");
	CHECK_STR(vkv_get(&in.tags, "Name"), "");
	vec2_instance_free(&in);
	CHECK(in.instance_id == NULL && in.tags.n == 0);
	vec2_instance_free(NULL);

	/* Just launched and not yet visible; or long gone. */
	answer(400, awst_ec2_error("InvalidInstanceID.NotFound"));
	CHECK_INT(vec2_describe_instance(c, "i-2", &in, &err), VEC2_NOT_FOUND);
	CHECK(err.message == NULL && in.instance_id == NULL);
	answer(200, "<DescribeInstancesResponse " NS "><reservationSet/>"
		    "</DescribeInstancesResponse>");
	CHECK_INT(vec2_describe_instance(c, "i-2", &in, &err), VEC2_NOT_FOUND);
	answer(400, awst_ec2_error("InvalidInstanceID.Malformed"));
	CHECK_INT(vec2_describe_instance(c, "i-2", &in, &err),
		  VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED);
	CHECK_STR(err.aws_code, "InvalidInstanceID.Malformed");
	vmie_error_clear(&err);
}

static void test_find(vaws_client *c)
{
	vmie_error err = {0};
	vkv tags = VKV_INIT;
	vec2_instance *found = NULL;
	size_t n = 0;

	vkv_add(&tags, "vmie:purpose", "sanbootable");
	vkv_add(&tags, "vmie:run", "r 1");
	http_stub_reset(stub);
	/* Two pages: two reservations, then one more instance. */
	char *page1 = strdup(reservations(instance_item("i-1", "running", true),
					  instance_item("i-2", "stopped", false), "tok-2"));
	http_stub_add(stub, "POST", "/", 200, NULL, page1);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      reservations(instance_item("i-3", "pending", true), NULL, NULL));
	free(page1);
	CHECK_INT(vec2_find_instances(c, &tags, true, &found, &n, &err), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(found[0].instance_id, "i-1");
		CHECK_STR(found[1].state, "stopped");
		CHECK_STR(found[2].instance_id, "i-3");
	}
	for (size_t i = 0; i < n; i++)
		vec2_instance_free(&found[i]);
	free(found);
	const char *want[][2] = {
		{"Action", "DescribeInstances"},
		{"Filter.1.Name", "tag:vmie:purpose"}, {"Filter.1.Value.1", "sanbootable"},
		{"Filter.2.Name", "tag:vmie:run"}, {"Filter.2.Value.1", "r 1"},
		{"Filter.3.Name", "instance-state-name"}, {"Filter.3.Value.1", "pending"},
		{"Filter.3.Value.2", "running"}, {"Filter.3.Value.3", "stopping"},
		{"Filter.3.Value.4", "stopped"}, {"NextToken", NULL},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_FORM(0, want[i][0], want[i][1]);
	CHECK_FORM(1, "NextToken", "tok-2");
	CHECK_FORM(1, "Filter.3.Value.4", "stopped");

	/* All states: no state filter; nothing found: an empty array. */
	answer(200, "<DescribeInstancesResponse " NS "><reservationSet/>"
		    "</DescribeInstancesResponse>");
	CHECK_INT(vec2_find_instances(c, &tags, false, &found, &n, &err), 0);
	CHECK(n == 0 && found == NULL);
	CHECK_FORM(0, "Filter.3.Name", NULL);
	CHECK_FORM(0, "Filter.2.Name", "tag:vmie:run");

	/* A failure on the second page: nothing returned, nothing leaked. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      reservations(instance_item("i-1", "running", true), NULL, "t"));
	http_stub_add(stub, "POST", "/", 400, NULL, awst_ec2_error("InvalidPaginationToken"));
	CHECK_INT(vec2_find_instances(c, &tags, true, &found, &n, &err),
		  VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED);
	CHECK(n == 0 && found == NULL);
	CHECK_STR(err.aws_code, "InvalidPaginationToken");
	vmie_error_clear(&err);
	vkv_free(&tags);
}

static void test_stop_terminate(vaws_client *c)
{
	vmie_error err = {0};
	const char *changed = "<StopInstancesResponse " NS "><instancesSet><item><instanceId>"
			      "i-1</instanceId><currentState><code>64</code><name>stopping"
			      "</name></currentState><previousState><code>16</code><name>"
			      "running</name></previousState></item></instancesSet>"
			      "</StopInstancesResponse>";
	answer(200, changed);
	CHECK_INT(vec2_stop_instance(c, "i-1", &err), 0);
	CHECK_FORM(0, "Action", "StopInstances");
	CHECK_FORM(0, "InstanceId.1", "i-1");
	CHECK_INT(vec2_terminate_instance(c, "i-1", &err), 0);
	CHECK_FORM(1, "Action", "TerminateInstances");
	CHECK_FORM(1, "InstanceId.1", "i-1");

	/* Already gone counts as terminated; stopping it is an error. */
	answer(400, awst_ec2_error("InvalidInstanceID.NotFound"));
	CHECK_INT(vec2_terminate_instance(c, "i-9", &err), 0);
	CHECK(err.message == NULL);
	CHECK_INT(vec2_terminate_instance(c, "i-9", NULL), 0);
	CHECK_INT(vec2_stop_instance(c, "i-9", &err), VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED);
	CHECK_STR(err.aws_code, "InvalidInstanceID.NotFound");
	vmie_error_clear(&err);
	answer(403, awst_ec2_error("UnauthorizedOperation"));
	CHECK(vec2_terminate_instance(c, "i-9", &err) != 0);
	CHECK_STR(err.aws_code, "UnauthorizedOperation");
	vmie_error_clear(&err);
}

static void test_create_image(vaws_client *c)
{
	vmie_error err = {0};
	vkv tags = VKV_INIT;
	char *id = NULL;

	vkv_add(&tags, "vmie:source-ami", "ami-1");
	vec2_block_device devs[] = {
		{.device_name = "/dev/xvda", .snapshot_id = "snap-1", .volume_type = "gp3",
		 .volume_size = 8, .ebs = true, .delete_on_termination = true},
		{.device_name = "/dev/sdb", .virtual_name = "ephemeral0"},
		{.device_name = "/dev/xvdc", .volume_size = 100, .ebs = true},
	};
	answer(200, "<CreateImageResponse " NS "><requestId>r</requestId><imageId>"
		    "ami-0abcdef0123456789</imageId></CreateImageResponse>");
	vec2_create_image_params p = {.instance_id = "i-1", .name = "my-ami sanbootable",
				      .description = "with sanbootable", .devices = devs,
				      .ndevices = 3, .tags = &tags};
	CHECK_INT(vec2_create_image(c, &p, &id, &err), 0);
	CHECK_STR(id, "ami-0abcdef0123456789");
	free(id);
	const char *want[][2] = {
		{"Action", "CreateImage"}, {"InstanceId", "i-1"}, {"Name", "my-ami sanbootable"},
		{"Description", "with sanbootable"}, {"NoReboot", "true"},
		{"BlockDeviceMapping.1.DeviceName", "/dev/xvda"},
		{"BlockDeviceMapping.1.Ebs.VolumeSize", "8"},
		{"BlockDeviceMapping.1.Ebs.VolumeType", "gp3"},
		{"BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true"},
		{"BlockDeviceMapping.1.Ebs.SnapshotId", NULL},
		/* the instance-store device is not an EBS one: skipped */
		{"BlockDeviceMapping.2.DeviceName", "/dev/xvdc"},
		{"BlockDeviceMapping.2.Ebs.VolumeSize", "100"},
		{"BlockDeviceMapping.2.Ebs.VolumeType", NULL},
		{"BlockDeviceMapping.2.Ebs.DeleteOnTermination", "false"},
		{"BlockDeviceMapping.3.DeviceName", NULL},
		{"TagSpecification.1.ResourceType", "image"},
		{"TagSpecification.1.Tag.1.Key", "vmie:source-ami"},
		{"TagSpecification.1.Tag.1.Value", "ami-1"},
		{"TagSpecification.2.ResourceType", "snapshot"},
		{"TagSpecification.2.Tag.1.Value", "ami-1"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_FORM(0, want[i][0], want[i][1]);

	answer(400, awst_ec2_error("InvalidAMIName.Duplicate"));
	CHECK_INT(vec2_create_image(c, &p, &id, &err), VMIE_ERR_AWS_AMI_CREATE_FAILED);
	CHECK(id == NULL);
	CHECK_STR(err.aws_code, "InvalidAMIName.Duplicate");
	CHECK_STR(err.operation, "CreateImage");
	vmie_error_clear(&err);

	answer(200, "<CreateTagsResponse " NS "><return>true</return></CreateTagsResponse>");
	vkv_add(&tags, "k2", "v2");
	CHECK_INT(vec2_create_tags(c, "ami-2", &tags, &err), 0);
	CHECK_FORM(0, "Action", "CreateTags");
	CHECK_FORM(0, "ResourceId.1", "ami-2");
	CHECK_FORM(0, "Tag.1.Key", "vmie:source-ami");
	CHECK_FORM(0, "Tag.1.Value", "ami-1");
	CHECK_FORM(0, "Tag.2.Key", "k2");
	CHECK_FORM(0, "Tag.2.Value", "v2");
	answer(400, awst_ec2_error("InvalidAMIID.NotFound"));
	CHECK_INT(vec2_create_tags(c, "ami-2", &tags, &err), VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_STR(err.aws_code, "InvalidAMIID.NotFound");
	vmie_error_clear(&err);
	vkv_free(&tags);
	/* No tags: no request. */
	http_stub_reset(stub);
	CHECK_INT(vec2_create_tags(c, "ami-2", &tags, &err), 0);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 0);
}

int main(void)
{
	awst_isolate_env();
	stub = http_stub_start();
	if (!stub) {
		printf("SKIP ec2_instances: cannot start the local HTTP stub\n");
		return 77;
	}
	vaws_client *c = awst_client(stub, "us-east-1");
	CHECK(c != NULL);
	if (c) {
		test_run(c);
		test_describe(c);
		test_find(c);
		test_stop_terminate(c);
		test_create_image(c);
		vaws_client_free(c);
	}
	test_retries();
	http_stub_stop(stub);
	return check_done("ec2_instances");
}
