/*
 * lmdb.c -- kv_bench's LMDB adapter (Debian liblmdb): one environment,
 * one read transaction per thread kept reset between gets, MDB_NOSYNC in
 * no-sync mode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "engine.h"

typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
} lm_db;

typedef struct {
    lm_db *d;
    MDB_txn *rtxn; /* read transaction, kept reset between operations */
    MDB_cursor *cur;
    MDB_val ck, cv;
    uint8_t *v1, *v2;
} lm_thr;

static int lm_fail(const char *what, int rc)
{
    seterr("%s: %s", what, mdb_strerror(rc));
    return -1;
}

static int lm_open(const char *dir, int sync, int txn_mode, void **out)
{
    (void)txn_mode;
    lm_db *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    int rc = mdb_env_create(&d->env);
    if (rc) {
        free(d);
        return lm_fail("mdb_env_create", rc);
    }
    /* A sparse map with room for random-insert B-tree slack (~2x) twice. */
    size_t map = (size_t)(C.n + C.sync_n) * (C.klen + C.vsize + 64) * 4 + (256u << 20);
    unsigned flags = MDB_NOTLS | (sync ? 0 : MDB_NOSYNC);
    if ((rc = mdb_env_set_mapsize(d->env, map)) || (rc = mdb_env_set_maxreaders(d->env, 256)) ||
        (mkdir(dir, 0755) != 0 && errno != EEXIST) ||
        (rc = mdb_env_open(d->env, dir, flags, 0644))) {
        mdb_env_close(d->env);
        free(d);
        return lm_fail("mdb_env_open", rc ? rc : errno);
    }
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(d->env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, NULL, 0, &d->dbi)) ||
        (rc = mdb_txn_commit(txn))) {
        mdb_env_close(d->env);
        free(d);
        return lm_fail("mdb_dbi_open", rc);
    }
    *out = d;
    return 0;
}

static int lm_close(void *db)
{
    lm_db *d = db;
    mdb_env_close(d->env);
    free(d);
    return 0;
}

static int lm_settle(void *db)
{
    (void)db; /* a B-tree has no background work to finish */
    return 0;
}

static int lm_thr_new(void *db, void **out)
{
    lm_thr *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->d = db;
    *out = t;
    int vb = vbufs_new(&t->v1, &t->v2);
    int rc = mdb_txn_begin(t->d->env, NULL, MDB_RDONLY, &t->rtxn);
    if (rc)
        return lm_fail("mdb_txn_begin(rdonly)", rc);
    mdb_txn_reset(t->rtxn);
    return vb;
}

static void lm_thr_free(void *p)
{
    lm_thr *t = p;
    if (t->cur)
        mdb_cursor_close(t->cur);
    if (t->rtxn)
        mdb_txn_abort(t->rtxn);
    free(t->v1);
    free(t->v2);
    free(t);
}

static int lm_put(void *p, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    lm_thr *t = p;
    MDB_txn *w;
    MDB_val mk = {kl, (void *)k}, mv = {vl, (void *)v};
    int rc = mdb_txn_begin(t->d->env, NULL, 0, &w);
    if (rc)
        return lm_fail("mdb_txn_begin", rc);
    if ((rc = mdb_put(w, t->d->dbi, &mk, &mv, 0))) {
        mdb_txn_abort(w);
        return lm_fail("mdb_put", rc);
    }
    rc = mdb_txn_commit(w);
    return rc ? lm_fail("mdb_txn_commit", rc) : 0;
}

/* Each get is its own read transaction (renew/reset), like a standalone
 * get of the other engines that sees the latest commit. */
static int lm_get(void *p, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap, size_t *vl)
{
    lm_thr *t = p;
    MDB_val mk = {kl, (void *)k}, mv;
    int rc = mdb_txn_renew(t->rtxn);
    if (rc)
        return lm_fail("mdb_txn_renew", rc);
    rc = mdb_get(t->rtxn, t->d->dbi, &mk, &mv);
    if (rc == 0) {
        memcpy(buf, mv.mv_data, mv.mv_size < cap ? mv.mv_size : cap);
        *vl = mv.mv_size;
    }
    mdb_txn_reset(t->rtxn);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? lm_fail("mdb_get", rc) : 1;
}

static int lm_it_begin(void *p)
{
    lm_thr *t = p;
    int rc = mdb_txn_renew(t->rtxn);
    if (rc)
        return lm_fail("mdb_txn_renew", rc);
    rc = mdb_cursor_open(t->rtxn, t->d->dbi, &t->cur);
    return rc ? lm_fail("mdb_cursor_open", rc) : 0;
}

static int lm_it_op(lm_thr *t, MDB_cursor_op op)
{
    int rc = mdb_cursor_get(t->cur, &t->ck, &t->cv, op);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? lm_fail("mdb_cursor_get", rc) : 1;
}

static int lm_it_first(void *p)
{
    return lm_it_op(p, MDB_FIRST);
}

static int lm_it_seek(void *p, const uint8_t *k, size_t kl)
{
    lm_thr *t = p;
    t->ck.mv_size = kl;
    t->ck.mv_data = (void *)k;
    return lm_it_op(t, MDB_SET_RANGE);
}

static int lm_it_next(void *p)
{
    return lm_it_op(p, MDB_NEXT);
}

static void lm_it_cur(void *p, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl)
{
    lm_thr *t = p;
    *k = t->ck.mv_data;
    *kl = t->ck.mv_size;
    *v = t->cv.mv_data;
    *vl = t->cv.mv_size;
}

static void lm_it_end(void *p)
{
    lm_thr *t = p;
    mdb_cursor_close(t->cur);
    t->cur = NULL;
    mdb_txn_reset(t->rtxn);
}

/* LMDB serialises writers, so its transactions never conflict. */
static int lm_txn_rmw(void *p, const uint8_t *k1, const uint8_t *k2, size_t kl, long *retries)
{
    lm_thr *t = p;
    (void)retries;
    MDB_txn *w;
    MDB_val a = {kl, (void *)k1}, b = {kl, (void *)k2}, va, vb;
    int rc = mdb_txn_begin(t->d->env, NULL, 0, &w);
    if (rc)
        return lm_fail("mdb_txn_begin", rc);
    if ((rc = mdb_get(w, t->d->dbi, &a, &va)) || (rc = mdb_get(w, t->d->dbi, &b, &vb)))
        goto fail;
    if (va.mv_size != C.vsize || vb.mv_size != C.vsize) {
        mdb_txn_abort(w);
        seterr("lmdb txn: bad value length");
        return -1;
    }
    memcpy(t->v1, va.mv_data, C.vsize);
    memcpy(t->v2, vb.mv_data, C.vsize);
    rmw_bump(t->v1);
    rmw_bump(t->v2);
    va.mv_data = t->v1;
    vb.mv_data = t->v2;
    if ((rc = mdb_put(w, t->d->dbi, &a, &va, 0)) || (rc = mdb_put(w, t->d->dbi, &b, &vb, 0)))
        goto fail;
    rc = mdb_txn_commit(w);
    return rc ? lm_fail("mdb_txn_commit", rc) : 0;
fail:
    mdb_txn_abort(w);
    return lm_fail("lmdb txn", rc);
}

const eng_vt ENG_LMDB = {
    "lmdb",      lm_open,     lm_close,    lm_settle,  lm_thr_new, lm_thr_free, lm_put,
    lm_get,      lm_it_begin, lm_it_first, lm_it_seek, lm_it_next, lm_it_cur,   lm_it_end,
    lm_txn_rmw,  1u << KV_CODEC_NONE, /* no block compression */
};
