/*
 * Which URL a service call goes to and how it is signed.
 * Order (botocore ConfiguredEndpointProvider): --endpoint-url,
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's
 * [services] section, the profile's endpoint_url; all configured ones are
 * ignored under AWS_IGNORE_CONFIGURED_ENDPOINT_URLS /
 * ignore_configured_endpoint_urls (--endpoint-url still wins).  Then the
 * public default for the service and region (IAM: the partition's global
 * endpoint, signed for its home region).
 */
#ifndef VMIE_AWS_ENDPOINT_H
#define VMIE_AWS_ENDPOINT_H

#include <stdbool.h>

#include "aws/config.h"
#include "vmie.h"

typedef struct vaws_endpoint {
	char *url;            /* scheme://host[:port][/base], no trailing '/' */
	char *scheme;         /* "http" or "https" (lower case) */
	char *host;           /* host[:port] as the Host header carries it */
	char *base_path;      /* "" or "/base" (no trailing '/') */
	char *signing_region; /* region in the credential scope */
	const char *service;  /* signing name: "ec2", "s3", "iam", "sts", "ssm",
				 "awsssoportal", "awsssooidc" */
	bool custom;          /* came from configuration, not the default */
	bool s3_path_style;   /* S3: bucket in the path (custom endpoints) */
	const char *source;   /* static: "--endpoint-url", "AWS_ENDPOINT_URL_S3",
				 "AWS_ENDPOINT_URL", "config-file services",
				 "config-file endpoint_url", "default" */
} vaws_endpoint;

/* service is "ec2", "s3", "iam", "sts", "ssm", "sso" (the IAM Identity
 * Center portal, portal.sso.REGION) or "sso-oidc" (oidc.REGION); region
 * the resolved region (required: even a custom endpoint is signed for
 * it).  AWS_ENDPOINT_URL_SSO / _SSO_OIDC and the [services] keys sso /
 * sso_oidc redirect the last two, as in botocore.
 * Returns 0, or VMIE_ERR_AWS_CONFIG_INVALID naming the setting when a
 * configured URL is unusable (VMIE_ERR_INVALID_ARGUMENT, a usage error,
 * when it is --endpoint-url's), or VMIE_ERR_INVALID_ARGUMENT for a missing
 * service/region. */
int vaws_endpoint_resolve(const vaws_config *cfg, const char *service,
			  const char *region, const char *endpoint_flag,
			  vaws_endpoint *out, vmie_error *err);
void vaws_endpoint_free(vaws_endpoint *ep);

/* Check and split a URL as the resolver does: http/https, a host, an
 * optional port 1-65535, no userinfo, query or fragment.  Fills url,
 * scheme, host and base_path of out.  `where` names the setting in the
 * error message.  Exposed for tests. */
int vaws_endpoint_parse_url(const char *url, const char *where,
			    vaws_endpoint *out, vmie_error *err);

/* Whether an endpoint's host[:port] is this machine: localhost,
 * 127.0.0.0/8 or [::1].  Plain http is refused to any other host unless
 * the user allows it (--allow-http). */
bool vaws_host_is_loopback(const char *hostport);

/* The DNS suffix of the region's partition: "amazonaws.com",
 * "amazonaws.com.cn", "c2s.ic.gov", ... */
const char *vaws_partition_suffix(const char *region);

#endif
