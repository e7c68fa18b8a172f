/*
 * The files an image names (a VMDK descriptor's extents) are looked up
 * beside it; a name that climbs out of that directory is refused rather
 * than followed.
 */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"

/* A relative name that stays inside its directory: no leading '/', no
 * ".." component, no backslash (a Windows-made descriptor's separator
 * would otherwise be a file name character here). */
static bool name_stays_inside(const char *name)
{
	if (!name[0] || name[0] == '/' || strchr(name, '\\'))
		return false;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		p += *p == '/';
	}
	return true;
}

static int dir_open(const vimg_opener *op, const char *name, vimg_reader *out)
{
	if (!name_stays_inside(name))
		return -1;
	vbuf path = VBUF_INIT;
	vbuf_addf(&path, "%s/%s", (const char *)op->ctx, name);
	int rc = vimg_reader_file(out, vbuf_str(&path), NULL);
	vbuf_free(&path);
	return rc;
}

void vimg_opener_dir(vimg_opener *op, const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');

	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	op->open = dir_open;
	op->ctx = dir;
}

void vimg_opener_dir_free(vimg_opener *op)
{
	free(op->ctx);
	op->ctx = NULL;
}
