/*
 * The AWS CLI's configuration: the shared config file (~/.aws/config,
 * AWS_CONFIG_FILE) and credentials file (~/.aws/credentials,
 * AWS_SHARED_CREDENTIALS_FILE), the profile in effect (--profile, then
 * AWS_DEFAULT_PROFILE, then AWS_PROFILE, then "default") and the settings
 * read from the environment or that profile.
 *
 * Section rules (botocore configloader): in the config file a profile is
 * "[default]" or "[profile NAME]"; "[services NAME]" sections hold
 * per-service settings and "[sso-session NAME]" sections an IAM Identity
 * Center session; in the credentials file a profile is "[NAME]".
 */
#ifndef VMIE_AWS_CONFIG_H
#define VMIE_AWS_CONFIG_H

#include <stdbool.h>

#include "base/kv.h"
#include "vmie.h"

typedef struct vaws_config {
	char *profile;            /* the profile in effect */
	bool profile_explicit;    /* came from --profile (env creds skipped) */
	const char *profile_source; /* static: "--profile",
				       "AWS_DEFAULT_PROFILE", "AWS_PROFILE",
				       "default" */
	char *config_path;        /* path read (may not exist) */
	char *credentials_path;
	bool profile_found;       /* the profile exists in either file */
	vkv config;               /* keys of the profile in the config file */
	vkv credentials;          /* keys of the profile in the credentials file */
	/* The "[services NAME]" section the profile's `services` key names,
	 * with nested keys flattened as "s3.endpoint_url". */
	vkv services;
	/* The "[sso-session NAME]" section the profile's `sso_session` key
	 * names, and whether it exists. */
	vkv sso_session;
	bool sso_session_found;
} vaws_config;

/* Read both files for the profile.  A missing file is not an error; a
 * named profile (--profile, AWS_DEFAULT_PROFILE or AWS_PROFILE; not
 * "default") that exists in neither file is, as in the AWS CLI:
 * VMIE_ERR_AWS_CONFIG_INVALID "The config profile (x) could not be found".
 * Environment values that are empty count as unset. */
int vaws_config_load(vaws_config *cfg, const char *profile_flag,
		     vmie_error *err);
void vaws_config_free(vaws_config *cfg);

/* Another profile of the same two files (an assume-role profile's
 * source_profile), as --profile NAME would load it.  Returns 0, 1 when
 * the profile is in neither file (out then holds nothing to free), or a
 * status with err set when a file cannot be read. */
int vaws_config_load_other(const vaws_config *base, const char *name,
			   vaws_config *out, vmie_error *err);

/* A profile setting from the config file (e.g. "region"), NULL if unset. */
const char *vaws_config_get(const vaws_config *cfg, const char *key);

/* The region: flag, AWS_REGION, AWS_DEFAULT_REGION, profile region.
 * *source_out is a static string ("--region", "AWS_REGION",
 * "AWS_DEFAULT_REGION", "config-file"); region_out is malloc'd.
 * Returns VMIE_ERR_AWS_REGION_NOT_FOUND with a hint when none is set,
 * VMIE_ERR_INVALID_ARGUMENT when the value is not a region name. */
int vaws_config_region(const vaws_config *cfg, const char *flag,
		       char **region_out, const char **source_out,
		       vmie_error *err);

/* A setting from the environment first, then the profile:
 * vaws_config_setting(cfg, "AWS_MAX_ATTEMPTS", "max_attempts"). */
const char *vaws_config_setting(const vaws_config *cfg, const char *env,
				const char *key);

/* Parse one INI file into sections; used by vaws_config_load and the
 * fuzz target.  Calls fn for every key with its section header text
 * ("profile dev", "default", "services s3-local") and the key, nested
 * keys ("s3 =\n  endpoint_url = x") flattened to "s3.endpoint_url".
 * Keys are lower-cased (as configparser does); values are trimmed.
 * fn is also called once per section header with key and value NULL, so
 * an empty section still counts as present.  Never fails: malformed
 * lines are skipped, and the return value is the 1-based number of the
 * first one (0: none). */
typedef void (*vaws_ini_fn)(void *ctx, const char *section, const char *key,
			    const char *value);
int vaws_ini_parse(const char *text, size_t len, vaws_ini_fn fn, void *ctx);

#endif
