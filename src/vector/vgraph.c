/*
 * vgraph.c -- graph file encoder and decoder (vgraph.h).
 *
 * Slots keep their numbers across a checkpoint (free slots are recorded as
 * such), so links are stored as they are and loading needs no renumbering.
 */
#include <math.h>
#include <string.h>

#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"
#include "vector/vgraph.h"

#define HDR_LEN 64

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void wb_put(wbuf *w, const void *src, size_t n)
{
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t nc = w->cap ? w->cap : 1 << 16;
        while (nc < w->len + n) nc *= 2;
        unsigned char *np = util_realloc(w->p, nc);
        if (!np) {
            w->oom = 1;
            return;
        }
        w->p = np;
        w->cap = nc;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void wb_u32(wbuf *w, uint32_t v)
{
    unsigned char b[4];
    put_fixed32(b, v);
    wb_put(w, b, 4);
}

int vgraph_encode(const hnsw *g, uint32_t set_id, void **out, size_t *len)
{
    wbuf w = {0};
    uint32_t hwm = atomic_load(&g->hwm);
    uint64_t e = atomic_load(&g->entry);
    unsigned char h[HDR_LEN];
    memset(h, 0, sizeof h);
    memcpy(h, VGRAPH_MAGIC, 8);
    put_fixed32(h + 8, VGRAPH_VERSION);
    put_fixed32(h + 12, set_id);
    put_fixed32(h + 16, g->dim);
    h[20] = (unsigned char)g->metric;
    h[21] = (unsigned char)g->precision;
    h[22] = (unsigned char)(g->M & 0xff);
    h[23] = (unsigned char)(g->M >> 8);
    put_fixed32(h + 24, g->efc);
    memcpy(h + 28, &g->q.scale, 4);
    memcpy(h + 32, &g->q.offset, 4);
    put_fixed32(h + 36, (uint32_t)g->trained);
    put_fixed32(h + 40, hwm);
    put_fixed32(h + 44, (uint32_t)e);
    put_fixed32(h + 48, (uint32_t)(e >> 32));
    put_fixed64(h + 52, atomic_load(&g->live));
    wb_put(&w, h, sizeof h);
    for (uint32_t s = 0; s < hwm; s++) {
        hnode *n = hn_node(g, s);
        uint32_t st = atomic_load(&n->state);
        if (st == HN_DELETED) {
            omen_free(w.p);
            return util_seterr(OMEN_INVALID, "vector: graph has unconsolidated deletes");
        }
        unsigned char b = st != HN_LIVE ? 0 : (*hn_flags(g, s) & HN_F_EXACT) ? 2 : 1;
        wb_put(&w, &b, 1);
        if (!b) continue;
        vrec *r = atomic_load(&n->rec);
        unsigned char lv = (unsigned char)n->level;
        wb_put(&w, &lv, 1);
        wb_u32(&w, r->id_len);
        wb_u32(&w, r->attrs_len);
        wb_put(&w, r->data, (size_t)r->id_len + r->attrs_len);
        for (uint32_t l = 0; l <= n->level; l++) {
            _Atomic uint32_t *ls = hn_links(g, s, l);
            uint32_t cnt = atomic_load(&ls[0]);
            wb_u32(&w, cnt);
            for (uint32_t i = 0; i < cnt; i++) wb_u32(&w, atomic_load(&ls[1 + i]));
        }
        wb_put(&w, hn_vec(g, s), g->vec_bytes);
        if (g->permap) {
            const vquant *m = hn_map(g, s);
            wb_put(&w, &m->scale, 4);
            wb_put(&w, &m->offset, 4);
        }
    }
    if (!w.oom) wb_u32(&w, crc32c_mask(crc32c(0, w.p, w.len)));
    if (w.oom) {
        omen_free(w.p);
        return util_seterr(OMEN_NOMEM, "vector: out of memory writing the graph file");
    }
    *out = w.p;
    *len = w.len;
    return OMEN_OK;
}

typedef struct rbuf {
    const unsigned char *p, *end;
} rbuf;

static int rb_get(rbuf *r, void *dst, size_t n)
{
    if ((size_t)(r->end - r->p) < n) return -1;
    memcpy(dst, r->p, n);
    r->p += n;
    return 0;
}

static int rb_u32(rbuf *r, uint32_t *v)
{
    if (r->end - r->p < 4) return -1;
    *v = get_fixed32(r->p);
    r->p += 4;
    return 0;
}

#define BAD(msg) do { rc = util_seterr(OMEN_CORRUPT, "vector graph file: %s", msg); goto fail; } while (0)

int vgraph_decode(const void *buf, size_t len, const vgraph_params *p, hnsw **out)
{
    *out = NULL;
    const unsigned char *b = buf;
    if (len < HDR_LEN + 4 || memcmp(b, VGRAPH_MAGIC, 8) != 0)
        return util_seterr(OMEN_CORRUPT, "vector graph file: bad magic or too short");
    if (crc32c_unmask(get_fixed32(b + len - 4)) != crc32c(0, b, len - 4))
        return util_seterr(OMEN_CORRUPT, "vector graph file: checksum mismatch");
    uint32_t version = get_fixed32(b + 8);
    if (version < 1 || version > VGRAPH_VERSION)
        return util_seterr(OMEN_VERSION, "vector graph file: unsupported version %u", get_fixed32(b + 8));
    uint32_t M = b[22] | (uint32_t)b[23] << 8;
    if (get_fixed32(b + 12) != p->set_id || get_fixed32(b + 16) != p->dim || b[20] != p->metric ||
        b[21] != p->precision || M != p->M || get_fixed32(b + 24) != p->efc)
        return util_seterr(OMEN_CORRUPT, "vector graph file: belongs to another set or configuration");
    hnsw *g = NULL;
    int rc = hnsw_new(p->dim, p->metric, p->precision, p->M, p->efc, &g);
    if (rc) return rc;
    memcpy(&g->q.scale, b + 28, 4);
    memcpy(&g->q.offset, b + 32, 4);
    g->trained = get_fixed32(b + 36) != 0;
    uint32_t hwm = get_fixed32(b + 40);
    uint32_t ep = get_fixed32(b + 44), top = get_fixed32(b + 48);
    uint64_t live = get_fixed64(b + 52);
    rbuf r = {b + HDR_LEN, b + len - 4};
    if (!(g->q.scale > 0) || g->q.scale != g->q.scale || g->q.offset != g->q.offset) BAD("bad quantizer");
    if ((uint64_t)hwm > (uint64_t)(r.end - r.p)) BAD("slot count exceeds the file");
    if (hwm > 0 && (rc = hnsw_ensure_slot(g, hwm - 1))) goto fail;
    uint64_t nlive = 0;
    for (uint32_t s = 0; s < hwm; s++) {
        unsigned char st;
        if (rb_get(&r, &st, 1)) BAD("truncated");
        if (st > (version >= 2 && g->precision == 1 ? 2 : 1)) BAD("bad slot state");
        if (!st) continue;
        unsigned char lv;
        uint32_t idl, al;
        if (rb_get(&r, &lv, 1) || rb_u32(&r, &idl) || rb_u32(&r, &al)) BAD("truncated");
        if (lv > HN_MAX_LEVEL || idl == 0 || idl > 1024 || al > 65536) BAD("bad node header");
        if ((size_t)(r.end - r.p) < (size_t)idl + al) BAD("truncated");
        vrec *rec = vrec_new(r.p, idl, (const char *)r.p + idl, al);
        if (!rec) {
            rc = util_seterr(OMEN_NOMEM, "vector: out of memory");
            goto fail;
        }
        r.p += (size_t)idl + al;
        hnode *n = hn_node(g, s);
        n->level = lv;
        atomic_store(&n->rec, rec);
        atomic_fetch_add(&g->mem, sizeof(vrec) + idl + al + 1);
        if (lv) {
            size_t words = (size_t)lv * (g->M + 1);
            _Atomic uint32_t *up = util_calloc(words, 4);
            if (!up) {
                rc = util_seterr(OMEN_NOMEM, "vector: out of memory");
                goto fail;
            }
            atomic_store(&n->upper, up);
            atomic_fetch_add(&g->mem, words * 4);
        }
        hn_set_state(g, s, HN_LIVE);
        nlive++;
        for (uint32_t l = 0; l <= lv; l++) {
            uint32_t cnt, maxl = l == 0 ? g->M0 : g->M;
            if (rb_u32(&r, &cnt)) BAD("truncated");
            if (cnt > maxl) BAD("link count too large");
            _Atomic uint32_t *ls = hn_links(g, s, l);
            atomic_store(&ls[0], cnt);
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t x;
                if (rb_u32(&r, &x)) BAD("truncated");
                if (x >= hwm || x == s) BAD("link out of range");
                atomic_store(&ls[1 + i], x);
            }
        }
        if ((size_t)(r.end - r.p) < g->vec_bytes) BAD("truncated");
        memcpy((void *)hn_vec(g, s), r.p, g->vec_bytes);
        r.p += g->vec_bytes;
        /* Versions before 3 coded every vector with the set's map. */
        vquant m = g->q;
        if (g->permap && version >= 3) {
            if (rb_get(&r, &m.scale, 4) || rb_get(&r, &m.offset, 4)) BAD("truncated");
            if (!(m.scale > 0) || !isfinite(m.scale) || !isfinite(m.offset)) BAD("bad vector map");
        }
        hnsw_set_vec_meta(g, s, &m, st == 2);
    }
    if (r.p != r.end) BAD("trailing bytes");
    if (nlive != live) BAD("live count mismatch");
    /* Every link must name a live node that has the level. */
    for (uint32_t s = 0; s < hwm; s++) {
        hnode *n = hn_node(g, s);
        if (atomic_load(&n->state) != HN_LIVE) continue;
        for (uint32_t l = 0; l <= n->level; l++) {
            _Atomic uint32_t *ls = hn_links(g, s, l);
            uint32_t cnt = atomic_load(&ls[0]);
            for (uint32_t i = 0; i < cnt; i++) {
                hnode *t = hn_node(g, atomic_load(&ls[1 + i]));
                if (atomic_load(&t->state) != HN_LIVE || t->level < l) BAD("link to a missing node");
            }
        }
    }
    if (nlive == 0) {
        if (ep != HN_NONE) BAD("entry point in an empty graph");
    } else {
        if (ep >= hwm || atomic_load(&hn_node(g, ep)->state) != HN_LIVE ||
            hn_node(g, ep)->level != top)
            BAD("bad entry point");
        atomic_store(&g->entry, (uint64_t)ep | (uint64_t)top << 32);
    }
    atomic_store(&g->live, nlive);
    for (uint32_t s = 0; s < hwm; s++)
        if (atomic_load(&hn_node(g, s)->state) == HN_FREE && (rc = hnsw_add_free_slot(g, s))) goto fail;
    *out = g;
    return OMEN_OK;
fail:
    hnsw_free(g);
    return rc;
}
