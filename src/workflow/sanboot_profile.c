/*
 * Where the temporary instance runs and as whom: a subnet (the one given,
 * or the default VPC's), and the instance profile whose role lets the SSM
 * agent register.  The network is checked first: an account without a
 * default VPC is told so before anything is created.
 */
#include "workflow/sanboot_steps.h"

#include <stdlib.h>

#include "aws/iam.h"
#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

int vwf_sb_network(vwf_sanboot_job *job, vmie_error *err)
{
	const vmie_options *o = job->r->opts;
	char **subnets = NULL, *vpc = NULL;
	size_t n = 0;
	int rc;

	if (o->subnet_id) {
		job->subnet_id = xstrdup(o->subnet_id);
		vlog_info("the temporary instance goes in subnet %s", o->subnet_id);
		return 0;
	}
	rc = vec2_default_subnets(job->r->client, &subnets, &n, &vpc, err);
	if (rc < 0) {
		verr_prefix(err, "looking for the default VPC");
		return rc;
	}
	if (rc == VEC2_NO_DEFAULT_VPC || rc == VEC2_NO_DEFAULT_SUBNET) {
		const char *region = vaws_client_region(job->r->client);
		verr_set(err, VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED,
			 "--install-sanbootable needs a subnet for its temporary "
			 "instance, and %s has %s",
			 region, rc == VEC2_NO_DEFAULT_VPC ? "no default VPC"
			 : "no default subnet in its default VPC");
		verr_hint(err, "check with: aws ec2 describe-vpcs --region %s "
			  "--filters Name=isDefault,Values=true (and aws ec2 "
			  "describe-subnets --filters Name=defaultForAz,Values=true); "
			  "create them with: aws ec2 create-default-vpc --region %s "
			  "(https://docs.aws.amazon.com/vpc/latest/userguide/"
			  "work-with-default-vpc.html); or name a subnet with "
			  "internet access (internet gateway or NAT) with --subnet-id",
			  region, region);
		return VMIE_ERR_AWS_INSTANCE_LAUNCH_FAILED;
	}
	vlog_info("the temporary instance goes in the default VPC %s (subnet %s)",
		  vpc, subnets[0]);
	job->subnet_id = subnets[0];
	/* The others, nearest zone first, for a zone that refuses the type. */
	job->nspare = n - 1;
	job->spare_subnets = n > 1 ? xcalloc(n - 1, sizeof(char *)) : NULL;
	for (size_t i = 1; i < n; i++)
		job->spare_subnets[i - 1] = subnets[i];
	free(subnets);
	free(vpc);
	return 0;
}

int vwf_sb_profile(vwf_sanboot_job *job, vmie_error *err)
{
	viam_role_result res = {0};
	int rc;

	vwf_phase_begin(job->r, "profile");
	rc = viam_ensure_instance_profile(job->r->client, job->profile, &res, err);
	if (rc != 0) {
		verr_prefix(err, "setting up instance profile %s", job->profile);
		if (err && !err->hint)
			verr_hint(err, "vmie needs iam:CreateRole, iam:AttachRolePolicy, "
				  "iam:CreateInstanceProfile, "
				  "iam:AddRoleToInstanceProfile and iam:PassRole; or "
				  "name an existing profile whose role has "
				  "AmazonSSMManagedInstanceCore with --instance-profile");
		rc = vwf_sb_as_step(err, rc, VMIE_ERR_AWS_INSTANCE_PROFILE_CREATE_FAILED);
		goto out;
	}
	job->profile_created = res.created || res.updated;
	if (job->profile_created)
		vlog_success("instance profile %s set up (role with "
			     "AmazonSSMManagedInstanceCore)", job->profile);
	else
		vlog_info("using instance profile %s", job->profile);
	vwf_phase_end(job->r, 0);
out:
	viam_role_result_free(&res);
	return rc;
}
