#include "base/error.h"
#include "base/buf.h"
#include "base/xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void vmie_error_clear(vmie_error *err)
{
	if (!err)
		return;
	free(err->message);
	free(err->hint);
	free(err->service);
	free(err->operation);
	free(err->aws_code);
	free(err->request_id);
	memset(err, 0, sizeof(*err));
}

int verr_set(vmie_error *err, int status, const char *fmt, ...)
{
	if (!err)
		return status;
	vmie_error_clear(err);
	vbuf b = VBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	vbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	err->status = status;
	err->message = vbuf_detach(&b);
	return status;
}

int verr_hint(vmie_error *err, const char *fmt, ...)
{
	if (!err)
		return VMIE_ERR_GENERAL_OPERATION_FAILED;
	vbuf b = VBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	vbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	free(err->hint);
	err->hint = vbuf_detach(&b);
	return err->status;
}

void verr_prefix(vmie_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	vbuf b = VBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	vbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (err->message)
		vbuf_addf(&b, ": %s", err->message);
	free(err->message);
	err->message = vbuf_detach(&b);
}

void verr_move(vmie_error *dst, vmie_error *src)
{
	if (!dst) {
		vmie_error_clear(src);
		return;
	}
	vmie_error_clear(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}
