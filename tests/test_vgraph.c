/*
 * test_vgraph.c -- the search graph's int8 codes and the graph file at the
 * module level: cosine and inner-product nodes carry their own quantizer
 * map (finer codes than one map for the set, so traversal distances are
 * closer to the exact ones), L2 nodes the set's; a version 2 graph file
 * (every node coded with the set's map, no per-node maps) of a cosine set
 * still loads and searches correctly, and a version 3 file cut short of
 * its maps is refused.
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

#include "omendb.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "vec_util.h"
#include "vector/hnsw.h"
#include "vector/vgraph.h"

enum { DIM = 24, N = 400, M = 8, EFC = 64, SET = 7 };

/* Unit vectors whose components spread very differently from one vector
 * to the next (a few large components in some, many small in others):
 * what a single map for the whole set codes coarsely. */
static float *unit_data(uint64_t seed)
{
    float *v = malloc((size_t)N * DIM * sizeof(float));
    uint64_t s = seed;
    for (size_t i = 0; i < N; i++) {
        float *x = v + i * DIM;
        double nn = 0;
        int spiky = i % 3 == 0;
        for (uint32_t j = 0; j < DIM; j++) {
            x[j] = vu_gauss(&s) * (spiky && j < 2 ? 20.0f : 1.0f);
            nn += (double)x[j] * x[j];
        }
        for (uint32_t j = 0; j < DIM; j++) x[j] = (float)(x[j] / sqrt(nn));
    }
    return v;
}

/* A graph of the N vectors; permap as given (0 codes every vector with the
 * set's map, as graph files before version 3 did). */
static hnsw *build(int metric, const float *data, int permap)
{
    hnsw *g = NULL;
    assert_int_equal(hnsw_new(DIM, metric, OMEN_PREC_INT8, M, EFC, &g), OMEN_OK);
    g->permap = permap;
    hnsw_train(g, data, N);
    for (size_t i = 0; i < N; i++) {
        char id[16];
        int l = snprintf(id, sizeof id, "e%zu", i);
        vrec *r = vrec_new(id, (size_t)l, NULL, 0);
        assert_non_null(r);
        uint32_t slot;
        assert_int_equal(hnsw_insert(g, data + i * DIM, r, &slot), OMEN_OK);
        assert_int_equal(slot, i);
    }
    return g;
}

/* Mean absolute difference between traversal and exact distances of every
 * node to a few queries. */
static double mean_err(const hnsw *g, const float *data)
{
    double sum = 0;
    int8_t q8[DIM];
    for (size_t qi = 0; qi < 8; qi++) {
        const float *q = data + (qi * 37 % N) * DIM;
        hn_query hq;
        hnsw_prepare_query(g, q, q8, &hq);
        for (uint32_t s = 0; s < N; s++) sum += fabs(hnsw_qdist(g, &hq, s) - hnsw_fdist(g, q, data + (size_t)s * DIM));
    }
    return sum / (8.0 * N);
}

static void test_per_vector_maps(void **state)
{
    (void)state;
    float *data = unit_data(3);
    hnsw *g = build(OMEN_METRIC_COSINE, data, 1);
    hnsw *one = build(OMEN_METRIC_COSINE, data, 0);
    assert_true(g->permap);
    for (uint32_t s = 0; s < N; s++) {
        const float *x = data + (size_t)s * DIM;
        const vquant *m = hn_map(g, s);
        const int8_t *c = hn_vec(g, s);
        float lo = x[0], hi = x[0];
        for (uint32_t j = 0; j < DIM; j++) {
            lo = fminf(lo, x[j]);
            hi = fmaxf(hi, x[j]);
        }
        /* the vector's own range spread over the 256 codes */
        assert_true(fabsf(m->scale - (hi - lo) / 255.0f) <= 1e-6f * (hi - lo));
        for (uint32_t j = 0; j < DIM; j++) assert_true(fabsf(c[j] * m->scale + m->offset - x[j]) <= 0.51f * m->scale + 1e-7f);
        /* and one map for the set is what the other graph used */
        assert_memory_equal(hn_map(one, s), &one->q, sizeof one->q);
    }
    double e_own = mean_err(g, data), e_set = mean_err(one, data);
    print_message("mean |traversal - exact| distance: own maps %.3g, one map %.3g\n", e_own, e_set);
    assert_true(e_own < 0.5 * e_set);
    hnsw_free(g);
    hnsw_free(one);

    /* L2 keeps the set's map for every node (its distances rely on it) */
    g = build(OMEN_METRIC_L2, data, 0);
    assert_int_equal(hnsw_new(DIM, OMEN_METRIC_L2, OMEN_PREC_INT8, M, EFC, &one), OMEN_OK);
    assert_false(one->permap);
    hnsw_free(one);
    for (uint32_t s = 0; s < N; s++) assert_memory_equal(hn_map(g, s), &g->q, sizeof g->q);
    hnsw_free(g);
    free(data);
}

static void set_version(unsigned char *b, size_t len, uint32_t v)
{
    put_fixed32(b + 8, v);
    put_fixed32(b + len - 4, crc32c_mask(crc32c(0, b, len - 4)));
}

static void test_v2_cosine_file(void **state)
{
    (void)state;
    float *data = unit_data(5);
    /* the graph as a version 2 writer left it: codes from the set's map */
    hnsw *old = build(OMEN_METRIC_COSINE, data, 0);
    void *buf;
    size_t len;
    assert_int_equal(vgraph_encode(old, SET, &buf, &len), OMEN_OK);
    vgraph_params p = {SET, DIM, M, EFC, OMEN_METRIC_COSINE, OMEN_PREC_INT8};
    hnsw *g = NULL;
    /* as version 3 the per-node maps are missing: refused, never misread */
    assert_int_equal(vgraph_decode(buf, len, &p, &g), OMEN_CORRUPT);
    assert_null(g);
    set_version(buf, len, 2);
    assert_int_equal(vgraph_decode(buf, len, &p, &g), OMEN_OK);
    assert_true(g->permap);
    /* every node decodes with the set's map; a query (coded with its own
     * map) ranks nodes as the exact distances do */
    int8_t q8[DIM];
    size_t hits = 0;
    for (uint32_t s = 0; s < N; s++) {
        assert_memory_equal(hn_map(g, s), &old->q, sizeof old->q);
        assert_memory_equal(hn_vec(g, s), hn_vec(old, s), DIM);
    }
    for (size_t qi = 0; qi < 50; qi++) {
        const float *q = data + (qi * 7 % N) * DIM;
        hn_query hq;
        hnsw_prepare_query(g, q, q8, &hq);
        hn_cand out[16];
        int rs = hnsw_read_begin(g);
        size_t n = hnsw_search(g, &hq, 16, NULL, out, NULL);
        hnsw_read_end(g, rs);
        assert_true(n > 0);
        hits += out[0].slot == qi * 7 % N; /* a stored vector finds itself */
        for (size_t i = 0; i < n; i++)
            assert_true(fabs(out[i].d - hnsw_fdist(g, q, data + (size_t)out[i].slot * DIM)) < 0.05);
    }
    assert_true(hits >= 48);
    /* written again, it is version 3 with the maps, and reads back alike */
    void *b3;
    size_t l3;
    assert_int_equal(vgraph_encode(g, SET, &b3, &l3), OMEN_OK);
    assert_int_equal(l3, len + (size_t)N * 8);
    hnsw *g3 = NULL;
    assert_int_equal(vgraph_decode(b3, l3, &p, &g3), OMEN_OK);
    for (uint32_t s = 0; s < N; s++) assert_memory_equal(hn_map(g3, s), hn_map(g, s), sizeof(vquant));
    hnsw_free(g3);
    hnsw_free(g);
    hnsw_free(old);
    omen_free(b3);
    omen_free(buf);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_vector_maps),
        cmocka_unit_test(test_v2_cosine_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
