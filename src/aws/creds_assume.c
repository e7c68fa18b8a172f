/*
 * Assume-role profiles, as the AWS CLI reads them (botocore
 * AssumeRoleProvider): role_arn with source_profile (whose own
 * credentials, of any kind, sign the AssumeRole call; chains of any
 * length, a loop refused) or with credential_source (Environment,
 * Ec2InstanceMetadata, EcsContainer); external_id, role_session_name,
 * duration_seconds and mfa_serial (the code asked through the caller's
 * prompt).  The session lands in the CLI's cache (~/.aws/cli/cache, the
 * CLI's key), so vmie and the AWS CLI share one MFA prompt.
 */
#include "aws/creds_internal.h"
#include "base/error.h"
#include "base/isotime.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* botocore's window: a cached session with less left is not used. */
#define CACHE_MIN_LEFT_S (15 * 60)
/* Far beyond any real configuration: a bound, not a policy. */
#define MAX_HOPS 32
#define CODE_MAX 64

struct vaws_assume {
	bool ready;
	char *role_arn;
	char *session_name;
	bool session_default;       /* generated: not part of the cache key */
	char *external_id;
	char *mfa_serial;
	long duration;              /* 0: not set */
	char *source_profile;       /* or: */
	const char *credential_source;
	char cache_key[41];
	vaws_config src_cfg;
	bool src_loaded;
	vaws_visit visit;           /* this profile, for the chain below */
	vaws_creds_chain *src;
};

vaws_assume *vaws_assume_new(void)
{
	return xcalloc(1, sizeof(vaws_assume));
}

void vaws_assume_free(vaws_assume *a)
{
	if (!a)
		return;
	vaws_creds_chain_free(a->src);
	if (a->src_loaded)
		vaws_config_free(&a->src_cfg);
	free(a->role_arn);
	free(a->session_name);
	free(a->external_id);
	free(a->mfa_serial);
	free(a->source_profile);
	free(a);
}

static bool has_static(const vaws_config *cfg)
{
	return vaws_profile_get(cfg, "aws_access_key_id") ||
	       vaws_profile_get(cfg, "aws_secret_access_key");
}

/* The named providers credential_source may name (botocore's canonical
 * names, compared without case). */
static const struct named {
	const char *name;
	vaws_creds_provider_fn fn;
} named[] = {
	{"Environment", vaws_creds_env},
	{"Ec2InstanceMetadata", vaws_creds_imds},
	{"EcsContainer", vaws_creds_container},
};

static const vaws_creds_provider_fn source_order[] = {
	vaws_creds_assume,     vaws_creds_web_identity, vaws_creds_sso,
	vaws_creds_shared_file, vaws_creds_process,     vaws_creds_config_file,
};

/* "a → b → c → a": the profiles from the first one down, then `to`. */
static void loop_path(vbuf *b, const vaws_creds_ctx *ctx, const char *to)
{
	const char *names[MAX_HOPS + 2];
	size_t n = 0;
	for (const vaws_visit *v = ctx->visited; v && n < MAX_HOPS; v = v->up)
		names[n++] = v->profile;
	while (n > 0)
		vbuf_addf(b, "%s → ", names[--n]);
	vbuf_addf(b, "%s → %s", ctx->cfg->profile, to);
}

static int check_source_profile(const vaws_creds_ctx *ctx, const char *sp,
				vmie_error *err)
{
	const vaws_config *cfg = ctx->cfg;
	size_t hops = 0;
	bool loop = strcmp(sp, cfg->profile) == 0 && !has_static(cfg);
	for (const vaws_visit *v = ctx->visited; v; v = v->up, hops++)
		if (strcmp(v->profile, sp) == 0)
			loop = true;
	if (!loop && hops < MAX_HOPS)
		return 0;
	vbuf path = VBUF_INIT;
	loop_path(&path, ctx, sp);
	if (loop)
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "the source_profile settings loop: %s",
			 vbuf_str(&path));
	else
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "the source_profile chain is longer than %d "
			 "profiles: %s", MAX_HOPS, vbuf_str(&path));
	vbuf_free(&path);
	return verr_hint(err, "end the chain at a profile with credentials "
			      "of its own (keys, credential_process, SSO or "
			      "web identity) in %s", cfg->config_path);
}

/* The CLI's cache key: the SHA-1 of json.dumps(args, sort_keys=True) of
 * the AssumeRole arguments, the generated session name left out
 * (botocore BaseAssumeRoleCredentialFetcher._create_cache_key). */
static void cache_key(vaws_assume *a)
{
	json_t *o = json_object();
	json_object_set_new(o, "RoleArn", json_string(a->role_arn));
	if (!a->session_default)
		json_object_set_new(o, "RoleSessionName",
				    json_string(a->session_name));
	if (a->external_id)
		json_object_set_new(o, "ExternalId",
				    json_string(a->external_id));
	if (a->mfa_serial)
		json_object_set_new(o, "SerialNumber",
				    json_string(a->mfa_serial));
	if (a->duration)
		json_object_set_new(o, "DurationSeconds",
				    json_integer(a->duration));
	/* Python's default separators are ", " and ": ": jansson's when
	 * neither JSON_COMPACT nor an indent is asked. */
	char *text = json_dumps(o, JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	vaws_sha1_hex(text ? text : "", a->cache_key);
	free(text);
	json_decref(o);
}

static int setup(const vaws_creds_ctx *ctx, vaws_assume *a, vmie_error *err)
{
	const vaws_config *cfg = ctx->cfg;
	const char *p = cfg->profile;
	const char *sp = vaws_profile_get(cfg, "source_profile");
	const char *cs = vaws_profile_get(cfg, "credential_source");
	const char *dur = vaws_profile_get(cfg, "duration_seconds");
	if (sp && cs) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "The profile \"%s\" contains both source_profile and "
			 "credential_source.", p);
		return verr_hint(err, "keep one of them in %s",
				 cfg->config_path);
	}
	if (!sp && !cs) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "profile %s sets role_arn but neither source_profile "
			 "nor credential_source", p);
		return verr_hint(err, "add source_profile = NAME (a profile "
				      "with credentials) or credential_source "
				      "= Environment, Ec2InstanceMetadata or "
				      "EcsContainer to the profile");
	}
	if (dur) {
		char *end;
		long v = strtol(dur, &end, 10);
		if (*end || end == dur || v < 900 || v > 43200) {
			verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				 "duration_seconds = %.40s in profile %s is "
				 "not a session length AssumeRole accepts", dur,
				 p);
			return verr_hint(err, "use 900 to 43200 seconds, at "
					      "most the role's maximum session "
					      "duration");
		}
		a->duration = v;
	}
	if (cs) {
		for (size_t i = 0; i < sizeof named / sizeof *named; i++)
			if (strcasecmp(cs, named[i].name) == 0)
				a->credential_source = named[i].name;
		if (!a->credential_source) {
			verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
				 "The credential source \"%s\" referenced in "
				 "profile \"%s\" is not valid.", cs, p);
			return verr_hint(err, "use Environment, "
					      "Ec2InstanceMetadata or "
					      "EcsContainer");
		}
	} else {
		int rc = check_source_profile(ctx, sp, err);
		if (rc)
			return rc;
		a->source_profile = xstrdup(sp);
	}
	a->role_arn = xstrdup(vaws_profile_get(cfg, "role_arn"));
	a->external_id = xstrdup(vaws_profile_get(cfg, "external_id"));
	a->mfa_serial = xstrdup(vaws_profile_get(cfg, "mfa_serial"));
	const char *name = vaws_profile_get(cfg, "role_session_name");
	if (name) {
		a->session_name = xstrdup(name);
	} else {
		/* The CLI's own default: trust and SCP conditions on
		 * sts:RoleSessionName written for it keep working. */
		vbuf s = VBUF_INIT;
		vbuf_addf(&s, "botocore-session-%lld", (long long)ctx->now());
		a->session_name = vbuf_detach(&s);
		a->session_default = true;
	}
	cache_key(a);
	a->ready = true;
	return 0;
}

/* The chain that gives the credentials which sign AssumeRole. */
static int source_chain(const vaws_creds_ctx *ctx, vaws_assume *a,
			vmie_error *err)
{
	vaws_creds_ctx sub = *ctx;
	vbuf what = VBUF_INIT;
	sub.force = false;
	if (a->credential_source) {
		const vaws_creds_provider_fn *fn = NULL;
		for (size_t i = 0; i < sizeof named / sizeof *named; i++)
			if (named[i].name == a->credential_source)
				fn = &named[i].fn;
		/* The environment counts even under --profile. */
		if (*fn == vaws_creds_env)
			sub.cfg = NULL;
		vbuf_addf(&what, "No credentials found in credential_source "
				 "%s referenced in profile %s",
			  a->credential_source, ctx->cfg->profile);
		a->src = vaws_creds_chain_sub(&sub, fn, 1, vbuf_str(&what));
		vbuf_free(&what);
		return 0;
	}
	int rc = vaws_config_load_other(ctx->cfg, a->source_profile,
					&a->src_cfg, err);
	if (rc == 1) {
		verr_set(err, VMIE_ERR_AWS_CONFIG_INVALID,
			 "The source_profile \"%s\" referenced in the profile "
			 "\"%s\" does not exist.", a->source_profile,
			 ctx->cfg->profile);
		return verr_hint(err, "add [profile %s] to %s or [%s] to %s, "
				      "or point source_profile at a profile "
				      "that exists",
				 a->source_profile, ctx->cfg->config_path,
				 a->source_profile,
				 ctx->cfg->credentials_path);
	}
	if (rc)
		return rc;
	a->src_loaded = true;
	a->visit.profile = ctx->cfg->profile;
	a->visit.up = ctx->visited;
	sub.cfg = &a->src_cfg;
	sub.source_scope = true;
	sub.visited = &a->visit;
	vbuf_addf(&what, "The source profile \"%s\" must have credentials",
		  a->source_profile);
	a->src = vaws_creds_chain_sub(&sub, source_order,
				      sizeof source_order /
					      sizeof *source_order,
				      vbuf_str(&what));
	vbuf_free(&what);
	return 0;
}

static bool six_digits(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isdigit((unsigned char)s[n]))
			return false;
	return n == 6;
}

/* The MFA device's current code, from whoever the caller lets us ask. */
static int ask_code(const vaws_creds_ctx *ctx, const vaws_assume *a,
		    char code[CODE_MAX], vmie_error *err)
{
	const char *why = "vmie runs without a terminal";
	vbuf q = VBUF_INIT;
	vbuf_addf(&q, "Enter MFA code for %s: ", a->mfa_serial);
	int rc = -1;
	for (int tries = 0; ctx->prompt && tries < 3; tries++) {
		code[0] = '\0';
		rc = ctx->prompt(ctx->prompt_ctx, vbuf_str(&q), code, CODE_MAX,
				 &why);
		if (rc != 0)
			break;
		rc = -1;
		/* Spaces typed around the digits are not part of them. */
		char *s = code;
		while (*s == ' ' || *s == '\t')
			s++;
		memmove(code, s, strlen(s) + 1);
		size_t n = strlen(code);
		while (n && (code[n - 1] == ' ' || code[n - 1] == '\t' ||
			     code[n - 1] == '\r' || code[n - 1] == '\n'))
			code[--n] = '\0';
		if (six_digits(code)) {
			rc = 0;
			break;
		}
		vlog_warn("an MFA code is 6 digits; try again");
		why = "no valid code was given";
	}
	vbuf_free(&q);
	if (rc == 0)
		return 0;
	secure_zero(code, CODE_MAX);
	if (rc == -2)
		return verr_set(err, VMIE_ERR_INTERRUPTED,
				"profile %s: no MFA code for %s: %s",
				ctx->cfg->profile, a->mfa_serial, why);
	verr_set(err, VMIE_ERR_AWS_CREDENTIALS_NOT_FOUND,
		 "profile %s needs a code from MFA device %s, but vmie cannot "
		 "ask for it: %s", ctx->cfg->profile, a->mfa_serial, why);
	return verr_hint(
		err,
		"run vmie in a terminal (without --json when stdin is not "
		"one); or first run any AWS CLI command with --profile %s in "
		"a terminal: the role session it caches in ~/.aws/cli/cache "
		"serves vmie too, until it expires",
		ctx->cfg->profile);
}

static void write_cache(const vaws_assume *a, const vaws_creds *c,
			const char *user_arn, const char *user_id)
{
	struct tm tm;
	char exp[32] = "";
	if (gmtime_r(&c->expiration, &tm))
		/* As botocore's JSONFileCache serializes the datetime. */
		strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SUTC", &tm);
	json_t *cr = json_object();
	json_object_set_new(cr, "AccessKeyId", json_string(c->access_key_id));
	json_object_set_new(cr, "SecretAccessKey",
			    json_string(c->secret_access_key));
	json_object_set_new(cr, "SessionToken", json_string(c->session_token));
	json_object_set_new(cr, "Expiration", json_string(exp));
	if (c->account_id)
		json_object_set_new(cr, "AccountId",
				    json_string(c->account_id));
	json_t *doc = json_object();
	json_object_set_new(doc, "Credentials", cr);
	if (user_arn && user_id) {
		json_t *u = json_object();
		json_object_set_new(u, "AssumedRoleId", json_string(user_id));
		json_object_set_new(u, "Arn", json_string(user_arn));
		json_object_set_new(doc, "AssumedRoleUser", u);
	}
	char *dir = vaws_cache_dir("cli");
	vmie_error e = {0};
	if (vaws_cache_write(dir, a->cache_key, doc, &e) != 0)
		vlog_warn("could not cache the role session (%s); the next "
			  "run assumes the role again", e.message);
	vmie_error_clear(&e);
	free(dir);
	json_decref(doc);
}

static bool expired_code(const char *code)
{
	return code && (strcmp(code, "ExpiredToken") == 0 ||
			strcmp(code, "ExpiredTokenException") == 0);
}

static void describe(const vaws_assume *a, const vaws_creds *src,
		     bool cached, vaws_creds *out)
{
	vbuf b = VBUF_INIT;
	if (src)
		vbuf_addf(&b, "%s → ", src->chain ? src->chain : src->source);
	vbuf_addf(&b, "assumed %s from ", a->role_arn);
	if (a->source_profile)
		vbuf_addf(&b, "profile %s", a->source_profile);
	else
		vbuf_addf(&b, "credential_source %s", a->credential_source);
	if (cached)
		vbuf_adds(&b, " (a session cached in ~/.aws/cli/cache)");
	out->chain = vbuf_detach(&b);
}

static void params_of(const vaws_assume *a, const char *code, vkv *p)
{
	vkv_add(p, "RoleArn", a->role_arn);
	vkv_add(p, "RoleSessionName", a->session_name);
	if (a->duration) {
		char d[24];
		snprintf(d, sizeof d, "%ld", a->duration);
		vkv_add(p, "DurationSeconds", d);
	}
	if (a->external_id)
		vkv_add(p, "ExternalId", a->external_id);
	if (a->mfa_serial) {
		vkv_add(p, "SerialNumber", a->mfa_serial);
		vkv_add(p, "TokenCode", code);
	}
}

static int assume(const vaws_creds_ctx *ctx, vaws_assume *a,
		  vaws_creds *out, vmie_error *err)
{
	char code[CODE_MAX] = "";
	char *user_arn = NULL, *user_id = NULL;
	vkv params = VKV_INIT;
	const vaws_creds *src = NULL;
	int rc = 0;
	if (!a->src && (rc = source_chain(ctx, a, err)) != 0)
		return rc;
	rc = vaws_creds_get(a->src, &src, err);
	if (rc)
		goto fail;
	if (a->mfa_serial && (rc = ask_code(ctx, a, code, err)) != 0)
		return rc;
	params_of(a, code, &params);
	vlog_debug("assume-role: profile %s assumes %s (session %s) with "
		   "credentials from %s", ctx->cfg->profile, a->role_arn,
		   a->session_name, src->source);
	rc = vaws_creds_sts(ctx, src, "AssumeRole", &params, out, &user_arn,
			    &user_id, err);
	if (rc && err && expired_code(err->aws_code)) {
		/* The source set was refused: renew it, once. */
		vmie_error_clear(err);
		vaws_creds_renew(a->src);
		rc = vaws_creds_get(a->src, &src, err);
		if (rc == 0)
			rc = vaws_creds_sts(ctx, src, "AssumeRole", &params,
					    out, &user_arn, &user_id, err);
	}
	if (rc)
		goto fail;
	write_cache(a, out, user_arn, user_id);
	describe(a, src, false, out);
	goto out;
fail:
	verr_prefix(err, "profile %s: assuming %s", ctx->cfg->profile,
		    a->role_arn);
	if (err && err->aws_code && strcmp(err->aws_code, "AccessDenied") == 0)
		verr_hint(err,
			  "the role's trust policy must allow the identity of "
			  "%s%s (vmie whoami --profile %s shows it)%s%s",
			  a->source_profile ? "profile " : "credential_source ",
			  a->source_profile ? a->source_profile
					    : a->credential_source,
			  a->source_profile ? a->source_profile : "default",
			  a->external_id ? ", with this external_id" : "",
			  a->mfa_serial ? "; check the MFA device and code"
					: "");
out:
	secure_zero(code, sizeof code);
	vkv_free_secret(&params);
	free(user_arn);
	free(user_id);
	return rc;
}

int vaws_creds_assume(const vaws_creds_ctx *ctx, vaws_creds *out,
		      vbuf *looked, vmie_error *err)
{
	const vaws_config *cfg = ctx->cfg;
	(void)looked;
	if (!cfg || !vaws_profile_get(cfg, "role_arn") ||
	    vaws_profile_get(cfg, "web_identity_token_file"))
		return 0;
	/* A source profile's own keys win over its role (botocore). */
	if (ctx->source_scope && has_static(cfg))
		return 0;
	vaws_assume *a = ctx->assume;
	int rc;
	if (!a->ready && (rc = setup(ctx, a, err)) != 0)
		return rc;
	if (!ctx->force) {
		char *dir = vaws_cache_dir("cli");
		json_t *doc = NULL;
		rc = vaws_cache_read(dir, a->cache_key, &doc, NULL) == 0
			     ? vaws_cache_creds(doc, ctx->now(),
						CACHE_MIN_LEFT_S, out)
			     : 1;
		json_decref(doc);
		if (rc == 0)
			vlog_debug("assume-role: profile %s: session from "
				   "%s/%s.json", cfg->profile, dir,
				   a->cache_key);
		free(dir);
		if (rc == 0) {
			describe(a, NULL, true, out);
			out->source = "assume-role";
			return 1;
		}
	}
	rc = assume(ctx, a, out, err);
	if (rc)
		return rc;
	out->source = "assume-role";
	return 1;
}
