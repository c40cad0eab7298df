/*
 * db_impl.h -- internal structures of the db layer shared by db.c (handle,
 * write path, flush/compaction), iter.c (merging iterators) and txn.c.
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
#ifndef OMEN_DB_IMPL_H
#define OMEN_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "db/batch.h"
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

enum { DB_W_QUEUED = 0, DB_W_DONE = 1, DB_W_LEADS = 2 };

typedef struct db_writer {
    const unsigned char *ops;
    size_t ops_len, mem_cost;
    uint32_t count;
    struct omen_txn *txn; /* validated by the leader when non-NULL */
    int sync;
    int status;
    unsigned bit; /* the futex wake bit of the writer's thread (write.c) */
    atomic_int state; /* DB_W_QUEUED, DB_W_DONE (status set) or DB_W_LEADS */
    _Atomic(struct db_writer *) next; /* the writer queued after this one */
} db_writer;

struct omen_db {
    char *path;
    omen_options opts;
    fio_file *lock;
    block_cache *cache;
    block_cache *kept_cache; /* closed while runs were still pinned */
    int closed;
    struct omen_db *zombie_next; /* closed handles stay allocated (see db.c) */

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
    uint64_t next_file;
    uint64_t log_number;

    atomic_uint_fast64_t last_seq; /* published */
    _Atomic(db_writer *) wq_tail; /* newest queued writer; NULL when none (write.c) */
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

    /* Hazard slots: a reader publishes the superversion it is using in a
     * slot (own cache line) instead of bumping a shared reference count;
     * a superversion whose count reached 0 is freed only once no slot
     * names it (see db.c). */
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
db_sv *db_sv_install(omen_db *db, db_sv *sv);
int db_run_open(omen_db *db, const manifest_run *meta, db_run **out);
void db_run_unref(db_run *r);
int db_filename(const char *dir, uint64_t num, const char *ext, char **out);
int db_snapshot_list(omen_db *db, uint64_t **out, size_t *n);
int db_write_manifest(omen_db *db, db_run **runs, size_t n, uint64_t log_number);
int db_changed_since(db_sv *sv, const void *key, size_t klen, uint64_t snap, int *changed);

/* Background work (bg.c). */
int db_flush_memtable(omen_db *db, mt *m, uint64_t fnum, db_run **out);
int db_start_threads(omen_db *db);
void db_stop_threads(omen_db *db);
void db_set_fatal(omen_db *db, int rc, const char *what);

/* The write path (group commit).  ops/count describe encoded batch ops. */
int db_write_ops(omen_db *db, const unsigned char *ops, size_t ops_len, uint32_t count,
                 size_t mem_cost, struct omen_txn *txn, int sync);
int db_check_handle(const omen_db *db, const char *fn);
int db_check_writable(omen_db *db, const char *fn);

/* Point read at seq through a pinned superversion: OMEN_OK with a malloc'd
 * copy, OMEN_NOTFOUND, or an error. */
int db_get_sv(db_sv *sv, uint64_t seq, const void *key, size_t klen, void **val, size_t *vlen);
/* Newest committed sequence of key in sv (0 if absent). */
int db_latest_seq_sv(db_sv *sv, const void *key, size_t klen, uint64_t *seq);

/* Snapshots (internal; also used by transactions). */
int db_snapshot_acquire(omen_db *db, struct omen_snapshot **out);
void db_snapshot_drop(omen_db *db, struct omen_snapshot *s);

/* ---- iterators (iter.c) ---------------------------------------------------- */

/* A child of a merging iterator: yields internal entries in internal order. */
typedef struct citer citer;
typedef struct citer_ops {
    void (*seek_first)(citer *c);
    void (*seek_last)(citer *c);
    void (*seek)(citer *c, const void *k, size_t kl, uint64_t seq);          /* first >= */
    void (*seek_for_prev)(citer *c, const void *k, size_t kl, uint64_t seq); /* last <= */
    void (*next)(citer *c);
    void (*prev)(citer *c);
    /* Value of the current entry (loaded lazily: runs read value blocks
     * only for entries that are actually returned). */
    int (*value)(citer *c, const void **val, size_t *vlen);
    void (*destroy)(citer *c);
} citer_ops;

struct citer {
    const citer_ops *ops;
    int valid;
    int status;
    /* Points into the memtable's arena or the run's map: stays valid after
     * the child moves on, for as long as the iterator pins its source. */
    const void *key;
    size_t klen;
    uint64_t seq;
    int type;
};

citer *citer_mem_new(const mt *m);
citer *citer_run_new(db_run *r);

/* Merging iterator over children (owns them). */
typedef struct miter {
    citer **c;
    size_t n;
    citer *cur;
    /* Forward only: the smallest valid child other than cur when cur was
     * chosen (NULL: none), or second_ok == 0 when unknown.  Only cur moves
     * between two choices, so while cur stays below it, cur stays the
     * smallest: one comparison per step instead of one per child. */
    citer *second;
    int second_ok;
    int forward;
} miter;

void miter_init(miter *m, citer **children, size_t n);
void miter_free(miter *m);
void miter_seek_first(miter *m);
void miter_seek_last(miter *m);
void miter_seek(miter *m, const void *k, size_t kl, uint64_t seq);
void miter_seek_for_prev(miter *m, const void *k, size_t kl, uint64_t seq);
void miter_next(miter *m);
void miter_prev(miter *m);
int miter_status(const miter *m);
static inline int miter_valid(const miter *m)
{
    return m->cur != NULL;
}

/* Children over a superversion (mem, imm, runs) appended to *arr. */
int db_sv_children(db_sv *sv, citer ***arr, size_t *n, size_t *cap);

/* omen_iter_create without the bound below the reserved range (engine
 * modules reading their own entries). */
int db_iter_create_any(omen_db *db, const omen_iter_options *opts, omen_iter **out);
/* Make an iterator step over the reserved range (user iterators). */
void db_iter_hide_reserved(omen_iter *it);

/* Iterator creation shared by omen_iter_create and omen_txn_iter_create. */
int db_iter_new(omen_db *db, db_sv *sv, uint64_t seq, const omen_iter_options *opts,
                struct omen_txn *txn, const mt *txn_writes, omen_iter **out);

/* ---- transactions (txn.c) -------------------------------------------------- */

/* Called by the write leader: OMEN_CONFLICT if the txn must abort.
 * group_* describe the members placed before it in the same group. */
int txn_validate(struct omen_txn *t, db_sv *sv, db_writer *first, db_writer *self);
void txn_record_range(struct omen_txn *t, const void *lo, size_t lolen, int has_lo,
                      const void *hi, size_t hilen, int has_hi);

#endif
