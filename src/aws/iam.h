/*
 * IAM: the VM Import/Export service role, made to exist and to be right.
 */
#ifndef VMIE_AWS_IAM_H
#define VMIE_AWS_IAM_H

#include <stdbool.h>

#include "aws/client.h"
#include "vmie.h"

#define VIAM_VERSION "2010-05-08"

typedef struct viam_role_result {
	bool created; /* the role did not exist */
	bool updated; /* its trust or its permissions had to change */
	bool raced;   /* another run created it while this one looked: as
		       * new to IAM's propagation, its policies read as any */
	char *arn;
	char *added;  /* what was added, one line each; NULL: nothing */
	char *denied; /* needs an explicit Deny blocks, one line each; NULL: none */
} viam_role_result;
void viam_role_result_free(viam_role_result *r);

/* What one run needs the role to allow. */
typedef struct viam_role_needs {
	const char *const *read_buckets;  /* import: read the images there */
	unsigned nread;
	const char *const *write_buckets; /* export: write the image there */
	unsigned nwrite;
	const char *kms_key_id;           /* --kms-key-id; NULL: none */
} viam_role_needs;

/* The role role_name trusted by vmie.amazonaws.com with ExternalId
 * vmimport and allowed what needs asks (the buckets, the EC2 calls that
 * make snapshots and images, the KMS key), additively: every inline
 * policy of the role is read, and only what none of them grants is added
 * to the inline policy "vmimport"; a trust without vmie's statement gets
 * it appended.  Nothing is removed, and nothing is written when the role
 * already allows it all. */
int viam_ensure_vmimport_role(vaws_client *c, const char *role_name,
			      const viam_role_needs *needs,
			      viam_role_result *out, vmie_error *err);

/* The instance profile `name` holding the role `name` (trusted by
 * ec2.amazonaws.com, with the AWS managed policy
 * AmazonSSMManagedInstanceCore attached), for the temporary sanbootable
 * instance.  An existing profile with a role is used as it is, but the
 * policy is attached to its role when missing.  Idempotent.
 * out->created: something was made or attached, so EC2 may not accept
 * the profile for a few seconds (IAM propagation). */
int viam_ensure_instance_profile(vaws_client *c, const char *name,
				 viam_role_result *out, vmie_error *err);

#endif
