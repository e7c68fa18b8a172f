/* The SSM calls (JSON 1.1) against the local HTTP stub: the target
 * header and JSON bodies they send, the answers they read (shapes from
 * the emulator, which mirrors SSM), InvocationDoesNotExist as "not yet",
 * and errors. */
#include "aws/ssm.h"
#include "aws_test_util.h"
#include "check.h"
#include "http_stub.h"

#include <stdlib.h>
#include <string.h>

static http_stub *stub;

#define JSON_CT "Content-Type: application/x-amz-json-1.1\r\n"

static void answer(int status, const char *body)
{
	awst_answer(stub, status, JSON_CT, body);
}

static void check_target(size_t i, const char *op)
{
	char want[64];
	snprintf(want, sizeof(want), "AmazonSSM.%s", op);
	char *t = awst_header(stub, i, "X-Amz-Target");
	CHECK_STR(t, want);
	free(t);
}

static void test_ping(vaws_client *c)
{
	vmie_error err = {0};
	char *ping = NULL;

	answer(200, "{\"InstanceInformationList\":[{\"InstanceId\":\"i-1\",\"PingStatus\":"
		    "\"Online\",\"LastPingDateTime\":1582221233.421,\"AgentVersion\":\"3.2\","
		    "\"IsLatestVersion\":false,\"PlatformType\":\"Linux\",\"ResourceType\":"
		    "\"EC2Instance\"}]}");
	CHECK_INT(vssm_ping_status(c, "i-1", &ping, &err), 0);
	CHECK_STR(ping, "Online");
	free(ping);
	check_target(0, "DescribeInstanceInformation");
	json_t *body = awst_json(stub, 0);
	json_t *f = json_array_get(json_object_get(body, "Filters"), 0);
	CHECK_STR(json_string_value(json_object_get(f, "Key")), "InstanceIds");
	CHECK_STR(json_string_value(json_array_get(json_object_get(f, "Values"), 0)), "i-1");
	CHECK_INT(json_array_size(json_object_get(f, "Values")), 1);
	json_decref(body);

	/* Not registered yet: missing from the list (or, in some regions,
	 * InvalidInstanceId).  Another instance's entry does not count. */
	answer(200, "{\"InstanceInformationList\":[]}");
	CHECK_INT(vssm_ping_status(c, "i-1", &ping, &err), 0);
	CHECK(ping == NULL && err.message == NULL);
	answer(200, "{\"InstanceInformationList\":[{\"InstanceId\":\"i-2\",\"PingStatus\":"
		    "\"Online\"}]}");
	CHECK_INT(vssm_ping_status(c, "i-1", &ping, &err), 0);
	CHECK(ping == NULL);
	answer(400, "{\"__type\":\"InvalidInstanceId\",\"message\":\"bad\"}");
	CHECK_INT(vssm_ping_status(c, "i-1", &ping, &err), 0);
	CHECK(ping == NULL && err.message == NULL);
	answer(200, "{\"InstanceInformationList\":[{\"InstanceId\":\"i-1\",\"PingStatus\":"
		    "\"ConnectionLost\"}]}");
	CHECK_INT(vssm_ping_status(c, "i-1", &ping, &err), 0);
	CHECK_STR(ping, "ConnectionLost");
	free(ping);

	answer(400, "{\"__type\":\"com.amazonaws.ssm#AccessDeniedException\",\"Message\":"
		    "\"not allowed ssm:DescribeInstanceInformation\"}");
	CHECK_INT(vssm_ping_status(c, "i-1", &ping, &err), VMIE_ERR_AWS_SSM_STATUS_CHECK_FAILED);
	CHECK(ping == NULL);
	CHECK_STR(err.aws_code, "AccessDeniedException");
	CHECK_CONTAINS(err.message, "not allowed");
	CHECK_STR(err.service, "ssm");
	vmie_error_clear(&err);
}

static void no_sleep(void *ctx, long delay_ms)
{
	(void)delay_ms;
	(*(int *)ctx)++;
}

static void test_send(vaws_client *c)
{
	vmie_error err = {0};
	char *cmd = NULL;
	const char *script = "#!/bin/bash\nset -e\necho \"it's done\"\n";

	answer(200, "{\"Command\":{\"CommandId\":\"0b6f7a54-4c7c-4b35-a1c5-0123456789ab\","
		    "\"DocumentName\":\"AWS-RunShellScript\",\"Status\":\"Pending\","
		    "\"RequestedDateTime\":1700000000.5,\"TargetCount\":1}}");
	CHECK_INT(vssm_send_shell(c, "i-1", script, 1800, "vmie: install sanbootable", &cmd,
				  &err), 0);
	CHECK_STR(cmd, "0b6f7a54-4c7c-4b35-a1c5-0123456789ab");
	free(cmd);
	check_target(0, "SendCommand");
	json_t *b = awst_json(stub, 0);
	CHECK_STR(json_string_value(json_array_get(json_object_get(b, "InstanceIds"), 0)), "i-1");
	CHECK_STR(json_string_value(json_object_get(b, "DocumentName")), "AWS-RunShellScript");
	json_t *params = json_object_get(b, "Parameters");
	json_t *cmds = json_object_get(params, "commands");
	CHECK_INT(json_array_size(cmds), 1); /* the script as one command */
	CHECK_STR(json_string_value(json_array_get(cmds, 0)), script);
	CHECK_STR(json_string_value(json_array_get(json_object_get(params, "executionTimeout"),
						   0)), "1800");
	CHECK_INT(json_integer_value(json_object_get(b, "TimeoutSeconds")), 600);
	CHECK_STR(json_string_value(json_object_get(b, "Comment")), "vmie: install sanbootable");
	json_decref(b);

	/* No timeout: the document's default; a long comment is cut to 100
	 * bytes, not inside a UTF-8 character. */
	char comment[160];
	memset(comment, 'x', 99);
	strcpy(comment + 99, "\xc3\xa9tail"); /* an "é" straddling byte 100 */
	CHECK_INT(vssm_send_shell(c, "i-1", "true", 0, comment, &cmd, &err), 0);
	free(cmd);
	b = awst_json(stub, 1);
	CHECK(json_object_get(json_object_get(b, "Parameters"), "executionTimeout") == NULL);
	CHECK_INT(strlen(json_string_value(json_object_get(b, "Comment"))), 99);
	json_decref(b);
	CHECK_INT(vssm_send_shell(c, "i-1", "true", 0, NULL, &cmd, &err), 0);
	free(cmd);
	b = awst_json(stub, 2);
	CHECK(json_object_get(b, "Comment") == NULL);
	json_decref(b);

	/* Not retried even where retries are on (a lost answer would run the
	 * script twice); GetCommandInvocation is. */
	int sleeps = 0;
	vaws_client *c3 = NULL;
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	CHECK_INT(vaws_client_new(NULL, &c3, NULL), 0);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	vaws_client_set_sleep(c3, no_sleep, &sleeps);
	/* A fixed jitter seed: full jitter may draw a 0 ms delay, which
	 * sleeps not at all. */
	vaws_client_set_seed(c3, 42);
	answer(500, "{\"__type\":\"InternalServerError\",\"message\":\"oops\"}");
	CHECK_INT(vssm_send_shell(c3, "i-1", "true", 0, NULL, &cmd, &err),
		  VMIE_ERR_AWS_SSM_COMMAND_FAILED);
	CHECK(cmd == NULL);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 1);
	vmie_error_clear(&err);
	vssm_invocation inv;
	CHECK_INT(vssm_get_invocation(c3, "0b6f7a54-4c7c-4b35-a1c5-0123456789ab", "i-1", &inv,
				      &err), VMIE_ERR_AWS_SSM_STATUS_CHECK_FAILED);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 4);
	CHECK_INT(sleeps, 2);
	vmie_error_clear(&err);
	vaws_client_free(c3);
	answer(400, "{\"__type\":\"InvalidInstanceId\",\"message\":\"Instances [[i-1]] not in a "
		    "valid state for account 1\"}");
	CHECK_INT(vssm_send_shell(c, "i-1", "true", 0, NULL, &cmd, &err),
		  VMIE_ERR_AWS_SSM_COMMAND_FAILED);
	CHECK_STR(err.aws_code, "InvalidInstanceId");
	CHECK_CONTAINS(err.message, "not in a valid state");
	vmie_error_clear(&err);
	answer(200, "{\"Command\":{}}");
	CHECK_INT(vssm_send_shell(c, "i-1", "true", 0, NULL, &cmd, &err),
		  VMIE_ERR_AWS_SSM_COMMAND_FAILED);
	vmie_error_clear(&err);

	/* Text that is not UTF-8 cannot go as JSON: refused, not sent as {}. */
	http_stub_reset(stub);
	CHECK_INT(vssm_send_shell(c, "i-1", "echo \xff", 0, NULL, &cmd, &err),
		  VMIE_ERR_INVALID_ARGUMENT);
	CHECK_INT(http_stub_count(stub, NULL, NULL), 0);
	vmie_error_clear(&err);
}

static void test_invocation(vaws_client *c)
{
	vmie_error err = {0};
	vssm_invocation inv;
	const char *cid = "0b6f7a54-4c7c-4b35-a1c5-0123456789ab";

	answer(200, "{\"CommandId\":\"0b6f7a54-4c7c-4b35-a1c5-0123456789ab\",\"InstanceId\":"
		    "\"i-1\",\"PluginName\":\"aws:runShellScript\",\"ResponseCode\":0,"
		    "\"ExecutionStartDateTime\":\"2026-01-02T03:04:05.000Z\","
		    "\"ExecutionElapsedTime\":\"PT5.000S\",\"Status\":\"Success\","
		    "\"StatusDetails\":\"Success\",\"StandardOutputContent\":\"done\\n\","
		    "\"StandardOutputUrl\":\"\",\"StandardErrorContent\":\"warn\\n\"}");
	CHECK_INT(vssm_get_invocation(c, cid, "i-1", &inv, &err), 0);
	check_target(0, "GetCommandInvocation");
	json_t *b = awst_json(stub, 0);
	CHECK_STR(json_string_value(json_object_get(b, "CommandId")), cid);
	CHECK_STR(json_string_value(json_object_get(b, "InstanceId")), "i-1");
	json_decref(b);
	CHECK_STR(inv.status, "Success");
	CHECK_STR(inv.status_details, "Success");
	CHECK_INT(inv.response_code, 0);
	CHECK_STR(inv.stdout_text, "done\n");
	CHECK_STR(inv.stderr_text, "warn\n");
	CHECK(vssm_status_final(inv.status));
	vssm_invocation_free(&inv);
	CHECK(inv.status == NULL);
	vssm_invocation_free(NULL);

	answer(200, "{\"Status\":\"InProgress\",\"StatusDetails\":\"In Progress\","
		    "\"ResponseCode\":-1,\"StandardOutputContent\":\"\"}");
	CHECK_INT(vssm_get_invocation(c, cid, "i-1", &inv, &err), 0);
	CHECK_STR(inv.status, "InProgress");
	CHECK_INT(inv.response_code, -1);
	CHECK(!vssm_status_final(inv.status));
	vssm_invocation_free(&inv);
	answer(200, "{\"Status\":\"Failed\",\"StatusDetails\":\"Failed\",\"ResponseCode\":2}");
	CHECK_INT(vssm_get_invocation(c, cid, "i-1", &inv, &err), 0);
	CHECK_INT(inv.response_code, 2);
	CHECK(inv.stdout_text == NULL);
	vssm_invocation_free(&inv);

	/* Right after SendCommand: not yet, err clear. */
	answer(400, "{\"__type\":\"InvocationDoesNotExist\",\"message\":\"\"}");
	CHECK_INT(vssm_get_invocation(c, cid, "i-1", &inv, &err), VSSM_NOT_YET);
	CHECK(err.message == NULL && err.aws_code == NULL && inv.status == NULL);
	CHECK_INT(vssm_get_invocation(c, cid, "i-1", &inv, NULL), VSSM_NOT_YET);
	answer(400, "{\"__type\":\"ValidationException\",\"message\":\"commandId too long\"}");
	CHECK_INT(vssm_get_invocation(c, cid, "i-1", &inv, &err),
		  VMIE_ERR_AWS_SSM_STATUS_CHECK_FAILED);
	CHECK_STR(err.aws_code, "ValidationException");
	CHECK_CONTAINS(err.message, "commandId too long");
	vmie_error_clear(&err);

	const char *finals[] = {"Success", "Cancelled", "TimedOut", "Failed"};
	const char *running[] = {"Pending", "InProgress", "Delayed", "Cancelling", "", NULL};
	for (size_t i = 0; i < 4; i++)
		CHECK(vssm_status_final(finals[i]));
	for (size_t i = 0; i < 6; i++)
		CHECK(!vssm_status_final(running[i]));
}

int main(void)
{
	awst_isolate_env();
	stub = http_stub_start();
	if (!stub) {
		printf("SKIP ssm: cannot start the local HTTP stub\n");
		return 77;
	}
	vaws_client *c = awst_client(stub, "eu-west-1");
	CHECK(c != NULL);
	if (c) {
		test_ping(c);
		test_send(c);
		test_invocation(c);
		vaws_client_free(c);
	}
	http_stub_stop(stub);
	return check_done("ssm");
}
