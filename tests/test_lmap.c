/*
 * test_lmap.c -- the learned offset map (src/index/lmap.h): every point it
 * was fed is predicted within eps, value layouts like a run's (fixed-size
 * values packed into blocks) take one segment, the segment budget and input
 * order are enforced, and degenerate maps answer without crashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index/lmap.h"
#include "omendb.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void assert_within(const lmap *m, uint64_t x, uint64_t y, uint64_t eps)
{
    uint64_t p = lmap_predict(m, x);
    uint64_t d = p > y ? p - y : y - p;
    /* +1: the prediction is truncated to an integer. */
    if (d > eps + 1) fail_msg("x %llu: predicted %llu, true %llu (eps %llu)", (unsigned long long)x,
                              (unsigned long long)p, (unsigned long long)y, (unsigned long long)eps);
}

/* 100-byte values packed into 4 KiB blocks with a 5-byte trailer, as a run
 * lays them out: one segment covers them all. */
static void test_block_layout_one_segment(void **state)
{
    (void)state;
    lmap m;
    lmap_init(&m, 32, 1000);
    enum { N = 200000 };
    uint64_t *ys = malloc(N * sizeof *ys), off = 16, in_block = 0;
    assert_non_null(ys);
    for (uint64_t i = 0; i < N; i++) {
        if (in_block >= 4096) {
            off += 5;
            in_block = 0;
        }
        ys[i] = off;
        off += 100;
        in_block += 100;
        assert_int_equal(lmap_add(&m, i, ys[i]), OMEN_OK);
    }
    lmap_finish(&m);
    assert_int_equal(m.nsegs, 1);
    for (uint64_t i = 0; i < N; i++) assert_within(&m, i, ys[i], 32);
    lmap_free(&m);
    free(ys);
}

/* Random value sizes and gaps in x (entries without values): every point is
 * still within eps, whatever the number of segments. */
static void test_random_within_eps(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        uint32_t eps = (uint32_t)(rnd() % 100);
        size_t n = 1 + (size_t)(rnd() % 5000);
        uint64_t *xs = malloc(n * sizeof *xs), *ys = malloc(n * sizeof *ys), x = rnd() % 10, y = rnd() % 1000;
        assert_true(xs && ys);
        lmap m;
        lmap_init(&m, eps, n);
        for (size_t i = 0; i < n; i++) {
            xs[i] = x;
            ys[i] = y;
            assert_int_equal(lmap_add(&m, x, y), OMEN_OK);
            x += 1 + rnd() % 3;
            y += rnd() % 4 == 0 ? rnd() % 5000 : rnd() % 120;
        }
        lmap_finish(&m);
        assert_true(m.nsegs >= 1 && m.nsegs <= n);
        for (size_t i = 0; i < n; i++) assert_within(&m, xs[i], ys[i], eps);
        lmap_free(&m);
        free(xs);
        free(ys);
    }
}

static void test_budget_and_order(void **state)
{
    (void)state;
    lmap m;
    /* A staircase with eps 0 needs a segment per step: 3 segments allowed. */
    lmap_init(&m, 0, 3);
    int rc = OMEN_OK;
    uint64_t y = 0;
    for (uint64_t x = 0; x < 100 && rc == OMEN_OK; x++) {
        y += x % 2 ? 1 : 1000;
        rc = lmap_add(&m, x, y);
    }
    assert_int_equal(rc, OMEN_TOOBIG);
    lmap_free(&m);

    lmap_init(&m, 8, 10);
    assert_int_equal(lmap_add(&m, 5, 100), OMEN_OK);
    assert_int_equal(lmap_add(&m, 5, 200), OMEN_INVALID); /* x repeated */
    lmap_free(&m);
    lmap_init(&m, 8, 10);
    assert_int_equal(lmap_add(&m, 5, 100), OMEN_OK);
    assert_int_equal(lmap_add(&m, 6, 99), OMEN_INVALID); /* y decreased */
    lmap_free(&m);
}

static void test_degenerate(void **state)
{
    (void)state;
    lmap m;
    lmap_init(&m, 16, 4);
    lmap_finish(&m);
    assert_int_equal(m.nsegs, 0);
    assert_int_equal(lmap_predict(&m, 12345), 0);
    lmap_free(&m);
    lmap_free(NULL);

    lmap_init(&m, 0, 4);
    assert_int_equal(lmap_add(&m, 7, 700), OMEN_OK);
    lmap_finish(&m);
    assert_int_equal(lmap_predict(&m, 7), 700);
    /* Before the first point and far beyond the last: clamped, no crash. */
    assert_int_equal(lmap_predict(&m, 0), 700);
    assert_int_equal(lmap_predict(&m, UINT64_MAX), 700);
    lmap_free(&m);

    /* Large offsets (up to 2^48) keep their precision. */
    lmap_init(&m, 4, 4);
    uint64_t base = UINT64_C(1) << 47;
    for (uint64_t x = 0; x < 1000; x++) assert_int_equal(lmap_add(&m, x, base + 64 * x), OMEN_OK);
    lmap_finish(&m);
    for (uint64_t x = 0; x < 1000; x++) assert_within(&m, x, base + 64 * x, 4);
    lmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_layout_one_segment),
        cmocka_unit_test(test_random_within_eps),
        cmocka_unit_test(test_budget_and_order),
        cmocka_unit_test(test_degenerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
