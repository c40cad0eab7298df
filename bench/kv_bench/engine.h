/*
 * engine.h -- the interface between kv_bench's harness and its engine
 * adapters (omendb.c, rocksdb.c, leveldb.c, lmdb.c, sqlite.c), and the
 * run settings every adapter reads.
 *
 * An adapter opens a database with the same cache, memtable and Bloom
 * budget as the others (the settings below) and the durability asked for:
 * "no-sync" = log on, no fsync per write; "sync" = an fsync (or fdatasync)
 * per acknowledged write.  Each thread works through its own context
 * (thr_new), created outside the timed region.
 */
#ifndef KV_ENGINE_H
#define KV_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/* ---- settings shared by every engine ------------------------------------ */

#define CACHE_BYTES (64u << 20)     /* block cache / page cache budget      */
#define WBUF_BYTES (64u << 20)      /* memtable size of the three LSMs      */
#define BLOOM_BITS 10               /* filter bits per key (LSMs)           */

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
    int latency;        /* record per-operation latency (--no-latency: 0)   */
    unsigned codecs;    /* bit mask over KV_CODEC_* of the compression run   */
    int codec;          /* KV_CODEC_* for the databases opened next: set by
                         * the compression workload, NONE otherwise          */
    uint64_t seed;
    unsigned engines;   /* bit mask over ENG_*                              */
    unsigned wls;       /* bit mask over WL_*                               */
} cfg_t;

extern cfg_t C;

/* Block compression choices of the compression workload.  Every other
 * workload runs with compression off for every engine. */
enum { KV_CODEC_NONE, KV_CODEC_LZ4, KV_CODEC_ZSTD, KV_CODEC_SNAPPY, KV_NCODEC };
extern const char *const KV_CODEC_NAMES[KV_NCODEC];
/* open's return when the engine build lacks the codec asked for (t_err
 * says why): the harness reports n/a, not an error. */
#define KV_NO_CODEC (-2)

/* The calling thread's last adapter error message (set by seterr). */
extern _Thread_local char t_err[512];
void seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
    /* Bit mask over KV_CODEC_* of the codecs the adapter can ask its engine
     * for (1 << KV_CODEC_NONE alone: the engine does not compress). */
    unsigned codecs;
} eng_vt;

extern const eng_vt ENG_OMENDB, ENG_ROCKSDB, ENG_LEVELDB, ENG_LMDB, ENG_SQLITE;

/* Read-modify-write applied to both values of a transaction: add 1 to the
 * little-endian u64 in the first 8 bytes (values are >= 8 bytes). */
void rmw_bump(uint8_t *v);

/* The two value-size scratch buffers of a thread's read-modify-write
 * transaction.  0, or -1 if either allocation failed (the engine's thr_free
 * releases whatever was allocated). */
int vbufs_new(uint8_t **v1, uint8_t **v2);

/* An 8-byte big-endian integer key (--keys int) back to its number. */
uint64_t key_decode_int(const uint8_t *k);

#endif
