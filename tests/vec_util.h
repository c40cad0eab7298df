/*
 * vec_util.h -- shared helpers of the vector-set tests: data generators
 * (uniform and clustered), an independent brute-force k-NN oracle, and
 * recall.  Header-only so each test stays one translation unit.
 */
#ifndef OMEN_VEC_UTIL_H
#define OMEN_VEC_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "omendb.h"

static inline uint64_t vu_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline float vu_unif(uint64_t *s)
{
    return (float)((vu_rng(s) >> 11) * (1.0 / 9007199254740992.0));
}

static inline float vu_gauss(uint64_t *s)
{
    float u = vu_unif(s) + 1e-9f, v = vu_unif(s);
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

/* n vectors: clustered (gaussian blobs around `clusters` centres) or uniform. */
static inline float *vu_data(size_t n, uint32_t dim, int clustered, uint64_t seed)
{
    float *v = malloc(n * dim * sizeof(float));
    uint64_t s = seed;
    int nc = 16;
    float *c = malloc((size_t)nc * dim * sizeof(float));
    for (size_t i = 0; i < (size_t)nc * dim; i++) c[i] = vu_unif(&s) * 10.0f - 5.0f;
    for (size_t i = 0; i < n; i++) {
        int k = (int)(vu_rng(&s) % nc);
        for (uint32_t j = 0; j < dim; j++)
            v[i * dim + j] = clustered ? c[k * dim + j] + vu_gauss(&s) : vu_unif(&s) * 2.0f - 1.0f;
    }
    free(c);
    return v;
}

static inline float vu_dist(int metric, const float *a, const float *b, uint32_t dim)
{
    double d = 0, na = 0, nb = 0;
    for (uint32_t i = 0; i < dim; i++) {
        if (metric == OMEN_METRIC_L2) d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        else d += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (metric == OMEN_METRIC_L2) return (float)d;
    if (metric == OMEN_METRIC_IP) return (float)-d;
    return (float)(1.0 - d / sqrt(na * nb));
}

/* Indexes of the k nearest of q among the n rows whose alive[i] != 0. */
static inline void vu_knn(int metric, const float *data, const unsigned char *alive, size_t n, uint32_t dim,
                   const float *q, uint32_t k, size_t *out)
{
    float *best = malloc(k * sizeof(float));
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        if (alive && !alive[i]) continue;
        float d = vu_dist(metric, data + i * dim, q, dim);
        if (nb < k) {
            size_t j = nb++;
            while (j > 0 && best[j - 1] > d) {
                best[j] = best[j - 1];
                out[j] = out[j - 1];
                j--;
            }
            best[j] = d;
            out[j] = i;
        } else if (d < best[k - 1]) {
            size_t j = k - 1;
            while (j > 0 && best[j - 1] > d) {
                best[j] = best[j - 1];
                out[j] = out[j - 1];
                j--;
            }
            best[j] = d;
            out[j] = i;
        }
    }
    free(best);
}

/* Element ids are "e<index>". */
static inline size_t vu_id(char *buf, size_t i)
{
    return (size_t)snprintf(buf, 32, "e%zu", i);
}

static inline long vu_id_index(const void *id, size_t len)
{
    char b[40];
    if (len == 0 || len >= sizeof b) return -1;
    memcpy(b, id, len);
    b[len] = 0;
    if (b[0] != 'e') return -1;
    return strtol(b + 1, NULL, 10);
}

/* Create set name in db with the tests' usual graph (M 12, ef_construction
 * 100); OMEN_OK or omen_vset_create's error. */
static inline int vu_mkset(omen_db *db, const char *name, uint32_t dim, int metric, int prec, omen_vset **out)
{
    omen_vset_options o;
    omen_vset_options_init(&o);
    o.dim = dim;
    o.metric = metric;
    o.precision = prec;
    o.M = 12;
    o.ef_construction = 100;
    *out = NULL;
    return omen_vset_create(db, name, &o, out);
}

#endif
