/*
 * vwrite.c -- writes to vector sets: validation of attributes, staging of
 * an element write (its element key plus one mutation-log key) into a batch
 * or a transaction, the commit hook that syncs the graph after the commit,
 * and the public write calls (omen_vset_add/delete/set_attrs/add_many,
 * omen_batch_v*, omen_txn_v*).
 *
 * Invariants: a write reaches the graph only after its commit (the hook's
 * apply), never from the staging call, so an aborted batch or transaction
 * leaves the graph untouched.  Each pending item holds a reference on its
 * set (vset_ref) until the hook is released.  A failed batch staging rolls the
 * batch back to its length before the call.
 */
#include <string.h>

#include "db/db.h"
#include "db/batch.h"
#include "db/txn.h"
#include "db/memtable.h"
#include "util/err.h"
#include "util/mem.h"
#include "vector/vfilter.h"
#include "vector/vkeys.h"
#include "vector/vset.h"

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

static void train_from_pending(omen_vset *vs, vpend *p, size_t from)
{
    size_t cap = VS_TRAIN_SAMPLE, n = 0;
    float *buf = util_malloc(cap * (size_t)vs->o.dim * 4);
    if (!buf) return;
    for (size_t i = from; i < p->n && n < cap; i++) {
        if (p->it[i].vs != vs) continue;
        void *val;
        size_t vlen;
        if (vset_elem_read(vs, p->it[i].id, p->it[i].idlen, &val, &vlen)) continue;
        const unsigned char *vb = NULL;
        const char *a = NULL;
        size_t al = 0;
        if (!vset_elem_decode(vs, val, vlen, &vb, &a, &al)) memcpy(buf + n++ * vs->o.dim, vb, (size_t)vs->o.dim * 4);
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
                if (vset_sync_elem(vs, p->it[i].id, p->it[i].idlen) == OMEN_OK)
                    vset_push_applied(vs, p->it[i].logno);
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

/* ---- staging of one write ---- */

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
    return db_get_reserved(ctx, k, kl, v, vl);
}

static int txn_get_fn(void *ctx, const void *k, size_t kl, void **v, size_t *vl)
{
    return txn_get_reserved(ctx, k, kl, v, vl);
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
    if (old && (rc = vset_elem_decode(vs, old, oldlen, &ovec, &oattrs, &oalen))) {
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
    int rc = vset_check(vs, fn);
    if (!rc) rc = vset_check_id(id, idlen, fn);
    float *copy = NULL;
    if (!rc && !del && vec) rc = vset_check_vec(vs, vec, dim, &copy, fn);
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

/* ---- public writes ---- */

static int write_one(omen_vset *vs, const void *id, size_t idlen, const float *vec, uint32_t dim,
                     const char *attrs, size_t alen, int del, int must_exist, int sync, const char *fn)
{
    int rc = vset_check(vs, fn);
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
    int rc = vset_check(vs, fn);
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
    int rc = vset_check(vs, fn);
    if (!rc) rc = vset_check_id(id, idlen, fn);
    float *copy = NULL;
    if (!rc && !del) rc = vset_check_vec(vs, vec, dim, &copy, fn);
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
