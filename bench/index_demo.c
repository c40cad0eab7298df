/*
 * index_demo.c -- a small tour of the learned index for the README: build a
 * model over generated keys, show its shape (segments, levels, bytes) and
 * a few lookup windows, save and reload it, and verify a million lookups of
 * present and absent keys against binary search.
 *
 *   index_demo [N keys (default 1000000)] [epsilon (default 0 = built-in)]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "index/lindex.h"
#include "omendb.h"
#include "support/u64_oracle.h"

static uint64_t state = 42;

static uint64_t rnd(void)
{
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    unsigned eps = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
    uint64_t *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return 1;
    /* lognormal-ish keys: a skewed distribution a straight line cannot fit */
    for (size_t i = 0; i < n; i++) {
        double u = ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
        double v = ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
        double z = sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
        keys[i] = (uint64_t)(exp(2.0 * z) * 1e12);
    }
    u64_oracle_sort(keys, n);

    lidx *m;
    int rc = lidx_build(keys, n, eps, &m);
    if (rc != OMEN_OK) {
        fprintf(stderr, "build failed: %s\n", omen_strerror(rc));
        return 1;
    }
    printf("keys        %zu (%zu bytes)\n", n, n * sizeof *keys);
    printf("epsilon     %u\n", lidx_epsilon(m));
    printf("segments    %zu (bottom level)\n", lidx_segments(m));
    printf("levels      %zu\n", lidx_levels(m));
    printf("model bytes %zu (%.4f%% of the keys)\n", lidx_bytes(m),
           n ? 100.0 * (double)lidx_bytes(m) / (double)(n * sizeof *keys) : 0.0);

    size_t sz = lidx_serialized_size(m);
    unsigned char *img = malloc(sz);
    lidx *loaded = NULL;
    if (!img || lidx_serialize(m, img, sz, NULL) != OMEN_OK ||
        lidx_deserialize(img, sz, &loaded) != OMEN_OK) {
        fprintf(stderr, "serialize/deserialize failed\n");
        return 1;
    }
    printf("serialized  %zu bytes, reloaded without rebuilding\n", sz);

    /* Show the windows of a few keys: where the model points, how far off. */
    printf("\nsample lookups (window = the positions the last-mile search scans):\n");
    for (int i = 0; i < 5 && n; i++) {
        size_t at = (size_t)(rnd() % n), lo, hi;
        size_t first = u64_oracle_lower_bound(keys, n, keys[at]);
        lidx_window(loaded, keys, n, keys[at], &lo, &hi);
        printf("  key %20llu  at %9zu  window [%zu, %zu)\n", (unsigned long long)keys[at], first, lo,
               hi);
    }

    size_t checks = 1000000, bad = 0;
    for (size_t i = 0; i < checks; i++) {
        uint64_t q = (i % 2 && n) ? keys[rnd() % n] : rnd() >> (rnd() % 24);
        if (lidx_lower_bound(loaded, keys, n, q) != u64_oracle_lower_bound(keys, n, q)) bad++;
    }
    printf("\nverified %zu lookups (half present, half random): %zu mismatches\n", checks, bad);
    lidx_free(loaded);
    lidx_free(m);
    free(img);
    free(keys);
    return bad ? 1 : 0;
}
