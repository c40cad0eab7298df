/*
 * omendb.h -- the public C API of OmenDB.
 *
 * OmenDB is an embedded, persistent, ordered key-value engine.  Keys and
 * values are byte strings; keys are ordered bytewise (memcmp, shorter key
 * first on a common prefix).  Integer keys are stored big-endian (see
 * omen_key_u64) so that byte order is numeric order.
 *
 * Conventions that hold for every call below:
 *
 *  - Every call that can fail returns an int error code: OMEN_OK (0) on
 *    success, one of the OMEN_* codes otherwise.  omen_strerror() names a
 *    code; omen_last_error() gives the detailed message of the last failing
 *    call made by the calling thread.
 *  - No call aborts or crashes on bad input: NULL handles, NULL buffers with
 *    non-zero length, oversize keys, closed handles, foreign or corrupt files
 *    all return an error code.
 *  - Buffers passed in (keys, values, paths) are only read during the call;
 *    OmenDB copies what it keeps.  Buffers handed out are documented call by
 *    call: either the caller owns them (release with omen_free), or they are
 *    borrowed and stay valid until a named event.
 *  - Thread safety: an omen_db handle may be shared by any number of threads.
 *    An omen_iter, omen_batch or omen_txn is used by one thread at a time.
 */
#ifndef OMENDB_H
#define OMENDB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OMEN_VERSION_STRING "0.1.0"

/* Marks every function of the public API.  The library is built with
 * -fvisibility=hidden, so libomendb.so exports exactly the declarations
 * that carry it (a test compares its dynamic symbols with this header). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define OMEN_EXPORT __attribute__((visibility("default")))
#else
#define OMEN_EXPORT
#endif

/* Error codes.  Values are stable; new codes are only appended. */
enum {
    OMEN_OK = 0,
    OMEN_NOTFOUND = 1,  /* key absent (not an error condition for get)      */
    OMEN_INVALID = 2,   /* bad argument: NULL, oversize key, bad option     */
    OMEN_CORRUPT = 3,   /* checksum, magic or structure mismatch in a file  */
    OMEN_IO = 4,        /* the operating system reported an I/O failure     */
    OMEN_NOMEM = 5,     /* allocation failed                                */
    OMEN_LOCKED = 6,    /* another process holds the database               */
    OMEN_EXISTS = 7,    /* error_if_exists and the database exists          */
    OMEN_NOTDB = 8,     /* the directory or file is not an OmenDB database  */
    OMEN_CLOSED = 9,    /* the handle was closed                            */
    OMEN_READONLY = 10, /* handle turned read-only after a fatal I/O error  */
    OMEN_CONFLICT = 11, /* optimistic transaction lost a conflict; retry    */
    OMEN_TOOBIG = 12,   /* key or value exceeds the limits below            */
    OMEN_VERSION = 13,  /* file written by an unsupported format version    */
    OMEN_BUSY = 14,     /* resource in use (e.g. destroy of an open db)     */
};

/* Limits.  Keys may be empty; values may be empty. */
#define OMEN_MAX_KEY_LEN (16u * 1024u)            /* 16 KiB  */
#define OMEN_MAX_VALUE_LEN (256u * 1024u * 1024u) /* 256 MiB */

/* Compression of value blocks in sorted-run files. */
enum {
    OMEN_COMPRESS_NONE = 0,
    OMEN_COMPRESS_LZ4 = 1,
    OMEN_COMPRESS_ZSTD = 2,
    OMEN_COMPRESS_SNAPPY = 3,
};

/* Durability of a write.
 * OMEN_SYNC_RELAXED: the write is in the operating system before the call
 *   returns; it survives a crash of the process, a crash of the machine may
 *   lose the last moments of writes.
 * OMEN_SYNC_FULL: the write's log record is on stable storage (fdatasync)
 *   before the call returns.
 * OMEN_SYNC_DEFAULT (write calls only): use the handle's option. */
enum { OMEN_SYNC_DEFAULT = -1, OMEN_SYNC_RELAXED = 0, OMEN_SYNC_FULL = 1 };

typedef struct omen_db omen_db;
typedef struct omen_batch omen_batch;
typedef struct omen_iter omen_iter;
typedef struct omen_snapshot omen_snapshot;
typedef struct omen_txn omen_txn;

typedef struct omen_options {
    int create_if_missing;    /* create the directory/database if absent (default 1) */
    int error_if_exists;      /* fail with OMEN_EXISTS if it exists (default 0)       */
    size_t write_buffer_size; /* memtable bytes before a flush (default 64 MiB)       */
    int compression;          /* OMEN_COMPRESS_* for new runs (default NONE)          */
    int sync;                 /* OMEN_SYNC_RELAXED (default) or OMEN_SYNC_FULL        */
    size_t cache_size;        /* block cache bytes (default 64 MiB)                   */
    int bloom_bits_per_key;   /* filter bits per key, 0 disables (default 10)         */
    int index_epsilon;        /* learned-index error bound; 0 = chosen per run file   */
    int read_only;            /* open without writing anything (default 0)            */
    int wal_recovery;         /* OMEN_WAL_RECOVER_*: what open does with a damaged
                                 write-ahead log (default TORN_TAIL; see below)       */
} omen_options;

/* WAL recovery modes (omen_options.wal_recovery), after RocksDB's.  A torn
 * tail is what a crash leaves: the incomplete last write of a log, followed
 * only by the never-written end of the file.  Corruption is damage that no
 * crash explains: intact records follow it, or a complete record fails its
 * checksum.  docs/design.md, "WAL recovery modes", has the details.
 *  TORN_TAIL (default): a torn tail is dropped silently (it holds no
 *    write acknowledged as durable; a log torn before it was synced drops
 *    the records of later logs with it, none of which was synced either);
 *    corruption makes omen_open fail with OMEN_CORRUPT and a message naming
 *    the log file and the byte offset.  Nothing is changed on disk.
 *  ABSOLUTE: also a torn tail makes omen_open fail (OMEN_CORRUPT).
 *  POINT_IN_TIME: recover every write up to the first damage and nothing
 *    after it (also not from later logs): a consistent earlier state.
 *  SKIP: recover every intact record, skipping damaged ones (writes after
 *    a skipped batch are kept although the batch is lost).
 * When POINT_IN_TIME or SKIP leave data behind, each log that held it is
 * kept aside as NNNNNN.wal.damaged (a read-write open copies it; nothing
 * is ever deleted) and omen_get_stats reports the records and bytes that
 * were not recovered. */
enum {
    OMEN_WAL_RECOVER_TORN_TAIL = 0,
    OMEN_WAL_RECOVER_ABSOLUTE = 1,
    OMEN_WAL_RECOVER_POINT_IN_TIME = 2,
    OMEN_WAL_RECOVER_SKIP = 3,
};

/* Fill *opts with the defaults documented above. */
OMEN_EXPORT void omen_options_init(omen_options *opts);

/* Name of an error code; a static string, never NULL. */
OMEN_EXPORT const char *omen_strerror(int err);

/* Detailed message of the last failing call of this thread (e.g. the file
 * and byte offset of a checksum mismatch).  Thread-local static storage,
 * valid until this thread's next OmenDB call.  Never NULL. */
OMEN_EXPORT const char *omen_last_error(void);

/* Release a buffer that OmenDB handed to the caller (omen_get values etc.).
 * NULL is allowed. */
OMEN_EXPORT void omen_free(void *p);

/* Encode an unsigned 64-bit integer as an 8-byte big-endian key, so that
 * byte order equals numeric order.  out must hold 8 bytes. */
OMEN_EXPORT void omen_key_u64(uint64_t v, unsigned char out[8]);
/* Decode such a key; returns 0 unless len == 8. */
OMEN_EXPORT uint64_t omen_key_to_u64(const void *key, size_t len);

/* ---- Opening and closing --------------------------------------------- */

/* Open (or create) the database in directory `path`.  opts may be NULL
 * (defaults).  On success *out owns the handle until omen_close.
 * Locking: a read-write open takes the directory's LOCK file exclusively;
 * a read-only open (opts->read_only) opens LOCK read-only and takes it
 * shared, so read-only opens coexist with each other but not with a writer
 * (docs/design.md, "Locking", says why), and work on a read-only file
 * system.  A damaged write-ahead log is handled as opts->wal_recovery says.
 * Errors: OMEN_LOCKED (another process has it open), OMEN_NOTDB (the
 * directory holds something that is not OmenDB), OMEN_EXISTS, OMEN_NOTFOUND
 * (absent and create_if_missing == 0), OMEN_CORRUPT, OMEN_VERSION, OMEN_IO. */
OMEN_EXPORT int omen_open(const char *path, const omen_options *opts, omen_db **out);

/* Flush nothing extra, stop background work, release the lock and free the
 * handle.  Writes acknowledged with OMEN_SYNC_RELAXED are in the log and are
 * recovered by the next open.  Every iterator, snapshot and transaction of
 * the handle must be released before.  NULL is allowed (returns OMEN_OK).
 * The handle is invalid afterwards whatever the result. */
OMEN_EXPORT int omen_close(omen_db *db);

/* Delete the database in `path` (all its files and the directory if it
 * becomes empty).  OMEN_BUSY if a process holds it open. */
OMEN_EXPORT int omen_destroy(const char *path);

/* ---- Single writes and reads -------------------------------------------- */

/* Insert or overwrite.  sync is OMEN_SYNC_DEFAULT/RELAXED/FULL. */
OMEN_EXPORT int omen_put(omen_db *db, const void *key, size_t klen, const void *val, size_t vlen, int sync);

/* Delete a key (absent keys are not an error). */
OMEN_EXPORT int omen_delete(omen_db *db, const void *key, size_t klen, int sync);

/* Read the newest value of key (or the value at `snap` when non-NULL).
 * On OMEN_OK *val is a malloc'ed copy owned by the caller (free it with
 * omen_free; it is non-NULL even for an empty value) and *vlen its length.
 * On OMEN_NOTFOUND *val is set to NULL. */
OMEN_EXPORT int omen_get(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen, void **val,
                         size_t *vlen);

/* As omen_get, into the caller's buffer, with no allocation: on OMEN_OK
 * min(cap, length) bytes of the value are copied to buf and *vlen receives
 * the value's full length, so *vlen > cap means the copy was cut short
 * (call again with a buffer of *vlen bytes; cap 0 with buf NULL asks for
 * the length only).  buf belongs to the caller throughout; OmenDB keeps no
 * pointer to it.  On OMEN_NOTFOUND *vlen is 0.  NULL vlen, or NULL buf with
 * cap > 0: OMEN_INVALID. */
OMEN_EXPORT int omen_get_into(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen, void *buf,
                              size_t cap, size_t *vlen);

/* Read n keys at one consistent point: the snapshot when snap is non-NULL,
 * else the state when the call starts (every key sees the same writes, as
 * if under one snapshot).  keys[i] (klens[i] bytes; NULL only with length
 * 0) are read during the call only; duplicates and any order are allowed.
 * On OMEN_OK, for each i: vals[i] is a malloc'ed copy of the value owned by
 * the caller (free each with omen_free; non-NULL even for an empty value)
 * and vlens[i] its length, or vals[i] is NULL and vlens[i] 0 when the key is
 * absent.  On any error every vals[i] is NULL (nothing to free) and the
 * code says why: OMEN_INVALID (NULL arrays with n > 0, a NULL key with a
 * length), OMEN_TOOBIG (a key over OMEN_MAX_KEY_LEN), OMEN_CORRUPT,
 * OMEN_NOMEM, OMEN_CLOSED.  The keys are sorted and each sorted run is
 * searched for all of them in one batch (the learned index's batch search),
 * which is faster per key than omen_get for more than a few keys.  n 0 is
 * OMEN_OK. */
OMEN_EXPORT int omen_get_many(omen_db *db, const omen_snapshot *snap, size_t n, const void *const *keys,
                              const size_t *klens, void **vals, size_t *vlens);

/* ---- Write batches (atomic: all or nothing, also across a crash) -------- */

/* *out is owned by the caller until omen_batch_destroy. */
OMEN_EXPORT int omen_batch_create(omen_batch **out);
OMEN_EXPORT int omen_batch_put(omen_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
OMEN_EXPORT int omen_batch_delete(omen_batch *b, const void *key, size_t klen);
OMEN_EXPORT void omen_batch_clear(omen_batch *b);
OMEN_EXPORT size_t omen_batch_count(const omen_batch *b);
OMEN_EXPORT void omen_batch_destroy(omen_batch *b);
/* Apply every operation of b as one atomic write; b is unchanged and can be
 * reused or destroyed afterwards. */
OMEN_EXPORT int omen_write(omen_db *db, omen_batch *b, int sync);

/* ---- Snapshots --------------------------------------------------------- */

/* Pin the current state.  Reads and iterators given the snapshot see exactly
 * the writes committed before it.  The snapshot is owned by the caller and
 * must be released with omen_snapshot_release before omen_close. */
OMEN_EXPORT int omen_snapshot_create(omen_db *db, omen_snapshot **out);
OMEN_EXPORT void omen_snapshot_release(omen_db *db, omen_snapshot *snap);
/* Sequence number the snapshot sees (for diagnostics). */
OMEN_EXPORT uint64_t omen_snapshot_sequence(const omen_snapshot *snap);

/* ---- Iterators ---------------------------------------------------------- */

typedef struct omen_iter_options {
    const omen_snapshot *snapshot; /* NULL: a snapshot taken at creation   */
    const void *lower;             /* inclusive lower bound, NULL = none   */
    size_t lower_len;
    const void *upper; /* exclusive upper bound, NULL = none */
    size_t upper_len;
    int keys_only; /* 1: never read values (omen_iter_value returns NULL),
                      so a walk over keys needs no value block */
} omen_iter_options;

/* Create an iterator over a consistent view (the snapshot, or the state at
 * creation).  opts may be NULL.  The bound buffers are copied.  The iterator
 * starts unpositioned (not valid).  Owned by the caller until
 * omen_iter_destroy, which must precede omen_close. */
OMEN_EXPORT int omen_iter_create(omen_db *db, const omen_iter_options *opts, omen_iter **out);
OMEN_EXPORT void omen_iter_seek_first(omen_iter *it);
OMEN_EXPORT void omen_iter_seek_last(omen_iter *it);
/* Position at the first key >= key. */
OMEN_EXPORT void omen_iter_seek(omen_iter *it, const void *key, size_t klen);
/* Position at the last key <= key. */
OMEN_EXPORT void omen_iter_seek_for_prev(omen_iter *it, const void *key, size_t klen);
OMEN_EXPORT int omen_iter_valid(const omen_iter *it);
OMEN_EXPORT void omen_iter_next(omen_iter *it);
OMEN_EXPORT void omen_iter_prev(omen_iter *it);
/* Borrowed pointers into the iterator: valid until the next move of the
 * iterator or its destruction.  Only call when omen_iter_valid. */
OMEN_EXPORT const void *omen_iter_key(const omen_iter *it, size_t *klen);
OMEN_EXPORT const void *omen_iter_value(const omen_iter *it, size_t *vlen);
/* OMEN_OK, or the error (e.g. OMEN_CORRUPT) that made the iterator stop. */
OMEN_EXPORT int omen_iter_status(const omen_iter *it);
OMEN_EXPORT void omen_iter_destroy(omen_iter *it);

/* ---- Optimistic serializable transactions ------------------------------ */

/* Begin a transaction reading at a snapshot taken now.  The transaction is
 * owned by the caller until omen_txn_commit or omen_txn_rollback, which both
 * end and free it (as LMDB's mdb_txn_commit does). */
OMEN_EXPORT int omen_txn_begin(omen_db *db, omen_txn **out);
/* Read through the transaction: its own writes first, then its snapshot.
 * Ownership of *val as for omen_get.  The read is recorded for validation. */
OMEN_EXPORT int omen_txn_get(omen_txn *t, const void *key, size_t klen, void **val, size_t *vlen);
OMEN_EXPORT int omen_txn_put(omen_txn *t, const void *key, size_t klen, const void *val, size_t vlen);
OMEN_EXPORT int omen_txn_delete(omen_txn *t, const void *key, size_t klen);
/* Iterator merging the transaction's writes over its snapshot; the scanned
 * range is recorded for validation.  Must be destroyed before the
 * transaction ends.  opts->snapshot is ignored. */
OMEN_EXPORT int omen_txn_iter_create(omen_txn *t, const omen_iter_options *opts, omen_iter **out);
/* Validate and apply atomically as one log record.  OMEN_CONFLICT if a key
 * read or written, or a range scanned, was changed by another commit after
 * the transaction's snapshot.  The handle is freed whatever the result. */
OMEN_EXPORT int omen_txn_commit(omen_txn *t, int sync);
OMEN_EXPORT void omen_txn_rollback(omen_txn *t);

/* ---- Maintenance and statistics ---------------------------------------- */

#define OMEN_MAX_LEVELS 8

typedef struct omen_stats {
    uint64_t sequence; /* last committed sequence number   */
    uint64_t runs_per_level[OMEN_MAX_LEVELS];
    uint64_t entries_per_level[OMEN_MAX_LEVELS];
    uint64_t run_entries; /* entries in all sorted runs       */
    uint64_t memtable_entries;
    uint64_t memtable_bytes;
    uint64_t file_bytes;  /* bytes of all live run files      */
    uint64_t index_bytes; /* learned-model bytes in runs      */
    uint64_t filter_bytes;
    uint64_t wal_bytes;
    uint64_t cache_hits, cache_misses;
    uint64_t flushes, compactions;
    uint64_t compaction_bytes_written;
    uint64_t write_stalls_us;     /* time writers were slowed down    */
    int read_only;                /* 1 after a fatal I/O error        */
    int fatal_error;              /* its code (OMEN_OK if none): see
                                     omen_fatal_error for the message */
    uint64_t wal_records_skipped; /* left behind by the open's WAL recovery
                                     mode (intact records not applied, plus
                                     one per damaged region)          */
    uint64_t wal_bytes_skipped;   /* bytes of log they occupied       */
} omen_stats;

OMEN_EXPORT int omen_get_stats(omen_db *db, omen_stats *out);

/* The first fatal error of the handle: the failure (a WAL write or sync, a
 * background flush or compaction) that turned it read-only, whichever
 * thread it happened on.  Returns its code (e.g. OMEN_IO), or OMEN_OK if
 * there was none; *msg (if msg is non-NULL) receives its message, or NULL
 * when there was none.  The message belongs to the handle and stays valid
 * and unchanged until omen_close.  Every later write returns OMEN_READONLY
 * with this message in omen_last_error().  NULL or closed db: OMEN_INVALID /
 * OMEN_CLOSED (with *msg NULL). */
OMEN_EXPORT int omen_fatal_error(omen_db *db, const char **msg);

/* Make every write acknowledged so far durable (one fdatasync of the log),
 * as if each had been written with OMEN_SYNC_FULL.  For callers that write
 * with OMEN_SYNC_RELAXED and sync on their own schedule (omendb-server's
 * "everysec").  A failed sync turns the handle read-only. */
OMEN_EXPORT int omen_sync(omen_db *db);

/* Flush the memtable to a sorted run and wait for it. */
OMEN_EXPORT int omen_flush(omen_db *db);

/* Compact all runs overlapping [begin, end] (NULL = unbounded) into the
 * bottom level and wait for it. */
OMEN_EXPORT int omen_compact_range(omen_db *db, const void *begin, size_t blen, const void *end, size_t elen);

/* Verify every checksum and learned model of the database in `path`, that
 * each run file is the one its MANIFEST entry describes, and classify each
 * write-ahead log's end (a torn tail after a crash is fine; damage followed
 * by intact records is corruption).  Takes the database's lock shared, so it
 * may run beside read-only opens; if a read-write handle has the database
 * open, returns OMEN_LOCKED at once (and reports it).  Each finding and a
 * summary is passed to report (may be NULL) as one line of text.  OMEN_OK if
 * everything checked out, OMEN_CORRUPT otherwise. */
OMEN_EXPORT int omen_check(const char *path, void (*report)(void *ctx, const char *line), void *ctx);

/* ---- Vector sets --------------------------------------------------------
 *
 * A vector set is a named collection inside a database (modelled on Redis 8
 * vector sets): elements with byte-string ids, each holding one vector of
 * the set's dimension and optional attributes (a JSON object as text) used
 * by search filters.  Search is approximate nearest neighbour over an
 * HNSW-style graph; see docs/vector.md.
 *
 * Durability: every element is stored as ordinary engine entries under a
 * reserved 14-byte key prefix (FF x8, 00, "omen", 00): user writes and
 * point reads of keys with that prefix are rejected with OMEN_INVALID and
 * user iterators step over them (docs/format.md, "Reserved keys").  Each vector write is therefore a write like omen_put:
 * it goes through the write-ahead log and group commit with the given sync
 * mode, and omen_batch / omen_txn may mix key-value and vector writes that
 * commit atomically.  The search graph lives in RAM and is checkpointed to a
 * checksummed file in the database directory; reopening loads it and
 * replays only the writes made after it.
 *
 * Handles: omen_vset_create / omen_vset_open return a counted handle to the
 * set's shared in-memory state; every successful create/open is paired with
 * one omen_vset_close, and every handle of a database must be closed before
 * omen_close.  A handle may be used by any number of threads at once:
 * searches never wait for writers, writes to one set are serialized.
 *
 * Scores: every search returns distances, smaller is closer:
 *   OMEN_METRIC_L2      squared Euclidean distance;
 *   OMEN_METRIC_COSINE  1 - cosine similarity (0 .. 2); vectors are
 *                       normalised to unit length when added;
 *   OMEN_METRIC_IP      the negated inner product.
 *
 * Vectors passed in are float32 arrays of exactly the set's dimension; a
 * NaN or infinite component, or a zero vector in a cosine set, is
 * OMEN_INVALID and changes nothing.
 */
typedef struct omen_vset omen_vset;

enum { OMEN_METRIC_L2 = 0, OMEN_METRIC_COSINE = 1, OMEN_METRIC_IP = 2 };

/* How the graph traverses vectors in RAM.  The full float32 vector is
 * always kept in the engine (for exact re-ranking and omen_vset_get).
 * OMEN_PREC_INT8: scalar-quantized to one signed byte per component
 * (traversal), then the best candidates are re-ranked exactly.
 * OMEN_PREC_FLOAT32: float32 vectors in RAM, no re-ranking needed. */
enum { OMEN_PREC_FLOAT32 = 0, OMEN_PREC_INT8 = 1 };

#define OMEN_VSET_MAX_NAME 255u /* bytes of a set name (no NUL inside)  */
#define OMEN_VSET_MAX_DIM 32768u
#define OMEN_VSET_MAX_ID 1024u     /* bytes of an element id               */
#define OMEN_VSET_MAX_ATTRS 65536u /* bytes of an attribute JSON text      */
#define OMEN_VSET_MAX_K 100000u    /* largest k of one search              */

typedef struct omen_vset_options {
    uint32_t dim;             /* required: 1 .. OMEN_VSET_MAX_DIM                   */
    int metric;               /* OMEN_METRIC_* (default L2)                         */
    int precision;            /* OMEN_PREC_* (default INT8)                         */
    uint32_t M;               /* graph degree, 4 .. 64 (default 16; level 0: 2M)    */
    uint32_t ef_construction; /* candidate list while inserting (default 200)       */
    uint32_t ef_search;       /* default ef of searches that pass 0 (default 64)    */
} omen_vset_options;

/* Fill *opts with the defaults documented above (dim = 0: must be set). */
OMEN_EXPORT void omen_vset_options_init(omen_vset_options *opts);

/* Create the set `name` (NUL-terminated, 1..OMEN_VSET_MAX_NAME bytes) and
 * return a handle in *out (owned by the caller until omen_vset_close).
 * The creation is one synced write.  OMEN_EXISTS if a set of that name
 * exists; OMEN_INVALID for a bad option. */
OMEN_EXPORT int omen_vset_create(omen_db *db, const char *name, const omen_vset_options *opts,
                                 omen_vset **out);

/* Open the existing set `name`: OMEN_NOTFOUND if there is none.  The first
 * open of a set in a process loads its graph file and replays the writes
 * made after it (or rebuilds the graph from the stored elements when the
 * file is missing, stale or fails its checksum).  *out as for create. */
OMEN_EXPORT int omen_vset_open(omen_db *db, const char *name, omen_vset **out);

/* Release a handle.  When the last handle of the set closes, the graph is
 * checkpointed if it changed (an error doing so is returned, but the handle
 * is released anyway and nothing acknowledged is lost: the next open
 * replays from the engine).  NULL is allowed. */
OMEN_EXPORT int omen_vset_close(omen_vset *vs);

/* Write the graph file now (also done by the last omen_vset_close), so that
 * the next open has less to replay. */
OMEN_EXPORT int omen_vset_checkpoint(omen_vset *vs);

/* Delete the set `name` with all its elements and its graph file.  Open
 * handles of it fail with OMEN_NOTFOUND afterwards (they still must be
 * closed).  OMEN_NOTFOUND if absent. */
OMEN_EXPORT int omen_vset_drop(omen_db *db, const char *name);

/* Names of every set, sorted bytewise.  On OMEN_OK *names is one malloc'd
 * block (free it with omen_free) holding *n pointers to NUL-terminated
 * names inside the same block; *names is NULL when *n == 0. */
OMEN_EXPORT int omen_vset_list(omen_db *db, char ***names, size_t *n);

typedef struct omen_vset_info {
    uint32_t dim;
    int metric, precision;
    uint32_t M, ef_construction, ef_search;
    uint64_t count;        /* live elements                                     */
    uint64_t deleted;      /* deleted nodes not yet unlinked from the graph     */
    uint32_t levels;       /* graph levels (0 when empty)                       */
    uint64_t memory_bytes; /* RAM of graph + traversal vectors + ids/attributes */
    uint64_t log_tail;     /* writes the graph file does not cover yet          */
} omen_vset_info;

OMEN_EXPORT int omen_vset_info_get(omen_vset *vs, omen_vset_info *out);

/* Name of the set; borrowed, valid until the handle is closed. */
OMEN_EXPORT const char *omen_vset_name(const omen_vset *vs);

/* ---- Vector writes ----
 * id: 1..OMEN_VSET_MAX_ID bytes, any bytes.  attrs: a JSON object as text
 * (e.g. {"year": 1999, "genre": "noir"}), at most OMEN_VSET_MAX_ATTRS bytes;
 * attrs == NULL keeps the element's current attributes (none for a new
 * element), attrs_len == 0 with attrs != NULL removes them.  Attribute text
 * that is not a JSON object is OMEN_INVALID.  Adding an id that exists
 * replaces its vector (and attributes when given): the old node leaves the
 * graph, nothing is duplicated.  dim must equal the set's dimension. */
OMEN_EXPORT int omen_vset_add(omen_vset *vs, const void *id, size_t id_len, const float *vec, uint32_t dim,
                              const char *attrs, size_t attrs_len, int sync);

/* Add n elements as one atomic write.  vecs holds n * dim floats, row i
 * being element i.  ids[i]/id_lens[i] name element i; attrs may be NULL
 * (no attribute change for any element) or an array of n entries (NULL
 * entries keep attributes).  Everything is validated before anything is
 * written: one bad element fails the call and writes nothing.  A graph is
 * built in the calling thread. */
OMEN_EXPORT int omen_vset_add_many(omen_vset *vs, size_t n, const void *const *ids, const size_t *id_lens,
                                   const float *vecs, uint32_t dim, const char *const *attrs,
                                   const size_t *attrs_lens, int sync);

/* Remove an element: it leaves search results at once, its engine entries
 * are deleted in the same write, and its graph node is unlinked (neighbours
 * re-linked, slot reused) by the set's next repair pass.  OMEN_NOTFOUND if
 * the element does not exist. */
OMEN_EXPORT int omen_vset_delete(omen_vset *vs, const void *id, size_t id_len, int sync);

/* Replace (attrs_len > 0) or remove (attrs_len == 0) the attributes of an
 * existing element.  OMEN_NOTFOUND if absent. */
OMEN_EXPORT int omen_vset_set_attrs(omen_vset *vs, const void *id, size_t id_len, const char *attrs,
                                    size_t attrs_len, int sync);

/* The same writes recorded in a batch or a transaction: they commit with
 * the batch's other operations in omen_write / omen_txn_commit, all or
 * nothing, and the graph follows once the commit succeeds.  The batch or
 * transaction keeps its own reference to the set (the handle may be closed
 * before the batch is written).  A delete of an absent element is not an
 * error here.  Validation errors are returned at once and leave the batch
 * unchanged. */
OMEN_EXPORT int omen_batch_vadd(omen_batch *b, omen_vset *vs, const void *id, size_t id_len, const float *vec,
                                uint32_t dim, const char *attrs, size_t attrs_len);
OMEN_EXPORT int omen_batch_vdel(omen_batch *b, omen_vset *vs, const void *id, size_t id_len);
OMEN_EXPORT int omen_txn_vadd(omen_txn *t, omen_vset *vs, const void *id, size_t id_len, const float *vec,
                              uint32_t dim, const char *attrs, size_t attrs_len);
OMEN_EXPORT int omen_txn_vdel(omen_txn *t, omen_vset *vs, const void *id, size_t id_len);

/* ---- Vector reads ---- */

/* OMEN_OK if the element exists, OMEN_NOTFOUND if not. */
OMEN_EXPORT int omen_vset_contains(omen_vset *vs, const void *id, size_t id_len);

/* Copy the element's vector as float32 (as stored; for a cosine set the
 * normalised vector) into out[0 .. dim-1]; dim must equal the set's. */
OMEN_EXPORT int omen_vset_get(omen_vset *vs, const void *id, size_t id_len, float *out, uint32_t dim);

/* The element's vector in the traversal precision: for OMEN_PREC_INT8,
 * out[i] * *scale + *offset approximates component i (the scale and offset
 * are the set's for L2, the element's own for cosine and inner product);
 * for float32 sets OMEN_INVALID (use omen_vset_get).  scale/offset may be
 * NULL. */
OMEN_EXPORT int omen_vset_get_int8(omen_vset *vs, const void *id, size_t id_len, int8_t *out, uint32_t dim,
                                   float *scale, float *offset);

/* Attributes: on OMEN_OK *json is a malloc'd NUL-terminated copy (free
 * with omen_free) and *len its length; an element without attributes gives
 * OMEN_OK with *json = NULL, *len = 0.  OMEN_NOTFOUND if absent. */
OMEN_EXPORT int omen_vset_get_attrs(omen_vset *vs, const void *id, size_t id_len, char **json, size_t *len);

/* A uniformly chosen live element's id: malloc'd copy in *id (free with
 * omen_free), length in *id_len.  OMEN_NOTFOUND if the set is empty. */
OMEN_EXPORT int omen_vset_random(omen_vset *vs, void **id, size_t *id_len);

/* ---- Search ---- */

typedef struct omen_vset_query {
    uint32_t k;         /* results wanted, 1 .. OMEN_VSET_MAX_K                     */
    uint32_t ef;        /* candidate list size; 0 = the set's ef_search; raised to k */
    const char *filter; /* NULL, or an expression over the attributes (VSIM FILTER
                         * syntax: .year > 1990 and .genre in ["drama","noir"]) */
    int exact;          /* 1: exact scan instead of the graph (ground truth)        */
} omen_vset_query;

typedef struct omen_vset_hit {
    const void *id; /* points inside the same result block */
    size_t id_len;
    float score; /* distance, smaller is closer (see above)                 */
} omen_vset_hit;

typedef struct omen_vset_result {
    size_t n;            /* hits, at most k (fewer when the set/filter has fewer) */
    omen_vset_hit *hits; /* closest first                                         */
} omen_vset_result;

/* Approximate k nearest neighbours of q (dim floats).  On OMEN_OK *out is
 * one malloc'd block owning the hits and their ids: free it with omen_free.
 * A filter that does not parse is OMEN_INVALID (omen_last_error names the
 * position).  Elements whose attributes lack a field used by the filter, or
 * whose types do not fit an operator, do not match.  When a filter matches
 * few elements the search scans them exactly, so a filtered result has min(k,
 * matches) hits.  An empty set gives n = 0.  The result reflects a
 * consistent moment: writes acknowledged before the call are visible. */
OMEN_EXPORT int omen_vset_search(omen_vset *vs, const float *q, uint32_t dim, const omen_vset_query *query,
                                 omen_vset_result **out);

/* As omen_vset_search with the stored vector of element `id` as the query
 * (the element itself is part of the results).  OMEN_NOTFOUND if absent. */
OMEN_EXPORT int omen_vset_search_id(omen_vset *vs, const void *id, size_t id_len,
                                    const omen_vset_query *query, omen_vset_result **out);

/* nq queries (rows of qs, nq * dim floats) with `threads` threads (0 = one
 * per online core).  On OMEN_OK *out is one malloc'd array of nq result
 * pointers, each as from omen_vset_search; free everything with
 * omen_vset_results_free(*out, nq). */
OMEN_EXPORT int omen_vset_search_many(omen_vset *vs, size_t nq, const float *qs, uint32_t dim,
                                      const omen_vset_query *query, int threads, omen_vset_result ***out);
OMEN_EXPORT void omen_vset_results_free(omen_vset_result **res, size_t nq);

/* Check a filter expression without searching: OMEN_OK or OMEN_INVALID. */
OMEN_EXPORT int omen_vset_filter_check(const char *filter);

#ifdef __cplusplus
}
#endif
#endif /* OMENDB_H */
