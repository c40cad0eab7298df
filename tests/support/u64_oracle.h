/*
 * u64_oracle.h -- the reference answers the learned index is checked
 * against, shared by its tests (tests/test_index.c), its fuzzer
 * (fuzz/fuzz_lindex.c), the demo (bench/index_demo.c) and the benchmark's
 * --check (bench/index_bench.c).
 *
 * Deliberately the plainest code that can be right: a textbook binary
 * search, with nothing in common with the index's own search paths (no
 * SIMD, no branch-free tricks, no model), so that an agreement means
 * something.  Header-only, so that programs linking only the shipped
 * library (the demo, the benchmark) and the fuzzers can use it too.
 */
#ifndef OMEN_U64_ORACLE_H
#define OMEN_U64_ORACLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The first position of keys[0..n) (sorted ascending) whose key >= q, or
 * n. */
static inline size_t u64_oracle_lower_bound(const uint64_t *keys, size_t n, uint64_t q)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < q)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static inline int u64_oracle_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sort keys[0..n) ascending (the index's input order). */
static inline void u64_oracle_sort(uint64_t *keys, size_t n)
{
    qsort(keys, n, sizeof *keys, u64_oracle_cmp);
}

#endif
