/* STS GetCallerIdentity over the query protocol. */
#include "aws/sts.h"
#include "base/error.h"

#include <stdlib.h>

static void give(char **out, char *v)
{
	if (out)
		*out = v;
	else
		free(v);
}

int vsts_get_caller_identity(vaws_client *c, char **account, char **arn,
			     char **user_id, vmie_error *err)
{
	if (account)
		*account = NULL;
	if (arn)
		*arn = NULL;
	if (user_id)
		*user_id = NULL;
	vxml *doc = NULL;
	/* Read-only: always safe to repeat. */
	int rc = vaws_query(c, "sts", "GetCallerIdentity", VSTS_VERSION, NULL,
			    true, &doc, err);
	if (rc != 0)
		return rc;
	vxml_node *res = vxml_find(vxml_root(doc), "GetCallerIdentityResult");
	char *a = vxml_text(res, "Account");
	char *r = vxml_text(res, "Arn");
	char *u = vxml_text(res, "UserId");
	vxml_free(doc);
	if (!a || !r) {
		free(a);
		free(r);
		free(u);
		rc = verr_set(err, VMIE_ERR_AWS_REQUEST_FAILED,
			      "STS GetCallerIdentity: the response has no "
			      "Account or Arn");
		return verr_hint(err, "check that the STS endpoint is AWS or "
				      "a compatible service");
	}
	give(account, a);
	give(arn, r);
	give(user_id, u);
	return 0;
}
