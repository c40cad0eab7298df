/*
 * vquant.c -- scalar quantizer (vquant.h).
 */
#include <math.h>

#include "vector/vquant.h"

void vquant_train(vquant *q, const float *vecs, size_t n, uint32_t dim, int centered)
{
    float lo = INFINITY, hi = -INFINITY, amax = 0;
    for (size_t i = 0; i < n * dim; i++) {
        float v = vecs[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (fabsf(v) > amax) amax = fabsf(v);
    }
    if (n == 0 || !(hi >= lo)) {
        q->scale = 1.0f / 127.0f;
        q->offset = 0;
        return;
    }
    if (centered) {
        /* lo -> -128, hi -> 127: 255 steps. */
        q->scale = (hi - lo) / 255.0f;
        q->offset = lo + 128.0f * q->scale;
    } else {
        q->offset = 0;
        q->scale = amax / 127.0f;
    }
    /* A small sample under-estimates the range: leave room. */
    if (n < 100) q->scale *= 1.5f;
    if (!(q->scale > 1e-30f)) q->scale = 1.0f / 127.0f;
}

void vquant_fit(vquant *q, float lo, float hi)
{
    q->scale = (hi - lo) / 255.0f;
    if (!(q->scale > 1e-30f) || !isfinite(q->scale)) {
        /* Constant (or not finite: callers reject those first): every
         * code 0, decoding to exactly the offset. */
        q->scale = 1.0f;
        q->offset = isfinite(lo) ? lo : 0;
        return;
    }
    q->offset = lo + 128.0f * q->scale;
}

void vquant_decode(const vquant *q, const int8_t *in, float *out, uint32_t dim)
{
    for (uint32_t i = 0; i < dim; i++) out[i] = (float)in[i] * q->scale + q->offset;
}

int vquant_exact(const vquant *q, const float *x, const int8_t *codes, uint32_t dim)
{
    for (uint32_t i = 0; i < dim; i++)
        if ((float)codes[i] * q->scale + q->offset != x[i]) return 0;
    return 1;
}
