/*
 * vsearch.c -- searches of a vector set: k nearest by graph (int8 sets
 * re-rank their best candidates with exact distances, vrerank.c), by a scan
 * of the matching nodes when a filter is selective, or exactly over every
 * element in the engine; omen_vset_search_many spreads queries over threads.
 *
 * Invariants: a search holds a graph read epoch (hnsw_read_begin/end) for
 * as long as it uses node records, and never takes wmu.  Hits are ordered
 * by distance, then by id bytes, so equal distances rank the same way in
 * every path.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"
#include "vector/vfilter.h"
#include "vector/vkeys.h"
#include "vector/vrerank.h"
#include "vector/vset.h"

/* ---- search ---- */

typedef struct hit_tmp {
    float d;
    const void *id;
    size_t idlen;
    void *own; /* owned copy of id (exact scans) */
} hit_tmp;

static int hit_cmp(const void *a, const void *b)
{
    const hit_tmp *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    size_t m = x->idlen < y->idlen ? x->idlen : y->idlen;
    int c = memcmp(x->id, y->id, m);
    return c ? c : (x->idlen > y->idlen) - (x->idlen < y->idlen);
}

static int make_result(hit_tmp *h, size_t n, omen_vset_result **out)
{
    size_t bytes = sizeof(omen_vset_result) + n * sizeof(omen_vset_hit);
    for (size_t i = 0; i < n; i++) bytes += h[i].idlen;
    omen_vset_result *r = util_malloc(bytes);
    if (!r) return util_seterr(OMEN_NOMEM, "vector search: out of memory");
    r->n = n;
    r->hits = (omen_vset_hit *)(r + 1);
    unsigned char *p = (unsigned char *)(r->hits + n);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, h[i].id, h[i].idlen);
        r->hits[i].id = p;
        r->hits[i].id_len = h[i].idlen;
        r->hits[i].score = h[i].d;
        p += h[i].idlen;
    }
    *out = r;
    return OMEN_OK;
}

typedef struct exact_ctx {
    omen_vset *vs;
    const float *q;
    const vfilter *f;
    uint32_t k;
    hit_tmp *h; /* max-heap by d, up to k */
    size_t n;
} exact_ctx;

static void hheap_push(hit_tmp *h, size_t *n, hit_tmp x)
{
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (hit_cmp(&h[p], &x) >= 0) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static hit_tmp hheap_pop(hit_tmp *h, size_t *n)
{
    hit_tmp top = h[0], last = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m) break;
        if (l + 1 < m && hit_cmp(&h[l + 1], &h[l]) > 0) l++;
        if (hit_cmp(&h[l], &last) <= 0) break;
        h[i] = h[l];
        i = l;
    }
    if (m) h[i] = last;
    return top;
}

static int exact_cb(void *ctx, const unsigned char *k, size_t kl, const void *v, size_t vl)
{
    exact_ctx *c = ctx;
    const unsigned char *vb = NULL;
    const char *a = NULL;
    size_t al = 0;
    int rc = vset_elem_decode(c->vs, v, vl, &vb, &a, &al);
    if (rc) return rc;
    if (c->f && !vfilter_match(c->f, a, al)) return 0;
    hit_tmp x = {hnsw_fdist(c->vs->g, c->q, vb), k + VK_SET, kl - VK_SET, NULL};
    if (c->n == c->k && hit_cmp(&x, &c->h[0]) >= 0) return 0;
    x.own = util_memdup(k + VK_SET, kl - VK_SET);
    if (!x.own) return OMEN_NOMEM;
    x.id = x.own;
    if (c->n == c->k) {
        hit_tmp old = hheap_pop(c->h, &c->n);
        omen_free(old.own);
    }
    hheap_push(c->h, &c->n, x);
    return 0;
}

static int search_exact(omen_vset *vs, const float *q, uint32_t k, const vfilter *f, omen_vset_result **out)
{
    exact_ctx c = {vs, q, f, k, NULL, 0};
    c.h = util_malloc((size_t)k * sizeof *c.h);
    int rc = !c.h ? util_seterr(OMEN_NOMEM, "vector search: out of memory") : OMEN_OK;
    unsigned char lo[VK_SET], hi[VK_SET];
    key_range(lo, hi, 'E', vs->set_id);
    if (!rc) rc = vset_scan_range(vs->db, lo, VK_SET, hi, VK_SET, exact_cb, &c);
    if (rc == OMEN_NOMEM) rc = util_seterr(OMEN_NOMEM, "vector search: out of memory");
    if (!rc) {
        qsort(c.h, c.n, sizeof *c.h, hit_cmp);
        rc = make_result(c.h, c.n, out);
    }
    for (size_t i = 0; i < c.n; i++) omen_free(c.h[i].own);
    omen_free(c.h);
    return rc;
}

static int search_vec(omen_vset *vs, const float *qin, const omen_vset_query *qo, omen_vset_result **out,
                      const char *fn)
{
    if (!out) return util_seterr(OMEN_INVALID, "%s: NULL out", fn);
    *out = NULL;
    if (!qo) return util_seterr(OMEN_INVALID, "%s: NULL query options", fn);
    if (qo->k == 0 || qo->k > OMEN_VSET_MAX_K)
        return util_seterr(OMEN_INVALID, "%s: k must be 1..%u", fn, OMEN_VSET_MAX_K);
    if (qo->ef > OMEN_VSET_MAX_K) return util_seterr(OMEN_INVALID, "%s: ef must be at most %u", fn, OMEN_VSET_MAX_K);
    vfilter *f = NULL;
    int rc = OMEN_OK;
    if (qo->filter && (rc = vfilter_compile(qo->filter, &f))) return util_seterr_cause(rc, "%s", fn);
    float *qn = NULL;
    rc = vset_check_vec(vs, qin, vs->o.dim, &qn, fn);
    if (rc) {
        vfilter_free(f);
        return rc;
    }
    const float *q = qn ? qn : qin;
    if (qo->exact) {
        rc = search_exact(vs, q, qo->k, f, out);
        vfilter_free(f);
        omen_free(qn);
        return rc;
    }
    uint32_t k = qo->k;
    uint32_t ef = qo->ef ? qo->ef : vs->o.ef_search;
    if (ef < k) ef = k;
    hnsw *g = vs->g;
    int8_t *q8 = NULL;
    if (vs->o.precision == OMEN_PREC_INT8) {
        q8 = util_malloc(vs->o.dim);
        if (!q8) rc = util_seterr(OMEN_NOMEM, "%s: out of memory", fn);
    }
    int rs = hnsw_read_begin(g);
    /* The quantizer is trained before the first node goes live: read the
     * count first, so the scale read below is the trained one. */
    uint64_t live = atomic_load(&g->live);
    hn_query hq = {q, q8, g->q, 0};
    if (q8 && live) hnsw_prepare_query(g, q, q8, &hq);
    hn_cand *c = NULL;
    size_t nc = 0;
    int scan = 0;
    if (!rc && f) {
        /* Selective filter: the graph would wander far for few matches;
         * scan the matching nodes instead. */
        double sel = hnsw_filter_sample(g, f, 256);
        scan = sel * (double)live < 4.0 * ef || sel < 0.02;
    }
    if (!rc && live) {
        size_t cap = scan ? (size_t)live + 1 : ef;
        c = util_malloc(cap * sizeof *c);
        if (!c) rc = util_seterr(OMEN_NOMEM, "%s: out of memory", fn);
        else if (!scan) {
            nc = hnsw_search(g, &hq, ef, f, c, NULL);
            if (f && nc < k) {
                /* The graph found fewer matches than wanted: be exact. */
                hn_cand *c2 = util_realloc(c, ((size_t)live + 1) * sizeof *c);
                if (!c2) rc = util_seterr(OMEN_NOMEM, "%s: out of memory", fn);
                else {
                    c = c2;
                    scan = 1;
                }
            }
        }
        if (!rc && scan) nc = hnsw_scan(g, &hq, (uint32_t)(live + 1 < UINT32_MAX ? live + 1 : UINT32_MAX), f, c);
    }
    hit_tmp *h = NULL;
    size_t nh = 0;
    if (!rc && nc) {
        int i8 = vs->o.precision == OMEN_PREC_INT8;
        /* int8: exact distances (float32 from the engine) for candidates in
         * approximate order, at most 2k+8 of them (4k+64 after a scan),
         * stopping early once the next candidate's approximate distance is
         * further from the exact k-th best than twice the largest
         * quantization error seen so far on this query.  Reads go in
         * batches (k first, then 4): one engine call overlaps their misses,
         * at the price of a few reads past the stop.  (Always reading two
         * past the k-th, as this once did, changed recall@10 on
         * Fashion-MNIST cosine by at most 0.0001 and cost 3-8% of QPS.) */
        size_t cap = i8 ? (size_t)k * (scan ? 4 : 2) + (scan ? 64 : 8) : k;
        if (cap > nc) cap = nc;
        /* one block: hits, then per candidate its element, exact distance
         * and state (1 read, 0 gone, -1 lossless: use c[i].d) */
        h = util_malloc(cap * (sizeof *h + sizeof(vrec *) + sizeof(float) + 1));
        const vrec **recs = h ? (const vrec **)(void *)(h + cap) : NULL;
        float *ed = h ? (float *)(void *)(recs + cap) : NULL;
        signed char *st = h ? (signed char *)(ed + cap) : NULL;
        vrerank rr;
        int rr_on = 0;
        if (!h)
            rc = util_seterr(OMEN_NOMEM, "%s: out of memory", fn);
        else if (i8) {
            vrerank_begin(&rr, vs->db, g, vs->set_id, q);
            rr_on = 1;
        }
        for (size_t i = 0; i < cap && !rc; i++) {
            recs[i] = atomic_load_explicit(&hn_node(g, c[i].slot)->rec, memory_order_acquire);
            /* Both sides lossless: the int8 distance is the exact one. */
            st[i] = hq.exact && (*hn_flags(g, c[i].slot) & HN_F_EXACT) ? -1 : 0;
        }
        size_t done = 0; /* candidates [0, done) have had their reads */
        float maxerr = 0;
        for (size_t i = 0; i < cap && !rc; i++) {
            if (i8 && nh >= k && i >= (size_t)k && c[i].d > h[k - 1].d + 2.0f * maxerr) break;
            const vrec *r = recs[i];
            if (!r) continue;
            float d = c[i].d;
            if (i8 && st[i] >= 0) {
                if (i >= done) {
                    size_t end = i + (done == 0 ? (size_t)k : 4);
                    if (end > cap) end = cap;
                    if ((rc = vrerank_read(&rr, c + i, recs + i, end - i, ed + i, st + i))) break;
                    done = end;
                }
                if (!st[i]) continue;
                d = ed[i];
                float err = fabsf(d - c[i].d);
                if (err > maxerr) maxerr = err;
            }
            /* insertion into h, kept sorted */
            hit_tmp x = {d, r->data, r->id_len, NULL};
            size_t j = nh++;
            while (j > 0 && hit_cmp(&h[j - 1], &x) > 0) {
                h[j] = h[j - 1];
                j--;
            }
            h[j] = x;
        }
        if (rr_on) vrerank_end(&rr);
        if (nh > k) nh = k;
    }
    if (!rc) rc = make_result(h, nh, out);
    hnsw_read_end(g, rs);
    omen_free(h);
    omen_free(c);
    omen_free(q8);
    omen_free(qn);
    vfilter_free(f);
    return rc;
}

int omen_vset_search(omen_vset *vs, const float *q, uint32_t dim, const omen_vset_query *query,
                     omen_vset_result **out)
{
    int rc = vset_check(vs, "omen_vset_search");
    if (rc) return rc;
    if (q && dim != vs->o.dim)
        return util_seterr(OMEN_INVALID, "omen_vset_search: query of dimension %u, set '%s' has %u", dim,
                           vs->name, vs->o.dim);
    return search_vec(vs, q, query, out, "omen_vset_search");
}

int omen_vset_search_id(omen_vset *vs, const void *id, size_t id_len, const omen_vset_query *query,
                        omen_vset_result **out)
{
    if (out) *out = NULL;
    float *v = vs ? util_malloc((size_t)vs->o.dim * 4) : NULL;
    if (vs && !v) return util_seterr(OMEN_NOMEM, "omen_vset_search_id: out of memory");
    int rc = omen_vset_get(vs, id, id_len, v, vs ? vs->o.dim : 0);
    if (!rc) rc = search_vec(vs, v, query, out, "omen_vset_search_id");
    omen_free(v);
    return rc;
}

typedef struct many_ctx {
    omen_vset *vs;
    size_t nq, next_stride, idx;
    const float *qs;
    const omen_vset_query *qo;
    omen_vset_result **res;
    _Atomic size_t next;
    _Atomic int rc;
} many_ctx;

static void *many_worker(void *arg)
{
    many_ctx *c = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&c->next, 1);
        if (i >= c->nq || atomic_load(&c->rc)) break;
        int rc = search_vec(c->vs, c->qs + i * (size_t)c->vs->o.dim, c->qo, &c->res[i], "omen_vset_search_many");
        if (rc) {
            int zero = 0;
            atomic_compare_exchange_strong(&c->rc, &zero, rc);
        }
    }
    return NULL;
}

void omen_vset_results_free(omen_vset_result **res, size_t nq)
{
    if (!res) return;
    for (size_t i = 0; i < nq; i++) omen_free(res[i]);
    omen_free(res);
}

int omen_vset_search_many(omen_vset *vs, size_t nq, const float *qs, uint32_t dim, const omen_vset_query *query,
                          int threads, omen_vset_result ***out)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_vset_search_many: NULL out");
    *out = NULL;
    int rc = vset_check(vs, "omen_vset_search_many");
    if (rc) return rc;
    if (!qs && nq) return util_seterr(OMEN_INVALID, "omen_vset_search_many: NULL queries");
    if (dim != vs->o.dim)
        return util_seterr(OMEN_INVALID, "omen_vset_search_many: dimension %u, set has %u", dim, vs->o.dim);
    if (!query) return util_seterr(OMEN_INVALID, "omen_vset_search_many: NULL query options");
    if (threads < 0) return util_seterr(OMEN_INVALID, "omen_vset_search_many: negative thread count");
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if ((size_t)threads > nq) threads = nq ? (int)nq : 1;
    if (threads > 256) threads = 256;
    many_ctx c;
    memset(&c, 0, sizeof c);
    c.vs = vs;
    c.nq = nq;
    c.qs = qs;
    c.qo = query;
    c.res = util_calloc(nq ? nq : 1, sizeof *c.res);
    if (!c.res) return util_seterr(OMEN_NOMEM, "omen_vset_search_many: out of memory");
    pthread_t th[256];
    int started = 0;
    for (int i = 1; i < threads; i++)
        if (pthread_create(&th[started], NULL, many_worker, &c) == 0) started++;
    many_worker(&c);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    rc = atomic_load(&c.rc);
    if (rc) {
        omen_vset_results_free(c.res, nq);
        return rc;
    }
    *out = c.res;
    return OMEN_OK;
}

int omen_vset_filter_check(const char *filter)
{
    vfilter *f;
    int rc = vfilter_compile(filter, &f);
    vfilter_free(f);
    return rc;
}
