/*
 * What the IAM modules (iam.c: the VM Import role; iam_profile.c: the
 * sanbootable instance profile) share.
 */
#ifndef VMIE_AWS_IAM_INTERNAL_H
#define VMIE_AWS_IAM_INTERNAL_H

#include <stdbool.h>

#include "aws/client.h"
#include "aws/xml.h"
#include "base/kv.h"
#include "vmie.h"

/* vaws_query on "iam"; params are freed (emptied) afterwards, so the
 * caller can fill the same vkv for the next call.  doc NULL: the answer
 * is dropped. */
int viam_call(vaws_client *c, const char *action, vkv *params, bool safe,
	      vxml **doc, vmie_error *err);

/* arn:aws, arn:aws-cn or arn:aws-us-gov: the partition, from the region. */
const char *viam_partition(vaws_client *c);

#endif
