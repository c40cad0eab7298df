/*
 * vset.c -- vector set handles (vset.h): the registry of open sets (one
 * shared state per database and name), create/open/close/drop/list/info,
 * loading a set (graph file, or a rebuild from the elements, then the log
 * tail), checkpoints, and the argument checks every entry point shares.
 *
 * Where vectors live: the float32 vector of every element is in the engine
 * (WAL, memtable, sorted runs, block cache); the graph keeps only its
 * traversal copy (int8 or float32).  Writes are in vwrite.c, reads by id in
 * vread.c, searches in vsearch.c, the id map and graph sync in vsync.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/batch.h"
#include "db/iter.h"
#include "db/version.h"
#include "db/memtable.h"
#include "db/reserved.h"
#include "storage/fio.h"
#include "util/coding.h"
#include "util/err.h"
#include "util/mem.h"
#include "vector/vgraph.h"
#include "vector/vkeys.h"
#include "vector/vset.h"

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

void vset_ref(omen_vset *vs)
{
    pthread_mutex_lock(&reg_mu);
    vs->refs++;
    pthread_mutex_unlock(&reg_mu);
}

/* ---- argument checks (shared by writes, reads and searches) ---- */

int vset_check(const omen_vset *vs, const char *fn)
{
    if (!vs) return util_seterr(OMEN_INVALID, "%s: NULL vector set", fn);
    if (atomic_load(&vs->dropped)) return util_seterr(OMEN_NOTFOUND, "%s: set '%s' was dropped", fn, vs->name);
    return OMEN_OK;
}

int vset_check_id(const void *id, size_t n, const char *fn)
{
    if (!id || n == 0 || n > OMEN_VSET_MAX_ID)
        return util_seterr(OMEN_INVALID, "%s: element id must be 1..%u bytes", fn, OMEN_VSET_MAX_ID);
    return OMEN_OK;
}

/* Validate vec and return a normalised copy for cosine (or vec itself). */
int vset_check_vec(const omen_vset *vs, const float *vec, uint32_t dim, float **copy, const char *fn)
{
    *copy = NULL;
    if (!vec) return util_seterr(OMEN_INVALID, "%s: NULL vector", fn);
    if (dim != vs->o.dim)
        return util_seterr(OMEN_INVALID, "%s: vector of dimension %u, set '%s' has %u", fn, dim, vs->name,
                           vs->o.dim);
    /* a NaN or an infinity makes the sum of squares NaN or infinite (a
     * float's square cannot overflow a double) */
    const vdist_kernels *k = vs->g ? vs->g->k : vdist_get(VDIST_AUTO);
    double norm = k->sumsq(vec, dim);
    if (!isfinite(norm))
        for (uint32_t i = 0; i < dim; i++)
            if (!isfinite(vec[i]))
                return util_seterr(OMEN_INVALID, "%s: component %u is NaN or infinite", fn, i);
    if (vs->o.metric == OMEN_METRIC_COSINE) {
        if (!(norm > 0)) return util_seterr(OMEN_INVALID, "%s: zero vector in a cosine set", fn);
        float *c = util_malloc((size_t)dim * 4);
        if (!c) return util_seterr(OMEN_NOMEM, "%s: out of memory", fn);
        k->scale(vec, 1.0 / sqrt(norm), c, dim);
        *copy = c;
    }
    return OMEN_OK;
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


void vset_unref(omen_vset *vs)
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
int vset_scan_range(omen_db *db, const unsigned char *lo, size_t lol, const unsigned char *hi, size_t hil,
                    vset_scan_fn fn, void *ctx)
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
        int rc = vset_sync_elem(c->vs, v, vl);
        if (rc) return rc;
    }
    return vset_push_applied(c->vs, logno);
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
    int rc = vset_elem_decode(c->vs, v, vl, &vb, &a, &al);
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
    int rc = vset_elem_decode(vs, v, vl, &vb, &a, &al);
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
    return vset_map_put(vs, k + VK_SET, idlen, slot);
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
            if (vset_map_find(vs, r->data, r->id_len) != HN_NONE) {
                rc = util_seterr(OMEN_CORRUPT, "vector graph file: duplicate element id");
                break;
            }
            rc = vset_map_put(vs, r->data, r->id_len, s);
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
        rc = vset_scan_range(vs->db, lo, VK_SET, hi, VK_SET, log_cb, &c);
    } else {
        if (rc == OMEN_NOMEM) return rc;
        /* No usable file: rebuild from the stored elements. */
        rc = hnsw_new(vs->o.dim, vs->o.metric, vs->o.precision, vs->o.M, vs->o.ef_construction, &vs->g);
        if (rc) return rc;
        key_range(lo, hi, 'E', vs->set_id);
        c.train = util_malloc((size_t)VS_TRAIN_SAMPLE * vs->o.dim * 4);
        if (!c.train) return util_seterr(OMEN_NOMEM, "vector: out of memory");
        rc = vset_scan_range(vs->db, lo, VK_SET, hi, VK_SET, train_cb, &c);
        if (rc == 1) rc = OMEN_OK;
        if (!rc) hnsw_train(vs->g, c.train, c.ntrain);
        omen_free(c.train);
        c.train = NULL;
        if (!rc) rc = vset_scan_range(vs->db, lo, VK_SET, hi, VK_SET, rebuild_cb, &c);
        c.replay = 0;
        key_range(lo, hi, 'L', vs->set_id);
        if (!rc) rc = vset_scan_range(vs->db, lo, VK_SET, hi, VK_SET, log_cb, &c);
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
    rc = db_get_reserved(db, mk, mkl, &v, &vl);
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
    rc = db_get_reserved(db, nk, VK_HDR, &v, &vl);
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
    rc = db_get_reserved(db, mk, mkl, &v, &vl);
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
    int rc = vset_check(vs, "omen_vset_checkpoint");
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
    rc = db_get_reserved(db, mk, mkl, &v, &vl);
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
    if (!rc) rc = vset_scan_range(db, lo, VK_SET, hi, VK_SET, del_cb, &c);
    key_range(lo, hi, 'L', set_id);
    if (!rc) rc = vset_scan_range(db, lo, VK_SET, hi, VK_SET, del_cb, &c);
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
    rc = vset_scan_range(db, lo, VK_HDR, hi, VK_HDR, list_cb, &c);
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
    int rc = vset_check(vs, "omen_vset_info_get");
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
