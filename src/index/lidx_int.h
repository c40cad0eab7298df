/*
 * lidx_int.h -- internals of the learned index shared by its .c files
 * (lindex.c: model, build, queries, serialization; lsearch.c: SIMD
 * last-mile search; lstr.c: byte-string keys).  Not part of the contract.
 *
 * Layout: levels[0] is the bottom level (its segments predict positions in
 * the caller's key array); levels[L] (L >= 1) predicts positions in
 * levels[L-1].keys; the top level has exactly one segment (the root).
 * Each level keeps its segment start keys in a contiguous array (searched
 * with the same SIMD kernels as the data) and the line parameters in a
 * parallel array, so routing touches keys only and prediction one pair.
 *
 * A segment predicts  pos(q) = icept + slope * (q - key)  in double; the
 * build guarantees |pos(x) - y| <= eps exactly (integer hull arithmetic,
 * line chosen in long double), and queries search [floor(pos) - eps,
 * floor(pos) + eps + LIDX_SLACK): the extra positions absorb double
 * rounding and the one-position step between a key and its successor, so
 * results are always exact (the argument is in lindex.c).
 */
#ifndef OMEN_LIDX_INT_H
#define OMEN_LIDX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "index/lindex.h"

#define LIDX_MAGIC 0x584c4d4fu /* "OMLX" little-endian */
#define LIDX_FORMAT_VERSION 1u
#define LIDX_MAX_EPSILON (1u << 20)
#define LIDX_MAX_LEVELS 48
/* Epsilon of the upper (routing) levels. */
#ifndef LIDX_DEFAULT_EPSILON_REC
#define LIDX_DEFAULT_EPSILON_REC 8u
#endif
/* Window end beyond floor(pos) + eps: see the header comment. */
#define LIDX_SLACK 2

typedef struct {
    double slope;
    double icept;
} lidx_par;

typedef struct {
    uint64_t *keys; /* m segment start keys, strictly increasing */
    lidx_par *par;  /* m line parameters */
    size_t m;
} lidx_level;

struct lidx {
    unsigned eps;
    unsigned eps_rec;
    size_t nkeys;
    size_t nlevels; /* 0 only for an empty model */
    lidx_level lv[LIDX_MAX_LEVELS];
};

/* Search kernels (lsearch.c).  All return the first i in [lo, hi) with
 * keys[i] >= q, or hi. */
size_t lidx_search_scalar(const uint64_t *keys, size_t lo, size_t hi, uint64_t q);
size_t lidx_search_avx2(const uint64_t *keys, size_t lo, size_t hi, uint64_t q);
size_t lidx_search_avx512(const uint64_t *keys, size_t lo, size_t hi, uint64_t q);
/* The variant lidx_search uses now (resolved AUTO). */
int lidx_search_current(void);

#endif
