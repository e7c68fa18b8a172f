/*
 * The new AMI made from the stopped sanbootable instance (CreateImage),
 * and tags on any resource (CreateTags) (ec2.h).
 */
#include "aws/ec2.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ec2_internal.h"
#include "base/buf.h"
#include "base/error.h"

/* The source AMI's EBS devices as BlockDeviceMapping.N: same size, type
 * and delete-on-termination for the new image's snapshots.  No
 * SnapshotId: CreateImage snapshots the instance's own volumes. */
static void mappings(vkv *q, const vec2_block_device *devs, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; devs && i < n; i++) {
		const vec2_block_device *d = &devs[i];
		if (!d->ebs || !d->device_name || !*d->device_name)
			continue;
		k++;
		vec2_q_addf(q, d->device_name, "BlockDeviceMapping.%zu.DeviceName", k);
		if (d->volume_size) {
			char size[24];
			snprintf(size, sizeof(size), "%" PRIu64, d->volume_size);
			vec2_q_addf(q, size, "BlockDeviceMapping.%zu.Ebs.VolumeSize", k);
		}
		vec2_q_addf(q, d->volume_type, "BlockDeviceMapping.%zu.Ebs.VolumeType", k);
		vec2_q_addf(q, d->delete_on_termination ? "true" : "false",
			    "BlockDeviceMapping.%zu.Ebs.DeleteOnTermination", k);
	}
}

int vec2_create_image(vaws_client *c, const vec2_create_image_params *p,
		      char **image_id, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	*image_id = NULL;
	vec2_q_add(&q, "InstanceId", p->instance_id);
	vec2_q_add(&q, "Name", p->name);
	vec2_q_add(&q, "Description", p->description);
	vkv_add(&q, "NoReboot", "true");
	mappings(&q, p->devices, p->ndevices);
	vec2_q_tag_spec(&q, 1, "image", p->tags);
	vec2_q_tag_spec(&q, 2, "snapshot", p->tags);
	/* No client token: a retried CreateImage after a lost answer would
	 * fail on the name (or make a second AMI).  The caller decides. */
	int rc = vec2_call(c, "CreateImage", &q, false,
			   VMIE_ERR_AWS_AMI_CREATE_FAILED, &doc, err);
	if (rc != 0)
		return rc;
	*image_id = vxml_text(vxml_root(doc), "imageId");
	vxml_free(doc);
	if (!*image_id || !**image_id) {
		free(*image_id);
		*image_id = NULL;
		return verr_set(err, VMIE_ERR_AWS_AMI_CREATE_FAILED,
				"EC2 CreateImage: the answer has no imageId");
	}
	return 0;
}

int vec2_create_tags(vaws_client *c, const char *resource_id, const vkv *tags,
		     vmie_error *err)
{
	vkv q = VKV_INIT;

	if (!tags || !tags->n)
		return 0;
	vkv_add(&q, "ResourceId.1", resource_id);
	for (size_t i = 0; i < tags->n; i++) {
		vec2_q_addf(&q, tags->items[i].key, "Tag.%zu.Key", i + 1);
		vbuf k = VBUF_INIT;
		vbuf_addf(&k, "Tag.%zu.Value", i + 1);
		vkv_add(&q, vbuf_str(&k), tags->items[i].value ? tags->items[i].value : "");
		vbuf_free(&k);
	}
	/* Setting the same tags again changes nothing: safe to retry.  A
	 * failure keeps the client's status: the resource may be an
	 * instance, an AMI or a snapshot, so no one step's status fits. */
	return vec2_call(c, "CreateTags", &q, true, 0, NULL, err);
}
