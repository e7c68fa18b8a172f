/*
 * SSM over JSON 1.1 (ssm.h): the agent's ping status, and one shell
 * script sent with AWS-RunShellScript and watched to its end.
 */
#include "aws/ssm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

#define TARGET "AmazonSSM"
#define DOCUMENT "AWS-RunShellScript"
#define DELIVERY_TIMEOUT_S 600 /* the agent must pick the command up by then */
#define COMMENT_MAX 100        /* SendCommand's Comment: at most 100 chars */

static bool code_is(const vmie_error *e, const char *code)
{
	return e->aws_code && strcmp(e->aws_code, code) == 0;
}

/* vaws_json on "ssm" with body consumed (NULL: it could not be built); a
 * failed request gets the step's status (the AWS code, message and
 * request id stay). */
static int call(vaws_client *c, const char *op, json_t *body, bool safe,
		int status, json_t **out, vmie_error *err)
{
	*out = NULL;
	if (!body) /* json_pack refuses text that is not UTF-8 */
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"SSM %s: the request cannot be encoded as JSON "
				"(text that is not UTF-8?)", op);
	int rc = vaws_json(c, "ssm", TARGET, op, body, safe, out, err);
	json_decref(body);
	if (rc == VMIE_ERR_AWS_REQUEST_FAILED || rc == VMIE_ERR_AWS_CONNECTION_FAILED) {
		if (err)
			err->status = status;
		rc = status;
	}
	return rc;
}

/* A string member, copied; NULL when absent or not a string. */
static char *str_dup(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? xstrdup(s) : NULL;
}

int vssm_ping_status(vaws_client *c, const char *instance_id,
		     char **ping_status, vmie_error *err)
{
	json_t *out = NULL;
	vmie_error e = {0};

	*ping_status = NULL;
	json_t *body = json_pack("{s:[{s:s, s:[s]}]}", "Filters", "Key",
				 "InstanceIds", "Values", instance_id);
	int rc = call(c, "DescribeInstanceInformation", body, true,
		      VMIE_ERR_AWS_SSM_STATUS_CHECK_FAILED, &out, &e);
	if (rc != 0) {
		/* Some regions answer a filter on an instance the agent has
		 * never registered with InvalidInstanceId: not registered. */
		if (code_is(&e, "InvalidInstanceId")) {
			vmie_error_clear(&e);
			rc = 0;
		}
		goto out;
	}
	size_t i;
	json_t *info;
	json_array_foreach(json_object_get(out, "InstanceInformationList"), i, info) {
		const char *id = json_string_value(json_object_get(info, "InstanceId"));
		if (id && strcmp(id, instance_id) == 0) {
			*ping_status = str_dup(info, "PingStatus");
			break;
		}
	}
out:
	json_decref(out);
	verr_move(err, &e);
	return rc;
}

/* At most COMMENT_MAX bytes, not cutting a UTF-8 sequence. */
static char *short_comment(const char *s)
{
	size_t n = strlen(s);
	if (n <= COMMENT_MAX)
		return xstrdup(s);
	n = COMMENT_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return xstrndup(s, n);
}

int vssm_send_shell(vaws_client *c, const char *instance_id,
		    const char *script, unsigned execution_timeout_s,
		    const char *comment, char **command_id, vmie_error *err)
{
	json_t *out = NULL;

	*command_id = NULL;
	json_t *params = json_pack("{s:[s]}", "commands", script);
	if (execution_timeout_s) {
		char t[16];
		snprintf(t, sizeof(t), "%u", execution_timeout_s);
		json_object_set_new(params, "executionTimeout", json_pack("[s]", t));
	}
	json_t *body = json_pack("{s:[s], s:s, s:o, s:i}", "InstanceIds", instance_id,
				 "DocumentName", DOCUMENT, "Parameters", params,
				 "TimeoutSeconds", DELIVERY_TIMEOUT_S);
	if (comment && *comment) {
		char *cm = short_comment(comment);
		json_object_set_new(body, "Comment", json_string(cm));
		free(cm);
	}
	int rc = call(c, "SendCommand", body, false,
		      VMIE_ERR_AWS_SSM_COMMAND_FAILED, &out, err);
	if (rc != 0)
		return rc;
	*command_id = str_dup(json_object_get(out, "Command"), "CommandId");
	json_decref(out);
	if (!*command_id || !**command_id) {
		free(*command_id);
		*command_id = NULL;
		return verr_set(err, VMIE_ERR_AWS_SSM_COMMAND_FAILED,
				"SSM SendCommand: the answer has no CommandId");
	}
	return 0;
}

void vssm_invocation_free(vssm_invocation *inv)
{
	if (!inv)
		return;
	free(inv->status);
	free(inv->status_details);
	free(inv->stdout_text);
	free(inv->stderr_text);
	memset(inv, 0, sizeof(*inv));
}

int vssm_get_invocation(vaws_client *c, const char *command_id,
			const char *instance_id, vssm_invocation *out,
			vmie_error *err)
{
	json_t *ans = NULL;
	vmie_error e = {0};

	memset(out, 0, sizeof(*out));
	out->response_code = -1;
	json_t *body = json_pack("{s:s, s:s}", "CommandId", command_id,
				 "InstanceId", instance_id);
	int rc = call(c, "GetCommandInvocation", body, true,
		      VMIE_ERR_AWS_SSM_STATUS_CHECK_FAILED, &ans, &e);
	if (rc != 0) {
		if (code_is(&e, "InvocationDoesNotExist")) {
			vmie_error_clear(&e);
			rc = VSSM_NOT_YET;
		}
		goto out;
	}
	out->status = str_dup(ans, "Status");
	out->status_details = str_dup(ans, "StatusDetails");
	json_t *code = json_object_get(ans, "ResponseCode");
	if (json_is_integer(code))
		out->response_code = (int)json_integer_value(code);
	out->stdout_text = str_dup(ans, "StandardOutputContent");
	out->stderr_text = str_dup(ans, "StandardErrorContent");
	if (!out->status)
		out->status = xstrdup("Pending");
out:
	json_decref(ans);
	verr_move(err, &e);
	return rc;
}

bool vssm_status_final(const char *status)
{
	static const char *const final[] = {"Success", "Cancelled", "TimedOut", "Failed"};
	for (size_t i = 0; status && i < sizeof(final) / sizeof(final[0]); i++)
		if (strcmp(status, final[i]) == 0)
			return true;
	return false;
}
