/*
 * leveldb.c -- kv_bench's LevelDB adapter (Debian libleveldb, C API).
 * LevelDB has no transactions, so its txn entry is NULL.
 */
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

#include "engine.h"
#include "ldb_style.h"

typedef struct {
    leveldb_t *db;
    leveldb_options_t *opt;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *fp;
    leveldb_writeoptions_t *wo;
    leveldb_readoptions_t *ro;
} lv_db;

typedef struct {
    lv_db *d;
    leveldb_iterator_t *it;
} lv_thr;

LDB_STYLE_METHODS(lv, leveldb, lv_db, lv_thr)

static void lv_free_opts(lv_db *d)
{
    leveldb_writeoptions_destroy(d->wo);
    leveldb_readoptions_destroy(d->ro);
    leveldb_options_destroy(d->opt);
    leveldb_filterpolicy_destroy(d->fp);
    leveldb_cache_destroy(d->cache);
    free(d);
}

static int lv_open(const char *dir, int sync, int txn_mode, void **out)
{
    (void)txn_mode;
    lv_db *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->opt = leveldb_options_create();
    leveldb_options_set_create_if_missing(d->opt, 1);
    leveldb_options_set_write_buffer_size(d->opt, WBUF_BYTES);
    leveldb_options_set_compression(d->opt, C.codec == KV_CODEC_SNAPPY ? leveldb_snappy_compression
                                                                    : leveldb_no_compression);
    d->cache = leveldb_cache_create_lru(CACHE_BYTES);
    leveldb_options_set_cache(d->opt, d->cache);
    d->fp = leveldb_filterpolicy_create_bloom(BLOOM_BITS);
    leveldb_options_set_filter_policy(d->opt, d->fp);
    d->wo = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(d->wo, (uint8_t)(sync != 0));
    d->ro = leveldb_readoptions_create();
    char *err = NULL;
    d->db = leveldb_open(d->opt, dir, &err);
    if (err) {
        lv_free_opts(d);
        return lv_err("leveldb_open", err);
    }
    *out = d;
    return 0;
}

static int lv_close(void *db)
{
    lv_db *d = db;
    leveldb_close(d->db);
    lv_free_opts(d);
    return 0;
}

static int lv_thr_new(void *db, void **out)
{
    lv_thr *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->d = db;
    *out = t;
    return 0;
}

static void lv_thr_free(void *p)
{
    lv_thr *t = p;
    if (t->it)
        leveldb_iter_destroy(t->it);
    free(t);
}

static int lv_get(void *p, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap, size_t *vl)
{
    lv_thr *t = p;
    char *err = NULL;
    size_t len;
    char *v = leveldb_get(t->d->db, t->d->ro, (const char *)k, kl, &len, &err);
    if (err)
        return lv_err("leveldb_get", err);
    if (!v)
        return 0;
    memcpy(buf, v, len < cap ? len : cap);
    *vl = len;
    leveldb_free(v);
    return 1;
}

const eng_vt ENG_LEVELDB = {
    "leveldb",   lv_open,     lv_close,    lv_settle,  lv_thr_new, lv_thr_free, lv_put,
    lv_get,      lv_it_begin, lv_it_first, lv_it_seek, lv_it_next, lv_it_cur,   lv_it_end,
    NULL, /* LevelDB has no transactions */
    /* Its C API offers Snappy only. */
    (1u << KV_CODEC_NONE) | (1u << KV_CODEC_SNAPPY),
};
