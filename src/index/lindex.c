/*
 * lindex.c -- the learned index: build (one streaming pass), queries and
 * the serialized image.  See lindex.h for the contract, lidx_int.h for the
 * layout; the query paths themselves are in lquery_impl.h, compiled here
 * once per search-kernel set.
 *
 * Build.  The bottom level is the optimal epsilon-bounded piecewise-linear
 * approximation of the points (x, y): every distinct key x with y = the
 * position of its first occurrence.  Each point stands for a vertical bar
 * [y - eps, y + eps]; a segment grows while some line still crosses every
 * bar.  The feasible lines are tracked by the two extreme ones (least and
 * greatest slope), each through one "upper" corner (y + eps) and one
 * "lower" corner (y - eps); the candidate corners are kept on two convex
 * chains, so each point costs amortised O(1) and the segments are as few
 * as any eps-bounded piecewise-linear fit can have (O'Rourke's method).
 * All hull arithmetic is exact (x relative to the segment start fits in
 * 64 bits, products in 128); only the final line is rounded.
 *
 * Duplicates.  For a key repeated c > 1 times, a query just above it must
 * land at y + c, which may be far from the line through (x, y); so the
 * point (x + 1, y + c) is added as well (unless x + 1 is the next key).
 * With that, within a segment the lower bound of any q lies within
 * eps + 1 of the (monotone) line, and past a segment's last point the
 * prediction is capped by the next segment's start.
 *
 * Upper levels are the same approximation over the start keys of the
 * level below (positions 0..m-1), repeated until the top has at most
 * LIDX_TOP_MAX segments.
 *
 * Queries never read outside [0, n) of the key array nor outside any level,
 * whatever the model holds, so a loaded model that passed the checksum but
 * lies cannot cause an out-of-bounds access: a load checks every line
 * (finite, slope >= 0, intercept within its level's range widened by
 * eps + LIDX_SLACK), which keeps every prediction in range for its
 * conversion to an integer; one minsd caps it by the next segment's start;
 * and the window starts and segment numbers are clamped in integers
 * (win_start, and the clamps in route_ and seg_window).
 */
#include <math.h>
#include <string.h>

#include "index/lidx_int.h"
#include "index/lsearch_impl.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

/* ---- growable segment arrays ------------------------------------------ */

typedef struct {
    uint64_t *keys;
    lidx_par *par;
    size_t n, cap;
} segvec;

static int segvec_push(segvec *v, uint64_t key, double slope, double icept)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        uint64_t *k = util_realloc(v->keys, nc * sizeof *k);
        if (!k) return util_seterr(OMEN_NOMEM, "lidx: segment keys (%zu)", nc);
        v->keys = k;
        lidx_par *p = util_realloc(v->par, nc * sizeof *p);
        if (!p) return util_seterr(OMEN_NOMEM, "lidx: segment params (%zu)", nc);
        v->par = p;
        v->cap = nc;
    }
    v->keys[v->n] = key;
    v->par[v->n].slope = slope;
    v->par[v->n].icept = icept;
    v->n++;
    return OMEN_OK;
}

static void segvec_free(segvec *v)
{
    omen_free(v->keys);
    omen_free(v->par);
    memset(v, 0, sizeof *v);
}

/* ---- optimal piecewise-linear approximation --------------------------- */

typedef __int128 i128;

typedef struct {
    uint64_t x; /* relative to the segment's first x */
    int64_t y;
} pt;

typedef struct {
    pt *p;
    size_t start, n, cap;
} chain;

typedef struct {
    int64_t eps;
    size_t npts; /* points in the open segment */
    uint64_t x0; /* absolute x of its first point */
    /* Least-slope line through r[0] (upper corner) and r[2] (lower);
     * greatest-slope line through r[1] (lower) and r[3] (upper). */
    pt r[4];
    chain up; /* upper corners, lower convex chain */
    chain lo; /* lower corners, upper convex chain */
    segvec *out;
} pla;

/* sign of slope(a->b) - slope(c->d); requires a.x < b.x, c.x < d.x */
static int slope_cmp(pt a, pt b, pt c, pt d)
{
    i128 l = (i128)(b.y - a.y) * (i128)(d.x - c.x);
    i128 r = (i128)(d.y - c.y) * (i128)(b.x - a.x);
    return (l > r) - (l < r);
}

/* cross product of (a - o) x (b - o), x's in increasing order */
static i128 cross(pt o, pt a, pt b)
{
    return (i128)(a.x - o.x) * (i128)(b.y - o.y) - (i128)(a.y - o.y) * (i128)(b.x - o.x);
}

static int chain_push(chain *c, pt p)
{
    if (c->n == c->cap) {
        /* Reclaim the dead prefix before growing. */
        if (c->start > 0) {
            memmove(c->p, c->p + c->start, (c->n - c->start) * sizeof *c->p);
            c->n -= c->start;
            c->start = 0;
        }
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 32;
            pt *np = util_realloc(c->p, nc * sizeof *np);
            if (!np) return util_seterr(OMEN_NOMEM, "lidx: hull (%zu points)", nc);
            c->p = np;
            c->cap = nc;
        }
    }
    c->p[c->n++] = p;
    return OMEN_OK;
}

static void pla_init(pla *s, unsigned eps, segvec *out)
{
    memset(s, 0, sizeof *s);
    s->eps = (int64_t)eps;
    s->out = out;
}

static void pla_free(pla *s)
{
    omen_free(s->up.p);
    omen_free(s->lo.p);
    s->up.p = s->lo.p = NULL;
}

/* Line of the open segment: the mean of the two extreme lines, which is
 * feasible because the feasible lines form a convex set. */
static int pla_emit(pla *s)
{
    if (s->npts == 0) return OMEN_OK;
    double slope, icept;
    if (s->npts == 1) {
        slope = 0.0;
        icept = (double)(s->r[0].y - s->eps);
    } else {
        const pt *r = s->r;
        long double s1 = (long double)(r[2].y - r[0].y) / (long double)(r[2].x - r[0].x);
        long double s2 = (long double)(r[3].y - r[1].y) / (long double)(r[3].x - r[1].x);
        long double sl = (s1 + s2) / 2;
        long double ic =
            ((long double)r[0].y - s1 * (long double)r[0].x + (long double)r[1].y -
             s2 * (long double)r[1].x) /
            2;
        if (sl < 0) {
            /* Keep the line monotone (needed for keys between points): the
             * slope-0 line through the extremes' crossing is feasible
             * since s1 < 0 < s2 here. */
            long double X = ((long double)r[1].y - (long double)r[0].y + s1 * (long double)r[0].x -
                             s2 * (long double)r[1].x) /
                            (s1 - s2);
            ic = (long double)r[0].y + s1 * (X - (long double)r[0].x);
            sl = 0;
        }
        slope = (double)sl;
        icept = (double)ic;
    }
    int rc = segvec_push(s->out, s->x0, slope, icept);
    s->npts = 0;
    s->up.start = s->up.n = 0;
    s->lo.start = s->lo.n = 0;
    return rc;
}

/* Try to extend the open segment with (x, y); 1 if it fits, 0 if not. */
static int pla_fits(pla *s, uint64_t x, int64_t y, int *rc)
{
    *rc = OMEN_OK;
    if (s->npts == 0) {
        s->x0 = x;
        pt u = {0, y + s->eps}, l = {0, y - s->eps};
        s->r[0] = u;
        s->r[1] = l;
        s->up.start = s->up.n = 0;
        s->lo.start = s->lo.n = 0;
        if ((*rc = chain_push(&s->up, u)) != OMEN_OK) return 1;
        if ((*rc = chain_push(&s->lo, l)) != OMEN_OK) return 1;
        s->npts = 1;
        return 1;
    }
    uint64_t rx = x - s->x0;
    pt u = {rx, y + s->eps}, l = {rx, y - s->eps};
    if (s->npts == 1) {
        s->r[2] = l;
        s->r[3] = u;
        if ((*rc = chain_push(&s->up, u)) != OMEN_OK) return 1;
        if ((*rc = chain_push(&s->lo, l)) != OMEN_OK) return 1;
        s->npts = 2;
        return 1;
    }
    pt *r = s->r;
    /* The bar [l, u] must meet the wedge between the extreme lines. */
    if (slope_cmp(r[2], u, r[0], r[2]) < 0) return 0; /* u below the least line */
    if (slope_cmp(r[3], l, r[1], r[3]) > 0) return 0; /* l above the greatest line */

    if (slope_cmp(r[1], u, r[1], r[3]) < 0) {
        /* u cuts the greatest line: new one through u and the lower corner
         * that minimises the slope towards u (the chain is convex, so the
         * slope decreases to the tangent point and then increases). */
        chain *c = &s->lo;
        size_t best = c->start;
        for (size_t i = c->start + 1; i < c->n; i++) {
            if (slope_cmp(c->p[i], u, c->p[best], u) > 0) break;
            best = i;
        }
        r[1] = c->p[best];
        r[3] = u;
        c->start = best;
    }
    if (slope_cmp(r[0], l, r[0], r[2]) > 0) {
        chain *c = &s->up;
        size_t best = c->start;
        for (size_t i = c->start + 1; i < c->n; i++) {
            if (slope_cmp(c->p[i], l, c->p[best], l) < 0) break;
            best = i;
        }
        r[0] = c->p[best];
        r[2] = l;
        c->start = best;
    }
    /* Add the corners to their chains, popping those no longer extreme. */
    chain *cu = &s->up;
    while (cu->n >= cu->start + 2 && cross(cu->p[cu->n - 2], cu->p[cu->n - 1], u) <= 0) cu->n--;
    if ((*rc = chain_push(cu, u)) != OMEN_OK) return 1;
    chain *cl = &s->lo;
    while (cl->n >= cl->start + 2 && cross(cl->p[cl->n - 2], cl->p[cl->n - 1], l) >= 0) cl->n--;
    if ((*rc = chain_push(cl, l)) != OMEN_OK) return 1;
    s->npts++;
    return 1;
}

/* Points arrive with strictly increasing x. */
static int pla_add(pla *s, uint64_t x, int64_t y)
{
    int rc;
    if (pla_fits(s, x, y, &rc)) return rc;
    if ((rc = pla_emit(s)) != OMEN_OK) return rc;
    pla_fits(s, x, y, &rc);
    return rc;
}

/* ---- builder ------------------------------------------------------------ */

struct lidx_builder {
    unsigned eps;
    size_t count;      /* keys added */
    uint64_t prev;     /* last distinct key */
    size_t prev_first; /* its first position */
    int err;           /* sticky failure */
    segvec bottom;
    pla pla;
};

static int check_eps(unsigned *eps)
{
    if (*eps == 0) *eps = LIDX_DEFAULT_EPSILON;
    if (*eps > LIDX_MAX_EPSILON)
        return util_seterr(OMEN_INVALID, "lidx: epsilon %u exceeds %u", *eps, LIDX_MAX_EPSILON);
    return OMEN_OK;
}

int lidx_builder_new(unsigned epsilon, lidx_builder **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "lidx_builder_new: NULL out");
    *out = NULL;
    int rc = check_eps(&epsilon);
    if (rc != OMEN_OK) return rc;
    lidx_builder *b = util_calloc(1, sizeof *b);
    if (!b) return util_seterr(OMEN_NOMEM, "lidx_builder_new");
    b->eps = epsilon;
    pla_init(&b->pla, epsilon, &b->bottom);
    *out = b;
    return OMEN_OK;
}

void lidx_builder_free(lidx_builder *b)
{
    if (!b) return;
    pla_free(&b->pla);
    segvec_free(&b->bottom);
    omen_free(b);
}

size_t lidx_builder_segments(const lidx_builder *b)
{
    return b ? b->bottom.n : 0;
}

/* The run of the previous key ends at position `end`: a key repeated more
 * than once gets the extra point at prev + 1 unless next is that key. */
static int close_run(lidx_builder *b, size_t end, int have_next, uint64_t next)
{
    if (end - b->prev_first > 1 && b->prev != UINT64_MAX && (!have_next || next > b->prev + 1))
        return pla_add(&b->pla, b->prev + 1, (int64_t)end);
    return OMEN_OK;
}

int lidx_builder_add(lidx_builder *b, uint64_t key)
{
    if (!b) return util_seterr(OMEN_INVALID, "lidx_builder_add: NULL builder");
    if (b->err) return b->err;
    int rc = OMEN_OK;
    if (b->count == 0) {
        rc = pla_add(&b->pla, key, 0);
        b->prev = key;
        b->prev_first = 0;
    } else if (key < b->prev) {
        return util_seterr(OMEN_INVALID, "lidx_builder_add: key %llu after %llu (not sorted)",
                           (unsigned long long)key, (unsigned long long)b->prev);
    } else if (key > b->prev) {
        rc = close_run(b, b->count, 1, key);
        if (rc == OMEN_OK) rc = pla_add(&b->pla, key, (int64_t)b->count);
        b->prev = key;
        b->prev_first = b->count;
    }
    if (rc != OMEN_OK) {
        b->err = rc;
        return rc;
    }
    b->count++;
    return OMEN_OK;
}

static void model_free_levels(lidx *m)
{
    for (size_t i = 0; i < LIDX_MAX_LEVELS; i++) {
        if (!m->arena) {
            omen_free(m->lv[i].keys);
            omen_free(m->lv[i].par);
        }
        m->lv[i].keys = NULL;
        m->lv[i].par = NULL;
        m->lv[i].m = 0;
    }
    util_unmap_huge(m->arena, m->arena_len);
    m->arena = NULL;
    m->arena_len = 0;
}

void lidx_free(lidx *m)
{
    if (!m) return;
    model_free_levels(m);
    omen_free(m);
}

/* Bytes of level L's keys with their padding, and of its parameters with
 * the sentinel (lidx_int.h): what the level holds in memory. */
static size_t level_keys_bytes(const lidx *m, size_t L)
{
    return (m->lv[L].m + m->pad) * sizeof(uint64_t);
}
static size_t level_par_bytes(const lidx *m, size_t L)
{
    return (m->lv[L].m + 1) * sizeof(lidx_par);
}
/* The same rounded up to a cache line: their spans within an arena. */
static size_t line_up(size_t b)
{
    return (b + 63) & ~(size_t)63;
}

/* Move a large padded model into one huge-page mapping (LIDX_HUGE_MIN).
 * Only a hint: if the mapping fails the model stays on the heap. */
static void model_to_huge(lidx *m)
{
    size_t total = 0;
    for (size_t L = 0; L < m->nlevels; L++)
        total += line_up(level_keys_bytes(m, L)) + line_up(level_par_bytes(m, L));
    if (total < LIDX_HUGE_MIN) return;
    size_t len = util_huge_len(total);
    unsigned char *a = util_map_huge(len);
    if (!a) return;
    for (size_t L = 0, off = 0; L < m->nlevels; L++) {
        lidx_level *lv = &m->lv[L];
        size_t kb = level_keys_bytes(m, L), pb = level_par_bytes(m, L);
        memcpy(a + off, lv->keys, kb);
        memcpy(a + off + line_up(kb), lv->par, pb);
        omen_free(lv->keys);
        omen_free(lv->par);
        lv->keys = (uint64_t *)(void *)(a + off);
        lv->par = (lidx_par *)(void *)(a + off + line_up(kb));
        off += line_up(kb) + line_up(pb);
    }
    m->arena = a;
    m->arena_len = len;
}

/* Give every level of m its in-memory form (flipped keys, padding and
 * sentinel: lidx_int.h), set the routing widths, and move a large model to
 * huge pages.  The last step of
 * both build and load. */
static int model_pad(lidx *m)
{
    m->rw = LIDX_WIDTH(m->eps_rec);
    m->dw = LIDX_WIDTH(m->eps);
    m->lean = m->nlevels > 0 && m->eps == LIDX_DEFAULT_EPSILON && m->eps_rec == LIDX_DEFAULT_EPSILON_REC;
    m->first = m->nlevels > 0 ? m->lv[0].keys[0] : 0; /* before the keys are flipped */
    m->pad = m->rw > LIDX_TOP_MAX + 8 ? m->rw : LIDX_TOP_MAX + 8;
    for (size_t L = 0; L < m->nlevels; L++) {
        lidx_level *lv = &m->lv[L];
        uint64_t *k = util_realloc(lv->keys, level_keys_bytes(m, L));
        if (!k) return util_seterr(OMEN_NOMEM, "lidx: level %zu padding", L);
        lv->keys = k;
        for (size_t i = 0; i < lv->m; i++) k[i] = lidx_unflip(k[i]);
        for (size_t i = lv->m; i < lv->m + m->pad; i++) k[i] = lidx_unflip(UINT64_MAX);
        lidx_par *p = util_realloc(lv->par, level_par_bytes(m, L));
        if (!p) return util_seterr(OMEN_NOMEM, "lidx: level %zu sentinel", L);
        lv->par = p;
        p[lv->m].slope = 0.0;
        p[lv->m].icept = (double)(L == 0 ? m->nkeys : m->lv[L - 1].m);
    }
    for (size_t j = 0; j < LIDX_TOP_SUM; j++)
        m->topsum[j] = m->nlevels ? m->lv[m->nlevels - 1].keys[8 * j + 7] : lidx_unflip(UINT64_MAX);
    model_to_huge(m);
    return OMEN_OK;
}

/* Build the upper levels of m above its bottom level, until the top is
 * small enough to be counted whole. */
static int build_upper(lidx *m)
{
    while (m->lv[m->nlevels - 1].m > LIDX_TOP_MAX) {
        if (m->nlevels == LIDX_MAX_LEVELS)
            return util_seterr(OMEN_INVALID, "lidx: too many levels");
        const lidx_level *below = &m->lv[m->nlevels - 1];
        segvec v = {0};
        pla s;
        pla_init(&s, m->eps_rec, &v);
        int rc = OMEN_OK;
        for (size_t i = 0; i < below->m && rc == OMEN_OK; i++) rc = pla_add(&s, below->keys[i], (int64_t)i);
        if (rc == OMEN_OK) rc = pla_emit(&s);
        pla_free(&s);
        if (rc != OMEN_OK) {
            segvec_free(&v);
            return rc;
        }
        lidx_level *lv = &m->lv[m->nlevels++];
        lv->keys = v.keys;
        lv->par = v.par;
        lv->m = v.n;
    }
    return OMEN_OK;
}

int lidx_builder_finish(lidx_builder *b, lidx **out)
{
    if (!out) {
        lidx_builder_free(b);
        return util_seterr(OMEN_INVALID, "lidx_builder_finish: NULL out");
    }
    *out = NULL;
    if (!b) return util_seterr(OMEN_INVALID, "lidx_builder_finish: NULL builder");
    int rc = b->err;
    if (rc == OMEN_OK && b->count > 0) rc = close_run(b, b->count, 0, 0);
    if (rc == OMEN_OK) rc = pla_emit(&b->pla);
    lidx *m = NULL;
    if (rc == OMEN_OK) {
        m = util_calloc(1, sizeof *m);
        if (!m) rc = util_seterr(OMEN_NOMEM, "lidx_builder_finish");
    }
    if (rc == OMEN_OK) {
        m->eps = b->eps;
        m->eps_rec = LIDX_DEFAULT_EPSILON_REC;
        m->nkeys = b->count;
        if (b->bottom.n > 0) {
            m->lv[0].keys = b->bottom.keys;
            m->lv[0].par = b->bottom.par;
            m->lv[0].m = b->bottom.n;
            b->bottom.keys = NULL;
            b->bottom.par = NULL;
            m->nlevels = 1;
            rc = build_upper(m);
        }
        if (rc == OMEN_OK) rc = model_pad(m);
    }
    lidx_builder_free(b);
    if (rc != OMEN_OK) {
        lidx_free(m);
        return rc;
    }
    *out = m;
    return OMEN_OK;
}

int lidx_build(const uint64_t *keys, size_t n, unsigned epsilon, lidx **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "lidx_build: NULL out");
    *out = NULL;
    if (n > 0 && !keys) return util_seterr(OMEN_INVALID, "lidx_build: NULL keys");
    lidx_builder *b;
    int rc = lidx_builder_new(epsilon, &b);
    if (rc != OMEN_OK) return rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = lidx_builder_add(b, keys[i])) != OMEN_OK) {
            lidx_builder_free(b);
            return rc;
        }
    }
    return lidx_builder_finish(b, out);
}

/* ---- queries ------------------------------------------------------------
 *
 * Window.  Let P be the computed prediction and a the true answer (the
 * lower bound in the level below; for routing levels the first start key
 * > q, i.e. the segment index + 1).  The build keeps every point within
 * eps of its line, the line is monotone, consecutive points differ by at
 * most one position unless an extra point was added, and past a segment's
 * last point P is capped by the next segment's line at its start; together
 * a is in [P - eps - d, P + eps + 1 + d], d < 1 being the double rounding
 * (about n * 2^-51).  With pi = floor(P) that is a in [pi - eps,
 * pi + eps + 2], so searching [pi - eps, pi + eps + 2) (whose "none found"
 * answer is its end) is exact: 2 eps + 2 keys.
 *
 * Routing.  A routing level's window is not searched but counted: the
 * keys <= q among the rw >= 2 eps_rec + 2 keys from its start.  Every key
 * before a is <= q and every key from a on is > q (start keys are strictly
 * increasing), so the count is a - lo whatever lies past the window's end
 * (real keys > q, or the UINT64_MAX padding).  The top level is counted
 * whole.  Either way a step is a fixed sequence of loads, compares and
 * conditional moves.  The only branch left goes the same way for every
 * ordinary query (taken for a key gap of 2^63 or more), so
 * it is always predicted: a lookup never flushes the pipeline, and
 * the core may start the next one while this one waits (how far it does
 * is measured in docs/benchmarks.md: independent lookups run 1.84x as
 * fast as chained ones at 10M keys, 1.93x at 100M).
 */

/* Predicted position of q in segment s of level lv, capped by the next
 * segment's start (par[m]'s sentinel caps the last segment at the size of
 * the array below: one minsd).  Lines have finite parameters, slope >= 0
 * and an intercept within the level's range widened by eps + LIDX_SLACK
 * (built so, and checked on load), so the result lies within that range
 * too: small enough for a one-instruction signed conversion, and the
 * callers clamp it.  q >= the segment's key is expected but not relied
 * upon (a smaller q wraps to a huge distance, which the cap takes). */
static inline int64_t seg_predict(const lidx_level *lv, size_t s, uint64_t q)
{
    const lidx_par *p = &lv->par[s];
    double pos = p->icept + p->slope * (double)(q - lidx_unflip(lv->keys[s]));
    /* minsd, written out: as a conditional, gcc branches to two
     * conversions, and a branch on the prediction is one a lookup can
     * mispredict.  (A NaN would become next.) */
    return (int64_t)_mm_cvtsd_f64(_mm_min_sd(_mm_set_sd(pos), _mm_set_sd(p[1].icept)));
}

/* The start of the window of half-width e around prediction pi: 0 at
 * the least. */
static inline size_t win_start(int64_t pi, size_t e)
{
    int64_t l = pi - (int64_t)e;
    return l > 0 ? (size_t)l : 0;
}

/* The window [lo, hi) of 2 eps + LIDX_SLACK positions around the
 * prediction, clipped to [0, cap]. */
static inline void seg_window(const lidx_level *lv, size_t s, uint64_t q, size_t cap, unsigned eps,
                              size_t *lo, size_t *hi)
{
    int64_t pi = seg_predict(lv, s, q);
    size_t l = win_start(pi, eps), h = win_start(pi, 0) + eps + LIDX_SLACK;
    *hi = h < cap ? h : cap;
    *lo = l < *hi ? l : *hi;
}

/* The bottom segment of q, given the one routing found: UINT64_MAX, past
 * every start key, takes the last (the AVX2 routing count compares with
 * q + 1, which wraps for it). */
static inline size_t bottom_seg(const lidx *m, uint64_t q, size_t routed)
{
    return q == UINT64_MAX ? m->lv[0].m - 1 : routed;
}

/* The counted widths of the default epsilons, as constants: the common
 * case then runs fully unrolled count loops. */
#define LIDX_RW_DEFAULT LIDX_WIDTH(LIDX_DEFAULT_EPSILON_REC)
#define LIDX_DW_DEFAULT LIDX_WIDTH(LIDX_DEFAULT_EPSILON)
#ifndef LIDX_BATCH_G
#define LIDX_BATCH_G 128
#endif
/* The query paths (lquery_impl.h), once per kernel set. */
#define LQ_SUFFIX scalar
#define LQ_ATTR
#define LQ_KERNEL lidx_k_scalar
#define LQ_COUNT lidx_c_scalar
#define LQ_COUNTF lidx_cf_scalar
#define LQ_QF lidx_qf_scalar
#include "index/lquery_impl.h"

#define LQ_SUFFIX avx2
#define LQ_ATTR LIDX_T_AVX2
#define LQ_KERNEL lidx_k_avx2
#define LQ_COUNT lidx_c_avx2
#define LQ_COUNTF lidx_cf_avx2
#define LQ_QF lidx_qf_avx2
#include "index/lquery_impl.h"

#define LQ_SUFFIX avx512
#define LQ_ATTR LIDX_T_AVX512
#define LQ_KERNEL lidx_k_avx512
#define LQ_COUNT lidx_c_avx512
#define LQ_COUNTF lidx_cf_avx512
#define LQ_QF lidx_qf_avx512
#include "index/lquery_impl.h"

void lidx_window(const lidx *m, const uint64_t *keys, size_t n, uint64_t q, size_t *lo,
                 size_t *hi)
{
    (void)keys;
    switch (lidx_search_variant()) {
    case LIDX_SEARCH_AVX512: win_avx512(m, n, q, lo, hi); break;
    case LIDX_SEARCH_AVX2: win_avx2(m, n, q, lo, hi); break;
    default: win_scalar(m, n, q, lo, hi); break;
    }
}

size_t lidx_lower_bound(const lidx *m, const uint64_t *keys, size_t n, uint64_t q)
{
    int v = lidx_search_variant();
    if (m && m->lean && n && q > m->first && q != UINT64_MAX) {
        switch (v) {
        case LIDX_SEARCH_AVX512: return lbd_avx512(m, keys, n, q);
        case LIDX_SEARCH_AVX2: return lbd_avx2(m, keys, n, q);
        default: return lbd_scalar(m, keys, n, q);
        }
    }
    switch (v) {
    case LIDX_SEARCH_AVX512: return lb_avx512(m, keys, n, q);
    case LIDX_SEARCH_AVX2: return lb_avx2(m, keys, n, q);
    default: return lb_scalar(m, keys, n, q);
    }
}

void lidx_lower_bound_batch(const lidx *m, const uint64_t *keys, size_t n, const uint64_t *qs,
                            size_t count, size_t *out)
{
    switch (lidx_search_variant()) {
    case LIDX_SEARCH_AVX512: batch_avx512(m, keys, n, qs, count, out); break;
    case LIDX_SEARCH_AVX2: batch_avx2(m, keys, n, qs, count, out); break;
    default: batch_scalar(m, keys, n, qs, count, out); break;
    }
}

/* ---- introspection ------------------------------------------------------ */

size_t lidx_segments(const lidx *m)
{
    return m && m->nlevels ? m->lv[0].m : 0;
}

size_t lidx_levels(const lidx *m)
{
    return m ? m->nlevels : 0;
}

size_t lidx_bytes(const lidx *m)
{
    if (!m) return 0;
    size_t b = sizeof *m;
    if (m->arena) return b + m->arena_len; /* the whole mapping, rounded up to huge pages */
    for (size_t L = 0; L < m->nlevels; L++) b += level_keys_bytes(m, L) + level_par_bytes(m, L);
    return b;
}

unsigned lidx_epsilon(const lidx *m)
{
    return m ? m->eps : 0;
}

size_t lidx_nkeys(const lidx *m)
{
    return m ? m->nkeys : 0;
}

/* ---- serialization ------------------------------------------------------
 *
 * Little-endian image:
 *   u32 magic "OMLX", u32 version, u32 eps, u32 eps_rec,
 *   u64 nkeys, u32 nlevels, u32 reserved (0),
 *   u64 m[L] for each level (bottom first),
 *   per level, per segment: u64 key, f64 slope, f64 icept,
 *   u32 masked crc32c of everything before it.
 */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}
static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

size_t lidx_serialized_size(const lidx *m)
{
    if (!m) return 0;
    size_t s = LIDX_IMG_HDR + 4;
    for (size_t L = 0; L < m->nlevels; L++) s += 8 + m->lv[L].m * LIDX_IMG_SEG;
    return s;
}

int lidx_serialize(const lidx *m, void *buf, size_t cap, size_t *written)
{
    if (written) *written = 0;
    if (!m || (!buf && cap)) return util_seterr(OMEN_INVALID, "lidx_serialize: NULL argument");
    size_t need = lidx_serialized_size(m);
    if (cap < need || !buf)
        return util_seterr(OMEN_INVALID, "lidx_serialize: buffer %zu bytes, need %zu", cap, need);
    uint8_t *p = buf;
    put32(p, LIDX_MAGIC);
    put32(p + 4, LIDX_FORMAT_VERSION);
    put32(p + 8, m->eps);
    put32(p + 12, m->eps_rec);
    put64(p + 16, (uint64_t)m->nkeys);
    put32(p + 24, (uint32_t)m->nlevels);
    put32(p + 28, 0);
    p += LIDX_IMG_HDR;
    for (size_t L = 0; L < m->nlevels; L++, p += 8) put64(p, (uint64_t)m->lv[L].m);
    for (size_t L = 0; L < m->nlevels; L++) {
        const lidx_level *lv = &m->lv[L];
        for (size_t i = 0; i < lv->m; i++, p += LIDX_IMG_SEG) {
            put64(p, lidx_unflip(lv->keys[i]));
            put64(p + 8, dbits(lv->par[i].slope));
            put64(p + 16, dbits(lv->par[i].icept));
        }
    }
    put32(p, crc32c_mask(crc32c(0, buf, need - 4)));
    if (written) *written = need;
    return OMEN_OK;
}

int lidx_deserialize(const void *buf, size_t len, lidx **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "lidx_deserialize: NULL out");
    *out = NULL;
    if (!buf && len) return util_seterr(OMEN_INVALID, "lidx_deserialize: NULL buffer");
    const uint8_t *p = buf;
    if (len < LIDX_IMG_HDR + 4) return util_seterr(OMEN_CORRUPT, "lidx: image truncated (%zu bytes)", len);
    if (get32(p) != LIDX_MAGIC) return util_seterr(OMEN_CORRUPT, "lidx: bad magic");
    if (crc32c_unmask(get32(p + len - 4)) != crc32c(0, p, len - 4))
        return util_seterr(OMEN_CORRUPT, "lidx: checksum mismatch");
    uint32_t ver = get32(p + 4);
    /* Version 1 ended in a single root; version 2 stops at a top level
     * of up to 32 segments, version 3 of up to LIDX_TOP_MAX.  All load. */
    if (ver < 1 || ver > LIDX_FORMAT_VERSION)
        return util_seterr(OMEN_VERSION, "lidx: format version %u, supported 1 to %u", ver,
                           LIDX_FORMAT_VERSION);
    uint32_t eps = get32(p + 8), eps_rec = get32(p + 12), nlev = get32(p + 24);
    uint64_t nkeys = get64(p + 16);
    if (eps < 1 || eps > LIDX_MAX_EPSILON || eps_rec < 1 || eps_rec > LIDX_MAX_EPSILON_REC)
        return util_seterr(OMEN_CORRUPT, "lidx: bad epsilon %u/%u", eps, eps_rec);
    if (get32(p + 28) != 0) return util_seterr(OMEN_CORRUPT, "lidx: reserved field set");
    if (nlev > LIDX_MAX_LEVELS || (nkeys == 0) != (nlev == 0) || nkeys > (UINT64_MAX >> 8))
        return util_seterr(OMEN_CORRUPT, "lidx: %u levels for %llu keys", nlev,
                           (unsigned long long)nkeys);
    size_t body = len - 4 - LIDX_IMG_HDR;
    if (body < (size_t)nlev * 8) return util_seterr(OMEN_CORRUPT, "lidx: level table truncated");
    size_t room = (body - (size_t)nlev * 8) / LIDX_IMG_SEG, total = 0;
    uint64_t ms[LIDX_MAX_LEVELS];
    for (uint32_t L = 0; L < nlev; L++) {
        ms[L] = get64(p + LIDX_IMG_HDR + 8 * (size_t)L);
        /* Each level is strictly smaller than the one below; the top is
         * small (a single root in version 1); the bottom has at most two
         * points per key. */
        if (ms[L] == 0 || ms[L] > room - total || (L > 0 && ms[L] >= ms[L - 1]) ||
            (L == 0 && ms[0] > 2 * nkeys) ||
            (L + 1 == nlev && ms[L] > (ver == 1 ? 1u : ver == 2 ? LIDX_TOP_MAX_V2 : LIDX_TOP_MAX)))
            return util_seterr(OMEN_CORRUPT, "lidx: bad segment count at level %u", L);
        total += (size_t)ms[L];
    }
    if (body != (size_t)nlev * 8 + total * LIDX_IMG_SEG)
        return util_seterr(OMEN_CORRUPT, "lidx: image length %zu does not match its levels", len);
    lidx *m = util_calloc(1, sizeof *m);
    if (!m) return util_seterr(OMEN_NOMEM, "lidx_deserialize");
    m->eps = eps;
    m->eps_rec = eps_rec;
    m->nkeys = (size_t)nkeys;
    const uint8_t *s = p + LIDX_IMG_HDR + 8 * (size_t)nlev;
    int rc = OMEN_OK;
    for (uint32_t L = 0; L < nlev && rc == OMEN_OK; L++) {
        lidx_level *lv = &m->lv[L];
        size_t cnt = (size_t)ms[L];
        lv->keys = util_malloc(cnt * sizeof *lv->keys);
        lv->par = util_malloc(cnt * sizeof *lv->par);
        m->nlevels = L + 1;
        if (!lv->keys || !lv->par) {
            rc = util_seterr(OMEN_NOMEM, "lidx_deserialize: level %u", L);
            break;
        }
        lv->m = cnt;
        /* A position a segment may predict: its level's range widened. */
        double span = (double)(L == 0 ? nkeys : ms[L - 1]);
        double slack = (double)(L == 0 ? eps : eps_rec) + LIDX_SLACK;
        for (size_t i = 0; i < cnt; i++, s += LIDX_IMG_SEG) {
            lv->keys[i] = get64(s);
            lv->par[i].slope = bitsd(get64(s + 8));
            lv->par[i].icept = bitsd(get64(s + 16));
            if (i > 0 && lv->keys[i] <= lv->keys[i - 1]) {
                rc = util_seterr(OMEN_CORRUPT, "lidx: level %u keys not increasing at %zu", L, i);
                break;
            }
            double sl = lv->par[i].slope, ic = lv->par[i].icept;
            if (!isfinite(sl) || sl < 0 || !isfinite(ic) || ic < -slack || ic > span + slack) {
                rc = util_seterr(OMEN_CORRUPT, "lidx: level %u segment %zu has a bad line", L, i);
                break;
            }
        }
        if (rc == OMEN_OK && L > 0 && lv->keys[0] != m->lv[L - 1].keys[0])
            rc = util_seterr(OMEN_CORRUPT, "lidx: level %u does not start at level %u's key", L,
                             L - 1);
    }
    if (rc == OMEN_OK) rc = model_pad(m);
    if (rc != OMEN_OK) {
        lidx_free(m);
        return rc;
    }
    *out = m;
    return OMEN_OK;
}
