/*
 * proto.c -- incremental RESP / inline request parser (see proto.h).
 *
 * Error texts are Redis's own, byte for byte, since client libraries and
 * tests match on them.  Inline requests are split like Redis's sdssplitargs:
 * spaces separate, "double" quotes take \n \r \t \b \a \\ \" and \xHH
 * escapes, 'single' quotes take \' only.
 */
#include "server/proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void proto_init(proto_state *ps) { memset(ps, 0, sizeof *ps), ps->bulk = -1; }

void proto_reset(proto_state *ps)
{
    ps->type = 0;
    ps->multibulk = 0;
    ps->bulk = -1;
    ps->pos = 0;
    ps->argc = 0;
}

void proto_free(proto_state *ps)
{
    free(ps->argv);
    proto_init(ps);
}

static int push_arg(proto_state *ps, size_t off, size_t len)
{
    if (ps->argc == ps->argcap) {
        int ncap = ps->argcap ? ps->argcap * 2 : 8;
        proto_arg *na = realloc(ps->argv, (size_t)ncap * sizeof *na);
        if (!na) return -1;
        ps->argv = na;
        ps->argcap = ncap;
    }
    ps->argv[ps->argc].off = off;
    ps->argv[ps->argc].len = len;
    ps->argc++;
    return 0;
}

/* Parse a decimal integer of exactly [p, end); 0 on success.  Canonical
 * form only, as Redis reads lengths: "*02" or "$-0" is a protocol error
 * there, and a request Redis refuses must not run here. */
static int parse_ll(const char *p, const char *end, int64_t *out)
{
    int neg = 0;
    int64_t v = 0;
    if (p == end) return -1;
    if (*p == '-') {
        neg = 1;
        if (++p == end) return -1;
    }
    if (*p == '0' && (neg || end - p > 1)) return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > (INT64_MAX - (*p - '0')) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Whitespace between arguments and after a closing quote (C's isspace).
 * An unquoted argument ends only at a space, tab, CR or LF (is_sep), so
 * "a\vb" is one argument, as Redis splits it. */
static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_sep(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Split an inline line in place: unquoted arguments are recorded as
 * offsets; quoted ones are unescaped in place (the result is never longer
 * than the source) -- which is why buf is written to. */
static int split_inline(proto_state *ps, char *buf, size_t start, size_t end, const char **err)
{
    size_t i = start;
    for (;;) {
        while (i < end && is_space(buf[i])) i++;
        if (i >= end) return 0;
        size_t out = i, argstart = i;
        int inq = 0, insq = 0;
        for (;;) {
            if (inq) {
                if (i >= end) goto unbalanced;
                if (buf[i] == '\\' && i + 3 < end && buf[i + 1] == 'x' && hexval(buf[i + 2]) >= 0 &&
                    hexval(buf[i + 3]) >= 0) {
                    buf[out++] = (char)(hexval(buf[i + 2]) * 16 + hexval(buf[i + 3]));
                    i += 4;
                } else if (buf[i] == '\\' && i + 1 < end) {
                    char c = buf[i + 1];
                    buf[out++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == 'b' ? '\b' : c == 'a' ? '\a' : c;
                    i += 2;
                } else if (buf[i] == '"') {
                    i++;
                    if (i < end && !is_space(buf[i])) goto unbalanced;
                    inq = 0;
                    break;
                } else {
                    buf[out++] = buf[i++];
                }
            } else if (insq) {
                if (i >= end) goto unbalanced;
                if (buf[i] == '\\' && i + 1 < end && buf[i + 1] == '\'') {
                    buf[out++] = '\'';
                    i += 2;
                } else if (buf[i] == '\'') {
                    i++;
                    if (i < end && !is_space(buf[i])) goto unbalanced;
                    insq = 0;
                    break;
                } else {
                    buf[out++] = buf[i++];
                }
            } else {
                if (i >= end || is_sep(buf[i])) break;
                if (buf[i] == '"') {
                    inq = 1;
                    i++;
                } else if (buf[i] == '\'') {
                    insq = 1;
                    i++;
                } else {
                    buf[out++] = buf[i++];
                }
            }
        }
        if (push_arg(ps, argstart, out - argstart)) return PROTO_NOMEM;
    }
unbalanced:
    *err = "Protocol error: unbalanced quotes in request";
    return PROTO_ERROR;
}

static int parse_inline(proto_state *ps, const char *buf, size_t len, size_t *consumed,
                        const char **err)
{
    const char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > PROTO_INLINE_MAX) {
            *err = "Protocol error: too big inline request";
            return PROTO_ERROR;
        }
        return PROTO_NEED_MORE;
    }
    size_t end = (size_t)(nl - buf);
    if (end > PROTO_INLINE_MAX) {
        *err = "Protocol error: too big inline request";
        return PROTO_ERROR;
    }
    size_t lend = end;
    if (lend > 0 && buf[lend - 1] == '\r') lend--;
    ps->argc = 0;
    int rc = split_inline(ps, (char *)buf, 0, lend, err);
    if (rc) return rc;
    *consumed = end + 1;
    return PROTO_DONE;
}

int proto_parse(proto_state *ps, const char *buf, size_t len, const proto_limits *lim,
                size_t *consumed, const char **err)
{
    *err = NULL;
    if (ps->type == 0) {
        if (len == 0) return PROTO_NEED_MORE;
        ps->type = buf[0] == '*' ? 1 : 2;
    }
    if (ps->type == 2) return parse_inline(ps, buf, len, consumed, err);

    /* A header's CR is looked for in all that has arrived, as Redis does:
     * a line over PROTO_INLINE_MAX that has ended is an invalid length, one
     * that has not is "too big".  The server reads 64 KiB at a time, so a
     * search that finds no CR covers at most 128 KiB before it errs. */
    if (ps->pos == 0) {
        const char *nl = memchr(buf, '\r', len);
        if (!nl) {
            if (len > PROTO_INLINE_MAX) {
                *err = "Protocol error: too big mbulk count string";
                return PROTO_ERROR;
            }
            return PROTO_NEED_MORE;
        }
        size_t hl = (size_t)(nl - buf);
        if (hl + 2 > len) return PROTO_NEED_MORE;
        int64_t n;
        if (parse_ll(buf + 1, nl, &n) || n > INT32_MAX) {
            *err = "Protocol error: invalid multibulk length";
            return PROTO_ERROR;
        }
        if (!lim->authenticated && n > 10) {
            *err = "Protocol error: unauthenticated multibulk length";
            return PROTO_ERROR;
        }
        if (n > lim->max_multibulk) {
            *err = "Protocol error: invalid multibulk length";
            return PROTO_ERROR;
        }
        ps->pos = hl + 2;
        ps->multibulk = n <= 0 ? 0 : n;
        ps->argc = 0;
        ps->bulk = -1;
    }
    while (ps->argc < ps->multibulk) {
        if (ps->bulk < 0) {
            size_t avail = len - ps->pos;
            const char *p = buf + ps->pos;
            const char *nl = memchr(p, '\r', avail);
            if (!nl) {
                if (avail > PROTO_INLINE_MAX) {
                    *err = "Protocol error: too big bulk count string";
                    return PROTO_ERROR;
                }
                return PROTO_NEED_MORE;
            }
            size_t hl = (size_t)(nl - p);
            if (hl + 2 > avail) return PROTO_NEED_MORE;
            if (p[0] != '$') {
                static char msg[64];
                /* A NUL would end the message early (the reply is a C
                 * string): show it as a space, as CR and LF are shown. */
                snprintf(msg, sizeof msg, "Protocol error: expected '$', got '%c'", p[0] ? p[0] : ' ');
                *err = msg;
                return PROTO_ERROR;
            }
            int64_t n;
            if (parse_ll(p + 1, nl, &n) || n < 0 || n > lim->max_bulk) {
                *err = "Protocol error: invalid bulk length";
                return PROTO_ERROR;
            }
            if (!lim->authenticated && n > 16384) {
                *err = "Protocol error: unauthenticated bulk length";
                return PROTO_ERROR;
            }
            ps->bulk = n;
            ps->pos += hl + 2;
        }
        if (len - ps->pos < (size_t)ps->bulk + 2) return PROTO_NEED_MORE;
        if (push_arg(ps, ps->pos, (size_t)ps->bulk)) return PROTO_NOMEM;
        ps->pos += (size_t)ps->bulk + 2;
        ps->bulk = -1;
    }
    *consumed = ps->pos;
    return PROTO_DONE;
}
