/*
 * vmie_inspect: the public face of src/image.  It adds only what a
 * front-end needs before the parsers run: a URL is refused with a word on
 * where URL sources do get checked (inspect reads local files only; an
 * import checks a URL source while it streams it).
 */
#include "base/error.h"
#include "image/image.h"
#include "vmie.h"

#include <ctype.h>
#include <string.h>

/* "scheme://...": letters, digits, + - . and then "://" (RFC 3986). */
static bool looks_like_url(const char *s)
{
	size_t i = 0;
	if (!isalpha((unsigned char)s[0]))
		return false;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
	       s[i] == '.')
		i++;
	return strncmp(s + i, "://", 3) == 0;
}

int vmie_inspect(const char *path, vimg_info *info, vmie_error *err)
{
	/* A local error: verr_hint() needs one even when err is NULL. */
	vmie_error e = {0};
	int rc = 0;

	memset(info, 0, sizeof(*info));
	if (!path || !*path) {
		rc = verr_set(&e, VMIE_ERR_INVALID_SOURCE, "no image file named");
		goto out;
	}
	if (looks_like_url(path)) {
		verr_set(&e, VMIE_ERR_INVALID_SOURCE, "%s: inspect reads local "
			 "files only, not URLs", path);
		rc = verr_hint(&e, "download the image first, or import it "
			       "directly: vmie import checks a URL source as it "
			       "streams it");
		goto out;
	}
	if (vimg_inspect_file(path, info, &e) < 0) {
		vimg_info_free(info);
		rc = e.status ? e.status : VMIE_ERR_FILE_PROCESS_FAILED;
		e.status = rc;
		if (!e.hint)
			verr_hint(&e, "check the path and the file's "
				  "permissions (ls -l '%s')", path);
	}
out:
	verr_move(err, &e);
	return rc;
}
