/*
 * test_conc_cache.c -- concurrency of the block cache and of shared runs
 * (built for ThreadSanitizer too).
 *
 * 1. Threads hammer a small cache with lookups, inserts (including
 *    replacements of the same key), erases and releases; every handle's
 *    bytes must match the pattern of its key while held.
 * 2. Threads share one compressed run and one cache: concurrent run_get,
 *    run_latest_seq and private iterators must all return the oracle's
 *    values (blocks are decompressed and inserted racily; raw blocks of an
 *    uncompressed run are verified racily through the atomic bitmap).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "omendb.h"
#include "storage/cache.h"
#include "storage/run.h"
#include "util/mem.h"

#define THREADS 4

static uint8_t pattern(uint64_t f, uint64_t b, size_t i)
{
    return (uint8_t)(f * 131 + b * 17 + i);
}

struct cache_arg {
    block_cache *c;
    unsigned seed;
    int bad;
};

static void *cache_worker(void *p)
{
    struct cache_arg *a = p;
    uint64_t s = a->seed;
    for (int it = 0; it < 20000; it++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t f = (s >> 60) & 3, b = (s >> 40) % 64;
        size_t len = 16 + (size_t)(b % 5) * 40;
        int op = (int)((s >> 20) % 10);
        cache_handle *h = NULL;
        if (op < 6) {
            h = cache_lookup(a->c, f, b);
        } else if (op < 9) {
            uint8_t *d = util_malloc(len);
            if (!d) continue;
            for (size_t i = 0; i < len; i++)
                d[i] = pattern(f, b, i);
            if (cache_insert(a->c, f, b, d, len, len, &h) != OMEN_OK) h = NULL;
        } else {
            cache_erase(a->c, f, b);
        }
        if (h) {
            size_t got;
            const uint8_t *d = cache_handle_data(h, &got);
            if (got != len) a->bad++;
            for (size_t i = 0; i < got; i++)
                if (d[i] != pattern(f, b, i)) {
                    a->bad++;
                    break;
                }
            cache_release(a->c, h);
        }
    }
    return NULL;
}

static void test_cache_threads(void **state)
{
    (void)state;
    block_cache *c;
    assert_int_equal(cache_new(16 * 600, &c), OMEN_OK);
    pthread_t t[THREADS];
    struct cache_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct cache_arg){c, (unsigned)(i * 7919 + 1), 0};
        assert_int_equal(pthread_create(&t[i], NULL, cache_worker, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].bad, 0);
    }
    assert_true(cache_usage(c) <= 16 * 600);
    assert_true(cache_hits(c) + cache_misses(c) > 0);
    cache_free(c);
}

/* ---- shared run -------------------------------------------------------- */

#define NKEYS 3000

static void key_of(unsigned i, uint8_t k[12])
{
    snprintf((char *)k, 12, "k%010u", i * 3);
}

static size_t val_of(unsigned i, uint64_t seq, uint8_t *v)
{
    size_t len = (i * 37u) % 150;
    for (size_t j = 0; j < len; j++)
        v[j] = (uint8_t)(i + seq + j);
    return len;
}

struct run_arg {
    run *r;
    unsigned seed;
    int bad;
};

static void *run_worker(void *p)
{
    struct run_arg *a = p;
    uint64_t s = a->seed;
    uint8_t k[12], want[200];
    for (int it = 0; it < 4000; it++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        unsigned i = (unsigned)((s >> 33) % NKEYS);
        key_of(i, k);
        /* Two versions per key: seq 2i+2 (newest) and 2i+1. */
        uint64_t snap = (s >> 13) & 1 ? RUN_MAX_SEQ : 2 * (uint64_t)i + 1;
        uint64_t seq;
        int type;
        void *v;
        size_t vl;
        int rc = run_get(a->r, k, 11, snap, &seq, &type, &v, &vl);
        uint64_t wseq = snap == RUN_MAX_SEQ ? 2 * (uint64_t)i + 2 : 2 * (uint64_t)i + 1;
        size_t wl = val_of(i, wseq, want);
        if (rc != OMEN_OK || seq != wseq || type != RUN_TYPE_PUT || vl != wl ||
            (wl && memcmp(v, want, wl) != 0))
            a->bad++;
        omen_free(v);
        uint64_t ls;
        if (run_latest_seq(a->r, k, 11, &ls) != OMEN_OK || ls != 2 * (uint64_t)i + 2) a->bad++;
    }
    /* A private iterator over a random stretch. */
    run_iter *it;
    if (run_iter_new(a->r, &it) != OMEN_OK) {
        a->bad++;
        return NULL;
    }
    unsigned start = (unsigned)(s % NKEYS);
    key_of(start, k);
    run_iter_seek(it, k, 11);
    for (unsigned i = start; i < start + 200 && i < NKEYS; i++) {
        for (uint64_t seq = 2 * (uint64_t)i + 2; seq >= 2 * (uint64_t)i + 1; seq--) {
            const void *v;
            size_t vl;
            if (!run_iter_valid(it) || run_iter_seq(it) != seq || run_iter_value(it, &v, &vl) != OMEN_OK ||
                vl != val_of(i, seq, want) || (vl && memcmp(v, want, vl) != 0))
                a->bad++;
            run_iter_next(it);
        }
    }
    run_iter_free(it);
    return NULL;
}

static void shared_run(int compression, int use_cache)
{
    char dir[256], path[300];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/concrunXXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/shared.run", dir);
    uint8_t lo[12], hi[12], k[12], v[200];
    key_of(0, lo);
    key_of(NKEYS - 1, hi);
    run_opts o = {compression, 10, 0, 1024};
    run_writer *w;
    assert_int_equal(run_writer_open(path, &o, lo, 11, hi, 11, &w), OMEN_OK);
    for (unsigned i = 0; i < NKEYS; i++) {
        key_of(i, k);
        for (uint64_t seq = 2 * (uint64_t)i + 2; seq >= 2 * (uint64_t)i + 1; seq--) {
            size_t vl = val_of(i, seq, v);
            assert_int_equal(run_writer_add(w, k, 11, seq, RUN_TYPE_PUT, v, vl), OMEN_OK);
        }
    }
    assert_int_equal(run_writer_finish(w, NULL), OMEN_OK);
    block_cache *c = NULL;
    if (use_cache) assert_int_equal(cache_new(16 * 4096, &c), OMEN_OK);
    run *r;
    assert_int_equal(run_open(path, 42, c, &r), OMEN_OK);
    pthread_t th[THREADS];
    struct run_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct run_arg){r, (unsigned)(i * 104729 + 3), 0};
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].bad, 0);
    }
    if (use_cache && compression != OMEN_COMPRESS_NONE) assert_true(cache_hits(c) > 0);
    run_close(r);
    cache_free(c);
    unlink(path);
    rmdir(dir);
}

static void test_shared_run(void **state)
{
    (void)state;
    shared_run(OMEN_COMPRESS_NONE, 0);
    shared_run(OMEN_COMPRESS_LZ4, 1);
    shared_run(OMEN_COMPRESS_ZSTD, 1);
    shared_run(OMEN_COMPRESS_LZ4, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_threads),
        cmocka_unit_test(test_shared_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
