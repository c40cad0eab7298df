/*
 * test_vec.c -- vector sets end to end: bad input changes nothing, recall
 * against an independent brute-force oracle (clustered and uniform data,
 * several dimensions, every metric and precision), updates and deletes,
 * delete-half-insert-new recall, filters against a C oracle, attributes,
 * random members, batch search, batches and transactions mixing key-value
 * and vector writes, reserved keys, reopen from the graph file, a corrupt
 * graph file (rebuilt), the log tail after a crash, and the distance
 * kernels of every variant against scalar.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "omendb.h"
#include "util/crc32c.h"
#include "vec_util.h"
#include "vector/vdist.h"
#include "vector/vfilter.h"

static char dir[700];
static char root[500];

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/vec.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(root)) return -1;
    static int n;
    snprintf(dir, sizeof dir, "%s/db%d", root, n++);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd);
}

static omen_db *open_db(void)
{
    omen_options o;
    omen_options_init(&o);
    o.cache_size = 8 << 20;
    omen_db *db = NULL;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_OK);
    return db;
}

static omen_vset *mkset(omen_db *db, const char *name, uint32_t dim, int metric, int prec)
{
    omen_vset *vs = NULL;
    assert_int_equal(vu_mkset(db, name, dim, metric, prec, &vs), OMEN_OK);
    return vs;
}

static void add_all(omen_vset *vs, const float *data, size_t from, size_t to, uint32_t dim)
{
    size_t n = to - from;
    char (*idb)[32] = malloc(n * 32);
    const void **ids = malloc(n * sizeof *ids);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        lens[i] = vu_id(idb[i], from + i);
        ids[i] = idb[i];
    }
    assert_int_equal(omen_vset_add_many(vs, n, ids, lens, data + from * dim, dim, NULL, NULL, OMEN_SYNC_RELAXED),
                     OMEN_OK);
    free(idb);
    free(ids);
    free(lens);
}

static uint64_t count(omen_vset *vs)
{
    omen_vset_info in;
    assert_int_equal(omen_vset_info_get(vs, &in), OMEN_OK);
    return in.count;
}

/* Mean recall@k of nq queries against the oracle over alive rows. */
static double recall(omen_vset *vs, int metric, const float *data, const unsigned char *alive, size_t n,
                     uint32_t dim, const float *qs, size_t nq, uint32_t k, uint32_t ef)
{
    size_t *truth = malloc(k * sizeof *truth);
    size_t hit = 0, tot = 0;
    for (size_t qi = 0; qi < nq; qi++) {
        const float *q = qs + qi * dim;
        vu_knn(metric, data, alive, n, dim, q, k, truth);
        omen_vset_query qo = {.k = k, .ef = ef};
        omen_vset_result *r = NULL;
        assert_int_equal(omen_vset_search(vs, q, dim, &qo, &r), OMEN_OK);
        for (size_t i = 0; i < r->n; i++) {
            if (i) assert_true(r->hits[i - 1].score <= r->hits[i].score);
            long idx = vu_id_index(r->hits[i].id, r->hits[i].id_len);
            assert_true(idx >= 0 && (size_t)idx < n);
            if (alive) assert_true(alive[idx]);
            for (uint32_t j = 0; j < k; j++)
                if (truth[j] == (size_t)idx) hit++;
        }
        tot += k;
        omen_free(r);
    }
    free(truth);
    return (double)hit / (double)tot;
}

/* ---- bad input ---- */

static void test_bad_input(void **state)
{
    (void)state;
    omen_db *db = open_db();
    omen_vset *vs = NULL;
    omen_vset_options o;
    omen_vset_options_init(&o);
    assert_int_equal(omen_vset_create(db, "s", &o, &vs), OMEN_INVALID); /* dim 0 */
    o.dim = 4;
    o.metric = 9;
    assert_int_equal(omen_vset_create(db, "s", &o, &vs), OMEN_INVALID);
    o.metric = OMEN_METRIC_L2;
    o.M = 1;
    assert_int_equal(omen_vset_create(db, "s", &o, &vs), OMEN_INVALID);
    o.M = 16;
    assert_int_equal(omen_vset_create(db, "", &o, &vs), OMEN_INVALID);
    assert_int_equal(omen_vset_create(db, NULL, &o, &vs), OMEN_INVALID);
    assert_int_equal(omen_vset_open(db, "nope", &vs), OMEN_NOTFOUND);
    assert_int_equal(omen_vset_drop(db, "nope"), OMEN_NOTFOUND);
    assert_int_equal(omen_vset_create(db, "s", &o, &vs), OMEN_OK);
    omen_vset *dup = NULL;
    assert_int_equal(omen_vset_create(db, "s", &o, &dup), OMEN_EXISTS);

    /* empty set: searches give nothing, random is NOTFOUND */
    float q[4] = {1, 2, 3, 4};
    omen_vset_query qo = {.k = 5};
    omen_vset_result *r = NULL;
    assert_int_equal(omen_vset_search(vs, q, 4, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 0);
    omen_free(r);
    void *rid;
    size_t rl;
    assert_int_equal(omen_vset_random(vs, &rid, &rl), OMEN_NOTFOUND);

    float v[5] = {1, 2, 3, 4, 5};
    assert_int_equal(omen_vset_add(vs, "a", 1, v, 4, NULL, 0, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_add(vs, "b", 1, v, 5, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(omen_vset_add(vs, "b", 1, v, 3, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    float bad[4] = {1, NAN, 3, 4};
    assert_int_equal(omen_vset_add(vs, "b", 1, bad, 4, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    bad[1] = INFINITY;
    assert_int_equal(omen_vset_add(vs, "b", 1, bad, 4, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(omen_vset_add(vs, "", 0, v, 4, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(omen_vset_add(vs, NULL, 1, v, 4, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(omen_vset_add(vs, "b", 1, NULL, 4, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(omen_vset_add(vs, "b", 1, v, 4, "{bad", 4, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(omen_vset_add(vs, "b", 1, v, 4, "[1]", 3, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(omen_vset_add(NULL, "b", 1, v, 4, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    /* add_many: one bad element writes nothing */
    const void *ids[2] = {"x", "y"};
    size_t lens[2] = {1, 1};
    float two[8] = {1, 1, 1, 1, 2, 2, NAN, 2};
    assert_int_equal(omen_vset_add_many(vs, 2, ids, lens, two, 4, NULL, NULL, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(omen_vset_contains(vs, "x", 1), OMEN_NOTFOUND);
    assert_int_equal(count(vs), 1);

    qo.k = 0;
    assert_int_equal(omen_vset_search(vs, q, 4, &qo, &r), OMEN_INVALID);
    qo.k = OMEN_VSET_MAX_K + 1;
    assert_int_equal(omen_vset_search(vs, q, 4, &qo, &r), OMEN_INVALID);
    qo.k = 3;
    assert_int_equal(omen_vset_search(vs, q, 3, &qo, &r), OMEN_INVALID);
    assert_int_equal(omen_vset_search(vs, bad, 4, &qo, &r), OMEN_INVALID);
    qo.filter = ".a > ";
    assert_int_equal(omen_vset_search(vs, q, 4, &qo, &r), OMEN_INVALID);
    /* The parser's message behind the call's name, once (the cause is
     * copied before the prefix is formatted). */
    assert_string_equal(omen_last_error(),
                        "omen_vset_search: filter: unexpected end of expression at position 5");
    qo.filter = NULL;
    /* huge k: fine, returns what exists */
    qo.k = OMEN_VSET_MAX_K;
    assert_int_equal(omen_vset_search(vs, q, 4, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 1);
    omen_free(r);
    assert_int_equal(omen_vset_delete(vs, "zz", 2, OMEN_SYNC_RELAXED), OMEN_NOTFOUND);
    assert_int_equal(omen_vset_set_attrs(vs, "zz", 2, "{}", 2, OMEN_SYNC_RELAXED), OMEN_NOTFOUND);
    float out[4];
    assert_int_equal(omen_vset_get(vs, "zz", 2, out, 4), OMEN_NOTFOUND);
    assert_int_equal(omen_vset_get(vs, "a", 1, out, 3), OMEN_INVALID);
    assert_int_equal(count(vs), 1);

    /* cosine: a zero vector is rejected */
    omen_vset *cs = mkset(db, "cos", 4, OMEN_METRIC_COSINE, OMEN_PREC_INT8);
    float z[4] = {0, 0, 0, 0};
    assert_int_equal(omen_vset_add(cs, "z", 1, z, 4, NULL, 0, OMEN_SYNC_RELAXED), OMEN_INVALID);
    assert_int_equal(count(cs), 0);
    assert_int_equal(omen_vset_close(cs), OMEN_OK);

    /* reserved keys: the engine's 14-byte prefix is refused; user keys
     * around it (UINT64_MAX as a key just below, FF x8 01 just above)
     * work and iterators step over the vector entries in both directions */
    const char *resv = "\xff\xff\xff\xff\xff\xff\xff\xff\x00omen\x00x";
    assert_int_equal(omen_put(db, resv, 15, "v", 1, OMEN_SYNC_DEFAULT), OMEN_INVALID);
    assert_int_equal(omen_delete(db, resv, 14, OMEN_SYNC_DEFAULT), OMEN_INVALID);
    /* and reading there is refused too, also where an entry exists: the
     * metadata of set "cos" (prefix, 'V', 'M', name) */
    unsigned char meta[32];
    memcpy(meta, resv, 14);
    memcpy(meta + 14, "VMcos", 5);
    void *val = NULL;
    size_t vlen = 7;
    char vb[8];
    for (int which = 0; which < 2; which++) {
        const unsigned char *key = which ? meta : (const unsigned char *)resv;
        size_t klen = which ? 19 : 15;
        assert_int_equal(omen_get(db, NULL, key, klen, &val, &vlen), OMEN_INVALID);
        assert_null(val);
        assert_non_null(strstr(omen_last_error(), "reserved range"));
        assert_int_equal(omen_get_into(db, NULL, key, klen, vb, sizeof vb, &vlen), OMEN_INVALID);
        const void *keys[2] = {"a", key};
        size_t klens[2] = {1, klen};
        void *vals[2];
        size_t vlens[2];
        assert_int_equal(omen_get_many(db, NULL, 2, keys, klens, vals, vlens), OMEN_INVALID);
        omen_txn *t;
        assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
        assert_int_equal(omen_txn_get(t, key, klen, &val, &vlen), OMEN_INVALID);
        omen_txn_rollback(t);
    }
    /* the set itself still reads its own entries */
    assert_int_equal(omen_vset_open(db, "cos", &cs), OMEN_OK);
    assert_int_equal(omen_vset_close(cs), OMEN_OK);
    unsigned char kmax[8];
    omen_key_u64(UINT64_MAX, kmax);
    assert_int_equal(omen_put(db, kmax, 8, "lo", 2, OMEN_SYNC_DEFAULT), OMEN_OK);
    assert_int_equal(omen_put(db, "\xff\xff\xff\xff\xff\xff\xff\xff\x01", 9, "hi", 2, OMEN_SYNC_DEFAULT), OMEN_OK);
    assert_int_equal(omen_put(db, "a", 1, "a", 1, OMEN_SYNC_DEFAULT), OMEN_OK);
    omen_iter *it;
    assert_int_equal(omen_iter_create(db, NULL, &it), OMEN_OK);
    size_t kl;
    int n = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) n++;
    assert_int_equal(n, 3);
    n = 0;
    for (omen_iter_seek_last(it); omen_iter_valid(it); omen_iter_prev(it)) n++;
    assert_int_equal(n, 3);
    omen_iter_seek(it, resv, 14); /* lands past the range */
    assert_true(omen_iter_valid(it));
    assert_int_equal(((const unsigned char *)omen_iter_key(it, &kl))[8], 1);
    omen_iter_prev(it); /* steps back over it */
    assert_true(omen_iter_valid(it));
    assert_int_equal(omen_iter_key(it, &kl) != NULL && kl == 8, 1);
    omen_iter_seek_for_prev(it, resv, 15);
    assert_true(omen_iter_valid(it));
    omen_iter_key(it, &kl);
    assert_int_equal(kl, 8);
    omen_iter_destroy(it);

    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

/* ---- recall ---- */

static void recall_case(int metric, int prec, uint32_t dim, int clustered, double min_recall)
{
    omen_db *db = open_db();
    char name[64];
    snprintf(name, sizeof name, "r%d_%d_%u_%d", metric, prec, dim, clustered);
    omen_vset *vs = mkset(db, name, dim, metric, prec);
    size_t n = 1500, nq = 30;
    float *data = vu_data(n, dim, clustered, 7 + dim + (uint64_t)metric * 100);
    float *qs = vu_data(nq, dim, clustered, 99 + dim);
    add_all(vs, data, 0, n, dim);
    assert_int_equal(count(vs), n);
    double r = recall(vs, metric, data, NULL, n, dim, qs, nq, 10, 80);
    print_message("recall metric=%d prec=%d dim=%u clustered=%d: %.3f\n", metric, prec, dim, clustered, r);
    assert_true(r >= min_recall);
    /* The exact path is the oracle's equal. */
    omen_vset_query qo = {.k = 10, .exact = 1};
    size_t truth[10];
    vu_knn(metric, data, NULL, n, dim, qs, 10, truth);
    omen_vset_result *res;
    assert_int_equal(omen_vset_search(vs, qs, dim, &qo, &res), OMEN_OK);
    assert_int_equal(res->n, 10);
    int same = 0;
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) same += vu_id_index(res->hits[i].id, res->hits[i].id_len) == (long)truth[j];
    assert_true(same >= 9); /* float ties aside */
    omen_free(res);
    free(data);
    free(qs);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

static void test_recall(void **state)
{
    (void)state;
    int metrics[3] = {OMEN_METRIC_L2, OMEN_METRIC_COSINE, OMEN_METRIC_IP};
    for (int m = 0; m < 3; m++)
        for (int p = 0; p < 2; p++) {
            recall_case(metrics[m], p, 32, 1, metrics[m] == OMEN_METRIC_IP ? 0.75 : 0.9);
            recall_case(metrics[m], p, 17, 0, metrics[m] == OMEN_METRIC_IP ? 0.75 : 0.85);
        }
    recall_case(OMEN_METRIC_L2, OMEN_PREC_INT8, 100, 1, 0.9);
}

/* ---- update / delete ---- */

static void test_update_delete(void **state)
{
    (void)state;
    omen_db *db = open_db();
    uint32_t dim = 16;
    omen_vset *vs = mkset(db, "ud", dim, OMEN_METRIC_L2, OMEN_PREC_INT8);
    size_t n = 600;
    float *data = vu_data(n, dim, 1, 5);
    add_all(vs, data, 0, n, dim);
    /* update e0 to a far-away vector: search near it finds e0, near the old place not */
    float far[16];
    for (uint32_t j = 0; j < dim; j++) far[j] = 100.0f + (float)j;
    assert_int_equal(omen_vset_add(vs, "e0", 2, far, dim, "{\"v\":2}", 7, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(count(vs), n);
    omen_vset_query qo = {.k = 1, .ef = 50};
    omen_vset_result *r;
    assert_int_equal(omen_vset_search(vs, far, dim, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 1);
    assert_memory_equal(r->hits[0].id, "e0", 2);
    assert_true(r->hits[0].score < 1e-3f);
    omen_free(r);
    qo.k = 5;
    assert_int_equal(omen_vset_search(vs, data, dim, &qo, &r), OMEN_OK);
    for (size_t i = 0; i < r->n; i++) assert_false(r->hits[i].id_len == 2 && !memcmp(r->hits[i].id, "e0", 2));
    omen_free(r);
    float got[16];
    assert_int_equal(omen_vset_get(vs, "e0", 2, got, dim), OMEN_OK);
    assert_memory_equal(got, far, sizeof far);
    int8_t q8[16];
    float sc, off;
    assert_int_equal(omen_vset_get_int8(vs, "e0", 2, q8, dim, &sc, &off), OMEN_OK);
    for (uint32_t j = 0; j < dim; j++) assert_true(fabsf(q8[j] * sc + off - far[j]) <= sc + 1e-3f || q8[j] == 127);
    /* attributes: kept by an add without attrs, replaced, removed */
    assert_int_equal(omen_vset_add(vs, "e0", 2, far, dim, NULL, 0, OMEN_SYNC_RELAXED), OMEN_OK);
    char *js;
    size_t jl;
    assert_int_equal(omen_vset_get_attrs(vs, "e0", 2, &js, &jl), OMEN_OK);
    assert_string_equal(js, "{\"v\":2}");
    omen_free(js);
    assert_int_equal(omen_vset_set_attrs(vs, "e0", 2, "{\"v\":3}", 7, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_get_attrs(vs, "e0", 2, &js, &jl), OMEN_OK);
    assert_string_equal(js, "{\"v\":3}");
    omen_free(js);
    qo.k = 1;
    qo.filter = ".v == 3";
    assert_int_equal(omen_vset_search(vs, data + 5 * dim, dim, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 1);
    assert_memory_equal(r->hits[0].id, "e0", 2);
    omen_free(r);
    qo.filter = NULL;
    assert_int_equal(omen_vset_set_attrs(vs, "e0", 2, "", 0, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_get_attrs(vs, "e0", 2, &js, &jl), OMEN_OK);
    assert_null(js);
    /* delete: gone everywhere */
    for (size_t i = 0; i < n; i += 2) {
        char id[32];
        size_t l = vu_id(id, i);
        assert_int_equal(omen_vset_delete(vs, id, l, OMEN_SYNC_RELAXED), OMEN_OK);
        assert_int_equal(omen_vset_contains(vs, id, l), OMEN_NOTFOUND);
    }
    assert_int_equal(count(vs), n / 2);
    unsigned char *alive = calloc(n, 1);
    for (size_t i = 1; i < n; i += 2) alive[i] = 1;
    double rc = recall(vs, OMEN_METRIC_L2, data, alive, n, dim, data, 40, 10, 64);
    assert_true(rc >= 0.9);
    /* random members are live */
    for (int i = 0; i < 50; i++) {
        void *id;
        size_t l;
        assert_int_equal(omen_vset_random(vs, &id, &l), OMEN_OK);
        long idx = vu_id_index(id, l);
        assert_true(idx >= 0 && alive[idx]);
        omen_free(id);
    }
    /* search by element */
    qo.k = 3;
    assert_int_equal(omen_vset_search_id(vs, "e1", 2, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 3);
    assert_memory_equal(r->hits[0].id, "e1", 2);
    omen_free(r);
    assert_int_equal(omen_vset_search_id(vs, "e2", 2, &qo, &r), OMEN_NOTFOUND);
    free(alive);
    free(data);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

/* A graph whose every node was replaced or deleted: the entry point is a
 * deleted node with nothing live behind it, so new nodes must start the
 * graph afresh or no graph search reaches them. */
static void test_replace_only_node(void **state)
{
    (void)state;
    omen_db *db = open_db();
    uint32_t dim = 4;
    omen_vset *vs = mkset(db, "one", dim, OMEN_METRIC_COSINE, OMEN_PREC_INT8);
    float a[4] = {1, 0, 0, 0}, a2[4] = {1, 1, 0, 0}, b[4] = {0, 1, 0, 0}, c[4] = {0, 0, 1, 0};
    omen_vset_query qo = {.k = 5, .ef = 10};
    omen_vset_result *r;
    assert_int_equal(omen_vset_add(vs, "a", 1, a, dim, NULL, 0, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_add(vs, "a", 1, a2, dim, NULL, 0, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_search(vs, a, dim, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 1);
    omen_free(r);
    assert_int_equal(omen_vset_add(vs, "b", 1, b, dim, NULL, 0, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_search(vs, b, dim, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 2);
    assert_memory_equal(r->hits[0].id, "b", 1);
    omen_free(r);
    assert_int_equal(omen_vset_delete(vs, "a", 1, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_delete(vs, "b", 1, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_add(vs, "c", 1, c, dim, NULL, 0, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_search(vs, a, dim, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 1);
    assert_memory_equal(r->hits[0].id, "c", 1);
    omen_free(r);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

static void test_delete_half_insert_new(void **state)
{
    (void)state;
    omen_db *db = open_db();
    uint32_t dim = 24;
    omen_vset *vs = mkset(db, "churn", dim, OMEN_METRIC_L2, OMEN_PREC_INT8);
    size_t n = 2000, total = 4000;
    float *data = vu_data(total, dim, 1, 11);
    float *qs = vu_data(60, dim, 1, 12);
    unsigned char *alive = calloc(total, 1);
    add_all(vs, data, 0, n, dim);
    memset(alive, 1, n);
    double r0 = recall(vs, OMEN_METRIC_L2, data, alive, total, dim, qs, 60, 10, 64);
    for (int round = 0; round < 2; round++) {
        /* delete half of the live ones, insert as many new */
        size_t base = n + (size_t)round * (n / 2);
        size_t dels = 0;
        for (size_t i = 0; i < total && dels < n / 2; i++) {
            if (!alive[i] || (i * 7 + (size_t)round) % 2) continue;
            char id[32];
            size_t l = vu_id(id, i);
            assert_int_equal(omen_vset_delete(vs, id, l, OMEN_SYNC_RELAXED), OMEN_OK);
            alive[i] = 0;
            dels++;
        }
        add_all(vs, data, base, base + dels, dim);
        memset(alive + base, 1, dels);
    }
    omen_vset_info in;
    assert_int_equal(omen_vset_info_get(vs, &in), OMEN_OK);
    size_t live = 0;
    for (size_t i = 0; i < total; i++) live += alive[i];
    assert_int_equal(in.count, live);
    double r1 = recall(vs, OMEN_METRIC_L2, data, alive, total, dim, qs, 60, 10, 64);
    print_message("recall before %.3f after churn %.3f (deleted pending %llu)\n", r0, r1,
                  (unsigned long long)in.deleted);
    assert_true(r1 >= r0 - 0.03);
    /* Checkpoint consolidates: no deleted node stays */
    assert_int_equal(omen_vset_checkpoint(vs), OMEN_OK);
    assert_int_equal(omen_vset_info_get(vs, &in), OMEN_OK);
    assert_int_equal(in.deleted, 0);
    free(alive);
    free(data);
    free(qs);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

/* ---- filters ---- */

static int oracle(int which, int year, const char *genre, double score, int has_score)
{
    switch (which) {
    case 0: return year > 1990;
    case 1: return year > 1990 && (!strcmp(genre, "drama") || !strcmp(genre, "noir"));
    case 2: return has_score && (!(year >= 2000) || score * 2 > 9); /* a missing field fails the element */
    case 3: return has_score && score < 3;
    case 4: return year % 7 == 0 && strcmp(genre, "comedy") != 0;
    case 5: return year == 1955;
    default: return 0;
    }
}

static const char *filters[] = {
    ".year > 1990",
    ".year > 1990 and .genre in [\"drama\", \"noir\"]",
    "not (.year >= 2000) || .score * 2 > 9",
    ".score < 3",
    "(.year % 7 == 0) && .genre != 'comedy'",
    ".year == 1955",
};

static void test_filters(void **state)
{
    (void)state;
    omen_db *db = open_db();
    uint32_t dim = 8;
    omen_vset *vs = mkset(db, "f", dim, OMEN_METRIC_L2, OMEN_PREC_INT8);
    size_t n = 1200;
    float *data = vu_data(n, dim, 1, 21);
    const char *genres[4] = {"drama", "noir", "comedy", "scifi"};
    int *year = malloc(n * sizeof(int));
    int *g = malloc(n * sizeof(int));
    double *score = malloc(n * sizeof(double));
    int *has = malloc(n * sizeof(int));
    uint64_t s = 3;
    for (size_t i = 0; i < n; i++) {
        year[i] = 1950 + (int)(vu_rng(&s) % 70);
        g[i] = (int)(vu_rng(&s) % 4);
        has[i] = vu_rng(&s) % 5 != 0;
        score[i] = (double)(vu_rng(&s) % 100) / 10.0;
        char a[200], id[32];
        size_t l = vu_id(id, i);
        int al = has[i] ? snprintf(a, sizeof a, "{\"year\": %d, \"genre\": \"%s\", \"score\": %.1f}", year[i],
                                   genres[g[i]], score[i])
                        : snprintf(a, sizeof a, "{\"year\":%d,\"genre\":\"%s\",\"tags\":[1,2,{\"x\":3}]}",
                                   year[i], genres[g[i]]);
        assert_int_equal(omen_vset_add(vs, id, l, data + i * dim, dim, a, (size_t)al, OMEN_SYNC_RELAXED), OMEN_OK);
    }
    unsigned char *alive = malloc(n);
    for (int fi = 0; fi < 6; fi++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            alive[i] = (unsigned char)oracle(fi, year[i], genres[g[i]], score[i], has[i]);
            m += alive[i];
        }
        for (int qi = 0; qi < 10; qi++) {
            const float *q = data + (size_t)(qi * 37) * dim;
            size_t truth[10];
            uint32_t k = 10;
            vu_knn(OMEN_METRIC_L2, data, alive, n, dim, q, k, truth);
            size_t want = m < k ? m : k;
            for (int exact = 0; exact < 2; exact++) {
                omen_vset_query qo = {.k = k, .ef = 64, .filter = filters[fi], .exact = exact};
                omen_vset_result *r;
                assert_int_equal(omen_vset_search(vs, q, dim, &qo, &r), OMEN_OK);
                assert_int_equal(r->n, want); /* never silently short */
                size_t hit = 0;
                for (size_t i = 0; i < r->n; i++) {
                    long idx = vu_id_index(r->hits[i].id, r->hits[i].id_len);
                    assert_true(idx >= 0 && alive[idx]); /* never wrong */
                    for (size_t j = 0; j < want; j++) hit += truth[j] == (size_t)idx;
                }
                if (exact) assert_true(hit + 1 >= want);
                else assert_true(hit * 10 >= want * 8);
                omen_free(r);
            }
        }
    }
    free(alive);
    free(year);
    free(g);
    free(score);
    free(has);
    free(data);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

static int fm(const char *expr, const char *json)
{
    vfilter *f;
    assert_int_equal(vfilter_compile(expr, &f), OMEN_OK);
    int r = vfilter_match(f, json, strlen(json));
    vfilter_free(f);
    return r;
}

static void test_filter_language(void **state)
{
    (void)state;
    const char *j = "{\"a\": 5, \"s\": \"he\\\"llo\", \"t\": true, \"n\": null, \"l\": [1, \"x\", 3.5],"
                    " \"o\": {\"a\": 1}, \"e\\u0041\": 2, \"ns\": \"1990\", \"k-1\": 7, \"2024\": 1}";
    assert_true(fm(".a == 5", j));
    assert_true(fm(".a + 1 * 2 == 7", j));
    assert_true(fm("(.a + 1) * 2 == 12", j));
    assert_true(fm("2 ** 3 ** 2 == 512", j));
    assert_true(fm("-.a == -5", j));
    assert_true(fm(".a % 3 == 2 and .a / 2 == 2.5", j));
    assert_true(fm(".s == \"he\\\"llo\"", j));
    assert_true(fm(".s > 'ha' and .s < 'hz'", j));
    assert_true(fm(".t and .t == 1", j));
    assert_true(fm("!(.a > 5)", j));
    /* not binds tighter than comparisons, as in Redis and JavaScript */
    assert_false(fm("not .a > 5", j));
    assert_true(fm("not .a < 5", j));
    assert_true(fm("!!.a == 1 and !!!.a == 0 and not not .t", j));
    assert_true(fm("!.a ** 2 == 0 and -.a ** 2 == 25", j));
    assert_true(fm("not!.a", j));
    /* a field missing anywhere fails the element, even on the side of an
     * `or` that is not needed (Redis: "the element is skipped") */
    assert_false(fm(".a > 1 or .zz", j));
    assert_false(fm(".zz or .a > 1", j));
    assert_false(fm(".a < 1 and .zz", j));
    assert_false(fm(".zz == 1", j));       /* missing field */
    assert_false(fm("not (.zz == 1)", j)); /* undefined stays undefined */
    assert_false(fm(".s > 3", j));         /* type mismatch */
    assert_false(fm(".o == 1 or 1", j));   /* an object is not a value */
    /* a string that is a number compares and computes as that number */
    assert_true(fm(".ns == 1990 and 1990 == .ns and .ns > 1989.5 and .ns * 2 == 3980", j));
    assert_true(fm(".a == '5' and .a in ['4', '5'] and '1e1' == 10 and -.ns == -1990", j));
    assert_true(fm("'10' > '9' and 'b' > 'a' and 'B' < 'a'", j)); /* else bytewise */
    assert_false(fm(".s == 0", j));
    assert_true(fm(".s != 0", j));
    assert_false(fm("'5 ' == 5", j));
    /* selectors take letters, digits, _ and -, as Redis reads them */
    assert_true(fm(".k-1 == 7 and .2024 == 1 and .a - 1 == 4", j));
    assert_false(fm(".a-1 == 4", j)); /* the field "a-1" */
    /* division is IEEE: x / 0 is infinite; 0 / 0 undefined */
    assert_false(fm(".a / 0 == 1", j));
    assert_true(fm(".a / 0 > 1e308 and -.a / 0 < -1e308", j));
    /* undefined (not missing) is settled by the other side of and/or */
    assert_true(fm("0 / 0 == 0 or 1", j));
    assert_false(fm("0 / 0 == 0 and 1", j));
    assert_false(fm("0 / 0 == 0 and 0 or 0 / 0 == 0", j));
    assert_true(fm(".a > 4 or .s > 5", j));
    assert_false(fm(".a > 4 and .s > 5", j));
    assert_false(fm("0 and .s > 5 or .zz == 1", j)); /* missing still fails */
    assert_true(fm(".n == null", j));
    assert_true(fm("3.5 in .l and 'x' in .l", j));
    assert_false(fm("2 in .l", j));
    assert_true(fm(".a in [1, 5, 9]", j));
    assert_true(fm("'ll' in .s", j));
    assert_false(fm("'el' in .s", j));
    assert_false(fm(".o == 1", j));
    assert_true(fm(".eA == 2", j));
    assert_true(fm("true", "{}"));
    assert_false(fm(".a", ""));
    assert_false(fm("true", "")); /* no attributes: no filter matches */
    assert_false(fm(".a == 1", "{bad json"));
    const char *bad[] = {"", ".a >", "(.a", ".a == 'x", "[1,", ".a in [.b]", "1 2", "@", ".a ==== 1", NULL};
    for (int i = 0; bad[i]; i++) {
        vfilter *f = NULL;
        assert_int_equal(vfilter_compile(bad[i], &f), OMEN_INVALID);
        assert_null(f);
    }
    char deep[400];
    memset(deep, '(', 300);
    strcpy(deep + 300, "1");
    vfilter *f = NULL;
    assert_int_equal(vfilter_compile(deep, &f), OMEN_INVALID);
    assert_int_equal(omen_vset_filter_check(".a > 1"), OMEN_OK);
    assert_int_equal(omen_vset_filter_check(".a >"), OMEN_INVALID);
    assert_int_equal(vfilter_json_check("{\"a\":[1,{\"b\":null}]}", 20), OMEN_OK);
    assert_int_equal(vfilter_json_check("{\"a\":}", 6), OMEN_INVALID);
    assert_int_equal(vfilter_json_check("{} x", 4), OMEN_INVALID);
}

/* Strings longer than the evaluator's scratch space, plain and escaped,
 * read many times in one expression: every read is a real value, never a
 * missing field (which would fail the element). */
static void test_filter_long_strings(void **state)
{
    (void)state;
    size_t n = 20000;
    char *json = malloc(2 * n + 64), *expr = malloc(64 * 40 + 64);
    assert_non_null(json);
    assert_non_null(expr);
    char *p = json + sprintf(json, "{\"y\": 2020, \"p\": \"");
    memset(p, 'd', n);
    p += n;
    p += sprintf(p, "\", \"e\": \"");
    for (size_t i = 0; i < n / 2; i++) p += sprintf(p, "\\n"); /* n/2 escaped newlines */
    strcpy(p, "\"}");
    assert_true(fm(".y > 2000 or .p == 'x'", json));
    assert_true(fm(".y > 2000 and .p != 'x' and .e != 'x'", json));
    assert_true(fm("'ddd' in .p and '\n\n' in .e and not ('x' in .e)", json));
    /* 40 reads of the escaped string: each one's space is given back */
    char *q = expr + sprintf(expr, ".y == 2020");
    for (int i = 0; i < 40; i++) q += sprintf(q, " and .e != '%d'", i);
    assert_true(fm(expr, json));
    assert_false(fm(".e == 'x' or .p == 'x'", json));
    free(expr);
    free(json);
}

/* ---- batches, transactions, persistence ---- */

static void test_batch_txn(void **state)
{
    (void)state;
    omen_db *db = open_db();
    uint32_t dim = 4;
    omen_vset *vs = mkset(db, "bt", dim, OMEN_METRIC_COSINE, OMEN_PREC_FLOAT32);
    float v1[4] = {1, 0, 0, 0}, v2[4] = {0, 1, 0, 0};
    omen_batch *b;
    assert_int_equal(omen_batch_create(&b), OMEN_OK);
    assert_int_equal(omen_batch_put(b, "k", 1, "v", 1), OMEN_OK);
    assert_int_equal(omen_batch_vadd(b, vs, "a", 1, v1, dim, "{\"x\":1}", 7), OMEN_OK);
    assert_int_equal(omen_batch_vadd(b, vs, "b", 1, v2, dim, NULL, 0), OMEN_OK);
    assert_int_equal(omen_batch_vadd(b, vs, "c", 1, v2, 3, NULL, 0), OMEN_INVALID);
    assert_int_equal(omen_vset_contains(vs, "a", 1), OMEN_NOTFOUND); /* not yet written */
    assert_int_equal(omen_write(db, b, OMEN_SYNC_DEFAULT), OMEN_OK);
    assert_int_equal(omen_vset_contains(vs, "a", 1), OMEN_OK);
    assert_int_equal(count(vs), 2);
    omen_batch_clear(b);
    assert_int_equal(omen_batch_vdel(b, vs, "a", 1), OMEN_OK);
    assert_int_equal(omen_batch_delete(b, "k", 1), OMEN_OK);
    assert_int_equal(omen_write(db, b, OMEN_SYNC_DEFAULT), OMEN_OK);
    omen_batch_destroy(b);
    assert_int_equal(count(vs), 1);
    void *val;
    size_t vl;
    assert_int_equal(omen_get(db, NULL, "k", 1, &val, &vl), OMEN_NOTFOUND);

    /* a transaction: committed together; a conflicting one leaves nothing */
    omen_txn *t;
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_put(t, "k2", 2, "v", 1), OMEN_OK);
    assert_int_equal(omen_txn_vadd(t, vs, "t1", 2, v1, dim, NULL, 0), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, OMEN_SYNC_DEFAULT), OMEN_OK);
    assert_int_equal(omen_vset_contains(vs, "t1", 2), OMEN_OK);
    assert_int_equal(count(vs), 2);
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    void *x;
    size_t xl;
    assert_int_equal(omen_txn_get(t, "k2", 2, &x, &xl), OMEN_OK);
    omen_free(x);
    assert_int_equal(omen_txn_vadd(t, vs, "t2", 2, v2, dim, NULL, 0), OMEN_OK);
    assert_int_equal(omen_put(db, "k2", 2, "w", 1, OMEN_SYNC_DEFAULT), OMEN_OK); /* conflict */
    assert_int_equal(omen_txn_commit(t, OMEN_SYNC_DEFAULT), OMEN_CONFLICT);
    assert_int_equal(omen_vset_contains(vs, "t2", 2), OMEN_NOTFOUND);
    assert_int_equal(count(vs), 2);
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_vadd(t, vs, "t3", 2, v2, dim, NULL, 0), OMEN_OK);
    omen_txn_rollback(t);
    assert_int_equal(omen_vset_contains(vs, "t3", 2), OMEN_NOTFOUND);

    /* list / drop */
    omen_vset *other = mkset(db, "another", 3, OMEN_METRIC_L2, OMEN_PREC_INT8);
    char **names;
    size_t nn;
    assert_int_equal(omen_vset_list(db, &names, &nn), OMEN_OK);
    assert_int_equal(nn, 2);
    assert_string_equal(names[0], "another");
    assert_string_equal(names[1], "bt");
    omen_free(names);
    float w[3] = {1, 2, 3};
    assert_int_equal(omen_vset_add(other, "q", 1, w, 3, NULL, 0, OMEN_SYNC_DEFAULT), OMEN_OK);
    assert_int_equal(omen_vset_drop(db, "another"), OMEN_OK);
    assert_int_equal(omen_vset_add(other, "q", 1, w, 3, NULL, 0, OMEN_SYNC_DEFAULT), OMEN_NOTFOUND);
    assert_int_equal(omen_vset_close(other), OMEN_OK);
    assert_int_equal(omen_vset_open(db, "another", &other), OMEN_NOTFOUND);
    assert_int_equal(omen_vset_list(db, &names, &nn), OMEN_OK);
    assert_int_equal(nn, 1);
    omen_free(names);
    /* the same name again is a new, empty set */
    other = mkset(db, "another", 3, OMEN_METRIC_L2, OMEN_PREC_INT8);
    assert_int_equal(count(other), 0);
    assert_int_equal(omen_vset_close(other), OMEN_OK);

    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

static void graph_path(char *out, size_t n)
{
    snprintf(out, n, "%s/vset-00000001.graph", dir);
}

static void test_reopen_and_corrupt_graph(void **state)
{
    (void)state;
    uint32_t dim = 20;
    size_t n = 1000;
    float *data = vu_data(n, dim, 1, 31);
    omen_db *db = open_db();
    omen_vset *vs = mkset(db, "p", dim, OMEN_METRIC_L2, OMEN_PREC_INT8);
    add_all(vs, data, 0, n, dim);
    for (size_t i = 0; i < 100; i++) {
        char id[32];
        size_t l = vu_id(id, i);
        assert_int_equal(omen_vset_delete(vs, id, l, OMEN_SYNC_RELAXED), OMEN_OK);
    }
    unsigned char *alive = malloc(n);
    memset(alive, 1, n);
    memset(alive, 0, 100);
    double r0 = recall(vs, OMEN_METRIC_L2, data, alive, n, dim, data + 500 * dim, 30, 10, 64);
    assert_int_equal(omen_vset_close(vs), OMEN_OK); /* checkpoints */
    assert_int_equal(omen_close(db), OMEN_OK);
    char gp[800];
    graph_path(gp, sizeof gp);
    struct stat st;
    assert_int_equal(stat(gp, &st), 0);

    /* reopen: loaded from the file, no log tail */
    db = open_db();
    assert_int_equal(omen_vset_open(db, "p", &vs), OMEN_OK);
    omen_vset_info in;
    assert_int_equal(omen_vset_info_get(vs, &in), OMEN_OK);
    assert_int_equal(in.count, n - 100);
    assert_int_equal(in.log_tail, 0);
    double r1 = recall(vs, OMEN_METRIC_L2, data, alive, n, dim, data + 500 * dim, 30, 10, 64);
    assert_true(r1 >= r0 - 1e-9);
    /* a log tail: writes after the checkpoint, then the process "dies"
     * without closing the set (the graph file stays as it was) */
    float v[20];
    for (uint32_t j = 0; j < dim; j++) v[j] = 50;
    assert_int_equal(omen_vset_add(vs, "tail", 4, v, dim, NULL, 0, OMEN_SYNC_RELAXED), OMEN_OK);
    assert_int_equal(omen_vset_delete(vs, "e500", 4, OMEN_SYNC_RELAXED), OMEN_OK);
    pid_t pid = fork();
    if (pid == 0) _exit(0); /* nothing: only to keep the pattern close to a crash */
    waitpid(pid, NULL, 0);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);

    /* corrupt one byte in the middle of the graph file: rebuilt on open */
    int fd = open(gp, O_RDWR);
    assert_true(fd >= 0);
    unsigned char byte;
    off_t off = st.st_size / 2;
    assert_int_equal(pread(fd, &byte, 1, off), 1);
    byte ^= 0x5a;
    assert_int_equal(pwrite(fd, &byte, 1, off), 1);
    close(fd);
    db = open_db();
    assert_int_equal(omen_vset_open(db, "p", &vs), OMEN_OK);
    assert_int_equal(omen_vset_info_get(vs, &in), OMEN_OK);
    assert_int_equal(in.count, n - 100); /* +tail -e500 */
    assert_int_equal(omen_vset_contains(vs, "tail", 4), OMEN_OK);
    assert_int_equal(omen_vset_contains(vs, "e500", 4), OMEN_NOTFOUND);
    alive[500] = 0;
    double r2 = recall(vs, OMEN_METRIC_L2, data, alive, n, dim, data + 600 * dim, 30, 10, 64);
    assert_true(r2 >= 0.9);
    omen_vset_query qo = {.k = 1};
    omen_vset_result *r;
    assert_int_equal(omen_vset_search(vs, v, dim, &qo, &r), OMEN_OK);
    assert_memory_equal(r->hits[0].id, "tail", 4);
    omen_free(r);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
    /* a truncated file too */
    assert_int_equal(truncate(gp, 100), 0);
    db = open_db();
    assert_int_equal(omen_vset_open(db, "p", &vs), OMEN_OK);
    assert_int_equal(count(vs), n - 100);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
    assert_int_equal(omen_destroy(dir), OMEN_OK);
    free(alive);
    free(data);
}

/* kill -9 while adding: every acknowledged element survives, and the set
 * opens (graph file from an earlier checkpoint + log tail). */
static void test_kill9(void **state)
{
    (void)state;
    uint32_t dim = 12;
    size_t n = 3000;
    float *data = vu_data(n, dim, 1, 41);
    for (int round = 0; round < 3; round++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            omen_options o;
            omen_options_init(&o);
            omen_db *db = NULL;
            if (omen_open(dir, &o, &db)) _exit(2);
            omen_vset *vs = NULL;
            if (omen_vset_open(db, "k9", &vs) == OMEN_NOTFOUND) {
                omen_vset_options so;
                omen_vset_options_init(&so);
                so.dim = dim;
                if (omen_vset_create(db, "k9", &so, &vs)) _exit(3);
            }
            for (size_t i = 0; i < n; i++) {
                char id[32];
                size_t l = vu_id(id, i);
                if (omen_vset_add(vs, id, l, data + i * dim, dim, NULL, 0, OMEN_SYNC_RELAXED)) _exit(4);
                uint32_t ack = (uint32_t)i;
                if (write(pfd[1], &ack, 4) != 4) _exit(5);
                if (i == 700 + (size_t)round * 300) omen_vset_checkpoint(vs);
            }
            _exit(0);
        }
        close(pfd[1]);
        uint32_t ack, last = UINT32_MAX;
        size_t target = 900 + (size_t)round * 500;
        while (read(pfd[0], &ack, 4) == 4) {
            last = ack;
            if (ack >= target) {
                kill(pid, SIGKILL);
                break;
            }
        }
        int st;
        waitpid(pid, &st, 0);
        close(pfd[0]);
        assert_true(last != UINT32_MAX);
        omen_db *db = open_db();
        omen_vset *vs;
        assert_int_equal(omen_vset_open(db, "k9", &vs), OMEN_OK);
        for (size_t i = 0; i <= last; i++) {
            char id[32];
            size_t l = vu_id(id, i);
            assert_int_equal(omen_vset_contains(vs, id, l), OMEN_OK);
        }
        /* every acknowledged element is also reachable in the graph */
        omen_vset_query qo = {.k = 1, .ef = 64};
        for (size_t i = 0; i <= last; i += 97) {
            omen_vset_result *r;
            assert_int_equal(omen_vset_search(vs, data + i * dim, dim, &qo, &r), OMEN_OK);
            assert_int_equal(r->n, 1);
            assert_true(r->hits[0].score < 1e-3f);
            omen_free(r);
        }
        assert_true(count(vs) >= (uint64_t)last + 1);
        /* a clean close checkpoints; the next round crashes again */
        assert_int_equal(omen_vset_close(vs), OMEN_OK);
        assert_int_equal(omen_close(db), OMEN_OK);
    }
    free(data);
}

static void test_search_many(void **state)
{
    (void)state;
    omen_db *db = open_db();
    uint32_t dim = 16;
    omen_vset *vs = mkset(db, "m", dim, OMEN_METRIC_IP, OMEN_PREC_INT8);
    size_t n = 800;
    float *data = vu_data(n, dim, 1, 51);
    add_all(vs, data, 0, n, dim);
    omen_vset_query qo = {.k = 5, .ef = 40};
    omen_vset_result **res;
    assert_int_equal(omen_vset_search_many(vs, 50, data, dim, &qo, 0, &res), OMEN_OK);
    for (size_t i = 0; i < 50; i++) {
        omen_vset_result *one;
        assert_int_equal(omen_vset_search(vs, data + i * dim, dim, &qo, &one), OMEN_OK);
        assert_int_equal(res[i]->n, one->n);
        for (size_t j = 0; j < one->n; j++) {
            assert_int_equal(res[i]->hits[j].id_len, one->hits[j].id_len);
            assert_memory_equal(res[i]->hits[j].id, one->hits[j].id, one->hits[j].id_len);
        }
        omen_free(one);
    }
    omen_vset_results_free(res, 50);
    assert_int_equal(omen_vset_search_many(vs, 2, data, dim - 1, &qo, 2, &res), OMEN_INVALID);
    free(data);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
}

/* ---- lossless int8 codes ---- */

/* Every hit's score must be the float32 distance, and the scores the
 * oracle's k best (ties make ids ambiguous, scores are not). */
static void check_exact_scores(omen_vset *vs, const float *data, size_t n, uint32_t dim, const float *q)
{
    size_t truth[10];
    vu_knn(OMEN_METRIC_L2, data, NULL, n, dim, q, 10, truth);
    omen_vset_query qo = {.k = 10, .ef = 200};
    omen_vset_result *r = NULL;
    assert_int_equal(omen_vset_search(vs, q, dim, &qo, &r), OMEN_OK);
    assert_int_equal(r->n, 10);
    for (size_t i = 0; i < r->n; i++) {
        long idx = vu_id_index(r->hits[i].id, r->hits[i].id_len);
        assert_true(idx >= 0 && (size_t)idx < n);
        float want = vu_dist(OMEN_METRIC_L2, data + (size_t)idx * dim, q, dim);
        assert_true(fabsf(r->hits[i].score - want) <= 1e-4f * (1 + want));
        float best = vu_dist(OMEN_METRIC_L2, data + truth[i] * dim, q, dim);
        assert_true(fabsf(r->hits[i].score - best) <= 1e-4f * (1 + best));
    }
    omen_free(r);
}

static void test_lossless_codes(void **state)
{
    (void)state;
    uint32_t dim = 24;
    size_t n = 600;
    float *data = malloc(n * dim * sizeof(float));
    uint64_t s = 77;
    /* rows 0..399: integers 0..255 (8-bit pixels), both ends present in
     * the quantizer's training sample; rows 400..: fractions (lossy) */
    for (size_t i = 0; i < n * dim; i++) data[i] = (float)(vu_rng(&s) % 256);
    data[0] = 0;
    data[1] = 255;
    for (size_t i = 400 * dim; i < n * dim; i++) data[i] += 0.37f;
    omen_db *db = open_db();
    omen_vset *vs = mkset(db, "px", dim, OMEN_METRIC_L2, OMEN_PREC_INT8);
    add_all(vs, data, 0, 400, dim);
    float q[24];
    for (int round = 0; round < 3; round++) {
        size_t have = round == 0 ? 400 : n;
        for (int t = 0; t < 20; t++) {
            for (uint32_t j = 0; j < dim; j++) q[j] = (float)(vu_rng(&s) % 256);
            check_exact_scores(vs, data, have, dim, q); /* lossless query */
            q[t % dim] += 0.5f;
            check_exact_scores(vs, data, have, dim, q); /* lossy query: re-ranked */
        }
        if (round == 0) add_all(vs, data, 400, n, dim); /* lossy elements join */
        if (round == 1) {
            /* the graph file keeps which codes are lossless */
            assert_int_equal(omen_vset_close(vs), OMEN_OK);
            assert_int_equal(omen_close(db), OMEN_OK);
            db = open_db();
            assert_int_equal(omen_vset_open(db, "px", &vs), OMEN_OK);
        }
    }
    /* a lossless element replaced by a lossy vector is re-ranked again */
    for (size_t i = 0; i < 50; i++) {
        char id[32];
        size_t l = vu_id(id, i);
        for (uint32_t j = 0; j < dim; j++) data[i * dim + j] += 0.25f;
        assert_int_equal(omen_vset_add(vs, id, l, data + i * dim, dim, NULL, 0, OMEN_SYNC_RELAXED), OMEN_OK);
    }
    for (int t = 0; t < 20; t++) {
        memcpy(q, data + (size_t)(vu_rng(&s) % 50) * dim, sizeof q);
        for (uint32_t j = 0; j < dim; j++) q[j] = rintf(q[j]);
        check_exact_scores(vs, data, n, dim, q);
    }
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
    free(data);
}

/* ---- graph files of version 1 ---- */

/* Rewrite the graph file's version field (and byte `at`, if at > 0, to
 * val), with a valid checksum; returns the version read before. */
static uint32_t patch_graph(const char *gp, uint32_t version, long at, unsigned char val)
{
    int fd = open(gp, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    size_t n = (size_t)st.st_size;
    unsigned char *b = malloc(n);
    assert_int_equal(pread(fd, b, n, 0), (ssize_t)n);
    uint32_t old = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    for (int i = 0; i < 4; i++) b[8 + i] = (unsigned char)(version >> (8 * i));
    if (at > 0) b[at] = val;
    uint32_t c = crc32c_mask(crc32c(0, b, n - 4));
    for (int i = 0; i < 4; i++) b[n - 4 + i] = (unsigned char)(c >> (8 * i));
    assert_int_equal(pwrite(fd, b, n, 0), (ssize_t)n);
    close(fd);
    free(b);
    return old;
}

static void test_graph_v1(void **state)
{
    (void)state;
    uint32_t dim = 16;
    size_t n = 300;
    float *data = vu_data(n, dim, 1, 5); /* fractions: no lossless codes, every live slot state 1 */
    omen_db *db = open_db();
    omen_vset *vs = mkset(db, "p", dim, OMEN_METRIC_L2, OMEN_PREC_INT8);
    add_all(vs, data, 0, n, dim);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
    char gp[800];
    graph_path(gp, sizeof gp);
    /* a version 1 file is read, not rebuilt: closing leaves it as it was */
    assert_int_equal(patch_graph(gp, 1, 0, 0), 3);
    db = open_db();
    assert_int_equal(omen_vset_open(db, "p", &vs), OMEN_OK);
    assert_int_equal(count(vs), n);
    assert_true(recall(vs, OMEN_METRIC_L2, data, NULL, n, dim, data, 20, 10, 64) >= 0.9);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
    /* state 2 (lossless codes) does not exist in version 1: the file is
     * refused, the graph rebuilt from the engine and written anew */
    assert_int_equal(patch_graph(gp, 1, 64, 2), 1);
    db = open_db();
    assert_int_equal(omen_vset_open(db, "p", &vs), OMEN_OK);
    assert_int_equal(count(vs), n);
    assert_true(recall(vs, OMEN_METRIC_L2, data, NULL, n, dim, data, 20, 10, 64) >= 0.9);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
    assert_int_equal(patch_graph(gp, 2, 0, 0), 3);
    free(data);
}

static void test_kernels(void **state)
{
    (void)state;
    const vdist_kernels *s = vdist_get(VDIST_SCALAR);
    int variants[3] = {VDIST_AVX2, VDIST_AVX512, VDIST_AVX512VNNI};
    uint64_t rs = 9;
    for (int vi = 0; vi < 3; vi++) {
        if (!vdist_supported(variants[vi])) {
            print_message("distance variant %d not supported here: unchecked\n", variants[vi]);
            continue;
        }
        const vdist_kernels *k = vdist_get(variants[vi]);
        assert_int_equal(k->variant, variants[vi]);
        for (size_t n = 0; n < 300; n += (n < 40 ? 1 : 37)) {
            float a[300], b[300];
            int8_t x[300], y[300];
            for (size_t i = 0; i < n; i++) {
                a[i] = vu_unif(&rs) * 4 - 2;
                b[i] = vu_unif(&rs) * 4 - 2;
                x[i] = (int8_t)((int)(vu_rng(&rs) % 256) - 128);
                y[i] = (int8_t)((int)(vu_rng(&rs) % 256) - 128);
            }
            int32_t ysum = 0;
            for (size_t i = 0; i < n; i++) ysum += y[i];
            assert_int_equal(k->l2_i8(x, y, n), s->l2_i8(x, y, n));
            assert_int_equal(k->dot_i8(x, y, n), s->dot_i8(x, y, n));
            assert_int_equal(k->dot_i8s(x, y, ysum, n), s->dot_i8(x, y, n));
            assert_true(fabsf(k->l2_f32(a, b, n) - s->l2_f32(a, b, n)) <= 1e-3f * (1 + s->l2_f32(a, b, n)));
            assert_true(fabsf(k->dot_f32(a, b, n) - s->dot_f32(a, b, n)) <= 1e-3f * (1 + (float)n));
            /* the float kernels take b at any byte address */
            unsigned char raw[300 * 4 + 3];
            memcpy(raw + 3, b, n * 4);
            assert_true(k->dot_f32(a, raw + 3, n) == k->dot_f32(a, b, n));
            assert_true(k->l2_f32(a, raw + 3, n) == k->l2_f32(a, b, n));
            /* query preparation: the same codes, range and scaling as
             * scalar, bit for bit; half-way cases and values past the
             * clamps included (a[i] * 100 spans -200 .. 200) */
            double ss = s->sumsq(a, n);
            assert_true(fabs(k->sumsq(a, n) - ss) <= 1e-12 * (1 + ss));
            float sa[300], ka[300];
            s->scale(a, 0.37, sa, n);
            k->scale(a, 0.37, ka, n);
            assert_memory_equal(sa, ka, n * sizeof(float));
            int8_t sq8[300], kq8[300];
            for (size_t i = 0; i < n; i += 5) a[i] = (float)((int)(a[i] * 50) + 0.5) / 50.0f; /* ties */
            s->quant(a, 0.25f, 100.0f, sq8, n);
            k->quant(a, 0.25f, 100.0f, kq8, n);
            assert_memory_equal(sq8, kq8, n);
            for (size_t i = 0; i < n; i++) {
                float v = (a[i] - 0.25f) * 100.0f, want = v > 127 ? 127 : v < -128 ? -128 : rintf(v);
                assert_int_equal(sq8[i], (int)want);
            }
            if (n) {
                float sl, sh, kl, kh;
                s->range(a, n, &sl, &sh);
                k->range(a, n, &kl, &kh);
                assert_true(sl == kl && sh == kh);
                float ml = a[0], mh = a[0];
                for (size_t i = 1; i < n; i++) {
                    ml = fminf(ml, a[i]);
                    mh = fmaxf(mh, a[i]);
                }
                assert_true(sl == ml && sh == mh);
            }
        }
        /* extremes: -128 vs 127 and -128 vs -128 over many components */
        static int8_t lo[32768], hi[32768];
        memset(lo, -128, sizeof lo);
        memset(hi, 127, sizeof hi);
        assert_int_equal(k->l2_i8(lo, hi, 32768), 32768 * 255 * 255);
        assert_int_equal(k->dot_i8(lo, hi, 4096), -4096 * 128 * 127);
        assert_int_equal(k->dot_i8s(lo, hi, 4096 * 127, 4096), -4096 * 128 * 127);
        assert_int_equal(k->dot_i8s(lo, lo, -32768 * 128, 32768), 32768 * 128 * 128);
        assert_int_equal(k->dot_i8s(hi, lo, -4099 * 128, 4099), -4099 * 127 * 128);
    }
}

int main(void)
{
#ifdef VEC_KERNELS_ONLY
    /* The emulated AVX-512 build (mk/vector.mk): kernels only. */
    const struct CMUnitTest kernels[] = {cmocka_unit_test(test_kernels)};
    return cmocka_run_group_tests(kernels, NULL, NULL);
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_filter_language),
        cmocka_unit_test(test_filter_long_strings),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_only_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_half_insert_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_corrupt_graph, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lossless_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graph_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
