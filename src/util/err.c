/*
 * err.c -- error names and the thread-local detail message (see err.h).
 */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_msg[512];

const char *omen_strerror(int err)
{
    switch (err) {
    case OMEN_OK: return "ok";
    case OMEN_NOTFOUND: return "not found";
    case OMEN_INVALID: return "invalid argument";
    case OMEN_CORRUPT: return "data corruption detected";
    case OMEN_IO: return "I/O error";
    case OMEN_NOMEM: return "out of memory";
    case OMEN_LOCKED: return "database is locked by another process";
    case OMEN_EXISTS: return "database already exists";
    case OMEN_NOTDB: return "not an OmenDB database";
    case OMEN_CLOSED: return "handle is closed";
    case OMEN_READONLY: return "database is read-only after a fatal I/O error";
    case OMEN_CONFLICT: return "transaction conflict";
    case OMEN_TOOBIG: return "key or value too large";
    case OMEN_VERSION: return "unsupported file format version";
    case OMEN_BUSY: return "resource busy";
    default: return "unknown error";
    }
}

const char *omen_last_error(void)
{
    return last_msg[0] ? last_msg : "no error";
}

void util_clearerr(void)
{
    last_msg[0] = 0;
}

static void vset(int code, int errno_value, const char *fmt, va_list ap)
{
    int n = vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof last_msg) n = sizeof last_msg - 1;
    if (errno_value)
        snprintf(last_msg + n, sizeof last_msg - (size_t)n, ": %s", strerror(errno_value));
    (void)code;
}

int util_seterr(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int util_seterr_cause(int code, const char *fmt, ...)
{
    char cause[sizeof last_msg], prefix[sizeof last_msg];
    snprintf(cause, sizeof cause, "%s", omen_last_error());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    return util_seterr(code, "%s: %s", prefix, cause);
}

int util_seterr_errno(int code, int errno_value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(code, errno_value, fmt, ap);
    va_end(ap);
    return code;
}
