/*
 * hnsw.c -- the search graph (hnsw.h): layered small-world graph after
 * Malkov & Yashunin, with quantized traversal and lock-free readers.
 *
 * Layout: each slot's level-0 links and its traversal vector sit in one
 * 64-byte-aligned record of a chunk, so visiting a node touches one
 * contiguous run of cache lines (prefetched while the previous neighbour's
 * distance is computed).  Upper levels (1/M of the nodes per level) live in
 * a separate small array per node.
 *
 * Insertion computes all of a new node's lists before any neighbour links
 * to it, so no reader ever reaches a node whose lists are still being
 * built.  Neighbour selection is the paper's heuristic (keep a candidate
 * only if it is closer to the base than to every neighbour kept so far),
 * which keeps the graph navigable across clusters.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"
#include "vector/hnsw.h"

enum { OMEN_METRIC_L2_ = 0, OMEN_METRIC_COSINE_ = 1, OMEN_METRIC_IP_ = 2 };
enum { PREC_F32 = 0, PREC_I8 = 1 };

vrec *vrec_new(const void *id, size_t id_len, const char *attrs, size_t attrs_len)
{
    vrec *r = util_malloc(sizeof(vrec) + id_len + attrs_len + 1);
    if (!r) return NULL;
    r->id_len = (uint32_t)id_len;
    r->attrs_len = (uint32_t)attrs_len;
    if (id_len) memcpy(r->data, id, id_len);
    if (attrs_len) memcpy(r->data + id_len, attrs, attrs_len);
    r->data[id_len + attrs_len] = 0;
    return r;
}

static size_t vrec_size(const vrec *r)
{
    return sizeof(vrec) + r->id_len + r->attrs_len + 1;
}

/* ---- per-thread scratch: visited tags and heaps ---- */

typedef struct hn_scratch {
    uint16_t *tags;
    size_t ntags;
    uint16_t mark;
    hn_cand *cand, *res;
    size_t ccap, rcap;
} hn_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    hn_scratch *s = p;
    if (!s) return;
    omen_free(s->tags);
    omen_free(s->cand);
    omen_free(s->res);
    omen_free(s);
}

static void scratch_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

static hn_scratch *scratch_get(size_t nslots, size_t ef)
{
    pthread_once(&scratch_once, scratch_init);
    hn_scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = util_calloc(1, sizeof *s);
        if (!s) return NULL;
        pthread_setspecific(scratch_key, s);
    }
    if (s->ntags < nslots) {
        size_t n = nslots + nslots / 2 + HN_CHUNK;
        uint16_t *t = util_calloc(n, sizeof *t);
        if (!t) return NULL;
        omen_free(s->tags);
        s->tags = t;
        s->ntags = n;
        s->mark = 0;
    }
    if (++s->mark == 0) {
        memset(s->tags, 0, s->ntags * sizeof *s->tags);
        s->mark = 1;
    }
    size_t need = ef + 1;
    if (s->rcap < need) {
        hn_cand *r = util_realloc(s->res, need * sizeof *r);
        if (!r) return NULL;
        s->res = r;
        s->rcap = need;
    }
    if (s->ccap < 64) {
        hn_cand *c = util_realloc(s->cand, 256 * sizeof *c);
        if (!c) return NULL;
        s->cand = c;
        s->ccap = 256;
    }
    return s;
}

/* ---- heaps over hn_cand ---- */

static inline void minheap_push(hn_cand *h, size_t *n, hn_cand c)
{
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p].d <= c.d) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static inline hn_cand minheap_pop(hn_cand *h, size_t *n)
{
    hn_cand top = h[0], last = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m) break;
        if (l + 1 < m && h[l + 1].d < h[l].d) l++;
        if (h[l].d >= last.d) break;
        h[i] = h[l];
        i = l;
    }
    if (m) h[i] = last;
    return top;
}

static inline void maxheap_push(hn_cand *h, size_t *n, hn_cand c)
{
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p].d >= c.d) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static inline void maxheap_pop(hn_cand *h, size_t *n)
{
    hn_cand last = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m) break;
        if (l + 1 < m && h[l + 1].d > h[l].d) l++;
        if (h[l].d <= last.d) break;
        h[i] = h[l];
        i = l;
    }
    if (m) h[i] = last;
}

static int cand_cmp(const void *a, const void *b)
{
    const hn_cand *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Pop a max-heap of n into ascending order in place. */
static void heap_sort_asc(hn_cand *h, size_t n)
{
    qsort(h, n, sizeof *h, cand_cmp);
}

/* ---- creation ---- */

int hnsw_new(uint32_t dim, int metric, int precision, uint32_t M, uint32_t efc, hnsw **out)
{
    hnsw *g = util_calloc(1, sizeof *g);
    if (!g) return util_seterr(OMEN_NOMEM, "vector: out of memory");
    g->dim = dim;
    g->metric = metric;
    g->precision = precision;
    g->M = M;
    g->M0 = 2 * M;
    g->efc = efc;
    g->vec_bytes = precision == PREC_I8 ? dim : (size_t)dim * 4;
    g->vec_off = (4 * (size_t)(g->M0 + HN_L0_HDR_WORDS + 1) + 63) & ~(size_t)63;
    g->permap = precision == PREC_I8 && metric != OMEN_METRIC_L2_;
    g->l0_stride = (g->vec_off + g->vec_bytes + 63) & ~(size_t)63;
    g->k = vdist_get(VDIST_AUTO);
    g->l0dir = util_calloc(HN_MAX_CHUNKS, sizeof *g->l0dir);
    g->ndir = util_calloc(HN_MAX_CHUNKS, sizeof *g->ndir);
    g->rd_mem = util_calloc(HN_READERS + 1, sizeof(hn_reader));
    if (!g->l0dir || !g->ndir || !g->rd_mem) {
        hnsw_free(g);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    g->rd = (hn_reader *)(((uintptr_t)g->rd_mem + 63) & ~(uintptr_t)63);
    atomic_init(&g->entry, (uint64_t)HN_NONE);
    atomic_init(&g->epoch, 1);
    g->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)dim << 20) ^ M;
    g->q.scale = 1.0f / 127.0f;
    g->q.offset = 0;
    *out = g;
    return OMEN_OK;
}

void hnsw_free(hnsw *g)
{
    if (!g) return;
    uint32_t hwm = atomic_load(&g->hwm);
    if (g->ndir) {
        for (uint32_t s = 0; s < hwm; s++) {
            hnode *n = hn_node(g, s);
            omen_free(atomic_load(&n->upper));
            omen_free(atomic_load(&n->rec));
        }
        for (uint32_t c = 0; c < HN_MAX_CHUNKS; c++) {
            hnode *nc = atomic_load(&g->ndir[c]);
            if (!nc) break;
            omen_free(nc);
            free(atomic_load(&g->l0dir[c]));
        }
    }
    for (size_t i = g->limbo_head; i < g->nlimbo; i++)
        if (g->limbo[i].slot == HN_NONE) omen_free(g->limbo[i].ptr);
    omen_free(g->limbo);
    omen_free(g->l0dir);
    omen_free(g->ndir);
    omen_free(g->rd_mem);
    omen_free(g);
}

uint64_t hnsw_memory(const hnsw *g)
{
    return atomic_load(&g->mem);
}

uint32_t hnsw_levels(const hnsw *g)
{
    uint64_t e = atomic_load(&g->entry);
    if ((uint32_t)e == HN_NONE) return 0;
    return (uint32_t)(e >> 32) + 1;
}

/* ---- epochs ---- */

int hnsw_read_begin(hnsw *g)
{
    static _Atomic unsigned rr;
    unsigned start = atomic_fetch_add_explicit(&rr, 1, memory_order_relaxed);
    for (;;) {
        for (unsigned i = 0; i < HN_READERS; i++) {
            unsigned s = (start + i) % HN_READERS;
            uint64_t zero = 0;
            uint64_t e = atomic_load(&g->epoch);
            if (atomic_load_explicit(&g->rd[s].epoch, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong(&g->rd[s].epoch, &zero, e)) {
                /* Re-publish until the global epoch is stable, so a writer
                 * that advanced it meanwhile sees this reader. */
                for (;;) {
                    uint64_t e2 = atomic_load(&g->epoch);
                    if (e2 == e) return (int)s;
                    atomic_store(&g->rd[s].epoch, e2);
                    e = e2;
                }
            }
        }
        sched_yield();
    }
}

void hnsw_read_end(hnsw *g, int slot)
{
    atomic_store_explicit(&g->rd[slot].epoch, 0, memory_order_release);
}

static uint64_t min_active(hnsw *g)
{
    uint64_t m = UINT64_MAX;
    for (unsigned i = 0; i < HN_READERS; i++) {
        uint64_t e = atomic_load(&g->rd[i].epoch);
        if (e && e < m) m = e;
    }
    return m;
}

static int retire(hnsw *g, uint32_t slot, void *ptr)
{
    if (g->nlimbo == g->climbo) {
        if (g->limbo_head > 0) {
            memmove(g->limbo, g->limbo + g->limbo_head, (g->nlimbo - g->limbo_head) * sizeof *g->limbo);
            g->nlimbo -= g->limbo_head;
            g->limbo_head = 0;
        }
        if (g->nlimbo == g->climbo) {
            size_t nc = g->climbo ? g->climbo * 2 : 256;
            hn_retired *l = util_realloc(g->limbo, nc * sizeof *l);
            if (!l) return OMEN_NOMEM;
            g->limbo = l;
            g->climbo = nc;
        }
    }
    g->limbo[g->nlimbo++] = (hn_retired){atomic_load(&g->epoch), slot, ptr};
    return OMEN_OK;
}

/* Free slots wait at the front of limbo until reusable; everything else is
 * freed as soon as its epoch has passed. */
void hnsw_reclaim(hnsw *g)
{
    if (g->limbo_head == g->nlimbo) return;
    uint64_t m = min_active(g);
    size_t w = g->limbo_head;
    for (size_t i = g->limbo_head; i < g->nlimbo; i++) {
        hn_retired *r = &g->limbo[i];
        if (r->epoch < m && r->slot == HN_NONE) {
            omen_free(r->ptr);
            continue;
        }
        g->limbo[w++] = *r;
    }
    g->nlimbo = w;
}

int hnsw_add_free_slot(hnsw *g, uint32_t s)
{
    if (retire(g, s, NULL)) return util_seterr(OMEN_NOMEM, "vector: out of memory");
    g->limbo[g->nlimbo - 1].epoch = 0;
    return OMEN_OK;
}

static uint32_t take_free_slot(hnsw *g)
{
    if (g->limbo_head == g->nlimbo) return HN_NONE;
    uint64_t m = min_active(g);
    for (size_t i = g->limbo_head; i < g->nlimbo; i++) {
        hn_retired *r = &g->limbo[i];
        if (r->epoch >= m) break;
        if (r->slot != HN_NONE) {
            uint32_t s = r->slot;
            g->limbo[i] = g->limbo[g->limbo_head++];
            return s;
        }
    }
    return HN_NONE;
}

/* ---- slots ---- */

int hnsw_ensure_slot(hnsw *g, uint32_t s)
{
    uint32_t c = s >> HN_CHUNK_BITS;
    if (c >= HN_MAX_CHUNKS) return util_seterr(OMEN_TOOBIG, "vector: set is full");
    for (uint32_t i = 0; i <= c; i++) {
        if (atomic_load_explicit(&g->ndir[i], memory_order_relaxed)) continue;
        size_t l0bytes = (size_t)HN_CHUNK * g->l0_stride;
        unsigned char *l0 = aligned_alloc(64, l0bytes);
        hnode *nc = util_calloc(HN_CHUNK, sizeof(hnode));
        if (!l0 || !nc) {
            free(l0);
            omen_free(nc);
            return util_seterr(OMEN_NOMEM, "vector: out of memory");
        }
        memset(l0, 0, l0bytes);
        atomic_fetch_add(&g->mem, l0bytes + HN_CHUNK * sizeof(hnode));
        atomic_store_explicit(&g->l0dir[i], l0, memory_order_release);
        atomic_store_explicit(&g->ndir[i], nc, memory_order_release);
    }
    if (s >= atomic_load(&g->hwm)) atomic_store_explicit(&g->hwm, s + 1, memory_order_release);
    return OMEN_OK;
}

/* ---- distances ---- */


float hnsw_fdist(const hnsw *g, const float *a, const void *b)
{
    if (g->metric == OMEN_METRIC_L2_) return g->k->l2_f32(a, b, g->dim);
    float d = g->k->dot_f32(a, b, g->dim);
    return g->metric == OMEN_METRIC_IP_ ? -d : 1.0f - d;
}

/* A traversal vector with the sum of its int8 components and of their
 * squares, and its map: with x ~ s q + o, a dot product is
 * sa sb (qa.qb) + sa ob sum_a + oa sb sum_b + dim oa ob, so each vector
 * may have its own map (dot metrics do); and where the kernels multiply
 * fast (fast_dot), a squared L2 distance (one map for the set) is
 * sq_a + sq_b - 2 qa.qb. */
typedef struct hn_qv {
    const void *v;
    int32_t sum, sq;
    vquant m;
} hn_qv;

static inline void i8_sums(const int8_t *v, uint32_t n, int32_t *sum, int32_t *sq)
{
    int32_t s = 0, q = 0;
    for (uint32_t i = 0; i < n; i++) {
        s += v[i];
        q += (int32_t)v[i] * v[i];
    }
    *sum = s;
    *sq = q;
}

static inline float qvdist(const hnsw *g, const hn_qv *a, uint32_t s)
{
    const void *b = hn_vec(g, s);
    if (g->precision == PREC_I8) {
        int32_t bsum = *hn_sum(g, s);
        if (g->metric == OMEN_METRIC_L2_) {
            int32_t v = g->k->fast_dot ? a->sq + *hn_sqsum(g, s) - 2 * g->k->dot_i8s(a->v, b, bsum, g->dim)
                                       : g->k->l2_i8(a->v, b, g->dim);
            return (float)v * (g->q.scale * g->q.scale);
        }
        const vquant *m = hn_map(g, s);
        float sa = a->m.scale, oa = a->m.offset, sb = m->scale, ob = m->offset;
        float dot = sa * sb * (float)g->k->dot_i8s(a->v, b, bsum, g->dim) + sa * ob * (float)a->sum +
                    oa * sb * (float)bsum + (float)g->dim * oa * ob;
        return g->metric == OMEN_METRIC_IP_ ? -dot : 1.0f - dot;
    }
    return hnsw_fdist(g, a->v, b);
}

void hnsw_set_vec_meta(hnsw *g, uint32_t s, const vquant *m, int exact)
{
    int32_t sum = 0, sq = 0;
    if (g->precision == PREC_I8) i8_sums(hn_vec(g, s), g->dim, &sum, &sq);
    *hn_sum(g, s) = sum;
    *hn_sqsum(g, s) = sq;
    *hn_flags(g, s) = exact ? HN_F_EXACT : 0;
    *hn_map(g, s) = *m;
    atomic_store_explicit(hn_loc(g, s), 0, memory_order_relaxed);
}

static inline hn_qv node_qv(const hnsw *g, uint32_t s)
{
    return (hn_qv){hn_vec(g, s), *hn_sum(g, s), *hn_sqsum(g, s), *hn_map(g, s)};
}

/* The map for vector x: its own (dot metrics) or the set's. */
static inline void map_for(const hnsw *g, const float *x, vquant *m)
{
    if (g->permap) {
        float lo = 0, hi = 0;
        if (g->dim) g->k->range(x, g->dim, &lo, &hi);
        vquant_fit(m, lo, hi);
    } else {
        *m = g->q;
    }
}

/* The traversal representation of vec into out, with its map *m; returns
 * 1 if the codes are lossless. */
static int encode(const hnsw *g, const float *vec, void *out, vquant *m)
{
    *m = g->q;
    if (g->precision != PREC_I8) {
        memcpy(out, vec, (size_t)g->dim * 4);
        return 0;
    }
    map_for(g, vec, m);
    g->k->quant(vec, m->offset, 1.0f / m->scale, out, g->dim);
    return vquant_exact(m, vec, out, g->dim);
}

void hnsw_prepare_query(const hnsw *g, const float *f, int8_t *q8, hn_query *out)
{
    *out = (hn_query){f, q8, g->q, 0};
    if (g->precision == PREC_I8) out->exact = encode(g, f, q8, &out->m);
}

static inline hn_qv query_qv(const hnsw *g, const hn_query *q)
{
    hn_qv v = {q->f, 0, 0, q->m};
    if (g->precision == PREC_I8) {
        v.v = q->q8;
        i8_sums(q->q8, g->dim, &v.sum, &v.sq);
    }
    return v;
}

float hnsw_qdist(const hnsw *g, const hn_query *q, uint32_t s)
{
    hn_qv v = query_qv(g, q);
    return qvdist(g, &v, s);
}

static inline float ndist(const hnsw *g, uint32_t a, uint32_t b)
{
    hn_qv v = node_qv(g, a);
    return qvdist(g, &v, b);
}

#ifndef HN_PREFETCH_AHEAD
#define HN_PREFETCH_AHEAD 3
#endif
static inline void prefetch_node(const hnsw *g, uint32_t s)
{
    const char *b = (const char *)hn_l0(g, s);
    __builtin_prefetch(b, 0, 3); /* state word */
    const char *p = b + g->vec_off;
    size_t n = g->vec_bytes < 1024 ? g->vec_bytes : 1024;
    for (size_t o = 0; o < n; o += 64) __builtin_prefetch(p + o, 0, 3);
}

/* ---- search ---- */

static uint32_t greedy(const hnsw *g, const hn_qv *qv, uint32_t cur, float *curd, uint32_t top,
                       uint32_t bottom)
{
    for (uint32_t l = top; l > bottom; l--) {
        int changed = 1;
        while (changed) {
            changed = 0;
            _Atomic uint32_t *ls = hn_links(g, cur, l);
            if (!ls) break;
            uint32_t cnt = atomic_load_explicit(&ls[0], memory_order_acquire);
            if (cnt > g->M) cnt = g->M;
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t n = atomic_load_explicit(&ls[1 + i], memory_order_acquire);
                if (n >= atomic_load_explicit(&g->hwm, memory_order_acquire)) continue;
                float d = qvdist(g, qv, n);
                if (d < *curd) {
                    *curd = d;
                    cur = n;
                    changed = 1;
                }
            }
        }
    }
    return cur;
}

/* Beam search of one level from eps.  Results: live nodes (matching f)
 * into s->res as a max-heap of up to ef; returns its size. */
static size_t search_layer(const hnsw *g, hn_scratch *s, const hn_qv *qv, const hn_cand *eps,
                           size_t neps, uint32_t ef, uint32_t level, const vfilter *f,
                           uint32_t exclude, size_t *visited)
{
    size_t nc = 0, nr = 0, vis = 0;
    uint32_t ntags = (uint32_t)(s->ntags < UINT32_MAX ? s->ntags : UINT32_MAX);
    uint32_t maxl = level == 0 ? g->M0 : g->M;
    for (size_t i = 0; i < neps; i++) {
        uint32_t e = eps[i].slot;
        if (e >= ntags || s->tags[e] == s->mark) continue;
        s->tags[e] = s->mark;
        minheap_push(s->cand, &nc, eps[i]);
        if (e != exclude && atomic_load_explicit(hn_l0state(g, e), memory_order_acquire) == HN_LIVE) {
            if (f) {
                vrec *r = atomic_load_explicit(&hn_node(g, e)->rec, memory_order_acquire);
                if (!r || !vfilter_match(f, vrec_attrs(r), r->attrs_len)) continue;
            }
            maxheap_push(s->res, &nr, eps[i]);
            if (nr > ef) maxheap_pop(s->res, &nr);
        }
    }
    while (nc) {
        hn_cand c = minheap_pop(s->cand, &nc);
        if (nr >= ef && c.d > s->res[0].d) break;
        _Atomic uint32_t *ls = hn_links(g, c.slot, level);
        if (!ls) continue;
        uint32_t cnt = atomic_load_explicit(&ls[0], memory_order_acquire);
        if (cnt > maxl) cnt = maxl;
        uint32_t hwm = atomic_load_explicit(&g->hwm, memory_order_acquire);
        uint32_t nb[130];
        uint32_t k = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t n = atomic_load_explicit(&ls[1 + i], memory_order_acquire);
            if (n >= hwm || n >= ntags || s->tags[n] == s->mark) continue;
            s->tags[n] = s->mark;
            nb[k++] = n;
        }
        /* First every neighbour's record head (state, sums, map: one line
         * each, and its page translation), then whole records a few ahead
         * of the distance being computed: more whole records in flight
         * only wait for fill buffers (measured: heads first, 3 ahead, was
         * 10-15% faster per query than 2 ahead without heads). */
        for (uint32_t i = 0; i < k; i++) __builtin_prefetch(hn_l0(g, nb[i]), 0, 3);
        for (uint32_t i = 0; i < k && i < HN_PREFETCH_AHEAD; i++) prefetch_node(g, nb[i]);
        for (uint32_t i = 0; i < k; i++) {
            if (i + HN_PREFETCH_AHEAD < k) prefetch_node(g, nb[i + HN_PREFETCH_AHEAD]);
            uint32_t n = nb[i];
            vis++;
            float d = qvdist(g, qv, n);
            if (nr < ef || d < s->res[0].d) {
                if (nc + 1 >= s->ccap) {
                    size_t ncap = s->ccap * 2;
                    hn_cand *nn = util_realloc(s->cand, ncap * sizeof *nn);
                    if (!nn) break;
                    s->cand = nn;
                    s->ccap = ncap;
                }
                minheap_push(s->cand, &nc, (hn_cand){d, n});
                if (n == exclude || atomic_load_explicit(hn_l0state(g, n), memory_order_acquire) != HN_LIVE)
                    continue;
                if (f) {
                    vrec *r = atomic_load_explicit(&hn_node(g, n)->rec, memory_order_acquire);
                    if (!r || !vfilter_match(f, vrec_attrs(r), r->attrs_len)) continue;
                }
                maxheap_push(s->res, &nr, (hn_cand){d, n});
                if (nr > ef) maxheap_pop(s->res, &nr);
            }
        }
    }
    if (visited) *visited += vis;
    return nr;
}

size_t hnsw_search(hnsw *g, const hn_query *q, uint32_t ef, const vfilter *f, hn_cand *out,
                   size_t *visited)
{
    if (visited) *visited = 0;
    uint64_t e = atomic_load_explicit(&g->entry, memory_order_acquire);
    uint32_t ep = (uint32_t)e, top = (uint32_t)(e >> 32);
    if (ep == HN_NONE) return 0;
    hn_scratch *s = scratch_get(atomic_load(&g->hwm), ef);
    if (!s) return 0;
    hn_qv qv = query_qv(g, q);
    float d = qvdist(g, &qv, ep);
    ep = greedy(g, &qv, ep, &d, top, 0);
    hn_cand start = {d, ep};
    size_t nr = search_layer(g, s, &qv, &start, 1, ef, 0, f, HN_NONE, visited);
    memcpy(out, s->res, nr * sizeof *out);
    heap_sort_asc(out, nr);
    return nr;
}

size_t hnsw_scan(hnsw *g, const hn_query *q, uint32_t r, const vfilter *f, hn_cand *out)
{
    uint32_t hwm = atomic_load_explicit(&g->hwm, memory_order_acquire);
    size_t nr = 0;
    hn_qv qv = query_qv(g, q);
    for (uint32_t sl = 0; sl < hwm && r; sl++) {
        hnode *n = hn_node(g, sl);
        if (atomic_load_explicit(&n->state, memory_order_acquire) != HN_LIVE) continue;
        if (f) {
            vrec *rc = atomic_load_explicit(&n->rec, memory_order_acquire);
            if (!rc || !vfilter_match(f, vrec_attrs(rc), rc->attrs_len)) continue;
        }
        float d = qvdist(g, &qv, sl);
        if (nr < r) {
            maxheap_push(out, &nr, (hn_cand){d, sl});
        } else if (d < out[0].d) {
            maxheap_pop(out, &nr);
            maxheap_push(out, &nr, (hn_cand){d, sl});
        }
    }
    heap_sort_asc(out, nr);
    return nr;
}

uint32_t hnsw_random_live(hnsw *g, uint64_t r)
{
    uint32_t hwm = atomic_load_explicit(&g->hwm, memory_order_acquire);
    if (!hwm || atomic_load(&g->live) == 0) return HN_NONE;
    /* Rejection sampling first (uniform), a linear probe as the fallback. */
    for (int t = 0; t < 64; t++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t s = (uint32_t)((r >> 33) % hwm);
        if (atomic_load_explicit(&hn_node(g, s)->state, memory_order_acquire) == HN_LIVE) return s;
    }
    uint32_t s0 = (uint32_t)(r % hwm);
    for (uint32_t i = 0; i < hwm; i++) {
        uint32_t s = (s0 + i) % hwm;
        if (atomic_load_explicit(&hn_node(g, s)->state, memory_order_acquire) == HN_LIVE) return s;
    }
    return HN_NONE;
}

double hnsw_filter_sample(hnsw *g, const vfilter *f, uint32_t n)
{
    if (!f || atomic_load(&g->live) == 0) return 1.0;
    uint32_t hit = 0, seen = 0;
    uint64_t r = 0x1234567ull;
    for (uint32_t i = 0; i < n; i++) {
        r += 0x9e3779b97f4a7c15ull;
        uint32_t s = hnsw_random_live(g, r);
        if (s == HN_NONE) break;
        vrec *rc = atomic_load_explicit(&hn_node(g, s)->rec, memory_order_acquire);
        seen++;
        if (rc && vfilter_match(f, vrec_attrs(rc), rc->attrs_len)) hit++;
    }
    return seen ? (double)hit / seen : 1.0;
}

/* ---- insertion ---- */

void hnsw_train(hnsw *g, const float *vecs, size_t n)
{
    if (g->precision != PREC_I8 || g->trained || n == 0) return;
    vquant_train(&g->q, vecs, n, g->dim, 1);
    g->trained = 1;
}

int hnsw_same_vector(hnsw *g, uint32_t slot, const float *vec)
{
    unsigned char buf[g->vec_bytes ? g->vec_bytes : 1];
    vquant m;
    int exact = encode(g, vec, buf, &m);
    if (memcmp(buf, hn_vec(g, slot), g->vec_bytes) != 0) return 0;
    if (g->precision == PREC_I8 && memcmp(&m, hn_map(g, slot), sizeof m) != 0) return 0;
    /* Same codes from a different float vector: the node's lossless flag
     * would be stale (re-ranking skipped for a vector that needs it). */
    return exact == ((*hn_flags(g, slot) & HN_F_EXACT) != 0);
}

static uint32_t random_level(hnsw *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    double u = ((g->rng >> 11) + 0.5) / 9007199254740992.0;
    double l = -log(u) / log((double)g->M);
    return l >= HN_MAX_LEVEL ? HN_MAX_LEVEL : (uint32_t)l;
}

/* The heuristic: from cands (ascending by distance to the base), keep up
 * to m that are closer to the base than to any already kept. */
static size_t select_neighbors(const hnsw *g, hn_cand *c, size_t n, uint32_t m, uint32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < m; i++) {
        int good = 1;
        for (size_t j = 0; j < k; j++)
            if (ndist(g, c[i].slot, out[j]) < c[i].d) {
                good = 0;
                break;
            }
        if (good) out[k++] = c[i].slot;
    }
    return k;
}

static void write_list(_Atomic uint32_t *ls, const uint32_t *v, uint32_t n, uint32_t old)
{
    /* Shrink the count first so no reader uses slots beyond the new list
     * while they are rewritten; grow it last. */
    if (n < old) atomic_store_explicit(&ls[0], n, memory_order_release);
    for (uint32_t i = 0; i < n; i++) atomic_store_explicit(&ls[1 + i], v[i], memory_order_release);
    atomic_store_explicit(&ls[0], n, memory_order_release);
}

/* Add `add` to node n's list at level l, re-selecting when full. */
static void add_link(hnsw *g, uint32_t n, uint32_t l, uint32_t add, float dadd)
{
    _Atomic uint32_t *ls = hn_links(g, n, l);
    uint32_t maxl = l == 0 ? g->M0 : g->M;
    uint32_t cnt = atomic_load_explicit(&ls[0], memory_order_relaxed);
    for (uint32_t i = 0; i < cnt; i++)
        if (atomic_load_explicit(&ls[1 + i], memory_order_relaxed) == add) return;
    if (cnt < maxl) {
        atomic_store_explicit(&ls[1 + cnt], add, memory_order_release);
        atomic_store_explicit(&ls[0], cnt + 1, memory_order_release);
        return;
    }
    hn_cand c[130];
    size_t k = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t x = atomic_load_explicit(&ls[1 + i], memory_order_relaxed);
        c[k++] = (hn_cand){ndist(g, n, x), x};
    }
    c[k++] = (hn_cand){dadd, add};
    qsort(c, k, sizeof *c, cand_cmp);
    uint32_t sel[130];
    size_t m = select_neighbors(g, c, k, maxl, sel);
    write_list(ls, sel, (uint32_t)m, cnt);
}

int hnsw_insert(hnsw *g, const float *vec, vrec *rec, uint32_t *slot_out)
{
    hnsw_reclaim(g);
    uint32_t s = take_free_slot(g);
    if (s == HN_NONE) {
        s = atomic_load(&g->hwm);
        int rc = hnsw_ensure_slot(g, s);
        if (rc) return rc;
    }
    hnode *node = hn_node(g, s);
    uint32_t level = random_level(g);
    _Atomic uint32_t *up = NULL;
    if (level > 0) {
        size_t words = (size_t)level * (g->M + 1);
        up = util_calloc(words, 4);
        if (!up) return util_seterr(OMEN_NOMEM, "vector: out of memory");
        atomic_fetch_add(&g->mem, words * 4);
    }
    unsigned char *l0 = hn_l0(g, s);
    vquant m;
    int exact = encode(g, vec, l0 + g->vec_off, &m);
    hnsw_set_vec_meta(g, s, &m, exact);
    atomic_store_explicit(hn_links(g, s, 0), 0, memory_order_relaxed);
    node->level = level;
    atomic_store_explicit(&node->upper, up, memory_order_release);
    atomic_store_explicit(&node->rec, rec, memory_order_release);
    atomic_fetch_add(&g->mem, vrec_size(rec));

    uint64_t e = atomic_load(&g->entry);
    uint32_t ep = (uint32_t)e, top = (uint32_t)(e >> 32);
    /* No live node (the only one was just replaced or deleted): the entry
     * is a deleted node with nothing live behind it, so linking from it
     * would leave the new node unreachable; start the graph afresh. */
    if (atomic_load(&g->live) == 0) ep = HN_NONE;
    uint32_t sel[HN_MAX_LEVEL + 1][130];
    uint32_t nsel[HN_MAX_LEVEL + 1] = {0};
    if (ep != HN_NONE) {
        hn_scratch *sc = scratch_get(atomic_load(&g->hwm), g->efc);
        if (!sc) return util_seterr(OMEN_NOMEM, "vector: out of memory");
        hn_qv qvv = node_qv(g, s);
        const hn_qv *qv = &qvv;
        float d = qvdist(g, qv, ep);
        if (top > level) ep = greedy(g, qv, ep, &d, top, level);
        hn_cand eps[512];
        size_t neps = 1;
        eps[0] = (hn_cand){d, ep};
        for (int l = (int)(level < top ? level : top); l >= 0; l--) {
            if (++sc->mark == 0) {
                memset(sc->tags, 0, sc->ntags * sizeof *sc->tags);
                sc->mark = 1;
            }
            size_t nr = search_layer(g, sc, qv, eps, neps, g->efc, (uint32_t)l, NULL, s, NULL);
            heap_sort_asc(sc->res, nr);
            uint32_t maxl = l == 0 ? g->M0 : g->M;
            (void)maxl;
            nsel[l] = (uint32_t)select_neighbors(g, sc->res, nr, g->M, sel[l]);
            neps = nr < 512 ? nr : 512;
            memcpy(eps, sc->res, neps * sizeof *eps);
            if (neps == 0) {
                eps[0] = (hn_cand){d, ep};
                neps = 1;
            }
        }
        /* The node's own lists, complete before anyone links to it. */
        for (uint32_t l = 0; l <= level && l <= top; l++)
            write_list(hn_links(g, s, l), sel[l], nsel[l], 0);
    }
    hn_set_state(g, s, HN_LIVE);
    atomic_fetch_add(&g->live, 1);
    if (ep != HN_NONE) {
        for (uint32_t l = 0; l <= level && l <= top; l++)
            for (uint32_t i = 0; i < nsel[l]; i++)
                add_link(g, sel[l][i], l, s, ndist(g, s, sel[l][i]));
    }
    if (ep == HN_NONE || level > top)
        atomic_store_explicit(&g->entry, (uint64_t)s | (uint64_t)level << 32, memory_order_release);
    *slot_out = s;
    return OMEN_OK;
}

void hnsw_mark_deleted(hnsw *g, uint32_t slot)
{
    hnode *n = hn_node(g, slot);
    if (atomic_load(&n->state) != HN_LIVE) return;
    hn_set_state(g, slot, HN_DELETED);
    atomic_fetch_sub(&g->live, 1);
    atomic_fetch_add(&g->deleted, 1);
}

void hnsw_set_rec(hnsw *g, uint32_t slot, vrec *rec)
{
    hnode *n = hn_node(g, slot);
    vrec *old = atomic_exchange_explicit(&n->rec, rec, memory_order_acq_rel);
    atomic_fetch_add(&g->mem, vrec_size(rec));
    if (old) {
        atomic_fetch_sub(&g->mem, vrec_size(old));
        if (retire(g, HN_NONE, old)) {
            /* Out of memory for the limbo list: keep the old record (a
             * leak is better than a use after free). */
        }
        atomic_fetch_add(&g->epoch, 1);
    }
}

/* ---- deletion: unlink and repair ---- */

static int is_deleted(const hnsw *g, uint32_t s)
{
    return atomic_load_explicit(&hn_node(g, s)->state, memory_order_relaxed) == HN_DELETED;
}

int hnsw_consolidate(hnsw *g)
{
    if (atomic_load(&g->deleted) == 0) return OMEN_OK;
    uint32_t hwm = atomic_load(&g->hwm);
    hn_scratch *sc = scratch_get(hwm, 8);
    if (!sc) return util_seterr(OMEN_NOMEM, "vector: out of memory");
    size_t ccap = 4096;
    hn_cand *c = util_malloc(ccap * sizeof *c);
    if (!c) return util_seterr(OMEN_NOMEM, "vector: out of memory");
    for (uint32_t s = 0; s < hwm; s++) {
        hnode *n = hn_node(g, s);
        if (atomic_load(&n->state) != HN_LIVE) continue;
        for (uint32_t l = 0; l <= n->level; l++) {
            _Atomic uint32_t *ls = hn_links(g, s, l);
            uint32_t maxl = l == 0 ? g->M0 : g->M;
            uint32_t cnt = atomic_load_explicit(&ls[0], memory_order_relaxed);
            int dirty = 0;
            for (uint32_t i = 0; i < cnt && !dirty; i++)
                dirty = is_deleted(g, atomic_load_explicit(&ls[1 + i], memory_order_relaxed));
            if (!dirty) continue;
            if (++sc->mark == 0) {
                memset(sc->tags, 0, sc->ntags * sizeof *sc->tags);
                sc->mark = 1;
            }
            sc->tags[s] = sc->mark;
            size_t k = 0;
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t x = atomic_load_explicit(&ls[1 + i], memory_order_relaxed);
                if (!is_deleted(g, x)) {
                    if (sc->tags[x] != sc->mark && k < ccap) {
                        sc->tags[x] = sc->mark;
                        c[k++] = (hn_cand){ndist(g, s, x), x};
                    }
                    continue;
                }
                /* Bridge through the deleted neighbour's own links. */
                if (l > hn_node(g, x)->level) continue;
                _Atomic uint32_t *xl = hn_links(g, x, l);
                uint32_t xc = atomic_load_explicit(&xl[0], memory_order_relaxed);
                for (uint32_t j = 0; j < xc; j++) {
                    uint32_t y = atomic_load_explicit(&xl[1 + j], memory_order_relaxed);
                    if (y >= hwm || sc->tags[y] == sc->mark || is_deleted(g, y)) continue;
                    if (atomic_load(&hn_node(g, y)->state) != HN_LIVE || k >= ccap) continue;
                    sc->tags[y] = sc->mark;
                    c[k++] = (hn_cand){ndist(g, s, y), y};
                }
            }
            qsort(c, k, sizeof *c, cand_cmp);
            if (k > 3 * (size_t)maxl) k = 3 * (size_t)maxl;
            uint32_t sel[130];
            size_t m = select_neighbors(g, c, k, maxl, sel);
            /* A repaired node lost in-links along with the deleted one:
             * keep its list full with the closest pruned candidates, so
             * churn does not thin the graph out. */
            for (size_t i = 0; i < k && m < maxl; i++) {
                int dup = 0;
                for (size_t j = 0; j < m && !dup; j++) dup = sel[j] == c[i].slot;
                if (!dup) sel[m++] = c[i].slot;
            }
            write_list(ls, sel, (uint32_t)m, cnt);
        }
    }
    omen_free(c);
    /* A new entry point if the old one goes: the live node of highest level. */
    uint64_t e = atomic_load(&g->entry);
    uint32_t ep = (uint32_t)e;
    if (ep != HN_NONE && is_deleted(g, ep)) {
        uint32_t best = HN_NONE, bl = 0;
        for (uint32_t s = 0; s < hwm; s++) {
            hnode *n = hn_node(g, s);
            if (atomic_load(&n->state) == HN_LIVE && (best == HN_NONE || n->level > bl)) {
                best = s;
                bl = n->level;
            }
        }
        atomic_store_explicit(&g->entry, best == HN_NONE ? (uint64_t)HN_NONE : (uint64_t)best | (uint64_t)bl << 32,
                              memory_order_release);
    }
    /* Free the deleted slots: unreachable now except to readers already
     * inside, which the epoch waits out. */
    int rc = OMEN_OK;
    for (uint32_t s = 0; s < hwm; s++) {
        hnode *n = hn_node(g, s);
        if (atomic_load(&n->state) != HN_DELETED) continue;
        hn_set_state(g, s, HN_FREE);
        _Atomic uint32_t *up = atomic_exchange(&n->upper, NULL);
        vrec *r = atomic_exchange(&n->rec, NULL);
        if (up) atomic_fetch_sub(&g->mem, (size_t)n->level * (g->M + 1) * 4);
        if (r) atomic_fetch_sub(&g->mem, vrec_size(r));
        if (retire(g, s, NULL) || (up && retire(g, HN_NONE, (void *)up)) ||
            (r && retire(g, HN_NONE, r)))
            rc = util_seterr(OMEN_NOMEM, "vector: out of memory retiring a node");
        atomic_fetch_sub(&g->deleted, 1);
    }
    atomic_fetch_add(&g->epoch, 1);
    return rc;
}
