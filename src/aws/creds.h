/*
 * Credentials: the AWS CLI's default chain, cached and refreshed.
 *
 * Order (botocore create_credential_resolver, less the providers vmie does
 * not carry): environment (skipped when --profile was given), web identity
 * (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or the profile's
 * web_identity_token_file + role_arn), shared credentials file,
 * credential_process, static keys in the config file, container
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / FULL_URI), IMDSv2.
 */
#ifndef VMIE_AWS_CREDS_H
#define VMIE_AWS_CREDS_H

#include <time.h>

#include "aws/config.h"
#include "aws/http.h"
#include "vmie.h"

typedef struct vaws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;      /* NULL for long-term keys */
	char *account_id;         /* NULL when the source did not say */
	time_t expiration;        /* 0: does not expire */
	const char *source;       /* static: "environment", "web-identity",
				     "shared-credentials-file",
				     "credential-process", "config-file",
				     "container", "imds" */
} vaws_creds;

void vaws_creds_free(vaws_creds *c); /* zeroes the secrets */

typedef struct vaws_creds_chain vaws_creds_chain;

/* The chain borrows cfg and http; both must outlive it. sts_endpoint is
 * the STS URL used for web identity (resolved by the caller). */
vaws_creds_chain *vaws_creds_chain_new(const vaws_config *cfg, vhttp *http,
				       const char *sts_endpoint);
void vaws_creds_chain_free(vaws_creds_chain *ch);

/* Current credentials.  The first call walks the chain; later calls return
 * the cached set until it is within 5 minutes of expiry (then the provider
 * that answered is asked again).  When no provider has credentials the
 * error (VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND) lists every place looked;
 * a provider that is configured but fails is an error at once (status
 * VMIE_ERR_AWS_CONFIG_INVALID, _CREDENTIALS_NOT_FOUND, _REQUEST_FAILED or
 * _CONNECTION_FAILED), as in the AWS CLI.  *out belongs to the chain and
 * stays valid until the next call or vaws_creds_chain_free.  A chain is
 * not thread-safe: serialize calls or keep one per thread. */
int vaws_creds_get(vaws_creds_chain *ch, const vaws_creds **out,
		   vmie_error *err);

#endif
