/*
 * EC2 VM Import over the query protocol (ec2_import.h).
 */
#include "aws/ec2_import.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"

static void add(vkv *p, const char *key, const char *value)
{
	if (value && *value)
		vkv_add(p, key, value);
}

static void addf_key(vkv *p, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void addf_key(vkv *p, const char *value, const char *fmt, ...)
{
	vbuf k = VBUF_INIT;
	va_list ap;
	if (!value || !*value)
		return;
	va_start(ap, fmt);
	vbuf_vaddf(&k, fmt, ap);
	va_end(ap);
	vkv_add(p, vbuf_str(&k), value);
	vbuf_free(&k);
}

int vec2_import_image(vaws_client *c, const vec2_import_params *p,
		      char **task_id, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	*task_id = NULL;
	add(&q, "ClientToken", p->client_token);
	add(&q, "Description", p->description);
	for (unsigned i = 0; i < p->ndisks; i++) {
		const vec2_disk_container *d = &p->disks[i];
		addf_key(&q, d->format, "DiskContainer.%u.Format", i + 1);
		addf_key(&q, d->description, "DiskContainer.%u.Description", i + 1);
		addf_key(&q, d->url, "DiskContainer.%u.Url", i + 1);
		addf_key(&q, d->bucket, "DiskContainer.%u.UserBucket.S3Bucket", i + 1);
		addf_key(&q, d->key, "DiskContainer.%u.UserBucket.S3Key", i + 1);
	}
	add(&q, "LicenseType", p->license_type);
	add(&q, "UsageOperation", p->usage_operation);
	add(&q, "Architecture", p->architecture);
	add(&q, "Platform", p->platform);
	add(&q, "BootMode", p->boot_mode);
	if (p->encrypted)
		vkv_add(&q, "Encrypted", "true");
	add(&q, "KmsKeyId", p->kms_key_id);
	add(&q, "RoleName", p->role_name);
	if (p->tags && p->tags->n) {
		vkv_add(&q, "TagSpecification.1.ResourceType", "import-image-task");
		for (size_t i = 0; i < p->tags->n; i++) {
			addf_key(&q, p->tags->items[i].key,
				 "TagSpecification.1.Tag.%zu.Key", i + 1);
			vbuf k = VBUF_INIT;
			vbuf_addf(&k, "TagSpecification.1.Tag.%zu.Value", i + 1);
			vkv_add(&q, vbuf_str(&k), p->tags->items[i].value);
			vbuf_free(&k);
		}
	}
	int rc = vaws_query(c, "ec2", "ImportImage", VEC2_VERSION, &q, true, &doc, err);
	vkv_free(&q);
	if (rc != 0)
		return rc;
	*task_id = vxml_text(vxml_root(doc), "importTaskId");
	vxml_free(doc);
	if (!*task_id)
		return verr_set(err, VMIE_ERR_AWS_IMPORT_TASK_FAILED,
				"EC2 ImportImage: the answer has no importTaskId");
	return 0;
}

void vec2_import_task_free(vec2_import_task *t)
{
	if (!t)
		return;
	free(t->status);
	free(t->status_message);
	free(t->image_id);
	for (size_t i = 0; i < t->nsnapshot_ids; i++)
		free(t->snapshot_ids[i]);
	free(t->snapshot_ids);
	memset(t, 0, sizeof(*t));
}

int vec2_describe_import_image_task(vaws_client *c, const char *task_id,
				    vec2_import_task *out, vmie_error *err)
{
	vkv q = VKV_INIT;
	vxml *doc = NULL;

	memset(out, 0, sizeof(*out));
	out->progress = -1;
	vkv_add(&q, "ImportTaskId.1", task_id);
	int rc = vaws_query(c, "ec2", "DescribeImportImageTasks", VEC2_VERSION, &q,
			    true, &doc, err);
	vkv_free(&q);
	if (rc != 0)
		return rc;
	vxml_node *t = vxml_find(vxml_root(doc), "importImageTaskSet/item");
	if (!t) {
		vxml_free(doc);
		return verr_set(err, VMIE_ERR_AWS_TASK_STATUS_CHECK_FAILED,
				"import task %s is not known to EC2 (tasks are "
				"listed for 7 days after they end)", task_id);
	}
	out->status = vxml_text(t, "status");
	out->status_message = vxml_text(t, "statusMessage");
	out->image_id = vxml_text(t, "imageId");
	char *prog = vxml_text(t, "progress");
	if (prog) {
		out->progress = atoi(prog);
		free(prog);
	}
	vxml_node *set = vxml_child(t, "snapshotDetailSet");
	for (vxml_node *i = set ? vxml_child(set, "item") : NULL; i; i = vxml_next(i, "item")) {
		char *snap = vxml_text(i, "snapshotId");
		if (!snap)
			continue;
		out->snapshot_ids = xrealloc(out->snapshot_ids,
					     (out->nsnapshot_ids + 1) * sizeof(char *));
		out->snapshot_ids[out->nsnapshot_ids++] = snap;
	}
	vxml_free(doc);
	if (!out->status)
		out->status = xstrdup("unknown");
	return 0;
}

int vec2_cancel_import_task(vaws_client *c, const char *task_id,
			    const char *reason, vmie_error *err)
{
	vkv q = VKV_INIT;
	vkv_add(&q, "ImportTaskId", task_id);
	add(&q, "CancelReason", reason);
	vxml *doc = NULL;
	int rc = vaws_query(c, "ec2", "CancelImportTask", VEC2_VERSION, &q, true, &doc, err);
	vxml_free(doc);
	vkv_free(&q);
	return rc;
}
