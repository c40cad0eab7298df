/*
 * kv_bench.c -- db_bench-style comparison of OmenDB with RocksDB, LevelDB,
 * LMDB and SQLite, run in one process over the same data.
 *
 * Every engine is driven through its C API behind one small vtable
 * (struct eng_vt); OmenDB only through include/omendb.h.  Invariants that
 * make the numbers comparable (see docs/bench-kv.md for the full story):
 *
 *  - The same key sequence for every engine: keys, values and read
 *    sequences come from fixed seeds, and the per-thread random streams are
 *    seeded from (seed, workload, thread), never from the engine.
 *  - The same durability: "no-sync" = log on, no fsync per write; "sync" =
 *    an fsync (or fdatasync) per acknowledged write, for every engine.
 *  - Stored keys are the even numbers 0, 2, .., 2(n-1); readmissing asks
 *    for odd numbers, which sit between stored keys (no range shortcut).
 *  - Timing uses CLOCK_MONOTONIC around a barrier-released group of
 *    threads; per-thread setup (connections, contexts) is outside the
 *    timed region.  Every value read is copied into a caller buffer and
 *    folded into a checksum printed at the end, so no read is optimised
 *    away.
 *  - Reads run on the database that fillrandom built, after a settle step
 *    that is the same policy for every engine (--settle).
 *  - Per (engine, workload) the median over --reps repetitions is
 *    reported; repetitions interleave engines so machine noise is shared.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <leveldb/c.h>
#include <lmdb.h>
#include <rocksdb/c.h>
#include <sqlite3.h>

#include "omendb.h"

/* ---- settings shared by every engine ------------------------------------ */

#define CACHE_BYTES (64u << 20)     /* block cache / page cache budget      */
#define WBUF_BYTES (64u << 20)      /* memtable size of the three LSMs      */
#define BLOOM_BITS 10               /* filter bits per key (LSMs)           */
#define SEEK_NEXTS 10               /* nexts after each seek in seekrandom  */
#define VBUF_SPAN (1u << 20)        /* value pool: offsets range over 1 MiB */
#define MAX_REPS 32
#define VERIFY_SAMPLES 1000

typedef struct {
    uint64_t n;         /* keys in the filled databases                     */
    size_t vsize;       /* value bytes                                      */
    int int_keys;       /* 8-byte big-endian integer keys instead of 16 B   */
    size_t klen;
    const char *dir;
    int reps;
    int csv;
    int verify;
    uint64_t reads;     /* operations of each read workload                 */
    uint64_t writes;    /* operations of overwrite                          */
    uint64_t sync_n;    /* operations of each fillsync run (all writers)    */
    uint64_t txn_n;     /* committed transactions of the txn workload       */
    int txn_threads;
    uint64_t rww_rate;  /* writes/s of the writer in readwhilewriting       */
    int settle_compact; /* 1: full manual compaction after fills            */
    double duration;    /* seconds cap of the capped workloads, 0 = none     */
    uint64_t seed;
    unsigned engines;   /* bit mask over ENG_*                              */
    unsigned wls;       /* bit mask over WL_*                               */
} cfg_t;

static cfg_t C;
static uint8_t *g_vpool;            /* VBUF_SPAN + vsize bytes              */
static uint32_t *g_perm;            /* fillrandom order: permutation of n   */
static volatile uint64_t g_sink;    /* values touched end up here           */

static _Thread_local char t_err[512];

static void seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void seterr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_err, sizeof t_err, fmt, ap);
    va_end(ap);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* splitmix64: a full-period generator and a good 64-bit mixer. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r)
{
    r->s += 0x9E3779B97F4A7C15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias worth mentioning (Lemire). */
static uint64_t rng_below(rng_t *r, uint64_t bound)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * bound) >> 64);
}

/* ---- keys and values ---------------------------------------------------- */

/* Key number -> key bytes.  Both encodings keep byte order == numeric order. */
static void key_encode(uint64_t num, uint8_t *out)
{
    if (C.int_keys) {
        omen_key_u64(num, out);
        return;
    }
    for (int i = 15; i >= 0; i--) {
        out[i] = (uint8_t)('0' + num % 10);
        num /= 10;
    }
}

static uint64_t key_decode_int(const uint8_t *k)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | k[i];
    return v;
}

/* The value of key id `id` written at version `ver`: a window into a pool of
 * half-random, half-repeated bytes (db_bench's compression ratio 0.5). */
static const uint8_t *value_for(uint64_t id, uint64_t ver)
{
    uint64_t off = mix64(id * 0x2545F4914F6CDD1Dull + ver * 0x9E3779B97F4A7C15ull + C.seed) %
                   VBUF_SPAN;
    return g_vpool + off;
}

static int make_data(void)
{
    size_t len = VBUF_SPAN + C.vsize + 64;
    g_vpool = malloc(len);
    if (!g_vpool)
        return -1;
    rng_t r = {C.seed ^ 0x5A5A5A5Aull};
    /* 32 random printable bytes followed by the same 32 bytes again. */
    for (size_t pos = 0; pos < len; pos += 64) {
        uint8_t chunk[32];
        for (int i = 0; i < 32; i++)
            chunk[i] = (uint8_t)(' ' + rng_below(&r, 95));
        for (size_t i = 0; i < 64 && pos + i < len; i++)
            g_vpool[pos + i] = chunk[i % 32];
    }
    g_perm = malloc(C.n * sizeof *g_perm);
    if (!g_perm)
        return -1;
    for (uint64_t i = 0; i < C.n; i++)
        g_perm[i] = (uint32_t)i;
    rng_t p = {C.seed ^ 0xC0FFEEull};
    for (uint64_t i = C.n - 1; i > 0; i--) {
        uint64_t j = rng_below(&p, i + 1);
        uint32_t t = g_perm[i];
        g_perm[i] = g_perm[j];
        g_perm[j] = t;
    }
    return 0;
}

/* ---- the engine interface ------------------------------------------------ */

/* Return conventions: 0 ok / -1 error (message in t_err); get: 1 found,
 * 0 absent, -1 error; iterator moves: 1 positioned, 0 end, -1 error. */
typedef struct eng_vt {
    const char *name;
    int (*open)(const char *dir, int sync, int txn_mode, void **out);
    int (*close)(void *db);
    int (*settle)(void *db); /* the post-fill step of --settle compact */
    int (*thr_new)(void *db, void **out);
    void (*thr_free)(void *t);
    int (*put)(void *t, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
    int (*get)(void *t, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap, size_t *vl);
    int (*it_begin)(void *t);
    int (*it_first)(void *t);
    int (*it_seek)(void *t, const uint8_t *k, size_t kl);
    int (*it_next)(void *t);
    void (*it_cur)(void *t, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl);
    void (*it_end)(void *t);
    /* One read-modify-write transaction over keys k1 != k2, retried until
     * it commits; *retries counts the conflicts.  NULL: not supported. */
    int (*txn_rmw)(void *t, const uint8_t *k1, const uint8_t *k2, size_t kl, long *retries);
} eng_vt;

/* Read-modify-write applied to both values of a transaction: add 1 to the
 * little-endian u64 in the first 8 bytes (values are >= 8 bytes). */
static void rmw_bump(uint8_t *v)
{
    uint64_t x;
    memcpy(&x, v, 8);
    x++;
    memcpy(v, &x, 8);
}

/* The two value-size scratch buffers of a thread's read-modify-write
 * transaction.  0, or -1 if either allocation failed (the engine's thr_free
 * releases whatever was allocated). */
static int vbufs_new(uint8_t **v1, uint8_t **v2)
{
    *v1 = malloc(C.vsize);
    *v2 = malloc(C.vsize);
    return (*v1 && *v2) ? 0 : -1;
}

/* ---- OmenDB --------------------------------------------------------------- */

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
    o.compression = OMEN_COMPRESS_NONE;
    o.sync = sync ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED;
    d->sync = o.sync;
    int rc = omen_open(dir, &o, &d->db);
    if (rc != OMEN_OK) {
        free(d);
        return om_fail("omen_open", rc);
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

static const eng_vt ENG_OMENDB = {
    "omendb",    om_open,     om_close,   om_settle,   om_thr_new, om_thr_free, om_put,
    om_get,      om_it_begin, om_it_first, om_it_seek, om_it_next, om_it_cur,   om_it_end,
    om_txn_rmw,
};

/* ---- shared by RocksDB and LevelDB --------------------------------------- */

/* RocksDB's C API copies LevelDB's for everything below: the same calls under
 * another prefix, errors as malloc'd strings the caller frees.  One body,
 * instantiated per engine with its prefix (`api`) and handle types. */
#define LDB_STYLE_METHODS(pfx, api, Db, Thr)                                                   \
    static int pfx##_err(const char *what, char *err)                                          \
    {                                                                                          \
        seterr("%s: %s", what, err);                                                           \
        api##_free(err);                                                                       \
        return -1;                                                                             \
    }                                                                                          \
    static int pfx##_settle(void *db)                                                          \
    {                                                                                          \
        Db *d = db;                                                                            \
        api##_compact_range(d->db, NULL, 0, NULL, 0);                                          \
        return 0;                                                                              \
    }                                                                                          \
    static int pfx##_put(void *p, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)    \
    {                                                                                          \
        Thr *t = p;                                                                            \
        char *err = NULL;                                                                      \
        api##_put(t->d->db, t->d->wo, (const char *)k, kl, (const char *)v, vl, &err);         \
        return err ? pfx##_err(#api "_put", err) : 0;                                          \
    }                                                                                          \
    static int pfx##_it_begin(void *p)                                                         \
    {                                                                                          \
        Thr *t = p;                                                                            \
        t->it = api##_create_iterator(t->d->db, t->d->ro);                                     \
        return 0;                                                                              \
    }                                                                                          \
    static int pfx##_it_state(Thr *t)                                                          \
    {                                                                                          \
        if (api##_iter_valid(t->it))                                                           \
            return 1;                                                                          \
        char *err = NULL;                                                                      \
        api##_iter_get_error(t->it, &err);                                                     \
        return err ? pfx##_err(#api "_iter", err) : 0;                                         \
    }                                                                                          \
    static int pfx##_it_first(void *p)                                                         \
    {                                                                                          \
        Thr *t = p;                                                                            \
        api##_iter_seek_to_first(t->it);                                                       \
        return pfx##_it_state(t);                                                              \
    }                                                                                          \
    static int pfx##_it_seek(void *p, const uint8_t *k, size_t kl)                             \
    {                                                                                          \
        Thr *t = p;                                                                            \
        api##_iter_seek(t->it, (const char *)k, kl);                                           \
        return pfx##_it_state(t);                                                              \
    }                                                                                          \
    static int pfx##_it_next(void *p)                                                          \
    {                                                                                          \
        Thr *t = p;                                                                            \
        api##_iter_next(t->it);                                                                \
        return pfx##_it_state(t);                                                              \
    }                                                                                          \
    static void pfx##_it_cur(void *p, const uint8_t **k, size_t *kl, const uint8_t **v,        \
                             size_t *vl)                                                       \
    {                                                                                          \
        Thr *t = p;                                                                            \
        *k = (const uint8_t *)api##_iter_key(t->it, kl);                                       \
        *v = (const uint8_t *)api##_iter_value(t->it, vl);                                     \
    }                                                                                          \
    static void pfx##_it_end(void *p)                                                          \
    {                                                                                          \
        Thr *t = p;                                                                            \
        api##_iter_destroy(t->it);                                                             \
        t->it = NULL;                                                                          \
    }

/* ---- RocksDB -------------------------------------------------------------- */

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
    rocksdb_options_set_compression(d->opt, rocksdb_no_compression);
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
        return rk_err("rocksdb_open", err);
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

static const eng_vt ENG_ROCKSDB = {
    "rocksdb",   rk_open,     rk_close,    rk_settle,  rk_thr_new, rk_thr_free, rk_put,
    rk_get,      rk_it_begin, rk_it_first, rk_it_seek, rk_it_next, rk_it_cur,   rk_it_end,
    rk_txn_rmw,
};

/* ---- LevelDB -------------------------------------------------------------- */

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
    leveldb_options_set_compression(d->opt, leveldb_no_compression);
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

static const eng_vt ENG_LEVELDB = {
    "leveldb",   lv_open,     lv_close,    lv_settle,  lv_thr_new, lv_thr_free, lv_put,
    lv_get,      lv_it_begin, lv_it_first, lv_it_seek, lv_it_next, lv_it_cur,   lv_it_end,
    NULL, /* LevelDB has no transactions */
};

/* ---- LMDB ----------------------------------------------------------------- */

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

static const eng_vt ENG_LMDB = {
    "lmdb",      lm_open,     lm_close,    lm_settle,  lm_thr_new, lm_thr_free, lm_put,
    lm_get,      lm_it_begin, lm_it_first, lm_it_seek, lm_it_next, lm_it_cur,   lm_it_end,
    lm_txn_rmw,
};

/* ---- SQLite --------------------------------------------------------------- */

typedef struct {
    sqlite3 *main; /* owns the schema; closed last */
    char path[PATH_MAX];
    int sync;
} sq_db;

typedef struct {
    sq_db *d;
    sqlite3 *c; /* one connection per thread */
    sqlite3_stmt *put, *get, *seek, *first, *begin, *commit, *rollback, *cur;
    uint8_t kbuf[16];
    uint8_t *v1, *v2;
} sq_thr;

static int sq_fail(sqlite3 *c, const char *what)
{
    seterr("%s: %s", what, c ? sqlite3_errmsg(c) : "out of memory");
    return -1;
}

static int sq_exec(sqlite3 *c, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(c, sql, NULL, NULL, &msg) != SQLITE_OK) {
        seterr("sqlite3_exec(%s): %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int sq_open(const char *dir, int sync, int txn_mode, void **out)
{
    (void)txn_mode;
    sq_db *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->sync = sync;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        free(d);
        seterr("mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(d->path, sizeof d->path, "%s/kv.sqlite", dir);
    if (sqlite3_open(d->path, &d->main) != SQLITE_OK) {
        sq_fail(d->main, "sqlite3_open");
        sqlite3_close(d->main);
        free(d);
        return -1;
    }
    const char *schema = C.int_keys ? "CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v BLOB)"
                                    : "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) "
                                      "WITHOUT ROWID";
    if (sq_exec(d->main, "PRAGMA journal_mode=WAL") || sq_exec(d->main, schema)) {
        sqlite3_close(d->main);
        free(d);
        return -1;
    }
    *out = d;
    return 0;
}

static int sq_close(void *db)
{
    sq_db *d = db;
    int rc = sqlite3_close(d->main);
    free(d);
    if (rc != SQLITE_OK) {
        seterr("sqlite3_close: %s", sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

/* Moving the WAL into the database file is SQLite's "background work". */
static int sq_settle(void *db)
{
    sq_db *d = db;
    return sq_exec(d->main, "PRAGMA wal_checkpoint(TRUNCATE)");
}

static int sq_thr_new(void *db, void **out)
{
    sq_thr *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->d = db;
    *out = t;
    if (vbufs_new(&t->v1, &t->v2) != 0)
        return -1;
    if (sqlite3_open(t->d->path, &t->c) != SQLITE_OK)
        return sq_fail(t->c, "sqlite3_open");
    sqlite3_busy_timeout(t->c, 600000);
    char pragma[128];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s; PRAGMA cache_size=-%u",
             t->d->sync ? "FULL" : "NORMAL", CACHE_BYTES / 1024);
    if (sq_exec(t->c, pragma))
        return -1;
    const char *sql[] = {
        "INSERT OR REPLACE INTO kv(k, v) VALUES(?1, ?2)",
        "SELECT v FROM kv WHERE k = ?1",
        "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k",
        "SELECT k, v FROM kv ORDER BY k",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "ROLLBACK",
    };
    sqlite3_stmt **st[] = {&t->put, &t->get, &t->seek, &t->first, &t->begin, &t->commit, &t->rollback};
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
        if (sqlite3_prepare_v2(t->c, sql[i], -1, st[i], NULL) != SQLITE_OK)
            return sq_fail(t->c, sql[i]);
    return 0;
}

static void sq_thr_free(void *p)
{
    sq_thr *t = p;
    sqlite3_stmt *st[] = {t->put, t->get, t->seek, t->first, t->begin, t->commit, t->rollback};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        sqlite3_finalize(st[i]);
    sqlite3_close(t->c);
    free(t->v1);
    free(t->v2);
    free(t);
}

static void sq_bind_key(sqlite3_stmt *s, const uint8_t *k, size_t kl)
{
    if (C.int_keys)
        sqlite3_bind_int64(s, 1, (sqlite3_int64)key_decode_int(k));
    else
        sqlite3_bind_blob(s, 1, k, (int)kl, SQLITE_STATIC);
}

static int sq_step_done(sq_thr *t, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : sq_fail(t->c, what);
}

/* Autocommit: one transaction per write (db_bench_sqlite3, batch size 1). */
static int sq_put(void *p, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    sq_thr *t = p;
    sq_bind_key(t->put, k, kl);
    sqlite3_bind_blob(t->put, 2, v, (int)vl, SQLITE_STATIC);
    return sq_step_done(t, t->put, "sqlite insert");
}

static int sq_get(void *p, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap, size_t *vl)
{
    sq_thr *t = p;
    sq_bind_key(t->get, k, kl);
    int rc = sqlite3_step(t->get), ret;
    if (rc == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(t->get, 0);
        size_t len = (size_t)sqlite3_column_bytes(t->get, 0);
        memcpy(buf, v, len < cap ? len : cap);
        *vl = len;
        ret = 1;
    } else {
        ret = rc == SQLITE_DONE ? 0 : sq_fail(t->c, "sqlite select");
    }
    sqlite3_reset(t->get);
    return ret;
}

static int sq_it_begin(void *p)
{
    sq_thr *t = p;
    t->cur = NULL;
    return 0;
}

static int sq_it_step(sq_thr *t)
{
    int rc = sqlite3_step(t->cur);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : sq_fail(t->c, "sqlite step");
}

static int sq_it_first(void *p)
{
    sq_thr *t = p;
    if (t->cur)
        sqlite3_reset(t->cur);
    t->cur = t->first;
    return sq_it_step(t);
}

static int sq_it_seek(void *p, const uint8_t *k, size_t kl)
{
    sq_thr *t = p;
    if (t->cur)
        sqlite3_reset(t->cur);
    t->cur = t->seek;
    memcpy(t->kbuf, k, kl); /* SQLITE_STATIC: must outlive the statement run */
    sq_bind_key(t->cur, t->kbuf, kl);
    return sq_it_step(t);
}

static int sq_it_next(void *p)
{
    return sq_it_step(p);
}

static void sq_it_cur(void *p, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl)
{
    sq_thr *t = p;
    if (C.int_keys) {
        omen_key_u64((uint64_t)sqlite3_column_int64(t->cur, 0), t->kbuf);
        *k = t->kbuf;
        *kl = 8;
    } else {
        *k = sqlite3_column_blob(t->cur, 0);
        *kl = (size_t)sqlite3_column_bytes(t->cur, 0);
    }
    *v = sqlite3_column_blob(t->cur, 1);
    *vl = (size_t)sqlite3_column_bytes(t->cur, 1);
}

static void sq_it_end(void *p)
{
    sq_thr *t = p;
    if (t->cur)
        sqlite3_reset(t->cur);
    t->cur = NULL;
}

static int sq_txn_get(sq_thr *t, const uint8_t *k, size_t kl, uint8_t *buf)
{
    size_t len = 0;
    int rc = sq_get(t, k, kl, buf, C.vsize, &len);
    if (rc == 1 && len == C.vsize)
        return 0;
    if (rc >= 0)
        seterr("sqlite txn: key missing or bad value length");
    return -1;
}

/* BEGIN IMMEDIATE takes the write lock up front, so no conflict is possible;
 * busy waits happen inside sqlite3_busy_timeout. */
static int sq_txn_rmw(void *p, const uint8_t *k1, const uint8_t *k2, size_t kl, long *retries)
{
    sq_thr *t = p;
    (void)retries;
    if (sq_step_done(t, t->begin, "BEGIN IMMEDIATE"))
        return -1;
    if (sq_txn_get(t, k1, kl, t->v1) || sq_txn_get(t, k2, kl, t->v2))
        goto fail;
    rmw_bump(t->v1);
    rmw_bump(t->v2);
    if (sq_put(t, k1, kl, t->v1, C.vsize) || sq_put(t, k2, kl, t->v2, C.vsize))
        goto fail;
    return sq_step_done(t, t->commit, "COMMIT");
fail:
    sqlite3_step(t->rollback);
    sqlite3_reset(t->rollback);
    return -1;
}

static const eng_vt ENG_SQLITE = {
    "sqlite",    sq_open,     sq_close,    sq_settle,  sq_thr_new, sq_thr_free, sq_put,
    sq_get,      sq_it_begin, sq_it_first, sq_it_seek, sq_it_next, sq_it_cur,   sq_it_end,
    sq_txn_rmw,
};

/* ---- engines and workloads ---------------------------------------------- */

enum { ENG_OM, ENG_RK, ENG_LV, ENG_LM, ENG_SQ, NENG };
static const eng_vt *const ENGINES[NENG] = {&ENG_OMENDB, &ENG_ROCKSDB, &ENG_LEVELDB, &ENG_LMDB,
                                            &ENG_SQLITE};

/* Selectable workloads (--workloads). */
enum {
    WL_FILLSEQ,
    WL_FILLRANDOM,
    WL_READRANDOM,
    WL_READMISSING,
    WL_READSEQ,
    WL_SEEKRANDOM,
    WL_RWW,
    WL_OVERWRITE,
    WL_TXN,
    WL_FILLSYNC,
    NWL
};
static const char *const WL_NAMES[NWL] = {"fillseq",   "fillrandom",       "readrandom",
                                          "readmissing", "readseq",        "seekrandom",
                                          "readwhilewriting", "overwrite", "txn",
                                          "fillsync"};

/* Reported results (one table each). */
enum {
    R_FILLSEQ,
    R_FILLRANDOM,
    R_READRANDOM,
    R_READMISSING,
    R_READSEQ,
    R_SEEKRANDOM,
    R_RWW1,
    R_RWW2,
    R_OVERWRITE,
    R_TXN,
    R_SYNC1,
    R_SYNC4,
    R_SYNC16,
    NRES
};
static const char *const R_NAMES[NRES] = {
    "fillseq",    "fillrandom",          "readrandom",          "readmissing", "readseq",
    "seekrandom", "readwhilewriting_1r", "readwhilewriting_2r", "overwrite",   "txn",
    "fillsync_1w", "fillsync_4w",        "fillsync_16w"};
static const int SYNC_WRITERS[3] = {1, 4, 16};
/* The selectable workload each result belongs to. */
static const int R_WL[NRES] = {WL_FILLSEQ,    WL_FILLRANDOM, WL_READRANDOM, WL_READMISSING,
                               WL_READSEQ,    WL_SEEKRANDOM, WL_RWW,        WL_RWW,
                               WL_OVERWRITE,  WL_TXN,        WL_FILLSYNC,   WL_FILLSYNC,
                               WL_FILLSYNC};

static double g_res[NENG][NRES][MAX_REPS];
static int g_nres[NENG][NRES];
static int g_failed[NENG][NRES];
static char g_note[NENG][NRES][200];
static char g_desc[NRES][200];

static void record(int e, int r, uint64_t ops, uint64_t ns)
{
    double v = ns ? (double)ops * 1e9 / (double)ns : 0;
    if (g_nres[e][r] < MAX_REPS)
        g_res[e][r][g_nres[e][r]++] = v;
}

/* ---- the thread harness --------------------------------------------------- */

typedef struct wctx wctx;
typedef void (*wfn)(wctx *w);

struct wctx {
    const eng_vt *vt;
    void *db;
    void *t;
    int tid, nthreads;
    int wl;              /* tag for the random stream                   */
    uint64_t count;      /* operations for this thread                  */
    uint64_t total;      /* all threads' operations (partitioned work)  */
    uint64_t ops, found, sink;
    long retries;
    int err;
    uint64_t t0, t1;     /* this thread's own start/end                 */
    uint64_t deadline;   /* capped workloads stop here (--duration)      */
    int capped;
    uint8_t *buf;
    wfn fn;
    pthread_barrier_t *bar;
    atomic_int *stop;
    atomic_int *first_done; /* readwhilewriting's readers stop together (bench_engine) */
    const char *label;
};

/* Checked every 256 operations so the clock read costs nothing measurable. */
static int expired(const wctx *w, uint64_t i)
{
    return (i & 255) == 0 && i &&
           (now_ns() > w->deadline || (w->first_done && atomic_load(w->first_done)));
}

static rng_t wrng(const wctx *w)
{
    rng_t r = {mix64(C.seed ^ ((uint64_t)w->wl << 32) ^ (uint64_t)(w->tid + 1) * 0x51ED27ull)};
    return r;
}

static int w_fail(wctx *w, const char *op)
{
    if (!w->err)
        fprintf(stderr, "!! %s %s: %s failed: %s\n", w->vt->name, w->label, op, t_err);
    w->err = 1;
    return -1;
}

static void *thread_main(void *arg)
{
    wctx *w = arg;
    int ok = w->vt->thr_new(w->db, &w->t) == 0;
    if (!ok)
        w_fail(w, "thread context");
    pthread_barrier_wait(w->bar);
    w->t0 = now_ns();
    w->deadline = w->capped && C.duration > 0 ? w->t0 + (uint64_t)(C.duration * 1e9) : UINT64_MAX;
    if (ok)
        w->fn(w);
    w->t1 = now_ns();
    if (w->first_done) atomic_store(w->first_done, 1);
    if (w->t)
        w->vt->thr_free(w->t);
    w->t = NULL;
    return NULL;
}

/* Runs fn on n threads (plus optional background threads bg[0..nbg) that run
 * until the foreground ones finish), timing from the first foreground
 * thread's start after the barrier to the last one's end.  Returns ns. */
static uint64_t run_threads(wctx *fg, int n, wctx *bg, int nbg)
{
    pthread_barrier_t bar;
    atomic_int stop = 0;
    pthread_t th[64];
    pthread_barrier_init(&bar, NULL, (unsigned)(n + nbg + 1));
    for (int i = 0; i < nbg; i++) {
        bg[i].bar = &bar;
        bg[i].stop = &stop;
        pthread_create(&th[n + i], NULL, thread_main, &bg[i]);
    }
    for (int i = 0; i < n; i++) {
        fg[i].bar = &bar;
        fg[i].stop = &stop;
        pthread_create(&th[i], NULL, thread_main, &fg[i]);
    }
    pthread_barrier_wait(&bar);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop, 1);
    /* The clock is read by the workers themselves: on 2 cores the main
     * thread may be scheduled only after a short workload has finished. */
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (int i = 0; i < n; i++) {
        t0 = fg[i].t0 < t0 ? fg[i].t0 : t0;
        t1 = fg[i].t1 > t1 ? fg[i].t1 : t1;
    }
    for (int i = 0; i < nbg; i++)
        pthread_join(th[n + i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < n; i++)
        g_sink += fg[i].sink;
    return t1 - t0;
}

/* ---- workload bodies ------------------------------------------------------ */

/* Fill: operation i (i = tid, tid + nthreads, ...) writes key id
 * seq ? i : perm[i] at version 0. */
static void w_fill_seq(wctx *w)
{
    uint8_t k[16];
    for (uint64_t i = (uint64_t)w->tid; i < w->total; i += (uint64_t)w->nthreads) {
        key_encode(2 * i, k);
        if (w->vt->put(w->t, k, C.klen, value_for(i, 0), C.vsize)) {
            w_fail(w, "put");
            return;
        }
        w->ops++;
    }
}

static void w_fill_perm(wctx *w)
{
    uint8_t k[16];
    for (uint64_t i = (uint64_t)w->tid; i < w->total; i += (uint64_t)w->nthreads) {
        uint64_t id = g_perm[i];
        key_encode(2 * id, k);
        if (w->vt->put(w->t, k, C.klen, value_for(id, 0), C.vsize)) {
            w_fail(w, "put");
            return;
        }
        w->ops++;
    }
}

static void w_overwrite(wctx *w)
{
    rng_t r = wrng(w);
    uint8_t k[16];
    for (uint64_t i = 0; i < w->count && !expired(w, i); i++) {
        uint64_t id = rng_below(&r, C.n);
        key_encode(2 * id, k);
        if (w->vt->put(w->t, k, C.klen, value_for(id, 1), C.vsize)) {
            w_fail(w, "put");
            return;
        }
        w->ops++;
    }
}

/* readrandom (odd = 0) and readmissing (odd = 1). */
static void w_read(wctx *w, int odd)
{
    rng_t r = wrng(w);
    uint8_t k[16];
    for (uint64_t i = 0; i < w->count && !expired(w, i); i++) {
        uint64_t id = rng_below(&r, C.n);
        key_encode(2 * id + (uint64_t)odd, k);
        size_t vl = 0;
        int rc = w->vt->get(w->t, k, C.klen, w->buf, C.vsize, &vl);
        if (rc < 0) {
            w_fail(w, "get");
            return;
        }
        if (rc) {
            w->found++;
            w->sink += w->buf[0] + w->buf[vl ? (vl < C.vsize ? vl : C.vsize) - 1 : 0] + vl;
        }
        w->ops++;
    }
}

static void w_readrandom(wctx *w)
{
    w_read(w, 0);
}

static void w_readmissing(wctx *w)
{
    w_read(w, 1);
}

static void touch_cur(wctx *w)
{
    const uint8_t *k, *v;
    size_t kl, vl;
    w->vt->it_cur(w->t, &k, &kl, &v, &vl);
    size_t n = vl < C.vsize ? vl : C.vsize;
    memcpy(w->buf, v, n);
    w->sink += k[kl - 1] + (n ? w->buf[n - 1] : 0) + vl;
}

static void w_readseq(wctx *w)
{
    if (w->vt->it_begin(w->t)) {
        w_fail(w, "iterator");
        return;
    }
    int rc = w->vt->it_first(w->t);
    while (rc == 1) {
        touch_cur(w);
        w->ops++;
        rc = w->vt->it_next(w->t);
    }
    if (rc < 0)
        w_fail(w, "iterate");
    w->vt->it_end(w->t);
}

/* One iterator per thread, reused for every seek (as db_bench does); each
 * seek targets a uniformly random number in [0, 2n), half of them absent. */
static void w_seekrandom(wctx *w)
{
    rng_t r = wrng(w);
    uint8_t k[16];
    if (w->vt->it_begin(w->t)) {
        w_fail(w, "iterator");
        return;
    }
    for (uint64_t i = 0; i < w->count && !expired(w, i); i++) {
        key_encode(rng_below(&r, 2 * C.n), k);
        int rc = w->vt->it_seek(w->t, k, C.klen);
        for (int j = 0; rc == 1; j++) {
            touch_cur(w);
            if (j == SEEK_NEXTS)
                break;
            rc = w->vt->it_next(w->t);
        }
        if (rc < 0) {
            w_fail(w, "seek");
            break;
        }
        w->found++;
        w->ops++;
    }
    w->vt->it_end(w->t);
}

/* The rate-limited writer of readwhilewriting: overwrites random existing
 * keys at C.rww_rate writes/s until the readers are done.  Like db_bench's
 * rate limiter, it paces in ticks (1 ms here, db_bench refills every 100 ms):
 * it wakes once a tick and writes what has fallen due since, one put at a
 * time.  Sleeping before every put instead (20,000 wake-ups a second at the
 * default rate) costs the writer's core more in scheduler work than the puts
 * themselves, and on a 2-core machine that cost lands on the readers being
 * measured, for every engine alike. */
static void w_bgwriter(wctx *w)
{
    const uint64_t tick = 1000000;
    rng_t r = wrng(w);
    uint8_t k[16];
    uint64_t t0 = now_ns();
    while (!atomic_load(w->stop)) {
        uint64_t now = now_ns();
        uint64_t due = (now - t0) / 1000 * C.rww_rate / 1000000;
        if (w->ops >= due) {
            sleep_ns(tick);
            continue;
        }
        for (; w->ops < due && !atomic_load(w->stop); w->ops++) {
            uint64_t id = rng_below(&r, C.n);
            key_encode(2 * id, k);
            if (w->vt->put(w->t, k, C.klen, value_for(id, 2), C.vsize)) {
                w_fail(w, "put");
                return;
            }
        }
    }
}

static void w_txn(wctx *w)
{
    rng_t r = wrng(w);
    uint8_t k1[16], k2[16];
    for (uint64_t i = 0; i < w->count && !expired(w, i); i++) {
        uint64_t a = rng_below(&r, C.n), b;
        do
            b = rng_below(&r, C.n);
        while (b == a);
        key_encode(2 * a, k1);
        key_encode(2 * b, k2);
        if (w->vt->txn_rmw(w->t, k1, k2, C.klen, &w->retries)) {
            w_fail(w, "transaction");
            return;
        }
        w->ops++;
    }
}

/* ---- phases --------------------------------------------------------------- */

static void wctx_init(wctx *w, const eng_vt *vt, void *db, int tid, int n, int wl, uint64_t total,
                      wfn fn, const char *label)
{
    memset(w, 0, sizeof *w);
    w->vt = vt;
    w->db = db;
    w->tid = tid;
    w->nthreads = n;
    w->wl = wl;
    w->total = total;
    w->count = total / (uint64_t)n + ((uint64_t)tid < total % (uint64_t)n);
    w->fn = fn;
    w->label = label;
    w->buf = malloc(C.vsize);
    w->capped = fn != w_fill_seq && fn != w_fill_perm && fn != w_readseq;
}

/* Runs a foreground workload on nthr threads and records its rate; returns
 * -1 if any thread failed (the engine's phase then stops). */
static int phase(int e, void *db, int r, int wl, int nthr, uint64_t total, wfn fn, uint64_t *found,
                 long *retries, uint64_t *ops_out)
{
    const eng_vt *vt = ENGINES[e];
    wctx w[64];
    for (int i = 0; i < nthr; i++)
        wctx_init(&w[i], vt, db, i, nthr, wl, total, fn, R_NAMES[r]);
    uint64_t ns = run_threads(w, nthr, NULL, 0);
    uint64_t ops = 0, fnd = 0;
    long ret = 0;
    int err = 0;
    for (int i = 0; i < nthr; i++) {
        ops += w[i].ops;
        fnd += w[i].found;
        ret += w[i].retries;
        err |= w[i].err;
        free(w[i].buf);
    }
    if (found)
        *found = fnd;
    if (retries)
        *retries = ret;
    if (ops_out)
        *ops_out = ops;
    if (err) {
        g_failed[e][r] = 1;
        return -1;
    }
    record(e, r, ops, ns);
    if (w[0].capped && ops < total)
        snprintf(g_note[e][r], sizeof g_note[0][0], "stopped by --duration after %" PRIu64 " ops",
                 ops);
    if (!C.csv)
        fprintf(stderr, "   %-8s %-20s %12.0f ops/s  (%" PRIu64 " ops, %.2f s)\n", vt->name,
                R_NAMES[r], (double)ops * 1e9 / (double)ns, ops, (double)ns / 1e9);
    return 0;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void wipe(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int open_db(int e, const char *path, int sync, int txn_mode, void **db)
{
    if (ENGINES[e]->open(path, sync, txn_mode, db)) {
        fprintf(stderr, "!! %s: open %s failed: %s\n", ENGINES[e]->name, path, t_err);
        return -1;
    }
    return 0;
}

static void close_db(int e, void *db)
{
    if (ENGINES[e]->close(db))
        fprintf(stderr, "!! %s: close failed: %s\n", ENGINES[e]->name, t_err);
}

/* --verify: read back a sample of the ids written with version 0; fill
 * ids are seq ? i : perm[i] for i < count. */
static int verify_fill(int e, void *db, uint64_t count, int seq, const char *what)
{
    const eng_vt *vt = ENGINES[e];
    void *t;
    if (vt->thr_new(db, &t)) {
        fprintf(stderr, "!! %s verify: %s\n", vt->name, t_err);
        return -1;
    }
    uint8_t k[16], *buf = malloc(C.vsize);
    uint64_t samples = count < VERIFY_SAMPLES ? count : VERIFY_SAMPLES, bad = 0;
    rng_t r = {C.seed ^ 0xBEEFull};
    for (uint64_t s = 0; s < samples; s++) {
        uint64_t i = s == 0 ? 0 : s == 1 ? count - 1 : rng_below(&r, count);
        uint64_t id = seq ? i : g_perm[i];
        key_encode(2 * id, k);
        size_t vl = 0;
        int rc = vt->get(t, k, C.klen, buf, C.vsize, &vl);
        const char *why = rc < 0 ? t_err : rc == 0 ? "missing" : vl != C.vsize ? "wrong length"
                          : memcmp(buf, value_for(id, 0), C.vsize) ? "wrong value" : NULL;
        if (why && bad++ < 10)
            fprintf(stderr, "!! verify %s after %s: key id %" PRIu64 ": %s\n", vt->name, what, id,
                    why);
    }
    /* A missing key right between two stored ones must stay missing. */
    key_encode(2 * (count / 2) + 1, k);
    size_t vl;
    if (vt->get(t, k, C.klen, buf, C.vsize, &vl) != 0 && bad++ < 10)
        fprintf(stderr, "!! verify %s after %s: absent key found\n", vt->name, what);
    free(buf);
    vt->thr_free(t);
    if (!C.csv || bad)
        fprintf(stderr, "   %-8s verify after %-12s %" PRIu64 "/%" PRIu64 " samples %s\n", vt->name,
                what, samples - (bad > samples ? samples : bad), samples, bad ? "FAILED" : "ok");
    return bad ? -1 : 0;
}

/* --verify for txn: the sum over all keys of the u64 in each value's first
 * 8 bytes grows by exactly 2 per committed transaction (mod 2^64), which a
 * lost update would break.  Also counts keys (must be n). */
static int value_sum(int e, void *db, uint64_t *sum, uint64_t *keys)
{
    const eng_vt *vt = ENGINES[e];
    void *t;
    if (vt->thr_new(db, &t) || vt->it_begin(t))
        return -1;
    uint64_t s = 0, c = 0;
    int rc = vt->it_first(t);
    while (rc == 1) {
        const uint8_t *k, *v;
        size_t kl, vl;
        vt->it_cur(t, &k, &kl, &v, &vl);
        uint64_t x = 0;
        memcpy(&x, v, vl < 8 ? vl : 8);
        s += x;
        c++;
        rc = vt->it_next(t);
    }
    vt->it_end(t);
    vt->thr_free(t);
    *sum = s;
    *keys = c;
    return rc < 0 ? -1 : 0;
}

static int want(int wl)
{
    return (C.wls >> wl) & 1u;
}

static void bench_engine(int e, int rep)
{
    const eng_vt *vt = ENGINES[e];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", C.dir, vt->name);
    int before[NRES];
    memcpy(before, g_nres[e], sizeof before);
    void *db;
    uint64_t found, ops;
    long retries;

    if (want(WL_FILLSEQ)) {
        wipe(path);
        if (open_db(e, path, 0, 0, &db) == 0) {
            if (phase(e, db, R_FILLSEQ, WL_FILLSEQ, 1, C.n, w_fill_seq, NULL, NULL, NULL) == 0 &&
                C.verify)
                verify_fill(e, db, C.n, 1, "fillseq");
            close_db(e, db);
        }
    }

    int need_random = want(WL_FILLRANDOM) || want(WL_READRANDOM) || want(WL_READMISSING) ||
                      want(WL_READSEQ) || want(WL_SEEKRANDOM) || want(WL_RWW) ||
                      want(WL_OVERWRITE) || want(WL_TXN);
    if (need_random) {
        wipe(path);
        if (open_db(e, path, 0, 0, &db))
            goto sync_phase;
        if (phase(e, db, R_FILLRANDOM, WL_FILLRANDOM, 1, C.n, w_fill_perm, NULL, NULL, NULL)) {
            close_db(e, db);
            goto sync_phase;
        }
        if (!want(WL_FILLRANDOM))
            g_nres[e][R_FILLRANDOM] = 0; /* ran only to build the database */
        if (C.verify && verify_fill(e, db, C.n, 0, "fillrandom"))
            g_failed[e][R_FILLRANDOM] = 1;
        if (C.settle_compact) {
            uint64_t t0 = now_ns();
            if (vt->settle(db))
                fprintf(stderr, "!! %s settle: %s\n", vt->name, t_err);
            double s = (double)(now_ns() - t0) / 1e9;
            static const char *const what[NENG] = {"flush+compact_range", "compact_range",
                                                   "compact_range", "no settle needed",
                                                   "wal_checkpoint(TRUNCATE)"};
            snprintf(g_note[e][R_FILLRANDOM], sizeof g_note[0][0],
                     "then %s: %.2f s, untimed", what[e], s);
            if (!C.csv)
                fprintf(stderr, "   %-8s settle                 %.2f s\n", vt->name, s);
        }
        int ok = 1;
        if (ok && want(WL_READRANDOM)) {
            ok = phase(e, db, R_READRANDOM, WL_READRANDOM, 1, C.reads, w_readrandom, &found, NULL,
                       &ops) == 0;
            if (ok && found != ops) {
                fprintf(stderr, "!! %s readrandom: found %" PRIu64 " of %" PRIu64 "\n", vt->name,
                        found, ops);
                snprintf(g_note[e][R_READRANDOM], sizeof g_note[0][0],
                         "WRONG: found %" PRIu64 " of %" PRIu64, found, ops);
            }
        }
        if (ok && want(WL_READMISSING)) {
            ok = phase(e, db, R_READMISSING, WL_READMISSING, 1, C.reads, w_readmissing, &found,
                       NULL, &ops) == 0;
            if (ok && found)
                snprintf(g_note[e][R_READMISSING], sizeof g_note[0][0],
                         "WRONG: found %" PRIu64 " absent keys", found);
        }
        if (ok && want(WL_READSEQ)) {
            ok = phase(e, db, R_READSEQ, WL_READSEQ, 1, C.n, w_readseq, NULL, NULL, &ops) == 0;
            if (ok && ops != C.n) {
                fprintf(stderr, "!! %s readseq: %" PRIu64 " entries, expected %" PRIu64 "\n",
                        vt->name, ops, C.n);
                snprintf(g_note[e][R_READSEQ], sizeof g_note[0][0],
                         "WRONG: scanned %" PRIu64 " entries, expected %" PRIu64, ops, C.n);
            }
        }
        if (ok && want(WL_SEEKRANDOM))
            ok = phase(e, db, R_SEEKRANDOM, WL_SEEKRANDOM, 1, C.reads, w_seekrandom, NULL, NULL,
                       NULL) == 0;
        for (int nr = 1; ok && want(WL_RWW) && nr <= 2; nr++) {
            int r = nr == 1 ? R_RWW1 : R_RWW2;
            wctx rd[2], wr;
            /* The readers stop together, when the first has done its share:
             * with 3 threads on 2 cores the writer slows whichever reader
             * shares its core, and the other then ran alone at the end,
             * a tail that measured 1 reader, not 2 (one 2M rep: readers
             * took 0.78 s and 0.95 s for the same share).  As db_bench's
             * --duration runs do, every reader counts what it did in the
             * same interval. */
            atomic_int first_done = 0;
            for (int i = 0; i < nr; i++) {
                wctx_init(&rd[i], vt, db, i, nr, WL_RWW, C.reads, w_readrandom, R_NAMES[r]);
                rd[i].first_done = &first_done;
            }
            wctx_init(&wr, vt, db, 7, 1, WL_RWW + 100 * nr, 0, w_bgwriter, "rww writer");
            uint64_t ns = run_threads(rd, nr, &wr, 1);
            uint64_t rops = 0;
            int err = wr.err;
            for (int i = 0; i < nr; i++) {
                rops += rd[i].ops;
                err |= rd[i].err;
                free(rd[i].buf);
            }
            free(wr.buf);
            if (err) {
                g_failed[e][r] = 1;
                ok = 0;
                break;
            }
            record(e, r, rops, ns);
            double wrate = wr.t1 > wr.t0 ? (double)wr.ops * 1e9 / (double)(wr.t1 - wr.t0) : 0;
            snprintf(g_note[e][r], sizeof g_note[0][0], "writer achieved %.0f writes/s%s", wrate,
                     rops < C.reads && ns >= (uint64_t)(C.duration * 1e9)
                         ? "; stopped by --duration"
                         : "");
            if (!C.csv)
                fprintf(stderr, "   %-8s %-20s %12.0f ops/s  (%d reader(s), writer %.0f w/s)\n",
                        vt->name, R_NAMES[r], (double)rops * 1e9 / (double)ns, nr, wrate);
        }
        if (ok && want(WL_OVERWRITE))
            ok = phase(e, db, R_OVERWRITE, WL_OVERWRITE, 1, C.writes, w_overwrite, NULL, NULL,
                       NULL) == 0;
        close_db(e, db);
        /* Transactions reopen the same database in transaction mode
         * (RocksDB: OptimisticTransactionDB), untimed. */
        if (ok && want(WL_TXN) && vt->txn_rmw && open_db(e, path, 0, 1, &db) == 0) {
            uint64_t s0 = 0, s1 = 0, k0 = 0, k1 = 0;
            if (C.verify && value_sum(e, db, &s0, &k0))
                fprintf(stderr, "!! %s txn verify scan failed: %s\n", vt->name, t_err);
            if (phase(e, db, R_TXN, WL_TXN, C.txn_threads, C.txn_n, w_txn, NULL, &retries,
                      &ops) == 0) {
                snprintf(g_note[e][R_TXN], sizeof g_note[0][0],
                         "%ld conflict retries for %" PRIu64 " commits (%.3f%%)%s", retries, ops,
                         ops ? 100.0 * (double)retries / (double)ops : 0.0,
                         ops < C.txn_n ? "; stopped by --duration" : "");
                if (!C.csv)
                    fprintf(stderr, "   %-8s txn: %s\n", vt->name, g_note[e][R_TXN]);
                if (C.verify) {
                    if (value_sum(e, db, &s1, &k1))
                        fprintf(stderr, "!! %s txn verify scan failed: %s\n", vt->name, t_err);
                    int good = s1 - s0 == 2 * ops && k1 == C.n && k0 == C.n;
                    fprintf(stderr, "   %-8s verify txn: value-counter sum grew by %" PRIu64
                            ", expected %" PRIu64 "; %" PRIu64 " keys: %s\n",
                            vt->name, s1 - s0, 2 * ops, k1, good ? "ok" : "FAILED");
                    if (!good)
                        g_failed[e][R_TXN] = 1;
                }
            }
            close_db(e, db);
        }
    }

sync_phase:
    if (want(WL_FILLSYNC)) {
        for (int i = 0; i < 3; i++) {
            int r = R_SYNC1 + i, nw = SYNC_WRITERS[i];
            wipe(path);
            if (open_db(e, path, 1, 0, &db))
                break;
            if (phase(e, db, r, WL_FILLSYNC, nw, C.sync_n, w_fill_perm, NULL, NULL, NULL) == 0 &&
                C.verify)
                verify_fill(e, db, C.sync_n, 0, R_NAMES[r]);
            close_db(e, db);
        }
    }
    wipe(path);
    (void)rep;
    /* A wanted result that this repetition did not produce (open failed,
     * or an earlier step of its phase failed) is reported as an error. */
    for (int r = 0; r < NRES; r++)
        if (want(R_WL[r]) && g_nres[e][r] == before[r] && !(r == R_TXN && !vt->txn_rmw))
            g_failed[e][r] = 1;
}

/* ---- report --------------------------------------------------------------- */

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(int e, int r)
{
    int n = g_nres[e][r];
    if (n == 0 || g_failed[e][r])
        return NAN;
    double v[MAX_REPS];
    memcpy(v, g_res[e][r], (size_t)n * sizeof v[0]);
    qsort(v, (size_t)n, sizeof v[0], cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fmt_ops(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "-");
        return;
    }
    char raw[32];
    snprintf(raw, sizeof raw, "%.0f", v);
    size_t len = strlen(raw), o = 0;
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = 0;
}

static void describe(void)
{
    snprintf(g_desc[R_FILLSEQ], 200, "%" PRIu64 " puts in key order, 1 thread, no-sync", C.n);
    snprintf(g_desc[R_FILLRANDOM], 200, "%" PRIu64 " puts in a random permutation, 1 thread, no-sync",
             C.n);
    snprintf(g_desc[R_READRANDOM], 200, "%" PRIu64 " gets of random present keys, 1 thread", C.reads);
    snprintf(g_desc[R_READMISSING], 200,
             "%" PRIu64 " gets of random absent keys (odd numbers between stored keys), 1 thread",
             C.reads);
    snprintf(g_desc[R_READSEQ], 200, "one full forward scan, ops = entries");
    snprintf(g_desc[R_SEEKRANDOM], 200, "%" PRIu64 " seeks to random numbers in [0,2n) + %d nexts",
             C.reads, SEEK_NEXTS);
    snprintf(g_desc[R_RWW1], 200,
             "%" PRIu64 " random gets by 1 reader while 1 writer overwrites at %" PRIu64 "/s",
             C.reads, C.rww_rate);
    snprintf(g_desc[R_RWW2], 200,
             "%" PRIu64 " random gets split over 2 readers while 1 writer overwrites at %" PRIu64
             "/s",
             C.reads, C.rww_rate);
    snprintf(g_desc[R_OVERWRITE], 200, "%" PRIu64 " puts of random present keys, 1 thread, no-sync",
             C.writes);
    snprintf(g_desc[R_TXN], 200,
             "%" PRIu64 " transactions (read 2 random keys, write both back +1), %d threads, no-sync",
             C.txn_n, C.txn_threads);
    for (int i = 0; i < 3; i++)
        snprintf(g_desc[R_SYNC1 + i], 200, "%" PRIu64 " puts, random order, %d writer(s), fsync per write",
                 C.sync_n, SYNC_WRITERS[i]);
}

static void print_header(FILE *f)
{
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    fprintf(f, "kv_bench  %s  (OmenDB %s, RocksDB 7.8 C API, LevelDB %d.%d, LMDB %d.%d.%d, SQLite %s)\n",
            date, OMEN_VERSION_STRING, leveldb_major_version(), leveldb_minor_version(),
            MDB_VERSION_MAJOR, MDB_VERSION_MINOR, MDB_VERSION_PATCH, sqlite3_libversion());
    fprintf(f, "data: n=%" PRIu64 ", %s, %zu-byte values (50%% compressible), seed %" PRIu64
               ", dir %s/<engine>\n",
            C.n, C.int_keys ? "8-byte big-endian integer keys" : "16-byte decimal keys", C.vsize,
            C.seed, C.dir);
    fprintf(f, "reps: %d (median reported, engines interleaved per rep); reads=%" PRIu64
               " writes=%" PRIu64 " sync-n=%" PRIu64 " txn-n=%" PRIu64 " txn-threads=%d rww-rate=%" PRIu64 "/s\n",
            C.reps, C.reads, C.writes, C.sync_n, C.txn_n, C.txn_threads, C.rww_rate);
    double la[3] = {0, 0, 0};
    if (getloadavg(la, 3) < 0)
        la[0] = la[1] = la[2] = -1;
    fprintf(f, "duration cap per read/overwrite/txn run: %.0f s (ops/s = ops done / time taken); "
               "load average at start of report: %.2f %.2f %.2f on %ld cores\n",
            C.duration, la[0], la[1], la[2], sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(f, "settle after fillrandom: %s\n",
            C.settle_compact ? "full manual compaction for every LSM (omendb flush+compact_range, "
                               "rocksdb/leveldb compact_range), SQLite wal_checkpoint(TRUNCATE), "
                               "LMDB nothing; untimed"
                             : "nothing forced: LSM reads may overlap background compaction");
    fprintf(f, "no-sync mode: log on, no fsync per write: omendb OMEN_SYNC_RELAXED, rocksdb/leveldb "
               "sync=false, lmdb MDB_NOSYNC (no WAL; survives a process crash), sqlite WAL + "
               "synchronous=NORMAL, one autocommit transaction per write\n");
    fprintf(f, "sync mode: fsync per write: omendb OMEN_SYNC_FULL, rocksdb/leveldb sync=true, "
               "lmdb default sync, sqlite WAL + synchronous=FULL\n");
    fprintf(f, "cache/bloom: omendb cache 64 MiB bloom 10, memtable 64 MiB; rocksdb LRU block cache "
               "64 MiB, full bloom 10, write_buffer 64 MiB; leveldb cache 64 MiB, bloom 10, "
               "write_buffer 64 MiB; compression off for all; lmdb map sized for the data, "
               "MDB_NOTLS, one read txn per get; sqlite cache_size 64 MiB per connection\n");
}

static void report(void)
{
    if (C.csv) {
        printf("engine,workload,n,ops_per_sec\n");
        for (int r = 0; r < NRES; r++)
            for (int e = 0; e < NENG; e++) {
                if (!((C.engines >> e) & 1u) || (!g_nres[e][r] && !g_failed[e][r]))
                    continue;
                double m = median(e, r);
                if (isnan(m))
                    printf("%s,%s,%" PRIu64 ",error\n", ENGINES[e]->name, R_NAMES[r], C.n);
                else
                    printf("%s,%s,%" PRIu64 ",%.0f\n", ENGINES[e]->name, R_NAMES[r], C.n, m);
            }
        return;
    }
    printf("\n");
    print_header(stdout);
    int om = (C.engines >> ENG_OM) & 1u;
    for (int r = 0; r < NRES; r++) {
        int any = 0;
        for (int e = 0; e < NENG; e++)
            any |= g_nres[e][r] || g_failed[e][r];
        if (!any)
            continue;
        printf("\n%s: %s\n", R_NAMES[r], g_desc[r]);
        printf("  %-8s %14s %s\n", "engine", "ops/s", om ? "  omendb/engine" : "");
        double mo = median(ENG_OM, r);
        for (int e = 0; e < NENG; e++) {
            if (!((C.engines >> e) & 1u))
                continue;
            char buf[40];
            double m = median(e, r);
            if (g_failed[e][r])
                snprintf(buf, sizeof buf, "error");
            else if (!g_nres[e][r])
                snprintf(buf, sizeof buf, "n/a");
            else
                fmt_ops(m, buf, sizeof buf);
            printf("  %-8s %14s", ENGINES[e]->name, buf);
            if (om && e != ENG_OM && !isnan(m) && !isnan(mo))
                printf("  %12.2fx", mo / m);
            if (g_note[e][r][0])
                printf("   [%s]", g_note[e][r]);
            printf("\n");
        }
    }
    printf("\n(checksum of touched values: %016" PRIx64 ")\n", (uint64_t)g_sink);
}

/* ---- command line --------------------------------------------------------- */

static uint64_t parse_count(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) {
        fprintf(stderr, "bad number: %s\n", s);
        exit(2);
    }
    if (*end == 'k' || *end == 'K')
        v *= 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1e6, end++;
    else if (*end == 'g' || *end == 'G')
        v *= 1e9, end++;
    if (*end) {
        fprintf(stderr, "bad number: %s\n", s);
        exit(2);
    }
    return (uint64_t)v;
}

static unsigned parse_list(const char *s, const char *const *names, int n, const char *what)
{
    unsigned mask = 0;
    char *copy = strdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int i;
        if (!strcmp(tok, "all")) {
            mask = (1u << n) - 1;
            continue;
        }
        for (i = 0; i < n && strcmp(tok, names[i]); i++) {
        }
        if (i == n) {
            fprintf(stderr, "unknown %s: %s (known:", what, tok);
            for (int j = 0; j < n; j++)
                fprintf(stderr, " %s", names[j]);
            fprintf(stderr, ")\n");
            exit(2);
        }
        mask |= 1u << i;
    }
    free(copy);
    return mask;
}

static void usage(void)
{
    printf("usage: kv_bench [options]\n"
           "  --n N              keys (suffix k/M; default 2M)\n"
           "  --value-size B     value bytes (default 100, >= 8)\n"
           "  --keys str|int     16-byte decimal keys (default) or 8-byte big-endian integers\n"
           "  --dir PATH         database root (default /tmp/kvbench); each engine uses and wipes\n"
           "                     PATH/<engine>\n"
           "  --engines LIST     comma list of omendb,rocksdb,leveldb,lmdb,sqlite (default all)\n"
           "  --workloads LIST   comma list (default all), or 'list' to print the names\n"
           "  --reps R           repetitions, median reported (default 3)\n"
           "  --reads N          operations per read workload (default min(n, 2M))\n"
           "  --writes N         operations of overwrite (default min(n, 2M))\n"
           "  --sync-n N         puts per fillsync run, all writers together (default 10000)\n"
           "  --txn-n N          transactions (default min(n, 500k))\n"
           "  --txn-threads T    transaction threads (default 2)\n"
           "  --rww-rate W       writer rate in readwhilewriting, writes/s (default 20000)\n"
           "  --settle compact|none  after fillrandom (default compact)\n"
           "  --duration S       cap in seconds of each random-read, seek, overwrite,\n"
           "                     readwhilewriting and txn run (default 20; 0 = none);\n"
           "                     fills, readseq and fillsync always run to completion\n"
           "  --seed S           (default 301)\n"
           "  --quick            small run: n=20k, reps 1, sync-n 500, txn-n 5000\n"
           "  --verify           read back samples after each fill; check txn counters\n"
           "  --csv              print engine,workload,n,ops_per_sec on stdout\n");
}

int main(int argc, char **argv)
{
    enum { O_N = 256, O_VS, O_KEYS, O_DIR, O_ENG, O_WL, O_REPS, O_READS, O_WRITES, O_SYNCN,
           O_TXNN, O_TXNT, O_RATE, O_SETTLE, O_DUR, O_SEED, O_QUICK, O_VERIFY, O_CSV, O_HELP };
    static const struct option opts[] = {
        {"n", 1, 0, O_N},           {"value-size", 1, 0, O_VS}, {"keys", 1, 0, O_KEYS},
        {"dir", 1, 0, O_DIR},       {"engines", 1, 0, O_ENG},   {"workloads", 1, 0, O_WL},
        {"reps", 1, 0, O_REPS},     {"reads", 1, 0, O_READS},   {"writes", 1, 0, O_WRITES},
        {"sync-n", 1, 0, O_SYNCN},  {"txn-n", 1, 0, O_TXNN},    {"txn-threads", 1, 0, O_TXNT},
        {"rww-rate", 1, 0, O_RATE}, {"settle", 1, 0, O_SETTLE}, {"seed", 1, 0, O_SEED},
        {"quick", 0, 0, O_QUICK},   {"verify", 0, 0, O_VERIFY}, {"csv", 0, 0, O_CSV},
        {"help", 0, 0, O_HELP},     {"duration", 1, 0, O_DUR},  {0, 0, 0, 0}};
    const char *engines = NULL, *wls = NULL;
    int64_t n = -1, reads = -1, writes = -1, sync_n = -1, txn_n = -1, reps = -1;
    int quick = 0, c;
    C.vsize = 100;
    C.dir = "/tmp/kvbench";
    C.txn_threads = 2;
    C.rww_rate = 20000;
    C.settle_compact = 1;
    C.seed = 301;
    C.duration = 20;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_N: n = (int64_t)parse_count(optarg); break;
        case O_VS: C.vsize = (size_t)parse_count(optarg); break;
        case O_KEYS:
            if (strcmp(optarg, "int") && strcmp(optarg, "str")) {
                fprintf(stderr, "--keys int|str\n");
                return 2;
            }
            C.int_keys = !strcmp(optarg, "int");
            break;
        case O_DIR: C.dir = optarg; break;
        case O_ENG: engines = optarg; break;
        case O_WL: wls = optarg; break;
        case O_REPS: reps = (int64_t)parse_count(optarg); break;
        case O_READS: reads = (int64_t)parse_count(optarg); break;
        case O_WRITES: writes = (int64_t)parse_count(optarg); break;
        case O_SYNCN: sync_n = (int64_t)parse_count(optarg); break;
        case O_TXNN: txn_n = (int64_t)parse_count(optarg); break;
        case O_TXNT: C.txn_threads = (int)parse_count(optarg); break;
        case O_RATE: C.rww_rate = parse_count(optarg); break;
        case O_SETTLE:
            if (strcmp(optarg, "compact") && strcmp(optarg, "none")) {
                fprintf(stderr, "--settle compact|none\n");
                return 2;
            }
            C.settle_compact = !strcmp(optarg, "compact");
            break;
        case O_SEED: C.seed = parse_count(optarg); break;
        case O_DUR: C.duration = strtod(optarg, NULL); break;
        case O_QUICK: quick = 1; break;
        case O_VERIFY: C.verify = 1; break;
        case O_CSV: C.csv = 1; break;
        case O_HELP: usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (optind < argc) {
        usage();
        return 2;
    }
    if (wls && !strcmp(wls, "list")) {
        for (int i = 0; i < NWL; i++)
            printf("%s\n", WL_NAMES[i]);
        return 0;
    }
    C.n = n >= 0 ? (uint64_t)n : quick ? 20000 : 2000000;
    C.reps = reps >= 0 ? (int)reps : quick ? 1 : 3;
    uint64_t cap = quick ? C.n : 2000000;
    C.reads = reads >= 0 ? (uint64_t)reads : C.n < cap ? C.n : cap;
    C.writes = writes >= 0 ? (uint64_t)writes : C.n < cap ? C.n : cap;
    C.sync_n = sync_n >= 0 ? (uint64_t)sync_n : quick ? 500 : 10000;
    C.txn_n = txn_n >= 0 ? (uint64_t)txn_n : quick ? 5000 : C.n < 500000 ? C.n : 500000;
    C.klen = C.int_keys ? 8 : 16;
    C.engines = engines ? parse_list(engines, (const char *const[]){"omendb", "rocksdb", "leveldb",
                                                                    "lmdb", "sqlite"},
                                     NENG, "engine")
                        : (1u << NENG) - 1;
    C.wls = wls ? parse_list(wls, WL_NAMES, NWL, "workload") : (1u << NWL) - 1;
    if (C.n < 2 || C.n > UINT32_MAX || C.vsize < 8 || C.vsize > VBUF_SPAN || C.reps < 1 ||
        C.reps > MAX_REPS || C.txn_threads < 1 || C.txn_threads > 32 || C.rww_rate < 1) {
        fprintf(stderr, "bad parameters: need 2 <= n < 2^32, 8 <= value-size <= 1 MiB, "
                        "1 <= reps <= %d, 1 <= txn-threads <= 32\n",
                MAX_REPS);
        return 2;
    }
    if (C.sync_n > C.n)
        C.sync_n = C.n; /* fillsync writes distinct keys from the permutation */
    if (mkdir(C.dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mkdir %s: %s\n", C.dir, strerror(errno));
        return 1;
    }
    if (make_data()) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    describe();
    print_header(stderr);
    for (int rep = 0; rep < C.reps; rep++) {
        for (int e = 0; e < NENG; e++) {
            if (!((C.engines >> e) & 1u))
                continue;
            if (!C.csv)
                fprintf(stderr, "-- rep %d/%d: %s\n", rep + 1, C.reps, ENGINES[e]->name);
            bench_engine(e, rep);
        }
    }
    report();
    free(g_vpool);
    free(g_perm);
    return 0;
}
