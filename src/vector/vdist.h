/*
 * vdist.h -- distance kernels of the vector module (float32 and int8),
 * chosen at run time among AVX-512, AVX2 and scalar versions.
 *
 * Every kernel computes over exactly n components and never reads past
 * them (tails are scalar), so vectors need no padding.  int8 kernels
 * accumulate in int32: with |q| <= 127 a sum of squared differences of up
 * to 32768 components fits (254^2 * 32768 < 2^31).
 */
#ifndef OMEN_VDIST_H
#define OMEN_VDIST_H

#include <stddef.h>
#include <stdint.h>

enum { VDIST_AUTO = 0, VDIST_SCALAR = 1, VDIST_AVX2 = 2, VDIST_AVX512 = 3 };

typedef struct vdist_kernels {
    float (*l2_f32)(const float *a, const float *b, size_t n);  /* sum (a-b)^2 */
    float (*dot_f32)(const float *a, const float *b, size_t n); /* sum a*b     */
    int32_t (*l2_i8)(const int8_t *a, const int8_t *b, size_t n);
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
    int variant;
} vdist_kernels;

/* The kernels of `variant` (VDIST_AUTO: the best this CPU runs; an
 * unsupported request falls back to the best supported). Static storage. */
const vdist_kernels *vdist_get(int variant);
/* 1 if this CPU (or the emulation build) can run `variant`. */
int vdist_supported(int variant);

#endif
