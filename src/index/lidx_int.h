/*
 * lidx_int.h -- internals of the learned index shared by its .c files
 * (lindex.c: model, build and serialization, with the query paths of
 * lquery_impl.h; lstr.c: byte-string keys).  Not part of the contract.
 *
 * Layout: levels[0] is the bottom level (its segments predict positions in
 * the caller's key array); levels[L] (L >= 1) predicts positions in
 * levels[L-1].keys; the top level has at most LIDX_TOP_MAX segments and
 * is counted, not descended (an image of format version 1 has a single
 * root, one of version 2 a top of at most 32 segments).
 * Each level keeps its segment start keys in a contiguous array (counted
 * with SIMD compares) and the line parameters in a parallel array, so
 * routing touches keys only and prediction one pair.  In memory the level
 * keys are stored sign-flipped (key ^ 2^63, lidx_unflip): AVX2 has only a
 * signed 64-bit compare, and a flipped array saves the xor per four keys
 * that the data array (the caller's) still needs.  Images hold them plain.
 *
 * A segment predicts  pos(q) = icept + slope * (q - key)  in double; the
 * build guarantees |pos(x) - y| <= eps exactly (integer hull arithmetic,
 * line chosen in long double), and queries search [floor(pos) - eps,
 * floor(pos) + eps + LIDX_SLACK): the extra positions absorb double
 * rounding and the one-position step between a key and its successor, so
 * results are always exact (the argument is in lindex.c).
 */
#ifndef OMEN_LIDX_INT_H
#define OMEN_LIDX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "index/lindex.h"
#include "index/lsearch.h"
#include "index/lsearch_impl.h"

#define LIDX_MAGIC 0x584c4d4fu /* "OMLX" little-endian */
#define LIDX_FORMAT_VERSION 3u
#define LIDX_MAX_EPSILON (1u << 20)
#define LIDX_MAX_LEVELS 48
/* Epsilon of the upper (routing) levels. */
#ifndef LIDX_DEFAULT_EPSILON_REC
#define LIDX_DEFAULT_EPSILON_REC 8u
#endif
/* Window end beyond floor(pos) + eps: see the header comment. */
#define LIDX_SLACK 2
/* Upper levels are built until one has at most this many segments; queries
 * count that top level instead of descending from a single root.  A top of
 * up to LIDX_TOP_FLAT segments is counted whole; a larger one in two steps:
 * its every 8th key (the summary, struct lidx) picks a block of 8, which is
 * counted next.  6 compares for 128 keys spare 100M keys a third level
 * (124 segments at that size), and the routing step it would take. */
#define LIDX_TOP_MAX 128
#define LIDX_TOP_FLAT 32
#define LIDX_TOP_SUM (LIDX_TOP_MAX / 8)
/* The top level's limit in images of format version 2 (version 1: a single
 * root). */
#define LIDX_TOP_MAX_V2 32
/* Routing windows are counted whole (lidx_c_*), so a loaded model's
 * eps_rec is bounded to keep the per-level padding small. */
#define LIDX_MAX_EPSILON_REC 256
/* Keys in a window of epsilon e that no end of the array clips
 * (seg_window), and the keys counted for it: that, rounded up to the 4
 * keys of an AVX2 compare. */
#define LIDX_SPAN(e) (2 * (size_t)(e) + LIDX_SLACK)
#define LIDX_WIDTH(e) ((LIDX_SPAN(e) + 3) & ~(size_t)3)
typedef struct {
    double slope;
    double icept;
} lidx_par;

/* Sizes in a serialized image (lindex.c has its layout): the header, and
 * one segment (key, slope, intercept). */
#define LIDX_IMG_HDR 32u
#define LIDX_IMG_SEG 24u

/* In memory each level is padded: keys[m .. m + pad) hold UINT64_MAX
 * (flipped), so a routing count may read a fixed rw keys from any start
 * <= m (and the top level's blocks and flat count stay within it), and
 * par[m].icept is the size of the array the level predicts into, so "the
 * next segment's start" needs no bounds test and also caps the last
 * segment's prediction.  The image on disk holds only the m real
 * segments. */
/* A level key as stored in memory, back to its value (and the reverse). */
static inline uint64_t lidx_unflip(uint64_t k)
{
    return k ^ LIDX_SIGN;
}

typedef struct {
    uint64_t *keys; /* m segment start keys (flipped), strictly increasing, + padding */
    lidx_par *par;  /* m line parameters + one sentinel */
    size_t m;
} lidx_level;

struct lidx {
    unsigned eps;
    unsigned eps_rec;
    size_t nkeys;
    size_t nlevels; /* 0 only for an empty model */
    size_t rw;      /* keys counted per routing step: 2 eps_rec + slack, rounded up to 4 */
    size_t dw;      /* keys counted in a data window: 2 eps + slack, rounded up to 4 */
    size_t pad;     /* UINT64_MAX keys after each level: max(rw, LIDX_TOP_MAX + 8), so
                     * a top level's block of 8 may start at any summary count */
    uint64_t first; /* the first key (unflipped) */
    int lean;       /* has levels and the default epsilons: lookups take lbd_ */
    uint64_t topsum[LIDX_TOP_SUM]; /* top keys 7, 15, ..., flipped, padding past the top's m */
    lidx_level lv[LIDX_MAX_LEVELS];
    /* A model of at least LIDX_HUGE_MIN bytes lives in one huge-page
     * mapping (lindex.c, model_pad): all levels' keys and parameters,
     * which the levels then point into.  NULL when on the heap. */
    void *arena;
    size_t arena_len;
};

/* Models this large go to huge pages: at 100M keys the bottom level
 * (2.4 MB) is out of the L2 and each lookup's routing touches two of its
 * pages, whose 4 KiB TLB entries the data array's misses keep evicting. */
#define LIDX_HUGE_MIN ((size_t)1 << 20)

#endif
