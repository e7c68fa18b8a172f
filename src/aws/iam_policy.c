/*
 * Policy documents of the vmimport role (iam_policy.h): evaluation and
 * additive extension.  The statements vmie writes carry fixed Sids, one
 * per kind of grant, so a later run finds its own statement and adds a
 * resource to it instead of growing the document by a statement per run.
 */
#include "aws/iam_policy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"

/* What the VM Import/Export guide's required-permissions page lists for
 * the role: read the import bucket, read and write the export bucket, the
 * EC2 calls that make snapshots and images, and for a customer managed
 * KMS key the calls that encrypt the snapshots with it. */
static const char *const read_actions[] = {
	"s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
};
static const char *const write_actions[] = {
	"s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
	"s3:PutObject",         "s3:GetBucketAcl",
};
static const char *const ec2_actions[] = {
	"ec2:ModifySnapshotAttribute", "ec2:CopySnapshot", "ec2:RegisterImage",
	"ec2:Describe*",
};
static const char *const kms_actions[] = {
	"kms:CreateGrant", "kms:Decrypt",           "kms:DescribeKey",
	"kms:Encrypt",     "kms:GenerateDataKey*", "kms:ReEncrypt*",
};
/* Which of a bucket statement's actions apply to the bucket itself and
 * which to its objects. */
static const char *const bucket_read[] = {"s3:GetBucketLocation", "s3:ListBucket"};
static const char *const bucket_write[] = {"s3:GetBucketLocation", "s3:ListBucket",
					   "s3:GetBucketAcl"};
static const char *const object_read[] = {"s3:GetObject"};
static const char *const object_write[] = {"s3:GetObject", "s3:PutObject"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char alias_condition[] = "ForAnyValue:StringEquals";
static const char alias_key[] = "kms:ResourceAliases";

bool viam_glob(const char *p, const char *t, bool nocase)
{
	const char *star = NULL, *resume = NULL;
	while (*t) {
		char pc = nocase ? (char)tolower((unsigned char)*p) : *p;
		char tc = nocase ? (char)tolower((unsigned char)*t) : *t;
		if (*p == '*') {
			star = p++;
			resume = t;
		} else if (*p && (*p == '?' || pc == tc)) {
			p++;
			t++;
		} else if (star) {
			p = star + 1;
			t = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* A string or an array of strings: does any element match? */
static bool any_matches(const json_t *v, const char *text, bool nocase)
{
	if (json_is_string(v))
		return viam_glob(json_string_value(v), text, nocase);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
		if (json_is_string(e) && viam_glob(json_string_value(e), text, nocase))
			return true;
	return false;
}

static bool contains_string(const json_t *v, const char *s)
{
	if (json_is_string(v))
		return strcmp(json_string_value(v), s) == 0;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
			return true;
	return false;
}

/* A condition key's value, its name compared case-insensitively as IAM
 * does; *name (may be NULL) gets the name as the document spells it. */
static json_t *get_ci_named(const json_t *obj, const char *key,
			    const char **name)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		if (strcasecmp(k, key) == 0) {
			if (name)
				*name = k;
			return v;
		}
	}
	return NULL;
}

static json_t *get_ci(const json_t *obj, const char *key)
{
	return get_ci_named(obj, key, NULL);
}

/* The only condition vmie evaluates: its own kms:ResourceAliases one. */
static bool condition_holds(const json_t *cond, const char *alias)
{
	if (!cond)
		return true;
	if (!alias || !json_is_object(cond) || json_object_size(cond) != 1)
		return false;
	json_t *op = get_ci(cond, alias_condition);
	if (!json_is_object(op) || json_object_size(op) != 1)
		return false;
	json_t *v = get_ci(op, alias_key);
	return v && contains_string(v, alias);
}

static json_t *statements(const json_t *doc)
{
	return json_is_object(doc) ? json_object_get(doc, "Statement") : NULL;
}

/* Each statement of a document, whether Statement is a list or one
 * object. */
#define FOREACH_STATEMENT(doc, i, st)                                         \
	for (size_t i = 0; (st = nth_statement(doc, i)) != NULL; i++)

static json_t *nth_statement(const json_t *doc, size_t i)
{
	json_t *s = statements(doc);
	if (json_is_object(s))
		return i == 0 ? s : NULL;
	return json_is_array(s) ? json_array_get(s, i) : NULL;
}

viam_verdict viam_policy_evaluate(json_t *const *docs, size_t ndocs,
				  const char *action, const char *resource,
				  const char *alias)
{
	viam_verdict v = VIAM_NOT_ALLOWED;
	for (size_t d = 0; d < ndocs; d++) {
		json_t *st;
		FOREACH_STATEMENT(docs[d], i, st) {
			const char *effect = json_string_value(json_object_get(st, "Effect"));
			json_t *a = json_object_get(st, "Action");
			json_t *r = json_object_get(st, "Resource");
			if (!effect || !a || !r || !any_matches(a, action, true) ||
			    !any_matches(r, resource, false) ||
			    !condition_holds(json_object_get(st, "Condition"), alias))
				continue;
			if (strcmp(effect, "Deny") == 0)
				return VIAM_DENIED;
			if (strcmp(effect, "Allow") == 0)
				v = VIAM_ALLOWED;
		}
	}
	return v;
}

/* --- trust ----------------------------------------------------------- */

static bool principal_is_vmie(const json_t *p)
{
	if (json_is_string(p))
		return strcmp(json_string_value(p), "*") == 0;
	return json_is_object(p) &&
	       contains_string(json_object_get(p, "Service"), "vmie.amazonaws.com");
}

/* Condition keys VM Import/Export satisfies when it assumes the role. */
static bool trust_condition_holds(const json_t *cond)
{
	if (!cond)
		return true;
	if (!json_is_object(cond))
		return false;
	const char *op;
	json_t *keys;
	json_object_foreach((json_t *)cond, op, keys) {
		if (!json_is_object(keys))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach(keys, k, v) {
			if (strcasecmp(k, "sts:ExternalId") == 0) {
				if (strcasecmp(op, "StringEquals") != 0 &&
				    strcasecmp(op, "StringLike") != 0)
					return false;
				if (!any_matches(v, "vmimport", false))
					return false;
			} else if (strcasecmp(k, "aws:SourceAccount") != 0 &&
				   strcasecmp(k, "aws:SourceArn") != 0) {
				return false;
			}
		}
	}
	return true;
}

bool viam_trust_allows_vmie(const json_t *trust)
{
	json_t *st;
	FOREACH_STATEMENT(trust, i, st) {
		const char *effect = json_string_value(json_object_get(st, "Effect"));
		json_t *a = json_object_get(st, "Action");
		if (effect && strcmp(effect, "Allow") == 0 && a &&
		    any_matches(a, "sts:AssumeRole", true) &&
		    principal_is_vmie(json_object_get(st, "Principal")) &&
		    trust_condition_holds(json_object_get(st, "Condition")))
			return true;
	}
	return false;
}

static json_t *trust_statement(void)
{
	return json_pack("{s:s, s:{s:s}, s:s, s:{s:{s:s}}}", "Effect", "Allow",
			 "Principal", "Service", "vmie.amazonaws.com", "Action",
			 "sts:AssumeRole", "Condition", "StringEquals",
			 "sts:Externalid", "vmimport");
}

json_t *viam_trust_policy(void)
{
	return json_pack("{s:s, s:[o]}", "Version", "2012-10-17", "Statement",
			 trust_statement());
}

/* A copy of doc (or a new document) whose Statement is an array. */
static json_t *with_statement_list(const json_t *doc)
{
	json_t *out = json_is_object(doc) ? json_deep_copy(doc)
					  : json_pack("{s:s}", "Version", "2012-10-17");
	json_t *s = json_object_get(out, "Statement");
	if (json_is_object(s))
		json_object_set_new(out, "Statement", json_pack("[O]", s));
	else if (!json_is_array(s))
		json_object_set_new(out, "Statement", json_array());
	return out;
}

json_t *viam_trust_add_vmie(const json_t *trust)
{
	json_t *out = with_statement_list(trust);
	json_array_append_new(json_object_get(out, "Statement"), trust_statement());
	return out;
}

/* --- what a run needs ------------------------------------------------ */

/* One resource a statement kind must cover, and which of the kind's
 * actions apply to it. */
typedef struct need {
	const char *sid;
	const char *const *actions; /* the statement's */
	size_t nactions;
	char *resource;
	const char *const *check; /* the ones to check on this resource */
	size_t ncheck;
	char *alias; /* kms:ResourceAliases condition value, or NULL */
} need;

typedef struct needs {
	need *v;
	size_t n;
} needs;

static void add_need(needs *ns, const char *sid, const char *const *actions,
		     size_t nactions, char *resource, const char *const *check,
		     size_t ncheck, char *alias)
{
	ns->v = xrealloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
	ns->v[ns->n++] = (need){sid, actions, nactions, resource, check,
				ncheck, alias};
}

static char *arn(const viam_scope *s, const char *fmt, const char *a,
		 const char *b)
{
	vbuf v = VBUF_INIT;
	vbuf_addf(&v, fmt, s->partition, a, b);
	return vbuf_detach(&v);
}

static void bucket_needs(needs *ns, const char *sid, const char *b,
			 const viam_scope *s, bool write)
{
	const char *const *all = write ? write_actions : read_actions;
	size_t nall = write ? N(write_actions) : N(read_actions);
	add_need(ns, sid, all, nall, arn(s, "arn:%s:s3:::%s%s", b, ""),
		 write ? bucket_write : bucket_read,
		 write ? N(bucket_write) : N(bucket_read), NULL);
	add_need(ns, sid, all, nall, arn(s, "arn:%s:s3:::%s%s", b, "/*"),
		 write ? object_write : object_read,
		 write ? N(object_write) : N(object_read), NULL);
}

/* A key id, a key ARN, an alias or an alias ARN (validation allowed no
 * other form).  Authorization is by the key's ARN, never the alias's: an
 * alias becomes "any key of the region" limited by kms:ResourceAliases. */
static void kms_needs(needs *ns, const char *key, const viam_scope *s)
{
	const char *acct = s->account ? s->account : "*";
	vbuf r = VBUF_INIT;
	char *alias = NULL;
	const char *a = strstr(key, ":alias/");
	if (strncmp(key, "arn:", 4) == 0 && a) {
		/* arn:PART:kms:REGION:ACCOUNT:alias/NAME */
		vbuf_add(&r, key, (size_t)(a - key));
		vbuf_adds(&r, ":key/*");
		alias = xstrdup(a + 1);
	} else if (strncmp(key, "arn:", 4) == 0) {
		vbuf_adds(&r, key);
	} else if (strncmp(key, "alias/", 6) == 0) {
		vbuf_addf(&r, "arn:%s:kms:%s:%s:key/*", s->partition, s->region, acct);
		alias = xstrdup(key);
	} else {
		vbuf_addf(&r, "arn:%s:kms:%s:%s:key/%s", s->partition, s->region,
			  acct, key);
	}
	add_need(ns, alias ? "VmieKmsAliases" : "VmieKmsKeys", kms_actions,
		 N(kms_actions), vbuf_detach(&r), kms_actions, N(kms_actions),
		 alias);
}

static void collect(needs *ns, const viam_role_needs *in, const viam_scope *s)
{
	for (unsigned i = 0; i < in->nread; i++)
		bucket_needs(ns, "VmieImportBuckets", in->read_buckets[i], s, false);
	for (unsigned i = 0; i < in->nwrite; i++)
		bucket_needs(ns, "VmieExportBuckets", in->write_buckets[i], s, true);
	add_need(ns, "VmieEc2", ec2_actions, N(ec2_actions), xstrdup("*"),
		 ec2_actions, N(ec2_actions), NULL);
	if (in->kms_key_id)
		kms_needs(ns, in->kms_key_id, s);
}

static void needs_free(needs *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		free(ns->v[i].resource);
		free(ns->v[i].alias);
	}
	free(ns->v);
}

/* --- extending vmie's own document ------------------------------------ */

/* The condition of a statement vmie extends: none, or (for the alias
 * statement) exactly its kms:ResourceAliases one. */
static bool own_condition(const json_t *st, bool alias)
{
	const json_t *cond = json_object_get(st, "Condition");
	if (!cond)
		return true;
	if (!alias || !json_is_object(cond) || json_object_size(cond) != 1)
		return false;
	json_t *op = get_ci(cond, alias_condition);
	return json_is_object(op) && json_object_size(op) == 1 &&
	       get_ci(op, alias_key) != NULL;
}

static bool string_or_strings(const json_t *v)
{
	if (json_is_string(v))
		return true;
	if (!json_is_array(v))
		return false;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return false;
	return true;
}

/* vmie's statement with this Sid that it can extend: an Allow with a
 * list-or-string Action and Resource and its own kind of condition (a
 * hand-edited one, with NotAction or another condition, say, is left
 * alone and a fresh Sid used). */
static json_t *own_statement(json_t *list, const char *sid, bool alias)
{
	size_t i;
	json_t *st;
	json_array_foreach(list, i, st) {
		const char *s = json_string_value(json_object_get(st, "Sid"));
		const char *e = json_string_value(json_object_get(st, "Effect"));
		if (s && strcmp(s, sid) == 0 && e && strcmp(e, "Allow") == 0 &&
		    string_or_strings(json_object_get(st, "Action")) &&
		    string_or_strings(json_object_get(st, "Resource")) &&
		    !json_object_get(st, "NotAction") &&
		    !json_object_get(st, "NotResource") && own_condition(st, alias))
			return st;
	}
	return NULL;
}

static bool sid_taken(json_t *list, const char *sid)
{
	size_t i;
	json_t *st;
	json_array_foreach(list, i, st) {
		const char *s = json_string_value(json_object_get(st, "Sid"));
		if (s && strcmp(s, sid) == 0)
			return true;
	}
	return false;
}

/* A string member turned into a one-element list, so it can grow. */
static json_t *as_list(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_array(v))
		return v;
	json_t *l = json_array();
	if (v)
		json_array_append(l, v);
	json_object_set_new(obj, key, l);
	return l;
}

static void add_line(vbuf *b, const char *fmt, const char *sid,
		     const char *what)
{
	if (b->len)
		vbuf_addch(b, '\n');
	vbuf_addf(b, fmt, sid, what);
}

static void join(vbuf *b, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vbuf_addf(b, "%s%s", i ? ", " : "", v[i]);
}

/* Put one missing need into the document's statement for its kind. */
static void grant(json_t *list, const need *nd, vbuf *added)
{
	json_t *st = own_statement(list, nd->sid, nd->alias != NULL);
	vbuf what = VBUF_INIT;
	if (!st) {
		vbuf sid = VBUF_INIT;
		vbuf_adds(&sid, nd->sid);
		for (int k = 2; sid_taken(list, vbuf_str(&sid)); k++) {
			vbuf_reset(&sid);
			vbuf_addf(&sid, "%s%d", nd->sid, k);
		}
		st = json_pack("{s:s, s:s, s:[], s:[]}", "Sid", vbuf_str(&sid),
			       "Effect", "Allow", "Action", "Resource");
		for (size_t i = 0; i < nd->nactions; i++)
			json_array_append_new(json_object_get(st, "Action"),
					      json_string(nd->actions[i]));
		if (nd->alias)
			json_object_set_new(st, "Condition",
					    json_pack("{s:{s:[]}}", alias_condition,
						      alias_key));
		json_array_append_new(list, st);
		vbuf_adds(&what, "Allow ");
		join(&what, nd->actions, nd->nactions);
		add_line(added, "new statement %s: %s", vbuf_str(&sid),
			 vbuf_str(&what));
		vbuf_reset(&what);
		vbuf_free(&sid);
	}
	const char *sid = json_string_value(json_object_get(st, "Sid"));
	json_t *acts = as_list(st, "Action");
	for (size_t i = 0; i < nd->nactions; i++) {
		if (any_matches(acts, nd->actions[i], true))
			continue;
		json_array_append_new(acts, json_string(nd->actions[i]));
		add_line(added, "statement %s: action %s", sid, nd->actions[i]);
	}
	json_t *res = as_list(st, "Resource");
	if (!contains_string(res, nd->resource)) {
		json_array_append_new(res, json_string(nd->resource));
		add_line(added, "statement %s: resource %s", sid, nd->resource);
	}
	if (nd->alias) {
		json_t *cond = json_object_get(st, "Condition");
		json_t *op = json_is_object(cond) ? get_ci(cond, alias_condition) : NULL;
		const char *spelt = alias_key;
		json_t *vals = json_is_object(op) ? get_ci_named(op, alias_key, &spelt)
						  : NULL;
		if (!vals) {
			vals = json_array();
			json_object_set_new(st, "Condition",
					    json_pack("{s:{s:o}}", alias_condition,
						      alias_key, vals));
		} else if (!json_is_array(vals)) {
			/* Replaced under the key's own spelling: one key. */
			json_t *l = json_pack("[O]", vals);
			char *k = xstrdup(spelt); /* the key lives in op */
			json_object_set_new(op, k, l);
			free(k);
			vals = l;
		}
		if (!contains_string(vals, nd->alias)) {
			json_array_append_new(vals, json_string(nd->alias));
			add_line(added, "statement %s: kms:ResourceAliases %s",
				 sid, nd->alias);
		}
	}
	vbuf_free(&what);
}

json_t *viam_policy_extend(json_t *const *docs, size_t ndocs,
			   const json_t *own, const viam_role_needs *in,
			   const viam_scope *scope, vbuf *added, vbuf *denied)
{
	needs ns = {0};
	json_t *out = NULL;
	collect(&ns, in, scope);
	for (size_t i = 0; i < ns.n; i++) {
		const need *nd = &ns.v[i];
		bool missing = false;
		for (size_t k = 0; k < nd->ncheck; k++) {
			viam_verdict v = viam_policy_evaluate(
				docs, ndocs, nd->check[k], nd->resource, nd->alias);
			if (v == VIAM_DENIED) {
				if (denied->len)
					vbuf_addch(denied, '\n');
				vbuf_addf(denied, "%s on %s", nd->check[k],
					  nd->resource);
			}
			missing |= v == VIAM_NOT_ALLOWED;
		}
		if (!missing)
			continue;
		if (!out)
			out = with_statement_list(own);
		grant(json_object_get(out, "Statement"), nd, added);
	}
	needs_free(&ns);
	/* Nothing appended after all (a grant the evaluation cannot see,
	 * such as a statement vmie may not extend): no write. */
	if (out && own && json_equal(out, own)) {
		json_decref(out);
		out = NULL;
	}
	return out;
}
