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

typedef struct vaws_creds_ctx {
	const vaws_config *cfg;
	vhttp *http;
	const char *sts_endpoint;
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
int vaws_creds_web_identity(const vaws_creds_ctx *ctx, vaws_creds *out,
			    vbuf *looked, vmie_error *err);
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

/* Helpers (creds_providers.c). */

/* getenv, with "" counting as unset. */
const char *vaws_env(const char *name);
/* "true" (any case). */
bool vaws_is_true(const char *v);
/* Append "; " between entries of the looked-in list. */
void vaws_looked(vbuf *looked, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
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

/* POSIX shell word splitting without expansion (creds_process.c): blanks
 * separate words, '...' is literal, "..." honours \" \\ \$ \`, a
 * backslash outside quotes escapes the next character.  Returns the word
 * count with a NULL-terminated malloc'd *argv_out (free each word, then
 * the array), or -1 on an unterminated quote, no words or too many. */
int vaws_shell_split(const char *s, char ***argv_out);

/* Read a small file (config.c).  0: read; 1: does not exist (ENOENT,
 * ENOTDIR); <0: error set (unreadable, a directory, larger than cap). */
int vaws_read_file(const char *path, size_t cap, vbuf *out, vmie_error *err);

#endif
