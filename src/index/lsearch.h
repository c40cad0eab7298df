/*
 * lsearch.h -- last-mile search: the first position >= q in a short sorted
 * window of uint64 keys, the step that finishes every learned-index lookup.
 *
 * Three variants (scalar, AVX2, AVX-512) return identical results by
 * construction (lsearch.c); one is picked at run time from the CPU's
 * features, and tests and benchmarks may force another.  The kernels
 * themselves are static inline in lsearch_impl.h, so that the query paths of
 * lindex.c inline them; this header is the module's callable interface.
 */
#ifndef OMEN_LSEARCH_H
#define OMEN_LSEARCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { LIDX_SEARCH_AUTO = 0, LIDX_SEARCH_SCALAR, LIDX_SEARCH_AVX2, LIDX_SEARCH_AVX512 };

/* First position in keys[lo..hi) whose key >= q, or hi, with the variant in
 * use. */
size_t lidx_search(const uint64_t *keys, size_t lo, size_t hi, uint64_t q);
/* The same with a given variant (AUTO: the one in use; an unsupported one
 * falls back to scalar). */
size_t lidx_search_with(int variant, const uint64_t *keys, size_t lo, size_t hi, uint64_t q);
/* Each variant on its own (the caller checks lidx_search_supported). */
size_t lidx_search_scalar(const uint64_t *keys, size_t lo, size_t hi, uint64_t q);
size_t lidx_search_avx2(const uint64_t *keys, size_t lo, size_t hi, uint64_t q);
size_t lidx_search_avx512(const uint64_t *keys, size_t lo, size_t hi, uint64_t q);

/* 1 if the CPU supports the variant. */
int lidx_search_supported(int variant);
/* Force a variant for every later query (tests, benchmarks); AUTO resets. */
void lidx_search_force(int variant);
/* The variant in use (AUTO resolved). */
int lidx_search_current(void);

/* The same, inline: one load once resolved (a call per lookup costs more
 * than a routing step). */
extern atomic_int lidx_cur_variant;
static inline int lidx_search_variant(void)
{
    int v = atomic_load_explicit(&lidx_cur_variant, memory_order_relaxed);
    return v ? v : lidx_search_current();
}

#endif
