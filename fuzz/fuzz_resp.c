/*
 * fuzz_resp.c -- libFuzzer target: omendb-server's request parser
 * (src/server/proto.c) over arbitrary bytes.
 *
 * Beyond "no crash, no out-of-bounds read": every argument lies inside the
 * bytes consumed by its request; a request consumes at least one byte; and
 * feeding the same input in pieces (split at points taken from the input)
 * yields exactly the same requests and the same outcome as feeding it
 * whole -- the incremental state machine agrees with a single pass.
 * The first byte picks authenticated / unauthenticated limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/proto.h"

#define MAXREQ 64

typedef struct {
    int n, outcome;       /* requests parsed; last result */
    uint64_t sig[MAXREQ]; /* per request: hash of its arguments */
    int argc[MAXREQ];
} trace_t;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

/* Parse buf (a private copy: inline parsing unescapes in place), revealing
 * it `step` bytes at a time (0: all at once). */
static void run(const uint8_t *data, size_t len, size_t step, const proto_limits *lim, trace_t *t)
{
    char *buf = malloc(len ? len : 1);
    if (!buf) abort();
    memcpy(buf, data, len);
    proto_state ps;
    proto_init(&ps);
    memset(t, 0, sizeof *t);
    size_t start = 0, avail = step ? (step < len ? step : len) : len;
    for (;;) {
        size_t used = 0;
        const char *err = NULL;
        int rc = proto_parse(&ps, buf + start, avail - start, lim, &used, &err);
        if (rc == PROTO_DONE) {
            if (used == 0 || used > avail - start) abort();
            uint64_t h = 1469598103934665603ull;
            for (int i = 0; i < ps.argc; i++) {
                if (ps.argv[i].off > used || ps.argv[i].len > used - ps.argv[i].off) abort();
                h = mix(h, buf + start + ps.argv[i].off, ps.argv[i].len);
                h = mix(h, "|", 1);
            }
            if (t->n < MAXREQ) {
                t->sig[t->n] = h;
                t->argc[t->n] = ps.argc;
            }
            t->n++;
            start += used;
            proto_reset(&ps);
            continue;
        }
        if (rc == PROTO_ERROR) {
            if (!err || strncmp(err, "Protocol error: ", 16) != 0) abort();
            t->outcome = -1;
            break;
        }
        if (rc != PROTO_NEED_MORE) abort();
        if (avail == len) {
            t->outcome = 0;
            break;
        }
        avail = step && avail + step < len ? avail + step : len;
    }
    proto_free(&ps);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    proto_limits lim = {1 << 20, 1 << 16, data[0] & 1};
    size_t step = 1 + (data[1] % 17);
    data += 2;
    size -= 2;
    trace_t whole, pieces;
    run(data, size, 0, &lim, &whole);
    run(data, size, step, &lim, &pieces);
    if (whole.n != pieces.n || whole.outcome != pieces.outcome) abort();
    for (int i = 0; i < whole.n && i < MAXREQ; i++)
        if (whole.sig[i] != pieces.sig[i] || whole.argc[i] != pieces.argc[i]) abort();
    return 0;
}
