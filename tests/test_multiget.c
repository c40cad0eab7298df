/*
 * test_multiget.c -- omen_get_many against an oracle map: keys spread over
 * the memtable, the immutable memtable and sorted runs of several levels,
 * deletes (tombstones hiding older run versions), absent and duplicate
 * keys, keys sharing long prefixes (slot ties settled by full keys), the
 * empty key, snapshots taken along the way, and every bad-input case.
 */
#include "testutil.h"

static char dir[600];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(dir, sizeof dir, "mget");
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(dir);
    return 0;
}

static omen_db *open_db(size_t wbs)
{
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = wbs;
    o.cache_size = 1 << 20;
    omen_db *db = NULL;
    TU_OK(omen_open(dir, &o, &db));
    return db;
}

/* Key i of a space whose keys share prefixes: some short, some longer than
 * the run prefix + 16 bytes, so full-key comparisons are exercised. */
static size_t make_key(uint64_t i, unsigned char *k)
{
    switch (i % 4) {
    case 0: return (size_t)snprintf((char *)k, 64, "k%06llu", (unsigned long long)i);
    case 1: return (size_t)snprintf((char *)k, 64, "k%06llu-a-rather-long-suffix-%llu", (unsigned long long)i / 7,
                                     (unsigned long long)i);
    case 2: {
        unsigned char b[8];
        omen_key_u64(i * 0x9e3779b97f4a7c15ull, b);
        memcpy(k, b, 8);
        return 8;
    }
    default: return (size_t)snprintf((char *)k, 64, "shared-prefix-%llu", (unsigned long long)(i % 97));
    }
}

/* omen_get_many over the oracle's keys, absent neighbours, duplicates,
 * every key ever written (so deleted ones too) and the empty key, in shuffled order; every answer must match the oracle and
 * a single omen_get. */
static void check_many(omen_db *db, const omen_snapshot *snap, const tu_map *m, tu_rng *rng)
{
    size_t cap = m->n * 2 + 1500 + 8, n = 0;
    unsigned char **ks = calloc(cap, sizeof *ks);
    size_t *kl = calloc(cap, sizeof *kl);
    for (size_t i = 0; i < m->n; i++) {
        ks[n] = tu_dup(m->a[i].k, m->a[i].kl);
        kl[n++] = m->a[i].kl;
        if (tu_below(rng, 3) == 0) { /* an absent neighbour */
            ks[n] = malloc(m->a[i].kl + 1);
            memcpy(ks[n], m->a[i].k, m->a[i].kl);
            ks[n][m->a[i].kl] = 0;
            kl[n] = m->a[i].kl + 1;
            n++;
        } else if (tu_below(rng, 4) == 0) { /* a duplicate */
            ks[n] = tu_dup(m->a[i].k, m->a[i].kl);
            kl[n++] = m->a[i].kl;
        }
    }
    for (uint64_t i = 0; i < 1500; i++) { /* the whole key space: deleted keys too */
        unsigned char k[64];
        size_t l = make_key(i, k);
        ks[n] = tu_dup(k, l);
        kl[n++] = l;
    }
    ks[n] = NULL; /* the empty key, given as NULL with length 0 */
    kl[n++] = 0;
    for (size_t i = n; i > 1; i--) {
        size_t j = tu_below(rng, i);
        unsigned char *t = ks[i - 1];
        ks[i - 1] = ks[j];
        ks[j] = t;
        size_t tl = kl[i - 1];
        kl[i - 1] = kl[j];
        kl[j] = tl;
    }
    void **vals = calloc(n, sizeof *vals);
    size_t *vl = calloc(n, sizeof *vl);
    TU_OK(omen_get_many(db, snap, n, (const void *const *)ks, kl, vals, vl));
    char b[128];
    for (size_t i = 0; i < n; i++) {
        const tu_kv *want = tu_map_get(m, ks[i] ? ks[i] : (const unsigned char *)"", kl[i]);
        if (!want) {
            if (vals[i] || vl[i])
                tu_fail("get_many %s: found, the oracle has no such key", tu_fmt(ks[i], kl[i], b, sizeof b));
        } else if (!vals[i] || vl[i] != want->vl || (vl[i] && memcmp(vals[i], want->v, vl[i]) != 0)) {
            tu_fail("get_many %s: %s (len %zu, want %zu)", tu_fmt(ks[i], kl[i], b, sizeof b),
                    vals[i] ? "wrong value" : "missing", vl[i], want->vl);
        }
        void *v = NULL;
        size_t l = 0;
        int rc = omen_get(db, snap, ks[i], kl[i], &v, &l);
        assert_int_equal(rc, want ? OMEN_OK : OMEN_NOTFOUND);
        assert_int_equal(l, vl[i]);
        omen_free(v);
        omen_free(vals[i]);
        free(ks[i]);
    }
    free(ks);
    free(kl);
    free(vals);
    free(vl);
}

static void test_oracle(void **state)
{
    (void)state;
    omen_db *db = open_db(32 << 10); /* small memtable: many runs */
    tu_rng rng = {12345};
    tu_map cur = {0};
    enum { NSNAP = 4 };
    omen_snapshot *snaps[NSNAP] = {0};
    tu_map at[NSNAP];
    memset(at, 0, sizeof at);
    unsigned char k[64], v[300];
    for (int round = 0; round < 12; round++) {
        for (int op = 0; op < 700; op++) {
            size_t kl = make_key(tu_below(&rng, 1500), k);
            if (tu_below(&rng, 5) == 0) {
                TU_OK(omen_delete(db, k, kl, OMEN_SYNC_DEFAULT));
                tu_map_del(&cur, k, kl);
            } else {
                size_t vl = tu_below(&rng, 4) == 0 ? 0 : 1 + tu_below(&rng, sizeof v - 1);
                for (size_t j = 0; j < vl; j++) v[j] = (unsigned char)tu_next(&rng);
                TU_OK(omen_put(db, k, kl, v, vl, OMEN_SYNC_DEFAULT));
                tu_map_put(&cur, k, kl, v, vl);
            }
        }
        if (round == 3) {
            TU_OK(omen_put(db, "", 0, "empty", 5, OMEN_SYNC_DEFAULT));
            tu_map_put(&cur, "", 0, "empty", 5);
        }
        if (round == 6) TU_OK(omen_compact_range(db, NULL, 0, NULL, 0));
        if (round % 3 == 1) { /* a snapshot to check at the end */
            int s = round / 3;
            TU_OK(omen_snapshot_create(db, &snaps[s]));
            tu_map_copy(&at[s], &cur);
        }
        if (round == 9) TU_OK(omen_flush(db));
        check_many(db, NULL, &cur, &rng);
    }
    omen_stats st;
    TU_OK(omen_get_stats(db, &st));
    uint64_t runs = 0;
    for (int l = 0; l < OMEN_MAX_LEVELS; l++) runs += st.runs_per_level[l];
    assert_true(runs >= 2);              /* the reads really crossed runs */
    assert_true(st.runs_per_level[0] < runs); /* and more than one level */
    for (int s = 0; s < NSNAP; s++) {
        check_many(db, snaps[s], &at[s], &rng);
        omen_snapshot_release(db, snaps[s]);
        tu_map_clear(&at[s]);
    }
    /* After a reopen everything comes from runs and the replayed log. */
    TU_OK(omen_close(db));
    db = open_db(32 << 10);
    check_many(db, NULL, &cur, &rng);
    TU_OK(omen_close(db));
    tu_map_clear(&cur);
}

static void test_bad_input(void **state)
{
    (void)state;
    omen_db *db = open_db(1 << 20);
    TU_OK(omen_put(db, "a", 1, "1", 1, OMEN_SYNC_DEFAULT));
    const void *keys[3] = {"a", NULL, "b"};
    size_t kl[3] = {1, 4, 1};
    void *vals[3] = {(void *)1, (void *)1, (void *)1};
    size_t vl[3] = {9, 9, 9};
    assert_int_equal(omen_get_many(db, NULL, 3, keys, kl, vals, vl), OMEN_INVALID);
    for (int i = 0; i < 3; i++) {
        assert_null(vals[i]);
        assert_int_equal(vl[i], 0);
    }
    assert_int_equal(omen_get_many(db, NULL, 3, NULL, kl, vals, vl), OMEN_INVALID);
    assert_int_equal(omen_get_many(db, NULL, 3, keys, kl, NULL, vl), OMEN_INVALID);
    assert_int_equal(omen_get_many(NULL, NULL, 1, keys, kl, vals, vl), OMEN_INVALID);
    assert_int_equal(omen_get_many(db, NULL, 0, NULL, NULL, NULL, NULL), OMEN_OK);
    static char big[OMEN_MAX_KEY_LEN + 1];
    keys[1] = big;
    kl[1] = sizeof big;
    assert_int_equal(omen_get_many(db, NULL, 3, keys, kl, vals, vl), OMEN_TOOBIG);
    assert_null(vals[0]);
    kl[1] = 0; /* the empty key, absent */
    TU_OK(omen_get_many(db, NULL, 3, keys, kl, vals, vl));
    assert_non_null(vals[0]);
    assert_int_equal(vl[0], 1);
    assert_memory_equal(vals[0], "1", 1);
    assert_null(vals[1]);
    assert_null(vals[2]);
    omen_free(vals[0]);
    /* a snapshot of another handle */
    char other[700];
    snprintf(other, sizeof other, "%s-other", dir);
    omen_db *db2 = NULL;
    TU_OK(omen_open(other, NULL, &db2));
    omen_snapshot *s2;
    TU_OK(omen_snapshot_create(db2, &s2));
    assert_int_equal(omen_get_many(db, s2, 3, keys, kl, vals, vl), OMEN_INVALID);
    omen_snapshot_release(db2, s2);
    TU_OK(omen_close(db2));
    TU_OK(omen_destroy(other));
    TU_OK(omen_close(db));
    assert_int_equal(omen_get_many(db, NULL, 3, keys, kl, vals, vl), OMEN_CLOSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oracle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
