/*
 * The instance profile of the temporary sanbootable instance (iam.h):
 * without a role trusted by EC2 and holding AmazonSSMManagedInstanceCore,
 * the SSM agent never comes online and the install waits for nothing.
 *
 * Made to exist, never taken apart: an existing profile with a role keeps
 * its role (the user's choice), which only gets the SSM policy attached
 * when ListAttachedRolePolicies shows it missing.
 */
#include "aws/iam.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aws/iam_internal.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/kv.h"

#define SSM_POLICY "AmazonSSMManagedInstanceCore"
#define MAX_PAGES 50 /* ListAttachedRolePolicies pages followed at most */

static bool code_is(const vmie_error *e, const char *code)
{
	return e->aws_code && strcmp(e->aws_code, code) == 0;
}

/* viam_call with a failed request reported as the step's failure (the
 * AWS code, message and request id stay). */
static int call(vaws_client *c, const char *action, vkv *params, bool safe,
		vxml **doc, vmie_error *e)
{
	int rc = viam_call(c, action, params, safe, doc, e);
	if (rc == VMIE_ERR_AWS_REQUEST_FAILED || rc == VMIE_ERR_AWS_CONNECTION_FAILED) {
		e->status = VMIE_ERR_AWS_INSTANCE_PROFILE_CREATE_FAILED;
		rc = e->status;
	}
	return rc;
}

/* GetInstanceProfile: *exists, and its first role and its ARN. */
static int get_profile(vaws_client *c, const char *name, bool *exists,
		       char **role, char **arn, vmie_error *e)
{
	vkv p = VKV_INIT;
	vxml *doc = NULL;

	*exists = false;
	vkv_add(&p, "InstanceProfileName", name);
	int rc = call(c, "GetInstanceProfile", &p, true, &doc, e);
	if (rc != 0 && code_is(e, "NoSuchEntity")) {
		vmie_error_clear(e);
		return 0;
	}
	if (rc != 0)
		return rc;
	vxml_node *prof = vxml_find(vxml_root(doc), "GetInstanceProfileResult/InstanceProfile");
	*exists = true;
	*role = vxml_text(prof, "Roles/member/RoleName");
	*arn = vxml_text(prof, "Arn");
	vxml_free(doc);
	return 0;
}

static char *trust_policy(void)
{
	json_t *j = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}]}",
			      "Version", "2012-10-17", "Statement", "Effect", "Allow",
			      "Principal", "Service", "ec2.amazonaws.com",
			      "Action", "sts:AssumeRole");
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return text;
}

/* The role `name`, trusted by EC2, created when missing.  An existing
 * role is used as it is. */
static int ensure_role(vaws_client *c, const char *name, viam_role_result *out,
		       vmie_error *e)
{
	vkv p = VKV_INIT;

	vkv_add(&p, "RoleName", name);
	int rc = call(c, "GetRole", &p, true, NULL, e);
	if (rc == 0 || !code_is(e, "NoSuchEntity"))
		return rc;
	vmie_error_clear(e);
	char *trust = trust_policy();
	vkv_add(&p, "RoleName", name);
	vkv_add(&p, "AssumeRolePolicyDocument", trust);
	vkv_add(&p, "Description",
		"Temporary vmie instances: SSM access for the sanbootable install");
	rc = call(c, "CreateRole", &p, false, NULL, e);
	free(trust);
	if (rc == 0) {
		out->created = true;
	} else if (code_is(e, "EntityAlreadyExists")) { /* another run, just now */
		vmie_error_clear(e);
		rc = 0;
	}
	return rc;
}

/* Is the policy arn among the role's attached managed policies? */
static int has_policy(vaws_client *c, const char *role, const char *arn,
		      bool *found, vmie_error *e)
{
	char *marker = NULL;
	int rc = 0;

	*found = false;
	for (int page = 0; page < MAX_PAGES && !*found; page++) {
		vkv p = VKV_INIT;
		vxml *doc = NULL;
		vkv_add(&p, "RoleName", role);
		if (marker)
			vkv_add(&p, "Marker", marker);
		rc = call(c, "ListAttachedRolePolicies", &p, true, &doc, e);
		if (rc != 0)
			break;
		vxml_node *res = vxml_find(vxml_root(doc), "ListAttachedRolePoliciesResult");
		vxml_node *list = vxml_child(res, "AttachedPolicies");
		for (vxml_node *m = vxml_child(list, "member"); m && !*found;
		     m = vxml_next(m, "member")) {
			char *a = vxml_text(m, "PolicyArn");
			*found = a && strcmp(a, arn) == 0;
			free(a);
		}
		char *truncated = vxml_text(res, "IsTruncated");
		bool more = truncated && strcmp(truncated, "true") == 0;
		free(truncated);
		free(marker);
		marker = more ? vxml_text(res, "Marker") : NULL;
		vxml_free(doc);
		if (!marker || !*marker)
			break;
	}
	free(marker);
	return rc;
}

/* AmazonSSMManagedInstanceCore on the role, attached when missing. */
static int ensure_ssm_policy(vaws_client *c, const char *role, bool role_is_new,
			     viam_role_result *out, vmie_error *e)
{
	vbuf arn = VBUF_INIT;
	bool found = false;
	int rc = 0;

	vbuf_addf(&arn, "arn:%s:iam::aws:policy/" SSM_POLICY, viam_partition(c));
	if (!role_is_new)
		rc = has_policy(c, role, vbuf_str(&arn), &found, e);
	if (rc == 0 && !found) {
		vkv p = VKV_INIT;
		vkv_add(&p, "RoleName", role);
		vkv_add(&p, "PolicyArn", vbuf_str(&arn));
		/* Attaching an attached policy changes nothing: retried. */
		rc = call(c, "AttachRolePolicy", &p, true, NULL, e);
		if (rc == 0) {
			out->updated = out->updated || !role_is_new;
			out->created = true;
		}
	}
	vbuf_free(&arn);
	return rc;
}

/* A new profile (unless another run just made it) with the role added.
 * EntityAlreadyExists on either step is that other run's work: fine. */
static int make_profile(vaws_client *c, const char *name, bool exists,
			viam_role_result *out, vmie_error *e)
{
	vkv p = VKV_INIT;
	vxml *doc = NULL;
	int rc = 0;

	if (!exists) {
		vkv_add(&p, "InstanceProfileName", name);
		rc = call(c, "CreateInstanceProfile", &p, false, &doc, e);
		if (rc == 0) {
			out->arn = vxml_text(vxml_find(vxml_root(doc), "//InstanceProfile"),
					     "Arn");
		} else if (code_is(e, "EntityAlreadyExists")) {
			vmie_error_clear(e);
			rc = 0;
		}
		vxml_free(doc);
		if (rc != 0)
			return rc;
	}
	vkv_add(&p, "InstanceProfileName", name);
	vkv_add(&p, "RoleName", name);
	rc = call(c, "AddRoleToInstanceProfile", &p, false, NULL, e);
	if (rc != 0 && code_is(e, "EntityAlreadyExists")) {
		vmie_error_clear(e);
		rc = 0;
	}
	if (rc == 0) {
		out->created = true;
		out->updated = out->updated || exists;
	}
	return rc;
}

int viam_ensure_instance_profile(vaws_client *c, const char *name,
				 viam_role_result *out, vmie_error *err)
{
	vmie_error e = {0};
	char *role = NULL, *arn = NULL;
	bool exists = false;

	memset(out, 0, sizeof(*out));
	int rc = get_profile(c, name, &exists, &role, &arn, &e);
	if (rc != 0)
		goto out;
	if (exists && role) {
		rc = ensure_ssm_policy(c, role, false, out, &e);
		goto out;
	}
	/* No profile, or an empty one: the role of the same name in it. */
	rc = ensure_role(c, name, out, &e);
	if (rc == 0)
		rc = ensure_ssm_policy(c, name, out->created, out, &e);
	if (rc == 0)
		rc = make_profile(c, name, exists, out, &e);
out:
	if (rc == 0 && !out->arn) {
		out->arn = arn;
		arn = NULL;
	}
	if (rc != 0)
		viam_role_result_free(out); /* the caller says which profile */
	free(role);
	free(arn);
	verr_move(err, &e);
	return rc;
}
