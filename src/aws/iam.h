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

#endif
