/*
 * test_model.c -- model-based test: long random operation sequences checked
 * against an in-memory oracle (tu_map).
 *
 * Each sequence (fixed seed, so a failure reproduces) mixes single puts and
 * deletes, atomic batches, transactions, point gets, bounded scans in both
 * directions, seeks with direction changes, reads at older snapshots,
 * omen_flush, omen_compact_range over random ranges, and close/reopen.  The
 * write buffer is tiny so the background flush and compactions run all the
 * time underneath, and each sequence uses one compression variant.
 *
 * What it proves: for any interleaving of these operations, every read
 * (newest state or any live snapshot) returns exactly what the oracle
 * says, in both iteration directions and within arbitrary bounds, and the
 * state survives reopen (recovery from WAL + runs) unchanged.
 *
 * Environment: OMEN_MODEL_OPS overrides the operations per sequence.
 */
#include "testutil.h"

#define NKEYS 1500
#define MAX_SNAPS 3

/* Key number id -> key bytes.  The shapes cover the learned index's cases:
 * big-endian integers (the slot is the key), ASCII with a long shared
 * prefix, short binary strings with 0x00/0xff bytes, the empty key. */
static size_t make_key(uint32_t id, unsigned char *out)
{
    if (id == 0)
        return 0;
    switch (id % 4) {
    case 0:
        omen_key_u64((uint64_t)id * 7919u, out);
        return 8;
    case 1:
        return (size_t)sprintf((char *)out, "user:%u", id);
    case 2:
        return (size_t)sprintf((char *)out, "prefix/common/part/%08u/x", id * 13u);
    default: {
        tu_rng r = {id};
        size_t n = 1 + tu_below(&r, 20);
        for (size_t i = 0; i < n; i++) {
            uint64_t x = tu_next(&r);
            out[i] = (x & 3) == 0 ? 0x00 : (x & 3) == 1 ? 0xff : (unsigned char)(x >> 8);
        }
        return n;
    }
    }
}

static size_t make_value(tu_rng *r, unsigned char *out, size_t cap)
{
    size_t n;
    uint64_t c = tu_below(r, 100);
    if (c < 5)
        n = 0;
    else if (c < 90)
        n = 1 + tu_below(r, 120);
    else if (c < 99)
        n = 200 + tu_below(r, 2000);
    else
        n = 8000 + tu_below(r, 30000);
    if (n > cap)
        n = cap;
    if (tu_below(r, 2)) { /* compressible */
        unsigned char b = (unsigned char)tu_next(r);
        for (size_t i = 0; i < n; i++)
            out[i] = (unsigned char)(b + (i % 7));
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = (unsigned char)tu_next(r);
    }
    return n;
}

static unsigned char g_val[40000];

typedef struct snapshot_slot {
    omen_snapshot *snap;
    tu_map model;
} snapshot_slot;

typedef struct model_ctx {
    const char *path;
    omen_options opts;
    omen_db *db;
    tu_map m;
    snapshot_slot snaps[MAX_SNAPS];
    tu_rng r;
    unsigned long reopens, flushes, compactions, checks;
    unsigned long long eng_flushes, eng_compactions; /* engine stats summed over sessions */
} model_ctx;

static void random_key(model_ctx *c, unsigned char *k, size_t *kl)
{
    /* Half the time an existing key (overwrites, deletes that hit). */
    if (c->m.n && tu_below(&c->r, 2)) {
        const tu_kv *e = &c->m.a[tu_below(&c->r, c->m.n)];
        memcpy(k, e->k, e->kl);
        *kl = e->kl;
    } else {
        *kl = make_key((uint32_t)tu_below(&c->r, NKEYS), k);
    }
}

/* Compare iterator position with oracle index i (i == n: must be invalid). */
static void expect_at(omen_iter *it, const tu_map *m, size_t i, long i_valid, const char *what)
{
    char b1[128], b2[128];
    if (!i_valid) {
        if (omen_iter_valid(it)) {
            size_t kl;
            const void *k = omen_iter_key(it, &kl);
            tu_fail("%s: iterator at %s, want invalid", what, tu_fmt(k, kl, b1, sizeof b1));
        }
        TU_OK(omen_iter_status(it));
        return;
    }
    if (!omen_iter_valid(it))
        tu_fail("%s: iterator invalid (%s), want %s", what, omen_strerror(omen_iter_status(it)),
                tu_fmt(m->a[i].k, m->a[i].kl, b2, sizeof b2));
    size_t kl, vl;
    const void *k = omen_iter_key(it, &kl);
    const void *v = omen_iter_value(it, &vl);
    if (tu_keycmp(k, kl, m->a[i].k, m->a[i].kl) != 0)
        tu_fail("%s: iterator at %s, want %s", what, tu_fmt(k, kl, b1, sizeof b1),
                tu_fmt(m->a[i].k, m->a[i].kl, b2, sizeof b2));
    if (tu_keycmp(v, vl, m->a[i].v, m->a[i].vl) != 0)
        tu_fail("%s: wrong value at %s", what, tu_fmt(k, kl, b1, sizeof b1));
}

/* Random seeks (seek / seek_for_prev) within random bounds followed by a
 * random walk of next/prev that changes direction. */
static void check_seeks(model_ctx *c, const omen_snapshot *snap, const tu_map *m)
{
    unsigned char lo[64], hi[64], sk[64];
    size_t lol = 0, hil = 0, skl;
    int has_lo = (int)tu_below(&c->r, 2), has_hi = (int)tu_below(&c->r, 2);
    if (has_lo)
        lol = make_key((uint32_t)tu_below(&c->r, NKEYS), lo);
    if (has_hi)
        hil = make_key((uint32_t)tu_below(&c->r, NKEYS), hi);
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.snapshot = snap;
    if (has_lo) {
        io.lower = lo;
        io.lower_len = lol;
    }
    if (has_hi) {
        io.upper = hi;
        io.upper_len = hil;
    }
    size_t first = has_lo ? tu_map_lb(m, lo, lol) : 0;
    size_t end = has_hi ? tu_map_lb(m, hi, hil) : m->n;
    if (end < first)
        end = first;
    omen_iter *it = NULL;
    TU_OK(omen_iter_create(c->db, &io, &it));
    for (int s = 0; s < 4; s++) {
        random_key(c, sk, &skl);
        long pos; /* oracle index of the position; valid iff first <= pos < end */
        if (tu_below(&c->r, 2)) {
            omen_iter_seek(it, sk, skl);
            size_t p = tu_map_lb(m, sk, skl);
            if (p < first)
                p = first;
            pos = (long)p;
            expect_at(it, m, (size_t)pos, pos < (long)end, "seek");
        } else {
            omen_iter_seek_for_prev(it, sk, skl);
            size_t p = tu_map_lb(m, sk, skl);
            /* last key <= sk */
            long q = (p < m->n && tu_keycmp(m->a[p].k, m->a[p].kl, sk, skl) == 0) ? (long)p
                                                                                   : (long)p - 1;
            if (q >= (long)end)
                q = (long)end - 1;
            pos = q;
            expect_at(it, m, pos < 0 ? 0 : (size_t)pos, pos >= (long)first, "seek_for_prev");
        }
        if (pos < (long)first || pos >= (long)end)
            continue;
        for (int step = 0; step < 12 && pos >= (long)first && pos < (long)end; step++) {
            if (tu_below(&c->r, 2)) {
                omen_iter_next(it);
                pos++;
                expect_at(it, m, (size_t)pos, pos < (long)end, "next");
            } else {
                omen_iter_prev(it);
                pos--;
                expect_at(it, m, pos < 0 ? 0 : (size_t)pos, pos >= (long)first, "prev");
            }
        }
    }
    omen_iter_destroy(it);
}

static void check_random_scan(model_ctx *c, const omen_snapshot *snap, const tu_map *m)
{
    unsigned char lo[64], hi[64];
    size_t lol = make_key((uint32_t)tu_below(&c->r, NKEYS), lo);
    size_t hil = make_key((uint32_t)tu_below(&c->r, NKEYS), hi);
    switch (tu_below(&c->r, 4)) {
    case 0:
        tu_check_scan(c->db, snap, m, lo, lol, hi, hil);
        break;
    case 1:
        tu_check_scan(c->db, snap, m, lo, lol, NULL, 0);
        break;
    case 2:
        tu_check_scan(c->db, snap, m, NULL, 0, hi, hil);
        break;
    default:
        tu_check_scan(c->db, snap, m, NULL, 0, NULL, 0);
    }
}

static void full_check(model_ctx *c)
{
    tu_check_gets(c->db, NULL, &c->m);
    tu_check_scan(c->db, NULL, &c->m, NULL, 0, NULL, 0);
    for (int i = 0; i < 3; i++)
        check_random_scan(c, NULL, &c->m);
    check_seeks(c, NULL, &c->m);
    for (int s = 0; s < MAX_SNAPS; s++)
        if (c->snaps[s].snap) {
            tu_check_gets(c->db, c->snaps[s].snap, &c->snaps[s].model);
            tu_check_scan(c->db, c->snaps[s].snap, &c->snaps[s].model, NULL, 0, NULL, 0);
        }
    c->checks++;
}

static void release_snaps(model_ctx *c)
{
    for (int s = 0; s < MAX_SNAPS; s++)
        if (c->snaps[s].snap) {
            omen_snapshot_release(c->db, c->snaps[s].snap);
            c->snaps[s].snap = NULL;
            tu_map_clear(&c->snaps[s].model);
        }
}

static void op_batch(model_ctx *c)
{
    omen_batch *b = NULL;
    TU_OK(omen_batch_create(&b));
    /* Apply to a copy: the oracle changes only if the write succeeds. */
    tu_map next;
    tu_map_copy(&next, &c->m);
    size_t n = 1 + tu_below(&c->r, 20);
    unsigned char k[64];
    size_t kl;
    for (size_t i = 0; i < n; i++) {
        random_key(c, k, &kl);
        if (tu_below(&c->r, 4) == 0) {
            TU_OK(omen_batch_delete(b, k, kl));
            tu_map_del(&next, k, kl);
        } else {
            size_t vl = make_value(&c->r, g_val, 3000);
            TU_OK(omen_batch_put(b, k, kl, g_val, vl));
            tu_map_put(&next, k, kl, g_val, vl);
        }
    }
    assert_int_equal(omen_batch_count(b), n);
    TU_OK(omen_write(c->db, b, OMEN_SYNC_DEFAULT));
    omen_batch_destroy(b);
    tu_map_clear(&c->m);
    c->m = next;
}

static void op_txn(model_ctx *c)
{
    omen_txn *t = NULL;
    TU_OK(omen_txn_begin(c->db, &t));
    tu_map next;
    tu_map_copy(&next, &c->m);
    size_t n = 1 + tu_below(&c->r, 10);
    unsigned char k[64];
    size_t kl;
    char b1[128];
    for (size_t i = 0; i < n; i++) {
        random_key(c, k, &kl);
        uint64_t what = tu_below(&c->r, 3);
        if (what == 0) {
            /* Reads see the transaction's own writes first. */
            void *v = NULL;
            size_t vl = 0;
            int rc = omen_txn_get(t, k, kl, &v, &vl);
            const tu_kv *e = tu_map_get(&next, k, kl);
            if (e) {
                if (rc != OMEN_OK || tu_keycmp(v, vl, e->v, e->vl) != 0)
                    tu_fail("txn_get %s: %s or wrong value", tu_fmt(k, kl, b1, sizeof b1),
                            omen_strerror(rc));
            } else if (rc != OMEN_NOTFOUND) {
                tu_fail("txn_get of absent %s: %s", tu_fmt(k, kl, b1, sizeof b1),
                        omen_strerror(rc));
            }
            omen_free(v);
        } else if (what == 1) {
            TU_OK(omen_txn_delete(t, k, kl));
            tu_map_del(&next, k, kl);
        } else {
            size_t vl = make_value(&c->r, g_val, 3000);
            TU_OK(omen_txn_put(t, k, kl, g_val, vl));
            tu_map_put(&next, k, kl, g_val, vl);
        }
    }
    if (tu_below(&c->r, 4) == 0) {
        /* The transaction's iterator merges its writes over its snapshot. */
        omen_iter *it = NULL;
        TU_OK(omen_txn_iter_create(t, NULL, &it));
        size_t i = 0;
        for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it), i++)
            expect_at(it, &next, i, i < next.n, "txn iter");
        TU_OK(omen_iter_status(it));
        assert_int_equal(i, next.n);
        omen_iter_destroy(it);
    }
    if (tu_below(&c->r, 8) == 0) {
        omen_txn_rollback(t);
        tu_map_clear(&next);
        return;
    }
    TU_OK(omen_txn_commit(t, OMEN_SYNC_DEFAULT)); /* single writer: no conflict possible */
    tu_map_clear(&c->m);
    c->m = next;
}

static void add_engine_stats(model_ctx *c)
{
    omen_stats st;
    TU_OK(omen_get_stats(c->db, &st));
    assert_int_equal(st.read_only, 0);
    c->eng_flushes += st.flushes;
    c->eng_compactions += st.compactions;
}

static void reopen(model_ctx *c)
{
    add_engine_stats(c);
    release_snaps(c);
    TU_OK(omen_close(c->db));
    c->db = NULL;
    TU_OK(omen_open(c->path, &c->opts, &c->db));
    c->reopens++;
}

static void run_sequence(uint64_t seed, int compression, long nops)
{
    model_ctx c;
    memset(&c, 0, sizeof c);
    char path[PATH_MAX];
    char name[64];
    snprintf(name, sizeof name, "model-%llu-%d", (unsigned long long)seed, compression);
    tu_path(path, sizeof path, name);
    c.path = path;
    c.r.s = seed;
    omen_options_init(&c.opts);
    c.opts.write_buffer_size = 16 * 1024;
    c.opts.compression = compression;
    c.opts.cache_size = 256 * 1024;
    if (seed % 2)
        c.opts.bloom_bits_per_key = 0;
    TU_OK(omen_open(path, &c.opts, &c.db));

    unsigned char k[64];
    size_t kl;
    char b1[128];
    for (long op = 0; op < nops; op++) {
        uint64_t x = tu_below(&c.r, 1000);
        if (x < 450) {
            random_key(&c, k, &kl);
            size_t vl = make_value(&c.r, g_val, sizeof g_val);
            TU_OK(omen_put(c.db, k, kl, g_val, vl, OMEN_SYNC_DEFAULT));
            tu_map_put(&c.m, k, kl, g_val, vl);
        } else if (x < 600) {
            random_key(&c, k, &kl);
            TU_OK(omen_delete(c.db, k, kl, OMEN_SYNC_DEFAULT));
            tu_map_del(&c.m, k, kl);
        } else if (x < 660) {
            op_batch(&c);
        } else if (x < 700) {
            op_txn(&c);
        } else if (x < 850) {
            random_key(&c, k, &kl);
            void *v = (void *)1;
            size_t vl = 0;
            int rc = omen_get(c.db, NULL, k, kl, &v, &vl);
            const tu_kv *e = tu_map_get(&c.m, k, kl);
            if (e ? (rc != OMEN_OK || tu_keycmp(v, vl, e->v, e->vl) != 0) : rc != OMEN_NOTFOUND)
                tu_fail("seed %llu op %ld: get %s -> %s, oracle %s", (unsigned long long)seed, op,
                        tu_fmt(k, kl, b1, sizeof b1), omen_strerror(rc),
                        e ? "present" : "absent");
            if (rc == OMEN_OK)
                assert_non_null(v);
            omen_free(v);
        } else if (x < 880) {
            check_random_scan(&c, NULL, &c.m);
        } else if (x < 900) {
            check_seeks(&c, NULL, &c.m);
        } else if (x < 930) {
            /* Take a snapshot (replacing a random slot) or check one. */
            snapshot_slot *s = &c.snaps[tu_below(&c.r, MAX_SNAPS)];
            if (s->snap && tu_below(&c.r, 2)) {
                for (int i = 0; i < 20 && s->model.n; i++) {
                    const tu_kv *e = &s->model.a[tu_below(&c.r, s->model.n)];
                    void *v = NULL;
                    size_t vl = 0;
                    TU_OK(omen_get(c.db, s->snap, e->k, e->kl, &v, &vl));
                    if (tu_keycmp(v, vl, e->v, e->vl) != 0)
                        tu_fail("seed %llu op %ld: snapshot get %s: wrong value",
                                (unsigned long long)seed, op, tu_fmt(e->k, e->kl, b1, sizeof b1));
                    omen_free(v);
                }
                check_random_scan(&c, s->snap, &s->model);
                check_seeks(&c, s->snap, &s->model);
            } else {
                if (s->snap) {
                    omen_snapshot_release(c.db, s->snap);
                    tu_map_clear(&s->model);
                }
                TU_OK(omen_snapshot_create(c.db, &s->snap));
                tu_map_copy(&s->model, &c.m);
            }
        } else if (x < 945) {
            TU_OK(omen_flush(c.db));
            c.flushes++;
        } else if (x < 955) {
            unsigned char lo[64], hi[64];
            size_t lol = make_key((uint32_t)tu_below(&c.r, NKEYS), lo);
            size_t hil = make_key((uint32_t)tu_below(&c.r, NKEYS), hi);
            if (tu_keycmp(lo, lol, hi, hil) > 0) {
                unsigned char t[64];
                size_t tl = lol;
                memcpy(t, lo, lol);
                memcpy(lo, hi, hil);
                lol = hil;
                memcpy(hi, t, tl);
                hil = tl;
            }
            if (tu_below(&c.r, 3) == 0)
                TU_OK(omen_compact_range(c.db, NULL, 0, NULL, 0));
            else
                TU_OK(omen_compact_range(c.db, lo, lol, hi, hil));
            c.compactions++;
        } else if (x < 960) {
            reopen(&c);
        } else if (x < 962) {
            full_check(&c);
        } else {
            /* Overwrite-heavy burst on few keys: many versions per key for
             * compaction to drop. */
            uint32_t base = (uint32_t)tu_below(&c.r, NKEYS - 8);
            for (int i = 0; i < 30; i++) {
                kl = make_key(base + (uint32_t)tu_below(&c.r, 8), k);
                if (tu_below(&c.r, 5) == 0) {
                    TU_OK(omen_delete(c.db, k, kl, OMEN_SYNC_DEFAULT));
                    tu_map_del(&c.m, k, kl);
                } else {
                    size_t vl = make_value(&c.r, g_val, 64);
                    TU_OK(omen_put(c.db, k, kl, g_val, vl, OMEN_SYNC_DEFAULT));
                    tu_map_put(&c.m, k, kl, g_val, vl);
                }
            }
        }
    }
    full_check(&c);
    reopen(&c);
    full_check(&c);
    add_engine_stats(&c);
    printf("model seed %llu compression %d: %ld ops, %zu keys live, %lu reopens, %lu flushes, "
           "%lu compactions, %lu full checks; engine: %llu flushes, %llu compactions\n",
           (unsigned long long)seed, compression, nops, c.m.n, c.reopens, c.flushes,
           c.compactions, c.checks, c.eng_flushes, c.eng_compactions);
    TU_OK(omen_close(c.db));
    tu_map_clear(&c.m);
    TU_OK(tu_check_db(path, 1));
    tu_rmrf(path);
}

static long nops(void)
{
    return (long)tu_env_u64("OMEN_MODEL_OPS", 1500);
}

static void test_model_none(void **state)
{
    (void)state;
    run_sequence(1, OMEN_COMPRESS_NONE, nops());
    run_sequence(4, OMEN_COMPRESS_NONE, nops());
}

static void test_model_lz4(void **state)
{
    (void)state;
    run_sequence(2, OMEN_COMPRESS_LZ4, nops());
}

static void test_model_zstd(void **state)
{
    (void)state;
    run_sequence(3, OMEN_COMPRESS_ZSTD, nops());
}

/* Deterministic edge cases the random walk reaches only rarely. */
static void test_model_edges(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "model-edges");
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 4096;
    omen_db *db = NULL;
    TU_OK(omen_open(path, &o, &db));
    tu_map m = {0};
    /* Empty key and empty value. */
    TU_OK(omen_put(db, "", 0, "", 0, OMEN_SYNC_DEFAULT));
    tu_map_put(&m, "", 0, "", 0);
    /* Keys that are prefixes of each other and differ only in trailing 0x00. */
    const char *ks[] = {"a", "a\0", "a\0\0", "ab", "b", "\xff", "\xff\xff"};
    const size_t kls[] = {1, 2, 3, 2, 1, 1, 2};
    for (int i = 0; i < 7; i++) {
        TU_OK(omen_put(db, ks[i], kls[i], ks[i], kls[i], OMEN_SYNC_DEFAULT));
        tu_map_put(&m, ks[i], kls[i], ks[i], kls[i]);
    }
    /* A maximum-size key. */
    unsigned char *big = malloc(OMEN_MAX_KEY_LEN);
    memset(big, 'z', OMEN_MAX_KEY_LEN);
    TU_OK(omen_put(db, big, OMEN_MAX_KEY_LEN, "big", 3, OMEN_SYNC_DEFAULT));
    tu_map_put(&m, big, OMEN_MAX_KEY_LEN, "big", 3);
    /* Delete then re-put in the same batch; put then delete in another. */
    omen_batch *b = NULL;
    TU_OK(omen_batch_create(&b));
    TU_OK(omen_batch_delete(b, "ab", 2));
    TU_OK(omen_batch_put(b, "ab", 2, "again", 5));
    TU_OK(omen_batch_put(b, "b", 1, "gone", 4));
    TU_OK(omen_batch_delete(b, "b", 1));
    TU_OK(omen_write(db, b, OMEN_SYNC_DEFAULT));
    tu_map_put(&m, "ab", 2, "again", 5);
    tu_map_del(&m, "b", 1);
    /* The batch is unchanged by omen_write and can be reused after clear. */
    assert_int_equal(omen_batch_count(b), 4);
    omen_batch_clear(b);
    assert_int_equal(omen_batch_count(b), 0);
    TU_OK(omen_write(db, b, OMEN_SYNC_DEFAULT)); /* empty batch */
    omen_batch_destroy(b);
    tu_check_gets(db, NULL, &m);
    tu_check_scan(db, NULL, &m, NULL, 0, NULL, 0);
    tu_check_scan(db, NULL, &m, "a", 1, "a\0\0", 3);
    tu_check_scan(db, NULL, &m, "", 0, "", 0);    /* empty range */
    tu_check_scan(db, NULL, &m, "b", 1, "a", 1);  /* inverted range: empty */
    TU_OK(omen_flush(db));
    tu_check_gets(db, NULL, &m);
    tu_check_scan(db, NULL, &m, "a\0", 2, NULL, 0);
    /* Many versions of one key across flushes, then a deletion. */
    for (int i = 0; i < 200; i++) {
        char v[32];
        int n = sprintf(v, "v%d", i);
        TU_OK(omen_put(db, "hot", 3, v, (size_t)n, OMEN_SYNC_DEFAULT));
        if (i % 50 == 0)
            TU_OK(omen_flush(db));
    }
    tu_map_put(&m, "hot", 3, "v199", 4);
    tu_check_gets(db, NULL, &m);
    TU_OK(omen_compact_range(db, NULL, 0, NULL, 0));
    TU_OK(omen_delete(db, "hot", 3, OMEN_SYNC_DEFAULT));
    tu_map_del(&m, "hot", 3);
    TU_OK(omen_compact_range(db, NULL, 0, NULL, 0));
    tu_check_gets(db, NULL, &m);
    tu_check_scan(db, NULL, &m, NULL, 0, NULL, 0);
    TU_OK(omen_close(db));
    TU_OK(omen_open(path, &o, &db));
    tu_check_gets(db, NULL, &m);
    tu_check_scan(db, NULL, &m, NULL, 0, NULL, 0);
    TU_OK(omen_close(db));
    TU_OK(tu_check_db(path, 1));
    tu_map_clear(&m);
    free(big);
    tu_rmrf(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_edges),
        cmocka_unit_test(test_model_none),
        cmocka_unit_test(test_model_lz4),
        cmocka_unit_test(test_model_zstd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
