/*
 * What the EC2 modules (ec2_images.c, ec2_export.c, ec2_network.c,
 * ec2_instances.c, ec2_image_create.c) share: building query parameters
 * in EC2's "Name.N.Field" style, one call with the failure reported in
 * the step's own status, and reading the answers' small fields
 * (implemented in ec2_query.c).
 */
#ifndef VMIE_AWS_EC2_INTERNAL_H
#define VMIE_AWS_EC2_INTERNAL_H

#include <stdbool.h>

#include "aws/client.h"
#include "aws/xml.h"
#include "base/kv.h"
#include "vmie.h"

/* Add key=value when value is neither NULL nor "" (AWS treats an empty
 * parameter as given, and many reject it). */
void vec2_q_add(vkv *q, const char *key, const char *value);
/* The same with the key formatted ("BlockDeviceMapping.%zu.DeviceName"). */
void vec2_q_addf(vkv *q, const char *value, const char *keyfmt, ...)
	__attribute__((format(printf, 3, 4)));
/* TagSpecification.<spec>.ResourceType=<type> and its Tag.N.Key/Value;
 * nothing when tags is NULL or empty. */
void vec2_q_tag_spec(vkv *q, unsigned spec, const char *resource_type,
		     const vkv *tags);
/* Filter.<n>.Name=<name>, Filter.<n>.Value.1=<value>. */
void vec2_q_filter(vkv *q, unsigned n, const char *name, const char *value);

/* vaws_query on "ec2" with params freed afterwards.  A failed request
 * (an AWS error or no connection) gets `status`, the AWS code, message
 * and request id kept; other failures (credentials, ...) keep theirs.
 * status 0: every failure keeps its own status. */
int vec2_call(vaws_client *c, const char *action, vkv *params, bool safe,
	      int status, vxml **doc, vmie_error *err);

/* The AWS error code is `code` (err may be NULL). */
bool vec2_code_is(const vmie_error *err, const char *code);
/* A "true"/"false" element; false when absent. */
bool vec2_xml_bool(vxml_node *n, const char *path);

#endif
