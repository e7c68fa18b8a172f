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
	char *arn;
} viam_role_result;
void viam_role_result_free(viam_role_result *r);

/* The role role_name trusted by vmie.amazonaws.com with ExternalId
 * vmimport, with one inline policy ("vmimport") allowing VM Import/Export
 * to read and write the buckets and to make snapshots and images.
 * Idempotent: nothing is written when it is already so. */
int viam_ensure_vmimport_role(vaws_client *c, const char *role_name,
			      const char *const *buckets, unsigned nbuckets,
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
