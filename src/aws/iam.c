/*
 * The VM Import service role (iam.h).  The documents are compared as
 * JSON, not as text: IAM returns them URL-encoded and reformatted.
 */
#include "aws/iam.h"
#include "aws/iam_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/kv.h"
#include "base/xalloc.h"

#define POLICY_NAME "vmimport"

void viam_role_result_free(viam_role_result *r)
{
	if (!r)
		return;
	free(r->arn);
	memset(r, 0, sizeof(*r));
}

static json_t *trust_policy(void)
{
	return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:{s:{s:s}}}]}",
			 "Version", "2012-10-17", "Statement", "Effect", "Allow",
			 "Principal", "Service", "vmie.amazonaws.com",
			 "Action", "sts:AssumeRole",
			 "Condition", "StringEquals", "sts:Externalid", "vmimport");
}

const char *viam_partition(vaws_client *c)
{
	const char *r = vaws_client_region(c);
	if (strncmp(r, "cn-", 3) == 0)
		return "aws-cn";
	if (strncmp(r, "us-gov-", 7) == 0)
		return "aws-us-gov";
	return "aws";
}

/* What the VM Import/Export guide's required-permissions page lists for
 * the role: read and write the buckets (import reads, export writes), and
 * the EC2 calls that make snapshots and images. */
static json_t *role_policy(vaws_client *c, const char *const *buckets,
			   unsigned n)
{
	json_t *res = json_array();
	for (unsigned i = 0; i < n; i++) {
		vbuf a = VBUF_INIT;
		vbuf_addf(&a, "arn:%s:s3:::%s", viam_partition(c), buckets[i]);
		json_array_append_new(res, json_string(vbuf_str(&a)));
		vbuf_adds(&a, "/*");
		json_array_append_new(res, json_string(vbuf_str(&a)));
		vbuf_free(&a);
	}
	return json_pack("{s:s, s:[{s:s, s:[s,s,s,s,s], s:o}, {s:s, s:[s,s,s,s], s:s}]}",
			 "Version", "2012-10-17", "Statement",
			 "Effect", "Allow", "Action", "s3:GetBucketLocation",
			 "s3:GetObject", "s3:ListBucket", "s3:PutObject",
			 "s3:GetBucketAcl", "Resource", res,
			 "Effect", "Allow", "Action", "ec2:ModifySnapshotAttribute",
			 "ec2:CopySnapshot", "ec2:RegisterImage", "ec2:Describe*",
			 "Resource", "*");
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* IAM returns policy documents URL-encoded (RFC 3986). */
static json_t *decode_document(const char *enc)
{
	vbuf b = VBUF_INIT;
	for (const char *p = enc; p && *p; p++) {
		if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			vbuf_addch(&b, (char)(hexval(p[1]) * 16 + hexval(p[2])));
			p += 2;
		} else {
			vbuf_addch(&b, *p == '+' ? ' ' : *p);
		}
	}
	json_t *j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	vbuf_free(&b);
	return j;
}

static bool no_such_entity(const vmie_error *e)
{
	return e->aws_code && strcmp(e->aws_code, "NoSuchEntity") == 0;
}

int viam_call(vaws_client *c, const char *action, vkv *params, bool safe,
	      vxml **doc, vmie_error *err)
{
	vxml *d = NULL;
	int rc = vaws_query(c, "iam", action, VIAM_VERSION, params, safe, &d, err);
	if (doc)
		*doc = d;
	else
		vxml_free(d);
	vkv_free(params);
	return rc;
}

static char *dumps(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* The role's trust: created, fixed, or left alone. */
static int ensure_role(vaws_client *c, const char *name, viam_role_result *out,
		       vmie_error *err)
{
	vkv p = VKV_INIT;
	vxml *doc = NULL;
	vmie_error e = {0};
	json_t *want = trust_policy();
	char *text = dumps(want);
	int rc;

	vkv_add(&p, "RoleName", name);
	rc = viam_call(c, "GetRole", &p, true, &doc, &e);
	if (rc != 0 && no_such_entity(&e)) {
		vmie_error_clear(&e);
		vkv_add(&p, "RoleName", name);
		vkv_add(&p, "AssumeRolePolicyDocument", text);
		vkv_add(&p, "Description", "VM Import/Export service role (vmie)");
		rc = viam_call(c, "CreateRole", &p, false, &doc, &e);
		/* Another vmie created it since our GetRole (shards of one
		 * batch start together): its trust is ours, and it is as new. */
		if (rc != 0 && e.aws_code && strcmp(e.aws_code, "EntityAlreadyExists") == 0) {
			vmie_error_clear(&e);
			rc = 0;
		}
		out->created = rc == 0;
	} else if (rc == 0) {
		char *enc = vxml_text(vxml_root(doc), "GetRoleResult/Role/AssumeRolePolicyDocument");
		json_t *have = decode_document(enc);
		if (!have || !json_equal(have, want)) {
			vkv_add(&p, "RoleName", name);
			vkv_add(&p, "PolicyDocument", text);
			rc = viam_call(c, "UpdateAssumeRolePolicy", &p, true, NULL, &e);
			out->updated = rc == 0;
		}
		json_decref(have);
		free(enc);
	}
	if (rc == 0 && doc)
		out->arn = vxml_text(vxml_find(vxml_root(doc), "//Role"), "Arn");
	verr_move(err, &e);
	vxml_free(doc);
	free(text);
	json_decref(want);
	return rc;
}

/* The inline policy: written when missing or different. */
static int ensure_policy(vaws_client *c, const char *name,
			 const char *const *buckets, unsigned n,
			 viam_role_result *out, vmie_error *err)
{
	vkv p = VKV_INIT;
	vxml *doc = NULL;
	vmie_error e = {0};
	json_t *want = role_policy(c, buckets, n);
	bool same = false;
	int rc;

	vkv_add(&p, "RoleName", name);
	vkv_add(&p, "PolicyName", POLICY_NAME);
	rc = viam_call(c, "GetRolePolicy", &p, true, &doc, &e);
	if (rc == 0) {
		char *enc = vxml_text(vxml_root(doc), "GetRolePolicyResult/PolicyDocument");
		json_t *have = decode_document(enc);
		same = have && json_equal(have, want);
		json_decref(have);
		free(enc);
	} else if (no_such_entity(&e)) {
		vmie_error_clear(&e);
		rc = 0;
	}
	if (rc == 0 && !same) {
		char *text = dumps(want);
		vkv_add(&p, "RoleName", name);
		vkv_add(&p, "PolicyName", POLICY_NAME);
		vkv_add(&p, "PolicyDocument", text);
		rc = viam_call(c, "PutRolePolicy", &p, true, NULL, &e);
		out->updated = out->updated || (rc == 0 && !out->created);
		free(text);
	}
	verr_move(err, &e);
	vxml_free(doc);
	json_decref(want);
	return rc;
}

int viam_ensure_vmimport_role(vaws_client *c, const char *role_name,
			      const char *const *buckets, unsigned nbuckets,
			      viam_role_result *out, vmie_error *err)
{
	memset(out, 0, sizeof(*out));
	int rc = ensure_role(c, role_name, out, err);
	if (rc == 0)
		rc = ensure_policy(c, role_name, buckets, nbuckets, out, err);
	return rc;
}
