/*
 * EC2 beyond VM Import: the AMI checks and ExportImage (export), the
 * default network, the temporary instance and the image made from it
 * (sanbootable).  Typed calls over the query protocol; nothing above
 * src/aws/ sees their XML.
 *
 * Return values: 0, VEC2_NOT_FOUND where noted (err cleared), or a
 * vmie_status with err filled.
 */
#ifndef VMIE_AWS_EC2_H
#define VMIE_AWS_EC2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/client.h"
#include "base/kv.h"
#include "vmie.h"

#define VEC2_NOT_FOUND 1

/* ---- images ---------------------------------------------------------- */

typedef struct vec2_block_device {
	char *device_name;      /* "/dev/xvda" */
	char *virtual_name;     /* "ephemeral0" for instance-store; else NULL */
	char *snapshot_id;      /* EBS: may be NULL */
	char *volume_type;      /* EBS: "gp3", ... */
	char *kms_key_id;       /* EBS: the key of an encrypted snapshot */
	uint64_t volume_size;   /* EBS: GiB; 0 when not given */
	bool ebs;               /* an EBS mapping (else instance store/none) */
	bool encrypted;
	bool delete_on_termination;
} vec2_block_device;

typedef struct vec2_image {
	char *image_id;
	char *name;
	char *state;            /* pending, available, failed, ... */
	char *state_reason;     /* stateReason/message, may be NULL */
	char *owner_id;
	char *platform;         /* "windows" or NULL */
	char *platform_details; /* "Linux/UNIX", "Windows", "Red Hat ...", ... */
	char *usage_operation;  /* "RunInstances", "RunInstances:0002", ... */
	char *architecture;     /* i386, x86_64, arm64 */
	char *boot_mode;        /* legacy-bios, uefi, uefi-preferred; NULL */
	char *root_device_name;
	char *virtualization_type;
	bool ena_support;
	bool is_public;
	size_t nproduct_codes;  /* Marketplace: not exportable */
	vec2_block_device *devices;
	size_t ndevices;
} vec2_image;
void vec2_image_free(vec2_image *img);

/* DescribeImages for one id: VEC2_NOT_FOUND for InvalidAMIID.NotFound or
 * an empty answer.  InvalidAMIID.Malformed is an error (err set). */
int vec2_describe_image(vaws_client *c, const char *image_id, vec2_image *out,
			vmie_error *err);

/* True when any EBS mapping is encrypted. */
/* DescribeImages of this account's AMI with this name (AMI names are
 * unique per account and region): 0 (out filled), VEC2_NOT_FOUND, or a
 * status.  How a run finds the AMI a CreateImage made when its answer was
 * lost. */
int vec2_find_own_image(vaws_client *c, const char *name, vec2_image *out,
			vmie_error *err);

/* DeregisterImage, then DeleteSnapshot of each of its EBS snapshots:
 * an unfinished AMI nobody needs any more.  0 or a status. */
int vec2_deregister_image(vaws_client *c, const vec2_image *img,
			  vmie_error *err);

bool vec2_image_encrypted(const vec2_image *img);

/* True for a Windows AMI: its platform, its platform details, or a
 * Windows-licensed usage operation (RunInstances:0002) says so. */
bool vec2_image_windows(const vec2_image *img);

/* ---- export ---------------------------------------------------------- */

typedef struct vec2_export_params {
	const char *image_id;
	const char *disk_image_format; /* RAW, VMDK, VHD */
	const char *bucket;
	const char *prefix;            /* ends with '/' (the caller sees to it) */
	const char *role_name;         /* NULL: vmimport */
	const char *description;       /* may be NULL */
	const char *client_token;
	const vkv *tags;               /* on the export task; may be NULL */
} vec2_export_params;

/* ExportImage; *task_id is "export-ami-...".  Retried with its token. */
int vec2_export_image(vaws_client *c, const vec2_export_params *p,
		      char **task_id, vmie_error *err);

typedef struct vec2_export_task {
	char *status;           /* active, completed, deleting, deleted */
	char *status_message;   /* validating, converting, ...; or why it failed */
	int progress;           /* 0..100; -1 when AWS gives none */
	char *image_id;
	char *bucket;
	char *prefix;
} vec2_export_task;
void vec2_export_task_free(vec2_export_task *t);

/* DescribeExportImageTasks for one id: VEC2_NOT_FOUND when unknown. */
int vec2_describe_export_image_task(vaws_client *c, const char *task_id,
				    vec2_export_task *out, vmie_error *err);
/* CancelExportTask (the export-ami- id). */
int vec2_cancel_export_task(vaws_client *c, const char *task_id,
			    vmie_error *err);

/* ---- network --------------------------------------------------------- */

#define VEC2_NO_DEFAULT_VPC 2
#define VEC2_NO_DEFAULT_SUBNET 3

/* The default VPC (DescribeVpcs isDefault=true) and one of its default
 * subnets (DescribeSubnets default-for-az=true, vpc-id).  Returns
 * VEC2_NO_DEFAULT_VPC or VEC2_NO_DEFAULT_SUBNET (err cleared) when there
 * is none; both out strings are then NULL. */
int vec2_default_subnet(vaws_client *c, char **subnet_id, char **vpc_id,
			vmie_error *err);

/* Every default subnet of the default VPC, ordered by availability zone
 * name (the first is vec2_default_subnet's): a launch refused in one zone
 * (an instance type a zone lacks, no capacity) can try the next.
 * *subnet_ids is an array of *n strings (free each, then the array);
 * returns as vec2_default_subnet. */
int vec2_default_subnets(vaws_client *c, char ***subnet_ids, size_t *n,
			 char **vpc_id, vmie_error *err);

/* ---- instances ------------------------------------------------------- */

typedef struct vec2_run_params {
	const char *image_id;
	const char *instance_type;         /* "t3.micro" */
	const char *subnet_id;             /* NULL: EC2's default */
	const char *instance_profile_name; /* IamInstanceProfile.Name */
	const char *user_data;             /* plain text; base64-encoded here */
	const char *client_token;
	const vkv *tags;                   /* TagSpecification for instance and volume */
	/* Always sent: MetadataOptions.HttpTokens=required,
	 * HttpEndpoint=enabled; InstanceInitiatedShutdownBehavior=terminate
	 * is NOT set (the instance is stopped before imaging). */
} vec2_run_params;

/* RunInstances of exactly one instance. */
int vec2_run_instance(vaws_client *c, const vec2_run_params *p,
		      char **instance_id, vmie_error *err);

typedef struct vec2_instance {
	char *instance_id;
	char *state;        /* pending, running, stopping, stopped,
			     * shutting-down, terminated */
	char *state_reason; /* stateReason/message, may be NULL */
	char *image_id;
	char *launch_time;  /* ISO 8601 as AWS gives it */
	vkv tags;
} vec2_instance;
void vec2_instance_free(vec2_instance *i);

/* DescribeInstances for one id: VEC2_NOT_FOUND for
 * InvalidInstanceID.NotFound (e.g. just launched, not yet visible). */
int vec2_describe_instance(vaws_client *c, const char *instance_id,
			   vec2_instance *out, vmie_error *err);

/* DescribeInstances filtered by tags (tag:<key>=<value> for each pair)
 * and, when live_only, instance-state-name pending, running, stopping,
 * stopped.  Follows NextToken.  *out is an array of *n (free each, then
 * the array). */
int vec2_find_instances(vaws_client *c, const vkv *tags, bool live_only,
			vec2_instance **out, size_t *n, vmie_error *err);

int vec2_stop_instance(vaws_client *c, const char *instance_id,
		       vmie_error *err);
/* TerminateInstances; an instance already gone
 * (InvalidInstanceID.NotFound) counts as terminated. */
int vec2_terminate_instance(vaws_client *c, const char *instance_id,
			    vmie_error *err);

typedef struct vec2_create_image_params {
	const char *instance_id;
	const char *name;
	const char *description;
	/* The source AMI's EBS mappings, kept: device, size, type,
	 * delete-on-termination (no snapshot id: CreateImage snapshots the
	 * instance's volumes).  May be NULL/0. */
	const vec2_block_device *devices;
	size_t ndevices;
	const vkv *tags;    /* TagSpecification for image and snapshot */
} vec2_create_image_params;

/* CreateImage (NoReboot: the instance is already stopped). */
int vec2_create_image(vaws_client *c, const vec2_create_image_params *p,
		      char **image_id, vmie_error *err);

/* CreateTags on one resource. */
int vec2_create_tags(vaws_client *c, const char *resource_id, const vkv *tags,
		     vmie_error *err);

#endif
