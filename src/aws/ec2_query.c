/*
 * Query-parameter building and the one call every EC2 module makes
 * (ec2_internal.h).
 */
#include "aws/ec2_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ec2_import.h"
#include "base/buf.h"

void vec2_q_add(vkv *q, const char *key, const char *value)
{
	if (value && *value)
		vkv_add(q, key, value);
}

void vec2_q_addf(vkv *q, const char *value, const char *keyfmt, ...)
{
	vbuf k = VBUF_INIT;
	va_list ap;
	if (!value || !*value)
		return;
	va_start(ap, keyfmt);
	vbuf_vaddf(&k, keyfmt, ap);
	va_end(ap);
	vkv_add(q, vbuf_str(&k), value);
	vbuf_free(&k);
}

void vec2_q_tag_spec(vkv *q, unsigned spec, const char *resource_type,
		     const vkv *tags)
{
	if (!tags || !tags->n)
		return;
	vec2_q_addf(q, resource_type, "TagSpecification.%u.ResourceType", spec);
	for (size_t i = 0; i < tags->n; i++) {
		vec2_q_addf(q, tags->items[i].key, "TagSpecification.%u.Tag.%zu.Key",
			    spec, i + 1);
		/* An empty value is a real tag value: always sent. */
		vbuf k = VBUF_INIT;
		vbuf_addf(&k, "TagSpecification.%u.Tag.%zu.Value", spec, i + 1);
		vkv_add(q, vbuf_str(&k), tags->items[i].value ? tags->items[i].value : "");
		vbuf_free(&k);
	}
}

void vec2_q_filter(vkv *q, unsigned n, const char *name, const char *value)
{
	vec2_q_addf(q, name, "Filter.%u.Name", n);
	vbuf k = VBUF_INIT;
	vbuf_addf(&k, "Filter.%u.Value.1", n);
	vkv_add(q, vbuf_str(&k), value ? value : "");
	vbuf_free(&k);
}

int vec2_call(vaws_client *c, const char *action, vkv *params, bool safe,
	      int status, vxml **doc, vmie_error *err)
{
	vxml *d = NULL;
	int rc = vaws_query(c, "ec2", action, VEC2_VERSION, params, safe, &d, err);
	vkv_free(params);
	if (doc)
		*doc = d;
	else
		vxml_free(d);
	if (status != 0 && (rc == VMIE_ERR_AWS_REQUEST_FAILED ||
			    rc == VMIE_ERR_AWS_CONNECTION_FAILED)) {
		if (err)
			err->status = status;
		rc = status;
	}
	return rc;
}

bool vec2_code_is(const vmie_error *err, const char *code)
{
	return err && err->aws_code && strcmp(err->aws_code, code) == 0;
}

bool vec2_xml_bool(vxml_node *n, const char *path)
{
	char *t = vxml_text(n, path);
	bool v = t && strcmp(t, "true") == 0;
	free(t);
	return v;
}
