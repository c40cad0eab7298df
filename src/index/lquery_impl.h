/*
 * lquery_impl.h -- the learned index's query paths, written once and
 * compiled once per kernel set.  Only lindex.c includes it, three times,
 * each time after defining the instance's parameters:
 *
 *   LQ_SUFFIX  name suffix of its functions (scalar, avx2, avx512)
 *   LQ_ATTR    its target attribute (empty, LIDX_T_AVX2, LIDX_T_AVX512)
 *   LQ_KERNEL  the last-mile search kernel (lidx_k_*, lsearch_impl.h)
 *   LQ_COUNT   the count of keys < q in a fixed window (lidx_c_*)
 *   LQ_COUNTF  the count over sign-flipped keys (lidx_cf_*), of a query
 *              prepared by LQ_QF (lidx_qf_*)
 *
 * Each instance is compiled for its target, so the kernels inline into
 * every level's step; lindex.c's entry points pick an instance by the
 * current variant.  The functions are ordinary static functions named
 * <name>_<suffix> (route_avx2, lbd_scalar, ...), so a debugger steps
 * through them line by line.  They use lindex.c's helpers defined before
 * the inclusion (seg_predict, win_start, seg_window, bottom_seg,
 * LIDX_RW_DEFAULT, LIDX_DW_DEFAULT, LIDX_BATCH_G).  No include guard: the
 * file is meant to be included once per instance, and it undefines its
 * parameters at the end.
 */
#define LQ_CAT_(a, b) a##_##b
#define LQ_CAT(a, b) LQ_CAT_(a, b)
#define LQ_NAME(f) LQ_CAT(f, LQ_SUFFIX)

/* Route qs[0..g) to their bottom segments seg[0..g): exact for first
 * key < q < UINT64_MAX, in bounds for any q.  Count the top level (over 8
 * keys when it has that few, over 32 up to 32, else summary then block:
 * lidx_int.h), then one counted window of rw keys per level below it.  The
 * default epsilons pass constants for er/rw, so the counts unroll.  The
 * queries go through each level together, so their cache misses on a large
 * model overlap.  A single lookup (g = 1) has nothing to overlap with, so
 * at the bottom level it fetches the line parameters of every candidate
 * segment along with the keys it counts: the one found then does not wait
 * for a second miss (at 100M keys that level is 2.4 MB, out of the L2; the
 * levels above it are small and stay cached). */
LQ_ATTR static inline __attribute__((always_inline)) void LQ_NAME(route)(
    const lidx *m, const uint64_t *qs, size_t g, size_t *seg, size_t er, size_t rw)
{
    size_t L = m->nlevels - 1;
    const lidx_level *lv = &m->lv[L];
    const size_t top = lv->m;
    /* A count of 0 (q below the first key, which every caller answers
     * before using the segment) wraps and clamps to the last segment. */
    for (size_t i = 0; i < g; i++) {
        size_t c;
        if (top <= 8) {
            c = LQ_COUNTF(lv->keys, 8, LQ_QF(qs[i]));
        } else if (top <= LIDX_TOP_FLAT) {
            c = LQ_COUNTF(lv->keys, LIDX_TOP_FLAT, LQ_QF(qs[i]));
        } else { /* the summary picks a block of 8 (lidx_int.h) */
            c = 8 * LQ_COUNTF(m->topsum, LIDX_TOP_SUM, LQ_QF(qs[i]));
            c += LQ_COUNTF(lv->keys + c, 8, LQ_QF(qs[i]));
        }
        seg[i] = c - 1 < top ? c - 1 : top - 1;
    }
    for (; L > 0; L--) {
        const lidx_level *below = lv - 1;
        const size_t bm = below->m;
        for (size_t i = 0; i < g; i++) {
            size_t lo = win_start(seg_predict(lv, seg[i], qs[i]), er);
            lo = lo < bm ? lo : bm; /* a count may start in the padding, not past it */
            if (g == 1 && L == 1) { /* integer addresses: they may pass the end */
                uintptr_t pp = (uintptr_t)(below->par + lo);
#pragma GCC unroll 8
                for (size_t j = 0; j < rw * sizeof(lidx_par) / 64 + 1; j++)
                    __builtin_prefetch((const void *)(pp + 64 * j));
            }
            size_t c = lo + LQ_COUNTF(below->keys + lo, rw, LQ_QF(qs[i]));
            seg[i] = c - 1 < bm ? c - 1 : bm - 1;
        }
        lv = below;
    }
}

/* route_ with the model's widths, as constants when they are the
 * defaults (UINT64_MAX's segment is then bottom_seg's). */
LQ_ATTR static inline __attribute__((always_inline)) void LQ_NAME(routem)(
    const lidx *m, const uint64_t *qs, size_t g, size_t *seg)
{
    if (m->eps_rec == LIDX_DEFAULT_EPSILON_REC)
        LQ_NAME(route)(m, qs, g, seg, LIDX_DEFAULT_EPSILON_REC, LIDX_RW_DEFAULT);
    else
        LQ_NAME(route)(m, qs, g, seg, m->eps_rec, m->rw);
}

/* The data window of q: the bottom segment's prediction +- eps
 * (lidx_window's contract). */
LQ_ATTR static inline void LQ_NAME(win)(const lidx *m, size_t n, uint64_t q, size_t *lo,
                                        size_t *hi)
{
    if (!m || m->nlevels == 0 || n == 0) { /* no model: the whole array */
        *lo = 0;
        *hi = n;
        return;
    }
    if (q <= m->first) {
        *lo = *hi = 0;
        return;
    }
    size_t s;
    LQ_NAME(routem)(m, &q, 1, &s);
    seg_window(&m->lv[0], bottom_seg(m, q, s), q, n, m->eps, lo, hi);
}

/* The data window's count with the xor, out of line: inlined, gcc
 * shares its loads with the signed count's, which then loses its
 * memory operands. */
LQ_ATTR __attribute__((noinline, cold)) static size_t LQ_NAME(cntw)(const uint64_t *w, size_t dw,
                                                                    uint64_t q)
{
    return LQ_COUNT(w, dw, q);
}

/* A single lookup (first key < q < UINT64_MAX) with the given widths:
 * constants for the default epsilons, so every count is a few unrolled
 * instructions.  lbd_avx2 runs 181 instructions per lookup with two levels
 * and a flat top, 189 with a summary-counted top (callgrind), each routing
 * compare one instruction with its load; the lookup before it waits on its
 * data window meanwhile.  The window is counted (keys < q is keys <= q - 1)
 * when dw keys remain; near the array's end it is searched within bounds. */
LQ_ATTR static inline __attribute__((always_inline)) size_t LQ_NAME(lbw)(
    const lidx *m, const uint64_t *keys, size_t n, uint64_t q, unsigned eps, size_t er,
    size_t rw, size_t dw)
{
    size_t s;
    LQ_NAME(route)(m, &q, 1, &s, er, rw);
    int64_t pi = seg_predict(&m->lv[0], s, q);
    size_t lo = win_start(pi, eps);
    if (lo + dw <= n) {
        /* Keys and q below 2^63 compare alike signed, so a window whose
         * last key is below it is counted as the levels are, without
         * the xor per four keys (2-4 % at 100M keys in A/B runs): QF
         * of q - 1 flipped prepares q - 1 as it is. */
        const uint64_t *w = keys + lo;
        if (((w[dw - 1] | q) & LIDX_SIGN) == 0)
            return lo + LQ_COUNTF(w, dw, LQ_QF((q - 1) ^ LIDX_SIGN));
        return lo + LQ_NAME(cntw)(w, dw, q - 1);
    }
    size_t hi = win_start(pi, 0) + eps + LIDX_SLACK;
    hi = hi < n ? hi : n;
    return LQ_KERNEL(keys, lo < hi ? lo : hi, hi, q);
}

LQ_ATTR __attribute__((noinline)) static size_t LQ_NAME(lb)(const lidx *m, const uint64_t *keys,
                                                            size_t n, uint64_t q)
{
    if (!m || m->nlevels == 0 || n == 0) return LQ_KERNEL(keys, 0, n, q);
    if (q <= m->first) return 0;
    if (q == UINT64_MAX) {
        size_t lo, hi;
        LQ_NAME(win)(m, n, q, &lo, &hi);
        return LQ_KERNEL(keys, lo, hi, q);
    }
    /* a model with the default epsilons took lbd_ */
    return LQ_NAME(lbw)(m, keys, n, q, m->eps, m->eps_rec, m->rw, m->dw);
}

/* The common case on its own: a model with the default widths and
 * first key < q < UINT64_MAX (m->lean, tested by lidx_lower_bound).
 * Kept apart from lb_, whose other paths would otherwise make this
 * one save and restore registers. */
LQ_ATTR __attribute__((noinline)) static size_t LQ_NAME(lbd)(const lidx *m, const uint64_t *keys,
                                                             size_t n, uint64_t q)
{
    return LQ_NAME(lbw)(m, keys, n, q, LIDX_DEFAULT_EPSILON, LIDX_DEFAULT_EPSILON_REC,
                        LIDX_RW_DEFAULT, LIDX_DW_DEFAULT);
}
/* Groups of G queries are routed together, then bisect their data
 * windows in lock step, so each query's misses overlap with the
 * others'.  Group k+1 is routed (and its first data probes issued)
 * before group k's windows are bisected (double buffering). */
LQ_ATTR static inline __attribute__((always_inline)) void LQ_NAME(prep)(
    const lidx *m, size_t n, const uint64_t *keys, const uint64_t *q, size_t g, unsigned eps,
    size_t *b)
{
    size_t seg[LIDX_BATCH_G];
    const uint64_t first = m->first;
    const size_t w = LIDX_SPAN(eps), maxlo = n - w;
    LQ_NAME(routem)(m, q, g, seg);
    for (size_t i = 0; i < g; i++) {
        size_t s = bottom_seg(m, q[i], seg[i]);
        size_t lo = win_start(seg_predict(&m->lv[0], s, q[i]), eps);
        lo = lo < maxlo ? lo : maxlo;
        lo = q[i] > first ? lo : 0;
        b[i] = lo;
        __builtin_prefetch(&keys[lo + w / 2]);
    }
}

/* Every window is w = 2 eps + LIDX_SLACK keys wide: one that would
 * pass an end of the array is shifted inside it (n >= w), and still
 * holds the answer, as it covers the clipped window.  q <= first key
 * takes the window at 0.  So all queries of a group bisect on one
 * schedule of constant steps (constants indeed for the default
 * epsilon), with no lengths to keep, no branch on them and no case
 * to search afresh.  With groups of 128, 4-15 % faster at 10M keys
 * than groups of 64 bisecting each window by its own length
 * (same-process A/B).  The rounds go down to 3 or 4 candidates, one
 * probe per query per round, each prefetching the next: about 2.2
 * distinct lines per query against the window's 5-6.  A batch is
 * bound by the random lines the core can fetch (mem_probe's gather
 * rows) and by instructions: stopping at 9 candidates and counting
 * 12 keys was 10-15 % slower. */
LQ_ATTR static inline __attribute__((always_inline)) void LQ_NAME(batchw)(
    const lidx *m, const uint64_t *keys, size_t n, const uint64_t *qs, size_t count,
    unsigned eps, size_t *out)
{
    const size_t w = LIDX_SPAN(eps);
    size_t bb[2][LIDX_BATCH_G];
    size_t g0 = count < LIDX_BATCH_G ? count : LIDX_BATCH_G;
    LQ_NAME(prep)(m, n, keys, qs, g0, eps, bb[0]);
    for (size_t base = 0, k = 0; base < count; base += LIDX_BATCH_G, k ^= 1) {
        size_t g = count - base < LIDX_BATCH_G ? count - base : LIDX_BATCH_G;
        size_t nb = base + LIDX_BATCH_G;
        if (nb < count) {
            size_t g2 = count - nb < LIDX_BATCH_G ? count - nb : LIDX_BATCH_G;
            LQ_NAME(prep)(m, n, keys, qs + nb, g2, eps, bb[k ^ 1]);
        }
        const uint64_t *q = qs + base;
        size_t *b = bb[k], len = w;
        while (len > 4) {
            size_t half = len / 2;
            len -= half;
            for (size_t i = 0; i < g; i++) {
                size_t x = b[i];
                x = keys[x + half] < q[i] ? x + half : x;
                b[i] = x;
                if (len > 4) {
                    __builtin_prefetch(&keys[x + len / 2]);
                } else {
                    __builtin_prefetch(&keys[x]);
                    __builtin_prefetch(&keys[x + len - 1]);
                }
            }
        }
        /* The answer is b + the count of the len (3 or 4) candidates
         * below q, all inside the window: three compares, not a SIMD
         * count with its broadcast and horizontal sum. */
        for (size_t i = 0; i < g; i++) {
            const uint64_t *x = keys + b[i];
            size_t c = (size_t)(x[0] < q[i]) + (x[1] < q[i]) + (x[2] < q[i]);
            if (len > 3) c += x[3] < q[i];
            out[base + i] = b[i] + c;
        }
    }
}

LQ_ATTR static void LQ_NAME(batch)(const lidx *m, const uint64_t *keys, size_t n,
                                   const uint64_t *qs, size_t count, size_t *out)
{
    if (!m || m->nlevels == 0 || n < LIDX_SPAN(m->eps)) {
        for (size_t i = 0; i < count; i++) out[i] = LQ_KERNEL(keys, 0, n, qs[i]);
        return;
    }
    if (m->lean)
        LQ_NAME(batchw)(m, keys, n, qs, count, LIDX_DEFAULT_EPSILON, out);
    else
        LQ_NAME(batchw)(m, keys, n, qs, count, m->eps, out);
}

#undef LQ_NAME
#undef LQ_CAT
#undef LQ_CAT_
#undef LQ_SUFFIX
#undef LQ_ATTR
#undef LQ_KERNEL
#undef LQ_COUNT
#undef LQ_COUNTF
#undef LQ_QF
