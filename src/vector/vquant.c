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

void vquant_fit(vquant *q, const float *x, uint32_t dim)
{
    /* four independent lanes: a query pays this on every search */
    float l[4] = {INFINITY, INFINITY, INFINITY, INFINITY}, h[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    uint32_t i = 0;
    for (; i + 4 <= dim; i += 4)
        for (int j = 0; j < 4; j++) {
            l[j] = x[i + j] < l[j] ? x[i + j] : l[j];
            h[j] = x[i + j] > h[j] ? x[i + j] : h[j];
        }
    for (; i < dim; i++) {
        l[0] = x[i] < l[0] ? x[i] : l[0];
        h[0] = x[i] > h[0] ? x[i] : h[0];
    }
    float lo = fminf(fminf(l[0], l[1]), fminf(l[2], l[3]));
    float hi = fmaxf(fmaxf(h[0], h[1]), fmaxf(h[2], h[3]));
    q->scale = (hi - lo) / 255.0f;
    if (!(q->scale > 1e-30f) || !isfinite(q->scale)) {
        /* Constant (or empty, or not finite: callers reject those first):
         * every code 0, decoding to exactly the offset. */
        q->scale = 1.0f;
        q->offset = dim && isfinite(lo) ? lo : 0;
        return;
    }
    q->offset = lo + 128.0f * q->scale;
}

void vquant_encode(const vquant *q, const float *x, int8_t *out, uint32_t dim)
{
    float inv = 1.0f / q->scale;
    /* Clamped first, then rounded to nearest-even by adding and removing
     * 1.5 * 2^23 (exact for |v| < 2^22; what rintf does in the default
     * rounding mode, without a call per component). */
    const float magic = 12582912.0f;
    for (uint32_t i = 0; i < dim; i++) {
        float v = (x[i] - q->offset) * inv;
        v = v > 127.0f ? 127.0f : v;
        v = v < -128.0f ? -128.0f : v;
        out[i] = (int8_t)(int)((v + magic) - magic);
    }
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
