/*
 * Safe XML reading for AWS responses.  Response bodies are untrusted (a
 * proxy, a captive portal, an attacker on a misconfigured endpoint), so
 * the parser never loads DTDs, never substitutes entities, never touches
 * the network, and a document that declares a DTD at all is refused: AWS
 * never sends one.
 */
#include "aws/xml.h"
#include "base/xalloc.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <string.h>

#define VXML_MAX_INPUT (64u << 20)

struct vxml {
	xmlDocPtr doc;
};

vxml *vxml_parse(const char *text, size_t len)
{
	if (!text || len == 0 || len > VXML_MAX_INPUT)
		return NULL;
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
		   XML_PARSE_NOCDATA;
	xmlDocPtr doc = xmlReadMemory(text, (int)len, NULL, NULL, opts);
	if (!doc)
		return NULL;
	if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
		xmlFreeDoc(doc);
		return NULL;
	}
	vxml *d = xmalloc(sizeof(*d));
	d->doc = doc;
	return d;
}

void vxml_free(vxml *d)
{
	if (!d)
		return;
	xmlFreeDoc(d->doc);
	free(d);
}

vxml_node *vxml_root(vxml *d)
{
	return d ? xmlDocGetRootElement(d->doc) : NULL;
}

const char *vxml_name(const vxml_node *n)
{
	return n ? (const char *)n->name : NULL;
}

static int name_is(const xmlNode *n, const char *name, size_t len)
{
	return n->type == XML_ELEMENT_NODE &&
	       strlen((const char *)n->name) == len &&
	       memcmp(n->name, name, len) == 0;
}

static xmlNode *child_named(xmlNode *n, const char *name, size_t len)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (name_is(c, name, len))
			return c;
	return NULL;
}

/* Depth-first search below n (not n itself). */
static xmlNode *descendant_named(xmlNode *n, const char *name, size_t len)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, name, len))
			return c;
		xmlNode *d = descendant_named(c, name, len);
		if (d)
			return d;
	}
	return NULL;
}

vxml_node *vxml_find(vxml_node *from, const char *path)
{
	if (!from || !path)
		return from;
	int deep = 0;
	if (path[0] == '/' && path[1] == '/') {
		deep = 1;
		path += 2;
	}
	xmlNode *n = from;
	while (n && *path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		n = deep ? descendant_named(n, path, len)
			 : child_named(n, path, len);
		deep = 0;
		path += len;
		if (*path == '/')
			path++;
	}
	return n;
}

char *vxml_text(vxml_node *from, const char *path)
{
	xmlNode *n = vxml_find(from, path);
	if (!n)
		return NULL;
	xmlChar *t = xmlNodeGetContent(n);
	if (!t)
		return xstrdup("");
	char *s = xstrdup((const char *)t);
	xmlFree(t);
	return s;
}

vxml_node *vxml_child(vxml_node *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    (!name || strcmp((const char *)c->name, name) == 0))
			return c;
	return NULL;
}

vxml_node *vxml_next(vxml_node *n, const char *name)
{
	for (xmlNode *c = n ? n->next : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    (!name || strcmp((const char *)c->name, name) == 0))
			return c;
	return NULL;
}
