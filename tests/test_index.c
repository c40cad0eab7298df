/*
 * test_index.c -- the learned index against plain binary search.
 *
 * Property tests build models over many key distributions (random sizes
 * and epsilons, duplicates, keys near 0 and UINT64_MAX) and check every
 * present key, its neighbours and random absent keys with all three search
 * kernels; the build guarantee itself (every point within eps of its
 * segment's line) is checked through the internal layout.  Edge cases that
 * broke public learned indexes get their own tests.  Serialization is
 * checked by round trip, every single-byte flip and every truncation.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index/lidx_int.h"
#include "index/lindex.h"
#include "index/lsearch.h"
#include "index/lsearch_impl.h"
#include "support/u64_oracle.h"
#include "omendb.h"
#include "util/crc32c.h"
#include "util/mem.h"

/* ---- helpers -------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0) + 1e-300;
}

enum { D_UNIFORM, D_DENSE, D_NORMAL, D_LOGNORMAL, D_TIMES, D_OSM, D_PIECEWISE, D_DUPS, D_HIGH,
       D_OUTLIER, D_FEWDISTINCT, D_COUNT };

static uint64_t morton(uint32_t x, uint32_t y)
{
    uint64_t r = 0;
    for (int i = 0; i < 32; i++)
        r |= ((uint64_t)((x >> i) & 1) << (2 * i)) | ((uint64_t)((y >> i) & 1) << (2 * i + 1));
    return r;
}

static double gauss(void)
{
    return sqrt(-2.0 * log(rnd_unit())) * cos(6.283185307179586 * rnd_unit());
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t *gen(int d, size_t n)
{
    uint64_t *k = malloc((n ? n : 1) * sizeof *k);
    assert_non_null(k);
    uint64_t t = rnd() >> 20;
    size_t i = 0;
    while (i < n) {
        uint64_t v = 0;
        switch (d) {
        case D_UNIFORM: v = rnd(); break;
        case D_DENSE: v = 1000 + i * 3 + (rnd() % 3); break;
        case D_NORMAL: v = (uint64_t)clampd(1e15 + 1e14 * gauss(), 0, 1.8e19); break;
        case D_LOGNORMAL: v = (uint64_t)clampd(exp(2.0 * gauss()) * 1e12, 0, 1.8e19); break;
        case D_TIMES:
            t += (uint64_t)(-log(rnd_unit()) * 1000.0);
            v = t;
            break;
        case D_OSM: {
            int c = (int)(rnd() % 4);
            double cx = 1e9 * (1 + c), cy = 0.7e9 * (1 + c);
            double x = clampd(cx + 1e8 * gauss(), 0, 4.2e9), y = clampd(cy + 5e7 * gauss(), 0, 4.2e9);
            v = morton((uint32_t)x, (uint32_t)y);
            break;
        }
        case D_PIECEWISE: {
            /* runs of very different densities */
            size_t seg = i / 97;
            uint64_t step = (seg % 3 == 0) ? 1 : (seg % 3 == 1) ? 1000003 : (uint64_t)1 << (20 + seg % 30);
            t += step + (rnd() % (step / 2 + 1));
            v = t;
            break;
        }
        case D_DUPS: v = rnd() % (n / 8 + 2); break;
        case D_HIGH: v = UINT64_MAX - (rnd() % (n * 4 + 8)); break;
        case D_OUTLIER:
            v = (i % 1000 == 999) ? UINT64_MAX - rnd() % 100 : (i % 777 == 5 ? rnd() % 5 : 1000000 + rnd() % (n * 10 + 1));
            break;
        case D_FEWDISTINCT: v = (rnd() % 3) * (UINT64_MAX / 2); break;
        }
        k[i++] = v;
    }
    u64_oracle_sort(k, n);
    return k;
}

/* Every point of the bottom level lies within eps of its segment's line
 * (evaluated the way queries evaluate it). */
static void check_build_guarantee(const lidx *m, const uint64_t *k, size_t n)
{
    if (n == 0) return;
    const lidx_level *lv = &m->lv[0];
    size_t s = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && k[i] == k[i - 1]) continue;
        while (s + 1 < lv->m && lidx_unflip(lv->keys[s + 1]) <= k[i]) s++;
        double p = lv->par[s].icept + lv->par[s].slope * (double)(k[i] - lidx_unflip(lv->keys[s]));
        assert_true(fabs(p - (double)i) <= (double)m->eps + 0.5);
    }
}

static void check_queries(const lidx *m, const uint64_t *k, size_t n, size_t nrand)
{
    static const int variants[] = {LIDX_SEARCH_SCALAR, LIDX_SEARCH_AVX2, LIDX_SEARCH_AVX512};
    for (size_t v = 0; v < 3; v++) {
        if (!lidx_search_supported(variants[v])) continue;
        lidx_search_force(variants[v]);
        size_t step = n > 20000 ? n / 20000 : 1;
        for (size_t i = 0; i < n; i += step) {
            uint64_t qs[3] = {k[i], k[i] - 1, k[i] + 1};
            for (int j = 0; j < 3; j++) {
                size_t want = u64_oracle_lower_bound(k, n, qs[j]);
                size_t lo, hi;
                lidx_window(m, k, n, qs[j], &lo, &hi);
                assert_true(lo <= want && want <= hi && hi <= n);
                assert_int_equal(lidx_lower_bound(m, k, n, qs[j]), want);
            }
        }
        for (size_t i = 0; i < nrand; i++) {
            uint64_t q = rnd();
            if (n && (i & 1)) q = k[rnd() % n] + (rnd() % 5) - 2;
            assert_int_equal(lidx_lower_bound(m, k, n, q), u64_oracle_lower_bound(k, n, q));
        }
        uint64_t edge[] = {0, 1, UINT64_MAX, UINT64_MAX - 1};
        for (size_t i = 0; i < 4; i++) assert_int_equal(lidx_lower_bound(m, k, n, edge[i]), u64_oracle_lower_bound(k, n, edge[i]));
        /* batch */
        size_t cnt = 777;
        uint64_t *qs = malloc(cnt * sizeof *qs);
        size_t *out = malloc(cnt * sizeof *out);
        for (size_t i = 0; i < cnt; i++) qs[i] = (n && (i % 3)) ? k[rnd() % n] + (i % 2) : rnd();
        /* windows clipped at either end of the array, and the extremes */
        for (size_t i = 0; i < 48 && n; i++) {
            qs[2 * i] = k[i < n ? i : n - 1] - (i % 3 == 1);
            qs[2 * i + 1] = k[n - 1 - (i < n ? i : n - 1)] + (i % 3 == 2);
        }
        qs[cnt - 1] = 0;
        qs[cnt - 2] = UINT64_MAX;
        lidx_lower_bound_batch(m, k, n, qs, cnt, out);
        for (size_t i = 0; i < cnt; i++) assert_int_equal(out[i], u64_oracle_lower_bound(k, n, qs[i]));
        free(qs);
        free(out);
    }
    lidx_search_force(LIDX_SEARCH_AUTO);
}

static lidx *build_ok(const uint64_t *k, size_t n, unsigned eps)
{
    lidx *m = NULL;
    assert_int_equal(lidx_build(k, n, eps, &m), OMEN_OK);
    assert_non_null(m);
    assert_int_equal(lidx_nkeys(m), n);
    assert_int_equal(lidx_epsilon(m), eps ? eps : LIDX_DEFAULT_EPSILON);
    return m;
}

/* Serialize and load back; the loaded model must answer identically. */
static lidx *roundtrip(const lidx *m)
{
    size_t sz = lidx_serialized_size(m), w = 0;
    uint8_t *buf = malloc(sz);
    assert_int_equal(lidx_serialize(m, buf, sz, &w), OMEN_OK);
    assert_int_equal(w, sz);
    lidx *m2 = NULL;
    assert_int_equal(lidx_deserialize(buf, sz, &m2), OMEN_OK);
    free(buf);
    assert_int_equal(lidx_segments(m2), lidx_segments(m));
    assert_int_equal(lidx_levels(m2), lidx_levels(m));
    return m2;
}

/* ---- tests ------------------------------------------------------------ */

static void test_search_variants_agree(void **st)
{
    (void)st;
    uint64_t k[300];
    for (int round = 0; round < 200; round++) {
        size_t n = rnd() % 300;
        for (size_t i = 0; i < n; i++) k[i] = (round & 1) ? rnd() % 50 : rnd();
        if (round % 7 == 0)
            for (size_t i = 0; i < n; i++) k[i] = UINT64_MAX - (rnd() % 40);
        u64_oracle_sort(k, n);
        for (int t = 0; t < 50; t++) {
            size_t lo = n ? rnd() % (n + 1) : 0, hi = lo + (n > lo ? rnd() % (n - lo + 1) : 0);
            uint64_t q = (t % 3 == 0 || !n) ? rnd() : k[rnd() % n] + (rnd() % 3) - 1;
            if (t == 1) q = 0;
            if (t == 2) q = UINT64_MAX;
            size_t want = lo + u64_oracle_lower_bound(k + lo, hi - lo, q);
            assert_int_equal(lidx_search_scalar(k, lo, hi, q), want);
            assert_int_equal(lidx_search_with(LIDX_SEARCH_SCALAR, k, lo, hi, q), want);
            if (lidx_search_supported(LIDX_SEARCH_AVX2))
                assert_int_equal(lidx_search_with(LIDX_SEARCH_AVX2, k, lo, hi, q), want);
            if (lidx_search_supported(LIDX_SEARCH_AVX512))
                assert_int_equal(lidx_search_with(LIDX_SEARCH_AVX512, k, lo, hi, q), want);
            assert_int_equal(lidx_search(k, lo, hi, q), want);
        }
    }
}

/* The flipped kernels take a prepared vector, which only code compiled
 * for their target may pass. */
LIDX_T_AVX2 static size_t cf_avx2(const uint64_t *kf, size_t w, uint64_t q)
{
    return lidx_cf_avx2(kf, w, lidx_qf_avx2(q));
}

LIDX_T_AVX512 static size_t cf_avx512(const uint64_t *kf, size_t w, uint64_t q)
{
    return lidx_cf_avx512(kf, w, lidx_qf_avx512(q));
}

/* The counting kernels, plain (data windows) and sign-flipped (routing
 * levels): the three of each agree with a plain count of keys <= q for
 * every width they are used with (multiples of 4), including the
 * UINT64_MAX padding and q at both extremes. */
static void test_count_variants_agree(void **st)
{
    (void)st;
    uint64_t k[68], kf[68];
    for (int round = 0; round < 300; round++) {
        size_t w = 4 * (1 + rnd() % 17);
        for (size_t i = 0; i < w; i++) k[i] = (round & 1) ? rnd() % 40 : rnd();
        u64_oracle_sort(k, w);
        for (size_t i = w - rnd() % 4; i < w; i++) k[i] = UINT64_MAX; /* padding */
        for (int t = 0; t < 40; t++) {
            uint64_t q = t == 0 ? 0 : t == 1 ? UINT64_MAX : t % 2 ? rnd() : k[rnd() % w] - t % 3 + 1;
            size_t want = 0;
            for (size_t i = 0; i < w; i++) want += k[i] <= q;
            assert_int_equal(lidx_c_scalar(k, w, q), want);
            if (lidx_search_supported(LIDX_SEARCH_AVX2)) assert_int_equal(lidx_c_avx2(k, w, q), want);
            if (lidx_search_supported(LIDX_SEARCH_AVX512))
                assert_int_equal(lidx_c_avx512(k, w, q), want);
            /* The sign-flipped kernels the levels use: exact below
             * UINT64_MAX (routem_ replaces that query's segment). */
            if (q == UINT64_MAX) continue;
            for (size_t i = 0; i < w; i++) kf[i] = lidx_unflip(k[i]);
            assert_int_equal(lidx_cf_scalar(kf, w, lidx_qf_scalar(q)), want);
            if (lidx_search_supported(LIDX_SEARCH_AVX2))
                assert_int_equal(cf_avx2(kf, w, q), want);
            if (lidx_search_supported(LIDX_SEARCH_AVX512))
                assert_int_equal(cf_avx512(kf, w, q), want);
        }
    }
}

/* Rewrite the version field of an image and re-seal its checksum. */
static void set_version(uint8_t *buf, size_t sz, uint32_t ver)
{
    for (int i = 0; i < 4; i++) buf[4 + i] = (uint8_t)(ver >> (8 * i));
    uint32_t c = crc32c_mask(crc32c(0, buf, sz - 4));
    for (int i = 0; i < 4; i++) buf[sz - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* Version 1 images (single root) still load and answer; a version 1 image
 * whose top level has several segments is corrupt; versions past the
 * current one are OMEN_VERSION. */
static void test_format_versions(void **st)
{
    (void)st;
    size_t n = 3000;
    uint64_t *k = gen(D_FEWDISTINCT, n);
    lidx *m = build_ok(k, n, 2);
    assert_int_equal(lidx_levels(m), 1);
    assert_int_equal(lidx_segments(m), 3);
    size_t sz = lidx_serialized_size(m);
    uint8_t *buf = malloc(sz);
    assert_int_equal(lidx_serialize(m, buf, sz, NULL), OMEN_OK);
    assert_int_equal(buf[4], LIDX_FORMAT_VERSION);
    lidx *l = NULL;
    set_version(buf, sz, 1); /* a three-segment top: not a version 1 image */
    assert_int_equal(lidx_deserialize(buf, sz, &l), OMEN_CORRUPT);
    set_version(buf, sz, 2); /* a three-segment top: a version 2 image too */
    assert_int_equal(lidx_deserialize(buf, sz, &l), OMEN_OK);
    check_queries(l, k, n, 200);
    lidx_free(l);
    l = NULL;
    set_version(buf, sz, LIDX_FORMAT_VERSION + 1);
    assert_int_equal(lidx_deserialize(buf, sz, &l), OMEN_VERSION);
    assert_null(l);
    free(buf);
    lidx_free(m);
    free(k);

    uint64_t one[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    m = build_ok(one, 10, 2);
    assert_int_equal(lidx_segments(m), 1);
    sz = lidx_serialized_size(m);
    buf = malloc(sz);
    assert_int_equal(lidx_serialize(m, buf, sz, NULL), OMEN_OK);
    set_version(buf, sz, 1);
    assert_int_equal(lidx_deserialize(buf, sz, &l), OMEN_OK);
    check_queries(l, one, 10, 200);
    lidx_free(l);
    free(buf);
    lidx_free(m);
}

static void test_empty_one_two(void **st)
{
    (void)st;
    lidx *m = build_ok(NULL, 0, 0);
    assert_int_equal(lidx_lower_bound(m, NULL, 0, 5), 0);
    assert_int_equal(lidx_segments(m), 0);
    lidx *m2 = roundtrip(m);
    assert_int_equal(lidx_lower_bound(m2, NULL, 0, 5), 0);
    lidx_free(m2);
    lidx_free(m);

    uint64_t one[] = {42};
    m = build_ok(one, 1, 1);
    check_queries(m, one, 1, 100);
    lidx_free(m);

    uint64_t two[][2] = {{0, UINT64_MAX}, {5, 6}, {7, 7}, {UINT64_MAX, UINT64_MAX}, {0, 0}, {0, 1}};
    for (size_t i = 0; i < 6; i++) {
        for (unsigned eps = 1; eps <= 3; eps++) {
            m = build_ok(two[i], 2, eps);
            check_queries(m, two[i], 2, 100);
            lidx_free(m);
        }
    }
}

static void test_all_equal(void **st)
{
    (void)st;
    uint64_t vals[] = {0, 1, 123456789, UINT64_MAX - 1, UINT64_MAX};
    for (size_t v = 0; v < 5; v++) {
        size_t n = 1000;
        uint64_t *k = malloc(n * sizeof *k);
        for (size_t i = 0; i < n; i++) k[i] = vals[v];
        lidx *m = build_ok(k, n, 1);
        check_queries(m, k, n, 200);
        assert_int_equal(lidx_lower_bound(m, k, n, vals[v]), 0);
        if (vals[v] != UINT64_MAX) assert_int_equal(lidx_lower_bound(m, k, n, vals[v] + 1), n);
        lidx_free(m);
        free(k);
    }
}

static void test_extremes_and_outliers(void **st)
{
    (void)st;
    size_t n = 5000;
    uint64_t *k = malloc(n * sizeof *k);
    /* 0, a dense middle, and UINT64_MAX (twice) */
    k[0] = 0;
    for (size_t i = 1; i < n - 2; i++) k[i] = 1000 + i;
    k[n - 2] = k[n - 1] = UINT64_MAX;
    for (unsigned eps = 1; eps <= 64; eps *= 4) {
        lidx *m = build_ok(k, n, eps);
        check_build_guarantee(m, k, n);
        check_queries(m, k, n, 2000);
        assert_int_equal(lidx_lower_bound(m, k, n, UINT64_MAX), n - 2);
        assert_int_equal(lidx_lower_bound(m, k, n, 1), 1);
        assert_int_equal(lidx_lower_bound(m, k, n, UINT64_MAX / 2), n - 2);
        lidx_free(m);
    }
    /* runs of duplicates between wide gaps */
    for (size_t i = 0; i < n; i++) k[i] = (i / 100) * (UINT64_MAX / 60);
    lidx *m = build_ok(k, n, 1);
    check_queries(m, k, n, 2000);
    lidx_free(m);
    free(k);
}

static void test_properties(void **st)
{
    (void)st;
    static const unsigned epss[] = {1, 2, 3, 4, 8, 16, 32, 64, 128, 1024};
    for (int d = 0; d < D_COUNT; d++) {
        for (int round = 0; round < 6; round++) {
            size_t n = (round == 0) ? 1 + rnd() % 10 : (round < 4 ? 1 + rnd() % 3000 : 1 + rnd() % 200000);
            /* Rounds 1 and 4 take the default epsilons, whose single
             * lookups run a path of their own (constant widths). */
            unsigned eps = (round == 1 || round == 4) ? 0 : epss[rnd() % 10];
            uint64_t *k = gen(d, n);
            lidx *m = build_ok(k, n, eps);
            check_build_guarantee(m, k, n);
            check_queries(m, k, n, 3000);
            lidx *m2 = roundtrip(m);
            check_queries(m2, k, n, 300);
            lidx_free(m2);
            lidx_free(m);
            free(k);
        }
    }
}

static void test_streaming_equals_build(void **st)
{
    (void)st;
    for (int d = 0; d < D_COUNT; d++) {
        size_t n = 1 + rnd() % 50000;
        uint64_t *k = gen(d, n);
        lidx *a = build_ok(k, n, 16);
        lidx_builder *b;
        assert_int_equal(lidx_builder_new(16, &b), OMEN_OK);
        for (size_t i = 0; i < n; i++) assert_int_equal(lidx_builder_add(b, k[i]), OMEN_OK);
        lidx *c = NULL;
        assert_int_equal(lidx_builder_finish(b, &c), OMEN_OK);
        size_t sa = lidx_serialized_size(a), sc = lidx_serialized_size(c);
        assert_int_equal(sa, sc);
        uint8_t *ba = malloc(sa), *bc = malloc(sc);
        assert_int_equal(lidx_serialize(a, ba, sa, NULL), OMEN_OK);
        assert_int_equal(lidx_serialize(c, bc, sc, NULL), OMEN_OK);
        assert_memory_equal(ba, bc, sa);
        free(ba);
        free(bc);
        lidx_free(a);
        lidx_free(c);
        free(k);
    }
}

static void test_builder_rejects(void **st)
{
    (void)st;
    lidx_builder *b;
    assert_int_equal(lidx_builder_new(LIDX_MAX_EPSILON + 1, &b), OMEN_INVALID);
    assert_int_equal(lidx_builder_new(4, &b), OMEN_OK);
    assert_int_equal(lidx_builder_add(b, 10), OMEN_OK);
    assert_int_equal(lidx_builder_add(b, 10), OMEN_OK);
    assert_int_equal(lidx_builder_add(b, 9), OMEN_INVALID);
    lidx_builder_free(b);
    uint64_t bad[] = {1, 3, 2};
    lidx *m = (lidx *)1;
    assert_int_equal(lidx_build(bad, 3, 4, &m), OMEN_INVALID);
    assert_null(m);
    assert_int_equal(lidx_build(NULL, 3, 4, &m), OMEN_INVALID);
    assert_int_equal(lidx_build(bad, 2, 4, NULL), OMEN_INVALID);
    assert_int_equal(lidx_builder_finish(NULL, &m), OMEN_INVALID);
    assert_int_equal(lidx_deserialize(NULL, 10, &m), OMEN_INVALID);
}

static void test_nomem(void **st)
{
    (void)st;
    size_t n = 20000;
    uint64_t *k = gen(D_LOGNORMAL, n);
    int failed = 0;
    for (long c = 0; c < 200; c++) {
        lidx *m = NULL;
        util_mem_fail_after(c);
        int rc = lidx_build(k, n, 2, &m);
        util_mem_fail_after(-1);
        if (rc == OMEN_OK) {
            check_queries(m, k, n, 100);
            lidx_free(m);
            break;
        }
        assert_int_equal(rc, OMEN_NOMEM);
        assert_null(m);
        failed++;
    }
    assert_true(failed > 0);
    util_mem_failures();
    free(k);
}

/* A top level of more than 32 segments is counted in two steps, its
 * summary (every 8th key) then a block of 8 (lidx_int.h).  Find such a
 * model, check it answers exactly on every path and after a reload, and
 * that a version 2 image (top at most 32) may not hold it. */
static void test_top_summary(void **st)
{
    (void)st;
    lidx *m = NULL;
    uint64_t *k = NULL;
    size_t n = 0;
    for (n = 160000; n <= 2560000 && !m; n *= 2) {
        k = gen(D_UNIFORM, n);
        for (unsigned eps = 1; eps <= 4 && !m; eps++) {
            m = build_ok(k, n, eps);
            size_t top = m->lv[m->nlevels - 1].m;
            if (top <= LIDX_TOP_FLAT || top > LIDX_TOP_MAX) {
                lidx_free(m);
                m = NULL;
            }
        }
        if (!m) free(k);
    }
    assert_non_null(m);
    n /= 2;
    check_queries(m, k, n, 4000);
    lidx *l = roundtrip(m);
    check_queries(l, k, n, 1000);
    lidx_free(l);
    size_t sz = lidx_serialized_size(m);
    uint8_t *buf = malloc(sz);
    assert_int_equal(lidx_serialize(m, buf, sz, NULL), OMEN_OK);
    set_version(buf, sz, 2);
    assert_int_equal(lidx_deserialize(buf, sz, &l), OMEN_CORRUPT);
    assert_null(l);
    free(buf);
    lidx_free(m);
    free(k);
}

/* A model of at least LIDX_HUGE_MIN bytes moves into one huge-page
 * mapping that its levels point into.  It answers exactly, loads back
 * the same way, and when the mapping cannot be had (it is the build's
 * last allocation) it stays on the heap and is still exact. */
static void test_huge_model(void **st)
{
    (void)st;
    size_t n = 600000; /* about 61,000 segments at epsilon 1: 1.5 MB */
    uint64_t *k = gen(D_UNIFORM, n);
    lidx *m = build_ok(k, n, 1);
    assert_non_null(m->arena);
    assert_true(m->arena_len >= LIDX_HUGE_MIN);
    assert_int_equal(m->arena_len % UTIL_HUGE_PAGE, 0);
    assert_int_equal(lidx_bytes(m), sizeof *m + m->arena_len);
    const unsigned char *a = m->arena, *end = a + m->arena_len;
    for (size_t L = 0; L < m->nlevels; L++) {
        const unsigned char *kk = (const unsigned char *)m->lv[L].keys;
        const unsigned char *pp = (const unsigned char *)m->lv[L].par;
        assert_true(kk >= a && kk + (m->lv[L].m + m->pad) * sizeof(uint64_t) <= end);
        assert_true(pp >= a && pp + (m->lv[L].m + 1) * sizeof(lidx_par) <= end);
        assert_int_equal(lidx_unflip(m->lv[L].keys[m->lv[L].m + m->pad - 1]), UINT64_MAX);
        assert_true(m->lv[L].par[m->lv[L].m].icept == (double)(L ? m->lv[L - 1].m : m->nkeys));
    }
    check_queries(m, k, n, 3000);
    lidx *m2 = roundtrip(m);
    assert_non_null(m2->arena);
    check_queries(m2, k, n, 300);
    lidx_free(m2);
    lidx_free(m);

    lidx *m3 = NULL;
    int rc;
    for (long c = 0;; c++) {
        util_mem_fail_after(c);
        rc = lidx_build(k, n, 1, &m3);
        util_mem_fail_after(-1);
        if (rc == OMEN_OK) break;
        assert_int_equal(rc, OMEN_NOMEM);
    }
    util_mem_failures();
    assert_null(m3->arena);
    assert_true(lidx_bytes(m3) >= LIDX_HUGE_MIN);
    check_queries(m3, k, n, 300);
    lidx_free(m3);
    free(k);
}

static void test_serialization_corruption(void **st)
{
    (void)st;
    size_t n = 3000;
    uint64_t *k = gen(D_OSM, n);
    lidx *m = build_ok(k, n, 2);
    assert_true(lidx_levels(m) >= 2);
    size_t sz = lidx_serialized_size(m);
    uint8_t *buf = malloc(sz);
    assert_int_equal(lidx_serialize(m, buf, sz, NULL), OMEN_OK);
    assert_int_equal(lidx_serialize(m, buf, sz - 1, NULL), OMEN_INVALID);
    lidx *l = NULL;
    for (size_t len = 0; len < sz; len++) {
        int rc = lidx_deserialize(buf, len, &l);
        assert_true(rc == OMEN_CORRUPT || rc == OMEN_VERSION);
        assert_null(l);
    }
    for (size_t i = 0; i < sz; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (uint8_t)(1u << bit);
            int rc = lidx_deserialize(buf, sz, &l);
            assert_true(rc == OMEN_CORRUPT || rc == OMEN_VERSION);
            assert_null(l);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(lidx_deserialize(buf, sz, &l), OMEN_OK);
    check_queries(l, k, n, 500);
    lidx_free(l);
    lidx_free(m);
    free(buf);
    free(k);
}

/* Images that pass every check of the loader but lie: lines rewritten to
 * random values inside the bounds the loader accepts (slopes from 0 to
 * 1e300, intercepts anywhere in the widened range, often at its very
 * ends), and epsilons rewritten too, with the checksum resealed.  Such a
 * model answers wrongly, but no query may read outside the key array or
 * the model (ASan checks the reads in make test) or answer past n, also
 * when the caller's n is smaller than the model's key count. */
static void test_lying_images(void **st)
{
    (void)st;
    static const int variants[] = {LIDX_SEARCH_SCALAR, LIDX_SEARCH_AVX2, LIDX_SEARCH_AVX512};
    size_t n = 40000;
    uint64_t *k = gen(D_UNIFORM, n);
    lidx *m = build_ok(k, n, 1);
    assert_true(lidx_levels(m) >= 2 && m->lv[lidx_levels(m) - 1].m >= 2); /* a top to route from */
    size_t sz = lidx_serialized_size(m);
    uint8_t *img = malloc(sz), *buf = malloc(sz);
    assert_int_equal(lidx_serialize(m, img, sz, NULL), OMEN_OK);
    uint32_t nlev = (uint32_t)lidx_levels(m);
    uint64_t ms[LIDX_MAX_LEVELS];
    for (uint32_t L = 0; L < nlev; L++) ms[L] = m->lv[L].m;
    static const uint32_t eps_rec_of[] = {1, 8, 15, 16, 40, LIDX_MAX_EPSILON_REC};
    uint64_t qs[64];
    size_t out[64];
    int loaded = 0;
    for (int round = 0; round < 200; round++) {
        memcpy(buf, img, sz);
        uint32_t eps = 1 + (uint32_t)(rnd() % 40), er = eps_rec_of[rnd() % 6];
        for (int i = 0; i < 4; i++) {
            buf[8 + i] = (uint8_t)(eps >> (8 * i));
            buf[12 + i] = (uint8_t)(er >> (8 * i));
        }
        uint8_t *seg = buf + LIDX_IMG_HDR + 8 * nlev;
        for (uint32_t L = 0; L < nlev; L++) {
            double span = (double)(L == 0 ? n : ms[L - 1]);
            double slack = (double)(L == 0 ? eps : er) + LIDX_SLACK;
            for (uint64_t i = 0; i < ms[L]; i++, seg += LIDX_IMG_SEG) {
                if (rnd() % 3 == 0) continue; /* keep this line */
                double slopes[] = {0.0, 1e-300, 1.0, 1e300, (double)(rnd() % 1000) / 7.0};
                double sl = slopes[rnd() % 5], ic;
                switch (rnd() % 4) {
                case 0: ic = -slack; break;
                case 1: ic = span + slack; break;
                default: ic = -slack + (span + 2 * slack) * (double)(rnd() % 100000) / 100000.0;
                }
                uint64_t bs, bi;
                memcpy(&bs, &sl, 8);
                memcpy(&bi, &ic, 8);
                for (int b = 0; b < 8; b++) {
                    seg[8 + b] = (uint8_t)(bs >> (8 * b));
                    seg[16 + b] = (uint8_t)(bi >> (8 * b));
                }
            }
        }
        set_version(buf, sz, LIDX_FORMAT_VERSION); /* reseals the checksum */
        lidx *l = NULL;
        if (lidx_deserialize(buf, sz, &l) != OMEN_OK) continue;
        loaded++;
        size_t nn = round % 2 ? n : n - 1 - rnd() % 40;
        for (size_t v = 0; v < 3; v++) {
            if (!lidx_search_supported(variants[v])) continue;
            lidx_search_force(variants[v]);
            for (size_t i = 0; i < 64; i++) {
                uint64_t q = i < 4 ? (uint64_t[]){0, 1, UINT64_MAX, UINT64_MAX - 1}[i]
                                   : (i & 1 ? rnd() : k[rnd() % n] + rnd() % 3 - 1);
                qs[i] = q;
                size_t lo, hi;
                lidx_window(l, k, nn, q, &lo, &hi);
                assert_true(lo <= hi && hi <= nn);
                assert_true(lidx_lower_bound(l, k, nn, q) <= nn);
            }
            lidx_lower_bound_batch(l, k, nn, qs, 64, out);
            for (size_t i = 0; i < 64; i++) assert_true(out[i] <= nn);
        }
        lidx_search_force(LIDX_SEARCH_AUTO);
        lidx_free(l);
    }
    assert_true(loaded > 150); /* the rewrites stay inside what the loader accepts */
    lidx_free(m);
    free(img);
    free(buf);
    free(k);
}

/* ---- string keys -------------------------------------------------------- */

typedef struct {
    uint8_t **k;
    size_t *len;
} strarr;

static lidx_slice str_at(const void *ctx, size_t i)
{
    const strarr *a = ctx;
    lidx_slice s = {a->k[i], a->len[i]};
    return s;
}

static int bcmp3(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    return c ? c : (al > bl) - (al < bl);
}

static const strarr *sort_ctx;
static int cmp_idx(const void *x, const void *y)
{
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    return bcmp3(sort_ctx->k[i], sort_ctx->len[i], sort_ctx->k[j], sort_ctx->len[j]);
}

static void check_strings(uint8_t **raw, size_t *rawlen, size_t n, unsigned eps)
{
    /* sort */
    size_t *idx = malloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    strarr tmp = {raw, rawlen};
    sort_ctx = &tmp;
    qsort(idx, n, sizeof *idx, cmp_idx);
    strarr a = {malloc(n * sizeof(uint8_t *)), malloc(n * sizeof(size_t))};
    for (size_t i = 0; i < n; i++) {
        a.k[i] = raw[idx[i]];
        a.len[i] = rawlen[idx[i]];
    }
    size_t lcp = lidx_str_lcp(str_at, &a, n);
    uint64_t *slots = malloc((n ? n : 1) * sizeof *slots);
    for (size_t i = 0; i < n; i++) {
        slots[i] = lidx_slot(a.k[i], a.len[i], lcp);
        if (i) assert_true(slots[i] >= slots[i - 1]);
    }
    lidx_str s = {NULL, slots, n, lcp, n ? a.k[0] : NULL, str_at, &a};
    assert_int_equal(lidx_build(slots, n, eps, &s.model), OMEN_OK);
    uint8_t q[40];
    for (size_t t = 0; t < 3000 + n; t++) {
        size_t ql;
        if (n && t < n) {
            ql = a.len[t];
            memcpy(q, a.k[t], ql);
        } else if (n && t % 2) {
            size_t j = rnd() % n;
            ql = a.len[j] < 40 ? a.len[j] : 40;
            memcpy(q, a.k[j], ql);
            if (ql && t % 4 == 1) q[rnd() % ql] ^= (uint8_t)(1u << (rnd() % 8));
            else if (t % 8 == 3 && ql) ql = rnd() % ql;
            else if (ql < 40) q[ql++] = (uint8_t)rnd();
        } else {
            ql = rnd() % 20;
            for (size_t i = 0; i < ql; i++) q[i] = (uint8_t)(t % 3 ? (uint64_t)(uint8_t)"user:0123456789"[rnd() % 15] : rnd());
        }
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (bcmp3(a.k[mid], a.len[mid], q, ql) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        assert_int_equal(lidx_str_lower_bound(&s, q, ql), lo);
    }
    lidx_free(s.model);
    free(slots);
    free(a.k);
    free(a.len);
    free(idx);
}

static void test_strings(void **st)
{
    (void)st;
    for (int kind = 0; kind < 5; kind++) {
        size_t n = kind == 4 ? 1 : 1 + rnd() % 20000;
        uint8_t **raw = malloc(n * sizeof *raw);
        size_t *len = malloc(n * sizeof *len);
        for (size_t i = 0; i < n; i++) {
            raw[i] = malloc(40);
            if (kind == 0) {
                len[i] = (size_t)snprintf((char *)raw[i], 40, "user:%zu", (size_t)(rnd() % (n * 2)));
            } else if (kind == 1) {
                len[i] = 16;
                for (int j = 0; j < 16; j++) raw[i][j] = (uint8_t)rnd();
            } else if (kind == 2) {
                /* long shared prefix, ties past 8 bytes, embedded zeros */
                len[i] = (size_t)snprintf((char *)raw[i], 40, "tenant/0042/obj/%04zu", (size_t)(rnd() % 50));
                if (rnd() % 3 == 0) raw[i][len[i]++] = 0;
                if (rnd() % 3 == 0) len[i] = 12 + rnd() % (len[i] - 11);
            } else if (kind == 3) {
                len[i] = rnd() % 4;
                for (size_t j = 0; j < len[i]; j++) raw[i][j] = (uint8_t)(rnd() % 2 ? 0 : 0xff);
            } else {
                len[i] = 5;
                memcpy(raw[i], "abcde", 5);
            }
        }
        check_strings(raw, len, n, kind == 1 ? 4 : 1 + (unsigned)(rnd() % 64));
        for (size_t i = 0; i < n; i++) free(raw[i]);
        free(raw);
        free(len);
    }
    /* empty */
    lidx_str s = {NULL, NULL, 0, 0, NULL, str_at, NULL};
    assert_int_equal(lidx_str_lower_bound(&s, (const uint8_t *)"x", 1), 0);
    uint8_t k[3] = {1, 2, 3};
    assert_int_equal(lidx_slot(k, 3, 0), 0x0102030000000000ull);
    assert_int_equal(lidx_slot(k, 3, 1), 0x0203000000000000ull);
    assert_int_equal(lidx_slot(k, 3, 5), 0);
}

int main(void)
{
    /* Each suite checks every search path this CPU has; say which it
     * lacks, so a run that could not check them does not pass for one
     * that did. */
#ifdef LIDX_EMULATE_AVX512
    fprintf(stderr, "test_index: AVX-512 kernels emulated (SIMDe): their logic is checked, not "
                    "their native instructions\n");
#else
    if (!lidx_search_supported(LIDX_SEARCH_AVX512))
        fprintf(stderr, "test_index: no AVX-512 on this CPU: its kernels are not checked here "
                        "(test-emu512 checks their logic)\n");
#endif
    if (!lidx_search_supported(LIDX_SEARCH_AVX2))
        fprintf(stderr, "test_index: no AVX2 on this CPU: its kernels are not checked here\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_variants_agree),
        cmocka_unit_test(test_count_variants_agree),
        cmocka_unit_test(test_format_versions),
        cmocka_unit_test(test_empty_one_two),
        cmocka_unit_test(test_all_equal),
        cmocka_unit_test(test_extremes_and_outliers),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_streaming_equals_build),
        cmocka_unit_test(test_builder_rejects),
        cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_top_summary),
        cmocka_unit_test(test_huge_model),
        cmocka_unit_test(test_serialization_corruption),
        cmocka_unit_test(test_lying_images),
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
