/*
 * lsearch.c -- last-mile search: first position >= q in a short sorted
 * window of uint64 keys.
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
#include <immintrin.h>
#include <stdatomic.h>

#include "index/lidx_int.h"

/* Windows at most this long are counted, not bisected. */
#define SCALAR_TAIL 16
#define AVX2_TAIL 32
#define AVX512_TAIL 64

size_t lidx_search_scalar(const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    if (hi <= lo) return lo;
    const uint64_t *base = keys + lo;
    size_t len = hi - lo;
    while (len > SCALAR_TAIL) {
        size_t half = len / 2;
        base = (base[half] < q) ? base + half : base;
        len -= half;
    }
    size_t cnt = 0;
    for (size_t i = 0; i < len; i++) cnt += base[i] < q;
    return (size_t)(base - keys) + cnt;
}

__attribute__((target("avx2,popcnt"))) size_t lidx_search_avx2(const uint64_t *keys, size_t lo,
                                                                size_t hi, uint64_t q)
{
    if (hi <= lo) return lo;
    const uint64_t *base = keys + lo;
    size_t len = hi - lo;
    while (len > AVX2_TAIL) {
        size_t half = len / 2;
        base = (base[half] < q) ? base + half : base;
        len -= half;
    }
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    const __m256i qv = _mm256_xor_si256(_mm256_set1_epi64x((long long)q), sign);
    size_t cnt = 0, i = 0;
    for (; i + 4 <= len; i += 4) {
        __m256i k = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(base + i)), sign);
        __m256i lt = _mm256_cmpgt_epi64(qv, k);
        cnt += (size_t)__builtin_popcount((unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(lt)));
    }
    if (i < len) {
        static const long long lanes[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
        __m256i m = _mm256_loadu_si256((const __m256i *)(lanes + 4 - (len - i)));
        __m256i k = _mm256_maskload_epi64((const long long *)(base + i), m);
        k = _mm256_xor_si256(k, sign);
        __m256i lt = _mm256_and_si256(_mm256_cmpgt_epi64(qv, k), m);
        cnt += (size_t)__builtin_popcount((unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(lt)));
    }
    return (size_t)(base - keys) + cnt;
}

__attribute__((target("avx512f,popcnt"))) size_t lidx_search_avx512(const uint64_t *keys,
                                                                     size_t lo, size_t hi,
                                                                     uint64_t q)
{
    if (hi <= lo) return lo;
    const uint64_t *base = keys + lo;
    size_t len = hi - lo;
    while (len > AVX512_TAIL) {
        size_t half = len / 2;
        base = (base[half] < q) ? base + half : base;
        len -= half;
    }
    const __m512i qv = _mm512_set1_epi64((long long)q);
    size_t cnt = 0, i = 0;
    for (; i + 8 <= len; i += 8) {
        __m512i k = _mm512_loadu_si512((const void *)(base + i));
        cnt += (size_t)__builtin_popcount((unsigned)_mm512_cmplt_epu64_mask(k, qv));
    }
    if (i < len) {
        __mmask8 m = (__mmask8)((1u << (len - i)) - 1u);
        __m512i k = _mm512_maskz_loadu_epi64(m, (const void *)(base + i));
        cnt += (size_t)__builtin_popcount((unsigned)_mm512_mask_cmplt_epu64_mask(m, k, qv));
    }
    return (size_t)(base - keys) + cnt;
}

/* 0 = not yet resolved; otherwise the variant in use. */
static atomic_int cur_variant;

static int best_variant(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return LIDX_SEARCH_AVX512;
    if (__builtin_cpu_supports("avx2")) return LIDX_SEARCH_AVX2;
    return LIDX_SEARCH_SCALAR;
}

int lidx_search_supported(int variant)
{
    __builtin_cpu_init();
    switch (variant) {
    case LIDX_SEARCH_AUTO:
    case LIDX_SEARCH_SCALAR: return 1;
    case LIDX_SEARCH_AVX2: return __builtin_cpu_supports("avx2") ? 1 : 0;
    case LIDX_SEARCH_AVX512: return __builtin_cpu_supports("avx512f") ? 1 : 0;
    default: return 0;
    }
}

int lidx_search_current(void)
{
    int v = atomic_load_explicit(&cur_variant, memory_order_relaxed);
    if (v == 0) {
        v = best_variant();
        /* Racing initialisers store the same value. */
        atomic_store_explicit(&cur_variant, v, memory_order_relaxed);
    }
    return v;
}

void lidx_search_force(int variant)
{
    /* An unsupported request falls back to the best supported variant
     * rather than executing illegal instructions. */
    if (variant == LIDX_SEARCH_AUTO || !lidx_search_supported(variant)) variant = best_variant();
    atomic_store_explicit(&cur_variant, variant, memory_order_relaxed);
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
