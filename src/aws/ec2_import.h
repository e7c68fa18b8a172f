/*
 * EC2 VM Import: ImportImage, DescribeImportImageTasks, CancelImportTask.
 */
#ifndef VMIE_AWS_EC2_IMPORT_H
#define VMIE_AWS_EC2_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/client.h"
#include "base/kv.h"
#include "vmie.h"

#define VEC2_VERSION "2016-11-15"

typedef struct vec2_disk_container {
	const char *format; /* RAW, VHD, VHDX, VMDK, OVA */
	const char *bucket; /* with key; or url */
	const char *key;
	const char *url;
	const char *description;
} vec2_disk_container;

typedef struct vec2_import_params {
	const char *description;
	const vec2_disk_container *disks;
	unsigned ndisks;
	const char *license_type;
	const char *usage_operation;
	const char *architecture;
	const char *platform;
	const char *boot_mode;
	bool encrypted;
	const char *kms_key_id;
	const char *role_name;
	const char *client_token;
	const vkv *tags; /* on the import task */
} vec2_import_params;

/* Starts the task; *task_id is "import-ami-...".  Safe to retry: it
 * carries the client token. */
int vec2_import_image(vaws_client *c, const vec2_import_params *p,
		      char **task_id, vmie_error *err);

typedef struct vec2_import_task {
	char *status;         /* active, completed, deleting, deleted */
	char *status_message; /* the sub-state, or why it failed */
	int progress;         /* 0..100; -1 when AWS gives none */
	char *image_id;
	char **snapshot_ids;
	size_t nsnapshot_ids;
} vec2_import_task;
void vec2_import_task_free(vec2_import_task *t);

int vec2_describe_import_image_task(vaws_client *c, const char *task_id,
				    vec2_import_task *out, vmie_error *err);
int vec2_cancel_import_task(vaws_client *c, const char *task_id,
			    const char *reason, vmie_error *err);

#endif
