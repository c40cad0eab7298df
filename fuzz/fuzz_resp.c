/*
 * fuzz_resp.c -- libFuzzer target: omendb-server's request parser
 * (src/server/proto.c) over arbitrary bytes.
 *
 * Beyond "no crash, no out-of-bounds read": every argument lies inside the
 * bytes consumed by its request; a request consumes at least one byte; and
 * feeding the same input in pieces yields exactly the same requests and
 * the same outcome as feeding it whole -- the incremental state machine
 * agrees with a single pass.
 *
 * The pieces run is fed the way the server feeds it: split at uneven
 * points drawn from the input, and every call gets a fresh heap copy of
 * exactly the bytes received so far (the server moves and grows its query
 * buffer between calls), so ASan catches a read past what has arrived --
 * which a buffer holding the whole input would hide.
 *
 * The first byte picks authenticated / unauthenticated limits and small
 * or large bulk and multibulk limits (so the limit checks are reached);
 * the second seeds the split points.
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

/* The next piece's size: mostly small (byte by byte, a header at a time),
 * sometimes large. */
static size_t next_step(uint32_t *rng)
{
    *rng = *rng * 1103515245u + 12345u;
    uint32_t r = *rng >> 16;
    if (r % 4 == 0) return 1;
    if (r % 4 == 1) return 1 + r % 7;
    if (r % 4 == 2) return 1 + r % 64;
    return 1 + r % 4096;
}

static void record(trace_t *t, const proto_state *ps, const char *req, size_t used)
{
    if (used == 0) abort();
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < ps->argc; i++) {
        if (ps->argv[i].off > used || ps->argv[i].len > used - ps->argv[i].off) abort();
        h = mix(h, req + ps->argv[i].off, ps->argv[i].len);
        h = mix(h, "|", 1);
    }
    if (t->n < MAXREQ) {
        t->sig[t->n] = h;
        t->argc[t->n] = ps->argc;
    }
    t->n++;
}

static int check_error(const char *err)
{
    if (!err || strncmp(err, "Protocol error: ", 16) != 0) abort();
    return -1;
}

/* Everything at once, in one private copy (inline parsing unescapes in
 * place). */
static void run_whole(const uint8_t *data, size_t len, const proto_limits *lim, trace_t *t)
{
    char *buf = malloc(len ? len : 1);
    if (!buf) abort();
    memcpy(buf, data, len);
    proto_state ps;
    proto_init(&ps);
    memset(t, 0, sizeof *t);
    size_t start = 0;
    for (;;) {
        size_t used = 0;
        const char *err = NULL;
        int rc = proto_parse(&ps, buf + start, len - start, lim, &used, &err);
        if (rc == PROTO_DONE) {
            if (used > len - start) abort();
            record(t, &ps, buf + start, used);
            start += used;
            proto_reset(&ps);
            continue;
        }
        if (rc == PROTO_ERROR) {
            t->outcome = check_error(err);
            break;
        }
        if (rc != PROTO_NEED_MORE) abort();
        t->outcome = 0;
        break;
    }
    proto_free(&ps);
    free(buf);
}

/* In pieces, each call over a fresh exact-size copy of the request's
 * bytes received so far. */
static void run_pieces(const uint8_t *data, size_t len, uint32_t seed, const proto_limits *lim,
                       trace_t *t)
{
    proto_state ps;
    proto_init(&ps);
    memset(t, 0, sizeof *t);
    uint32_t rng = seed;
    size_t start = 0, avail = 0;
    for (;;) {
        size_t s = next_step(&rng);
        avail = s < len - avail ? avail + s : len;
        size_t n = avail - start;
        char *buf = malloc(n ? n : 1);
        if (!buf) abort();
        memcpy(buf, data + start, n);
        size_t used = 0;
        const char *err = NULL;
        int rc = proto_parse(&ps, buf, n, lim, &used, &err);
        while (rc == PROTO_DONE) {
            if (used > n) abort();
            record(t, &ps, buf, used);
            start += used;
            proto_reset(&ps);
            /* The rest of this piece: the server parses on before reading. */
            memmove(buf, buf + used, n - used);
            n -= used;
            rc = proto_parse(&ps, buf, n, lim, &used, &err);
        }
        free(buf);
        if (rc == PROTO_ERROR) {
            t->outcome = check_error(err);
            break;
        }
        if (rc != PROTO_NEED_MORE) abort();
        if (avail == len) {
            t->outcome = 0;
            break;
        }
    }
    proto_free(&ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    static const int64_t bulks[4] = {1 << 20, 1 << 20, 16, 0};
    static const int64_t mbulks[4] = {1 << 16, 1 << 16, 3, 0};
    proto_limits lim = {bulks[(data[0] >> 1) & 3], mbulks[(data[0] >> 3) & 3], data[0] & 1};
    uint32_t seed = data[1];
    data += 2;
    size -= 2;
    trace_t whole, pieces;
    run_whole(data, size, &lim, &whole);
    run_pieces(data, size, seed, &lim, &pieces);
    if (whole.n != pieces.n || whole.outcome != pieces.outcome) abort();
    for (int i = 0; i < whole.n && i < MAXREQ; i++)
        if (whole.sig[i] != pieces.sig[i] || whole.argc[i] != pieces.argc[i]) abort();
    return 0;
}
