/*
 * vquant.h -- the scalar quantizer: float32 components to signed bytes.
 *
 * A map x ~ q * scale + offset with q in [-128, 127], a range mapped onto
 * all 256 codes, so data that already has 256 evenly spaced levels (8-bit
 * pixels, SIFT's byte components) is encoded without loss.  L2 sets use one
 * map for the whole set (vquant_train): squared L2 then stays proportional
 * (d(x,y) ~ scale^2 * d(q,q')).  Dot-product sets (cosine, inner product)
 * give each vector its own map (vquant_fit, the locally adaptive scheme):
 * unit vectors of different spread then each use the whole code range,
 * several times finer than a shared range allows, and a dot product of two
 * encoded vectors still needs only the integer dot product and each side's
 * code sum, scale and offset (hnsw.c).  int8 kernels rank candidates; the
 * few best are then re-ranked with the exact float32 vectors.  Components
 * outside a trained range are clipped (only the ranking of traversal
 * suffers, never the final scores).
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
/* The map of one vector from its lowest and highest component: lo to
 * -128, hi to 127 (a constant vector gets scale 1 and its value as the
 * offset, code 0).  Codes come from vdist's quant kernel:
 * (x - offset) / scale, clamped, rounded to nearest. */
void vquant_fit(vquant *q, float lo, float hi);
void vquant_decode(const vquant *q, const int8_t *in, float *out, uint32_t dim);
/* 1 if codes (the encoding of x) decode to exactly x, component by
 * component: distances between such vectors computed on the codes are the
 * float32 distances, so they need no re-ranking. */
int vquant_exact(const vquant *q, const float *x, const int8_t *codes, uint32_t dim);

#endif
