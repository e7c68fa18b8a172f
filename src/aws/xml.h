/*
 * Reading AWS XML responses with libxml2, safely: no DTD loading, no
 * entity substitution, no network, size-limited input.  Lookups ignore
 * namespaces (AWS's vary: EC2's has no trailing slash, S3's differ by
 * era) and match element local names.
 */
#ifndef VMIE_AWS_XML_H
#define VMIE_AWS_XML_H

#include <stddef.h>

typedef struct vxml vxml;           /* a parsed document */
typedef struct _xmlNode vxml_node;  /* an element in it */

/* Parse; NULL when the text is not well-formed XML (or larger than
 * 64 MiB, more than any AWS control-plane answer). */
vxml *vxml_parse(const char *text, size_t len);
void vxml_free(vxml *doc);

vxml_node *vxml_root(vxml *doc);
const char *vxml_name(const vxml_node *n); /* local name */

/* The first element at a '/'-separated path of local names below `from`
 * ("GetCallerIdentityResult/Account").  A leading "//" searches all
 * descendants for the first segment. NULL when absent. */
vxml_node *vxml_find(vxml_node *from, const char *path);

/* Text content of the element at path (malloc'd, caller frees), or NULL.
 * path NULL or "" means `from` itself. */
char *vxml_text(vxml_node *from, const char *path);

/* Iterate element children of n with local name `name` (NULL: any):
 *   for (vxml_node *c = vxml_child(n, "item"); c; c = vxml_next(c, "item")) */
vxml_node *vxml_child(vxml_node *n, const char *name);
vxml_node *vxml_next(vxml_node *n, const char *name);

#endif
