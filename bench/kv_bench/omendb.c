/*
 * omendb.c -- kv_bench's OmenDB adapter, through the public header
 * include/omendb.h only (no internal headers), as an application would.
 */
#include <stdlib.h>
#include <string.h>

#include "omendb.h"
#include "engine.h"

typedef struct {
    omen_db *db;
    int sync;
} om_db;

typedef struct {
    om_db *d;
    omen_iter *it;
    uint8_t *v1, *v2;
} om_thr;

static int om_fail(const char *what, int rc)
{
    seterr("%s: %s (%s)", what, omen_strerror(rc), omen_last_error());
    return -1;
}

/* OMEN_COMPRESS_* per KV_CODEC_*.  Snappy is OMEN_COMPRESS_SNAPPY (3)
 * where the engine has it; an engine without it rejects 3 at open with
 * OMEN_INVALID, and the compression run then reports snappy as n/a. */
static const int OM_CODEC[KV_NCODEC] = {OMEN_COMPRESS_NONE, OMEN_COMPRESS_LZ4, OMEN_COMPRESS_ZSTD,
                                        3};

static int om_open(const char *dir, int sync, int txn_mode, void **out)
{
    (void)txn_mode;
    om_db *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    omen_options o;
    omen_options_init(&o);
    o.create_if_missing = 1;
    o.write_buffer_size = WBUF_BYTES;
    o.cache_size = CACHE_BYTES;
    o.bloom_bits_per_key = BLOOM_BITS;
    o.compression = OM_CODEC[C.codec];
    o.sync = sync ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED;
    d->sync = o.sync;
    int rc = omen_open(dir, &o, &d->db);
    if (rc != OMEN_OK) {
        free(d);
        om_fail("omen_open", rc);
        return rc == OMEN_INVALID && C.codec == KV_CODEC_SNAPPY ? KV_NO_CODEC : -1;
    }
    *out = d;
    return 0;
}

static int om_close(void *db)
{
    om_db *d = db;
    int rc = omen_close(d->db);
    free(d);
    return rc == OMEN_OK ? 0 : om_fail("omen_close", rc);
}

static int om_settle(void *db)
{
    om_db *d = db;
    int rc = omen_flush(d->db);
    if (rc != OMEN_OK)
        return om_fail("omen_flush", rc);
    rc = omen_compact_range(d->db, NULL, 0, NULL, 0);
    return rc == OMEN_OK ? 0 : om_fail("omen_compact_range", rc);
}

static int om_thr_new(void *db, void **out)
{
    om_thr *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->d = db;
    *out = t;
    return vbufs_new(&t->v1, &t->v2);
}

static void om_thr_free(void *p)
{
    om_thr *t = p;
    if (t->it)
        omen_iter_destroy(t->it);
    free(t->v1);
    free(t->v2);
    free(t);
}

static int om_put(void *p, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    om_thr *t = p;
    int rc = omen_put(t->d->db, k, kl, v, vl, t->d->sync);
    return rc == OMEN_OK ? 0 : om_fail("omen_put", rc);
}

static int om_get(void *p, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap, size_t *vl)
{
    om_thr *t = p;
    /* Straight into the caller's buffer, one copy, as the LMDB adapter
     * copies from its map and the RocksDB one from a pinned slice (LevelDB's
     * C API only has a get that allocates). */
    int rc = omen_get_into(t->d->db, NULL, k, kl, buf, cap, vl);
    if (rc == OMEN_NOTFOUND)
        return 0;
    if (rc != OMEN_OK)
        return om_fail("omen_get_into", rc);
    return 1;
}

static int om_it_begin(void *p)
{
    om_thr *t = p;
    int rc = omen_iter_create(t->d->db, NULL, &t->it);
    return rc == OMEN_OK ? 0 : om_fail("omen_iter_create", rc);
}

static int om_it_state(om_thr *t)
{
    if (omen_iter_valid(t->it))
        return 1;
    int rc = omen_iter_status(t->it);
    return rc == OMEN_OK ? 0 : om_fail("omen_iter", rc);
}

static int om_it_first(void *p)
{
    om_thr *t = p;
    omen_iter_seek_first(t->it);
    return om_it_state(t);
}

static int om_it_seek(void *p, const uint8_t *k, size_t kl)
{
    om_thr *t = p;
    omen_iter_seek(t->it, k, kl);
    return om_it_state(t);
}

static int om_it_next(void *p)
{
    om_thr *t = p;
    omen_iter_next(t->it);
    return om_it_state(t);
}

static void om_it_cur(void *p, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl)
{
    om_thr *t = p;
    *k = omen_iter_key(t->it, kl);
    *v = omen_iter_value(t->it, vl);
}

static void om_it_end(void *p)
{
    om_thr *t = p;
    omen_iter_destroy(t->it);
    t->it = NULL;
}

static int om_txn_get(omen_txn *x, const uint8_t *k, size_t kl, uint8_t *buf)
{
    void *v;
    size_t len;
    int rc = omen_txn_get(x, k, kl, &v, &len);
    if (rc != OMEN_OK)
        return rc;
    if (len != C.vsize) {
        omen_free(v);
        seterr("omen_txn_get: value length %zu, expected %zu", len, C.vsize);
        return -1;
    }
    memcpy(buf, v, len);
    omen_free(v);
    return OMEN_OK;
}

static int om_txn_rmw(void *p, const uint8_t *k1, const uint8_t *k2, size_t kl, long *retries)
{
    om_thr *t = p;
    for (;;) {
        omen_txn *x;
        int rc = omen_txn_begin(t->d->db, &x);
        if (rc != OMEN_OK)
            return om_fail("omen_txn_begin", rc);
        if ((rc = om_txn_get(x, k1, kl, t->v1)) != OMEN_OK ||
            (rc = om_txn_get(x, k2, kl, t->v2)) != OMEN_OK) {
            omen_txn_rollback(x);
            return rc < 0 ? -1 : om_fail("omen_txn_get", rc);
        }
        rmw_bump(t->v1);
        rmw_bump(t->v2);
        if ((rc = omen_txn_put(x, k1, kl, t->v1, C.vsize)) != OMEN_OK ||
            (rc = omen_txn_put(x, k2, kl, t->v2, C.vsize)) != OMEN_OK) {
            omen_txn_rollback(x);
            return om_fail("omen_txn_put", rc);
        }
        rc = omen_txn_commit(x, t->d->sync);
        if (rc == OMEN_OK)
            return 0;
        if (rc != OMEN_CONFLICT)
            return om_fail("omen_txn_commit", rc);
        (*retries)++;
    }
}

const eng_vt ENG_OMENDB = {
    "omendb",    om_open,     om_close,   om_settle,   om_thr_new, om_thr_free, om_put,
    om_get,      om_it_begin, om_it_first, om_it_seek, om_it_next, om_it_cur,   om_it_end,
    om_txn_rmw,  (1u << KV_CODEC_NONE) | (1u << KV_CODEC_LZ4) | (1u << KV_CODEC_ZSTD) | (1u << KV_CODEC_SNAPPY),
};
