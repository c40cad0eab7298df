/*
 * test_vrerank.c -- re-ranking reads a candidate's float32 vector where it
 * last found it (the node's location hint) instead of looking it up: the
 * scores stay the exact distances to the vectors as they are now, through
 * searches that fill the hints, searches that use them, attribute-only
 * updates, vector updates (a new node), deletes, and compactions that
 * retire the files the hints name (then the lookup runs again and the hint
 * moves).  Compressed runs give no hints and still re-rank.
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

#include "testutil.h"
#include "vec_util.h"
#include "db/db.h"
#include "db/version.h"
#include "vector/hnsw.h"
#include "vector/vset.h"

enum { DIM = 32, N = 600, K = 10 };

static char dir[600];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(dir, sizeof dir, "vrerank");
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(dir);
    return 0;
}

static omen_db *open_db(int compression)
{
    omen_options o;
    omen_options_init(&o);
    o.compression = compression;
    omen_db *db = NULL;
    TU_OK(omen_open(dir, &o, &db));
    return db;
}

static void put(omen_vset *vs, size_t i, const float *v)
{
    char id[16];
    int l = snprintf(id, sizeof id, "e%zu", i);
    TU_OK(omen_vset_add(vs, id, (size_t)l, v, DIM, NULL, 0, OMEN_SYNC_RELAXED));
}

static size_t id_of(const omen_vset_hit *h)
{
    char b[16];
    memcpy(b, h->id, h->id_len);
    b[h->id_len] = 0;
    return (size_t)strtoul(b + 1, NULL, 10);
}

/* Every hit's score must be the exact cosine distance to the element's
 * current vector (cur), never to a deleted element (gone).  Returns how
 * many of the ef candidates' nodes hold a location hint afterwards. */
static void check_search(omen_vset *vs, const float *cur, const unsigned char *gone, uint64_t seed)
{
    uint64_t s = seed;
    omen_vset_query q;
    memset(&q, 0, sizeof q);
    q.k = K;
    q.ef = 64;
    for (int qi = 0; qi < 30; qi++) {
        float v[DIM];
        for (int j = 0; j < DIM; j++) v[j] = vu_gauss(&s);
        omen_vset_result *r = NULL;
        TU_OK(omen_vset_search(vs, v, DIM, &q, &r));
        assert_int_equal(r->n, K);
        for (size_t h = 0; h < r->n; h++) {
            size_t e = id_of(&r->hits[h]);
            assert_true(e < N && !gone[e]);
            double want = vu_dist(OMEN_METRIC_COSINE, v, cur + e * DIM, DIM);
            assert_true(fabs(r->hits[h].score - want) < 1e-5);
        }
        omen_free(r);
    }
}

/* The invariant behind the hints: every live node's hint that resolves in
 * the current version names an element value holding exactly the node's
 * element's stored vector.  Returns how many resolve. */
static size_t hints(omen_db *db, omen_vset *vs)
{
    size_t n = 0;
    uint64_t seq;
    int slot;
    db_sv *sv = db_sv_pin(db, &seq, &slot);
    uint32_t hwm = atomic_load(&vs->g->hwm);
    for (uint32_t s = 0; s < hwm; s++) {
        if (atomic_load(&hn_node(vs->g, s)->state) != HN_LIVE) continue;
        const unsigned char *p = db_sv_value_at(sv, atomic_load(hn_loc(vs->g, s)), 1 + DIM * 4);
        if (!p) continue;
        const vrec *r = atomic_load(&hn_node(vs->g, s)->rec);
        float want[DIM];
        TU_OK(omen_vset_get(vs, r->data, r->id_len, want, DIM));
        assert_int_equal(p[0], 1);
        assert_memory_equal(p + 1, want, sizeof want);
        n++;
    }
    db_sv_unpin(db, sv, slot);
    return n;
}

static void run_case(int compression)
{
    omen_db *db = open_db(compression);
    omen_vset *vs = NULL;
    TU_OK(vu_mkset(db, "v", DIM, OMEN_METRIC_COSINE, OMEN_PREC_INT8, &vs));
    float *cur = vu_data(N, DIM, 1, 11);
    unsigned char gone[N] = {0};
    for (size_t i = 0; i < N; i++) put(vs, i, cur + i * DIM);

    /* in the memtable: no hints, exact scores */
    check_search(vs, cur, gone, 1);
    assert_int_equal(hints(db, vs), 0);

    /* in a sorted run: the first searches leave hints, the next use them */
    TU_OK(omen_compact_range(db, NULL, 0, NULL, 0));
    check_search(vs, cur, gone, 1);
    size_t h1 = hints(db, vs);
    if (compression != OMEN_COMPRESS_NONE) {
        assert_int_equal(h1, 0); /* no place to remember in compressed blocks */
    } else {
        assert_true(h1 >= K);
    }
    check_search(vs, cur, gone, 1);
    check_search(vs, cur, gone, 2);

    /* attribute-only updates keep the node and its (still right) hint */
    for (size_t i = 0; i < N; i += 3) {
        char id[16];
        int l = snprintf(id, sizeof id, "e%zu", i);
        TU_OK(omen_vset_set_attrs(vs, id, (size_t)l, "{\"a\":1}", 7, OMEN_SYNC_RELAXED));
    }
    check_search(vs, cur, gone, 1);

    /* new vectors are new nodes: the old hints must not serve them */
    uint64_t s = 99;
    for (size_t i = 0; i < N; i += 4) {
        for (int j = 0; j < DIM; j++) cur[i * DIM + j] = vu_gauss(&s);
        put(vs, i, cur + i * DIM);
    }
    for (size_t i = 1; i < N; i += 5) {
        char id[16];
        int l = snprintf(id, sizeof id, "e%zu", i);
        if (gone[i]) continue;
        TU_OK(omen_vset_delete(vs, id, (size_t)l, OMEN_SYNC_RELAXED));
        gone[i] = 1;
    }
    check_search(vs, cur, gone, 1);
    check_search(vs, cur, gone, 3);
    hints(db, vs);

    /* a compaction retires the files the hints name: lookups again, and
     * the hints move to the new file */
    check_search(vs, cur, gone, 4);
    TU_OK(omen_compact_range(db, NULL, 0, NULL, 0));
    assert_int_equal(hints(db, vs), 0); /* every hint named a retired file */
    check_search(vs, cur, gone, 4);
    check_search(vs, cur, gone, 5);
    size_t h2 = hints(db, vs);
    if (compression == OMEN_COMPRESS_NONE) assert_true(h2 >= K);
    else assert_int_equal(h2, 0);
    /* search by every element itself: its own vector, exact distance 0 */
    omen_vset_query q;
    memset(&q, 0, sizeof q);
    q.k = 1;
    q.ef = 32;
    for (size_t i = 0; i < N; i += 7) {
        if (gone[i]) continue;
        omen_vset_result *r = NULL;
        TU_OK(omen_vset_search(vs, cur + i * DIM, DIM, &q, &r));
        assert_int_equal(r->n, 1);
        assert_true(fabs(r->hits[0].score) < 1e-5);
        omen_free(r);
    }
    TU_OK(omen_vset_close(vs));
    TU_OK(omen_close(db));
    free(cur);
}

static void test_hints_raw(void **state)
{
    (void)state;
    run_case(OMEN_COMPRESS_NONE);
}

static void test_hints_compressed(void **state)
{
    (void)state;
    run_case(OMEN_COMPRESS_LZ4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hints_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hints_compressed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
