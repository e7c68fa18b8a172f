#include "base/log.h"
#include "base/buf.h"

#include <stdarg.h>

/* Logging setup: the one piece of global mutable state (see DESIGN.md). */
static vmie_log_fn log_fn;
static void *log_ctx;

void vmie_set_log_handler(vmie_log_fn fn, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
}

int vlog_enabled(void)
{
	return log_fn != NULL;
}

const char *vmie_log_level_name(vmie_log_level level)
{
	switch (level) {
	case VMIE_LOG_DEBUG: return "DEBUG";
	case VMIE_LOG_INFO: return "INFO";
	case VMIE_LOG_SUCCESS: return "SUCCESS";
	case VMIE_LOG_WARN: return "WARN";
	case VMIE_LOG_ERROR: return "ERROR";
	}
	return "INFO";
}

void vlog(vmie_log_level level, const char *fmt, ...)
{
	if (!log_fn)
		return;
	vbuf b = VBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	vbuf_vaddf(&b, fmt, ap);
	va_end(ap);
	log_fn(log_ctx, level, vbuf_str(&b));
	vbuf_free(&b);
}
