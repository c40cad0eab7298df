/*
 * vset.c -- vector sets over the engine (vset.h): keys, the write path
 * (direct, batch, transaction), the post-commit sync into the graph,
 * open/rebuild/replay, checkpoints, and searches with exact re-ranking.
 *
 * Where vectors live: the float32 vector of every element is in the engine
 * (WAL, memtable, sorted runs, block cache); the graph keeps only its
 * traversal copy (int8 or float32).  An int8 search re-ranks its best
 * candidates by reading their float32 vectors back from the engine.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/batch.h"
#include "db/iter.h"
#include "db/txn.h"
#include "db/version.h"
#include "db/memtable.h"
#include "db/reserved.h"
#include "storage/fio.h"
#include "util/coding.h"
#include "util/err.h"
#include "util/mem.h"
#include "vector/vfilter.h"
#include "vector/vgraph.h"
#include "vector/vkeys.h"
#include "vector/vrerank.h"
#include "vector/vset.h"

#define VS_TRAIN_SAMPLE 4096
#define VS_META_LEN 28

/* ---- registry of open sets (one shared state per db and name) ---- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static omen_vset *reg_head;


static void encode_meta(unsigned char m[VS_META_LEN], uint32_t set_id, const omen_vset_options *o)
{
    memset(m, 0, VS_META_LEN);
    memcpy(m, "VS1", 4);
    put_fixed32(m + 4, set_id);
    put_fixed32(m + 8, o->dim);
    m[12] = (unsigned char)o->metric;
    m[13] = (unsigned char)o->precision;
    put_fixed32(m + 16, o->M);
    put_fixed32(m + 20, o->ef_construction);
    put_fixed32(m + 24, o->ef_search);
}

/* ---- id map (writer side only) ---- */

static uint64_t hash_id(const void *id, size_t n)
{
    const unsigned char *p = id;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 29;
    return h ? h : 1;
}

static int rec_is(const hnsw *g, uint32_t slot, const void *id, size_t n)
{
    vrec *r = atomic_load_explicit(&hn_node(g, slot)->rec, memory_order_relaxed);
    return r && r->id_len == n && memcmp(r->data, id, n) == 0;
}

static uint32_t map_find(const omen_vset *vs, const void *id, size_t n)
{
    if (!vs->map.cap) return HN_NONE;
    uint64_t h = hash_id(id, n);
    size_t m = vs->map.cap - 1;
    for (size_t i = h & m;; i = (i + 1) & m) {
        vmap_ent *e = &vs->map.t[i];
        if (!e->h) return HN_NONE;
        if (e->h == h && rec_is(vs->g, e->slot, id, n)) return e->slot;
    }
}

static int map_grow(vmap *mp)
{
    size_t nc = mp->cap ? mp->cap * 2 : 1024;
    vmap_ent *t = util_calloc(nc, sizeof *t);
    if (!t) return OMEN_NOMEM;
    for (size_t i = 0; i < mp->cap; i++) {
        if (!mp->t[i].h) continue;
        size_t j = mp->t[i].h & (nc - 1);
        while (t[j].h) j = (j + 1) & (nc - 1);
        t[j] = mp->t[i];
    }
    omen_free(mp->t);
    mp->t = t;
    mp->cap = nc;
    return OMEN_OK;
}

static int map_put(omen_vset *vs, const void *id, size_t n, uint32_t slot)
{
    if ((vs->map.n + 1) * 2 > vs->map.cap && map_grow(&vs->map))
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    uint64_t h = hash_id(id, n);
    size_t m = vs->map.cap - 1;
    size_t i = h & m;
    while (vs->map.t[i].h) i = (i + 1) & m;
    vs->map.t[i] = (vmap_ent){h, slot};
    vs->map.n++;
    return OMEN_OK;
}

static void map_del(omen_vset *vs, const void *id, size_t n)
{
    if (!vs->map.cap) return;
    uint64_t h = hash_id(id, n);
    size_t m = vs->map.cap - 1;
    size_t i = h & m;
    for (;; i = (i + 1) & m) {
        if (!vs->map.t[i].h) return;
        if (vs->map.t[i].h == h && rec_is(vs->g, vs->map.t[i].slot, id, n)) break;
    }
    /* Backward-shift deletion keeps probe chains intact. */
    size_t j = i;
    for (;;) {
        vs->map.t[i].h = 0;
        for (;;) {
            j = (j + 1) & m;
            if (!vs->map.t[j].h) {
                vs->map.n--;
                return;
            }
            size_t k = vs->map.t[j].h & m;
            if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) break;
        }
        vs->map.t[i] = vs->map.t[j];
        i = j;
    }
}

/* ---- element values ---- */

/* Decode an element value: vector pointer (unaligned LE floats) + attrs. */
static int decode_elem(const omen_vset *vs, const void *val, size_t vlen, const unsigned char **vec,
                       const char **attrs, size_t *alen)
{
    const unsigned char *p = val;
    size_t need = 1 + (size_t)vs->o.dim * 4;
    if (vlen < need || p[0] != 1)
        return util_seterr(OMEN_CORRUPT, "vector set '%s': malformed element value", vs->name);
    *vec = p + 1;
    *attrs = (const char *)p + need;
    *alen = vlen - need;
    return OMEN_OK;
}

/* Read the element's value (malloc'd) from the engine. */
static int read_elem(omen_vset *vs, const void *id, size_t idlen, void **val, size_t *vlen)
{
    unsigned char k[VK_SET + OMEN_VSET_MAX_ID];
    size_t kl = key_elem(k, vs->set_id, id, idlen);
    return omen_get(vs->db, NULL, k, kl, val, vlen);
}

/* ---- graph sync (wmu held) ---- */

static int push_applied(omen_vset *vs, uint64_t logno)
{
    if (vs->napplied == vs->capplied) {
        size_t nc = vs->capplied ? vs->capplied * 2 : 256;
        uint64_t *p = util_realloc(vs->applied, nc * sizeof *p);
        if (!p) return util_seterr(OMEN_NOMEM, "vector: out of memory");
        vs->applied = p;
        vs->capplied = nc;
    }
    vs->applied[vs->napplied++] = logno;
    return OMEN_OK;
}

static void maybe_consolidate(omen_vset *vs)
{
    uint64_t del = atomic_load(&vs->g->deleted), live = atomic_load(&vs->g->live);
    if (del > 64 + live / 8) hnsw_consolidate(vs->g);
}

/* Make the graph's node for `id` match the engine's entry. */
static int sync_elem(omen_vset *vs, const void *id, size_t idlen)
{
    void *val = NULL;
    size_t vlen = 0;
    int rc = read_elem(vs, id, idlen, &val, &vlen);
    uint32_t slot = map_find(vs, id, idlen);
    if (rc == OMEN_NOTFOUND) {
        if (slot != HN_NONE) {
            map_del(vs, id, idlen);
            hnsw_mark_deleted(vs->g, slot);
            maybe_consolidate(vs);
        }
        return OMEN_OK;
    }
    if (rc) return rc;
    const unsigned char *vb = NULL;
    const char *attrs = NULL;
    size_t alen = 0;
    rc = decode_elem(vs, val, vlen, &vb, &attrs, &alen);
    if (rc) {
        omen_free(val);
        return rc;
    }
    float *vec = util_malloc((size_t)vs->o.dim * 4);
    if (!vec) {
        omen_free(val);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    memcpy(vec, vb, (size_t)vs->o.dim * 4);
    if (!vs->g->trained) hnsw_train(vs->g, vec, 1);
    if (slot != HN_NONE) {
        if (hnsw_same_vector(vs->g, slot, vec)) {
            vrec *old = atomic_load(&hn_node(vs->g, slot)->rec);
            if (!(old->attrs_len == alen && memcmp(vrec_attrs(old), attrs, alen) == 0)) {
                vrec *r = vrec_new(id, idlen, attrs, alen);
                if (!r) rc = util_seterr(OMEN_NOMEM, "vector: out of memory");
                else hnsw_set_rec(vs->g, slot, r);
            }
            omen_free(vec);
            omen_free(val);
            return rc;
        }
        map_del(vs, id, idlen);
        hnsw_mark_deleted(vs->g, slot);
    }
    vrec *r = vrec_new(id, idlen, attrs, alen);
    omen_free(val);
    if (!r) {
        omen_free(vec);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    uint32_t ns;
    rc = hnsw_insert(vs->g, vec, r, &ns);
    omen_free(vec);
    if (rc) {
        omen_free(r);
        return rc;
    }
    rc = map_put(vs, id, idlen, ns);
    maybe_consolidate(vs);
    return rc;
}

/* ---- pending vector writes of a batch / transaction (the commit hook) ---- */

typedef struct vpend_item {
    omen_vset *vs;
    uint64_t logno;
    uint32_t idlen;
    unsigned char *id;
} vpend_item;

typedef struct vpend {
    vpend_item *it;
    size_t n, cap;
} vpend;

static void vset_ref(omen_vset *vs)
{
    pthread_mutex_lock(&reg_mu);
    vs->refs++;
    pthread_mutex_unlock(&reg_mu);
}

static void vset_unref(omen_vset *vs);

static void train_from_pending(omen_vset *vs, vpend *p, size_t from)
{
    size_t cap = VS_TRAIN_SAMPLE, n = 0;
    float *buf = util_malloc(cap * (size_t)vs->o.dim * 4);
    if (!buf) return;
    for (size_t i = from; i < p->n && n < cap; i++) {
        if (p->it[i].vs != vs) continue;
        void *val;
        size_t vlen;
        if (read_elem(vs, p->it[i].id, p->it[i].idlen, &val, &vlen)) continue;
        const unsigned char *vb = NULL;
        const char *a = NULL;
        size_t al = 0;
        if (!decode_elem(vs, val, vlen, &vb, &a, &al)) memcpy(buf + n++ * vs->o.dim, vb, (size_t)vs->o.dim * 4);
        omen_free(val);
    }
    hnsw_train(vs->g, buf, n);
    omen_free(buf);
}

static void vpend_apply(void *arg)
{
    vpend *p = arg;
    size_t i = 0;
    while (i < p->n) {
        omen_vset *vs = p->it[i].vs;
        pthread_mutex_lock(&vs->wmu);
        if (!atomic_load(&vs->dropped)) {
            if (!vs->g->trained) train_from_pending(vs, p, i);
            for (; i < p->n && p->it[i].vs == vs; i++) {
                /* A failure here leaves the log key in place: the next open
                 * replays it, so nothing acknowledged is lost. */
                if (sync_elem(vs, p->it[i].id, p->it[i].idlen) == OMEN_OK)
                    push_applied(vs, p->it[i].logno);
            }
        } else {
            while (i < p->n && p->it[i].vs == vs) i++;
        }
        pthread_mutex_unlock(&vs->wmu);
    }
}

static void vpend_release(void *arg)
{
    vpend *p = arg;
    for (size_t i = 0; i < p->n; i++) {
        vset_unref(p->it[i].vs);
        omen_free(p->it[i].id);
    }
    omen_free(p->it);
    omen_free(p);
}

static int vpend_add(db_commit_hook *h, omen_vset *vs, uint64_t logno, const void *id, size_t idlen)
{
    if (h->apply && h->apply != vpend_apply)
        return util_seterr(OMEN_INVALID, "vector: the batch carries another module's hook");
    vpend *p = h->arg;
    if (!p) {
        p = util_calloc(1, sizeof *p);
        if (!p) return util_seterr(OMEN_NOMEM, "vector: out of memory");
        h->arg = p;
        h->apply = vpend_apply;
        h->release = vpend_release;
    }
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 8;
        vpend_item *ni = util_realloc(p->it, nc * sizeof *ni);
        if (!ni) return util_seterr(OMEN_NOMEM, "vector: out of memory");
        p->it = ni;
        p->cap = nc;
    }
    unsigned char *c = util_memdup(id, idlen);
    if (!c) return util_seterr(OMEN_NOMEM, "vector: out of memory");
    vset_ref(vs);
    p->it[p->n++] = (vpend_item){vs, logno, (uint32_t)idlen, c};
    return OMEN_OK;
}

/* ---- validation and encoding of one write ---- */

static int check_vs(const omen_vset *vs, const char *fn)
{
    if (!vs) return util_seterr(OMEN_INVALID, "%s: NULL vector set", fn);
    if (atomic_load(&vs->dropped)) return util_seterr(OMEN_NOTFOUND, "%s: set '%s' was dropped", fn, vs->name);
    return OMEN_OK;
}

static int check_id(const void *id, size_t n, const char *fn)
{
    if (!id || n == 0 || n > OMEN_VSET_MAX_ID)
        return util_seterr(OMEN_INVALID, "%s: element id must be 1..%u bytes", fn, OMEN_VSET_MAX_ID);
    return OMEN_OK;
}

/* Validate vec and return a normalised copy for cosine (or vec itself). */
static int check_vec(const omen_vset *vs, const float *vec, uint32_t dim, float **copy, const char *fn)
{
    *copy = NULL;
    if (!vec) return util_seterr(OMEN_INVALID, "%s: NULL vector", fn);
    if (dim != vs->o.dim)
        return util_seterr(OMEN_INVALID, "%s: vector of dimension %u, set '%s' has %u", fn, dim, vs->name,
                           vs->o.dim);
    double norm = 0;
    for (uint32_t i = 0; i < dim; i++) {
        if (!isfinite(vec[i]))
            return util_seterr(OMEN_INVALID, "%s: component %u is NaN or infinite", fn, i);
        norm += (double)vec[i] * vec[i];
    }
    if (vs->o.metric == OMEN_METRIC_COSINE) {
        if (!(norm > 0)) return util_seterr(OMEN_INVALID, "%s: zero vector in a cosine set", fn);
        if (!isfinite(norm)) return util_seterr(OMEN_INVALID, "%s: vector norm overflows", fn);
        float *c = util_malloc((size_t)dim * 4);
        if (!c) return util_seterr(OMEN_NOMEM, "%s: out of memory", fn);
        double inv = 1.0 / sqrt(norm);
        for (uint32_t i = 0; i < dim; i++) c[i] = (float)(vec[i] * inv);
        *copy = c;
    }
    return OMEN_OK;
}

typedef int (*put_fn)(void *ctx, int type, const void *k, size_t kl, const void *v, size_t vl);
typedef int (*get_fn)(void *ctx, const void *k, size_t kl, void **v, size_t *vl);

static int batch_put_fn(void *ctx, int type, const void *k, size_t kl, const void *v, size_t vl)
{
    return batch_add(ctx, type, k, kl, v, vl);
}

static int txn_put_fn(void *ctx, int type, const void *k, size_t kl, const void *v, size_t vl)
{
    return txn_write_raw(ctx, type, k, kl, v, vl);
}

static int db_get_fn(void *ctx, const void *k, size_t kl, void **v, size_t *vl)
{
    return omen_get(ctx, NULL, k, kl, v, vl);
}

static int txn_get_fn(void *ctx, const void *k, size_t kl, void **v, size_t *vl)
{
    return omen_txn_get(ctx, k, kl, v, vl);
}

/* Record an element write (vec != NULL), an attribute change (vec == NULL,
 * attrs_only) or a delete into a batch/txn via put; the hook item is added
 * by the caller.  *logno receives the log number used. */
static int stage_write(omen_vset *vs, put_fn put, void *pctx, get_fn get, void *gctx, const void *id,
                       size_t idlen, const float *vec, const char *attrs, size_t alen, int del,
                       int must_exist, uint64_t *logno, const char *fn)
{
    unsigned char k[VK_SET + OMEN_VSET_MAX_ID];
    size_t kl = key_elem(k, vs->set_id, id, idlen);
    void *old = NULL;
    size_t oldlen = 0;
    int rc = OMEN_OK;
    int need_old = must_exist || (!del && (!attrs || !vec));
    if (need_old) {
        rc = get(gctx, k, kl, &old, &oldlen);
        if (rc == OMEN_NOTFOUND) {
            old = NULL;
            if (must_exist) return util_seterr(OMEN_NOTFOUND, "%s: no such element", fn);
            rc = OMEN_OK;
        }
        if (rc) return rc;
    }
    const unsigned char *ovec = NULL;
    const char *oattrs = NULL;
    size_t oalen = 0;
    if (old && (rc = decode_elem(vs, old, oldlen, &ovec, &oattrs, &oalen))) {
        omen_free(old);
        return rc;
    }
    unsigned char lk[VK_LOG_LEN];
    *logno = atomic_fetch_add(&vs->next_log, 1);
    size_t llen = key_log(lk, vs->set_id, *logno);
    if (del) {
        rc = put(pctx, MT_TYPE_DELETE, k, kl, NULL, 0);
    } else {
        const char *a = attrs ? attrs : oattrs;
        size_t al = attrs ? alen : oalen;
        size_t vb = (size_t)vs->o.dim * 4;
        size_t vlen = 1 + vb + al;
        unsigned char *v = util_malloc(vlen);
        if (!v) {
            omen_free(old);
            return util_seterr(OMEN_NOMEM, "%s: out of memory", fn);
        }
        v[0] = 1;
        memcpy(v + 1, vec ? (const void *)vec : (const void *)ovec, vb);
        if (al) memcpy(v + 1 + vb, a, al);
        rc = put(pctx, MT_TYPE_PUT, k, kl, v, vlen);
        omen_free(v);
    }
    if (!rc) rc = put(pctx, MT_TYPE_PUT, lk, llen, id, idlen);
    omen_free(old);
    return rc;
}

static int check_attrs(const char *attrs, size_t alen, const char *fn)
{
    if (!attrs) return OMEN_OK;
    if (alen > OMEN_VSET_MAX_ATTRS)
        return util_seterr(OMEN_TOOBIG, "%s: attributes exceed %u bytes", fn, OMEN_VSET_MAX_ATTRS);
    if (alen == 0) return OMEN_OK;
    if (memchr(attrs, 0, alen)) return util_seterr(OMEN_INVALID, "%s: attributes contain a NUL byte", fn);
    int rc = vfilter_json_check(attrs, alen);
    if (rc) return util_seterr_cause(rc, "%s", fn);
    return OMEN_OK;
}

/* Batch staging shared by add/add_many/delete/set_attrs and omen_batch_v*. */
static int batch_stage(struct omen_batch *b, omen_vset *vs, const void *id, size_t idlen, const float *vec,
                       uint32_t dim, const char *attrs, size_t alen, int del, int must_exist,
                       omen_db *getdb, const char *fn)
{
    int rc = check_vs(vs, fn);
    if (!rc) rc = check_id(id, idlen, fn);
    float *copy = NULL;
    if (!rc && !del && vec) rc = check_vec(vs, vec, dim, &copy, fn);
    if (!rc && !del) rc = check_attrs(attrs, alen, fn);
    if (rc) {
        omen_free(copy); /* a valid vector with bad attributes */
        return rc;
    }
    size_t save_len = b->len;
    uint32_t save_count = b->count;
    size_t save_cost = b->mem_cost;
    uint64_t logno;
    rc = stage_write(vs, batch_put_fn, b, db_get_fn, getdb ? getdb : vs->db, id, idlen,
                     copy ? copy : vec, attrs, alen, del, must_exist, &logno, fn);
    if (!rc) rc = vpend_add(&b->hook, vs, logno, id, idlen);
    if (rc && b->buf) {
        b->len = save_len;
        b->count = save_count;
        b->mem_cost = save_cost;
    }
    omen_free(copy);
    return rc;
}

/* ---- public: options, create, open, close ---- */

void omen_vset_options_init(omen_vset_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->metric = OMEN_METRIC_L2;
    o->precision = OMEN_PREC_INT8;
    o->M = 16;
    o->ef_construction = 200;
    o->ef_search = 64;
}

static int check_name(const char *name, const char *fn)
{
    if (!name) return util_seterr(OMEN_INVALID, "%s: NULL set name", fn);
    size_t n = strlen(name);
    if (n == 0 || n > OMEN_VSET_MAX_NAME)
        return util_seterr(OMEN_INVALID, "%s: set name must be 1..%u bytes", fn, OMEN_VSET_MAX_NAME);
    return OMEN_OK;
}

static int check_opts(const omen_vset_options *o)
{
    if (!o) return util_seterr(OMEN_INVALID, "omen_vset_create: NULL options (dim is required)");
    if (o->dim == 0 || o->dim > OMEN_VSET_MAX_DIM)
        return util_seterr(OMEN_INVALID, "omen_vset_create: dim must be 1..%u", OMEN_VSET_MAX_DIM);
    if (o->metric < OMEN_METRIC_L2 || o->metric > OMEN_METRIC_IP)
        return util_seterr(OMEN_INVALID, "omen_vset_create: unknown metric %d", o->metric);
    if (o->precision != OMEN_PREC_FLOAT32 && o->precision != OMEN_PREC_INT8)
        return util_seterr(OMEN_INVALID, "omen_vset_create: unknown precision %d", o->precision);
    if (o->M < 4 || o->M > 64) return util_seterr(OMEN_INVALID, "omen_vset_create: M must be 4..64");
    if (o->ef_construction < 1 || o->ef_construction > 4096)
        return util_seterr(OMEN_INVALID, "omen_vset_create: ef_construction must be 1..4096");
    if (o->ef_search < 1 || o->ef_search > OMEN_VSET_MAX_K)
        return util_seterr(OMEN_INVALID, "omen_vset_create: ef_search must be 1..%u", OMEN_VSET_MAX_K);
    return OMEN_OK;
}

static char *graph_name(uint32_t set_id)
{
    char *s = util_malloc(32);
    if (s) snprintf(s, 32, "vset-%08x.graph", set_id);
    return s;
}

static omen_vset *reg_find(omen_db *db, const char *name)
{
    for (omen_vset *v = reg_head; v; v = v->next)
        if (v->db == db && strcmp(v->name, name) == 0 && !atomic_load(&v->dropped)) return v;
    return NULL;
}

static void vset_destroy(omen_vset *vs)
{
    hnsw_free(vs->g);
    omen_free(vs->map.t);
    omen_free(vs->applied);
    omen_free(vs->name);
    pthread_mutex_destroy(&vs->wmu);
    omen_free(vs);
}

static int vset_checkpoint_locked(omen_vset *vs);

static void vset_unref(omen_vset *vs)
{
    pthread_mutex_lock(&reg_mu);
    int last = --vs->refs == 0;
    if (last) {
        for (omen_vset **pp = &reg_head; *pp; pp = &(*pp)->next)
            if (*pp == vs) {
                *pp = vs->next;
                break;
            }
    }
    pthread_mutex_unlock(&reg_mu);
    if (last) vset_destroy(vs);
}

static int parse_meta(const void *v, size_t vl, uint32_t *set_id, omen_vset_options *o)
{
    const unsigned char *m = v;
    if (vl != VS_META_LEN || memcmp(m, "VS1", 4) != 0)
        return util_seterr(OMEN_CORRUPT, "vector set metadata is malformed");
    omen_vset_options_init(o);
    *set_id = get_fixed32(m + 4);
    o->dim = get_fixed32(m + 8);
    o->metric = m[12];
    o->precision = m[13];
    o->M = get_fixed32(m + 16);
    o->ef_construction = get_fixed32(m + 20);
    o->ef_search = get_fixed32(m + 24);
    int rc = check_opts(o);
    return rc ? util_seterr_cause(OMEN_CORRUPT, "vector set metadata is malformed") : OMEN_OK;
}

/* Iterate [lo, hi) of the reserved range. */
typedef int (*scan_fn)(void *ctx, const unsigned char *k, size_t kl, const void *v, size_t vl);

static int scan_range(omen_db *db, const unsigned char *lo, size_t lol, const unsigned char *hi, size_t hil,
                      scan_fn fn, void *ctx)
{
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.lower = lo;
    io.lower_len = lol;
    io.upper = hi;
    io.upper_len = hil;
    omen_iter *it;
    int rc = db_iter_create_any(db, &io, &it);
    if (rc) return rc;
    for (omen_iter_seek_first(it); omen_iter_valid(it) && !rc; omen_iter_next(it)) {
        size_t kl, vl;
        const void *k = omen_iter_key(it, &kl);
        const void *v = omen_iter_value(it, &vl);
        rc = fn(ctx, k, kl, v, vl);
    }
    if (!rc) rc = omen_iter_status(it);
    omen_iter_destroy(it);
    return rc;
}

typedef struct load_ctx {
    omen_vset *vs;
    uint64_t max_log;
    int replay;   /* sync the element of each log key */
    float *train;
    size_t ntrain;
} load_ctx;

static int log_cb(void *ctx, const unsigned char *k, size_t kl, const void *v, size_t vl)
{
    load_ctx *c = ctx;
    if (kl != VK_LOG_LEN) return util_seterr(OMEN_CORRUPT, "vector set '%s': malformed log key", c->vs->name);
    uint64_t logno = get_be64(k + VK_SET);
    if (logno + 1 > c->max_log) c->max_log = logno + 1;
    if (c->replay) {
        if (vl == 0 || vl > OMEN_VSET_MAX_ID)
            return util_seterr(OMEN_CORRUPT, "vector set '%s': malformed log entry", c->vs->name);
        int rc = sync_elem(c->vs, v, vl);
        if (rc) return rc;
    }
    return push_applied(c->vs, logno);
}

static int train_cb(void *ctx, const unsigned char *k, size_t kl, const void *v, size_t vl)
{
    (void)k;
    (void)kl;
    load_ctx *c = ctx;
    if (c->ntrain >= VS_TRAIN_SAMPLE) return 1;
    const unsigned char *vb = NULL;
    const char *a = NULL;
    size_t al = 0;
    int rc = decode_elem(c->vs, v, vl, &vb, &a, &al);
    if (rc) return rc;
    memcpy(c->train + c->ntrain++ * c->vs->o.dim, vb, (size_t)c->vs->o.dim * 4);
    return 0;
}

static int rebuild_cb(void *ctx, const unsigned char *k, size_t kl, const void *v, size_t vl)
{
    load_ctx *c = ctx;
    omen_vset *vs = c->vs;
    size_t idlen = kl - VK_SET;
    if (kl <= VK_SET || idlen > OMEN_VSET_MAX_ID)
        return util_seterr(OMEN_CORRUPT, "vector set '%s': malformed element key", vs->name);
    const unsigned char *vb = NULL;
    const char *a = NULL;
    size_t al = 0;
    int rc = decode_elem(vs, v, vl, &vb, &a, &al);
    if (rc) return rc;
    float *vec = util_malloc((size_t)vs->o.dim * 4);
    vrec *r = vrec_new(k + VK_SET, idlen, a, al);
    if (!vec || !r) {
        omen_free(vec);
        omen_free(r);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    memcpy(vec, vb, (size_t)vs->o.dim * 4);
    uint32_t slot;
    rc = hnsw_insert(vs->g, vec, r, &slot);
    omen_free(vec);
    if (rc) {
        omen_free(r);
        return rc;
    }
    return map_put(vs, k + VK_SET, idlen, slot);
}

/* Load the graph file or rebuild; then replay the log tail. */
static int vset_load(omen_vset *vs)
{
    vgraph_params p = {vs->set_id, vs->o.dim, vs->o.M, vs->o.ef_construction, vs->o.metric, vs->o.precision};
    char *gname = graph_name(vs->set_id);
    char *path = gname ? util_malloc(strlen(vs->db->path) + 40) : NULL;
    if (!path) {
        omen_free(gname);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    sprintf(path, "%s/%s", vs->db->path, gname);
    omen_free(gname);
    int rc = OMEN_NOTFOUND;
    fio_file *f = NULL;
    if (fio_open(path, FIO_READ, &f) == OMEN_OK) {
        uint64_t sz = 0;
        rc = fio_size(f, &sz);
        void *buf = rc ? NULL : util_malloc(sz ? sz : 1);
        if (!rc && !buf) rc = OMEN_NOMEM;
        size_t got = 0;
        if (!rc) rc = fio_pread(f, buf, sz, 0, &got);
        if (!rc && got != sz) rc = util_seterr(OMEN_CORRUPT, "vector graph file: short read");
        if (!rc) rc = vgraph_decode(buf, sz, &p, &vs->g);
        omen_free(buf);
        fio_close(f);
    }
    omen_free(path);
    unsigned char lo[VK_SET], hi[VK_SET];
    load_ctx c = {vs, 0, 1, NULL, 0};
    if (rc == OMEN_OK) {
        /* Index the loaded nodes, then replay the log tail. */
        uint32_t hwm = atomic_load(&vs->g->hwm);
        for (uint32_t s = 0; s < hwm && !rc; s++) {
            hnode *n = hn_node(vs->g, s);
            if (atomic_load(&n->state) != HN_LIVE) continue;
            vrec *r = atomic_load(&n->rec);
            if (map_find(vs, r->data, r->id_len) != HN_NONE) {
                rc = util_seterr(OMEN_CORRUPT, "vector graph file: duplicate element id");
                break;
            }
            rc = map_put(vs, r->data, r->id_len, s);
        }
        if (rc) {
            hnsw_free(vs->g);
            vs->g = NULL;
            omen_free(vs->map.t);
            memset(&vs->map, 0, sizeof vs->map);
        }
    }
    if (rc == OMEN_OK) {
        key_range(lo, hi, 'L', vs->set_id);
        rc = scan_range(vs->db, lo, VK_SET, hi, VK_SET, log_cb, &c);
    } else {
        if (rc == OMEN_NOMEM) return rc;
        /* No usable file: rebuild from the stored elements. */
        rc = hnsw_new(vs->o.dim, vs->o.metric, vs->o.precision, vs->o.M, vs->o.ef_construction, &vs->g);
        if (rc) return rc;
        key_range(lo, hi, 'E', vs->set_id);
        c.train = util_malloc((size_t)VS_TRAIN_SAMPLE * vs->o.dim * 4);
        if (!c.train) return util_seterr(OMEN_NOMEM, "vector: out of memory");
        rc = scan_range(vs->db, lo, VK_SET, hi, VK_SET, train_cb, &c);
        if (rc == 1) rc = OMEN_OK;
        if (!rc) hnsw_train(vs->g, c.train, c.ntrain);
        omen_free(c.train);
        c.train = NULL;
        if (!rc) rc = scan_range(vs->db, lo, VK_SET, hi, VK_SET, rebuild_cb, &c);
        c.replay = 0;
        key_range(lo, hi, 'L', vs->set_id);
        if (!rc) rc = scan_range(vs->db, lo, VK_SET, hi, VK_SET, log_cb, &c);
        vs->need_ckpt = 1;
    }
    atomic_store(&vs->next_log, c.max_log ? c.max_log : 1);
    return rc;
}

static int vset_new(omen_db *db, const char *name, uint32_t set_id, const omen_vset_options *o,
                    omen_vset **out)
{
    omen_vset *vs = util_calloc(1, sizeof *vs);
    if (!vs) return util_seterr(OMEN_NOMEM, "vector: out of memory");
    vs->db = db;
    vs->name = util_strdup(name);
    vs->set_id = set_id;
    vs->o = *o;
    vs->refs = 1;
    pthread_mutex_init(&vs->wmu, NULL);
    if (!vs->name) {
        vset_destroy(vs);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    *out = vs;
    return OMEN_OK;
}

int omen_vset_create(omen_db *db, const char *name, const omen_vset_options *opts, omen_vset **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_vset_create: NULL out");
    *out = NULL;
    int rc = db_check_writable(db, "omen_vset_create");
    if (!rc) rc = check_name(name, "omen_vset_create");
    if (!rc) rc = check_opts(opts);
    if (rc) return rc;
    pthread_mutex_lock(&reg_mu); /* serializes creates: the set counter */
    unsigned char mk[VK_HDR + OMEN_VSET_MAX_NAME];
    size_t mkl = key_meta(mk, name, strlen(name));
    void *v = NULL;
    size_t vl;
    rc = omen_get(db, NULL, mk, mkl, &v, &vl);
    if (rc == OMEN_OK) {
        omen_free(v);
        pthread_mutex_unlock(&reg_mu);
        return util_seterr(OMEN_EXISTS, "omen_vset_create: set '%s' exists", name);
    }
    if (rc != OMEN_NOTFOUND) {
        pthread_mutex_unlock(&reg_mu);
        return rc;
    }
    uint32_t next = 1;
    unsigned char nk[VK_HDR];
    vk_head(nk, 'N');
    rc = omen_get(db, NULL, nk, VK_HDR, &v, &vl);
    if (rc == OMEN_OK) {
        if (vl == 4) next = get_fixed32(v);
        omen_free(v);
    } else if (rc != OMEN_NOTFOUND) {
        pthread_mutex_unlock(&reg_mu);
        return rc;
    }
    unsigned char meta[VS_META_LEN], nb[4];
    encode_meta(meta, next, opts);
    put_fixed32(nb, next + 1);
    struct omen_batch b;
    batch_init(&b);
    rc = batch_add(&b, MT_TYPE_PUT, mk, mkl, meta, sizeof meta);
    if (!rc) rc = batch_add(&b, MT_TYPE_PUT, nk, VK_HDR, nb, 4);
    if (!rc) rc = omen_write(db, &b, OMEN_SYNC_FULL);
    batch_free(&b);
    omen_vset *vs = NULL;
    if (!rc) rc = vset_new(db, name, next, opts, &vs);
    if (!rc) rc = hnsw_new(opts->dim, opts->metric, opts->precision, opts->M, opts->ef_construction, &vs->g);
    if (!rc) {
        atomic_store(&vs->next_log, 1);
        vs->next = reg_head;
        reg_head = vs;
        *out = vs;
    } else if (vs) {
        vset_destroy(vs);
    }
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

int omen_vset_open(omen_db *db, const char *name, omen_vset **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_vset_open: NULL out");
    *out = NULL;
    int rc = db_check_handle(db, "omen_vset_open");
    if (!rc) rc = check_name(name, "omen_vset_open");
    if (rc) return rc;
    pthread_mutex_lock(&reg_mu);
    omen_vset *vs = reg_find(db, name);
    if (vs) {
        vs->refs++;
        pthread_mutex_unlock(&reg_mu);
        *out = vs;
        return OMEN_OK;
    }
    unsigned char mk[VK_HDR + OMEN_VSET_MAX_NAME];
    size_t mkl = key_meta(mk, name, strlen(name));
    void *v = NULL;
    size_t vl;
    rc = omen_get(db, NULL, mk, mkl, &v, &vl);
    if (rc == OMEN_NOTFOUND) rc = util_seterr(OMEN_NOTFOUND, "omen_vset_open: no set '%s'", name);
    uint32_t set_id = 0;
    omen_vset_options o;
    if (!rc) rc = parse_meta(v, vl, &set_id, &o);
    omen_free(v);
    if (!rc) rc = vset_new(db, name, set_id, &o, &vs);
    if (!rc) {
        pthread_mutex_lock(&vs->wmu);
        rc = vset_load(vs);
        pthread_mutex_unlock(&vs->wmu);
        if (rc) vset_destroy(vs);
    }
    if (!rc) {
        vs->next = reg_head;
        reg_head = vs;
        *out = vs;
    }
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

const char *omen_vset_name(const omen_vset *vs)
{
    return vs ? vs->name : "";
}

/* wmu held. */
static int vset_checkpoint_locked(omen_vset *vs)
{
    if (atomic_load(&vs->dropped)) return OMEN_OK;
    if (vs->napplied == 0 && !vs->need_ckpt) return OMEN_OK;
    int rc = db_check_writable(vs->db, "omen_vset_checkpoint");
    if (rc) return rc;
    rc = hnsw_consolidate(vs->g);
    if (rc) return rc;
    hnsw_reclaim(vs->g);
    void *buf;
    size_t len;
    rc = vgraph_encode(vs->g, vs->set_id, &buf, &len);
    if (rc) return rc;
    char *gname = graph_name(vs->set_id);
    if (!gname) {
        omen_free(buf);
        return util_seterr(OMEN_NOMEM, "vector: out of memory");
    }
    rc = fio_write_file_atomic(vs->db->path, gname, buf, len);
    omen_free(gname);
    omen_free(buf);
    if (rc) return rc;
    /* The file is durable: the log keys it covers can go. */
    struct omen_batch b;
    batch_init(&b);
    for (size_t i = 0; i < vs->napplied && !rc; i++) {
        unsigned char lk[VK_LOG_LEN];
        size_t ll = key_log(lk, vs->set_id, vs->applied[i]);
        rc = batch_add(&b, MT_TYPE_DELETE, lk, ll, NULL, 0);
    }
    if (!rc) rc = omen_write(vs->db, &b, OMEN_SYNC_RELAXED);
    batch_free(&b);
    if (!rc) {
        vs->napplied = 0;
        vs->need_ckpt = 0;
    }
    return rc;
}

int omen_vset_checkpoint(omen_vset *vs)
{
    int rc = check_vs(vs, "omen_vset_checkpoint");
    if (rc) return rc;
    pthread_mutex_lock(&vs->wmu);
    rc = vset_checkpoint_locked(vs);
    pthread_mutex_unlock(&vs->wmu);
    return rc;
}

int omen_vset_close(omen_vset *vs)
{
    if (!vs) return OMEN_OK;
    int rc = OMEN_OK;
    pthread_mutex_lock(&reg_mu);
    int last = vs->refs == 1;
    pthread_mutex_unlock(&reg_mu);
    if (last && !vs->db->closed && !atomic_load(&vs->db->read_only)) {
        pthread_mutex_lock(&vs->wmu);
        rc = vset_checkpoint_locked(vs);
        pthread_mutex_unlock(&vs->wmu);
    }
    vset_unref(vs);
    return rc;
}

typedef struct del_ctx {
    struct omen_batch *b;
} del_ctx;

static int del_cb(void *ctx, const unsigned char *k, size_t kl, const void *v, size_t vl)
{
    (void)v;
    (void)vl;
    del_ctx *c = ctx;
    return batch_add(c->b, MT_TYPE_DELETE, k, kl, NULL, 0);
}

int omen_vset_drop(omen_db *db, const char *name)
{
    int rc = db_check_writable(db, "omen_vset_drop");
    if (!rc) rc = check_name(name, "omen_vset_drop");
    if (rc) return rc;
    pthread_mutex_lock(&reg_mu);
    unsigned char mk[VK_HDR + OMEN_VSET_MAX_NAME];
    size_t mkl = key_meta(mk, name, strlen(name));
    void *v = NULL;
    size_t vl;
    rc = omen_get(db, NULL, mk, mkl, &v, &vl);
    uint32_t set_id = 0;
    omen_vset_options o;
    if (rc == OMEN_NOTFOUND) rc = util_seterr(OMEN_NOTFOUND, "omen_vset_drop: no set '%s'", name);
    if (!rc) rc = parse_meta(v, vl, &set_id, &o);
    omen_free(v);
    omen_vset *open = rc ? NULL : reg_find(db, name);
    if (open) pthread_mutex_lock(&open->wmu);
    struct omen_batch b;
    batch_init(&b);
    del_ctx c = {&b};
    unsigned char lo[VK_SET], hi[VK_SET];
    if (!rc) rc = batch_add(&b, MT_TYPE_DELETE, mk, mkl, NULL, 0);
    key_range(lo, hi, 'E', set_id);
    if (!rc) rc = scan_range(db, lo, VK_SET, hi, VK_SET, del_cb, &c);
    key_range(lo, hi, 'L', set_id);
    if (!rc) rc = scan_range(db, lo, VK_SET, hi, VK_SET, del_cb, &c);
    if (!rc) rc = omen_write(db, &b, OMEN_SYNC_FULL);
    batch_free(&b);
    if (!rc) {
        if (open) atomic_store(&open->dropped, 1);
        char *gname = graph_name(set_id);
        char *path = gname ? util_malloc(strlen(db->path) + 40) : NULL;
        if (path) {
            sprintf(path, "%s/%s", db->path, gname);
            fio_unlink(path);
        }
        omen_free(path);
        omen_free(gname);
    }
    if (open) pthread_mutex_unlock(&open->wmu);
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

typedef struct list_ctx {
    char **names;
    size_t n, cap;
} list_ctx;

static int list_cb(void *ctx, const unsigned char *k, size_t kl, const void *v, size_t vl)
{
    (void)v;
    (void)vl;
    list_ctx *c = ctx;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        char **p = util_realloc(c->names, nc * sizeof *p);
        if (!p) return OMEN_NOMEM;
        c->names = p;
        c->cap = nc;
    }
    char *s = util_malloc(kl - VK_HDR + 1);
    if (!s) return OMEN_NOMEM;
    memcpy(s, k + VK_HDR, kl - VK_HDR);
    s[kl - VK_HDR] = 0;
    c->names[c->n++] = s;
    return 0;
}

int omen_vset_list(omen_db *db, char ***names, size_t *n)
{
    if (!names || !n) return util_seterr(OMEN_INVALID, "omen_vset_list: NULL out");
    *names = NULL;
    *n = 0;
    int rc = db_check_handle(db, "omen_vset_list");
    if (rc) return rc;
    list_ctx c = {0};
    unsigned char lo[VK_HDR], hi[VK_HDR];
    vk_head(lo, 'M');
    vk_head(hi, 'N');
    rc = scan_range(db, lo, VK_HDR, hi, VK_HDR, list_cb, &c);
    if (rc == OMEN_NOMEM) rc = util_seterr(OMEN_NOMEM, "omen_vset_list: out of memory");
    size_t total = c.n * sizeof(char *);
    for (size_t i = 0; i < c.n; i++) total += strlen(c.names[i]) + 1;
    char **blk = NULL;
    if (!rc && c.n) {
        blk = util_malloc(total);
        if (!blk) rc = util_seterr(OMEN_NOMEM, "omen_vset_list: out of memory");
    }
    if (!rc && blk) {
        char *p = (char *)(blk + c.n);
        for (size_t i = 0; i < c.n; i++) {
            size_t l = strlen(c.names[i]) + 1;
            memcpy(p, c.names[i], l);
            blk[i] = p;
            p += l;
        }
        *names = blk;
        *n = c.n;
    }
    for (size_t i = 0; i < c.n; i++) omen_free(c.names[i]);
    omen_free(c.names);
    return rc;
}

int omen_vset_info_get(omen_vset *vs, omen_vset_info *out)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_vset_info_get: NULL out");
    int rc = check_vs(vs, "omen_vset_info_get");
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    out->dim = vs->o.dim;
    out->metric = vs->o.metric;
    out->precision = vs->o.precision;
    out->M = vs->o.M;
    out->ef_construction = vs->o.ef_construction;
    out->ef_search = vs->o.ef_search;
    pthread_mutex_lock(&vs->wmu);
    out->count = atomic_load(&vs->g->live);
    out->deleted = atomic_load(&vs->g->deleted);
    out->levels = hnsw_levels(vs->g);
    out->memory_bytes = hnsw_memory(vs->g) + vs->map.cap * sizeof(vmap_ent);
    out->log_tail = vs->napplied;
    pthread_mutex_unlock(&vs->wmu);
    return OMEN_OK;
}

/* ---- public writes ---- */

static int write_one(omen_vset *vs, const void *id, size_t idlen, const float *vec, uint32_t dim,
                     const char *attrs, size_t alen, int del, int must_exist, int sync, const char *fn)
{
    int rc = check_vs(vs, fn);
    if (!rc) rc = db_check_writable(vs->db, fn);
    if (rc) return rc;
    struct omen_batch b;
    batch_init(&b);
    rc = batch_stage(&b, vs, id, idlen, vec, dim, attrs, alen, del, must_exist, NULL, fn);
    if (!rc) rc = omen_write(vs->db, &b, sync);
    batch_free(&b);
    return rc;
}

int omen_vset_add(omen_vset *vs, const void *id, size_t id_len, const float *vec, uint32_t dim,
                  const char *attrs, size_t attrs_len, int sync)
{
    if (!vec) return util_seterr(OMEN_INVALID, "omen_vset_add: NULL vector");
    return write_one(vs, id, id_len, vec, dim, attrs, attrs_len, 0, 0, sync, "omen_vset_add");
}

int omen_vset_delete(omen_vset *vs, const void *id, size_t id_len, int sync)
{
    return write_one(vs, id, id_len, NULL, 0, NULL, 0, 1, 1, sync, "omen_vset_delete");
}

int omen_vset_set_attrs(omen_vset *vs, const void *id, size_t id_len, const char *attrs, size_t attrs_len,
                        int sync)
{
    if (!attrs && attrs_len) return util_seterr(OMEN_INVALID, "omen_vset_set_attrs: NULL attributes");
    return write_one(vs, id, id_len, NULL, 0, attrs ? attrs : "", attrs_len, 0, 1, sync,
                     "omen_vset_set_attrs");
}

int omen_vset_add_many(omen_vset *vs, size_t n, const void *const *ids, const size_t *id_lens,
                       const float *vecs, uint32_t dim, const char *const *attrs, const size_t *attrs_lens,
                       int sync)
{
    const char *fn = "omen_vset_add_many";
    int rc = check_vs(vs, fn);
    if (!rc) rc = db_check_writable(vs->db, fn);
    if (rc) return rc;
    if (n == 0) return OMEN_OK;
    if (!ids || !id_lens || !vecs) return util_seterr(OMEN_INVALID, "%s: NULL array", fn);
    if (attrs && !attrs_lens) return util_seterr(OMEN_INVALID, "%s: attrs without attrs_lens", fn);
    if (dim != vs->o.dim)
        return util_seterr(OMEN_INVALID, "%s: vectors of dimension %u, set '%s' has %u", fn, dim, vs->name,
                           vs->o.dim);
    struct omen_batch b;
    batch_init(&b);
    for (size_t i = 0; i < n && !rc; i++) {
        const char *a = attrs ? attrs[i] : NULL;
        rc = batch_stage(&b, vs, ids[i], id_lens[i], vecs + i * (size_t)dim, dim, a, a ? attrs_lens[i] : 0, 0, 0,
                         NULL, fn);
        if (rc) util_seterr_cause(rc, "%s: element %zu", fn, i);
    }
    if (!rc) rc = omen_write(vs->db, &b, sync);
    batch_free(&b);
    return rc;
}

int omen_batch_vadd(omen_batch *b, omen_vset *vs, const void *id, size_t id_len, const float *vec,
                    uint32_t dim, const char *attrs, size_t attrs_len)
{
    if (!b) return util_seterr(OMEN_INVALID, "omen_batch_vadd: NULL batch");
    if (!vec) return util_seterr(OMEN_INVALID, "omen_batch_vadd: NULL vector");
    return batch_stage(b, vs, id, id_len, vec, dim, attrs, attrs_len, 0, 0, NULL, "omen_batch_vadd");
}

int omen_batch_vdel(omen_batch *b, omen_vset *vs, const void *id, size_t id_len)
{
    if (!b) return util_seterr(OMEN_INVALID, "omen_batch_vdel: NULL batch");
    return batch_stage(b, vs, id, id_len, NULL, 0, NULL, 0, 1, 0, NULL, "omen_batch_vdel");
}

static int txn_stage(omen_txn *t, omen_vset *vs, const void *id, size_t idlen, const float *vec, uint32_t dim,
                     const char *attrs, size_t alen, int del, const char *fn)
{
    if (!t) return util_seterr(OMEN_INVALID, "%s: NULL transaction", fn);
    int rc = check_vs(vs, fn);
    if (!rc) rc = check_id(id, idlen, fn);
    float *copy = NULL;
    if (!rc && !del) rc = check_vec(vs, vec, dim, &copy, fn);
    if (!rc && !del) rc = check_attrs(attrs, alen, fn);
    if (rc) {
        omen_free(copy);
        return rc;
    }
    uint64_t logno;
    rc = stage_write(vs, txn_put_fn, t, txn_get_fn, t, id, idlen, copy ? copy : vec, attrs, alen, del, 0,
                     &logno, fn);
    if (!rc) rc = vpend_add(&t->hook, vs, logno, id, idlen);
    omen_free(copy);
    return rc;
}

int omen_txn_vadd(omen_txn *t, omen_vset *vs, const void *id, size_t id_len, const float *vec, uint32_t dim,
                  const char *attrs, size_t attrs_len)
{
    return txn_stage(t, vs, id, id_len, vec, dim, attrs, attrs_len, 0, "omen_txn_vadd");
}

int omen_txn_vdel(omen_txn *t, omen_vset *vs, const void *id, size_t id_len)
{
    return txn_stage(t, vs, id, id_len, NULL, 0, NULL, 0, 1, "omen_txn_vdel");
}

/* ---- public reads ---- */

int omen_vset_contains(omen_vset *vs, const void *id, size_t id_len)
{
    int rc = check_vs(vs, "omen_vset_contains");
    if (!rc) rc = check_id(id, id_len, "omen_vset_contains");
    if (rc) return rc;
    unsigned char k[VK_SET + OMEN_VSET_MAX_ID];
    size_t kl = key_elem(k, vs->set_id, id, id_len);
    size_t vl;
    return omen_get_into(vs->db, NULL, k, kl, NULL, 0, &vl);
}

static int get_value(omen_vset *vs, const void *id, size_t id_len, void **val, size_t *vlen, const char *fn)
{
    int rc = check_vs(vs, fn);
    if (!rc) rc = check_id(id, id_len, fn);
    if (!rc) rc = read_elem(vs, id, id_len, val, vlen);
    if (rc == OMEN_NOTFOUND) return util_seterr(OMEN_NOTFOUND, "%s: no such element", fn);
    return rc;
}

int omen_vset_get(omen_vset *vs, const void *id, size_t id_len, float *out, uint32_t dim)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_vset_get: NULL out");
    if (vs && dim != vs->o.dim) return util_seterr(OMEN_INVALID, "omen_vset_get: wrong dimension %u", dim);
    void *v;
    size_t vl;
    int rc = get_value(vs, id, id_len, &v, &vl, "omen_vset_get");
    if (rc) return rc;
    const unsigned char *vb = NULL;
    const char *a = NULL;
    size_t al = 0;
    rc = decode_elem(vs, v, vl, &vb, &a, &al);
    if (!rc) memcpy(out, vb, (size_t)dim * 4);
    omen_free(v);
    return rc;
}

int omen_vset_get_int8(omen_vset *vs, const void *id, size_t id_len, int8_t *out, uint32_t dim, float *scale,
                       float *offset)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_vset_get_int8: NULL out");
    int rc = check_vs(vs, "omen_vset_get_int8");
    if (rc) return rc;
    if (dim != vs->o.dim) return util_seterr(OMEN_INVALID, "omen_vset_get_int8: wrong dimension %u", dim);
    if (vs->o.precision != OMEN_PREC_INT8)
        return util_seterr(OMEN_INVALID, "omen_vset_get_int8: set '%s' is not int8", vs->name);
    rc = check_id(id, id_len, "omen_vset_get_int8");
    if (rc) return rc;
    int rs = hnsw_read_begin(vs->g);
    pthread_mutex_lock(&vs->wmu);
    uint32_t slot = map_find(vs, id, id_len);
    if (slot == HN_NONE) {
        rc = util_seterr(OMEN_NOTFOUND, "omen_vset_get_int8: no such element");
    } else {
        memcpy(out, hn_vec(vs->g, slot), dim);
        if (scale) *scale = vs->g->q.scale;
        if (offset) *offset = vs->g->q.offset;
    }
    pthread_mutex_unlock(&vs->wmu);
    hnsw_read_end(vs->g, rs);
    return rc;
}

int omen_vset_get_attrs(omen_vset *vs, const void *id, size_t id_len, char **json, size_t *len)
{
    if (!json || !len) return util_seterr(OMEN_INVALID, "omen_vset_get_attrs: NULL out");
    *json = NULL;
    *len = 0;
    void *v;
    size_t vl;
    int rc = get_value(vs, id, id_len, &v, &vl, "omen_vset_get_attrs");
    if (rc) return rc;
    const unsigned char *vb = NULL;
    const char *a = NULL;
    size_t al = 0;
    rc = decode_elem(vs, v, vl, &vb, &a, &al);
    if (!rc && al) {
        char *s = util_malloc(al + 1);
        if (!s) {
            rc = util_seterr(OMEN_NOMEM, "omen_vset_get_attrs: out of memory");
        } else {
            memcpy(s, a, al);
            s[al] = 0;
            *json = s;
            *len = al;
        }
    }
    omen_free(v);
    return rc;
}

int omen_vset_random(omen_vset *vs, void **id, size_t *id_len)
{
    if (!id || !id_len) return util_seterr(OMEN_INVALID, "omen_vset_random: NULL out");
    *id = NULL;
    *id_len = 0;
    int rc = check_vs(vs, "omen_vset_random");
    if (rc) return rc;
    static _Atomic uint64_t ctr;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t r = atomic_fetch_add(&ctr, 0x9e3779b97f4a7c15ull) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
    int rs = hnsw_read_begin(vs->g);
    uint32_t s = hnsw_random_live(vs->g, r);
    if (s == HN_NONE) {
        rc = util_seterr(OMEN_NOTFOUND, "omen_vset_random: set '%s' is empty", vs->name);
    } else {
        vrec *rec = atomic_load_explicit(&hn_node(vs->g, s)->rec, memory_order_acquire);
        if (!rec) {
            rc = util_seterr(OMEN_NOTFOUND, "omen_vset_random: set '%s' is empty", vs->name);
        } else {
            *id = util_memdup(rec->data, rec->id_len);
            *id_len = rec->id_len;
            if (!*id) rc = util_seterr(OMEN_NOMEM, "omen_vset_random: out of memory");
        }
    }
    hnsw_read_end(vs->g, rs);
    return rc;
}

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
    float *tmp;
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
    int rc = decode_elem(c->vs, v, vl, &vb, &a, &al);
    if (rc) return rc;
    if (c->f && !vfilter_match(c->f, a, al)) return 0;
    memcpy(c->tmp, vb, (size_t)c->vs->o.dim * 4);
    hit_tmp x = {hnsw_fdist(c->vs->g, c->q, c->tmp), k + VK_SET, kl - VK_SET, NULL};
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
    exact_ctx c = {vs, q, f, k, NULL, 0, NULL};
    c.h = util_malloc((size_t)k * sizeof *c.h);
    c.tmp = util_malloc((size_t)vs->o.dim * 4);
    int rc = (!c.h || !c.tmp) ? util_seterr(OMEN_NOMEM, "vector search: out of memory") : OMEN_OK;
    unsigned char lo[VK_SET], hi[VK_SET];
    key_range(lo, hi, 'E', vs->set_id);
    if (!rc) rc = scan_range(vs->db, lo, VK_SET, hi, VK_SET, exact_cb, &c);
    if (rc == OMEN_NOMEM) rc = util_seterr(OMEN_NOMEM, "vector search: out of memory");
    if (!rc) {
        qsort(c.h, c.n, sizeof *c.h, hit_cmp);
        rc = make_result(c.h, c.n, out);
    }
    for (size_t i = 0; i < c.n; i++) omen_free(c.h[i].own);
    omen_free(c.h);
    omen_free(c.tmp);
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
    rc = check_vec(vs, qin, vs->o.dim, &qn, fn);
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
    int qexact = 0;
    if (q8 && live) {
        vquant_encode(&g->q, q, q8, vs->o.dim);
        qexact = vquant_exact(&g->q, q, q8, vs->o.dim);
    }
    hn_query hq = {q, q8};
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
        h = util_malloc(cap * sizeof *h);
        const vrec **recs = util_malloc(cap * sizeof *recs);
        float *ed = i8 ? util_malloc(cap * sizeof *ed) : NULL;
        signed char *st = i8 ? util_malloc(cap) : NULL; /* 1 read, 0 gone, -1 use c[i].d */
        const vrec **batch = i8 ? util_malloc(cap * sizeof *batch) : NULL;
        size_t *bidx = i8 ? util_malloc(cap * sizeof *bidx) : NULL;
        vrerank rr;
        int rr_on = 0;
        if (!h || !recs || (i8 && (!ed || !st || !batch || !bidx)))
            rc = util_seterr(OMEN_NOMEM, "%s: out of memory", fn);
        else if (i8 && !(rc = vrerank_begin(&rr, vs->db, g, vs->set_id, q)))
            rr_on = 1;
        for (size_t i = 0; i < cap && !rc; i++) {
            recs[i] = atomic_load_explicit(&hn_node(g, c[i].slot)->rec, memory_order_acquire);
            /* Both sides lossless: the int8 distance is the exact one. */
            if (i8) st[i] = qexact && (*hn_flags(g, c[i].slot) & HN_F_EXACT) ? -1 : 0;
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
                    size_t end = i + (done == 0 ? (size_t)k : 4), m = 0;
                    if (end > cap) end = cap;
                    for (size_t j = i; j < end; j++)
                        if (recs[j] && st[j] >= 0) {
                            bidx[m] = j;
                            batch[m++] = recs[j];
                        }
                    float bd[m ? m : 1];
                    signed char bf[m ? m : 1];
                    if ((rc = vrerank_read(&rr, batch, m, bd, bf))) break;
                    for (size_t j = 0; j < m; j++) {
                        ed[bidx[j]] = bd[j];
                        st[bidx[j]] = bf[j];
                    }
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
        omen_free(recs);
        omen_free(ed);
        omen_free(st);
        omen_free(batch);
        omen_free(bidx);
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
    int rc = check_vs(vs, "omen_vset_search");
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
    int rc = check_vs(vs, "omen_vset_search_many");
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
