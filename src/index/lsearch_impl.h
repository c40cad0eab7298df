/*
 * lsearch_impl.h -- the last-mile search kernels as static inline functions,
 * so that the per-target query paths in lindex.c inline them (a call per
 * level would cost more than the search itself).  lsearch.c wraps them into
 * the public lidx_search* functions.  See lsearch.c for the method.
 *
 * All return the first i in [lo, hi) with keys[i] >= q, or hi, and read
 * nothing outside keys[lo, hi): tails use masked loads, which never fault
 * on masked-out lanes (the window may end at the end of an mmap).
 */
#ifndef OMEN_LSEARCH_IMPL_H
#define OMEN_LSEARCH_IMPL_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* The sign bit: xored into both sides, it makes a signed compare order
 * 64-bit keys as unsigned (AVX2 has only the signed one).  The model's
 * levels keep their keys so flipped (lidx_int.h). */
#define LIDX_SIGN 0x8000000000000000ull

/* The kernels' targets, per function: the library is built for baseline
 * x86-64 and picks a kernel set at run time.  One test build defines
 * LIDX_EMULATE_AVX512 (tests/avx512_emu.h): its AVX-512 kernels are then
 * plain code over SIMDe's portable intrinsics, so that their logic is
 * checked on CPUs that lack AVX-512. */
#define LIDX_T_AVX2 __attribute__((target("avx2,popcnt")))
#ifdef LIDX_EMULATE_AVX512
#define LIDX_T_AVX512
#else
#define LIDX_T_AVX512 __attribute__((target("avx512f,popcnt")))
#endif

/* Windows at most this long are counted, not bisected. */
#define LIDX_SCALAR_TAIL 16
#define LIDX_AVX2_TAIL 32
#define LIDX_AVX512_TAIL 64

/* Branch-free bisection of keys[lo, hi) down to at most `tail` candidates;
 * the kernels then count the remaining keys < q.  *len gets the count left. */
static inline const uint64_t *lidx_narrow(const uint64_t *keys, size_t lo, size_t hi, uint64_t q,
                                          size_t tail, size_t *len)
{
    const uint64_t *base = keys + lo;
    size_t n = hi - lo;
    while (n > tail) {
        size_t half = n / 2;
        base = (base[half] < q) ? base + half : base;
        n -= half;
    }
    *len = n;
    return base;
}

static inline size_t lidx_k_scalar(const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    if (hi <= lo) return lo;
    size_t len;
    const uint64_t *base = lidx_narrow(keys, lo, hi, q, LIDX_SCALAR_TAIL, &len);
    size_t cnt = 0;
    for (size_t i = 0; i < len; i++) cnt += base[i] < q;
    return (size_t)(base - keys) + cnt;
}

LIDX_T_AVX2 static inline size_t lidx_k_avx2(const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    if (hi <= lo) return lo;
    size_t len;
    const uint64_t *base = lidx_narrow(keys, lo, hi, q, LIDX_AVX2_TAIL, &len);
    /* No unsigned 64-bit compare in AVX2: flip the sign bits so that the
     * signed compare orders the values as unsigned. */
    const __m256i sign = _mm256_set1_epi64x((long long)LIDX_SIGN);
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

LIDX_T_AVX512 static inline size_t lidx_k_avx512(const uint64_t *keys, size_t lo, size_t hi, uint64_t q)
{
    if (hi <= lo) return lo;
    size_t len;
    const uint64_t *base = lidx_narrow(keys, lo, hi, q, LIDX_AVX512_TAIL, &len);
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

/* Counting kernels: the number of keys <= q in k[0, w), w a multiple of
 * 4.  No bisection and no data-dependent branch: a lookup is then a fixed
 * run of instructions whose loads all issue at once, and a mispredicted
 * compare never flushes the work the core started after it.  The caller guarantees that all w keys are
 * readable (model levels are padded with UINT64_MAX; data windows use
 * them only when w keys remain before the array's end). */
static inline size_t lidx_c_scalar(const uint64_t *k, size_t w, uint64_t q)
{
    size_t c = 0;
    for (size_t i = 0; i < w; i++) c += k[i] <= q;
    return c;
}

LIDX_T_AVX2 static inline size_t lidx_c_avx2(const uint64_t *k, size_t w, uint64_t q)
{
    const __m256i sign = _mm256_set1_epi64x((long long)LIDX_SIGN);
    const __m256i qv = _mm256_xor_si256(_mm256_set1_epi64x((long long)q), sign);
    __m256i gt = _mm256_setzero_si256();
#pragma GCC unroll 10
    for (size_t i = 0; i < w; i += 4) {
        __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(k + i)), sign);
        gt = _mm256_sub_epi64(gt, _mm256_cmpgt_epi64(v, qv)); /* lanes are -1 where > q */
    }
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(gt), _mm256_extracti128_si256(gt, 1));
    h = _mm_add_epi64(h, _mm_unpackhi_epi64(h, h));
    return w - (size_t)_mm_cvtsi128_si64(h);
}

/* AVX-512 compares unsigned directly; over sign-flipped keys (below) the
 * same count compares signed.  `flipped` is a constant at every call. */
LIDX_T_AVX512 static inline size_t lidx_c512(const uint64_t *k, size_t w, __m512i qv, int flipped)
{
    size_t c = 0, i = 0;
#pragma GCC unroll 5
    for (; i + 8 <= w; i += 8) {
        __m512i v = _mm512_loadu_si512((const void *)(k + i));
        __mmask8 le = flipped ? _mm512_cmple_epi64_mask(v, qv) : _mm512_cmple_epu64_mask(v, qv);
        c += (size_t)__builtin_popcount((unsigned)le);
    }
    if (i < w) { /* four left */
        __m512i v = _mm512_maskz_loadu_epi64(0x0f, (const void *)(k + i));
        __mmask8 le = flipped ? _mm512_mask_cmple_epi64_mask(0x0f, v, qv)
                              : _mm512_mask_cmple_epu64_mask(0x0f, v, qv);
        c += (size_t)__builtin_popcount((unsigned)le);
    }
    return c;
}

LIDX_T_AVX512 static inline size_t lidx_c_avx512(const uint64_t *k, size_t w, uint64_t q)
{
    return lidx_c512(k, w, _mm512_set1_epi64((long long)q), 0);
}

/* The same count over sign-flipped keys (the model's levels, lidx_int.h):
 * keys <= q, with q prepared once per lookup by lidx_qf_*.  AVX2 counts
 * keys < q + 1: one compare per four keys, with the keys as its memory
 * operand and no xor.  That is exact for q < UINT64_MAX only: q + 1 wraps
 * and the AVX2 count for UINT64_MAX is 0, which the routing clamps and
 * bottom_seg (lindex.c) then replaces.  The scalar and AVX-512 counts are
 * exact for every q. */
static inline int64_t lidx_qf_scalar(uint64_t q)
{
    return (int64_t)(q ^ LIDX_SIGN);
}

static inline size_t lidx_cf_scalar(const uint64_t *kf, size_t w, int64_t qf)
{
    size_t c = 0;
    for (size_t i = 0; i < w; i++) c += (int64_t)kf[i] <= qf;
    return c;
}

LIDX_T_AVX2 static inline __m256i lidx_qf_avx2(uint64_t q)
{
    return _mm256_set1_epi64x((long long)((q + 1) ^ LIDX_SIGN));
}

LIDX_T_AVX2 static inline size_t lidx_cf_avx2(const uint64_t *kf, size_t w, __m256i qv)
{
    __m256i lt = _mm256_setzero_si256();
#pragma GCC unroll 10
    for (size_t i = 0; i < w; i += 4) /* lanes are -1 where key < q + 1 */
        lt = _mm256_sub_epi64(lt, _mm256_cmpgt_epi64(qv, _mm256_loadu_si256((const __m256i *)(kf + i))));
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(lt), _mm256_extracti128_si256(lt, 1));
    h = _mm_add_epi64(h, _mm_unpackhi_epi64(h, h));
    return (size_t)_mm_cvtsi128_si64(h);
}

LIDX_T_AVX512 static inline __m512i lidx_qf_avx512(uint64_t q)
{
    return _mm512_set1_epi64((long long)(q ^ LIDX_SIGN));
}

LIDX_T_AVX512 static inline size_t lidx_cf_avx512(const uint64_t *kf, size_t w, __m512i qv)
{
    return lidx_c512(kf, w, qv, 1);
}

#endif
