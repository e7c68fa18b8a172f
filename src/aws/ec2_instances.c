/*
 * The temporary instance (ec2.h): RunInstances, DescribeInstances (one id,
 * or by tags for the reaper of instances a killed run left behind),
 * StopInstances, TerminateInstances.
 */
#include "aws/ec2.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ec2_internal.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

/* Pages of DescribeInstances followed at most (1000 instances each). */
#define MAX_PAGES 100

/* RunInstances takes UserData base64-encoded (the SDKs encode it). */
static char *base64(const char *text)
{
	size_t n = strlen(text);
	unsigned char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock(out, (const unsigned char *)text, (int)n);
	return (char *)out;
}

int vec2_run_instance(vaws_client *c, const vec2_run_params *p,
		      char **instance_id, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	*instance_id = NULL;
	vec2_q_add(&q, "ClientToken", p->client_token);
	vec2_q_add(&q, "ImageId", p->image_id);
	vec2_q_add(&q, "InstanceType", p->instance_type);
	vkv_add(&q, "MinCount", "1");
	vkv_add(&q, "MaxCount", "1");
	vec2_q_add(&q, "SubnetId", p->subnet_id);
	vec2_q_add(&q, "IamInstanceProfile.Name", p->instance_profile_name);
	if (p->user_data && *p->user_data) {
		char *b64 = base64(p->user_data);
		vkv_add(&q, "UserData", b64);
		free(b64);
	}
	/* IMDSv2 only: the instance runs code we sent; no v1 tokenless
	 * metadata reads for anything on it. */
	vkv_add(&q, "MetadataOptions.HttpTokens", "required");
	vkv_add(&q, "MetadataOptions.HttpEndpoint", "enabled");
	vec2_q_tag_spec(&q, 1, "instance", p->tags);
	vec2_q_tag_spec(&q, 2, "volume", p->tags);
	/* Without a token a retried launch could start a second instance. */
	int rc = vec2_call(c, "RunInstances", &q, p->client_token != NULL,
			   VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED, &doc, err);
	if (rc != 0)
		return rc;
	*instance_id = vxml_text(vxml_root(doc), "instancesSet/item/instanceId");
	vxml_free(doc);
	if (!*instance_id || !**instance_id) {
		free(*instance_id);
		*instance_id = NULL;
		return verr_set(err, VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED,
				"EC2 RunInstances: the answer has no instanceId");
	}
	return 0;
}

void vec2_instance_free(vec2_instance *i)
{
	if (!i)
		return;
	free(i->instance_id);
	free(i->state);
	free(i->state_reason);
	free(i->image_id);
	free(i->launch_time);
	vkv_free(&i->tags);
	memset(i, 0, sizeof(*i));
}

static void parse_instance(vxml_node *it, vec2_instance *out)
{
	memset(out, 0, sizeof(*out));
	out->instance_id = vxml_text(it, "instanceId");
	out->state = vxml_text(it, "instanceState/name");
	out->state_reason = vxml_text(it, "stateReason/message");
	out->image_id = vxml_text(it, "imageId");
	out->launch_time = vxml_text(it, "launchTime");
	vxml_node *set = vxml_child(it, "tagSet");
	for (vxml_node *t = vxml_child(set, "item"); t; t = vxml_next(t, "item")) {
		char *k = vxml_text(t, "key"), *v = vxml_text(t, "value");
		if (k)
			vkv_add(&out->tags, k, v ? v : "");
		free(k);
		free(v);
	}
	if (!out->state)
		out->state = xstrdup("unknown");
}

/* Every reservationSet/item/instancesSet/item of one answer, appended. */
static void collect(vxml *doc, vec2_instance **arr, size_t *n, size_t *cap)
{
	vxml_node *rset = vxml_find(vxml_root(doc), "reservationSet");
	for (vxml_node *r = vxml_child(rset, "item"); r; r = vxml_next(r, "item")) {
		vxml_node *iset = vxml_child(r, "instancesSet");
		for (vxml_node *i = vxml_child(iset, "item"); i; i = vxml_next(i, "item")) {
			xgrow((void **)arr, cap, *n + 1, sizeof(**arr));
			parse_instance(i, &(*arr)[(*n)++]);
		}
	}
}

static void free_all(vec2_instance *arr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vec2_instance_free(&arr[i]);
	free(arr);
}

int vec2_describe_instance(vaws_client *c, const char *instance_id,
			   vec2_instance *out, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;
	vmie_error e = {0};
	vec2_instance *arr = NULL;
	size_t n = 0, cap = 0;

	memset(out, 0, sizeof(*out));
	vkv_add(&q, "InstanceId.1", instance_id);
	int rc = vec2_call(c, "DescribeInstances", &q, true,
			   VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED, &doc, &e);
	if (rc != 0) {
		if (vec2_code_is(&e, "InvalidInstanceID.NotFound")) {
			vmie_error_clear(&e);
			rc = VEC2_NOT_FOUND;
		}
		goto out;
	}
	collect(doc, &arr, &n, &cap);
	if (n == 0) {
		rc = VEC2_NOT_FOUND; /* terminated long ago: no longer listed */
		goto out;
	}
	*out = arr[0];
	memset(&arr[0], 0, sizeof(arr[0]));
out:
	free_all(arr, n);
	verr_move(err, &e);
	vxml_free(doc);
	return rc;
}

static void find_params(vkv *q, const vkv *tags, bool live_only,
			const char *next_token)
{
	static const char *const live[] = {"pending", "running", "stopping", "stopped"};
	unsigned f = 0;
	for (size_t i = 0; tags && i < tags->n; i++) {
		vbuf name = VBUF_INIT;
		vbuf_addf(&name, "tag:%s", tags->items[i].key);
		vec2_q_filter(q, ++f, vbuf_str(&name), tags->items[i].value);
		vbuf_free(&name);
	}
	if (live_only) {
		vec2_q_addf(q, "instance-state-name", "Filter.%u.Name", ++f);
		for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
			vec2_q_addf(q, live[i], "Filter.%u.Value.%zu", f, i + 1);
	}
	vec2_q_add(q, "NextToken", next_token);
}

int vec2_find_instances(vaws_client *c, const vkv *tags, bool live_only,
			vec2_instance **out, size_t *n, vmie_error *err)
{
	vec2_instance *arr = NULL;
	size_t count = 0, cap = 0;
	char *token = NULL;
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (int page = 0; page < MAX_PAGES; page++) {
		vkv q = VKV_INIT;
		vxml *doc = NULL;
		find_params(&q, tags, live_only, token);
		rc = vec2_call(c, "DescribeInstances", &q, true,
			       VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED, &doc, err);
		if (rc != 0)
			break;
		collect(doc, &arr, &count, &cap);
		char *next = vxml_text(vxml_root(doc), "nextToken");
		vxml_free(doc);
		bool more = next && *next && (!token || strcmp(next, token) != 0);
		free(token);
		token = next;
		if (!more)
			break;
	}
	free(token);
	if (rc != 0) {
		free_all(arr, count);
		return rc;
	}
	*out = arr;
	*n = count;
	return 0;
}

/* Stop and Terminate: asking again for the same end state is harmless,
 * so both are retried. */
static int transition(vaws_client *c, const char *action,
		      const char *instance_id, vmie_error *err)
{
	vkv q = VKV_INIT;
	vkv_add(&q, "InstanceId.1", instance_id);
	return vec2_call(c, action, &q, true,
			 VMIE_ERR_AWS_INSTANCE_STATUS_CHECK_FAILED, NULL, err);
}

int vec2_stop_instance(vaws_client *c, const char *instance_id,
		       vmie_error *err)
{
	return transition(c, "StopInstances", instance_id, err);
}

int vec2_terminate_instance(vaws_client *c, const char *instance_id,
			    vmie_error *err)
{
	vmie_error e = {0};
	int rc = transition(c, "TerminateInstances", instance_id, &e);
	if (rc != 0 && vec2_code_is(&e, "InvalidInstanceID.NotFound")) {
		vmie_error_clear(&e);
		rc = 0;
	}
	verr_move(err, &e);
	return rc;
}
