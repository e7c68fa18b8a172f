/*
 * Credentials: the AWS CLI's default chain, cached and refreshed.
 *
 * Order (botocore create_credential_resolver, less the providers vmie does
 * not carry): environment (skipped when --profile was given), assume-role
 * profiles (role_arn with source_profile or credential_source), web
 * identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or the profile's
 * web_identity_token_file + role_arn), IAM Identity Center (sso_session /
 * sso_start_url with sso_account_id and sso_role_name), shared credentials
 * file, credential_process, static keys in the config file, container
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / FULL_URI), IMDSv2.
 *
 * Temporary credentials are renewed before they expire, whichever
 * provider gave them: at three quarters of their lifetime, at the latest
 * five minutes before the end.
 */
#ifndef VMIE_AWS_CREDS_H
#define VMIE_AWS_CREDS_H

#include <stdbool.h>
#include <time.h>

#include "aws/config.h"
#include "aws/endpoint.h"
#include "aws/http.h"
#include "vmie.h"

typedef struct vaws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;      /* NULL for long-term keys */
	char *account_id;         /* NULL when the source did not say */
	time_t expiration;        /* 0: does not expire */
	const char *source;       /* static: "environment", "assume-role",
				     "web-identity", "sso",
				     "shared-credentials-file",
				     "credential-process", "config-file",
				     "container", "imds" */
	/* How they were obtained, base first, for a human: "profile base
	 * (shared-credentials-file) → assumed arn:aws:iam::1:role/R from
	 * profile base"; NULL when `source` says it all. */
	char *chain;
} vaws_creds;

void vaws_creds_free(vaws_creds *c); /* zeroes the secrets */

typedef struct vaws_creds_chain vaws_creds_chain;

/* What the chain needs besides the profile; everything is borrowed and
 * must outlive the chain. */
typedef struct vaws_creds_opts {
	const vaws_config *cfg;
	vhttp *http;
	/* STS for AssumeRole and AssumeRoleWithWebIdentity (the client's
	 * region); NULL: profiles that need STS fail with an error. */
	const vaws_endpoint *sts;
	/* --endpoint-url, which also redirects the IAM Identity Center
	 * portal and OIDC endpoints (resolved in the profile's sso_region). */
	const char *endpoint_flag;
	/* Asks for an MFA code; NULL: nobody to ask. */
	vmie_prompt_fn prompt;
	void *prompt_ctx;
} vaws_creds_opts;

vaws_creds_chain *vaws_creds_chain_new(const vaws_creds_opts *opts);
void vaws_creds_chain_free(vaws_creds_chain *ch);

/* Current credentials.  The first call walks the chain; later calls return
 * the cached set until it is due for renewal (then the provider that
 * answered is asked again).  When no provider has credentials the
 * error (VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND) lists every place looked;
 * a provider that is configured but fails is an error at once (status
 * VMIE_ERR_AWS_CONFIG_INVALID, _CREDENTIALS_NOT_FOUND, _REQUEST_FAILED or
 * _CONNECTION_FAILED), as in the AWS CLI.  *out belongs to the chain and
 * stays valid until the next call or vaws_creds_chain_free.  A chain is
 * not thread-safe: serialize calls or keep one per thread. */
int vaws_creds_get(vaws_creds_chain *ch, const vaws_creds **out,
		   vmie_error *err);

/* AWS refused the current set as expired (ExpiredToken): the next
 * vaws_creds_get asks the provider again, past any cache, even though
 * the set's own expiration has not come.  No effect before the first
 * get. */
void vaws_creds_renew(vaws_creds_chain *ch);

/* Tests: the clock the chain and its providers read (NULL: time()). */
void vaws_creds_chain_set_clock(vaws_creds_chain *ch, time_t (*now)(void));

#endif
