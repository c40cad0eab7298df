/*
 * lsearch.c -- last-mile search: first position >= q in a short sorted
 * window of uint64 keys (interface: lsearch.h).
 *
 * Every variant first narrows the window with a branchless binary search
 * (a conditional move per step, so no mispredictions) and then counts the
 * keys < q in the remaining few dozen positions: with SIMD that count is a
 * handful of compares and a popcount.  Because the window is sorted, the
 * count of keys < q is exactly the offset of the lower bound, so all three
 * variants return identical results by construction.
 *
 * The SIMD code is compiled per function with target attributes (the
 * project is not built with -march=native) and chosen at run time with
 * __builtin_cpu_supports.  Tails use masked loads, which never touch
 * memory outside [lo, hi) (the window may end at the end of an mmap).
 * AVX2 has no unsigned 64-bit compare: both sides are XORed with the sign
 * bit so that the signed compare orders them as unsigned.
 */
#include "index/lsearch.h"

#include <stdatomic.h>

#include "index/lsearch_impl.h"

size_t lidx_search_scalar(const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    return lidx_k_scalar(keys, lo, hi, q);
}

LIDX_T_AVX2 size_t lidx_search_avx2(const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    return lidx_k_avx2(keys, lo, hi, q);
}

LIDX_T_AVX512 size_t lidx_search_avx512(const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    return lidx_k_avx512(keys, lo, hi, q);
}

/* 0 = not yet resolved; otherwise the variant in use. */
/* Read inline by the query entry points (lidx_search_variant). */
atomic_int lidx_cur_variant;

/* AVX2 first, even where AVX-512 is there too.  A lookup counts a few
 * dozen keys per level, one cache line apart, and that work is latency,
 * not width: on a Sapphire Rapids Xeon (bench/index_bench, 10M keys,
 * alternated runs) the 512-bit counts were 8-15 % slower than AVX2's on
 * lognormal and osm keys and no faster on uniform ones, and the same
 * counts on 256-bit AVX-512VL registers only matched AVX2.  The AVX-512
 * kernels stay selectable (lidx_search_force, index_bench --search
 * avx512) and tested, for CPUs where the balance differs. */
static int best_variant(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return LIDX_SEARCH_AVX2;
    if (__builtin_cpu_supports("avx512f")) return LIDX_SEARCH_AVX512;
    return LIDX_SEARCH_SCALAR;
}

int lidx_search_supported(int variant)
{
    __builtin_cpu_init();
    switch (variant) {
    case LIDX_SEARCH_AUTO:
    case LIDX_SEARCH_SCALAR: return 1;
    case LIDX_SEARCH_AVX2: return __builtin_cpu_supports("avx2") ? 1 : 0;
    case LIDX_SEARCH_AVX512:
#ifdef LIDX_EMULATE_AVX512
        return 1; /* emulated: runs anywhere (lsearch_impl.h) */
#else
        return __builtin_cpu_supports("avx512f") ? 1 : 0;
#endif
    default: return 0;
    }
}

int lidx_search_current(void)
{
    int v = atomic_load_explicit(&lidx_cur_variant, memory_order_relaxed);
    if (v == 0) {
        v = best_variant();
        /* Racing initialisers store the same value. */
        atomic_store_explicit(&lidx_cur_variant, v, memory_order_relaxed);
    }
    return v;
}

void lidx_search_force(int variant)
{
    /* An unsupported request falls back to the best supported variant
     * rather than executing illegal instructions. */
    if (variant == LIDX_SEARCH_AUTO || !lidx_search_supported(variant)) variant = best_variant();
    atomic_store_explicit(&lidx_cur_variant, variant, memory_order_relaxed);
}

size_t lidx_search_with(int variant, const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    if (variant == LIDX_SEARCH_AUTO) variant = lidx_search_current();
    if (!lidx_search_supported(variant)) variant = LIDX_SEARCH_SCALAR;
    switch (variant) {
    case LIDX_SEARCH_AVX512: return lidx_search_avx512(keys, lo, hi, q);
    case LIDX_SEARCH_AVX2: return lidx_search_avx2(keys, lo, hi, q);
    default: return lidx_search_scalar(keys, lo, hi, q);
    }
}

size_t lidx_search(const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    switch (lidx_search_current()) {
    case LIDX_SEARCH_AVX512: return lidx_search_avx512(keys, lo, hi, q);
    case LIDX_SEARCH_AVX2: return lidx_search_avx2(keys, lo, hi, q);
    default: return lidx_search_scalar(keys, lo, hi, q);
    }
}
