/*
 * test_conc_vec.c -- searches running while one thread inserts, updates,
 * re-labels and deletes (with graph repairs, slot reuse and a checkpoint):
 * readers never wait for the writer and never see a half-linked node or a
 * freed slot (run under ThreadSanitizer by make test).  Every result is
 * checked for shape (sorted scores, k bounds, well-formed ids) and elements
 * that were never deleted must stay findable by their own vector.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "omendb.h"
#include "vec_util.h"

#define DIM 16
#define STABLE 300  /* e0..e299: never touched by the writer */
#define OPS 1500

static omen_vset *vs;
static float *data;
static atomic_int done;
static atomic_long errors;

#define FAIL(...)                                                                                      \
    do {                                                                                               \
        fprintf(stderr, __VA_ARGS__);                                                                  \
        atomic_fetch_add(&errors, 1);                                                                  \
    } while (0)

static void check_result(const omen_vset_result *r, uint32_t k)
{
    if (r->n > k) FAIL("more hits than k\n");
    for (size_t i = 0; i < r->n; i++) {
        if (i && r->hits[i - 1].score > r->hits[i].score) FAIL("unsorted hits\n");
        if (vu_id_index(r->hits[i].id, r->hits[i].id_len) < 0) FAIL("malformed id\n");
    }
}

static void *reader(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg;
    int iter = 0;
    while (!atomic_load(&done) || iter < 50) {
        iter++;
        size_t i = vu_rng(&s) % STABLE;
        omen_vset_query qo = {.k = 5, .ef = 32};
        if (iter % 4 == 0) qo.filter = ".tag >= 0";
        omen_vset_result *r = NULL;
        int rc = omen_vset_search(vs, data + i * DIM, DIM, &qo, &r);
        if (rc) {
            FAIL("search: %s\n", omen_last_error());
            continue;
        }
        check_result(r, 5);
        /* a stable element is found by its own vector (unfiltered) */
        if (!qo.filter) {
            int found = 0;
            char id[32];
            size_t l = vu_id(id, i);
            for (size_t j = 0; j < r->n; j++) found |= r->hits[j].id_len == l && !memcmp(r->hits[j].id, id, l);
            if (!found) FAIL("stable element %s not found by its vector\n", id);
        }
        omen_free(r);
        void *rid;
        size_t rl;
        rc = omen_vset_random(vs, &rid, &rl);
        if (rc == OMEN_OK) {
            if (vu_id_index(rid, rl) < 0) FAIL("random: malformed id\n");
            omen_free(rid);
        } else if (rc != OMEN_NOTFOUND) {
            FAIL("random: %s\n", omen_last_error());
        }
        char id[32];
        size_t l = vu_id(id, i);
        if (omen_vset_contains(vs, id, l) != OMEN_OK) FAIL("stable element missing\n");
    }
    return NULL;
}

static void test_search_during_writes(void **state)
{
    (void)state;
    char dir[512];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cvec.XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
    omen_db *db;
    assert_int_equal(omen_open(dir, NULL, &db), OMEN_OK);
    omen_vset_options o;
    omen_vset_options_init(&o);
    o.dim = DIM;
    o.M = 8;
    o.ef_construction = 64;
    assert_int_equal(omen_vset_create(db, "c", &o, &vs), OMEN_OK);
    size_t total = STABLE + OPS;
    data = vu_data(total, DIM, 1, 77);
    for (size_t i = 0; i < STABLE + 200; i++) {
        char id[32], a[32];
        size_t l = vu_id(id, i);
        int al = snprintf(a, sizeof a, "{\"tag\": %zu}", i % 7);
        assert_int_equal(omen_vset_add(vs, id, l, data + i * DIM, DIM, a, (size_t)al, OMEN_SYNC_RELAXED), OMEN_OK);
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)(i + 1));
    /* The writer: churn over the non-stable ids. */
    uint64_t s = 5;
    size_t next = STABLE + 200;
    for (int op = 0; op < OPS; op++) {
        size_t victim = STABLE + vu_rng(&s) % (next - STABLE);
        char id[32];
        size_t l = vu_id(id, victim);
        int rc;
        switch (op % 5) {
        case 0:
        case 1:
            if (next < total) {
                l = vu_id(id, next);
                rc = omen_vset_add(vs, id, l, data + next * DIM, DIM, "{\"tag\": 1}", 10, OMEN_SYNC_RELAXED);
                next++;
                assert_int_equal(rc, OMEN_OK);
            }
            break;
        case 2:
            rc = omen_vset_delete(vs, id, l, OMEN_SYNC_RELAXED);
            assert_true(rc == OMEN_OK || rc == OMEN_NOTFOUND);
            break;
        case 3: /* update to another vector */
            rc = omen_vset_add(vs, id, l, data + (victim / 2) * DIM, DIM, NULL, 0, OMEN_SYNC_RELAXED);
            assert_int_equal(rc, OMEN_OK);
            break;
        default:
            rc = omen_vset_set_attrs(vs, id, l, "{\"tag\": 3}", 10, OMEN_SYNC_RELAXED);
            assert_true(rc == OMEN_OK || rc == OMEN_NOTFOUND);
        }
        if (op == OPS / 2) assert_int_equal(omen_vset_checkpoint(vs), OMEN_OK);
    }
    atomic_store(&done, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    assert_int_equal(omen_vset_close(vs), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_OK);
    omen_destroy(dir);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_search_during_writes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
