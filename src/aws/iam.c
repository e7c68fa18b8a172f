/*
 * The VM Import service role (iam.h).  The documents are compared as
 * JSON, not as text: IAM returns them URL-encoded and reformatted.  What
 * the role must allow, and what to add when it does not, is decided in
 * iam_policy.c; this file reads and writes the role.
 */
#include "aws/iam.h"
#include "aws/iam_internal.h"
#include "aws/iam_policy.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/kv.h"
#include "base/xalloc.h"

#define POLICY_NAME "vmimport"
#define MAX_PAGES 50     /* ListRolePolicies pages followed at most */
#define MAX_POLICIES 200 /* inline policies read at most */

void viam_role_result_free(viam_role_result *r)
{
	if (!r)
		return;
	free(r->arn);
	free(r->added);
	free(r->denied);
	memset(r, 0, sizeof(*r));
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

/* Compact, in the document's own key order (a user's policy is written
 * back as they wrote it, plus vmie's additions). */
static char *dumps(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT);
}

static void add_line(vbuf *b, const char *line)
{
	if (b->len)
		vbuf_addch(b, '\n');
	vbuf_adds(b, line);
}

/* The account, from an IAM ARN (arn:aws:iam::123456789012:role/x). */
static char *arn_account(const char *arn)
{
	const char *p = arn;
	for (int i = 0; p && i < 4; i++) {
		p = strchr(p, ':');
		p = p ? p + 1 : NULL;
	}
	const char *end = p ? strchr(p, ':') : NULL;
	return end && end > p ? xstrndup(p, (size_t)(end - p)) : NULL;
}

/* The role exists, and its trust lets VM Import/Export assume it: created
 * when missing; a trust without vmie's statement gets it appended. */
static int ensure_role(vaws_client *c, const char *name, viam_role_result *out,
		       vbuf *added, vmie_error *err)
{
	vkv p = VKV_INIT;
	vxml *doc = NULL;
	vmie_error e = {0};
	int rc;

again:
	vkv_add(&p, "RoleName", name);
	rc = viam_call(c, "GetRole", &p, true, &doc, &e);
	if (rc != 0 && no_such_entity(&e) && !out->raced) {
		vmie_error_clear(&e);
		json_t *trust = viam_trust_policy();
		char *text = dumps(trust);
		vkv_add(&p, "RoleName", name);
		vkv_add(&p, "AssumeRolePolicyDocument", text);
		vkv_add(&p, "Description", "VM Import/Export service role (vmie)");
		rc = viam_call(c, "CreateRole", &p, false, &doc, &e);
		free(text);
		json_decref(trust);
		/* Another run created it since our GetRole (the shards of one
		 * batch start together): an existing role, whose policies may
		 * already name another run's bucket, so look again. */
		if (rc != 0 && e.aws_code && strcmp(e.aws_code, "EntityAlreadyExists") == 0) {
			vmie_error_clear(&e);
			vxml_free(doc);
			doc = NULL;
			out->raced = true;
			goto again;
		}
		out->created = rc == 0;
	} else if (rc == 0) {
		char *enc = vxml_text(vxml_root(doc), "GetRoleResult/Role/AssumeRolePolicyDocument");
		json_t *have = decode_document(enc);
		if (!have || !viam_trust_allows_vmie(have)) {
			/* Unreadable trust text is not ours to discard. */
			json_t *want = have ? viam_trust_add_vmie(have) : NULL;
			char *text = want ? dumps(want) : NULL;
			if (!want) {
				rc = verr_set(&e, VMIE_ERR_AWS_VMIMPORT_ROLE_SETUP_FAILED,
					      "the trust policy of role %s is not "
					      "readable JSON", name);
				verr_hint(&e, "fix it with aws iam update-assume-role-policy "
					  "(vmie does not replace a policy it cannot read)");
			} else {
				vkv_add(&p, "RoleName", name);
				vkv_add(&p, "PolicyDocument", text);
				rc = viam_call(c, "UpdateAssumeRolePolicy", &p, true, NULL, &e);
				out->updated = rc == 0;
				if (rc == 0)
					add_line(added, "trust policy: a statement letting "
						 "vmie.amazonaws.com assume the role "
						 "with sts:ExternalId vmimport");
			}
			free(text);
			json_decref(want);
		}
		json_decref(have);
		free(enc);
	}
	if (rc == 0 && doc)
		out->arn = vxml_text(vxml_find(vxml_root(doc), "//Role"), "Arn");
	verr_move(err, &e);
	vxml_free(doc);
	return rc;
}

/* The names of the role's inline policies.  An identity that may not
 * list them still gets vmie's own one read (and the role judged by it). */
static int list_policies(vaws_client *c, const char *name, vkv *names,
			 vmie_error *err)
{
	char *marker = NULL;
	int rc = 0;
	for (int page = 0; page < MAX_PAGES; page++) {
		vkv p = VKV_INIT;
		vxml *doc = NULL;
		vmie_error e = {0};
		vkv_add(&p, "RoleName", name);
		if (marker)
			vkv_add(&p, "Marker", marker);
		free(marker);
		marker = NULL;
		rc = viam_call(c, "ListRolePolicies", &p, true, &doc, &e);
		if (rc != 0 && page == 0 && e.aws_code &&
		    strcmp(e.aws_code, "AccessDenied") == 0) {
			vmie_error_clear(&e);
			vkv_add(names, POLICY_NAME, "");
			return 0;
		}
		if (rc != 0) {
			verr_move(err, &e);
			return rc;
		}
		vxml_node *res = vxml_find(vxml_root(doc), "ListRolePoliciesResult");
		vxml_node *list = vxml_find(res, "PolicyNames");
		for (vxml_node *m = vxml_child(list, "member"); m; m = vxml_next(m, "member")) {
			char *n = vxml_text(m, NULL);
			if (n && names->n < MAX_POLICIES)
				vkv_add(names, n, "");
			free(n);
		}
		char *truncated = vxml_text(res, "IsTruncated");
		bool more = truncated && strcmp(truncated, "true") == 0;
		free(truncated);
		marker = more ? vxml_text(res, "Marker") : NULL;
		vxml_free(doc);
		if (!marker)
			break;
	}
	free(marker);
	return rc;
}

/* GetRolePolicy's document; *doc NULL when the policy is gone (deleted
 * between the list and the read) or its text is not JSON (*unreadable). */
static int read_policy(vaws_client *c, const char *role, const char *name,
		       json_t **doc, bool *unreadable, vmie_error *err)
{
	vkv p = VKV_INIT;
	vxml *x = NULL;
	vmie_error e = {0};
	*doc = NULL;
	*unreadable = false;
	vkv_add(&p, "RoleName", role);
	vkv_add(&p, "PolicyName", name);
	int rc = viam_call(c, "GetRolePolicy", &p, true, &x, &e);
	if (rc == 0) {
		char *enc = vxml_text(vxml_root(x), "GetRolePolicyResult/PolicyDocument");
		*doc = decode_document(enc);
		*unreadable = !*doc;
		free(enc);
	} else if (no_such_entity(&e)) {
		vmie_error_clear(&e);
		rc = 0;
	}
	verr_move(err, &e);
	vxml_free(x);
	return rc;
}

typedef struct role_docs {
	json_t **v;  /* every inline policy's document */
	size_t n;
	json_t *own; /* the one named vmimport (also in v), or NULL */
} role_docs;

static void role_docs_free(role_docs *d)
{
	for (size_t i = 0; i < d->n; i++)
		json_decref(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int read_policies(vaws_client *c, const char *role, role_docs *out,
			 vmie_error *err)
{
	vkv names = VKV_INIT;
	int rc = list_policies(c, role, &names, err);
	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		const char *name = names.items[i].key;
		json_t *doc;
		bool unreadable;
		rc = read_policy(c, role, name, &doc, &unreadable, err);
		if (rc == 0 && unreadable && strcmp(name, POLICY_NAME) == 0) {
			rc = verr_set(err, VMIE_ERR_AWS_VMIMPORT_ROLE_SETUP_FAILED,
				      "the inline policy %s of role %s is not "
				      "readable JSON", name, role);
			verr_hint(err, "fix it with aws iam put-role-policy (vmie "
				  "does not replace a policy it cannot read)");
		}
		if (rc != 0 || !doc)
			continue;
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = doc;
		if (strcmp(name, POLICY_NAME) == 0)
			out->own = doc;
	}
	vkv_free(&names);
	return rc;
}

/* The inline policies: what none of them grants is added to vmimport. */
static int ensure_policy(vaws_client *c, const char *name,
			 const viam_role_needs *needs, viam_role_result *out,
			 vbuf *added, vbuf *denied, vmie_error *err)
{
	role_docs docs = {0};
	char *account = out->arn ? arn_account(out->arn) : NULL;
	viam_scope scope = {viam_partition(c), vaws_client_region(c), account};
	json_t *want = NULL;
	int rc = out->created ? 0 : read_policies(c, name, &docs, err);

	if (rc == 0)
		want = viam_policy_extend(docs.v, docs.n, docs.own, needs, &scope,
					  added, denied);
	if (want) {
		vkv p = VKV_INIT;
		char *text = dumps(want);
		vkv_add(&p, "RoleName", name);
		vkv_add(&p, "PolicyName", POLICY_NAME);
		vkv_add(&p, "PolicyDocument", text);
		rc = viam_call(c, "PutRolePolicy", &p, true, NULL, err);
		out->updated = out->updated || (rc == 0 && !out->created);
		free(text);
	}
	json_decref(want);
	role_docs_free(&docs);
	free(account);
	return rc;
}

int viam_ensure_vmimport_role(vaws_client *c, const char *role_name,
			      const viam_role_needs *needs,
			      viam_role_result *out, vmie_error *err)
{
	vbuf added = VBUF_INIT, denied = VBUF_INIT;
	memset(out, 0, sizeof(*out));
	int rc = ensure_role(c, role_name, out, &added, err);
	if (rc == 0)
		rc = ensure_policy(c, role_name, needs, out, &added, &denied, err);
	out->added = added.len ? vbuf_detach(&added) : NULL;
	out->denied = denied.len ? vbuf_detach(&denied) : NULL;
	vbuf_free(&added);
	vbuf_free(&denied);
	return rc;
}
