/*
 * Before ExportImage: the AMI exists, is available, and is one AWS will
 * export.  AWS checks these too, but only after the role and bucket are
 * set up, and in words that do not say what to do; each case here gets
 * its own message and hint.
 */
#include "workflow/export_steps.h"

#include <stdlib.h>
#include <string.h>

#include "aws/sts.h"
#include "base/error.h"
#include "base/log.h"
#include "workflow/sanboot.h"

static int refuse(vmie_error *err, int status, const char *hint,
		  const char *fmt, const char *a, const char *b)
{
	verr_set(err, status, fmt, a, b ? b : "");
	verr_hint(err, "%s", hint);
	return status;
}

static const char *kms_key(const vec2_image *img)
{
	for (size_t i = 0; i < img->ndevices; i++)
		if (img->devices[i].encrypted)
			return img->devices[i].kms_key_id ? img->devices[i].kms_key_id
							  : "the account's default EBS key";
	return NULL;
}

/* An AMI owned by another account (shared with us, or public) cannot be
 * exported; Amazon's own AMIs are "amazon"-owned. */
static int check_owner(vwf_run *r, const vec2_image *img, vmie_error *err)
{
	char *account = NULL;
	vmie_error e = {0};
	int rc = 0;

	if (!img->owner_id)
		return 0;
	if (vsts_get_caller_identity(r->client, &account, NULL, NULL, &e) != 0) {
		/* Not fatal: ExportImage will say so itself. */
		vlog_debug("could not learn the account id (%s); the AMI's "
			   "owner is not checked", e.message ? e.message : "?");
		vmie_error_clear(&e);
		return 0;
	}
	if (strcmp(account, img->owner_id) != 0)
		rc = refuse(err, VMIE_ERR_EXPORT_OPERATION_FAILED,
			    "AWS exports only AMIs owned by the account: copy it "
			    "into this account first (aws ec2 copy-image), then "
			    "export the copy",
			    "%s belongs to account %s, not to this one",
			    img->image_id, img->owner_id);
	free(account);
	return rc;
}

int vwf_export_check_image(vwf_run *r, const char *ami_id, vec2_image *img,
			   vmie_error *err)
{
	int rc;

	vwf_phase_begin(r, "check");
	rc = vec2_describe_image(r->client, ami_id, img, err);
	if (rc == VEC2_NOT_FOUND)
		return refuse(err, VMIE_ERR_AWS_AMI_NOT_FOUND,
			      "check the id and the region (--region): AMIs are "
			      "regional; aws ec2 describe-images --owners self "
			      "lists yours",
			      "AMI %s was not found in %s", ami_id,
			      vaws_client_region(r->client));
	if (rc != 0)
		return rc;
	if (strcmp(img->state, "available") != 0)
		return refuse(err, VMIE_ERR_AWS_AMI_FETCH_FAILED,
			      strcmp(img->state, "pending") == 0
				      ? "wait until it is available (aws ec2 "
					"wait image-available), then export"
				      : "only an available AMI can be exported",
			      "AMI %s is %s, not available", ami_id, img->state);
	/* With --install-sanbootable the first thing wrong with a Windows
	 * AMI is that sanbootable is Linux only. */
	if (vec2_image_windows(img) && r->opts->install_sanbootable &&
	    (rc = vwf_sanboot_check_image(r, img, err)) != 0)
		return rc;
	if (vec2_image_windows(img))
		return refuse(err, VMIE_ERR_EXPORT_OPERATION_FAILED,
			      "AWS does not export AMIs that carry a Windows "
			      "license (VM Export limits); import your own "
			      "Windows media with BYOL instead",
			      "AMI %s is Windows-licensed (%s)", ami_id,
			      img->platform_details ? img->platform_details
						    : "Windows");
	if (img->nproduct_codes)
		return refuse(err, VMIE_ERR_EXPORT_OPERATION_FAILED,
			      "AWS does not export AWS Marketplace AMIs",
			      "AMI %s has Marketplace product codes%s", ami_id, NULL);
	const char *key = kms_key(img);
	if (key)
		return refuse(err, VMIE_ERR_EXPORT_OPERATION_FAILED,
			      "ExportImage cannot read encrypted snapshots: make "
			      "an unencrypted copy (launch it, copy the volume "
			      "unencrypted, create an image) and export that",
			      "AMI %s has snapshots encrypted with %s", ami_id, key);
	if ((rc = check_owner(r, img, err)) != 0)
		return rc;
	vlog_info("AMI %s (%s, %s) can be exported", ami_id,
		  img->name ? img->name : "no name",
		  img->architecture ? img->architecture : "?");
	vwf_phase_end(r, 0);
	return 0;
}
