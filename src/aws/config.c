/*
 * The shared config and credentials files, the profile in effect, and
 * region resolution.  Which sections count as the profile follows botocore
 * (configloader.build_profile_map): see config.h.
 */
#include "aws/config.h"
#include "aws/creds_internal.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Far beyond any real ~/.aws file; a bound for a hostile one. */
#define VAWS_CONFIG_MAX (4 * 1024 * 1024)

int vaws_read_file(const char *path, size_t cap, vbuf *out, vmie_error *err)
{
	int rc = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 1;
		return verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				"cannot open %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			      "cannot read %s: %s", path,
			      S_ISDIR(st.st_mode) ? "is a directory"
						  : strerror(errno));
		goto out;
	}
	vbuf_reset(out);
	for (;;) {
		vbuf_grow(out, 4096);
		size_t room = out->cap - out->len - 1;
		ssize_t n = read(fd, out->data + out->len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				      "cannot read %s: %s", path,
				      strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (out->len > cap) {
			rc = verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				      "%s is larger than %zu bytes", path,
				      cap);
			goto out;
		}
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

char *vaws_home_dir(void)
{
	const char *h = getenv("HOME");
	if (h && *h)
		return xstrdup(h);
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res &&
	    res->pw_dir)
		return xstrdup(res->pw_dir);
	return xstrdup("/");
}

/* The path from env (with "~/" expanded, as botocore's expanduser) or
 * ~/.aws/<name>. */
static char *file_path(const char *env, const char *name)
{
	const char *v = vaws_env(env);
	vbuf b = VBUF_INIT;
	if (v && !(v[0] == '~' && (v[1] == '/' || v[1] == '\0'))) {
		vbuf_adds(&b, v);
		return vbuf_detach(&b);
	}
	char *home = vaws_home_dir();
	vbuf_adds(&b, home);
	if (v)
		vbuf_adds(&b, v + 1);
	else
		vbuf_addf(&b, "/.aws/%s", name);
	free(home);
	return vbuf_detach(&b);
}

/* Replace or add, zeroing any old value: these lists hold secrets. */
static void set_secret(vkv *kv, const char *key, const char *value)
{
	for (size_t i = 0; i < kv->n; i++) {
		if (strcmp(kv->items[i].key, key) == 0) {
			xfree_secret(kv->items[i].value);
			kv->items[i].value = xstrdup(value);
			return;
		}
	}
	vkv_add(kv, key, value);
}

typedef enum pass_kind {
	PASS_CONFIG,      /* [default] / [profile NAME] of the config file */
	PASS_SERVICES,    /* [services NAME] of the config file */
	PASS_SSO_SESSION, /* [sso-session NAME] of the config file */
	PASS_CREDENTIALS, /* [NAME] of the credentials file */
} pass_kind;

typedef struct pass {
	pass_kind kind;
	const char *want; /* profile or services name */
	vkv *dst;
	bool found;
} pass;

/* "profile  dev" -> "dev"; NULL unless the header is "<word> NAME". */
static const char *second_word(const char *section, const char *word)
{
	size_t n = strlen(word);
	if (strncmp(section, word, n) != 0 ||
	    (section[n] != ' ' && section[n] != '\t'))
		return NULL;
	const char *p = section + n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || strpbrk(p, " \t"))
		return NULL;
	return p;
}

static void on_key(void *ctx, const char *section, const char *key,
		   const char *value)
{
	pass *ps = ctx;
	bool match;
	switch (ps->kind) {
	case PASS_CONFIG: {
		const char *name = second_word(section, "profile");
		match = name ? strcmp(name, ps->want) == 0
			     : strcmp(section, "default") == 0 &&
				       strcmp(ps->want, "default") == 0;
		break;
	}
	case PASS_SERVICES:
	case PASS_SSO_SESSION: {
		const char *name = second_word(
			section,
			ps->kind == PASS_SERVICES ? "services" : "sso-session");
		match = name && strcmp(name, ps->want) == 0;
		break;
	}
	default:
		match = strcmp(section, ps->want) == 0;
		break;
	}
	if (!match)
		return;
	ps->found = true;
	if (key)
		set_secret(ps->dst, key, value);
}

static int load_file(const char *path, pass *ps, int npass, vmie_error *err)
{
	vbuf text = VBUF_INIT;
	int rc = vaws_read_file(path, VAWS_CONFIG_MAX, &text, err);
	if (rc == 1) {
		vlog_debug("%s: not found", path);
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	for (int i = 0; i < npass; i++) {
		if (!ps[i].want)
			continue;
		int bad = vaws_ini_parse(vbuf_str(&text), text.len, on_key,
					 &ps[i]);
		if (bad && i == 0)
			vlog_warn("%s: ignoring line %d (not a [section], "
				  "key = value or comment)", path, bad);
		/* The services and sso-session sections are named by the
		 * profile just read. */
		if (i == 0 && npass > 2) {
			ps[1].want = vkv_get(ps[0].dst, "services");
			ps[2].want = vkv_get(ps[0].dst, "sso_session");
		}
	}
out:
	vbuf_free_secret(&text);
	return rc;
}

/* Read both files for cfg->profile (set by the caller, with the paths).
 * 1: the profile is in neither file; 0: found (or "default"); <0: error. */
static int load_profile(vaws_config *cfg, vmie_error *err)
{
	pass cp[3] = {
		{PASS_CONFIG, cfg->profile, &cfg->config, false},
		{PASS_SERVICES, NULL, &cfg->services, false},
		{PASS_SSO_SESSION, NULL, &cfg->sso_session, false},
	};
	int rc = load_file(cfg->config_path, cp, 3, err);
	if (rc < 0)
		return rc;
	pass kp = {PASS_CREDENTIALS, cfg->profile, &cfg->credentials, false};
	rc = load_file(cfg->credentials_path, &kp, 1, err);
	if (rc < 0)
		return rc;
	cfg->profile_found = cp[0].found || kp.found;
	cfg->sso_session_found = cp[2].found;
	if (cp[1].want && !cp[1].found)
		vlog_warn("%s: profile %s names services section '%s', "
			  "which does not exist", cfg->config_path,
			  cfg->profile, cp[1].want);
	return cfg->profile_found ? 0 : 1;
}

int vaws_config_load(vaws_config *cfg, const char *profile_flag,
		     vmie_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	const char *p;
	if (profile_flag && *profile_flag) {
		cfg->profile = xstrdup(profile_flag);
		cfg->profile_explicit = true;
		cfg->profile_source = "--profile";
	} else if ((p = vaws_env("AWS_DEFAULT_PROFILE"))) {
		cfg->profile = xstrdup(p);
		cfg->profile_source = "AWS_DEFAULT_PROFILE";
	} else if ((p = vaws_env("AWS_PROFILE"))) {
		cfg->profile = xstrdup(p);
		cfg->profile_source = "AWS_PROFILE";
	} else {
		cfg->profile = xstrdup("default");
		cfg->profile_source = "default";
	}
	cfg->config_path = file_path("AWS_CONFIG_FILE", "config");
	cfg->credentials_path =
		file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");

	int rc = load_profile(cfg, err);
	if (rc < 0)
		goto fail;
	if (rc == 1 && strcmp(cfg->profile, "default") != 0) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "The config profile (%s) could not be found",
			 cfg->profile);
		rc = verr_hint(err,
			       "the profile comes from %s; add [profile %s] "
			       "to %s or [%s] to %s (`aws configure "
			       "--profile %s`), or choose another profile",
			       cfg->profile_source, cfg->profile,
			       cfg->config_path, cfg->profile,
			       cfg->credentials_path, cfg->profile);
		goto fail;
	}
	vlog_debug("profile %s (from %s)%s", cfg->profile,
		   cfg->profile_source,
		   cfg->profile_found ? "" : ", not in any file");
	return 0;
fail:
	vaws_config_free(cfg);
	return rc;
}

int vaws_config_load_other(const vaws_config *base, const char *name,
			   vaws_config *out, vmie_error *err)
{
	memset(out, 0, sizeof(*out));
	out->profile = xstrdup(name);
	out->profile_explicit = true;
	out->profile_source = "source_profile";
	out->config_path = xstrdup(base->config_path);
	out->credentials_path = xstrdup(base->credentials_path);
	int rc = load_profile(out, err);
	if (rc != 0)
		vaws_config_free(out);
	return rc;
}

void vaws_config_free(vaws_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->profile);
	free(cfg->config_path);
	free(cfg->credentials_path);
	vkv_free_secret(&cfg->config);
	vkv_free_secret(&cfg->credentials);
	vkv_free_secret(&cfg->services);
	vkv_free_secret(&cfg->sso_session);
	memset(cfg, 0, sizeof(*cfg));
}

const char *vaws_config_get(const vaws_config *cfg, const char *key)
{
	return cfg ? vkv_get(&cfg->config, key) : NULL;
}

const char *vaws_config_setting(const vaws_config *cfg, const char *env,
				const char *key)
{
	const char *v = env ? vaws_env(env) : NULL;
	if (v)
		return v;
	v = key ? vaws_config_get(cfg, key) : NULL;
	return v && *v ? v : NULL;
}

/* A real AWS region's shape: a partition-area word of 2-4 letters, one or
 * more "-word" parts, then "-<number>": us-west-2, us-gov-west-1,
 * cn-north-1, eu-isoe-west-1, eusc-de-east-1. */
static bool region_valid(const char *r)
{
	size_t n = strlen(r);
	if (n < 6 || n > 32)
		return false;
	size_t head = 0;
	while (head < n && r[head] >= 'a' && r[head] <= 'z')
		head++;
	if (head < 2 || head > 4 || r[head] != '-')
		return false;
	const char *last = strrchr(r, '-');
	if (last == r + head || !last[1])
		return false; /* no middle part, or ends with '-' */
	for (const char *p = last + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	for (const char *p = r + head + 1; p < last; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9');
		if (!alnum && !(*p == '-' && p[-1] != '-' && p[1] != '-'))
			return false;
	}
	return true;
}

int vaws_config_region(const vaws_config *cfg, const char *flag,
		       char **region_out, const char **source_out,
		       vmie_error *err)
{
	const char *v = NULL, *src = NULL;
	*region_out = NULL;
	if (source_out)
		*source_out = NULL;
	if (flag && *flag) {
		v = flag;
		src = "--region";
	} else if ((v = vaws_env("AWS_REGION"))) {
		src = "AWS_REGION";
	} else if ((v = vaws_env("AWS_DEFAULT_REGION"))) {
		src = "AWS_DEFAULT_REGION";
	} else if ((v = vaws_config_get(cfg, "region")) && *v) {
		src = "config-file";
	}
	const char *profile = cfg && cfg->profile ? cfg->profile : "default";
	const char *path = cfg && cfg->config_path ? cfg->config_path
						  : "~/.aws/config";
	bool dflt = strcmp(profile, "default") == 0;
	if (!v || !*v) {
		verr_set(err, VMIE_ERR_AWS_REGION_NOT_FOUND,
			 "no AWS region is set");
		return verr_hint(err,
				 "pass --region (e.g. --region us-west-2) or "
				 "set AWS_REGION, or add region = us-west-2 to "
				 "[%s%s] in %s",
				 dflt ? "" : "profile ", profile, path);
	}
	if (!region_valid(v)) {
		if (strcmp(src, "config-file") == 0)
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "invalid region '%s' (region in [%s%s] of %s)",
				 v, dflt ? "" : "profile ", profile, path);
		else
			verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				 "invalid region '%s' (from %s)", v, src);
		return verr_hint(err, "a region looks like us-east-1, "
				      "eu-west-2 or us-gov-west-1");
	}
	*region_out = xstrdup(v);
	if (source_out)
		*source_out = src;
	return 0;
}
