/*
 * rocksdb.c -- kv_bench's RocksDB adapter (Debian librocksdb, C API):
 * LRU block cache, full Bloom filter, OptimisticTransactionDB for txn.
 */
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "engine.h"
#include "ldb_style.h"

typedef struct {
    rocksdb_t *db;
    rocksdb_optimistictransactiondb_t *otdb; /* only in txn mode */
    rocksdb_options_t *opt;
    rocksdb_block_based_table_options_t *bbt;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
    rocksdb_optimistictransaction_options_t *oto;
} rk_db;

typedef struct {
    rk_db *d;
    rocksdb_iterator_t *it;
    rocksdb_transaction_t *txn;
    uint8_t *v1, *v2;
} rk_thr;

LDB_STYLE_METHODS(rk, rocksdb, rk_db, rk_thr)

static void rk_free_opts(rk_db *d)
{
    if (d->oto)
        rocksdb_optimistictransaction_options_destroy(d->oto);
    if (d->wo)
        rocksdb_writeoptions_destroy(d->wo);
    if (d->ro)
        rocksdb_readoptions_destroy(d->ro);
    if (d->opt)
        rocksdb_options_destroy(d->opt);
    if (d->bbt)
        rocksdb_block_based_options_destroy(d->bbt);
    if (d->cache)
        rocksdb_cache_destroy(d->cache);
    free(d);
}

static int rk_open(const char *dir, int sync, int txn_mode, void **out)
{
    rk_db *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->opt = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(d->opt, 1);
    rocksdb_options_set_write_buffer_size(d->opt, WBUF_BYTES);
    static const int codec[KV_NCODEC] = {rocksdb_no_compression, rocksdb_lz4_compression,
                                         rocksdb_zstd_compression, rocksdb_snappy_compression};
    rocksdb_options_set_compression(d->opt, codec[C.codec]);
    d->bbt = rocksdb_block_based_options_create();
    d->cache = rocksdb_cache_create_lru(CACHE_BYTES);
    rocksdb_block_based_options_set_block_cache(d->bbt, d->cache);
    /* The table options take ownership of the filter policy. */
    rocksdb_block_based_options_set_filter_policy(d->bbt,
                                                  rocksdb_filterpolicy_create_bloom_full(BLOOM_BITS));
    rocksdb_options_set_block_based_table_factory(d->opt, d->bbt);
    d->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(d->wo, (unsigned char)(sync != 0));
    d->ro = rocksdb_readoptions_create();
    char *err = NULL;
    if (txn_mode) {
        d->oto = rocksdb_optimistictransaction_options_create();
        rocksdb_optimistictransaction_options_set_set_snapshot(d->oto, 1);
        d->otdb = rocksdb_optimistictransactiondb_open(d->opt, dir, &err);
        if (!err)
            d->db = rocksdb_optimistictransactiondb_get_base_db(d->otdb);
    } else {
        d->db = rocksdb_open(d->opt, dir, &err);
    }
    if (err) {
        rk_free_opts(d);
        /* A library built without the codec says "... is not linked". */
        int missing = strstr(err, "not linked") != NULL;
        rk_err("rocksdb_open", err);
        return missing ? KV_NO_CODEC : -1;
    }
    *out = d;
    return 0;
}

static int rk_close(void *db)
{
    rk_db *d = db;
    if (d->otdb) {
        rocksdb_optimistictransactiondb_close_base_db(d->db);
        rocksdb_optimistictransactiondb_close(d->otdb);
    } else {
        rocksdb_close(d->db);
    }
    rk_free_opts(d);
    return 0;
}

static int rk_thr_new(void *db, void **out)
{
    rk_thr *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->d = db;
    *out = t;
    return vbufs_new(&t->v1, &t->v2);
}

static void rk_thr_free(void *p)
{
    rk_thr *t = p;
    if (t->it)
        rocksdb_iter_destroy(t->it);
    if (t->txn)
        rocksdb_transaction_destroy(t->txn);
    free(t->v1);
    free(t->v2);
    free(t);
}

static int rk_get(void *p, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap, size_t *vl)
{
    rk_thr *t = p;
    char *err = NULL;
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(t->d->db, t->d->ro, (const char *)k, kl, &err);
    if (err)
        return rk_err("rocksdb_get_pinned", err);
    if (!ps)
        return 0;
    size_t len;
    const char *v = rocksdb_pinnableslice_value(ps, &len);
    memcpy(buf, v, len < cap ? len : cap);
    *vl = len;
    rocksdb_pinnableslice_destroy(ps);
    return 1;
}

/* GetForUpdate records both keys for validation, so the optimistic
 * transaction is as strict as OmenDB's (read set validated at commit). */
static int rk_txn_get(rk_thr *t, const uint8_t *k, size_t kl, uint8_t *buf)
{
    char *err = NULL;
    size_t len;
    char *v = rocksdb_transaction_get_for_update(t->txn, t->d->ro, (const char *)k, kl, &len, 1, &err);
    if (err)
        return rk_err("rocksdb_transaction_get_for_update", err);
    if (!v || len != C.vsize) {
        rocksdb_free(v);
        seterr("rocksdb_transaction_get_for_update: key missing or length %zu", v ? len : 0);
        return -1;
    }
    memcpy(buf, v, len);
    rocksdb_free(v);
    return 0;
}

static int rk_txn_rmw(void *p, const uint8_t *k1, const uint8_t *k2, size_t kl, long *retries)
{
    rk_thr *t = p;
    if (!t->d->otdb) {
        seterr("rocksdb: not opened as OptimisticTransactionDB");
        return -1;
    }
    for (;;) {
        t->txn = rocksdb_optimistictransaction_begin(t->d->otdb, t->d->wo, t->d->oto, t->txn);
        if (rk_txn_get(t, k1, kl, t->v1) || rk_txn_get(t, k2, kl, t->v2))
            return -1;
        rmw_bump(t->v1);
        rmw_bump(t->v2);
        char *err = NULL;
        rocksdb_transaction_put(t->txn, (const char *)k1, kl, (const char *)t->v1, C.vsize, &err);
        if (!err)
            rocksdb_transaction_put(t->txn, (const char *)k2, kl, (const char *)t->v2, C.vsize, &err);
        if (err)
            return rk_err("rocksdb_transaction_put", err);
        rocksdb_transaction_commit(t->txn, &err);
        if (!err)
            return 0;
        /* Optimistic validation failures are Status::Busy or TryAgain. */
        if (!strstr(err, "busy") && !strstr(err, "Busy") && !strstr(err, "Try again"))
            return rk_err("rocksdb_transaction_commit", err);
        rocksdb_free(err);
        (*retries)++;
    }
}

const eng_vt ENG_ROCKSDB = {
    "rocksdb",   rk_open,     rk_close,    rk_settle,  rk_thr_new, rk_thr_free, rk_put,
    rk_get,      rk_it_begin, rk_it_first, rk_it_seek, rk_it_next, rk_it_cur,   rk_it_end,
    rk_txn_rmw,  (1u << KV_CODEC_NONE) | (1u << KV_CODEC_LZ4) | (1u << KV_CODEC_ZSTD) | (1u << KV_CODEC_SNAPPY),
};
