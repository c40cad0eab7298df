/*
 * vdist.c -- distance kernels (see vdist.h).
 *
 * Compiled per function with target attributes (the project is not built
 * with -march=native) and picked once at run time.  The AVX-512 variant
 * needs AVX-512F and BW (int8 lanes widened to int16 for madd).  The
 * emulated build (tests/avx512_emu.h over SIMDe, which aliases AVX-512F
 * only; mk/vector.mk test-emu512-vec) compiles an F-only int8 variant
 * instead (int8 widened to int32), so both the float kernels and the int8
 * logic are checked on CPUs without AVX-512; the BW encoding itself runs in
 * the ordinary test build on CPUs that have it.  Floating-point sums are
 * accumulated in a different order by each variant, so results agree to
 * rounding, not bit for bit; int8 results are identical.  The VNNI
 * variant (AVX-512 plus VPDPBUSD) differs only in dot_i8s; emulated, its
 * VPDPBUSD is SIMDe's.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "vector/vdist.h"

/* b's components of the float kernels may lie at any byte address (an
 * element's value inside a mapped run): the SIMD loads are unaligned ones,
 * and a scalar read goes through memcpy (one plain load). */
static inline float vd_ldf(const void *b, size_t i)
{
    float v;
    memcpy(&v, (const char *)b + 4 * i, 4);
    return v;
}
#define VD_BP(b, i) ((const float *)(const void *)((const char *)(b) + 4 * (i)))

#define VD_T_AVX2 __attribute__((target("avx2,fma")))
#ifdef LIDX_EMULATE_AVX512
#define VD_T_AVX512
#define VD_Z512()
/* SIMDe 0.7.4 has no reductions and no int8->int32 widening: spell them
 * with stores and loads (the arithmetic between stays AVX-512). */
static inline float vd_radd_ps(__m512 v)
{
    float t[16], s = 0;
    _mm512_storeu_ps(t, v);
    for (int i = 0; i < 16; i++) s += t[i];
    return s;
}
static inline int32_t vd_radd_epi32(__m512i v)
{
    int32_t t[16], s = 0;
    _mm512_storeu_si512(t, v);
    for (int i = 0; i < 16; i++) s += t[i];
    return s;
}
static inline __m512i vd_cvt8_32(const int8_t *p)
{
    int32_t t[16];
    for (int i = 0; i < 16; i++) t[i] = p[i];
    return _mm512_loadu_si512(t);
}
#define VD_RADD_PS(x) vd_radd_ps(x)
#define VD_RADD_EPI32(x) vd_radd_epi32(x)
#else
#define VD_RADD_PS(x) _mm512_reduce_add_ps(x)
#define VD_RADD_EPI32(x) _mm512_reduce_add_epi32(x)
#define VD_T_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define VD_Z512() _mm256_zeroupper()
#endif
/* Every SIMD kernel clears the upper register halves before returning:
 * its callers are compiled for baseline x86-64 (SSE), and SSE code after
 * dirty AVX state runs with a false dependency or a state-transition
 * penalty on every instruction (measured: a raw int8 graph search took 148
 * instead of 24 us per query
 * without this). */

/* ---- scalar ---- */

static float l2_f32_scalar(const float *a, const void *b, size_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float d0 = a[i] - vd_ldf(b, i), d1 = a[i + 1] - vd_ldf(b, i + 1), d2 = a[i + 2] - vd_ldf(b, i + 2),
              d3 = a[i + 3] - vd_ldf(b, i + 3);
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; i++) {
        float d = a[i] - vd_ldf(b, i);
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

static float dot_f32_scalar(const float *a, const void *b, size_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * vd_ldf(b, i);
        s1 += a[i + 1] * vd_ldf(b, i + 1);
        s2 += a[i + 2] * vd_ldf(b, i + 2);
        s3 += a[i + 3] * vd_ldf(b, i + 3);
    }
    for (; i < n; i++) s0 += a[i] * vd_ldf(b, i);
    return (s0 + s1) + (s2 + s3);
}

/* ---- per-query preparation (scalar) ---- */

static double sumsq_scalar(const float *x, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += (double)x[i] * x[i];
        s1 += (double)x[i + 1] * x[i + 1];
        s2 += (double)x[i + 2] * x[i + 2];
        s3 += (double)x[i + 3] * x[i + 3];
    }
    for (; i < n; i++) s0 += (double)x[i] * x[i];
    return (s0 + s1) + (s2 + s3);
}

static void scale_scalar(const float *x, double f, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = (float)(x[i] * f);
}

static void range_scalar(const float *x, size_t n, float *lo, float *hi)
{
    float l = INFINITY, h = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        l = x[i] < l ? x[i] : l;
        h = x[i] > h ? x[i] : h;
    }
    *lo = l;
    *hi = h;
}

/* Clamped first, then rounded to nearest-even by adding and removing
 * 1.5 * 2^23 (exact for |v| < 2^22: what rintf does in the default
 * rounding mode, without a call per component). */
static void quant_scalar(const float *x, float off, float inv, int8_t *out, size_t n)
{
    const float magic = 12582912.0f;
    for (size_t i = 0; i < n; i++) {
        float v = (x[i] - off) * inv;
        v = v > 127.0f ? 127.0f : v;
        v = v < -128.0f ? -128.0f : v;
        out[i] = (int8_t)(int)((v + magic) - magic);
    }
}

static int32_t l2_i8_scalar(const int8_t *a, const int8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += d * d;
    }
    return s;
}

static int32_t dot_i8_scalar(const int8_t *a, const int8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

/* ---- AVX2 ---- */

VD_T_AVX2 static inline float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

VD_T_AVX2 static inline int32_t hsum256i(__m256i v)
{
    __m128i lo = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4e));
    lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xb1));
    return _mm_cvtsi128_si32(lo);
}

VD_T_AVX2 static float l2_f32_avx2(const float *a, const void *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(VD_BP(b, i)));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(VD_BP(b, i + 8)));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(VD_BP(b, i)));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    _mm256_zeroupper();
    for (; i < n; i++) {
        float d = a[i] - vd_ldf(b, i);
        s += d * d;
    }
    return s;
}

VD_T_AVX2 static float dot_f32_avx2(const float *a, const void *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(VD_BP(b, i)), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(VD_BP(b, i + 8)), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(VD_BP(b, i)), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    _mm256_zeroupper();
    for (; i < n; i++) s += a[i] * vd_ldf(b, i);
    return s;
}

/* 16 int8 lanes widened to int16; differences then fit int16 (|d| <= 255)
 * and madd squares and pairs them into int32. */
VD_T_AVX2 static int32_t l2_i8_avx2(const int8_t *a, const int8_t *b, size_t n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256i a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i + 16)));
        __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i + 16)));
        __m256i d0 = _mm256_sub_epi16(a0, b0), d1 = _mm256_sub_epi16(a1, b1);
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(d0, d0));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(d1, d1));
    }
    for (; i + 16 <= n; i += 16) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256i d0 = _mm256_sub_epi16(a0, b0);
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(d0, d0));
    }
    int32_t s = hsum256i(_mm256_add_epi32(s0, s1));
    _mm256_zeroupper();
    for (; i < n; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += d * d;
    }
    return s;
}

VD_T_AVX2 static int32_t dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n)
{
    __m256i s0 = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
    }
    int32_t s = hsum256i(s0);
    _mm256_zeroupper();
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

/* Per-query preparation.  Each gives the scalar version's result bit for
 * bit (the same operations per component), except sumsq, whose partial
 * sums are added in another order. */
VD_T_AVX2 static double sumsq_avx2(const float *x, size_t n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d a = _mm256_cvtps_pd(_mm_loadu_ps(x + i)), b = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
        s0 = _mm256_fmadd_pd(a, a, s0);
        s1 = _mm256_fmadd_pd(b, b, s1);
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
    _mm256_zeroupper();
    double s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

VD_T_AVX2 static void scale_avx2(const float *x, double f, float *out, size_t n)
{
    __m256d vf = _mm256_set1_pd(f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), vf)));
    _mm256_zeroupper();
    for (; i < n; i++) out[i] = (float)(x[i] * f);
}

VD_T_AVX2 static void range_avx2(const float *x, size_t n, float *lo, float *hi)
{
    __m256 l = _mm256_set1_ps(INFINITY), h = _mm256_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        l = _mm256_min_ps(l, v);
        h = _mm256_max_ps(h, v);
    }
    float tl[8], th[8];
    _mm256_storeu_ps(tl, l);
    _mm256_storeu_ps(th, h);
    _mm256_zeroupper();
    float a, b, ta, tb;
    range_scalar(tl, 8, &a, &tb);
    range_scalar(th, 8, &ta, &b);
    range_scalar(x + i, n - i, &ta, &tb); /* the tail (none: +inf, -inf) */
    *lo = ta < a ? ta : a;
    *hi = tb > b ? tb : b;
}

VD_T_AVX2 static void quant_avx2(const float *x, float off, float inv, int8_t *out, size_t n)
{
    __m256 vo = _mm256_set1_ps(off), vi = _mm256_set1_ps(inv);
    __m256 top = _mm256_set1_ps(127.0f), bot = _mm256_set1_ps(-128.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vo), vi);
        v = _mm256_max_ps(_mm256_min_ps(v, top), bot);
        __m256i q = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        /* 8 int32 in [-128, 127] to 8 bytes */
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(void *)(out + i), _mm_packs_epi16(w, w));
    }
    _mm256_zeroupper();
    quant_scalar(x + i, off, inv, out + i, n - i);
}

/* ---- AVX-512F ---- */

VD_T_AVX512 static float l2_f32_avx512(const float *a, const void *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(VD_BP(b, i)));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(VD_BP(b, i + 16)));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(VD_BP(b, i)));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    float s = VD_RADD_PS(_mm512_add_ps(s0, s1));
    VD_Z512();
    for (; i < n; i++) {
        float d = a[i] - vd_ldf(b, i);
        s += d * d;
    }
    return s;
}

VD_T_AVX512 static float dot_f32_avx512(const float *a, const void *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(VD_BP(b, i)), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(VD_BP(b, i + 16)), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(VD_BP(b, i)), s0);
    float s = VD_RADD_PS(_mm512_add_ps(s0, s1));
    VD_Z512();
    for (; i < n; i++) s += a[i] * vd_ldf(b, i);
    return s;
}

#ifdef LIDX_EMULATE_AVX512
/* Emulated build: AVX-512F only (SIMDe aliases F), int8 widened to int32. */
VD_T_AVX512 static int32_t l2_i8_avx512(const int8_t *a, const int8_t *b, size_t n)
{
    __m512i s0 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i a0 = vd_cvt8_32(a + i);
        __m512i b0 = vd_cvt8_32(b + i);
        __m512i d = _mm512_sub_epi32(a0, b0);
        s0 = _mm512_add_epi32(s0, _mm512_mullo_epi32(d, d));
    }
    int32_t s = VD_RADD_EPI32(s0);
    VD_Z512();
    for (; i < n; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += d * d;
    }
    return s;
}

VD_T_AVX512 static int32_t dot_i8_avx512(const int8_t *a, const int8_t *b, size_t n)
{
    __m512i s0 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i a0 = vd_cvt8_32(a + i);
        __m512i b0 = vd_cvt8_32(b + i);
        s0 = _mm512_add_epi32(s0, _mm512_mullo_epi32(a0, b0));
    }
    int32_t s = VD_RADD_EPI32(s0);
    VD_Z512();
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}
#else
/* Native: AVX-512BW widens 32 int8 lanes to int16 and madd squares and
 * pairs them (a 32-bit multiply would cost twice the uops). */
#define VD_T_AVX512BW __attribute__((target("avx512f,avx512bw,avx2,fma")))
VD_T_AVX512BW static int32_t l2_i8_avx512(const int8_t *a, const int8_t *b, size_t n)
{
    __m512i s0 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        __m512i d = _mm512_sub_epi16(a0, b0);
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(d, d));
    }
    int32_t s = VD_RADD_EPI32(s0);
    if (i + 16 <= n) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256i d = _mm256_sub_epi16(a0, b0);
        s += hsum256i(_mm256_madd_epi16(d, d));
        i += 16;
    }
    _mm256_zeroupper();
    for (; i < n; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += d * d;
    }
    return s;
}

VD_T_AVX512BW static int32_t dot_i8_avx512(const int8_t *a, const int8_t *b, size_t n)
{
    __m512i s0 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
    }
    int32_t s = VD_RADD_EPI32(s0);
    if (i + 16 <= n) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        s += hsum256i(_mm256_madd_epi16(a0, b0));
        i += 16;
    }
    _mm256_zeroupper();
    for (; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}
#endif

/* dot_i8s of the variants without VNNI: bsum is not needed. */
#define VD_DOT_I8S(name, dot)                                                              \
    static int32_t name(const int8_t *a, const int8_t *b, int32_t bsum, size_t n)         \
    {                                                                                      \
        (void)bsum;                                                                        \
        return dot(a, b, n);                                                               \
    }
VD_DOT_I8S(dot_i8s_scalar, dot_i8_scalar)
VD_DOT_I8S(dot_i8s_avx2, dot_i8_avx2)
VD_DOT_I8S(dot_i8s_avx512, dot_i8_avx512)

/* ---- AVX-512 VNNI ---- */

#ifdef LIDX_EMULATE_AVX512
#define VD_T_VNNI
#define VD_DPBUSD(acc, u, s) simde_mm512_dpbusd_epi32((acc), (u), (s))
#else
#define VD_T_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma")))
#define VD_DPBUSD(acc, u, s) _mm512_dpbusd_epi32((acc), (u), (s))
#endif

/* a ^ 0x80 is a + 128 read as unsigned, so VPDPBUSD sums (a + 128) * b:
 * a.b plus 128 * bsum, which the caller knows. */
VD_T_VNNI static int32_t dot_i8s_vnni(const int8_t *a, const int8_t *b, int32_t bsum, size_t n)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        __m512i a0 = _mm512_xor_si512(_mm512_loadu_si512(a + i), flip);
        __m512i a1 = _mm512_xor_si512(_mm512_loadu_si512(a + i + 64), flip);
        s0 = VD_DPBUSD(s0, a0, _mm512_loadu_si512(b + i));
        s1 = VD_DPBUSD(s1, a1, _mm512_loadu_si512(b + i + 64));
    }
    for (; i + 64 <= n; i += 64)
        s0 = VD_DPBUSD(s0, _mm512_xor_si512(_mm512_loadu_si512(a + i), flip), _mm512_loadu_si512(b + i));
    int32_t s = VD_RADD_EPI32(_mm512_add_epi32(s0, s1)) - 128 * bsum;
    VD_Z512();
    /* bsum counts the tail's b too: the tail adds (a + 128) * b alike */
    for (; i < n; i++) s += ((int32_t)a[i] + 128) * b[i];
    return s;
}

/* The AVX-512 variants prepare queries with the AVX2 kernels (a CPU with
 * AVX-512 has AVX2; preparation is a few hundred components per query). */
static const vdist_kernels k_scalar = {l2_f32_scalar, dot_f32_scalar, l2_i8_scalar, dot_i8_scalar,
                                       dot_i8s_scalar, sumsq_scalar, scale_scalar, range_scalar,
                                       quant_scalar, 0, VDIST_SCALAR};
static const vdist_kernels k_avx2 = {l2_f32_avx2, dot_f32_avx2, l2_i8_avx2, dot_i8_avx2,
                                     dot_i8s_avx2, sumsq_avx2, scale_avx2, range_avx2,
                                     quant_avx2, 0, VDIST_AVX2};
static const vdist_kernels k_avx512 = {l2_f32_avx512, dot_f32_avx512, l2_i8_avx512,
                                       dot_i8_avx512, dot_i8s_avx512, sumsq_avx2, scale_avx2,
                                       range_avx2, quant_avx2, 0, VDIST_AVX512};
static const vdist_kernels k_vnni = {l2_f32_avx512, dot_f32_avx512, l2_i8_avx512,
                                     dot_i8_avx512, dot_i8s_vnni, sumsq_avx2, scale_avx2,
                                     range_avx2, quant_avx2, 1, VDIST_AVX512VNNI};

int vdist_supported(int variant)
{
    __builtin_cpu_init();
    switch (variant) {
    case VDIST_AUTO:
    case VDIST_SCALAR: return 1;
    case VDIST_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case VDIST_AVX512:
#ifdef LIDX_EMULATE_AVX512
        return 1;
#else
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 1 : 0;
#endif
    case VDIST_AVX512VNNI:
#ifdef LIDX_EMULATE_AVX512
        return 1;
#else
        return vdist_supported(VDIST_AVX512) && __builtin_cpu_supports("avx512vnni") ? 1 : 0;
#endif
    default: return 0;
    }
}

const vdist_kernels *vdist_get(int variant)
{
    if (variant == VDIST_AUTO || !vdist_supported(variant)) {
#ifdef LIDX_EMULATE_AVX512
        variant = vdist_supported(VDIST_AVX2) ? VDIST_AVX2 : VDIST_SCALAR;
#else
        variant = vdist_supported(VDIST_AVX512VNNI) ? VDIST_AVX512VNNI
                  : vdist_supported(VDIST_AVX512)   ? VDIST_AVX512
                  : vdist_supported(VDIST_AVX2)     ? VDIST_AVX2
                                                    : VDIST_SCALAR;
#endif
    }
    switch (variant) {
    case VDIST_AVX512VNNI: return &k_vnni;
    case VDIST_AVX512: return &k_avx512;
    case VDIST_AVX2: return &k_avx2;
    default: return &k_scalar;
    }
}
