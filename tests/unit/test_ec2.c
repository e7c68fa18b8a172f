/* The typed EC2 calls beyond VM Import (images, export, the default
 * network; instances in test_ec2_instances.c) against the local HTTP
 * stub: the exact parameters they send, how they read AWS-shaped answers
 * (copied from the emulator, which mirrors AWS), NotFound mapping, and an
 * error answer's code and message reaching err. */
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

static const char *image_xml =
	"<DescribeImagesResponse " NS "><requestId>r</requestId><imagesSet><item>"
	"<imageId>ami-0123456789abcdef0</imageId><imageLocation>1/x</imageLocation>"
	"<imageState>available</imageState><imageOwnerId>123456789012</imageOwnerId>"
	"<creationDate>2026-01-02T03:04:05.000Z</creationDate><isPublic>false</isPublic>"
	"<productCodes><item><productCode>abc</productCode><type>marketplace</type></item>"
	"</productCodes>"
	"<architecture>x86_64</architecture><imageType>machine</imageType>"
	"<platformDetails>Linux/UNIX</platformDetails><usageOperation>RunInstances"
	"</usageOperation><name>my-image</name><rootDeviceType>ebs</rootDeviceType>"
	"<rootDeviceName>/dev/xvda</rootDeviceName><blockDeviceMapping>"
	"<item><deviceName>/dev/xvda</deviceName><ebs><deleteOnTermination>true"
	"</deleteOnTermination><snapshotId>snap-1</snapshotId><volumeSize>8</volumeSize>"
	"<volumeType>gp3</volumeType><encrypted>false</encrypted></ebs></item>"
	"<item><deviceName>/dev/xvdb</deviceName><ebs><deleteOnTermination>false"
	"</deleteOnTermination><snapshotId>snap-2</snapshotId><volumeSize>100</volumeSize>"
	"<volumeType>gp2</volumeType><encrypted>true</encrypted><kmsKeyId>arn:k</kmsKeyId>"
	"</ebs></item>"
	"<item><deviceName>/dev/sdc</deviceName><virtualName>ephemeral0</virtualName></item>"
	"</blockDeviceMapping><virtualizationType>hvm</virtualizationType>"
	"<tagSet><item><key>a</key><value>b</value></item></tagSet>"
	"<hypervisor>xen</hypervisor><enaSupport>true</enaSupport>"
	"<bootMode>uefi</bootMode></item></imagesSet></DescribeImagesResponse>";

static void test_images(vaws_client *c)
{
	vmie_error err = {0};
	vec2_image img;

	answer(200, image_xml);
	CHECK_INT(vec2_describe_image(c, "ami-0123456789abcdef0", &img, &err), 0);
	CHECK_FORM(0, "Action", "DescribeImages");
	CHECK_FORM(0, "Version", "2016-11-15");
	CHECK_FORM(0, "ImageId.1", "ami-0123456789abcdef0");
	CHECK_STR(img.image_id, "ami-0123456789abcdef0");
	CHECK_STR(img.name, "my-image");
	CHECK_STR(img.state, "available");
	CHECK_STR(img.state_reason, NULL);
	CHECK_STR(img.owner_id, "123456789012");
	CHECK_STR(img.platform, NULL);
	CHECK_STR(img.platform_details, "Linux/UNIX");
	CHECK_STR(img.usage_operation, "RunInstances");
	CHECK_STR(img.architecture, "x86_64");
	CHECK_STR(img.boot_mode, "uefi");
	CHECK_STR(img.root_device_name, "/dev/xvda");
	CHECK_STR(img.virtualization_type, "hvm");
	CHECK(img.ena_support && !img.is_public);
	CHECK_INT(img.nproduct_codes, 1);
	CHECK_INT(img.ndevices, 3);
	if (img.ndevices == 3) {
		CHECK_STR(img.devices[0].device_name, "/dev/xvda");
		CHECK(img.devices[0].ebs && !img.devices[0].encrypted &&
		      img.devices[0].delete_on_termination);
		CHECK_INT(img.devices[0].volume_size, 8);
		CHECK_STR(img.devices[0].volume_type, "gp3");
		CHECK_STR(img.devices[0].snapshot_id, "snap-1");
		CHECK(img.devices[1].encrypted && !img.devices[1].delete_on_termination);
		CHECK_STR(img.devices[1].kms_key_id, "arn:k");
		CHECK_INT(img.devices[1].volume_size, 100);
		CHECK(!img.devices[2].ebs);
		CHECK_STR(img.devices[2].virtual_name, "ephemeral0");
	}
	CHECK(vec2_image_encrypted(&img));
	CHECK(!vec2_image_windows(&img));
	vec2_image_free(&img);
	CHECK(img.image_id == NULL && img.devices == NULL);
	vec2_image_free(NULL);

	/* A failed Windows image: platform and the reason. */
	answer(200, "<DescribeImagesResponse " NS "><imagesSet><item><imageId>ami-1</imageId>"
		    "<imageState>failed</imageState><stateReason><code>x</code><message>"
		    "Client.Error: broken</message></stateReason><platform>windows</platform>"
		    "<blockDeviceMapping/></item></imagesSet></DescribeImagesResponse>");
	CHECK_INT(vec2_describe_image(c, "ami-1", &img, &err), 0);
	CHECK_STR(img.state, "failed");
	CHECK_STR(img.state_reason, "Client.Error: broken");
	CHECK_STR(img.platform, "windows");
	CHECK(!vec2_image_encrypted(&img) && img.ndevices == 0);
	CHECK(vec2_image_windows(&img));
	vec2_image_free(&img);
	/* Windows by its license alone (usage operation) or its details. */
	vec2_image w = {.usage_operation = "RunInstances:0002"};
	CHECK(vec2_image_windows(&w));
	w = (vec2_image){.platform_details = "Windows with SQL Server Standard"};
	CHECK(vec2_image_windows(&w));
	w = (vec2_image){.platform_details = "Linux/UNIX", .usage_operation = "RunInstances"};
	CHECK(!vec2_image_windows(&w));

	/* Unknown: the error code, or an empty set (deregistered). */
	answer(400, awst_ec2_error("InvalidAMIID.NotFound"));
	CHECK_INT(vec2_describe_image(c, "ami-2", &img, &err), VEC2_NOT_FOUND);
	CHECK(err.message == NULL && err.aws_code == NULL && err.status == 0);
	CHECK(img.image_id == NULL);
	CHECK_INT(vec2_describe_image(c, "ami-2", &img, NULL), VEC2_NOT_FOUND);
	answer(200, "<DescribeImagesResponse " NS "><imagesSet/></DescribeImagesResponse>");
	CHECK_INT(vec2_describe_image(c, "ami-2", &img, &err), VEC2_NOT_FOUND);
	CHECK(err.message == NULL);

	/* Malformed is a real error: AWS's code and words reach err. */
	answer(400, awst_ec2_error("InvalidAMIID.Malformed"));
	CHECK_INT(vec2_describe_image(c, "ami-x", &img, &err), VMIE_ERR_AWS_AMI_FETCH_FAILED);
	CHECK_INT(err.status, VMIE_ERR_AWS_AMI_FETCH_FAILED);
	CHECK_STR(err.aws_code, "InvalidAMIID.Malformed");
	CHECK_STR(err.operation, "DescribeImages");
	CHECK_STR(err.request_id, "req-9");
	CHECK_CONTAINS(err.message, "does not exist");
	CHECK(err.http_status == 400);
	vmie_error_clear(&err);
}

static void test_export(vaws_client *c)
{
	vmie_error err = {0};
	vkv tags = VKV_INIT;
	char *id = NULL;

	vkv_add(&tags, "vmie:run", "r1");
	vkv_add(&tags, "empty", "");
	answer(200, "<ExportImageResponse " NS "><requestId>r</requestId>"
		    "<exportImageTaskId>export-ami-0123456789abcdef0</exportImageTaskId>"
		    "<imageId>ami-1</imageId><diskImageFormat>RAW</diskImageFormat>"
		    "<roleName>vmimport</roleName><status>active</status><statusMessage>"
		    "validating</statusMessage><progress>0</progress><s3ExportLocation>"
		    "<s3Bucket>b</s3Bucket><s3Prefix>exports/</s3Prefix></s3ExportLocation>"
		    "</ExportImageResponse>");
	vec2_export_params p = {.image_id = "ami-1", .disk_image_format = "RAW",
				.bucket = "b", .prefix = "exports/", .role_name = "myrole",
				.description = "d", .client_token = "tok-1", .tags = &tags};
	CHECK_INT(vec2_export_image(c, &p, &id, &err), 0);
	CHECK_STR(id, "export-ami-0123456789abcdef0");
	free(id);
	const char *want[][2] = {
		{"Action", "ExportImage"}, {"ImageId", "ami-1"}, {"DiskImageFormat", "RAW"},
		{"S3ExportLocation.S3Bucket", "b"}, {"S3ExportLocation.S3Prefix", "exports/"},
		{"RoleName", "myrole"}, {"Description", "d"}, {"ClientToken", "tok-1"},
		{"TagSpecification.1.ResourceType", "export-image-task"},
		{"TagSpecification.1.Tag.1.Key", "vmie:run"},
		{"TagSpecification.1.Tag.1.Value", "r1"},
		{"TagSpecification.1.Tag.2.Key", "empty"},
		{"TagSpecification.1.Tag.2.Value", ""},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_FORM(0, want[i][0], want[i][1]);
	CHECK_INT(awst_form_count(stub, 0), 14); /* the 13 above and Version */

	/* No role, no description, no tags: not sent (AWS's defaults). */
	vec2_export_params bare = {.image_id = "ami-1", .disk_image_format = "VHD",
				   .bucket = "b", .client_token = "tok-2"};
	CHECK_INT(vec2_export_image(c, &bare, &id, &err), 0);
	free(id);
	CHECK_FORM(1, "RoleName", NULL);
	CHECK_FORM(1, "Description", NULL);
	CHECK_FORM(1, "S3ExportLocation.S3Prefix", NULL);
	CHECK_FORM(1, "TagSpecification.1.ResourceType", NULL);

	/* AWS refuses (a KMS bucket): its words, the export status. */
	answer(400, "<Response><Errors><Error><Code>InvalidParameter</Code><Message>The S3 "
		    "bucket b uses SSE-KMS default encryption</Message></Error></Errors>"
		    "<RequestID>q</RequestID></Response>");
	CHECK_INT(vec2_export_image(c, &p, &id, &err), VMIE_ERR_AWS_EXPORT_TASK_FAILED);
	CHECK(id == NULL);
	CHECK_STR(err.aws_code, "InvalidParameter");
	CHECK_CONTAINS(err.message, "SSE-KMS");
	vmie_error_clear(&err);
	answer(200, "<ExportImageResponse " NS "><status>active</status></ExportImageResponse>");
	CHECK_INT(vec2_export_image(c, &p, &id, &err), VMIE_ERR_AWS_EXPORT_TASK_FAILED);
	CHECK(id == NULL);
	vmie_error_clear(&err);
	vkv_free(&tags);

	/* The task while it runs, when done (no progress), and unknown. */
	vec2_export_task t;
	answer(200, "<DescribeExportImageTasksResponse " NS "><requestId>r</requestId>"
		    "<exportImageTaskSet><item><exportImageTaskId>export-ami-1"
		    "</exportImageTaskId><imageId>ami-1</imageId><status>active</status>"
		    "<statusMessage>converting</statusMessage><progress>85</progress>"
		    "<s3ExportLocation><s3Bucket>b</s3Bucket><s3Prefix>exports/</s3Prefix>"
		    "</s3ExportLocation><tagSet/></item></exportImageTaskSet>"
		    "</DescribeExportImageTasksResponse>");
	CHECK_INT(vec2_describe_export_image_task(c, "export-ami-1", &t, &err), 0);
	CHECK_FORM(0, "Action", "DescribeExportImageTasks");
	CHECK_FORM(0, "ExportImageTaskId.1", "export-ami-1");
	CHECK_STR(t.status, "active");
	CHECK_STR(t.status_message, "converting");
	CHECK_INT(t.progress, 85);
	CHECK_STR(t.image_id, "ami-1");
	CHECK_STR(t.bucket, "b");
	CHECK_STR(t.prefix, "exports/");
	vec2_export_task_free(&t);
	answer(200, "<DescribeExportImageTasksResponse " NS "><exportImageTaskSet><item>"
		    "<exportImageTaskId>export-ami-1</exportImageTaskId><status>completed"
		    "</status><s3ExportLocation><s3Bucket>b</s3Bucket></s3ExportLocation>"
		    "</item></exportImageTaskSet></DescribeExportImageTasksResponse>");
	CHECK_INT(vec2_describe_export_image_task(c, "export-ami-1", &t, &err), 0);
	CHECK_STR(t.status, "completed");
	CHECK_INT(t.progress, -1);
	CHECK_STR(t.status_message, NULL);
	CHECK_STR(t.prefix, NULL);
	vec2_export_task_free(&t);
	answer(400, awst_ec2_error("InvalidExportTaskID.NotFound"));
	CHECK_INT(vec2_describe_export_image_task(c, "export-ami-2", &t, &err), VEC2_NOT_FOUND);
	CHECK(err.message == NULL && t.status == NULL);
	answer(200, "<DescribeExportImageTasksResponse " NS "><exportImageTaskSet/>"
		    "</DescribeExportImageTasksResponse>");
	CHECK_INT(vec2_describe_export_image_task(c, "export-ami-2", &t, &err), VEC2_NOT_FOUND);
	answer(500, awst_ec2_error("InternalError"));
	CHECK_INT(vec2_describe_export_image_task(c, "export-ami-2", &t, &err),
		  VMIE_ERR_AWS_TASK_STATUS_CHECK_FAILED);
	CHECK_STR(err.aws_code, "InternalError");
	vmie_error_clear(&err);

	answer(200, "<CancelExportTaskResponse " NS "><return>true</return>"
		    "</CancelExportTaskResponse>");
	CHECK_INT(vec2_cancel_export_task(c, "export-ami-1", &err), 0);
	CHECK_FORM(0, "Action", "CancelExportTask");
	CHECK_FORM(0, "ExportTaskId", "export-ami-1");
	answer(400, awst_ec2_error("IncorrectState"));
	CHECK_INT(vec2_cancel_export_task(c, "export-ami-1", &err),
		  VMIE_ERR_AWS_EXPORT_TASK_FAILED);
	CHECK_STR(err.aws_code, "IncorrectState");
	vmie_error_clear(&err);
}

static const char *subnet_item(const char *id, const char *az)
{
	static char buf[4][512];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 512, "<item><subnetId>%s</subnetId><state>available</state>"
		 "<vpcId>vpc-1</vpcId><ipv6CidrBlockAssociationSet/><availabilityZone>%s"
		 "</availabilityZone><defaultForAz>true</defaultForAz><tagSet/></item>",
		 id, az);
	return b;
}

static void test_network(vaws_client *c)
{
	vmie_error err = {0};
	char *subnet = NULL, *vpc = NULL;
	char subnets[2048];

	snprintf(subnets, sizeof(subnets), "<DescribeSubnetsResponse " NS "><subnetSet>%s%s%s"
		 "</subnetSet></DescribeSubnetsResponse>", subnet_item("subnet-c", "us-east-1c"),
		 subnet_item("subnet-a", "us-east-1a"), subnet_item("subnet-b", "us-east-1b"));
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<DescribeVpcsResponse " NS "><vpcSet><item><vpcId>vpc-1</vpcId>"
		      "<state>available</state><cidrBlockAssociationSet><item><associationId>"
		      "x</associationId></item></cidrBlockAssociationSet><isDefault>true"
		      "</isDefault></item></vpcSet></DescribeVpcsResponse>");
	http_stub_add(stub, "POST", "/", 200, NULL, subnets);
	CHECK_INT(vec2_default_subnet(c, &subnet, &vpc, &err), 0);
	CHECK_STR(vpc, "vpc-1");
	CHECK_STR(subnet, "subnet-a"); /* the first zone by name */
	free(subnet);
	free(vpc);
	CHECK_FORM(0, "Action", "DescribeVpcs");
	CHECK_FORM(0, "Filter.1.Name", "is-default");
	CHECK_FORM(0, "Filter.1.Value.1", "true");
	CHECK_FORM(1, "Action", "DescribeSubnets");
	CHECK_FORM(1, "Filter.1.Name", "vpc-id");
	CHECK_FORM(1, "Filter.1.Value.1", "vpc-1");
	CHECK_FORM(1, "Filter.2.Name", "default-for-az");
	CHECK_FORM(1, "Filter.2.Value.1", "true");

	/* All of them, in zone order, for a launch a zone refuses. */
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<DescribeVpcsResponse " NS "><vpcSet><item><vpcId>vpc-1</vpcId>"
		      "</item></vpcSet></DescribeVpcsResponse>");
	http_stub_add(stub, "POST", "/", 200, NULL, subnets);
	char **all = NULL;
	size_t n = 0;
	CHECK_INT(vec2_default_subnets(c, &all, &n, &vpc, &err), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(all[0], "subnet-a");
		CHECK_STR(all[1], "subnet-b");
		CHECK_STR(all[2], "subnet-c");
	}
	for (size_t i = 0; i < n; i++)
		free(all[i]);
	free(all);
	free(vpc);
	vpc = NULL;

	/* The default VPC was deleted; or it has no default subnet. */
	answer(200, "<DescribeVpcsResponse " NS "><vpcSet/></DescribeVpcsResponse>");
	CHECK_INT(vec2_default_subnet(c, &subnet, &vpc, &err), VEC2_NO_DEFAULT_VPC);
	CHECK(subnet == NULL && vpc == NULL && err.message == NULL);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 1);
	http_stub_reset(stub);
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<DescribeVpcsResponse " NS "><vpcSet><item><vpcId>vpc-1</vpcId>"
		      "</item></vpcSet></DescribeVpcsResponse>");
	http_stub_add(stub, "POST", "/", 200, NULL,
		      "<DescribeSubnetsResponse " NS "><subnetSet/></DescribeSubnetsResponse>");
	CHECK_INT(vec2_default_subnet(c, &subnet, &vpc, &err), VEC2_NO_DEFAULT_SUBNET);
	CHECK(subnet == NULL && vpc == NULL && err.message == NULL);

	answer(403, awst_ec2_error("UnauthorizedOperation"));
	CHECK_INT(vec2_default_subnet(c, &subnet, &vpc, &err),
		  VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED);
	CHECK(subnet == NULL && vpc == NULL);
	CHECK_STR(err.aws_code, "UnauthorizedOperation");
	vmie_error_clear(&err);
}

int main(void)
{
	awst_isolate_env();
	stub = http_stub_start();
	if (!stub) {
		printf("SKIP ec2: cannot start the local HTTP stub\n");
		return 77;
	}
	vaws_client *c = awst_client(stub, "us-east-1");
	CHECK(c != NULL);
	if (c) {
		test_images(c);
		test_export(c);
		test_network(c);
		vaws_client_free(c);
	}
	http_stub_stop(stub);
	return check_done("ec2");
}
