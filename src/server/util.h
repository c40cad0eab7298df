/*
 * util.h -- strict number parsing and glob matching as Redis does them.
 */
#ifndef OMEN_SERVER_UTIL_H
#define OMEN_SERVER_UTIL_H

#include <stddef.h>

#include "server/server.h"

/* Strict decimal: no spaces, no '+', no leading zeros, fits in long long.
 * 0 on success. */
int str_ll(const char *p, size_t len, long long *out);
int arg_ll(const sarg *a, long long *out);
/* A double as Redis accepts it (strtod over the whole argument, "inf",
 * no NaN, no spaces).  0 on success. */
int arg_double(const sarg *a, double *out);
int arg_long_double(const sarg *a, long double *out);
/* Room for ld_fmt_human's text of any finite long double (%.17Lf of
 * LDBL_MAX has 4951 characters). */
#define LD_HUMAN_MAX 5120
/* Redis's "human friendly" long double text (INCRBYFLOAT): %.17Lf with
 * trailing zeros and a bare '.' dropped, "-0" as "0"; NUL-terminated.
 * Returns the length, or -1 if it does not fit in cap. */
int ld_fmt_human(char *b, size_t cap, long double d);
/* Glob match (*, ?, [...], \x), optionally case-insensitive. */
int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);
/* Format v in decimal into b (>= 21 bytes); returns the length. */
int ll_fmt(char *b, long long v);

#endif
