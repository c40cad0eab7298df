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
#define OMEN_MAX_KEY_LEN (16u * 1024u)           /* 16 KiB  */
#define OMEN_MAX_VALUE_LEN (256u * 1024u * 1024u) /* 256 MiB */

/* Compression of value blocks in sorted-run files. */
enum { OMEN_COMPRESS_NONE = 0, OMEN_COMPRESS_LZ4 = 1, OMEN_COMPRESS_ZSTD = 2 };

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
} omen_options;

/* Fill *opts with the defaults documented above. */
void omen_options_init(omen_options *opts);

/* Name of an error code; a static string, never NULL. */
const char *omen_strerror(int err);

/* Detailed message of the last failing call of this thread (e.g. the file
 * and byte offset of a checksum mismatch).  Thread-local static storage,
 * valid until this thread's next OmenDB call.  Never NULL. */
const char *omen_last_error(void);

/* Release a buffer that OmenDB handed to the caller (omen_get values etc.).
 * NULL is allowed. */
void omen_free(void *p);

/* Encode an unsigned 64-bit integer as an 8-byte big-endian key, so that
 * byte order equals numeric order.  out must hold 8 bytes. */
void omen_key_u64(uint64_t v, unsigned char out[8]);
/* Decode such a key; returns 0 unless len == 8. */
uint64_t omen_key_to_u64(const void *key, size_t len);

/* ---- Opening and closing --------------------------------------------- */

/* Open (or create) the database in directory `path`.  opts may be NULL
 * (defaults).  On success *out owns the handle until omen_close.
 * Errors: OMEN_LOCKED (another process has it open), OMEN_NOTDB (the
 * directory holds something that is not OmenDB), OMEN_EXISTS, OMEN_NOTFOUND
 * (absent and create_if_missing == 0), OMEN_CORRUPT, OMEN_VERSION, OMEN_IO. */
int omen_open(const char *path, const omen_options *opts, omen_db **out);

/* Flush nothing extra, stop background work, release the lock and free the
 * handle.  Writes acknowledged with OMEN_SYNC_RELAXED are in the log and are
 * recovered by the next open.  Every iterator, snapshot and transaction of
 * the handle must be released before.  NULL is allowed (returns OMEN_OK).
 * The handle is invalid afterwards whatever the result. */
int omen_close(omen_db *db);

/* Delete the database in `path` (all its files and the directory if it
 * becomes empty).  OMEN_BUSY if a process holds it open. */
int omen_destroy(const char *path);

/* ---- Single writes and reads -------------------------------------------- */

/* Insert or overwrite.  sync is OMEN_SYNC_DEFAULT/RELAXED/FULL. */
int omen_put(omen_db *db, const void *key, size_t klen, const void *val, size_t vlen, int sync);

/* Delete a key (absent keys are not an error). */
int omen_delete(omen_db *db, const void *key, size_t klen, int sync);

/* Read the newest value of key (or the value at `snap` when non-NULL).
 * On OMEN_OK *val is a malloc'ed copy owned by the caller (free it with
 * omen_free; it is non-NULL even for an empty value) and *vlen its length.
 * On OMEN_NOTFOUND *val is set to NULL. */
int omen_get(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen, void **val,
             size_t *vlen);

/* As omen_get, into the caller's buffer, with no allocation: on OMEN_OK
 * min(cap, length) bytes of the value are copied to buf and *vlen receives
 * the value's full length, so *vlen > cap means the copy was cut short
 * (call again with a buffer of *vlen bytes; cap 0 with buf NULL asks for
 * the length only).  buf belongs to the caller throughout; OmenDB keeps no
 * pointer to it.  On OMEN_NOTFOUND *vlen is 0.  NULL vlen, or NULL buf with
 * cap > 0: OMEN_INVALID. */
int omen_get_into(omen_db *db, const omen_snapshot *snap, const void *key, size_t klen, void *buf,
                  size_t cap, size_t *vlen);

/* ---- Write batches (atomic: all or nothing, also across a crash) -------- */

/* *out is owned by the caller until omen_batch_destroy. */
int omen_batch_create(omen_batch **out);
int omen_batch_put(omen_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int omen_batch_delete(omen_batch *b, const void *key, size_t klen);
void omen_batch_clear(omen_batch *b);
size_t omen_batch_count(const omen_batch *b);
void omen_batch_destroy(omen_batch *b);
/* Apply every operation of b as one atomic write; b is unchanged and can be
 * reused or destroyed afterwards. */
int omen_write(omen_db *db, omen_batch *b, int sync);

/* ---- Snapshots --------------------------------------------------------- */

/* Pin the current state.  Reads and iterators given the snapshot see exactly
 * the writes committed before it.  The snapshot is owned by the caller and
 * must be released with omen_snapshot_release before omen_close. */
int omen_snapshot_create(omen_db *db, omen_snapshot **out);
void omen_snapshot_release(omen_db *db, omen_snapshot *snap);
/* Sequence number the snapshot sees (for diagnostics). */
uint64_t omen_snapshot_sequence(const omen_snapshot *snap);

/* ---- Iterators ---------------------------------------------------------- */

typedef struct omen_iter_options {
    const omen_snapshot *snapshot; /* NULL: a snapshot taken at creation   */
    const void *lower;             /* inclusive lower bound, NULL = none   */
    size_t lower_len;
    const void *upper; /* exclusive upper bound, NULL = none */
    size_t upper_len;
} omen_iter_options;

/* Create an iterator over a consistent view (the snapshot, or the state at
 * creation).  opts may be NULL.  The bound buffers are copied.  The iterator
 * starts unpositioned (not valid).  Owned by the caller until
 * omen_iter_destroy, which must precede omen_close. */
int omen_iter_create(omen_db *db, const omen_iter_options *opts, omen_iter **out);
void omen_iter_seek_first(omen_iter *it);
void omen_iter_seek_last(omen_iter *it);
/* Position at the first key >= key. */
void omen_iter_seek(omen_iter *it, const void *key, size_t klen);
/* Position at the last key <= key. */
void omen_iter_seek_for_prev(omen_iter *it, const void *key, size_t klen);
int omen_iter_valid(const omen_iter *it);
void omen_iter_next(omen_iter *it);
void omen_iter_prev(omen_iter *it);
/* Borrowed pointers into the iterator: valid until the next move of the
 * iterator or its destruction.  Only call when omen_iter_valid. */
const void *omen_iter_key(const omen_iter *it, size_t *klen);
const void *omen_iter_value(const omen_iter *it, size_t *vlen);
/* OMEN_OK, or the error (e.g. OMEN_CORRUPT) that made the iterator stop. */
int omen_iter_status(const omen_iter *it);
void omen_iter_destroy(omen_iter *it);

/* ---- Optimistic serializable transactions ------------------------------ */

/* Begin a transaction reading at a snapshot taken now.  The transaction is
 * owned by the caller until omen_txn_commit or omen_txn_rollback, which both
 * end and free it (as LMDB's mdb_txn_commit does). */
int omen_txn_begin(omen_db *db, omen_txn **out);
/* Read through the transaction: its own writes first, then its snapshot.
 * Ownership of *val as for omen_get.  The read is recorded for validation. */
int omen_txn_get(omen_txn *t, const void *key, size_t klen, void **val, size_t *vlen);
int omen_txn_put(omen_txn *t, const void *key, size_t klen, const void *val, size_t vlen);
int omen_txn_delete(omen_txn *t, const void *key, size_t klen);
/* Iterator merging the transaction's writes over its snapshot; the scanned
 * range is recorded for validation.  Must be destroyed before the
 * transaction ends.  opts->snapshot is ignored. */
int omen_txn_iter_create(omen_txn *t, const omen_iter_options *opts, omen_iter **out);
/* Validate and apply atomically as one log record.  OMEN_CONFLICT if a key
 * read or written, or a range scanned, was changed by another commit after
 * the transaction's snapshot.  The handle is freed whatever the result. */
int omen_txn_commit(omen_txn *t, int sync);
void omen_txn_rollback(omen_txn *t);

/* ---- Maintenance and statistics ---------------------------------------- */

#define OMEN_MAX_LEVELS 8

typedef struct omen_stats {
    uint64_t sequence;                      /* last committed sequence number   */
    uint64_t runs_per_level[OMEN_MAX_LEVELS];
    uint64_t entries_per_level[OMEN_MAX_LEVELS];
    uint64_t run_entries;                   /* entries in all sorted runs       */
    uint64_t memtable_entries;
    uint64_t memtable_bytes;
    uint64_t file_bytes;                    /* bytes of all live run files      */
    uint64_t index_bytes;                   /* learned-model bytes in runs      */
    uint64_t filter_bytes;
    uint64_t wal_bytes;
    uint64_t cache_hits, cache_misses;
    uint64_t flushes, compactions;
    uint64_t compaction_bytes_written;
    uint64_t write_stalls_us;               /* time writers were slowed down    */
    int read_only;                          /* 1 after a fatal I/O error        */
} omen_stats;

int omen_get_stats(omen_db *db, omen_stats *out);

/* Make every write acknowledged so far durable (one fdatasync of the log),
 * as if each had been written with OMEN_SYNC_FULL.  For callers that write
 * with OMEN_SYNC_RELAXED and sync on their own schedule (omendb-server's
 * "everysec").  A failed sync turns the handle read-only. */
int omen_sync(omen_db *db);

/* Flush the memtable to a sorted run and wait for it. */
int omen_flush(omen_db *db);

/* Compact all runs overlapping [begin, end] (NULL = unbounded) into the
 * bottom level and wait for it. */
int omen_compact_range(omen_db *db, const void *begin, size_t blen, const void *end, size_t elen);

/* Verify every checksum and learned model of the database in `path` (which
 * must not be open elsewhere).  Each finding and a summary is passed to
 * report (may be NULL) as one line of text.  OMEN_OK if everything checked
 * out, OMEN_CORRUPT otherwise. */
int omen_check(const char *path, void (*report)(void *ctx, const char *line), void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* OMENDB_H */
