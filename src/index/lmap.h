/*
 * lmap.h -- a learned offset map: a piecewise-linear model of a
 * non-decreasing integer function x -> y (in OmenDB: entry position ->
 * byte offset of its value in a sorted-run file), with every point it was
 * fed predicted within +-eps.
 *
 * Why: a point read finds its entry's position with the learned index, but
 * the value's address sits in the entry's record, so the value's cache and
 * TLB misses would wait for the record's.  Values are packed in entry order,
 * so their offsets are a near-linear function of the position (one segment
 * for fixed-size values); predicting the offset lets the reader prefetch the
 * value in parallel with the record.  The prediction is only a hint: readers
 * always take the exact offset from the record.
 *
 * Built in one streaming pass (the shrinking-cone method: each segment
 * starts at its first point and keeps the interval of slopes that hold every
 * later point within eps; an empty interval starts the next segment).  The
 * builder gives up (OMEN_TOOBIG) when the function is too irregular for the
 * segment budget, so the map's memory stays bounded by the caller.
 *
 * Thread-safety: immutable after lmap_finish; any number of threads may
 * call lmap_predict concurrently.
 */
#ifndef OMEN_LMAP_H
#define OMEN_LMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct lmap_seg {
    uint64_t x0, y0; /* the segment's first point          */
    double slope;    /* y = y0 + slope * (x - x0), +-eps    */
} lmap_seg;

typedef struct lmap {
    lmap_seg *segs; /* util_malloc'ed; nsegs after lmap_finish */
    size_t nsegs, cap, max_segs;
    double eps;
    double lo, hi;   /* open segment's slope interval       */
    uint64_t last_x; /* last x added (x must increase)      */
    uint64_t last_y; /* last y added (y must not decrease)  */
    int open;        /* a segment has been started          */
} lmap;

/* Start an empty map (no allocation yet).  eps >= 0 is the error bound in
 * y units; max_segs bounds the segments (and so the memory: 24 bytes each). */
void lmap_init(lmap *m, uint32_t eps, size_t max_segs);

/* Feed the next point.  x must be greater than every earlier x and y must
 * not be below any earlier y: OMEN_INVALID otherwise.  OMEN_TOOBIG when the
 * points need more than max_segs segments, OMEN_NOMEM; after any error the
 * map must only be freed. */
int lmap_add(lmap *m, uint64_t x, uint64_t y);

/* Close the last segment; the map is then read-only. */
void lmap_finish(lmap *m);

/* Release the segments; the map is then empty (predictions fail).  NULL ok. */
void lmap_free(lmap *m);

/* Predicted y for x: within +-eps of the true y for every x that was added.
 * Returns 0 and sets nothing when the map is empty. */
static inline uint64_t lmap_predict(const lmap *m, uint64_t x)
{
    size_t lo = 0, n = m->nsegs;
    if (n == 0) return 0;
    /* Last segment whose x0 <= x (the first when x precedes them all). */
    while (n > 1) {
        size_t half = n / 2;
        if (m->segs[lo + half].x0 <= x) lo += half;
        n -= half;
    }
    const lmap_seg *s = &m->segs[lo];
    double y = (double)s->y0 + s->slope * ((double)x - (double)s->x0);
    if (y <= 0) return 0;
    return y >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)y;
}

#endif
