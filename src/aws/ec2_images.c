/*
 * DescribeImages for the AMI an export or a sanbootable install starts
 * from (ec2.h): what the checks before ExportImage and RunInstances need
 * (state, platform, Marketplace codes, encrypted snapshots, the block
 * devices to keep when imaging).
 */
#include "aws/ec2.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/ec2_internal.h"
#include "base/error.h"
#include "base/xalloc.h"

static void device_free(vec2_block_device *d)
{
	free(d->device_name);
	free(d->virtual_name);
	free(d->snapshot_id);
	free(d->volume_type);
	free(d->kms_key_id);
}

void vec2_image_free(vec2_image *img)
{
	if (!img)
		return;
	free(img->image_id);
	free(img->name);
	free(img->state);
	free(img->state_reason);
	free(img->owner_id);
	free(img->platform);
	free(img->platform_details);
	free(img->usage_operation);
	free(img->architecture);
	free(img->boot_mode);
	free(img->root_device_name);
	free(img->virtualization_type);
	for (size_t i = 0; i < img->ndevices; i++)
		device_free(&img->devices[i]);
	free(img->devices);
	memset(img, 0, sizeof(*img));
}

bool vec2_image_encrypted(const vec2_image *img)
{
	for (size_t i = 0; img && i < img->ndevices; i++)
		if (img->devices[i].ebs && img->devices[i].encrypted)
			return true;
	return false;
}

bool vec2_image_windows(const vec2_image *img)
{
	return (img->platform && strcasecmp(img->platform, "windows") == 0) ||
	       (img->platform_details && strcasestr(img->platform_details, "windows")) ||
	       (img->usage_operation &&
		strncmp(img->usage_operation, "RunInstances:0002", 17) == 0);
}

/* One blockDeviceMapping/item: an EBS volume (<ebs>), an instance-store
 * volume (<virtualName>), or a suppressed device (<noDevice/>). */
static void parse_device(vxml_node *item, vec2_block_device *d)
{
	d->device_name = vxml_text(item, "deviceName");
	d->virtual_name = vxml_text(item, "virtualName");
	vxml_node *ebs = vxml_child(item, "ebs");
	if (!ebs)
		return;
	d->ebs = true;
	d->snapshot_id = vxml_text(ebs, "snapshotId");
	d->volume_type = vxml_text(ebs, "volumeType");
	d->kms_key_id = vxml_text(ebs, "kmsKeyId");
	char *size = vxml_text(ebs, "volumeSize");
	d->volume_size = size ? strtoull(size, NULL, 10) : 0;
	free(size);
	d->encrypted = vec2_xml_bool(ebs, "encrypted");
	d->delete_on_termination = vec2_xml_bool(ebs, "deleteOnTermination");
}

static void parse_image(vxml_node *it, vec2_image *out)
{
	out->image_id = vxml_text(it, "imageId");
	out->name = vxml_text(it, "name");
	out->state = vxml_text(it, "imageState");
	out->state_reason = vxml_text(it, "stateReason/message");
	out->owner_id = vxml_text(it, "imageOwnerId");
	out->platform = vxml_text(it, "platform");
	out->platform_details = vxml_text(it, "platformDetails");
	out->usage_operation = vxml_text(it, "usageOperation");
	out->architecture = vxml_text(it, "architecture");
	out->boot_mode = vxml_text(it, "bootMode");
	out->root_device_name = vxml_text(it, "rootDeviceName");
	out->virtualization_type = vxml_text(it, "virtualizationType");
	out->ena_support = vec2_xml_bool(it, "enaSupport");
	out->is_public = vec2_xml_bool(it, "isPublic");

	vxml_node *codes = vxml_child(it, "productCodes");
	for (vxml_node *c = vxml_child(codes, "item"); c; c = vxml_next(c, "item"))
		out->nproduct_codes++;
	vxml_node *bdm = vxml_child(it, "blockDeviceMapping");
	size_t cap = 0;
	for (vxml_node *d = vxml_child(bdm, "item"); d; d = vxml_next(d, "item")) {
		xgrow((void **)&out->devices, &cap, out->ndevices + 1,
		      sizeof(*out->devices));
		vec2_block_device *dev = &out->devices[out->ndevices++];
		memset(dev, 0, sizeof(*dev));
		parse_device(d, dev);
	}
	if (!out->state)
		out->state = xstrdup("unknown");
}

int vec2_describe_image(vaws_client *c, const char *image_id, vec2_image *out,
			vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;
	vmie_error e = {0};

	memset(out, 0, sizeof(*out));
	vkv_add(&q, "ImageId.1", image_id);
	int rc = vec2_call(c, "DescribeImages", &q, true,
			   VMIE_ERR_AWS_AMI_FETCH_FAILED, &doc, &e);
	if (rc != 0) {
		if (vec2_code_is(&e, "InvalidAMIID.NotFound")) {
			vmie_error_clear(&e);
			rc = VEC2_NOT_FOUND;
		}
		goto out;
	}
	vxml_node *it = vxml_find(vxml_root(doc), "imagesSet/item");
	if (!it) {
		/* AWS answers an AMI deregistered a while ago (or another
		 * account's private one) with an empty set. */
		rc = VEC2_NOT_FOUND;
		goto out;
	}
	parse_image(it, out);
out:
	verr_move(err, &e);
	vxml_free(doc);
	return rc;
}

int vec2_find_own_image(vaws_client *c, const char *name, vec2_image *out,
			vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	memset(out, 0, sizeof(*out));
	vkv_add(&q, "Owner.1", "self");
	vec2_q_filter(&q, 1, "name", name);
	int rc = vec2_call(c, "DescribeImages", &q, true,
			   VMIE_ERR_AWS_AMI_FETCH_FAILED, &doc, err);
	if (rc == 0) {
		vxml_node *it = vxml_find(vxml_root(doc), "imagesSet/item");
		if (it)
			parse_image(it, out);
		else
			rc = VEC2_NOT_FOUND;
	}
	vxml_free(doc);
	return rc;
}

int vec2_deregister_image(vaws_client *c, const vec2_image *img,
			  vmie_error *err)
{
	vkv q = VKV_INIT;
	vkv_add(&q, "ImageId", img->image_id);
	/* Deregistering twice answers InvalidAMIID.NotFound: already done. */
	vmie_error e = {0};
	int rc = vec2_call(c, "DeregisterImage", &q, true,
			   VMIE_ERR_AWS_AMI_CREATE_FAILED, NULL, &e);
	if (rc != 0 && vec2_code_is(&e, "InvalidAMIID.NotFound")) {
		vmie_error_clear(&e);
		rc = 0;
	}
	verr_move(err, &e);
	for (size_t i = 0; rc == 0 && i < img->ndevices; i++) {
		const vec2_block_device *d = &img->devices[i];
		if (!d->ebs || !d->snapshot_id)
			continue;
		vkv s = VKV_INIT;
		vkv_add(&s, "SnapshotId", d->snapshot_id);
		rc = vec2_call(c, "DeleteSnapshot", &s, true,
			       VMIE_ERR_AWS_AMI_CREATE_FAILED, NULL, err);
		if (rc != 0 && err && vec2_code_is(err, "InvalidSnapshot.NotFound")) {
			vmie_error_clear(err);
			rc = 0;
		}
	}
	return rc;
}
