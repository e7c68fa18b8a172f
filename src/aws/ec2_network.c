/*
 * The default VPC and its default subnets (ec2.h): where the temporary
 * sanbootable instance runs.  An account whose default VPC was
 * deleted gets a clear "none" instead of RunInstances' VPCIdNotSpecified.
 */
#include "aws/ec2.h"

#include <stdlib.h>
#include <string.h>

#include "aws/ec2_internal.h"
#include "base/error.h"
#include "base/xalloc.h"

static int default_vpc(vaws_client *c, char **vpc_id, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	vec2_q_filter(&q, 1, "is-default", "true");
	int rc = vec2_call(c, "DescribeVpcs", &q, true,
			   VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED, &doc, err);
	if (rc != 0)
		return rc;
	*vpc_id = vxml_text(vxml_root(doc), "vpcSet/item/vpcId");
	vxml_free(doc);
	if (!*vpc_id || !**vpc_id) {
		free(*vpc_id);
		*vpc_id = NULL;
		return VEC2_NO_DEFAULT_VPC;
	}
	return 0;
}

typedef struct zone_subnet {
	char *az;
	char *id;
} zone_subnet;

static int by_zone(const void *a, const void *b)
{
	const zone_subnet *x = a, *y = b;
	return strcmp(x->az ? x->az : "", y->az ? y->az : "");
}

/* The default subnets, by availability zone name, so that runs in one
 * account try the same places in the same order. */
static int default_subnets(vaws_client *c, const char *vpc_id, char ***ids,
			   size_t *n, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	vec2_q_filter(&q, 1, "vpc-id", vpc_id);
	vec2_q_filter(&q, 2, "default-for-az", "true");
	int rc = vec2_call(c, "DescribeSubnets", &q, true,
			   VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED, &doc, err);
	if (rc != 0)
		return rc;
	zone_subnet *zs = NULL;
	size_t nz = 0;
	vxml_node *set = vxml_find(vxml_root(doc), "subnetSet");
	for (vxml_node *it = vxml_child(set, "item"); it; it = vxml_next(it, "item")) {
		char *state = vxml_text(it, "state");
		char *id = vxml_text(it, "subnetId");
		bool usable = id && *id && (!state || strcmp(state, "available") == 0);
		free(state);
		if (!usable) {
			free(id);
			continue;
		}
		zs = xrealloc(zs, (nz + 1) * sizeof(*zs));
		zs[nz].id = id;
		zs[nz].az = vxml_text(it, "availabilityZone");
		nz++;
	}
	vxml_free(doc);
	if (nz)
		qsort(zs, nz, sizeof(*zs), by_zone);
	*ids = nz ? xcalloc(nz, sizeof(char *)) : NULL;
	for (size_t i = 0; i < nz; i++) {
		(*ids)[i] = zs[i].id;
		free(zs[i].az);
	}
	free(zs);
	*n = nz;
	return nz ? 0 : VEC2_NO_DEFAULT_SUBNET;
}

int vec2_default_subnets(vaws_client *c, char ***subnet_ids, size_t *n,
			 char **vpc_id, vmie_error *err)
{
	*subnet_ids = NULL;
	*n = 0;
	*vpc_id = NULL;
	int rc = default_vpc(c, vpc_id, err);
	if (rc == 0)
		rc = default_subnets(c, *vpc_id, subnet_ids, n, err);
	if (rc != 0) {
		free(*vpc_id);
		*vpc_id = NULL;
	}
	if (rc == VEC2_NO_DEFAULT_VPC || rc == VEC2_NO_DEFAULT_SUBNET)
		vmie_error_clear(err);
	return rc;
}

int vec2_default_subnet(vaws_client *c, char **subnet_id, char **vpc_id,
			vmie_error *err)
{
	char **ids = NULL;
	size_t n = 0;
	int rc = vec2_default_subnets(c, &ids, &n, vpc_id, err);
	*subnet_id = n ? ids[0] : NULL;
	for (size_t i = 1; i < n; i++)
		free(ids[i]);
	free(ids);
	return rc;
}
