/*
 * Which URL a service call goes to and how it is signed.
 * Order (botocore ConfiguredEndpointProvider): --endpoint-url,
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's
 * [services] section, the profile's endpoint_url; all configured ones are
 * ignored under AWS_IGNORE_CONFIGURED_ENDPOINT_URLS /
 * ignore_configured_endpoint_urls.  Then the public default for the
 * service and region (IAM: the partition's global endpoint, signed for its
 * home region).
 */
#ifndef VMIE_AWS_ENDPOINT_H
#define VMIE_AWS_ENDPOINT_H

#include <stdbool.h>

#include "aws/config.h"
#include "vmie.h"

typedef struct vaws_endpoint {
	char *url;            /* scheme://host[:port][/base], no trailing '/' */
	char *signing_region; /* region in the credential scope */
	const char *service;  /* signing name: "ec2", "s3", "iam", "sts", "ssm" */
	bool custom;          /* came from configuration, not the default */
	bool s3_path_style;   /* S3: bucket in the path (custom endpoints) */
	const char *source;   /* static: "--endpoint-url", "AWS_ENDPOINT_URL_S3",
				 ..., "default" */
} vaws_endpoint;

/* service is the lower-case signing name above. */
int vaws_endpoint_resolve(const vaws_config *cfg, const char *service,
			  const char *region, const char *endpoint_flag,
			  vaws_endpoint *out, vmie_error *err);
void vaws_endpoint_free(vaws_endpoint *ep);

#endif
