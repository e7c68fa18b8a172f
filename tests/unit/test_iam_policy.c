/*
 * The vmimport role's documents (issue 12, defects 4 and 5): evaluation,
 * and additions that never remove anything and are absent when the role
 * already grants what a run needs.
 */
#include "aws/iam_policy.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static const viam_scope scope = {"aws", "us-west-2", "111122223333"};

static json_t *doc(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fprintf(stderr, "bad test JSON: %s\n", e.text);
	return j;
}

static bool has(const json_t *list, const char *s)
{
	size_t i;
	json_t *e;
	if (json_is_string(list))
		return strcmp(json_string_value(list), s) == 0;
	json_array_foreach(list, i, e)
		if (strcmp(json_string_value(e), s) == 0)
			return true;
	return false;
}

static json_t *statement(const json_t *d, const char *sid)
{
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(d, "Statement"), i, st) {
		const char *s = json_string_value(json_object_get(st, "Sid"));
		if (s && strcmp(s, sid) == 0)
			return st;
	}
	return NULL;
}

static void test_glob(void)
{
	CHECK(viam_glob("s3:Get*", "s3:GetObject", false));
	CHECK(viam_glob("S3:GET*", "s3:GetObject", true));
	CHECK(!viam_glob("S3:GET*", "s3:GetObject", false));
	CHECK(viam_glob("*", "", false));
	CHECK(viam_glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/*", false));
	CHECK(!viam_glob("arn:aws:s3:::b/images/*", "arn:aws:s3:::b/*", false));
	CHECK(viam_glob("arn:aws:s3:::b?", "arn:aws:s3:::bx", false));
	CHECK(!viam_glob("arn:aws:s3:::b", "arn:aws:s3:::b/*", false));
	CHECK(viam_glob("a*b*c", "axxbyyc", false));
	CHECK(!viam_glob("a*b*c", "axxbyy", false));
}

static void test_evaluate(void)
{
	json_t *d = doc("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\","
			"\"Resource\":\"arn:aws:s3:::b/*\"},{\"Effect\":\"Deny\","
			"\"Action\":[\"s3:PutObject\"],\"Resource\":\"*\"},{\"Effect\":"
			"\"Allow\",\"NotAction\":\"iam:*\",\"Resource\":\"*\"},{\"Effect\":"
			"\"Allow\",\"Action\":\"ec2:*\",\"Resource\":\"*\",\"Condition\":"
			"{\"Bool\":{\"aws:SecureTransport\":\"true\"}}}]}");
	json_t *docs[] = {d};
	CHECK_INT(viam_policy_evaluate(docs, 1, "s3:GetObject", "arn:aws:s3:::b/*", NULL),
		  VIAM_ALLOWED);
	CHECK_INT(viam_policy_evaluate(docs, 1, "S3:getobject", "arn:aws:s3:::b/*", NULL),
		  VIAM_ALLOWED);
	CHECK_INT(viam_policy_evaluate(docs, 1, "s3:PutObject", "arn:aws:s3:::b/*", NULL),
		  VIAM_DENIED);
	CHECK_INT(viam_policy_evaluate(docs, 1, "s3:GetObject", "arn:aws:s3:::c/*", NULL),
		  VIAM_NOT_ALLOWED);
	/* NotAction and conditions vmie cannot evaluate grant nothing. */
	CHECK_INT(viam_policy_evaluate(docs, 1, "ec2:RegisterImage", "*", NULL),
		  VIAM_NOT_ALLOWED);
	json_decref(d);
}

static void test_trust(void)
{
	json_t *t = viam_trust_policy();
	CHECK(viam_trust_allows_vmie(t));
	json_decref(t);
	/* The guide's hardened form (SourceAccount, SourceArn) is fine. */
	t = doc("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"Service\":"
		"[\"ec2.amazonaws.com\",\"vmie.amazonaws.com\"]},\"Action\":"
		"\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"sts:ExternalId\":"
		"\"vmimport\",\"aws:SourceAccount\":\"111122223333\"},\"ArnLike\":"
		"{\"aws:SourceArn\":\"arn:aws:vmie:*:111122223333:*\"}}}}");
	CHECK(viam_trust_allows_vmie(t));
	json_decref(t);
	/* Another service only: vmie's statement is appended, the other kept. */
	t = doc("{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
		"\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":"
		"\"sts:AssumeRole\"}}");
	CHECK(!viam_trust_allows_vmie(t));
	json_t *t2 = viam_trust_add_vmie(t);
	CHECK(viam_trust_allows_vmie(t2));
	CHECK_INT(json_array_size(json_object_get(t2, "Statement")), 2);
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(
			  json_object_get(t2, "Statement"), 0), "Principal"), "Service")),
		  "ec2.amazonaws.com");
	json_decref(t2);
	json_decref(t);
	/* A wrong ExternalId does not count. */
	t = doc("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":"
		"\"vmie.amazonaws.com\"},\"Action\":\"sts:AssumeRole\",\"Condition\":"
		"{\"StringEquals\":{\"sts:Externalid\":\"other\"}}}]}");
	CHECK(!viam_trust_allows_vmie(t));
	json_decref(t);
}

/* From nothing: the guide's statements for one import bucket. */
static void test_extend_from_nothing(void)
{
	const char *b[] = {"b1"};
	viam_role_needs n = {.read_buckets = b, .nread = 1};
	vbuf added = VBUF_INIT, denied = VBUF_INIT;
	json_t *out = viam_policy_extend(NULL, 0, NULL, &n, &scope, &added, &denied);
	CHECK(out != NULL);
	json_t *st = statement(out, "VmieImportBuckets");
	CHECK(st != NULL);
	CHECK(has(json_object_get(st, "Resource"), "arn:aws:s3:::b1"));
	CHECK(has(json_object_get(st, "Resource"), "arn:aws:s3:::b1/*"));
	CHECK(has(json_object_get(st, "Action"), "s3:GetObject"));
	CHECK(!has(json_object_get(st, "Action"), "s3:PutObject"));
	CHECK(statement(out, "VmieEc2") != NULL);
	CHECK(statement(out, "VmieExportBuckets") == NULL);
	CHECK_CONTAINS(vbuf_str(&added), "new statement VmieImportBuckets");
	CHECK_CONTAINS(vbuf_str(&added), "resource arn:aws:s3:::b1/*");
	CHECK_INT(denied.len, 0);

	/* Again with what was just made: nothing to add. */
	json_t *docs[] = {out};
	vbuf_reset(&added);
	CHECK(viam_policy_extend(docs, 1, out, &n, &scope, &added, &denied) == NULL);
	CHECK_INT(added.len, 0);
	json_decref(out);
	vbuf_free(&added);
}

/* A hand-written policy (the guide's, for another bucket, with an extra
 * statement of the user's) gains only the new bucket: nothing of it goes. */
static void test_extend_keeps_everything(void)
{
	json_t *own = doc(
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
		"\"Action\":[\"s3:GetBucketLocation\",\"s3:GetObject\",\"s3:ListBucket\"],"
		"\"Resource\":[\"arn:aws:s3:::disk-images\",\"arn:aws:s3:::disk-images/*\"]},"
		"{\"Sid\":\"Mine\",\"Effect\":\"Allow\",\"Action\":\"license-manager:*\","
		"\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":[\"ec2:ModifySnapshotAttribute\","
		"\"ec2:CopySnapshot\",\"ec2:RegisterImage\",\"ec2:Describe*\"],\"Resource\":\"*\"}]}");
	json_t *docs[] = {own};
	const char *b[] = {"disk-images"};
	viam_role_needs n = {.read_buckets = b, .nread = 1};
	vbuf added = VBUF_INIT, denied = VBUF_INIT;
	/* Already granted: untouched. */
	CHECK(viam_policy_extend(docs, 1, own, &n, &scope, &added, &denied) == NULL);

	/* An export into another bucket: one statement more, all else equal. */
	const char *w[] = {"exports"};
	viam_role_needs e = {.write_buckets = w, .nwrite = 1};
	json_t *out = viam_policy_extend(docs, 1, own, &e, &scope, &added, &denied);
	CHECK(out != NULL);
	json_t *before = json_object_get(own, "Statement");
	json_t *after = json_object_get(out, "Statement");
	CHECK_INT(json_array_size(after), json_array_size(before) + 1);
	for (size_t i = 0; i < json_array_size(before); i++)
		CHECK(json_equal(json_array_get(before, i), json_array_get(after, i)));
	json_t *st = statement(out, "VmieExportBuckets");
	CHECK(st && has(json_object_get(st, "Action"), "s3:PutObject"));
	CHECK(st && has(json_object_get(st, "Resource"), "arn:aws:s3:::exports/*"));
	CHECK(st && !has(json_object_get(st, "Resource"), "arn:aws:s3:::disk-images"));

	/* A second export bucket joins the same statement. */
	json_t *docs2[] = {out};
	const char *w2[] = {"exports-2"};
	viam_role_needs e2 = {.write_buckets = w2, .nwrite = 1};
	vbuf_reset(&added);
	json_t *out2 = viam_policy_extend(docs2, 1, out, &e2, &scope, &added, &denied);
	CHECK(out2 != NULL);
	CHECK_INT(json_array_size(json_object_get(out2, "Statement")),
		  json_array_size(after));
	st = statement(out2, "VmieExportBuckets");
	CHECK(st && has(json_object_get(st, "Resource"), "arn:aws:s3:::exports"));
	CHECK(st && has(json_object_get(st, "Resource"), "arn:aws:s3:::exports-2/*"));
	CHECK_STR(vbuf_str(&added),
		  "statement VmieExportBuckets: resource arn:aws:s3:::exports-2\n"
		  "statement VmieExportBuckets: resource arn:aws:s3:::exports-2/*");
	json_decref(out2);
	json_decref(out);
	json_decref(own);
	vbuf_free(&added);
	vbuf_free(&denied);
}

/* Another inline policy granting the bucket (or a wildcard) counts too;
 * a Deny is reported, not fought. */
static void test_other_policies_count(void)
{
	json_t *other = doc("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
			    "[\"s3:*\",\"ec2:*\"],\"Resource\":\"*\"}]}");
	json_t *docs[] = {other};
	const char *b[] = {"b1"};
	viam_role_needs n = {.read_buckets = b, .nread = 1, .write_buckets = b,
			     .nwrite = 1};
	vbuf added = VBUF_INIT, denied = VBUF_INIT;
	CHECK(viam_policy_extend(docs, 1, NULL, &n, &scope, &added, &denied) == NULL);
	json_t *deny = doc("{\"Statement\":{\"Effect\":\"Deny\",\"Action\":"
			   "\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::b1/*\"}}");
	json_t *docs2[] = {other, deny};
	CHECK(viam_policy_extend(docs2, 2, NULL, &n, &scope, &added, &denied) == NULL);
	CHECK_STR(vbuf_str(&denied), "s3:PutObject on arn:aws:s3:::b1/*");
	json_decref(deny);
	json_decref(other);
	vbuf_free(&added);
	vbuf_free(&denied);
}

/* --kms-key-id: the guide's six KMS actions on that key, by its ARN; an
 * alias through kms:ResourceAliases. */
static void test_kms(void)
{
	const char *b[] = {"b1"};
	viam_role_needs n = {.read_buckets = b, .nread = 1,
			     .kms_key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"};
	vbuf added = VBUF_INIT, denied = VBUF_INIT;
	json_t *out = viam_policy_extend(NULL, 0, NULL, &n, &scope, &added, &denied);
	json_t *st = statement(out, "VmieKmsKeys");
	CHECK(st != NULL);
	const char *acts[] = {"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
			      "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"};
	for (size_t i = 0; st && i < 6; i++)
		CHECK(has(json_object_get(st, "Action"), acts[i]));
	CHECK(st && has(json_object_get(st, "Resource"),
			"arn:aws:kms:us-west-2:111122223333:key/"
			"1234abcd-12ab-34cd-56ef-1234567890ab"));
	json_t *docs[] = {out};
	CHECK(viam_policy_extend(docs, 1, out, &n, &scope, &added, &denied) == NULL);

	/* An alias: any key of the region that carries it. */
	viam_role_needs a = {.kms_key_id = "alias/images"};
	vbuf_reset(&added);
	json_t *out2 = viam_policy_extend(docs, 1, out, &a, &scope, &added, &denied);
	st = statement(out2, "VmieKmsAliases");
	CHECK(st != NULL);
	CHECK(st && has(json_object_get(st, "Resource"),
			"arn:aws:kms:us-west-2:111122223333:key/*"));
	json_t *vals = st ? json_object_get(json_object_get(json_object_get(st, "Condition"),
				"ForAnyValue:StringEquals"), "kms:ResourceAliases") : NULL;
	CHECK(vals && has(vals, "alias/images"));
	json_t *docs2[] = {out2};
	CHECK(viam_policy_extend(docs2, 1, out2, &a, &scope, &added, &denied) == NULL);
	/* A second alias joins the condition. */
	viam_role_needs a2 = {.kms_key_id =
				      "arn:aws:kms:us-west-2:111122223333:alias/other"};
	json_t *out3 = viam_policy_extend(docs2, 1, out2, &a2, &scope, &added, &denied);
	st = statement(out3, "VmieKmsAliases");
	vals = st ? json_object_get(json_object_get(json_object_get(st, "Condition"),
			"ForAnyValue:StringEquals"), "kms:ResourceAliases") : NULL;
	CHECK(vals && has(vals, "alias/images") && has(vals, "alias/other"));
	CHECK_INT(viam_policy_evaluate(docs2, 1, "kms:Decrypt",
				       "arn:aws:kms:us-west-2:111122223333:key/*",
				       "alias/nope"),
		  VIAM_NOT_ALLOWED);
	json_decref(out3);
	json_decref(out2);
	json_decref(out);
	vbuf_free(&added);
	vbuf_free(&denied);
}

/* A statement list given as one object, a string Action: grown in place. */
static void test_shapes(void)
{
	json_t *own = doc("{\"Statement\":{\"Sid\":\"VmieImportBuckets\",\"Effect\":"
			  "\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":"
			  "\"arn:aws:s3:::b0/*\"}}");
	json_t *docs[] = {own};
	const char *b[] = {"b1"};
	viam_role_needs n = {.read_buckets = b, .nread = 1};
	vbuf added = VBUF_INIT, denied = VBUF_INIT;
	json_t *out = viam_policy_extend(docs, 1, own, &n, &scope, &added, &denied);
	json_t *st = statement(out, "VmieImportBuckets");
	CHECK(st && json_is_array(json_object_get(st, "Resource")));
	CHECK(st && has(json_object_get(st, "Resource"), "arn:aws:s3:::b0/*"));
	CHECK(st && has(json_object_get(st, "Resource"), "arn:aws:s3:::b1"));
	CHECK(st && has(json_object_get(st, "Action"), "s3:ListBucket"));
	CHECK_CONTAINS(vbuf_str(&added), "statement VmieImportBuckets: action s3:ListBucket");
	json_decref(out);
	json_decref(own);
	vbuf_free(&added);
	vbuf_free(&denied);
}

/* Condition keys compare without case (IAM's rule), and a string value
 * becomes a list under the key as written: the alias condition stays one
 * key (found by the fuzzer). */
static void test_condition_key_case(void)
{
	json_t *own = doc("{\"Statement\":[{\"Sid\":\"VmieKmsAliases\",\"Effect\":\"Allow\","
			  "\"Action\":[\"kms:Decrypt\"],\"Resource\":\"arn:aws:kms:us-west-2:"
			  "111122223333:key/*\",\"Condition\":{\"ForAnyValue:StringEquals\":"
			  "{\"kms:resourcealiases\":\"alias/x\"}}}]}");
	json_t *docs[] = {own};
	viam_role_needs n = {.kms_key_id = "alias/y"};
	vbuf added = VBUF_INIT, denied = VBUF_INIT;
	json_t *out = viam_policy_extend(docs, 1, own, &n, &scope, &added, &denied);
	json_t *op = json_object_get(json_object_get(statement(out, "VmieKmsAliases"),
						     "Condition"), "ForAnyValue:StringEquals");
	CHECK_INT(json_object_size(op), 1);
	json_t *vals = json_object_get(op, "kms:resourcealiases");
	CHECK(vals && has(vals, "alias/x") && has(vals, "alias/y"));
	json_t *again[] = {out};
	CHECK(viam_policy_extend(again, 1, out, &n, &scope, &added, &denied) == NULL);
	json_decref(out);
	json_decref(own);
	vbuf_free(&added);
	vbuf_free(&denied);
}

int main(void)
{
	test_glob();
	test_evaluate();
	test_trust();
	test_extend_from_nothing();
	test_extend_keeps_everything();
	test_other_policies_count();
	test_kms();
	test_shapes();
	test_condition_key_case();
	return check_done("iam_policy");
}
