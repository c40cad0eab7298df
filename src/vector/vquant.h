/*
 * vquant.h -- the scalar quantizer: float32 components to signed bytes.
 *
 * One scale and one offset per set (not per dimension): x ~ q * scale +
 * offset with q in [-128, 127], the trained range mapped onto all 256
 * codes, so data that already has 256 evenly spaced levels (8-bit pixels,
 * SIFT's byte components) is encoded without loss.  A single affine map keeps squared L2 proportional (d(x,y) ~
 * scale^2 * d(q,q')); dot products need one correction term from each
 * vector's component sum (hnsw.c), so int8 kernels rank candidates without
 * any per-dimension work; the few best are then re-ranked with the exact
 * float32 vectors.  Components outside the trained
 * range are clipped (only the ranking of traversal suffers, never the final
 * scores).
 */
#ifndef OMEN_VQUANT_H
#define OMEN_VQUANT_H

#include <stddef.h>
#include <stdint.h>

typedef struct vquant {
    float scale;  /* > 0 */
    float offset; /* 0 unless the metric is L2 */
} vquant;

/* Derive the map from n sample vectors (row-major, dim each).  centered: 1
 * puts the offset at the middle of the range, 0 keeps it at 0. */
void vquant_train(vquant *q, const float *vecs, size_t n, uint32_t dim, int centered);
void vquant_encode(const vquant *q, const float *x, int8_t *out, uint32_t dim);
void vquant_decode(const vquant *q, const int8_t *in, float *out, uint32_t dim);
/* 1 if codes (the encoding of x) decode to exactly x, component by
 * component: distances between such vectors computed on the codes are the
 * float32 distances, so they need no re-ranking. */
int vquant_exact(const vquant *q, const float *x, const int8_t *codes, uint32_t dim);

#endif
