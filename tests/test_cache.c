/*
 * test_cache.c -- block cache: LRU eviction order, byte charges, refcounted
 * handles that outlive eviction/replacement/erase, counters, capacity 0,
 * allocation failures.  Capacity is split over 16 shards, so the tests pick
 * sizes whose outcome does not depend on which shard a key hashes to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "omendb.h"
#include "storage/cache.h"
#include "util/mem.h"

static void *block_of(size_t len, uint8_t fill)
{
    void *p = util_malloc(len ? len : 1);
    memset(p, fill, len);
    return p;
}

static void insert_release(block_cache *c, uint64_t f, uint64_t b, size_t len, uint8_t fill)
{
    cache_handle *h;
    assert_int_equal(cache_insert(c, f, b, block_of(len, fill), len, len, &h), OMEN_OK);
    assert_non_null(h);
    cache_release(c, h);
}

static void test_basic_hit_miss(void **state)
{
    (void)state;
    block_cache *c;
    assert_int_equal(cache_new(1 << 20, &c), OMEN_OK);
    assert_null(cache_lookup(c, 1, 1));
    assert_int_equal(cache_misses(c), 1);
    insert_release(c, 1, 1, 100, 0xab);
    cache_handle *h = cache_lookup(c, 1, 1);
    assert_non_null(h);
    size_t len;
    const uint8_t *d = cache_handle_data(h, &len);
    assert_int_equal(len, 100);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(d[i], 0xab);
    cache_release(c, h);
    assert_int_equal(cache_hits(c), 1);
    /* Same block number in another file is another entry. */
    assert_null(cache_lookup(c, 2, 1));
    assert_int_equal(cache_misses(c), 2);
    assert_int_equal(cache_entries(c), 1);
    assert_int_equal(cache_usage(c), 100);
    assert_int_equal(cache_capacity(c), 1 << 20);
    cache_free(c);
}

/* Shards are 1/16 of the capacity: with 16 * 1000 bytes and 100-byte
 * blocks each shard holds 10.  Inserting 2000 blocks keeps the total
 * within capacity, and the most recently used blocks survive. */
static void test_lru_eviction(void **state)
{
    (void)state;
    block_cache *c;
    assert_int_equal(cache_new(16 * 1000, &c), OMEN_OK);
    for (uint64_t b = 0; b < 2000; b++) {
        insert_release(c, 9, b, 100, (uint8_t)b);
        assert_true(cache_usage(c) <= 16 * 1000);
    }
    assert_true(cache_entries(c) <= 160);
    assert_true(cache_entries(c) >= 100); /* shards fill up, roughly evenly */
    /* The newest block is always present; the oldest long gone. */
    cache_handle *h = cache_lookup(c, 9, 1999);
    assert_non_null(h);
    cache_release(c, h);
    assert_null(cache_lookup(c, 9, 0));
    /* Touching a block protects it: keep looking block X up while inserting
     * more; it must survive while untouched ones of its age are evicted. */
    uint64_t keep = 1990;
    for (uint64_t b = 2000; b < 4000; b++) {
        h = cache_lookup(c, 9, keep);
        assert_non_null(h);
        cache_release(c, h);
        insert_release(c, 9, b, 100, (uint8_t)b);
    }
    h = cache_lookup(c, 9, keep);
    assert_non_null(h);
    cache_release(c, h);
    assert_null(cache_lookup(c, 9, 1991));
    cache_free(c);
}

/* A pinned block survives eviction, replacement and erase, with its bytes
 * intact; it is freed at the last release (ASan checks no leak/UAF). */
static void test_handles_outlive_eviction(void **state)
{
    (void)state;
    block_cache *c;
    assert_int_equal(cache_new(16 * 300, &c), OMEN_OK);
    cache_handle *pinned;
    assert_int_equal(cache_insert(c, 5, 5, block_of(200, 0x55), 200, 200, &pinned), OMEN_OK);
    /* Flood every shard so the pinned entry's shard overflows. */
    for (uint64_t b = 100; b < 1100; b++)
        insert_release(c, 5, b, 200, 1);
    size_t len;
    const uint8_t *d = cache_handle_data(pinned, &len);
    assert_int_equal(len, 200);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(d[i], 0x55);
    /* Pinned entries are not evictable: it is still found. */
    cache_handle *again = cache_lookup(c, 5, 5);
    assert_ptr_equal(again, pinned);
    cache_release(c, again);
    /* Replace it: old handle keeps old bytes, lookups see the new block. */
    cache_handle *nh;
    assert_int_equal(cache_insert(c, 5, 5, block_of(50, 0x66), 50, 50, &nh), OMEN_OK);
    cache_release(c, nh);
    d = cache_handle_data(pinned, &len);
    assert_int_equal(len, 200);
    assert_int_equal(d[199], 0x55);
    cache_handle *cur = cache_lookup(c, 5, 5);
    assert_non_null(cur);
    d = cache_handle_data(cur, &len);
    assert_int_equal(len, 50);
    assert_int_equal(d[0], 0x66);
    /* Erase while pinned: gone from lookups, bytes still valid. */
    cache_erase(c, 5, 5);
    assert_null(cache_lookup(c, 5, 5));
    assert_int_equal(d[49], 0x66);
    cache_release(c, cur);
    cache_release(c, pinned);
    cache_free(c);
}

static void test_oversize_and_zero_capacity(void **state)
{
    (void)state;
    block_cache *c;
    /* A block bigger than its shard is usable, then evicted at release. */
    assert_int_equal(cache_new(16 * 100, &c), OMEN_OK);
    cache_handle *h;
    assert_int_equal(cache_insert(c, 1, 1, block_of(1000, 7), 1000, 1000, &h), OMEN_OK);
    size_t len;
    assert_non_null(cache_handle_data(h, &len));
    assert_int_equal(len, 1000);
    cache_release(c, h);
    assert_int_equal(cache_usage(c), 0);
    cache_free(c);
    /* Capacity 0: nothing is kept, handles still work. */
    assert_int_equal(cache_new(0, &c), OMEN_OK);
    assert_int_equal(cache_insert(c, 1, 1, block_of(10, 3), 10, 10, &h), OMEN_OK);
    assert_int_equal(((const uint8_t *)cache_handle_data(h, NULL))[9], 3);
    assert_null(cache_lookup(c, 1, 1));
    cache_release(c, h);
    assert_int_equal(cache_entries(c), 0);
    cache_free(c);
    /* NULLs are harmless. */
    cache_release(NULL, NULL);
    cache_free(NULL);
    assert_null(cache_lookup(NULL, 1, 1));
    assert_int_equal(cache_insert(NULL, 1, 1, block_of(1, 1), 1, 1, &h), OMEN_INVALID);
    assert_null(h);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    block_cache *c = NULL;
    for (long n = 0;; n++) {
        util_mem_fail_after(n);
        int rc = cache_new(1000, &c);
        unsigned long f = util_mem_failures();
        util_mem_fail_after(-1);
        if (rc == OMEN_OK) {
            assert_int_equal(f, 0);
            break;
        }
        assert_int_equal(rc, OMEN_NOMEM);
        assert_null(c);
    }
    void *b = block_of(10, 1);
    util_mem_fail_after(0);
    cache_handle *h;
    int rc = cache_insert(c, 1, 1, b, 10, 10, &h); /* b is freed by the cache */
    util_mem_fail_after(-1);
    util_mem_failures();
    assert_int_equal(rc, OMEN_NOMEM);
    assert_null(h);
    cache_free(c);
}

/* Many entries force bucket-array growth; everything stays findable. */
static void test_many_entries(void **state)
{
    (void)state;
    block_cache *c;
    assert_int_equal(cache_new(1 << 30, &c), OMEN_OK);
    for (uint64_t b = 0; b < 20000; b++)
        insert_release(c, b % 7, b, 8, (uint8_t)b);
    assert_int_equal(cache_entries(c), 20000);
    for (uint64_t b = 0; b < 20000; b++) {
        cache_handle *h = cache_lookup(c, b % 7, b);
        assert_non_null(h);
        assert_int_equal(((const uint8_t *)cache_handle_data(h, NULL))[0], (uint8_t)b);
        cache_release(c, h);
    }
    assert_int_equal(cache_hits(c), 20000);
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_hit_miss),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_handles_outlive_eviction),
        cmocka_unit_test(test_oversize_and_zero_capacity),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_many_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
