/* libFuzzer target: the vmimport role's policy documents (a user's, read
 * back from IAM) through evaluation and the additive extension. */
#include "aws/iam_policy.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	if (!doc)
		return 0;
	static const char *const buckets[] = {"b1"};
	static const viam_scope scope = {"aws", "us-west-2", "111122223333"};
	viam_role_needs needs = {buckets, 1, buckets, 1, "alias/k"};
	json_t *docs[] = {doc};
	vbuf added = {0}, denied = {0};
	viam_trust_allows_vmie(doc);
	json_decref(viam_trust_add_vmie(doc));
	json_t *out = viam_policy_extend(docs, 1, doc, &needs, &scope, &added, &denied);
	if (out) {
		/* What was added must now be granted: extending again adds nothing. */
		json_t *again[] = {out};
		vbuf a2 = {0}, d2 = {0};
		json_t *more = viam_policy_extend(again, 1, out, &needs, &scope, &a2, &d2);
		if (more && !d2.len)
			abort();
		json_decref(more);
		vbuf_free(&a2);
		vbuf_free(&d2);
	}
	json_decref(out);
	vbuf_free(&added);
	vbuf_free(&denied);
	json_decref(doc);
	return 0;
}
