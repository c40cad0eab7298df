/*
 * hist.c -- merging and reading kv_bench's latency histograms (hist.h).
 */
#include <math.h>
#include <string.h>

#include "hist.h"

void hist_init(hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void hist_merge(hist_t *into, const hist_t *from)
{
    for (unsigned i = 0; i < HIST_NB; i++)
        into->count[i] += from->count[i];
    into->n += from->n;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

/* The largest value that falls into bucket i. */
static uint64_t bucket_high(unsigned i)
{
    if (i < 2 * HIST_SUB)
        return i;
    unsigned e = i / HIST_SUB + HIST_BITS - 1;
    uint64_t sub = i % HIST_SUB + HIST_SUB;
    unsigned shift = e - HIST_BITS;
    return (sub << shift) + ((1ull << shift) - 1);
}

uint64_t hist_quantile(const hist_t *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    if (rank > h->n)
        rank = h->n;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_NB; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            uint64_t v = bucket_high(i);
            return v > h->max ? h->max : v < h->min ? h->min : v;
        }
    }
    return h->max;
}
