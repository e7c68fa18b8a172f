/*
 * S3 small-object calls (s3.h): a conditional create, a delete and a
 * listing.  Enough for objects used as coordination between processes
 * (vmie batch's task leases), never for image bytes.
 */
#include "aws/s3.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/kv.h"
#include "base/xalloc.h"

int vs3_put_if_absent(vaws_client *c, const char *bucket, const char *key,
		      const char *body, vmie_error *err)
{
	vhttp_response rs = {0};
	vmie_error e = {0};
	vkv h = VKV_INIT;
	vkv_add(&h, "If-None-Match", "*");
	vkv_add(&h, "Content-Type", "application/json");
	vaws_rest_request rq = {.operation = "PutObject", .method = "PUT",
				.bucket = bucket, .key = key, .headers = &h,
				.body = body, .body_len = strlen(body)};
	int rc = vaws_rest(c, &rq, &rs, &e);

	/* 412: the key exists.  409 ConditionalRequestConflict: another
	 * write to it is in flight; either way, not ours now. */
	if (rc != 0 && (rs.status == 412 || rs.status == 409)) {
		vmie_error_clear(&e);
		rc = VS3_EXISTS;
	}
	verr_move(err, &e);
	vkv_free(&h);
	vhttp_response_free(&rs);
	return rc;
}

int vs3_delete_object(vaws_client *c, const char *bucket, const char *key,
		      vmie_error *err)
{
	vhttp_response rs = {0};
	vaws_rest_request rq = {.operation = "DeleteObject", .method = "DELETE",
				.bucket = bucket, .key = key};
	int rc = vaws_rest(c, &rq, &rs, err);
	vhttp_response_free(&rs);
	return rc;
}

/* One ListObjectsV2 page: its keys appended, *next the continuation
 * token when the listing goes on (free it), else NULL. */
static int list_page(vaws_client *c, const char *bucket, const char *prefix,
		     const char *token, vkv *keys, char **next, vmie_error *err)
{
	vkv q = VKV_INIT;
	vhttp_response rs = {0};
	vkv_add(&q, "list-type", "2");
	vkv_add(&q, "prefix", prefix);
	if (token)
		vkv_add(&q, "continuation-token", token);
	vaws_rest_request rq = {.operation = "ListObjectsV2", .method = "GET",
				.bucket = bucket, .query = &q};
	int rc = vaws_rest(c, &rq, &rs, err);
	*next = NULL;
	if (rc == 0) {
		vxml *doc = vxml_parse(rs.body.data ? rs.body.data : "", rs.body.len);
		vxml_node *root = doc ? vxml_root(doc) : NULL;
		if (!root) {
			rc = verr_set(err, VMIE_ERR_AWS_REQUEST_FAILED,
				      "S3 ListObjectsV2: unreadable answer");
		} else {
			for (vxml_node *n = vxml_child(root, "Contents"); n;
			     n = vxml_next(n, "Contents")) {
				char *k = vxml_text(n, "Key");
				if (k)
					vkv_add(keys, k, "");
				free(k);
			}
			char *more = vxml_text(root, "IsTruncated");
			if (more && strcmp(more, "true") == 0)
				*next = vxml_text(root, "NextContinuationToken");
			free(more);
		}
		vxml_free(doc);
	}
	vhttp_response_free(&rs);
	vkv_free(&q);
	return rc;
}

int vs3_list_keys(vaws_client *c, const char *bucket, const char *prefix,
		  vkv *keys, vmie_error *err)
{
	char *token = NULL;
	int rc;
	/* A truncated page always names where to go on; the bound only
	 * guards against a server that never stops saying "more". */
	for (int page = 0; page < 1000; page++) {
		char *next = NULL;
		rc = list_page(c, bucket, prefix, token, keys, &next, err);
		free(token);
		token = next;
		if (rc != 0 || !token)
			break;
	}
	free(token);
	return rc;
}
