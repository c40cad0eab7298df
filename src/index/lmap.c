/*
 * lmap.c -- streaming fit of the learned offset map (see lmap.h).
 *
 * The slope interval of a segment is intersected with, for each new point,
 * the slopes that pass within eps of it; every earlier point of the segment
 * therefore stays within eps for any slope left in the interval, and the
 * middle of the final interval is kept.  Doubles carry the arithmetic: y is
 * a file offset (< 2^53) and the map is a prefetch hint, so a rounding error
 * of a fraction of a byte is harmless.
 */
#include "index/lmap.h"

#include "omendb.h"
#include "util/err.h"
#include "util/mem.h"

void lmap_init(lmap *m, uint32_t eps, size_t max_segs)
{
    m->segs = NULL;
    m->nsegs = m->cap = 0;
    m->max_segs = max_segs;
    m->eps = (double)eps;
    m->lo = m->hi = 0;
    m->last_x = m->last_y = 0;
    m->open = 0;
}

static void close_segment(lmap *m)
{
    lmap_seg *s = &m->segs[m->nsegs - 1];
    /* A segment of one point has the unbounded interval; slope 0 holds it. */
    s->slope = m->hi >= m->lo && m->lo > -1e300 && m->hi < 1e300 ? (m->lo + m->hi) / 2 : 0;
}

static int start_segment(lmap *m, uint64_t x, uint64_t y)
{
    if (m->nsegs == m->max_segs)
        return util_seterr(OMEN_TOOBIG, "lmap: more than %zu segments", m->max_segs);
    if (m->nsegs == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        if (cap > m->max_segs) cap = m->max_segs;
        lmap_seg *s = util_realloc(m->segs, cap * sizeof *s);
        if (!s) return util_seterr(OMEN_NOMEM, "lmap: out of memory");
        m->segs = s;
        m->cap = cap;
    }
    m->segs[m->nsegs++] = (lmap_seg){x, y, 0};
    m->lo = -1e308;
    m->hi = 1e308;
    return OMEN_OK;
}

int lmap_add(lmap *m, uint64_t x, uint64_t y)
{
    if (m->open) {
        const lmap_seg *s = &m->segs[m->nsegs - 1];
        if (x <= m->last_x || y < m->last_y) return util_seterr(OMEN_INVALID, "lmap: points out of order");
        double dx = (double)(x - s->x0), dy = (double)(y - s->y0);
        double lo = (dy - m->eps) / dx, hi = (dy + m->eps) / dx;
        double nlo = lo > m->lo ? lo : m->lo, nhi = hi < m->hi ? hi : m->hi;
        if (nlo <= nhi) {
            m->lo = nlo;
            m->hi = nhi;
            m->last_x = x;
            m->last_y = y;
            return OMEN_OK;
        }
        close_segment(m);
    }
    int rc = start_segment(m, x, y);
    if (rc != OMEN_OK) return rc;
    m->open = 1;
    m->last_x = x;
    m->last_y = y;
    return OMEN_OK;
}

void lmap_finish(lmap *m)
{
    if (m->open) close_segment(m);
    m->open = 0;
}

void lmap_free(lmap *m)
{
    if (!m) return;
    omen_free(m->segs);
    m->segs = NULL;
    m->nsegs = m->cap = 0;
    m->open = 0;
}
