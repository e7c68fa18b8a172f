/*
 * The vmimport role's documents as JSON, without AWS calls: does what the
 * role holds already grant what a run needs, and what is the least to add
 * when it does not.  Additions only: a statement, resource or action the
 * role has is never removed, so a policy written by hand (AWS's guide
 * tells users to write one named vmimport) and the grants of other runs
 * going on at the same time stay.
 *
 * Evaluation is IAM's for identity policies, conservatively: an explicit
 * Deny wins; an Allow counts only with Action and Resource (not
 * NotAction / NotResource) and no Condition beyond the kms:ResourceAliases
 * form vmie itself writes.  A grant vmie cannot read is treated as
 * absent, which costs at most a redundant statement.
 */
#ifndef VMIE_AWS_IAM_POLICY_H
#define VMIE_AWS_IAM_POLICY_H

#include <jansson.h>
#include <stdbool.h>

#include "aws/iam.h"
#include "base/buf.h"

/* Where the ARNs vmie writes live: partition ("aws"), the run's region,
 * the account (NULL: "*"). */
typedef struct viam_scope {
	const char *partition;
	const char *region;
	const char *account;
} viam_scope;

typedef enum viam_verdict {
	VIAM_NOT_ALLOWED, /* no statement allows it */
	VIAM_ALLOWED,
	VIAM_DENIED,      /* an explicit Deny: nothing vmie adds would help */
} viam_verdict;

/* action on resource under the documents; alias: the key's alias for a
 * kms:ResourceAliases condition (NULL: none). */
viam_verdict viam_policy_evaluate(json_t *const *docs, size_t ndocs,
				  const char *action, const char *resource,
				  const char *alias);

/* IAM's wildcard match: '*' any run, '?' one character; actions compare
 * case-insensitively (nocase), resources exactly. */
bool viam_glob(const char *pattern, const char *text, bool nocase);

/* Whether a trust policy lets vmie.amazonaws.com assume the role with
 * sts:ExternalId vmimport (conditions on aws:SourceAccount and
 * aws:SourceArn, which VM Import/Export publishes, are fine). */
bool viam_trust_allows_vmie(const json_t *trust);
/* vmie's trust statement, as a whole document. */
json_t *viam_trust_policy(void);
/* trust (NULL: none) with vmie's statement appended; a new reference. */
json_t *viam_trust_add_vmie(const json_t *trust);

/* The vmie-maintained inline policy own (NULL: there is none yet),
 * extended by what the role's documents (own among them) do not grant for
 * needs; NULL when they grant all of it.  Each addition is described on
 * a line of *added ("statement VmieImportBuckets: resource arn:aws:s3:::b"), each
 * explicit Deny that blocks a need on a line of *denied. */
json_t *viam_policy_extend(json_t *const *docs, size_t ndocs,
			   const json_t *own, const viam_role_needs *needs,
			   const viam_scope *scope, vbuf *added, vbuf *denied);

#endif
