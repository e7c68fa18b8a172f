/*
 * Library-side logging.  The library never writes to a terminal: every line
 * goes to the one handler the application installed with
 * vmie_set_log_handler() (the only global state libvmie keeps).
 *
 * Never pass a secret (secret key, session token, signature, Authorization
 * header) to these functions: the CLI writes every line to a log file.
 */
#ifndef VMIE_BASE_LOG_H
#define VMIE_BASE_LOG_H

#include "vmie.h"

void vlog(vmie_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* True when a handler is installed (skip building costly debug text). */
int vlog_enabled(void);

#define vlog_debug(...) vlog(VMIE_LOG_DEBUG, __VA_ARGS__)
#define vlog_info(...) vlog(VMIE_LOG_INFO, __VA_ARGS__)
#define vlog_success(...) vlog(VMIE_LOG_SUCCESS, __VA_ARGS__)
#define vlog_warn(...) vlog(VMIE_LOG_WARN, __VA_ARGS__)
#define vlog_error(...) vlog(VMIE_LOG_ERROR, __VA_ARGS__)

#endif
