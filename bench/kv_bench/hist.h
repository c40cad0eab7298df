/*
 * hist.h -- a log-bucket latency histogram (the HdrHistogram layout):
 * values below 2^(HIST_BITS+1) ns get a bucket each; above, every power of
 * two is cut into 2^HIST_BITS equal buckets, so a bucket is never wider
 * than 1/2^HIST_BITS (3.1%) of its values.  Recording is one index
 * computation and an increment; memory is fixed (about 15 KiB) however
 * many samples arrive, and histograms of threads and repetitions merge by
 * adding counts.  The exact minimum and maximum are kept beside the counts.
 */
#ifndef KV_HIST_H
#define KV_HIST_H

#include <stdint.h>

#define HIST_BITS 5
#define HIST_SUB (1u << HIST_BITS)
#define HIST_NB ((64 - HIST_BITS) * HIST_SUB + HIST_SUB)

typedef struct {
    uint64_t n, min, max;
    uint64_t count[HIST_NB];
} hist_t;

void hist_init(hist_t *h);

static inline unsigned hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)), e > HIST_BITS */
    return (e - HIST_BITS) * HIST_SUB + (unsigned)(v >> (e - HIST_BITS));
}

static inline void hist_add(hist_t *h, uint64_t v)
{
    h->count[hist_index(v)]++;
    h->n++;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_merge(hist_t *into, const hist_t *from);

/* The value at quantile q in [0, 1]: the highest value of the bucket that
 * holds the ceil(q * n)-th smallest sample (never above the exact maximum),
 * so the answer overstates the true quantile by at most one bucket width.
 * 0 when the histogram is empty. */
uint64_t hist_quantile(const hist_t *h, double q);

#endif
