/* Error responses of every protocol, and bodies that are not AWS's. */
#include "aws/awserr.h"
#include "check.h"

#include <stdlib.h>

static void resp(vhttp_response *rs, long status, const char *body)
{
	vhttp_response_free(rs);
	rs->status = status;
	if (body)
		vbuf_adds(&rs->body, body);
}

static void test_ec2(void)
{
	vhttp_response rs = {0};
	vmie_error err = {0};
	/* aws-facts §7 (moto/EC2 shape: capital RequestID). */
	resp(&rs, 400,
	     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors>"
	     "<Error><Code>InvalidAMIID.NotFound</Code><Message>The image id "
	     "'[ami-0123456789abcdef0]' does not exist</Message></Error>"
	     "</Errors><RequestID>59dbff89-35bd-4eac-99ed-be587EXAMPLE"
	     "</RequestID></Response>");
	CHECK_INT(vawserr_from_response(&err, "ec2", "DescribeImages", &rs),
		  VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_INT(err.status, VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK_STR(err.service, "ec2");
	CHECK_STR(err.operation, "DescribeImages");
	CHECK_STR(err.aws_code, "InvalidAMIID.NotFound");
	CHECK_STR(err.request_id, "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
	CHECK_INT(err.http_status, 400);
	CHECK_STR(err.message,
		  "EC2 DescribeImages failed: InvalidAMIID.NotFound: The "
		  "image id '[ami-0123456789abcdef0]' does not exist (HTTP 400)");

	resp(&rs, 403,
	     "<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
	     "<Message>You are not authorized to perform this operation. "
	     "Encoded authorization failure message: AbCd</Message></Error>"
	     "</Errors><RequestID>r-2</RequestID></Response>");
	vawserr_from_response(&err, "ec2", "ImportImage", &rs);
	CHECK_STR(err.aws_code, "UnauthorizedOperation");
	CHECK_CONTAINS(err.hint, "decode-authorization-message");

	resp(&rs, 503,
	     "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
	     "<Message>Request limit exceeded.</Message></Error></Errors>"
	     "<RequestID>r-3</RequestID></Response>");
	vawserr_from_response(&err, "ec2", "DescribeImportImageTasks", &rs);
	CHECK_STR(err.aws_code, "RequestLimitExceeded");
	CHECK_CONTAINS(err.hint, "throttling");
	vmie_error_clear(&err);
	vhttp_response_free(&rs);
}

static void test_query(void)
{
	vhttp_response rs = {0};
	vmie_error err = {0};
	/* A real STS answer (botocore debug log, aws-azure-login#251). */
	resp(&rs, 403,
	     "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/"
	     "\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>"
	     "InvalidClientTokenId</Code>\n    <Message>The security token "
	     "included in the request is invalid</Message>\n  </Error>\n  "
	     "<RequestId>16fc956c-311e-4199-bee1-1680236e9698</RequestId>\n"
	     "</ErrorResponse>\n");
	vkv_add(&rs.headers, "x-amzn-RequestId",
		"16fc956c-311e-4199-bee1-1680236e9698");
	vawserr_from_response(&err, "sts", "GetCallerIdentity", &rs);
	CHECK_STR(err.aws_code, "InvalidClientTokenId");
	CHECK_STR(err.request_id, "16fc956c-311e-4199-bee1-1680236e9698");
	CHECK_STR(err.message,
		  "STS GetCallerIdentity failed: InvalidClientTokenId: The "
		  "security token included in the request is invalid "
		  "(HTTP 403)");
	CHECK_CONTAINS(err.hint, "access key");

	/* IAM, with moto's duplicate lower-case <message>. */
	resp(&rs, 404,
	     "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/"
	     "\"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>"
	     "The role with name vmimport cannot be found.</Message><message>"
	     "The role with name vmimport cannot be found.</message></Error>"
	     "<RequestId>4a0e-iam</RequestId></ErrorResponse>");
	vawserr_from_response(&err, "iam", "GetRole", &rs);
	CHECK_STR(err.aws_code, "NoSuchEntity");
	CHECK_STR(err.request_id, "4a0e-iam");
	CHECK_CONTAINS(err.message, "The role with name vmimport cannot be "
				    "found. (HTTP 404)");

	const char *codes[] = {"SignatureDoesNotMatch", "ExpiredToken",
			       "AccessDenied", "Throttling"};
	const char *words[] = {"secret access key", "expired", "not allowed",
			       "throttling"};
	for (int i = 0; i < 4; i++) {
		vhttp_response_free(&rs);
		rs.status = 400;
		vbuf_addf(&rs.body,
			  "<ErrorResponse><Error><Type>Sender</Type><Code>%s"
			  "</Code><Message>m</Message></Error><RequestId>x"
			  "</RequestId></ErrorResponse>",
			  codes[i]);
		vawserr_from_response(&err, "sts", "GetCallerIdentity", &rs);
		CHECK_STR(err.aws_code, codes[i]);
		CHECK_CONTAINS(err.hint, words[i]);
	}
	vmie_error_clear(&err);
	vhttp_response_free(&rs);
}

/* The shapes botocore's parsers accept beyond the usual ones
 * (parsers.py: QueryParser lifts <Errors><Error> under any root,
 * RestXMLParser reads <Error> under any root, the JSON parser takes a
 * query-compatible service's code from x-amzn-query-error). */
static void test_botocore_shapes(void)
{
	vhttp_response rs = {0};
	vmie_error err = {0};
	resp(&rs, 403,
	     "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/"
	     "\"><Errors><Error><Type>Sender</Type><Code>InvalidClientTokenId"
	     "</Code><Message>The security token included in the request is "
	     "invalid</Message></Error></Errors><RequestId>r-1</RequestId>"
	     "</ErrorResponse>");
	vawserr_from_response(&err, "sts", "GetCallerIdentity", &rs);
	CHECK_STR(err.aws_code, "InvalidClientTokenId");
	CHECK_STR(err.request_id, "r-1");
	CHECK_STR(err.message,
		  "STS GetCallerIdentity failed: InvalidClientTokenId: The "
		  "security token included in the request is invalid "
		  "(HTTP 403)");

	resp(&rs, 404,
	     "<ErrorResponse><Errors><Error><Code>NoSuchEntity</Code><Message>"
	     "gone</Message></Error></Errors></ErrorResponse>");
	vawserr_from_response(&err, "iam", "GetRole", &rs);
	CHECK_STR(err.aws_code, "NoSuchEntity");
	CHECK_CONTAINS(err.message, "NoSuchEntity: gone (HTTP 404)");

	/* A query answer whose root has the <Error> straight under it. */
	resp(&rs, 400,
	     "<Response><Error><Code>InvalidParameterValue</Code><Message>bad"
	     "</Message></Error><RequestID>r-2</RequestID></Response>");
	vawserr_from_response(&err, "ec2", "ImportImage", &rs);
	CHECK_STR(err.aws_code, "InvalidParameterValue");
	CHECK_STR(err.request_id, "r-2");

	/* A REST-XML (Route 53 / CloudFront style) error. */
	resp(&rs, 400,
	     "<SomethingResponse><Error><Type>Sender</Type><Code>InvalidInput"
	     "</Code><Message>m</Message></Error><RequestId>r-3</RequestId>"
	     "</SomethingResponse>");
	vawserr_from_response(&err, "s3", "PutObject", &rs);
	CHECK_STR(err.aws_code, "InvalidInput");

	resp(&rs, 400, "{\"__type\":\"com.amazonaws.x#QueueDoesNotExist\","
		       "\"message\":\"q\"}");
	vkv_add(&rs.headers, "x-amzn-query-error",
		"AWS.SimpleQueueService.NonExistentQueue;Sender");
	vawserr_from_response(&err, "ssm", "X", &rs);
	CHECK_STR(err.aws_code, "AWS.SimpleQueueService.NonExistentQueue");
	vmie_error_clear(&err);
	vhttp_response_free(&rs);
}

static void test_s3(void)
{
	vhttp_response rs = {0};
	vmie_error err = {0};
	/* Real S3 answer (aws/aws-sdk-php#612) */
	resp(&rs, 403,
	     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
	     "RequestTimeTooSkewed</Code><Message>The difference between the "
	     "request time and the current time is too large.</Message>"
	     "<RequestTime>20150604T232559Z</RequestTime><ServerTime>"
	     "2015-06-04T22:26:16Z</ServerTime><MaxAllowedSkewMilliseconds>"
	     "900000</MaxAllowedSkewMilliseconds><RequestId>9E09E2E8D09D863C"
	     "</RequestId><HostId>CQl85Ol1ejSfxwCFffw880W3OsDNI+FtTYPrQFjJVt"
	     "M6vmd4pWJaOCuNEWtZPUfjhYRHByziBxg=</HostId></Error>");
	vkv_add(&rs.headers, "Date", "Thu, 04 Jun 2015 22:26:16 GMT");
	vawserr_from_response(&err, "s3", "PutObject", &rs);
	CHECK_STR(err.aws_code, "RequestTimeTooSkewed");
	CHECK_STR(err.request_id, "9E09E2E8D09D863C");
	CHECK_CONTAINS(err.hint, "clock");
	/* The local clock was an hour ahead (request 23:25:59). */
	long long local = vawserr_http_date("Thu, 04 Jun 2015 23:25:59 GMT");
	CHECK(local > 0);
	long skew = vawserr_clock_skew(&err, &rs, local);
	CHECK_INT(skew, -3583);
	CHECK_CONTAINS(err.hint, "60 minutes ahead of AWS");
	/* Within five minutes: no skew claimed. */
	CHECK_INT(vawserr_clock_skew(&err, &rs, local - 3583 + 200), 0);

	resp(&rs, 404,
	     "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey"
	     "</Code><Message>The specified key does not exist.</Message><Key>"
	     "k</Key><RequestId>TX1</RequestId><HostId>h</HostId></Error>");
	vkv_add(&rs.headers, "x-amz-request-id", "TX1-header");
	vawserr_from_response(&err, "s3", "GetObject", &rs);
	CHECK_STR(err.aws_code, "NoSuchKey");
	CHECK_STR(err.request_id, "TX1");

	/* HEAD: no body; the code comes from the status. */
	resp(&rs, 404, NULL);
	vkv_add(&rs.headers, "x-amz-request-id", "HEAD404");
	vawserr_from_response(&err, "s3", "HeadObject", &rs);
	CHECK_STR(err.aws_code, "NotFound");
	CHECK_STR(err.request_id, "HEAD404");
	CHECK_CONTAINS(err.message, "NotFound (HTTP 404 Not Found");
	resp(&rs, 403, NULL);
	vawserr_from_response(&err, "s3", "HeadBucket", &rs);
	CHECK_STR(err.aws_code, "Forbidden");
	resp(&rs, 400, "");
	vawserr_from_response(&err, "s3", "HeadBucket", &rs);
	CHECK_STR(err.aws_code, "BadRequest");
	resp(&rs, 301, NULL);
	vkv_add(&rs.headers, "x-amz-bucket-region", "eu-west-3");
	vawserr_from_response(&err, "s3", "HeadBucket", &rs);
	CHECK_STR(err.aws_code, "PermanentRedirect");
	CHECK_CONTAINS(err.hint, "--region eu-west-3");
	/* A 400 signed for the wrong region, HEAD (no body): the header says
	 * where the bucket is, and the message says so. */
	resp(&rs, 400, NULL);
	vkv_add(&rs.headers, "x-amz-bucket-region", "ap-south-1");
	vawserr_from_response(&err, "s3", "HeadObject", &rs);
	CHECK(vawserr_wrong_region(&err, &rs, "us-west-2"));
	CHECK_CONTAINS(err.message, "S3 HeadObject: the bucket is in ap-south-1, not in us-west-2");
	CHECK_CONTAINS(err.hint, "--region ap-south-1");
	CHECK_STR(err.aws_code, "BadRequest");
	/* The same region, or no header: nothing to say. */
	CHECK(!vawserr_wrong_region(&err, &rs, "ap-south-1"));
	resp(&rs, 400, NULL);
	CHECK(!vawserr_wrong_region(&err, &rs, "us-west-2"));

	resp(&rs, 503,
	     "<Error><Code>SlowDown</Code><Message>Please reduce your request "
	     "rate.</Message><RequestId>S1</RequestId></Error>");
	vawserr_from_response(&err, "s3", "UploadPart", &rs);
	CHECK_STR(err.aws_code, "SlowDown");
	CHECK(err.hint != NULL);
	vmie_error_clear(&err);
	vhttp_response_free(&rs);
}

static void test_json(void)
{
	vhttp_response rs = {0};
	vmie_error err = {0};
	resp(&rs, 400,
	     "{\"__type\":\"InvocationDoesNotExist\",\"message\":\"An error "
	     "occurred (InvocationDoesNotExist)\"}");
	vkv_add(&rs.headers, "x-amzn-RequestId", "ssm-r1");
	vawserr_from_response(&err, "ssm", "GetCommandInvocation", &rs);
	CHECK_STR(err.aws_code, "InvocationDoesNotExist");
	CHECK_STR(err.request_id, "ssm-r1");
	CHECK_CONTAINS(err.message, "SSM GetCommandInvocation failed: "
				    "InvocationDoesNotExist: An error");

	resp(&rs, 400,
	     "{\"__type\":\"com.amazonaws.ssm#InvalidInstanceId\","
	     "\"Message\":\"Instances [[i-00903e1796f3b1cb6]] not in a valid "
	     "state for account 775288309636\"}");
	vawserr_from_response(&err, "ssm", "SendCommand", &rs);
	CHECK_STR(err.aws_code, "InvalidInstanceId");
	CHECK_CONTAINS(err.message, "not in a valid state");

	resp(&rs, 400, "{\"__type\":\"com.amazon.coral.service#"
		       "UnrecognizedClientException\",\"message\":\"The "
		       "security token included in the request is invalid.\"}");
	vawserr_from_response(&err, "ssm", "SendCommand", &rs);
	CHECK_STR(err.aws_code, "UnrecognizedClientException");
	CHECK(err.hint != NULL);

	/* REST-JSON style: the code only in a header. */
	resp(&rs, 400, "{\"message\":\"bad\"}");
	vkv_add(&rs.headers, "x-amzn-ErrorType",
		"ValidationException:http://internal.amazon.com/coral/");
	vawserr_from_response(&err, "ssm", "X", &rs);
	CHECK_STR(err.aws_code, "ValidationException");
	CHECK_CONTAINS(err.message, "bad");
	vmie_error_clear(&err);
	vhttp_response_free(&rs);
}

static void test_garbage(void)
{
	vhttp_response rs = {0};
	vmie_error err = {0};
	resp(&rs, 502,
	     "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>"
	     "\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>"
	     "nginx</center>\r\n</body>\r\n</html>\r\n");
	vawserr_from_response(&err, "sts", "GetCallerIdentity", &rs);
	CHECK_INT(err.status, VMIE_ERR_AWS_REQUEST_FAILED);
	CHECK(err.aws_code == NULL);
	CHECK_INT(err.http_status, 502);
	CHECK_CONTAINS(err.message, "HTTP 502 Bad Gateway");
	CHECK_CONTAINS(err.message, "not an AWS error response");
	CHECK_CONTAINS(err.message, "502 Bad Gateway 502 Bad Gateway nginx");
	CHECK(strchr(err.message, '\n') == NULL);
	CHECK_CONTAINS(err.hint, "did not come from AWS");

	/* Binary junk, control characters, huge: one clean short line. */
	vhttp_response_free(&rs);
	rs.status = 400;
	for (int i = 0; i < 5000; i++)
		vbuf_addch(&rs.body, (char)(i % 256));
	vawserr_from_response(&err, "ec2", "ImportImage", &rs);
	CHECK(err.message && strlen(err.message) < 300);
	for (const char *p = err.message; p && *p; p++)
		CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);

	/* Well-formed XML and JSON that are not errors. */
	resp(&rs, 500, "<Foo><Bar/></Foo>");
	vawserr_from_response(&err, "ec2", "X", &rs);
	CHECK(err.aws_code == NULL);
	CHECK_CONTAINS(err.hint, "did not come from AWS");
	resp(&rs, 500, "[1,2,3]");
	vawserr_from_response(&err, "ssm", "X", &rs);
	CHECK(err.aws_code == NULL);
	resp(&rs, 500, "{\"__type\": 5}");
	vawserr_from_response(&err, "ssm", "X", &rs);
	CHECK(err.aws_code == NULL);
	resp(&rs, 500, "<Error><Code></Code></Error>");
	vawserr_from_response(&err, "s3", "X", &rs);
	CHECK(err.aws_code == NULL);

	/* Empty 500 without headers. */
	resp(&rs, 500, "  \n");
	vawserr_from_response(&err, "sts", "GetCallerIdentity", &rs);
	CHECK(err.aws_code == NULL);
	CHECK_CONTAINS(err.message, "HTTP 500 Internal Server Error with an "
				    "empty response");
	CHECK(err.hint != NULL);

	/* A message with newlines comes out on one line. */
	resp(&rs, 400, "{\"__type\":\"A\",\"message\":\"line1\\nline2\\t\"}");
	vawserr_from_response(&err, "ssm", "X", &rs);
	CHECK_CONTAINS(err.message, "A: line1 line2 (HTTP 400)");

	/* err NULL is allowed. */
	CHECK_INT(vawserr_from_response(NULL, "ssm", "X", &rs),
		  VMIE_ERR_AWS_REQUEST_FAILED);
	vmie_error_clear(&err);
	vhttp_response_free(&rs);
}

static void test_dates(void)
{
	CHECK_INT(vawserr_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
		  784111777);
	CHECK_INT(vawserr_http_date("Sun, 06 Nov 1994 08:49:37"), -1);
	CHECK_INT(vawserr_http_date("Sun, 06 Now 1994 08:49:37 GMT"), -1);
	CHECK_INT(vawserr_http_date("Sun, 06 ovN 1994 08:49:37 GMT"), -1);
	CHECK_INT(vawserr_http_date("garbage"), -1);
	CHECK_INT(vawserr_http_date(NULL), -1);
	vhttp_response rs = {0};
	CHECK_INT(vawserr_clock_skew(NULL, &rs, 0), 0);
}

int main(void)
{
	test_ec2();
	test_query();
	test_botocore_shapes();
	test_s3();
	test_json();
	test_garbage();
	test_dates();
	return check_done("awserr");
}
