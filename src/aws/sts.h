/*
 * STS, the one call vmie needs from it directly: who am I.  (Web identity
 * credentials call AssumeRoleWithWebIdentity themselves, unsigned, from
 * creds_web_identity.c.)
 */
#ifndef VMIE_AWS_STS_H
#define VMIE_AWS_STS_H

#include "aws/client.h"

#define VSTS_VERSION "2011-06-15"

/* GetCallerIdentity.  The outputs are malloc'd (NULL on failure); any
 * output pointer may be NULL when the caller does not want it. */
int vsts_get_caller_identity(vaws_client *c, char **account, char **arn,
			     char **user_id, vmie_error *err);

#endif
