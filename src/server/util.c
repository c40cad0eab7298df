/*
 * util.c -- number parsing and glob matching (see util.h).
 */
#include "server/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int str_ll(const char *p, size_t len, long long *out)
{
    if (len == 0 || len > 20) return -1;
    size_t i = 0;
    int neg = 0;
    if (p[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return -1;
    }
    if (p[i] == '0' && len > i + 1) return -1;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (~0ull - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return -1;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) return -1;
        *out = (long long)v;
    }
    if (neg && v == 0) return -1; /* "-0" */
    return 0;
}

int arg_ll(const sarg *a, long long *out) { return str_ll(a->p, a->len, out); }

int arg_double(const sarg *a, double *out)
{
    char b[128];
    if (a->len == 0 || a->len >= sizeof b) return -1;
    memcpy(b, a->p, a->len);
    b[a->len] = 0;
    if (isspace((unsigned char)b[0])) return -1;
    char *end;
    errno = 0;
    double d = strtod(b, &end);
    if (end != b + a->len || isnan(d)) return -1;
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || fpclassify(d) == FP_ZERO)) return -1;
    *out = d;
    return 0;
}

int arg_long_double(const sarg *a, long double *out)
{
    /* As long as ld_fmt_human's longest text, so that every value INCRBYFLOAT
     * stores reads back (Redis's limit as well). */
    char b[LD_HUMAN_MAX];
    if (a->len == 0 || a->len >= sizeof b) return -1;
    memcpy(b, a->p, a->len);
    b[a->len] = 0;
    if (isspace((unsigned char)b[0])) return -1;
    char *end;
    errno = 0;
    long double d = strtold(b, &end);
    if (end != b + a->len || isnan(d)) return -1;
    /* Overflow, or underflow to zero; a denormal result is a value. */
    if (errno == ERANGE && (isinf(d) || fpclassify(d) == FP_ZERO)) return -1;
    *out = d;
    return 0;
}

int ld_fmt_human(char *b, size_t cap, long double d)
{
    int l = snprintf(b, cap, "%.17Lf", d);
    if (l < 0 || (size_t)l >= cap) return -1;
    if (strchr(b, '.')) {
        while (l > 0 && b[l - 1] == '0') l--;
        if (l > 0 && b[l - 1] == '.') l--;
    }
    if (l == 2 && b[0] == '-' && b[1] == '0') b[0] = '0', l = 1;
    b[l] = 0;
    return l;
}

int ll_fmt(char *b, long long v) { return snprintf(b, 24, "%lld", v); }

/* Steps left for the current glob_match: patterns like "*a*a*a*a*b" can
 * take exponential time on long strings; past the budget the string is
 * reported as not matching (Redis bounds this too). */
static long match_budget;

static int match_rec(const char *p, size_t pl, const char *s, size_t sl, int nocase, int depth)
{
    if (depth > 1000 || --match_budget < 0) return 0;
    while (pl && sl) {
        switch (*p) {
        case '*':
            while (pl > 1 && p[1] == '*') p++, pl--;
            if (pl == 1) return 1;
            while (sl) {
                if (match_budget < 0) return 0;
                if (match_rec(p + 1, pl - 1, s, sl, nocase, depth + 1)) return 1;
                s++, sl--;
            }
            return match_rec(p + 1, pl - 1, s, 0, nocase, depth + 1);
        case '?':
            s++, sl--;
            break;
        case '[': {
            p++, pl--;
            int neg = pl && *p == '^';
            if (neg) p++, pl--;
            int hit = 0;
            while (pl && *p != ']') {
                if (*p == '\\' && pl >= 2) {
                    p++, pl--;
                    if (*p == *s) hit = 1;
                } else if (pl >= 3 && p[1] == '-') {
                    int a = (unsigned char)p[0], b = (unsigned char)p[2], ch = (unsigned char)*s;
                    if (a > b) { int t = a; a = b; b = t; }
                    if (nocase) { a = tolower(a); b = tolower(b); ch = tolower(ch); }
                    if (ch >= a && ch <= b) hit = 1;
                    p += 2, pl -= 2;
                } else {
                    if (nocase ? tolower((unsigned char)*p) == tolower((unsigned char)*s) : *p == *s) hit = 1;
                }
                p++, pl--;
            }
            if (neg) hit = !hit;
            if (!hit) return 0;
            s++, sl--;
            if (!pl) return sl == 0; /* unterminated class: treat end as ']' */
            break;
        }
        case '\\':
            if (pl >= 2) p++, pl--;
            /* fall through */
        default:
            if (nocase ? tolower((unsigned char)*p) != tolower((unsigned char)*s) : *p != *s) return 0;
            s++, sl--;
            break;
        }
        p++, pl--;
    }
    while (pl && *p == '*') p++, pl--;
    return pl == 0 && sl == 0;
}

int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase)
{
    match_budget = 1000000;
    return match_rec(pat, plen, s, slen, nocase, 0);
}
