/*
 * vdist.h -- distance kernels of the vector module (float32 and int8),
 * chosen at run time among AVX-512, AVX2 and scalar versions.
 *
 * Every kernel computes over exactly n components and never reads past
 * them (tails are scalar), so vectors need no padding.  int8 kernels
 * accumulate in int32: with q in [-128, 127] a sum of squared differences
 * of up to 32768 components fits (255^2 * 32768 < 2^31).
 *
 * dot_i8s is dot_i8 given the sum of b's components: the AVX-512 VNNI
 * variant multiplies a + 128 (unsigned) by b with one instruction per 64
 * components and subtracts 128 * bsum; the others ignore bsum.  With
 * fast_dot set, a squared L2 distance is cheaper as |a|^2 + |b|^2 - 2 a.b
 * from stored square sums than through l2_i8.
 */
#ifndef OMEN_VDIST_H
#define OMEN_VDIST_H

#include <stddef.h>
#include <stdint.h>

enum { VDIST_AUTO = 0, VDIST_SCALAR = 1, VDIST_AVX2 = 2, VDIST_AVX512 = 3, VDIST_AVX512VNNI = 4 };

typedef struct vdist_kernels {
    /* b: dim float32 at any byte address (a value in place in a mapped run) */
    float (*l2_f32)(const float *a, const void *b, size_t n);  /* sum (a-b)^2 */
    float (*dot_f32)(const float *a, const void *b, size_t n); /* sum a*b     */
    int32_t (*l2_i8)(const int8_t *a, const int8_t *b, size_t n);
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
    int32_t (*dot_i8s)(const int8_t *a, const int8_t *b, int32_t bsum, size_t n);
    /* Per-vector preparation (every query pays it).  sumsq: sum x^2 in
     * double.  scale: out = (float)(x * f), in double.  range: lowest and
     * highest component (n > 0).  quant: codes of (x - off) * inv, clamped
     * to [-128, 127], rounded to nearest-even; identical in every variant. */
    double (*sumsq)(const float *x, size_t n);
    void (*scale)(const float *x, double f, float *out, size_t n);
    void (*range)(const float *x, size_t n, float *lo, float *hi);
    void (*quant)(const float *x, float off, float inv, int8_t *out, size_t n);
    int fast_dot;
    int variant;
} vdist_kernels;

/* The kernels of `variant` (VDIST_AUTO: the best this CPU runs; an
 * unsupported request falls back to the best supported). Static storage. */
const vdist_kernels *vdist_get(int variant);
/* 1 if this CPU (or the emulation build) can run `variant`. */
int vdist_supported(int variant);

#endif
