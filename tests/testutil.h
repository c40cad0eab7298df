/*
 * testutil.h -- shared helpers for the robustness suites (model, crash,
 * corruption, fault injection, concurrency).
 *
 * The functions live in tests/testutil.c, which is compiled into the
 * testing library (libomendb-testing.a) that every test links.  Contents:
 *  - a deterministic PRNG (splitmix64) so every failure reproduces from its
 *    seed;
 *  - scratch directories under $OMEN_TEST_DIR (the runner gives every program
 *    a fresh one), recursive remove and copy;
 *  - tu_map, the oracle: a sorted array of (key, value) byte strings with the
 *    engine's key order (memcmp, shorter first on a common prefix).  It is
 *    deliberately simple (O(n) insert) because its job is to be obviously
 *    right, not fast;
 *  - checkers that compare a database (optionally at a snapshot) against an
 *    oracle with point gets and bounded scans in both directions.
 *
 * Checkers use cmocka assertions, so they must be called from a cmocka test
 * (or a forked child that reports through its exit status).
 */
#ifndef OMEN_TESTUTIL_H
#define OMEN_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "omendb.h"

/* ---- PRNG ---------------------------------------------------------------- */

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

static inline uint64_t tu_next(tu_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t tu_below(tu_rng *r, uint64_t n)
{
    return tu_next(r) % n;
}

/* Numeric environment knob, dflt when unset. */
uint64_t tu_env_u64(const char *name, uint64_t dflt);

/* ---- Worker threads ------------------------------------------------------ */

/* cmocka's assertions longjmp, which is safe only on the test's own thread:
 * a worker prints what went wrong with TU_THREAD_ERR, which counts it, and
 * the test asserts the count is 0 after joining its workers. */
atomic_long *tu_thread_errors(void);

#define TU_THREAD_ERR(...)                                                                        \
    do {                                                                                          \
        fprintf(stderr, __VA_ARGS__);                                                             \
        fprintf(stderr, "\n");                                                                    \
        atomic_fetch_add(tu_thread_errors(), 1);                                                  \
    } while (0)

void tu_sleep_ns(long ns);

/* ---- Scratch directories ------------------------------------------------- */

/* $OMEN_TEST_DIR, or a fresh /tmp directory when run by hand. */
const char *tu_base_dir(void);

/* out = a + "/" + b; aborts on overflow (paths in tests are short). */
void tu_join(char *out, size_t n, const char *a, const char *b);

/* rm -rf path: 0, or -1 if something could not be removed. */
int tu_rmrf(const char *path);

/* out = <base>/<name>, removed if it exists (not created). */
void tu_path(char *out, size_t n, const char *name);

/* A fresh empty directory "<$TMPDIR or /tmp>/<tag>.XXXXXX" written to dir (n
 * bytes): the per-test scratch of the file-layer suites, removed with
 * tu_rmrf.  0 or -1, the shape a cmocka setup function returns. */
int tu_mkdtemp(char *dir, size_t n, const char *tag);

/* A whole file into a malloc'ed *buf (free it), or the file from buf.  0 or
 * -1. */
int tu_read_file(const char *path, unsigned char **buf, size_t *len);
int tu_write_file(const char *path, const void *buf, size_t len);

/* Copy the regular files of directory src into dst (created; flat). */
int tu_copy_dir(const char *src, const char *dst);

/* Names of the regular files in dir whose name ends with suffix (NULL: all),
 * sorted.  Release them with tu_list_free. */
size_t tu_list(const char *dir, const char *suffix, char ***out);
void tu_list_free(char **v, size_t n);

/* ---- Oracle map ---------------------------------------------------------- */

typedef struct tu_kv {
    unsigned char *k, *v;
    size_t kl, vl;
} tu_kv;

typedef struct tu_map {
    tu_kv *a;
    size_t n, cap;
} tu_map;

/* The engine's key order: memcmp, a proper prefix first. */
int tu_keycmp(const void *a, size_t al, const void *b, size_t bl);

/* malloc'ed copy of n bytes (n may be 0). */
void *tu_dup(const void *p, size_t n);

/* Index of the first entry >= key. */
size_t tu_map_lb(const tu_map *m, const void *k, size_t kl);

/* The entry of key k, NULL if absent; put inserts or overwrites (copies
 * both), del removes if present.  clear frees everything, copy makes a deep
 * copy into an uninitialised dst, equal compares keys and values. */
const tu_kv *tu_map_get(const tu_map *m, const void *k, size_t kl);
void tu_map_put(tu_map *m, const void *k, size_t kl, const void *v, size_t vl);
void tu_map_del(tu_map *m, const void *k, size_t kl);
void tu_map_clear(tu_map *m);
void tu_map_copy(tu_map *dst, const tu_map *src);
int tu_map_equal(const tu_map *a, const tu_map *b);

/* ---- Database checkers ---------------------------------------------------- */

/* Print the message and fail the current cmocka test. */
void tu_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TU_OK(expr)                                                                               \
    do {                                                                                          \
        int tu_rc_ = (expr);                                                                      \
        if (tu_rc_ != OMEN_OK)                                                                    \
            tu_fail("%s:%d: %s -> %s (%s)", __FILE__, __LINE__, #expr, omen_strerror(tu_rc_),     \
                    omen_last_error());                                                           \
    } while (0)

/* Printable key for messages (hex when not printable). */
const char *tu_fmt(const void *p, size_t n, char *buf, size_t bn);

/* Point get of every oracle key, and of `nabsent` absent probes derived from
 * oracle keys (key + "\x00", key truncated) which must be NOTFOUND unless the
 * oracle has them. */
void tu_check_gets(omen_db *db, const omen_snapshot *snap, const tu_map *m);

/* Scan [lower, upper) (NULL = unbounded) forward from seek_first and
 * backward from seek_last and compare with the oracle. */
void tu_check_scan(omen_db *db, const omen_snapshot *snap, const tu_map *m,
                   const void *lo, size_t lol, const void *hi, size_t hil);

/* Read the whole database (at snap) into a map.  Returns the iterator's
 * status, or TU_ORDER_ERR if keys did not come out strictly ascending. */
#define TU_ORDER_ERR (-100)
int tu_dump(omen_db *db, const omen_snapshot *snap, tu_map *out);

/* omen_check with its report lines sent to stderr when verbose. */
int tu_check_db(const char *path, int verbose);

/* omen_options_init. */
void tu_default_opts(omen_options *o);

#endif
