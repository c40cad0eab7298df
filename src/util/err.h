/*
 * err.h -- error codes and the per-thread detailed error message.
 *
 * Every internal function that fails returns an OMEN_* code and, where the
 * code alone would leave the user guessing (which file, which offset), sets
 * a message with util_seterr().  The message is thread-local so concurrent
 * callers never see each other's errors.
 */
#ifndef OMEN_ERR_H
#define OMEN_ERR_H

#include "omendb.h"

/* Record a formatted detail message for this thread; returns code so that
 * callers can write `return util_seterr(OMEN_CORRUPT, "...", ...)`. */
int util_seterr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, appending ": strerror(errno_value)". */
int util_seterr_errno(int code, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set "<formatted prefix>: <this thread's current message>", copying the
 * current message first (util_seterr("...%s", omen_last_error()) would
 * format the message buffer into itself). */
int util_seterr_cause(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void util_clearerr(void);

#endif
