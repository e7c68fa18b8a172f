/*
 * Shared between the credential chain (creds.c) and its providers
 * (creds_*.c); nothing outside src/aws/creds*.c includes this.
 */
#ifndef VMIE_AWS_CREDS_INTERNAL_H
#define VMIE_AWS_CREDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "aws/creds.h"
#include "base/buf.h"

typedef struct vaws_assume vaws_assume; /* creds_assume.c */

/* The profiles an assume-role chain passed through to get here, nearest
 * first: a source_profile already on it is a loop. */
typedef struct vaws_visit {
	const char *profile;
	const struct vaws_visit *up;
} vaws_visit;

typedef struct vaws_creds_ctx {
	const vaws_config *cfg;   /* NULL: the environment only */
	vhttp *http;
	const vaws_endpoint *sts;
	const char *endpoint_flag;
	vmie_prompt_fn prompt;
	void *prompt_ctx;
	/* A source_profile's chain: what the environment says about web
	 * identity is ignored (botocore's disable_env_vars), and a profile
	 * with static keys uses them even when it has a role_arn. */
	bool source_scope;
	/* Renewing a set AWS refused as expired: skip the CLI's caches. */
	bool force;
	vaws_assume *assume;      /* this chain's assume-role state */
	const vaws_visit *visited;
	time_t (*now)(void);      /* the clock (tests move it) */
} vaws_creds_ctx;

/*
 * A provider returns 1 with *out filled, 0 when it is not configured (it
 * then appends where it looked, e.g. "environment (AWS_ACCESS_KEY_ID)", to
 * `looked`), or a negative vmie_status with err set when it is configured
 * but failed: the chain stops there, as the AWS CLI does.
 */
typedef int (*vaws_creds_provider_fn)(const vaws_creds_ctx *ctx,
				      vaws_creds *out, vbuf *looked,
				      vmie_error *err);

int vaws_creds_env(const vaws_creds_ctx *ctx, vaws_creds *out, vbuf *looked,
		   vmie_error *err);
int vaws_creds_unsupported(const vaws_creds_ctx *ctx, vaws_creds *out,
			   vbuf *looked, vmie_error *err);
int vaws_creds_assume(const vaws_creds_ctx *ctx, vaws_creds *out,
		      vbuf *looked, vmie_error *err);
int vaws_creds_web_identity(const vaws_creds_ctx *ctx, vaws_creds *out,
			    vbuf *looked, vmie_error *err);
int vaws_creds_sso(const vaws_creds_ctx *ctx, vaws_creds *out, vbuf *looked,
		   vmie_error *err);
int vaws_creds_shared_file(const vaws_creds_ctx *ctx, vaws_creds *out,
			   vbuf *looked, vmie_error *err);
int vaws_creds_process(const vaws_creds_ctx *ctx, vaws_creds *out,
		       vbuf *looked, vmie_error *err);
int vaws_creds_config_file(const vaws_creds_ctx *ctx, vaws_creds *out,
			   vbuf *looked, vmie_error *err);
int vaws_creds_container(const vaws_creds_ctx *ctx, vaws_creds *out,
			 vbuf *looked, vmie_error *err);
int vaws_creds_imds(const vaws_creds_ctx *ctx, vaws_creds *out, vbuf *looked,
		    vmie_error *err);

/* A chain of other providers inside a provider (creds.c): an assume-role
 * profile's source_profile or credential_source.  ctx is copied (its
 * assume state replaced by the new chain's own); `what` words the error
 * when none of them has credentials ("The source profile \"base\" must
 * have credentials"). */
vaws_creds_chain *vaws_creds_chain_sub(const vaws_creds_ctx *ctx,
				       const vaws_creds_provider_fn *list,
				       size_t n, const char *what);

/* The assume-role state a chain owns (creds_assume.c). */
vaws_assume *vaws_assume_new(void);
void vaws_assume_free(vaws_assume *a);

/* Helpers (creds_providers.c). */

/* getenv, with "" counting as unset. */
const char *vaws_env(const char *name);
/* "true" (any case). */
bool vaws_is_true(const char *v);
/* Append "; " between entries of the looked-in list. */
void vaws_looked(vbuf *looked, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A profile setting from either file, the credentials file first (botocore
 * merges the two, the credentials file winning). */
const char *vaws_profile_get(const vaws_config *cfg, const char *key);
/* Take key/secret/token/expiration/account from a credentials JSON
 * document (credential_process, container, IMDS use the same names but
 * call the token differently).  Returns 0, or a status with err set
 * naming `what` and the missing field. */
int vaws_creds_from_json(json_t *doc, const char *what,
			 const char *token_key, bool require_token,
			 bool require_expiration, vaws_creds *out,
			 vmie_error *err);
/* The last 4 characters of an access key id, for logs. */
const char *vaws_key_tail(const char *akid);
/* The account of an ARN ("arn:aws:sts::123456789012:assumed-role/r/s"),
 * malloc'd, or NULL. */
char *vaws_arn_account(const char *arn);

/* POSIX shell word splitting without expansion (creds_process.c): blanks
 * separate words, '...' is literal, "..." honours \" \\ \$ \`, a
 * backslash outside quotes escapes the next character.  Returns the word
 * count with a NULL-terminated malloc'd *argv_out (free each word, then
 * the array), or -1 on an unterminated quote, no words or too many. */
int vaws_shell_split(const char *s, char ***argv_out);

/* $HOME, else the password database's home directory (config.c). */
char *vaws_home_dir(void);

/* Read a small file (config.c).  0: read; 1: does not exist (ENOENT,
 * ENOTDIR); <0: error set (unreadable, a directory, larger than cap). */
int vaws_read_file(const char *path, size_t cap, vbuf *out, vmie_error *err);

/* The HTTP calls providers make themselves (creds_call.c): STS, the IAM
 * Identity Center portal and OIDC.  Up to three attempts while the
 * failure is one that passes (connection, 5xx, throttling), then 0 with
 * the last response in rs (any status), or VMIE_ERR_AWS_CONNECTION_FAILED
 * naming `what` and the URL when no response came. */
int vaws_creds_http(vhttp *http, const vhttp_request *rq, const char *what,
		    vhttp_response *rs, vmie_error *err);

/* One STS call (query protocol) at ctx->sts: signed with `with`, or
 * unsigned when NULL (AssumeRoleWithWebIdentity).  On success fills *out
 * from Credentials and AssumedRoleUser/Arn (account_id), *user_arn and
 * *user_id (may be NULL) with AssumedRoleUser's Arn and AssumedRoleId,
 * and returns 0; else err holds AWS's error (service "sts", operation
 * `action`). */
int vaws_creds_sts(const vaws_creds_ctx *ctx, const vaws_creds *with,
		   const char *action, const vkv *params, vaws_creds *out,
		   char **user_arn, char **user_id, vmie_error *err);

/* The JSON file caches the AWS CLI keeps (creds_cache.c). */

/* "<HOME>/.aws/cli/cache" or "<HOME>/.aws/sso/cache", malloc'd. */
char *vaws_cache_dir(const char *which);
/* The lower-case hex SHA-1 of s into out[41]. */
void vaws_sha1_hex(const char *s, char out[41]);
/* Read DIR/NAME.json: 0 with *doc (an object), 1 when absent or not a
 * JSON object (a cache is only a cache), <0 when unreadable. */
int vaws_cache_read(const char *dir, const char *name, json_t **doc,
		    vmie_error *err);
/* Write DIR/NAME.json atomically, mode 0600 (the directory is created
 * 0700 when missing).  Returns 0 or a status with err set. */
int vaws_cache_write(const char *dir, const char *name, json_t *doc,
		     vmie_error *err);
/* A cached credential set as botocore's fetchers store them
 * ({"Credentials": {AccessKeyId, SecretAccessKey, SessionToken,
 * Expiration, AccountId?}, ...}).  Returns 0 with *out filled when the
 * entry holds a set valid for more than min_left seconds, 1 otherwise. */
int vaws_cache_creds(json_t *doc, time_t now, long min_left, vaws_creds *out);
/* An IAM Identity Center token document as `aws sso login` writes it
 * (creds_sso.c): its accessToken and expiresAt, and whether it can be
 * renewed (refreshToken, clientId, clientSecret and a registration that
 * has not expired).  0, or -1 when it is not a usable token document. */
int vaws_sso_token_read(json_t *tok, time_t now, const char **access,
			time_t *expires, bool *refreshable);

#endif
