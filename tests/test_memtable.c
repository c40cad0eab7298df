/*
 * test_memtable.c -- the B+tree memtable and the batch record codec:
 * internal-key order, versioned gets at snapshots, latest_seq, iteration in
 * both directions and seeks against a sorted oracle, big entries,
 * reservation, and decoding of malformed batch records.  Readers racing
 * the writer are in test_conc_memtable.c (run under TSan too).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/batch.h"
#include "db/memtable.h"
#include "util/coding.h"
#include "util/mem.h"

static void k_of(unsigned i, char *out)
{
    snprintf(out, 16, "k%06u", i);
}

static void test_order_and_get(void **state)
{
    (void)state;
    mt *m;
    assert_int_equal(mt_new(4096, &m), OMEN_OK);
    /* versions of "b" at seqs 5, 9, 2; "a" at 7 (deleted at 8); "" at 1 */
    assert_int_equal(mt_add(m, 5, MT_TYPE_PUT, "b", 1, "b5", 2), OMEN_OK);
    assert_int_equal(mt_add(m, 9, MT_TYPE_PUT, "b", 1, "b9", 2), OMEN_OK);
    assert_int_equal(mt_add(m, 2, MT_TYPE_PUT, "b", 1, "b2", 2), OMEN_OK);
    assert_int_equal(mt_add(m, 7, MT_TYPE_PUT, "a", 1, "a7", 2), OMEN_OK);
    assert_int_equal(mt_add(m, 8, MT_TYPE_DELETE, "a", 1, NULL, 0), OMEN_OK);
    assert_int_equal(mt_add(m, 1, MT_TYPE_PUT, "", 0, "", 0), OMEN_OK);
    assert_int_equal(mt_add(m, 3, MT_TYPE_PUT, "ab", 2, "x", 1), OMEN_OK);
    assert_int_equal(mt_entries(m), 7);
    assert_true(mt_bytes(m) > 0);
    assert_int_equal(mt_max_seq(m), 9);
    assert_int_equal(mt_min_seq(m), 1);

    uint64_t seq;
    int type;
    const void *v;
    size_t vl;
    assert_int_equal(mt_get(m, "b", 1, 100, &seq, &type, &v, &vl), 1);
    assert_int_equal(seq, 9);
    assert_memory_equal(v, "b9", 2);
    assert_int_equal(mt_get(m, "b", 1, 8, &seq, &type, &v, &vl), 1);
    assert_int_equal(seq, 5);
    assert_int_equal(mt_get(m, "b", 1, 4, &seq, &type, &v, &vl), 1);
    assert_int_equal(seq, 2);
    assert_int_equal(mt_get(m, "b", 1, 1, &seq, &type, &v, &vl), 0);
    assert_int_equal(mt_get(m, "a", 1, 100, &seq, &type, &v, &vl), 1);
    assert_int_equal(type, MT_TYPE_DELETE);
    assert_int_equal(mt_get(m, "a", 1, 7, &seq, &type, &v, &vl), 1);
    assert_int_equal(type, MT_TYPE_PUT);
    assert_int_equal(mt_get(m, "", 0, 100, &seq, &type, &v, &vl), 1);
    assert_int_equal(vl, 0);
    assert_int_equal(mt_get(m, "c", 1, 100, &seq, &type, &v, &vl), 0);
    assert_int_equal(mt_get(m, "a\0", 2, 100, &seq, &type, &v, &vl), 0);
    assert_int_equal(mt_latest_seq(m, "b", 1), 9);
    assert_int_equal(mt_latest_seq(m, "a", 1), 8);
    assert_int_equal(mt_latest_seq(m, "zz", 2), 0);

    /* full order: "" a@8 a@7 ab@3 b@9 b@5 b@2 */
    const char *ek[] = {"", "a", "a", "ab", "b", "b", "b"};
    uint64_t es[] = {1, 8, 7, 3, 9, 5, 2};
    mt_iter it;
    mt_iter_init(&it, m);
    int i = 0;
    for (mt_iter_seek_first(&it); mt_iter_valid(&it); mt_iter_next(&it), i++) {
        assert_int_equal(it.node->klen, strlen(ek[i]));
        assert_memory_equal(mt_node_key(it.node), ek[i], it.node->klen);
        assert_int_equal(it.node->seq, es[i]);
    }
    assert_int_equal(i, 7);
    i = 6;
    for (mt_iter_seek_last(&it); mt_iter_valid(&it); mt_iter_prev(&it), i--)
        assert_int_equal(it.node->seq, es[i]);
    assert_int_equal(i, -1);
    mt_iter_seek(&it, "b", 1, 6);
    assert_true(mt_iter_valid(&it));
    assert_int_equal(it.node->seq, 5);
    mt_iter_seek(&it, "aa", 2, UINT64_MAX);
    assert_int_equal(it.node->seq, 3);
    mt_iter_seek(&it, "c", 1, UINT64_MAX);
    assert_false(mt_iter_valid(&it));
    mt_iter_seek_for_prev(&it, "b", 1, 6);
    assert_int_equal(it.node->seq, 9);
    mt_iter_seek_for_prev(&it, "b", 1, 5);
    assert_int_equal(it.node->seq, 5);
    mt_iter_seek_for_prev(&it, "", 0, 2);
    assert_false(mt_iter_valid(&it));
    mt_unref(m);
}

static void test_many_random(void **state)
{
    (void)state;
    mt *m;
    assert_int_equal(mt_new(1 << 16, &m), OMEN_OK);
    const unsigned N = 20000;
    char k[16];
    uint64_t x = 88172645463325252ull;
    for (unsigned s = 1; s <= N; s++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        k_of((unsigned)(x % 5000), k);
        assert_int_equal(mt_add(m, s, MT_TYPE_PUT, k, strlen(k), &s, sizeof s), OMEN_OK);
    }
    /* iteration is sorted by (key asc, seq desc) */
    mt_iter it;
    mt_iter_init(&it, m);
    const mt_node *prev = NULL;
    unsigned n = 0;
    for (mt_iter_seek_first(&it); mt_iter_valid(&it); mt_iter_next(&it), n++) {
        if (prev)
            assert_true(ikey_cmp(mt_node_key(prev), prev->klen, prev->seq, mt_node_key(it.node),
                                 it.node->klen, it.node->seq) < 0);
        unsigned sv;
        memcpy(&sv, mt_node_val(it.node), sizeof sv);
        assert_int_equal(sv, it.node->seq);
        prev = it.node;
    }
    assert_int_equal(n, N);
    n = 0;
    for (mt_iter_seek_last(&it); mt_iter_valid(&it); mt_iter_prev(&it))
        n++;
    assert_int_equal(n, N);
    mt_unref(m);
}

/* The point-lookup filter of database-sized memtables: no present key may
 * be missed (a false negative would lose data), and it must actually filter
 * absent keys.  Gets on the 4096-block memtable (no filter) agree with it. */
static void test_filter(void **state)
{
    (void)state;
    mt *m, *plain;
    assert_int_equal(mt_new(1 << 20, &m), OMEN_OK);
    assert_int_equal(mt_new(4096, &plain), OMEN_OK);
    const unsigned N = 50000;
    char k[16];
    for (unsigned i = 0; i < N; i++) {
        k_of(2 * i, k);
        assert_int_equal(mt_add(m, i + 1, MT_TYPE_PUT, k, strlen(k), &i, sizeof i), OMEN_OK);
        assert_int_equal(mt_add(plain, i + 1, MT_TYPE_PUT, k, strlen(k), &i, sizeof i), OMEN_OK);
    }
    unsigned false_pos = 0;
    for (unsigned i = 0; i < 2 * N; i++) {
        k_of(i, k);
        uint64_t seq = 0;
        int found = mt_get(m, k, strlen(k), MT_MAX_SEQ, &seq, NULL, NULL, NULL);
        assert_int_equal(found, mt_get(plain, k, strlen(k), MT_MAX_SEQ, NULL, NULL, NULL, NULL));
        assert_int_equal(found, i % 2 == 0);
        if (found) assert_int_equal(seq, i / 2 + 1);
        assert_int_equal(mt_latest_seq(m, k, strlen(k)), found ? i / 2 + 1 : 0);
    }
    /* mt_get answers absent keys correctly either way; the filter's own
     * answer shows whether it filters at all. */
    for (unsigned i = 0; i < N; i++) {
        k_of(2 * i + 1, k);
        false_pos += (unsigned)mt_filter_may_contain(m, k, strlen(k));
    }
    assert_true(false_pos < N / 20); /* well under 1 % expected at 50k keys in 2 MiB */
    mt_unref(m);
    mt_unref(plain);
}

static void test_big_and_reserve(void **state)
{
    (void)state;
    mt *m;
    assert_int_equal(mt_new(1024, &m), OMEN_OK);
    size_t big = 1 << 20;
    char *v = malloc(big);
    memset(v, 'v', big);
    assert_int_equal(mt_add(m, 1, MT_TYPE_PUT, "big", 3, v, big), OMEN_OK);
    assert_int_equal(mt_add(m, 2, MT_TYPE_PUT, "small", 5, "s", 1), OMEN_OK);
    const void *out;
    size_t ol;
    assert_int_equal(mt_get(m, "big", 3, 10, NULL, NULL, &out, &ol), 1);
    assert_int_equal(ol, big);
    assert_memory_equal(out, v, big);
    assert_true(mt_bytes(m) >= big);
    /* after a reservation, adds succeed even when allocation fails */
    assert_int_equal(mt_reserve(m, mt_entry_cost(3, 100) * 10, 10), OMEN_OK);
    util_mem_fail_after(0);
    for (unsigned i = 0; i < 10; i++) {
        char k[4] = {'r', (char)('0' + i), 0, 0};
        assert_int_equal(mt_add(m, 10 + i, MT_TYPE_PUT, k, 2, v, 100), OMEN_OK);
    }
    assert_int_equal(mt_reserve(m, 1 << 20, 1), OMEN_NOMEM);
    util_mem_fail_after(-1);
    util_mem_failures();
    free(v);
    mt_unref(m);
}

/* ---- the tree against a sorted oracle ---- */

typedef struct okey {
    unsigned char k[48];
    size_t len;
    uint64_t seq;
} okey;

static int okey_cmp(const void *a, const void *b)
{
    const okey *x = a, *y = b;
    return ikey_cmp(x->k, x->len, x->seq, y->k, y->len, y->seq);
}

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Keys that tie on their 16-byte prefix (a shared 14-byte stem), are
 * prefixes of each other, are empty or hold zero bytes: the cases where
 * the tree's integer prefixes cannot decide and a full comparison must.
 * And keys under a 40-byte stem, cut anywhere in it or extended: nodes
 * among them skip long shared heads, and a key may end before or inside a
 * node's skip-plus-16 window. */
static void random_okey(uint64_t *x, okey *o)
{
    static const char stem[] = "user:prefix-00";
    static const char long_stem[] = "session:tenant-0042:user-000000000000000";
    uint64_t r = xs(x);
    size_t len;
    switch (r % 5) {
    case 4:
        if (xs(x) % 4 == 0) {
            len = 30 + (size_t)(xs(x) % 11);
            memcpy(o->k, long_stem, len);
        } else {
            len = 40 + (size_t)(xs(x) % 7);
            memcpy(o->k, long_stem, 40);
            for (size_t i = 40; i < len; i++)
                o->k[i] = (unsigned char)("\0ab\xff"[xs(x) % 4]);
        }
        break;
    case 0: /* stem + 0..20 random bytes from a tiny alphabet */
        len = 14 + (size_t)(xs(x) % 21);
        memcpy(o->k, stem, 14);
        for (size_t i = 14; i < len; i++)
            o->k[i] = (unsigned char)("\0ab"[xs(x) % 3]);
        break;
    case 1: /* short keys, 0..6 bytes */
        len = (size_t)(xs(x) % 7);
        for (size_t i = 0; i < len; i++)
            o->k[i] = (unsigned char)("\0az\xff"[xs(x) % 4]);
        break;
    default: /* 16-byte decimal keys, kv_bench's shape */
        len = 16;
        snprintf((char *)o->k, 17, "%016llu", (unsigned long long)(xs(x) % 3000));
        break;
    }
    o->len = len;
}

/* Index of the first oracle entry >= q (upper: > q). */
static size_t o_bound(const okey *o, size_t n, const okey *q, int upper)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = okey_cmp(&o[mid], q);
        if (c < 0 || (upper && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void assert_node_is(const mt_node *n, const okey *o)
{
    assert_non_null(n);
    assert_int_equal(n->klen, o->len);
    assert_int_equal(n->seq, o->seq);
    if (o->len) assert_memory_equal(mt_node_key(n), o->k, o->len);
}

static void check_against(mt *m, okey *o, size_t n, uint64_t *x)
{
    qsort(o, n, sizeof *o, okey_cmp);
    mt_iter it;
    mt_iter_init(&it, m);
    size_t i = 0;
    for (mt_iter_seek_first(&it); mt_iter_valid(&it); mt_iter_next(&it))
        assert_node_is(it.node, &o[i++]);
    assert_int_equal(i, n);
    for (mt_iter_seek_last(&it); mt_iter_valid(&it); mt_iter_prev(&it))
        assert_node_is(it.node, &o[--i]);
    assert_int_equal(i, 0);
    for (int probe = 0; probe < 4000; probe++) {
        okey q;
        if (probe % 2) {
            q = o[xs(x) % n]; /* present, or a neighbouring version of it */
            q.seq += xs(x) % 3;
            q.seq -= xs(x) % 3;
        } else {
            random_okey(x, &q);
            q.seq = xs(x) % (n + 2);
        }
        size_t ge = o_bound(o, n, &q, 0), gt = o_bound(o, n, &q, 1);
        mt_iter_seek(&it, q.k, q.len, q.seq);
        if (ge == n) {
            assert_false(mt_iter_valid(&it));
        } else {
            assert_node_is(it.node, &o[ge]);
            /* a step back and forth lands where it started */
            mt_iter_prev(&it);
            if (ge == 0)
                assert_false(mt_iter_valid(&it));
            else {
                assert_node_is(it.node, &o[ge - 1]);
                mt_iter_next(&it);
                assert_node_is(it.node, &o[ge]);
            }
        }
        mt_iter_seek_for_prev(&it, q.k, q.len, q.seq);
        if (gt == 0)
            assert_false(mt_iter_valid(&it));
        else
            assert_node_is(it.node, &o[gt - 1]);
        /* a get at snapshot q.seq: the newest version of q's key <= q.seq */
        uint64_t seq = 0;
        int found = mt_get(m, q.k, q.len, q.seq, &seq, NULL, NULL, NULL);
        int want = ge < n && o[ge].len == q.len && memcmp(o[ge].k, q.k, q.len) == 0;
        assert_int_equal(found, want);
        if (want) assert_int_equal(seq, o[ge].seq);
    }
}

static void test_tree_oracle(void **state)
{
    (void)state;
    uint64_t x = 0x2545F4914F6CDD1Dull;
    const size_t N = 40000; /* deep enough for two levels of inner nodes */
    okey *o = malloc(N * sizeof *o);
    /* random order, on both the filtered (big) and the small-table path */
    for (int big = 0; big < 2; big++) {
        mt *m;
        assert_int_equal(mt_new(big ? 1 << 20 : 4096, &m), OMEN_OK);
        for (size_t i = 0; i < N; i++) {
            random_okey(&x, &o[i]);
            o[i].seq = i + 1;
            assert_int_equal(mt_reserve(m, mt_entry_cost(o[i].len, 8), 1), OMEN_OK);
            assert_int_equal(mt_add(m, o[i].seq, MT_TYPE_PUT, o[i].k, o[i].len, &o[i].seq, 8), OMEN_OK);
        }
        assert_int_equal(mt_entries(m), N);
        check_against(m, o, N, &x);
        mt_unref(m);
    }
    /* ascending and descending inserts (the append path and its splits) */
    for (int dir = 0; dir < 2; dir++) {
        mt *m;
        assert_int_equal(mt_new(1 << 16, &m), OMEN_OK);
        for (size_t i = 0; i < N; i++) {
            size_t j = dir ? N - 1 - i : i;
            o[i].len = 12;
            snprintf((char *)o[i].k, 13, "a%011zu", j / 2);
            o[i].seq = 2 * N - j; /* versions of a key: newer first in key order */
            assert_int_equal(mt_add(m, o[i].seq, MT_TYPE_PUT, o[i].k, o[i].len, "", 0), OMEN_OK);
        }
        check_against(m, o, N, &x);
        mt_unref(m);
    }
    free(o);
}

static int count_op(void *ctx, uint64_t seq, int type, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    (void)seq, (void)type, (void)key, (void)klen, (void)val, (void)vlen;
    (*(int *)ctx)++;
    return 0;
}

static void test_batch_codec(void **state)
{
    (void)state;
    struct omen_batch b;
    batch_init(&b);
    assert_int_equal(batch_add(&b, MT_TYPE_PUT, "key", 3, "value", 5), OMEN_OK);
    assert_int_equal(batch_add(&b, MT_TYPE_DELETE, "gone", 4, NULL, 0), OMEN_OK);
    assert_int_equal(batch_add(&b, MT_TYPE_PUT, "", 0, "", 0), OMEN_OK);
    assert_int_equal(b.count, 3);
    batch_put_header(b.buf, 100, b.count);
    uint64_t seq;
    uint32_t count;
    int n = 0;
    assert_int_equal(batch_decode(b.buf, b.len, &seq, &count, count_op, &n), OMEN_OK);
    assert_int_equal(seq, 100);
    assert_int_equal(count, 3);
    assert_int_equal(n, 3);
    /* every truncation is rejected before any op is applied */
    for (size_t len = 0; len < b.len; len++) {
        n = 0;
        assert_int_equal(batch_decode(b.buf, len, NULL, NULL, count_op, &n), OMEN_CORRUPT);
        assert_int_equal(n, 0);
    }
    /* every single-byte corruption either decodes fully or is rejected, never overreads */
    unsigned char *copy = malloc(b.len);
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, b.buf, b.len);
            copy[i] ^= (unsigned char)(1u << bit);
            n = 0;
            int rc = batch_decode(copy, b.len, NULL, NULL, count_op, &n);
            assert_true(rc == OMEN_OK || rc == OMEN_CORRUPT);
            if (rc) assert_int_equal(n, 0);
        }
    }
    free(copy);
    /* sequence 0 and a count that overruns the payload */
    batch_put_header(b.buf, 0, 3);
    assert_int_equal(batch_decode(b.buf, b.len, NULL, NULL, NULL, NULL), OMEN_CORRUPT);
    batch_put_header(b.buf, 5, 4);
    assert_int_equal(batch_decode(b.buf, b.len, NULL, NULL, NULL, NULL), OMEN_CORRUPT);
    batch_put_header(b.buf, 5, 2);
    assert_int_equal(batch_decode(b.buf, b.len, NULL, NULL, NULL, NULL), OMEN_CORRUPT);
    /* a huge declared key length */
    unsigned char rec[32];
    batch_put_header(rec, 1, 1);
    rec[12] = MT_TYPE_PUT;
    uint8_t *p = put_varint32(rec + 13, 0xfffffff0u);
    assert_int_equal(batch_decode(rec, (size_t)(p - rec), NULL, NULL, NULL, NULL), OMEN_CORRUPT);
    assert_int_equal(batch_decode(NULL, 0, NULL, NULL, NULL, NULL), OMEN_CORRUPT);
    batch_free(&b);
}

/* ukey_cmp agrees in sign with memcmp-then-length on random strings that
 * share prefixes, contain high bytes and span the 8-byte word boundary. */
/* Fill m with n entries "<tag>NNNNNN" -> value of vlen bytes of fill. */
static void fill_tagged(mt *m, char tag, unsigned n, size_t vlen, unsigned char fill)
{
    unsigned char v[512];
    memset(v, fill, sizeof v);
    for (unsigned i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "%c%06u", tag, i * 7919 % n);
        assert_int_equal(mt_add(m, 1 + i, MT_TYPE_PUT, k, strlen(k), v, vlen), OMEN_OK);
    }
}

/* Blocks handed back by a freed memtable serve the next one, which must
 * see none of the old contents (the arena gets no zeroed memory), and a
 * pool never holds more than its cap. */
static void test_pool_reuse(void **state)
{
    (void)state;
    mt_pool *pool;
    assert_int_equal(mt_pool_new(16u << 20, &pool), OMEN_OK);
    mt *m1;
    assert_int_equal(mt_new_pooled(2u << 20, pool, &m1), OMEN_OK);
    fill_tagged(m1, 'a', 30000, 200, 0xAB); /* ~7 MiB: several blocks */
    assert_int_equal(mt_pool_bytes(pool), 0);
    mt_unref(m1);
    size_t held = mt_pool_bytes(pool);
    assert_true(held >= (6u << 20) && held <= (16u << 20));

    mt *m2;
    assert_int_equal(mt_new_pooled(2u << 20, pool, &m2), OMEN_OK);
    mt_pool_unref(pool); /* m2 keeps the pool alive */
    fill_tagged(m2, 'b', 20000, 100, 0x5C);
    assert_true(mt_pool_bytes(pool) < held); /* taken from the pool */
    mt_iter it;
    mt_iter_init(&it, m2);
    unsigned n = 0;
    char prev[16] = "";
    for (mt_iter_seek_first(&it); mt_iter_valid(&it); mt_iter_next(&it), n++) {
        const mt_node *nd = it.node;
        assert_int_equal(nd->klen, 7);
        assert_int_equal(mt_node_key(nd)[0], 'b');
        char k[16];
        memcpy(k, mt_node_key(nd), 7);
        k[7] = 0;
        assert_true(strcmp(prev, k) < 0);
        strcpy(prev, k);
        assert_int_equal(nd->vlen, 100);
        for (unsigned j = 0; j < 100; j++)
            assert_int_equal(mt_node_val(nd)[j], 0x5C);
    }
    assert_int_equal(n, 20000);
    assert_int_equal(mt_get(m2, "a000001", 7, MT_MAX_SEQ, NULL, NULL, NULL, NULL), 0);
    mt_unref(m2); /* the last reference: the pool goes with it */

    /* A small cap keeps only what fits. */
    assert_int_equal(mt_pool_new(2u << 20, &pool), OMEN_OK);
    assert_int_equal(mt_new_pooled(2u << 20, pool, &m1), OMEN_OK);
    fill_tagged(m1, 'c', 30000, 200, 0x11);
    mt_unref(m1);
    assert_true(mt_pool_bytes(pool) <= (2u << 20));
    mt_pool_unref(pool);
}

/* Big batches reserve room for the worst case of tree splits, far more than
 * they use.  That room need not be contiguous: the memtable's blocks stay
 * nearly full (the blocks it hands back are not much more than its bytes),
 * and every add after a reservation still succeeds with allocation failing. */
static void test_batch_reserve(void **state)
{
    (void)state;
    mt_pool *pool;
    assert_int_equal(mt_pool_new(1u << 30, &pool), OMEN_OK);
    mt *m;
    assert_int_equal(mt_new_pooled(2u << 20, pool, &m), OMEN_OK);
    enum { BATCH = 800, ROUNDS = 150 };
    unsigned char v[100];
    memset(v, 'v', sizeof v);
    uint64_t x = 0x9E3779B97F4A7C15ull, seq = 1;
    for (unsigned r = 0; r < ROUNDS; r++) {
        assert_int_equal(mt_reserve(m, BATCH * mt_entry_cost(17, sizeof v), BATCH), OMEN_OK);
        util_mem_fail_after(0);
        for (unsigned i = 0; i < BATCH; i++) {
            char k[18];
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            snprintf(k, sizeof k, "key:%013llu", (unsigned long long)(x % 10000000000000ull));
            assert_int_equal(mt_add(m, seq++, MT_TYPE_PUT, k, 17, v, sizeof v), OMEN_OK);
        }
        util_mem_fail_after(-1);
    }
    util_mem_failures();
    assert_int_equal(mt_entries(m), BATCH * ROUNDS);
    size_t bytes = mt_bytes(m);
    mt_unref(m);
    /* Each of the two arenas may end in a part-used block and hold one
     * spare: four blocks beyond the bytes used. */
    assert_true(mt_pool_bytes(pool) <= bytes + (8u << 20));
    mt_pool_unref(pool);
}

static void test_ukey_cmp(void **state)
{
    (void)state;
    uint64_t x = 0x2545F4914F6CDD1Dull;
    unsigned char a[40], b[40];
    for (int iter = 0; iter < 200000; iter++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t al = x % 40, bl = (x >> 8) % 40;
        size_t common = (x >> 16) % 40;
        for (size_t i = 0; i < 40; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            a[i] = (unsigned char)x;
            b[i] = i < common ? a[i] : (unsigned char)(x >> 8);
        }
        size_t n = al < bl ? al : bl;
        int ref = n ? memcmp(a, b, n) : 0;
        if (!ref) ref = al < bl ? -1 : (al > bl ? 1 : 0);
        int got = ukey_cmp(a, al, b, bl);
        assert_int_equal(ref < 0 ? -1 : (ref > 0), got < 0 ? -1 : (got > 0));
        assert_int_equal(ukey_cmp(a, al, a, al), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_get),   cmocka_unit_test(test_many_random),
        cmocka_unit_test(test_big_and_reserve), cmocka_unit_test(test_batch_codec),
        cmocka_unit_test(test_ukey_cmp),        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_pool_reuse),      cmocka_unit_test(test_batch_reserve),      cmocka_unit_test(test_tree_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
