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
    int fast_dot;
    int variant;
} vdist_kernels;

/* The kernels of `variant` (VDIST_AUTO: the best this CPU runs; an
 * unsupported request falls back to the best supported). Static storage. */
const vdist_kernels *vdist_get(int variant);
/* 1 if this CPU (or the emulation build) can run `variant`. */
int vdist_supported(int variant);

#endif
