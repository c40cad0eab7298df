/*
 * version.h -- the database handle's shared state and what every other db
 * file builds on: run reference counts, superversions (the immutable
 * {memtable, immutable memtable, runs} sets readers pin), the snapshot list,
 * file names, manifest writes and the fatal-error flag.  version.c owns it;
 * nothing here calls up into iter/write/bg/txn/open (docs/design.md,
 * "Source layout", gives the dependency order).
 *
 * Invariants:
 *  - db->mu guards the current superversion pointer, the snapshot list,
 *    the version (runs per level) and the background flags; the write
 *    leader holds it to make room and to publish.  The writer queue itself
 *    is lock-free (write.c).
 *    It is never held across file I/O on the hot path (the write leader
 *    drops it while appending to the WAL and inserting into the memtable).
 *  - manifest_mu serializes "compute new version + write MANIFEST + install"
 *    (flush thread, compaction thread, open).  Lock order: manifest_mu, mu.
 *  - A superversion (db_sv) is immutable once published; readers pin it by
 *    reference count and never block on background work.  Runs are
 *    reference counted (db_run); a run removed from the version is unlinked
 *    from disk when its last reference goes.
 *  - last_seq is published (release) only after the whole group is in the
 *    memtable, so a reader at seq S sees every write <= S.
 */
#ifndef OMEN_DB_VERSION_H
#define OMEN_DB_VERSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "db/memtable.h"
#include "omendb.h"
#include "storage/cache.h"
#include "storage/fio.h"
#include "storage/manifest.h"
#include "storage/run.h"
#include "storage/wal.h"

/* L0 run counts: compaction starts at COMPACT; each write group sleeps 1 ms
 * at SLOWDOWN; writers wait at STOP.  RocksDB's default triggers (design.md,
 * "Back-pressure", says why not LevelDB's 8 and 12). */
#define DB_L0_COMPACT 4
#define DB_L0_SLOWDOWN 20
#define DB_L0_STOP 36

typedef struct db_run {
    atomic_int refs;
    int obsolete; /* (set under mu before the version's ref drops) removed from the version: unlink the file at last unref */
    struct omen_db *db;
    run *r;
    manifest_run meta; /* owns smallest/largest copies */
} db_run;

typedef struct db_sv {
    atomic_int refs;
    struct db_sv *retired_next; /* on db->retired once refs reached 0 */
    struct omen_db *db;
    mt *mem, *imm;
    size_t nruns;                       /* runs[]: L0 newest first, then L1.. */
    size_t level_start[OMEN_MAX_LEVELS + 1];
    db_run **runs;
} db_sv;

struct omen_snapshot {
    uint64_t seq;
    struct omen_snapshot *prev, *next;
    struct omen_db *db;
};

#define DB_HP_SLOTS 32
/* One cache line per slot; the array is aligned by hand (heap memory is
 * only 16-byte aligned, so _Alignas on the type would be a lie). */
typedef struct db_hp_slot {
    atomic_int busy;
    _Atomic(struct db_sv *) hp;
    char pad[64 - 2 * sizeof(void *)];
} db_hp_slot;

struct db_writer; /* write.h */

struct omen_db {
    char *path;
    omen_options opts;
    fio_file *lock;
    block_cache *cache;
    block_cache *kept_cache; /* closed while runs were still pinned */
    int closed;
    struct omen_db *zombie_next; /* closed handles stay allocated (see open.c) */

    pthread_mutex_t mu;
    pthread_mutex_t manifest_mu;
    pthread_cond_t bg_cv;    /* background progress (flush/compaction done)  */
    pthread_cond_t flush_cv; /* work for the flush thread                    */
    pthread_cond_t comp_cv;  /* work for the compaction thread               */

    _Atomic(db_sv *) sv; /* current superversion (changed under mu) */
    mt *mem, *imm;
    mt_pool *mt_pool; /* arena blocks of flushed memtables, for the next ones */
    wal_writer *wal;
    uint64_t wal_number, imm_wal_number;
    /* The log switched out with imm, open until it is synced: a switch
     * does not wait for that fdatasync, but every log is made durable
     * before any later one is synced (db_sync_imm_wal, write.c).  Set
     * under mu, with imm (and only while imm is set: the flush syncs it
     * before it writes imm out); synced and cleared under imm_wal_mu
     * (taken before mu).  Atomic: writers check it without a lock. */
    _Atomic(wal_writer *) imm_wal;
    pthread_mutex_t imm_wal_mu;
    /* The log whose directory entry omen_sync's apart sync made durable
     * (write.c): once per log, as wal_sync does, not once per call. */
    _Atomic uint64_t apart_dir_synced;
    uint64_t next_file;
    uint64_t log_number;

    atomic_uint_fast64_t last_seq; /* published */
    _Atomic(struct db_writer *) wq_tail; /* newest queued writer; NULL when none (write.c) */
    atomic_int wq_wake; /* futex every waiter in the write path sleeps on (write.c) */

    struct omen_snapshot snaps; /* sentinel of the circular snapshot list */
    size_t nsnaps;
    atomic_long outstanding; /* iterators + snapshots + transactions */

    pthread_t flush_thread, comp_thread;
    int threads_started;
    atomic_int shutting_down;
    uint64_t manual_req;  /* omen_compact_range requests issued  (mu) */
    uint64_t manual_done; /* ... and served                      (mu) */
    atomic_int read_only; /* fatal I/O error or read_only option      */
    /* The first fatal error (db_set_fatal): its message is written once,
     * under fatal_mu, before the code is published (release), so a reader
     * that sees a non-zero code (acquire) sees the whole message, which
     * never changes afterwards (omen_fatal_error hands out the pointer). */
    pthread_mutex_t fatal_mu;
    atomic_int fatal_code;
    char fatal_msg[512];
    /* Left behind by the open's WAL recovery mode (omen_stats). */
    uint64_t wal_records_skipped, wal_bytes_skipped;

    /* Hazard slots: a reader publishes the superversion it is using in a
     * slot (own cache line) instead of bumping a shared reference count;
     * a superversion whose count reached 0 is freed only once no slot
     * names it (see version.c). */
    db_hp_slot *hp;   /* DB_HP_SLOTS slots, 64-byte aligned inside hp_mem */
    void *hp_mem;
    pthread_mutex_t retire_mu;
    db_sv *retired;

    uint64_t manifest_last_seq; /* last_sequence recorded in MANIFEST (manifest_mu) */
    struct iovec *iov;          /* leader's scratch for wal_append_v */
    size_t iov_cap;

    atomic_uint_fast64_t st_flushes, st_compactions, st_comp_bytes, st_stall_us, st_wal_bytes;
    /* Group commit of synced writes (write.c, gather_sync_group): synced
     * writers inside db_write_ops, and how many of them are queued. */
    atomic_int sync_active, sync_queued;
};

/* ---- handle checks and the fatal flag ---------------------------------- */

int db_check_handle(const omen_db *db, const char *fn);
/* OMEN_READONLY (with the first fatal error's message) unless writable. */
int db_check_writable(omen_db *db, const char *fn);
/* Turn the handle read-only after a failure of `what`; the first call's
 * code and message are kept (omen_fatal_error). */
void db_set_fatal(omen_db *db, int rc, const char *what);
/* The arena block size of every memtable the database makes: one size, so
 * that the blocks a flushed memtable gives back to the pool fit the next. */
size_t db_mem_block_size(const omen_db *db);

/* ---- superversions --------------------------------------------------------- */

/* Pin / unpin the current superversion. */
db_sv *db_sv_get(omen_db *db);
db_sv *db_sv_get_seq(omen_db *db, uint64_t *seq);
/* Short-lived pin without touching the reference count: *slot receives
 * the hazard slot to pass to db_sv_unpin (-1: a counted reference was
 * taken because every slot was busy). */
db_sv *db_sv_pin(omen_db *db, uint64_t *seq, int *slot);
void db_sv_unpin(omen_db *db, db_sv *sv, int slot);
void db_sv_put(db_sv *sv);
db_sv *db_sv_new(mt *mem, mt *imm, db_run **runs, size_t n);
/* Replace the current superversion (caller holds mu); returns the old one
 * for the caller to release. */
db_sv *db_sv_install(omen_db *db, db_sv *sv);
/* Free every retired superversion no reader still names (retire_mu held). */
void db_sv_reclaim(omen_db *db);

/* ---- runs ------------------------------------------------------------------ */

/* Open the run `meta` names.  fresh: NULL, or the meta run_writer_finish
 * returned for it, whose in-memory sections the run takes (run_open_fresh). */
int db_run_open(omen_db *db, const manifest_run *meta, run_meta *fresh, db_run **out);
void db_run_unref(db_run *r);
/* OMEN_OK if the opened run r (file fn) is the one meta describes: size,
 * entry count, sequence and key range, footer checksum and the file number
 * stored inside it; else OMEN_CORRUPT naming what differs. */
int db_run_matches(const manifest_run *meta, run *r, const char *fn);
/* Write the manifest for the given runs (caller holds manifest_mu; takes
 * mu briefly to read the counters). */
int db_write_manifest(omen_db *db, db_run **runs, size_t n, uint64_t log_number);

/* ---- snapshots --------------------------------------------------------------- */

int db_snapshot_acquire(omen_db *db, struct omen_snapshot **out);
void db_snapshot_drop(omen_db *db, struct omen_snapshot *s);
/* Sorted copy of the live snapshot sequences (caller holds mu). */
int db_snapshot_list(omen_db *db, uint64_t **out, size_t *n);

/* ---- file names -------------------------------------------------------------- */

/* Suffix of a log kept aside by a WAL recovery mode. */
#define DB_DAMAGED_SUFFIX ".damaged"

/* "dir/NNNNNN.ext" (or dir itself when ext is NULL), util_malloc'ed. */
int db_filename(const char *dir, uint64_t num, const char *ext, char **out);
/* "dir/name", util_malloc'ed; NULL when out of memory. */
char *db_path_join(const char *dir, const char *name);
/* "000123.wal" -> 123 and kind 'w'; "000123.run" -> 'r'; a log kept aside
 * by a WAL recovery mode, "000123.wal.damaged" -> 'd'; 0 otherwise. */
int db_parse_name(const char *name, uint64_t *num);

/* What a database directory holds (fio_list_dir(dir, db_scan_cb, &scan)). */
typedef struct db_dir_scan {
    int has_manifest, foreign;
    size_t ndamaged; /* logs kept aside by a WAL recovery mode */
    uint64_t *wals;
    size_t nwals, cwals;
    uint64_t max_number;
    char foreign_name[64];
} db_dir_scan;

int db_scan_cb(void *ctx, const char *name);
int db_u64_cmp(const void *a, const void *b);

#endif
