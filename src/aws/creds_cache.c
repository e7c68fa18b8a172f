/*
 * The AWS CLI's JSON file caches, shared with it: assumed-role and IAM
 * Identity Center role credentials in ~/.aws/cli/cache (so one MFA prompt
 * serves both tools), SSO access tokens in ~/.aws/sso/cache (written by
 * `aws sso login`).  One JSON object per file, named by a SHA-1; files
 * are written 0600 and atomically, read as untrusted input (anything odd
 * is a cache miss, never an error: the source of truth is elsewhere).
 */
#include "aws/creds_internal.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Far beyond a credentials or token document. */
#define CACHE_MAX (256 * 1024)

char *vaws_cache_dir(const char *which)
{
	char *home = vaws_home_dir();
	vbuf b = VBUF_INIT;
	vbuf_addf(&b, "%s/.aws/%s/cache", home, which);
	free(home);
	return vbuf_detach(&b);
}

void vaws_sha1_hex(const char *s, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(s, strlen(s), md, &n, EVP_sha1(), NULL);
	for (unsigned int i = 0; i < n && i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[40] = '\0';
}

static void path_of(vbuf *p, const char *dir, const char *name)
{
	vbuf_addf(p, "%s/%s.json", dir, name);
}

int vaws_cache_read(const char *dir, const char *name, json_t **doc,
		    vmie_error *err)
{
	*doc = NULL;
	vbuf path = VBUF_INIT, text = VBUF_INIT;
	path_of(&path, dir, name);
	int rc = vaws_read_file(vbuf_str(&path), CACHE_MAX, &text, err);
	if (rc == 0) {
		json_error_t je;
		*doc = json_loadb(vbuf_str(&text), text.len, 0, &je);
		if (!json_is_object(*doc)) {
			vlog_debug("%s: not a JSON object, ignored",
				   vbuf_str(&path));
			json_decref(*doc);
			*doc = NULL;
			rc = 1;
		}
	}
	vbuf_free_secret(&text);
	vbuf_free(&path);
	return rc;
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir)
{
	char *d = xstrdup(dir);
	int rc = 0;
	for (char *p = d + 1; rc == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(d, 0700) != 0 && errno != EEXIST)
			rc = -1;
		*p = c;
		if (!c)
			break;
	}
	free(d);
	return rc;
}

int vaws_cache_write(const char *dir, const char *name, json_t *doc,
		     vmie_error *err)
{
	vbuf path = VBUF_INIT, tmp = VBUF_INIT;
	char *text = json_dumps(doc, JSON_COMPACT);
	int fd = -1, rc = 0;
	path_of(&path, dir, name);
	vbuf_addf(&tmp, "%s.%ld.tmp", vbuf_str(&path), (long)getpid());
	if (!text) {
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "cannot encode the cache entry %s",
			      vbuf_str(&path));
		goto out;
	}
	if (make_dirs(dir) != 0) {
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	fd = open(vbuf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
					  O_NOFOLLOW,
		  0600);
	size_t n = strlen(text);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) != 0 ||
	    close(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(vbuf_str(&tmp));
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "cannot write %s: %s", vbuf_str(&path),
			      strerror(e));
		goto out;
	}
	if (rename(vbuf_str(&tmp), vbuf_str(&path)) != 0) {
		int e = errno;
		unlink(vbuf_str(&tmp));
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "cannot write %s: %s", vbuf_str(&path),
			      strerror(e));
		goto out;
	}
	vlog_debug("cached %s", vbuf_str(&path));
out:
	if (text) {
		secure_zero(text, strlen(text));
		free(text);
	}
	vbuf_free(&path);
	vbuf_free(&tmp);
	return rc;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

int vaws_cache_creds(json_t *doc, time_t now, long min_left, vaws_creds *out)
{
	json_t *c = json_object_get(doc, "Credentials");
	const char *key = str(c, "AccessKeyId");
	const char *secret = str(c, "SecretAccessKey");
	const char *token = str(c, "SessionToken");
	time_t exp;
	if (!key || !secret || !token ||
	    visotime_parse(str(c, "Expiration"), &exp) != 0 ||
	    exp - now <= min_left)
		return 1;
	out->access_key_id = xstrdup(key);
	out->secret_access_key = xstrdup(secret);
	out->session_token = xstrdup(token);
	out->expiration = exp;
	const char *acct = str(c, "AccountId");
	if (acct)
		out->account_id = xstrdup(acct);
	else
		out->account_id = vaws_arn_account(
			str(json_object_get(doc, "AssumedRoleUser"), "Arn"));
	return 0;
}
