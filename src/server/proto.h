/*
 * proto.h -- the request parser: RESP multibulk ("*2\r\n$3\r\nGET\r\n...")
 * and inline ("GET key\r\n", telnet style) requests, incremental.
 *
 * The parser never copies: it records each argument as (offset, length)
 * into the caller's buffer, which must keep every byte from the start of
 * the request being parsed until the request is complete (the caller may
 * move or grow the buffer between calls: only offsets are kept).  A request
 * arriving in pieces resumes where the previous call stopped, so a request
 * of n bytes costs O(n) however it is split.  Limits are checked before any
 * allocation so a hostile length cannot make the parser reserve memory.
 */
#ifndef OMEN_SERVER_PROTO_H
#define OMEN_SERVER_PROTO_H

#include <stddef.h>
#include <stdint.h>

typedef struct proto_arg {
    size_t off, len;
} proto_arg;

typedef struct proto_limits {
    int64_t max_bulk;      /* largest bulk string (proto-max-bulk-len)           */
    int64_t max_multibulk; /* most arguments in one request                      */
    int authenticated;     /* 0: unauthenticated limits (small requests only)    */
} proto_limits;

typedef struct proto_state {
    int type;           /* 0 none yet, 1 multibulk, 2 inline */
    int64_t multibulk;  /* arguments announced                                */
    int64_t bulk;       /* length of the bulk being read, -1 before its header */
    size_t pos;         /* parse position relative to the request start       */
    int argc, argcap;
    proto_arg *argv;
} proto_state;

enum { PROTO_NEED_MORE = 0, PROTO_DONE = 1, PROTO_ERROR = -1, PROTO_NOMEM = -2 };

/* Largest inline request and largest line of a multibulk header. */
#define PROTO_INLINE_MAX (64 * 1024)

void proto_init(proto_state *ps);
/* Forget the current request's progress (keeps the argv allocation). */
void proto_reset(proto_state *ps);
void proto_free(proto_state *ps);

/* Parse the request that starts at buf[0] (len bytes available).
 * PROTO_DONE: ps->argc/argv hold the arguments (offsets into buf) and
 *   *consumed the request's byte length; call proto_reset before the next.
 *   argc may be 0 (an empty inline line or "*0"): skip it.
 * PROTO_NEED_MORE: call again with the same start and more bytes.
 * PROTO_ERROR: *err is the Redis error text ("Protocol error: ..."); the
 *   connection must be closed after replying it. */
int proto_parse(proto_state *ps, const char *buf, size_t len, const proto_limits *lim,
                size_t *consumed, const char **err);

#endif
