/*
 * The default VPC and one of its default subnets (ec2.h): where the
 * temporary sanbootable instance runs.  An account whose default VPC was
 * deleted gets a clear "none" instead of RunInstances' VPCIdNotSpecified.
 */
#include "aws/ec2.h"

#include <stdlib.h>
#include <string.h>

#include "aws/ec2_internal.h"
#include "base/error.h"

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

/* The default subnet of the first availability zone by name, so that
 * runs in one account land in the same place. */
static int default_subnet(vaws_client *c, const char *vpc_id, char **subnet_id,
			  vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	vec2_q_filter(&q, 1, "vpc-id", vpc_id);
	vec2_q_filter(&q, 2, "default-for-az", "true");
	int rc = vec2_call(c, "DescribeSubnets", &q, true,
			   VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED, &doc, err);
	if (rc != 0)
		return rc;
	char *best_az = NULL;
	vxml_node *set = vxml_find(vxml_root(doc), "subnetSet");
	for (vxml_node *it = vxml_child(set, "item"); it; it = vxml_next(it, "item")) {
		char *state = vxml_text(it, "state");
		char *id = vxml_text(it, "subnetId");
		char *az = vxml_text(it, "availabilityZone");
		bool usable = id && *id && (!state || strcmp(state, "available") == 0);
		if (usable && (!best_az || (az && strcmp(az, best_az) < 0))) {
			free(*subnet_id);
			free(best_az);
			*subnet_id = id;
			best_az = az;
			id = az = NULL;
		}
		free(state);
		free(id);
		free(az);
	}
	free(best_az);
	vxml_free(doc);
	return *subnet_id ? 0 : VEC2_NO_DEFAULT_SUBNET;
}

int vec2_default_subnet(vaws_client *c, char **subnet_id, char **vpc_id,
			vmie_error *err)
{
	*subnet_id = NULL;
	*vpc_id = NULL;
	int rc = default_vpc(c, vpc_id, err);
	if (rc == 0)
		rc = default_subnet(c, *vpc_id, subnet_id, err);
	if (rc != 0) {
		free(*vpc_id);
		*vpc_id = NULL;
	}
	if (rc == VEC2_NO_DEFAULT_VPC || rc == VEC2_NO_DEFAULT_SUBNET)
		vmie_error_clear(err);
	return rc;
}
