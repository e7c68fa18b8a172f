/*
 * Endpoint resolution.  Configured URLs are checked strictly: a typo in
 * AWS_ENDPOINT_URL would otherwise send signed requests somewhere
 * unexpected, and userinfo in a URL is a classic way to hide the real host.
 */
#include "aws/endpoint.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void vaws_endpoint_free(vaws_endpoint *ep)
{
	if (!ep)
		return;
	free(ep->url);
	free(ep->scheme);
	free(ep->host);
	free(ep->base_path);
	free(ep->signing_region);
	memset(ep, 0, sizeof(*ep));
}

/* getenv with "" counting as unset, as the AWS CLI treats it. */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static bool is_true(const char *v)
{
	return v && strcasecmp(v, "true") == 0;
}

/* Partitions by region prefix (botocore partitions.json).  Longer
 * prefixes first: "us-isob-" must not match "us-iso-". */
static const struct partition {
	const char *prefix;
	const char *suffix;
	const char *iam_host;   /* global IAM host, NULL: regional */
	const char *iam_region; /* its signing region */
} partitions[] = {
	{"cn-", "amazonaws.com.cn", "iam.cn-north-1.amazonaws.com.cn",
	 "cn-north-1"},
	{"us-gov-", "amazonaws.com", "iam.us-gov.amazonaws.com",
	 "us-gov-west-1"},
	{"us-isob-", "sc2s.sgov.gov", "iam.us-isob-east-1.sc2s.sgov.gov",
	 "us-isob-east-1"},
	{"us-isof-", "csp.hci.ic.gov", NULL, NULL},
	{"us-iso-", "c2s.ic.gov", "iam.us-iso-east-1.c2s.ic.gov",
	 "us-iso-east-1"},
	{"eu-isoe-", "cloud.adc-e.uk", NULL, NULL},
	{"eusc-", "amazonaws.eu", NULL, NULL},
	{"", "amazonaws.com", "iam.amazonaws.com", "us-east-1"},
};

static const struct partition *partition_of(const char *region)
{
	size_t n = sizeof(partitions) / sizeof(partitions[0]);
	for (size_t i = 0; i < n - 1; i++)
		if (strncmp(region, partitions[i].prefix,
			    strlen(partitions[i].prefix)) == 0)
			return &partitions[i];
	return &partitions[n - 1];
}

bool vaws_host_is_loopback(const char *hostport)
{
	if (hostport[0] == '[')
		return strncmp(hostport, "[::1]", 5) == 0;
	size_t n = strcspn(hostport, ":");
	if (n == 9 && strncasecmp(hostport, "localhost", 9) == 0)
		return true;
	if (n < 7 || strncmp(hostport, "127.", 4) != 0)
		return false;
	int dots = 0;
	for (size_t i = 0; i < n; i++) {
		if (hostport[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)hostport[i]))
			return false;
	}
	return dots == 3;
}

const char *vaws_partition_suffix(const char *region)
{
	return partition_of(region ? region : "")->suffix;
}

/* --endpoint-url is a command-line option: a bad value is a usage error
 * (exit 2); one from the environment or a config file is bad
 * configuration. */
static int bad_url(vmie_error *err, const char *url, const char *where,
		   const char *why)
{
	int status = strcmp(where, "--endpoint-url") == 0
			     ? VMIE_ERR_INVALID_ARGUMENT
			     : VMIE_ERR_AWS_CONFIG_INVALID;
	verr_set(err, status, "invalid endpoint URL '%s' (from %s): %s", url,
		 where, why);
	return verr_hint(err, "an endpoint URL looks like "
			      "https://host[:port][/path], e.g. "
			      "http://127.0.0.1:4566");
}

static bool host_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

int vaws_endpoint_parse_url(const char *url, const char *where,
			    vaws_endpoint *out, vmie_error *err)
{
	const char *p = url;
	const char *scheme;
	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return bad_url(err, url, where,
				       "it contains spaces or control "
				       "characters");
	if (strncasecmp(p, "https://", 8) == 0) {
		scheme = "https";
		p += 8;
	} else if (strncasecmp(p, "http://", 7) == 0) {
		scheme = "http";
		p += 7;
	} else {
		return bad_url(err, url, where,
			       "the scheme must be http:// or https://");
	}
	if (strpbrk(url, "?#"))
		return bad_url(err, url, where,
			       "a query string or fragment is not allowed");
	size_t alen = strcspn(p, "/");
	const char *auth_end = p + alen;
	if (memchr(p, '@', alen))
		return bad_url(err, url, where,
			       "user information (user@host) is not allowed");
	const char *host_end;
	if (*p == '[') { /* IPv6 literal */
		const char *close = memchr(p, ']', alen);
		if (!close || close == p + 1)
			return bad_url(err, url, where, "bad IPv6 address");
		for (const char *q = p + 1; q < close; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' &&
			    *q != '.')
				return bad_url(err, url, where,
					       "bad IPv6 address");
		host_end = close + 1;
	} else {
		host_end = p;
		while (host_end < auth_end && *host_end != ':') {
			if (!host_char_ok(*host_end))
				return bad_url(err, url, where,
					       "the host name has invalid "
					       "characters");
			host_end++;
		}
		if (host_end == p)
			return bad_url(err, url, where, "there is no host");
	}
	if (host_end < auth_end) {
		if (*host_end != ':' || host_end + 1 == auth_end)
			return bad_url(err, url, where, "bad port");
		long port = 0;
		for (const char *q = host_end + 1; q < auth_end; q++) {
			if (!isdigit((unsigned char)*q) || port > 65535)
				return bad_url(err, url, where, "bad port");
			port = port * 10 + (*q - '0');
		}
		if (port < 1 || port > 65535)
			return bad_url(err, url, where,
				       "the port must be 1-65535");
	}
	/* The base path keeps its segments but not trailing slashes, so
	 * "http://h:1/" and "http://h:1" are the same endpoint. */
	size_t plen = strlen(auth_end);
	while (plen > 0 && auth_end[plen - 1] == '/')
		plen--;

	out->scheme = xstrdup(scheme);
	out->host = xstrndup(p, alen);
	out->base_path = xstrndup(auth_end, plen);
	vbuf u = VBUF_INIT;
	vbuf_addf(&u, "%s://%s%s", scheme, out->host, out->base_path);
	out->url = vbuf_detach(&u);
	return 0;
}

/* The services vmie talks to: its name for each, the environment
 * variable and [services] key that redirect it (botocore: the service id,
 * upper snake / lower snake case), the default host's first labels and
 * the signing name.  The two IAM Identity Center services are called
 * unsigned, by the credential chain. */
static const struct service {
	const char *name;
	const char *env;
	const char *section;
	const char *host;
	const char *signing;
} known[] = {
	{"ec2", "AWS_ENDPOINT_URL_EC2", "ec2", "ec2", "ec2"},
	{"s3", "AWS_ENDPOINT_URL_S3", "s3", "s3", "s3"},
	{"iam", "AWS_ENDPOINT_URL_IAM", "iam", "iam", "iam"},
	{"sts", "AWS_ENDPOINT_URL_STS", "sts", "sts", "sts"},
	{"ssm", "AWS_ENDPOINT_URL_SSM", "ssm", "ssm", "ssm"},
	{"sso", "AWS_ENDPOINT_URL_SSO", "sso", "portal.sso", "awsssoportal"},
	{"sso-oidc", "AWS_ENDPOINT_URL_SSO_OIDC", "sso_oidc", "oidc",
	 "awsssooidc"},
};

static const struct service *known_service(const char *s)
{
	for (size_t i = 0; s && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].name, s) == 0)
			return &known[i];
	return NULL;
}

/* Where a configured URL for the service comes from, in botocore order.
 * Returns the URL (NULL: none) and sets *src / *where (a description for
 * error messages, written into where_buf). */
static const char *configured(const vaws_config *cfg, const char *service,
			      const char **src, vbuf *where)
{
	if (is_true(vaws_config_setting(cfg,
					"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
					"ignore_configured_endpoint_urls")))
		return NULL;

	const struct service *sv = known_service(service);
	const char *v;
	if (sv && (v = env(sv->env))) {
		*src = sv->env;
		vbuf_adds(where, sv->env);
		return v;
	}
	if ((v = env("AWS_ENDPOINT_URL"))) {
		*src = "AWS_ENDPOINT_URL";
		vbuf_adds(where, "AWS_ENDPOINT_URL");
		return v;
	}
	const char *profile = cfg && cfg->profile ? cfg->profile : "default";
	const char *path = cfg && cfg->config_path ? cfg->config_path
						  : "the config file";
	if (cfg) {
		vbuf key = VBUF_INIT;
		vbuf_addf(&key, "%s.endpoint_url", sv ? sv->section : service);
		v = vkv_get(&cfg->services, vbuf_str(&key));
		vbuf_free(&key);
		if (v && *v) {
			*src = "config-file services";
			vbuf_addf(where, "%s.endpoint_url in the services "
					 "section of profile %s in %s",
				  sv ? sv->section : service, profile, path);
			return v;
		}
	}
	v = vaws_config_get(cfg, "endpoint_url");
	if (v && *v) {
		*src = "config-file endpoint_url";
		vbuf_addf(where, "endpoint_url of profile %s in %s", profile,
			  path);
		return v;
	}
	return NULL;
}

int vaws_endpoint_resolve(const vaws_config *cfg, const char *service,
			  const char *region, const char *endpoint_flag,
			  vaws_endpoint *out, vmie_error *err)
{
	memset(out, 0, sizeof(*out));
	const struct service *svc = known_service(service);
	if (!svc)
		return verr_set(err, VMIE_ERR_INVALID_ARGUMENT,
				"endpoint: unknown service '%s'",
				service ? service : "(null)");
	if (!region || !*region)
		return verr_set(err, VMIE_ERR_AWS_REGION_NOT_FOUND,
				"endpoint for %s: no region", service);

	const struct partition *part = partition_of(region);
	const char *src = NULL;
	const char *url = NULL;
	vbuf where = VBUF_INIT;
	int rc = 0;

	if (endpoint_flag && *endpoint_flag) {
		url = endpoint_flag;
		src = "--endpoint-url";
		vbuf_adds(&where, "--endpoint-url");
	} else {
		url = configured(cfg, service, &src, &where);
	}

	if (url) {
		rc = vaws_endpoint_parse_url(url, vbuf_str(&where), out, err);
		if (rc != 0)
			goto out;
		out->custom = true;
		/* A custom endpoint (an emulator, a proxy, an S3-compatible
		 * store) rarely has wildcard DNS for bucket subdomains. */
		out->s3_path_style = true;
		out->source = src;
		/* IAM keeps its home region even when redirected: the
		 * emulator, like AWS, verifies the scope it would expect. */
		out->signing_region = xstrdup(
			strcmp(service, "iam") == 0 && part->iam_region
				? part->iam_region
				: region);
	} else {
		vbuf u = VBUF_INIT;
		const char *signing = region;
		if (strcmp(service, "iam") == 0 && part->iam_host) {
			vbuf_addf(&u, "https://%s", part->iam_host);
			signing = part->iam_region;
		} else {
			vbuf_addf(&u, "https://%s.%s.%s", svc->host, region,
				  part->suffix);
		}
		rc = vaws_endpoint_parse_url(vbuf_str(&u), "default", out,
					     err);
		vbuf_free(&u);
		if (rc != 0)
			goto out;
		out->source = "default";
		out->signing_region = xstrdup(signing);
	}
	out->service = svc->signing;
out:
	vbuf_free(&where);
	if (rc != 0)
		vaws_endpoint_free(out);
	return rc;
}
