/*
 * write.c -- the write path with group commit (LevelDB's writer queue).
 *
 * Writers join a lock-free queue; the writer at the head is the leader.  The
 * leader takes db->mu, makes room (may switch the memtable, may sleep/wait
 * when level 0 is crowded), takes a group of queued writers, then drops mu
 * and -- being the only thread allowed to do so -- validates the group's
 * transactions, appends ONE WAL record for the whole group (a batch or
 * transaction is therefore entirely inside one record), fdatasyncs once if
 * any member asked for OMEN_SYNC_FULL, inserts into the memtable and finally
 * publishes last_seq under mu, then hands leadership on and wakes the followers (one
 * futex call, see "sleeping and waking").  Queued relaxed writers spin
 * briefly before sleeping (see wait_turn): on this class of VM a futex sleep
 * and wake-up cost more than a whole relaxed group, and the spin doubled
 * 2-thread transaction commits.  A leader of synced writes waits a moment
 * for its siblings (gather_sync_group) so that one fdatasync serves more of
 * them.
 *
 * Memtable memory for the group is reserved before the WAL append, so once
 * a record is in the log, applying it cannot fail.  A failed WAL append or
 * sync is fatal: the handle turns read-only and never retries (the log may
 * hold a partial record and, after a failed fsync, the page cache may
 * already have dropped the data).
 */
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "db/batch.h"
#include "db/reserved.h"
#include "db/write.h"
#include "util/coding.h"
#include "util/err.h"
#include "util/mem.h"

/* Pause iterations a queued relaxed writer spins before sleeping (about
 * 20-50 us). */
#define WRITER_SPIN 2000

static inline void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Longest a synced group's leader waits for its siblings (microseconds):
 * well under one fdatasync on any disk. */
#define GATHER_MAX_US 100

#define GROUP_MAX_BYTES (1u << 20)
#define GROUP_SMALL_BYTES (128u << 10)

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int resolve_sync(const omen_db *db, int sync, int *out)
{
    if (sync == OMEN_SYNC_DEFAULT) sync = db->opts.sync;
    if (sync != OMEN_SYNC_RELAXED && sync != OMEN_SYNC_FULL)
        return util_seterr(OMEN_INVALID, "unknown sync mode %d", sync);
    *out = sync;
    return OMEN_OK;
}

static size_t l0_runs(const omen_db *db)
{
    return db->sv->level_start[1] - db->sv->level_start[0];
}

static void stall_wait(omen_db *db)
{
    uint64_t t0 = now_us();
    pthread_cond_signal(&db->comp_cv);
    pthread_cond_signal(&db->flush_cv);
    pthread_cond_wait(&db->bg_cv, &db->mu);
    atomic_fetch_add(&db->st_stall_us, now_us() - t0);
}

/* Switch to a new memtable and WAL (mu held, caller is the leader). */
static int switch_memtable(omen_db *db)
{
    uint64_t num = db->next_file++;
    char *fn = NULL;
    int rc = db_filename(db->path, num, "wal", &fn);
    if (rc) return rc;
    wal_writer *nw = NULL;
    rc = wal_writer_open(fn, &nw);
    if (rc) {
        omen_free(fn);
        return rc;
    }
    mt *nm = NULL;
    rc = mt_new_pooled(db_mem_block_size(db), db->mt_pool, &nm);
    if (rc) {
        wal_writer_close(nw);
        fio_unlink(fn);
        omen_free(fn);
        return rc;
    }
    omen_free(fn);
    /* The old log stays open, unsynced: the flush thread (or the first sync
     * of the new log, whichever comes first) makes it durable, so that a
     * synced write in the new log never survives a crash that loses earlier
     * relaxed writes.  The writer does not wait here for that fdatasync
     * (5-20 ms on a full log).  No earlier log is pending: imm was
     * flushed, and its log synced before that. */
    db_sv *nsv = db_sv_new(nm, db->mem, db->sv->runs, db->sv->nruns);
    if (!nsv) {
        wal_writer_close(nw);
        mt_unref(nm);
        return util_seterr(OMEN_NOMEM, "out of memory");
    }
    atomic_store_explicit(&db->imm_wal, db->wal, memory_order_release);
    db->wal = nw;
    db->imm_wal_number = db->wal_number;
    db->wal_number = num;
    db->imm = db->mem;
    db->mem = nm;
    atomic_store_explicit(&db->st_wal_bytes, WAL_FILE_HEADER_SIZE, memory_order_relaxed);
    db_sv *old = db_sv_install(db, nsv);
    db_sv_put(old);
    pthread_cond_signal(&db->flush_cv);
    return OMEN_OK;
}

/* Called by the leader with mu held.  force: switch even if not full
 * (omen_flush), unless the memtable is empty. */
static int make_room(omen_db *db, int force)
{
    int slowed = 0;
    for (;;) {
        if (atomic_load(&db->read_only)) return db_check_writable(db, "write");
        if (db->shutting_down) return util_seterr(OMEN_CLOSED, "the database is closing");
        size_t l0 = l0_runs(db);
        if (!slowed && l0 >= DB_L0_SLOWDOWN && !force) {
            /* Gentle back-pressure: give compaction a little head start. */
            pthread_cond_signal(&db->comp_cv);
            pthread_mutex_unlock(&db->mu);
            uint64_t t0 = now_us();
            usleep(1000);
            atomic_fetch_add(&db->st_stall_us, now_us() - t0);
            pthread_mutex_lock(&db->mu);
            slowed = 1;
            continue;
        }
        if (force) {
            if (mt_entries(db->mem) == 0) return OMEN_OK;
        } else if (mt_bytes(db->mem) < db->opts.write_buffer_size) {
            return OMEN_OK;
        }
        if (db->imm) {
            stall_wait(db);
            continue;
        }
        if (l0 >= DB_L0_STOP) {
            stall_wait(db);
            continue;
        }
        return switch_memtable(db);
    }
}

/* A group's ops go into the memtable APPLY_AHEAD behind the op being
 * decoded: each op's filter line is asked for when it is decoded, so those
 * misses overlap with the inserts before it instead of stalling each its
 * own insert (a pass of pipelined writes spent ~30% of the memtable insert
 * there).  The ops point into the writers' batches, which outlive the
 * apply. */
#define APPLY_AHEAD 8
typedef struct apply_ring {
    mt *mem;
    unsigned head, n;
    int rc;
    struct {
        uint64_t hash, seq;
        int type;
        const void *key, *val;
        size_t klen, vlen;
    } op[APPLY_AHEAD];
} apply_ring;

static void apply_oldest(apply_ring *r)
{
    unsigned i = r->head;
    int rc = mt_add_hashed(r->mem, r->op[i].hash, r->op[i].seq, r->op[i].type, r->op[i].key, r->op[i].klen,
                           r->op[i].val, r->op[i].vlen);
    if (rc && !r->rc) r->rc = rc;
    r->head = (i + 1) % APPLY_AHEAD;
    r->n--;
}

static int apply_op(void *ctx, uint64_t seq, int type, const void *key, size_t klen,
                    const void *val, size_t vlen)
{
    apply_ring *r = ctx;
    if (r->n == APPLY_AHEAD) apply_oldest(r);
    unsigned i = (r->head + r->n) % APPLY_AHEAD;
    r->op[i].hash = mt_key_hash(key, klen);
    mt_filter_prefetch(r->mem, r->op[i].hash);
    r->op[i].seq = seq;
    r->op[i].type = type;
    r->op[i].key = key;
    r->op[i].klen = klen;
    r->op[i].val = val;
    r->op[i].vlen = vlen;
    r->n++;
    return OMEN_OK;
}

/* Decode and apply one writer's ops; the error of any of them. */
static int apply_ops(mt *mem, const void *ops, size_t len, uint32_t count, uint64_t seq)
{
    apply_ring r;
    r.mem = mem;
    r.head = r.n = 0;
    r.rc = OMEN_OK;
    int rc = batch_iterate_ops(ops, len, count, seq, apply_op, &r);
    while (r.n) apply_oldest(&r);
    return rc ? rc : r.rc;
}

static int ensure_iov(omen_db *db, size_t n)
{
    if (n <= db->iov_cap) return OMEN_OK;
    size_t c = db->iov_cap ? db->iov_cap : 64;
    while (c < n) c *= 2;
    struct iovec *p = util_realloc(db->iov, c * sizeof *p);
    if (!p) return util_seterr(OMEN_NOMEM, "out of memory");
    db->iov = p;
    db->iov_cap = c;
    return OMEN_OK;
}

/* ---- sleeping and waking ------------------------------------------------------
 *
 * Queued writers sleep on one futex word, db->wq_wake, each with its thread's
 * bit (one of 32) through FUTEX_WAIT_BITSET.  A finished group then wakes its
 * members and the next leader with one FUTEX_WAKE_BITSET however many they
 * are (one call per member cost ~70 us of a 16-writer group's ~500 us cycle
 * on this VM), and writers queued behind the next leader stay asleep.
 * Writers that share a bit may wake for nothing; every waiter re-checks its
 * state, and reads the word before it does, so a bump between the two makes
 * FUTEX_WAIT return at once instead of missing the wake-up. */

static _Thread_local unsigned writer_bit_tls;
static atomic_uint writer_bit_next;

static unsigned writer_bit(void)
{
    if (!writer_bit_tls)
        writer_bit_tls = 1u << (atomic_fetch_add_explicit(&writer_bit_next, 1, memory_order_relaxed) % 32);
    return writer_bit_tls;
}

static void wq_sleep(omen_db *db, int gen, unsigned bits)
{
    syscall(SYS_futex, (int *)&db->wq_wake, FUTEX_WAIT_BITSET_PRIVATE, gen, NULL, NULL, bits);
}

static void wq_wake(omen_db *db, unsigned bits)
{
    atomic_fetch_add_explicit(&db->wq_wake, 1, memory_order_release);
    syscall(SYS_futex, (int *)&db->wq_wake, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, bits);
}

/* ---- the queue ----------------------------------------------------------------
 *
 * The writer queue is an intrusive lock-free list (the shape of RocksDB's
 * write thread and of Vyukov's MPSC queue): a writer swaps itself in as the
 * newest (db->wq_tail) and then links its predecessor to itself; the writer
 * that finds the queue empty leads.  Enqueueing without db->mu matters when a
 * dozen synced writers come back from one group at once.  Between the swap
 * and the link a writer's predecessor has no successor yet; a leader simply
 * ends its group there, and finish_group, which must find the next leader,
 * waits out that window.
 *
 * Returns 1 when w leads.  w lives on its writer's stack and leaves the
 * queue (finish_group) before that writer returns; kept out of line because
 * GCC cannot see that and warns of a dangling pointer. */
static __attribute__((noinline)) int enqueue(omen_db *db, db_writer *w)
{
    if (w->sync == OMEN_SYNC_FULL) atomic_fetch_add_explicit(&db->sync_queued, 1, memory_order_relaxed);
    atomic_store_explicit(&w->next, NULL, memory_order_relaxed);
    db_writer *prev = atomic_exchange_explicit(&db->wq_tail, w, memory_order_acq_rel);
    if (!prev) return 1;
    atomic_store_explicit(&prev->next, w, memory_order_release);
    return 0;
}

static db_writer *next_of(db_writer *x)
{
    return atomic_load_explicit(&x->next, memory_order_acquire);
}

/* Leader, after publishing (mu held on entry, released here): take
 * leader..last off the queue, make the writer queued after last (if any) the
 * next leader, and wake it and the members with one system call. */
static void finish_group(omen_db *db, db_writer *leader, db_writer *last)
{
    pthread_mutex_unlock(&db->mu);
    int nsync = 0;
    for (db_writer *x = leader;; x = next_of(x)) {
        nsync += x->sync == OMEN_SYNC_FULL;
        if (x == last) break;
    }
    if (nsync) atomic_fetch_sub_explicit(&db->sync_queued, nsync, memory_order_relaxed);
    db_writer *head = next_of(last);
    if (!head) {
        db_writer *expect = last;
        if (!atomic_compare_exchange_strong_explicit(&db->wq_tail, &expect, NULL,
                                                     memory_order_acq_rel, memory_order_acquire)) {
            /* A writer swapped itself in after last and has not linked yet. */
            while (!(head = next_of(last))) sched_yield();
        }
    }
    unsigned bits = 0;
    if (head) {
        bits = head->bit;
        atomic_store_explicit(&head->state, DB_W_LEADS, memory_order_release);
    }
    db_writer *x = leader == last ? NULL : next_of(leader);
    while (x) {
        /* x may return the moment it sees DONE: read its link first. */
        db_writer *nx = x == last ? NULL : next_of(x);
        bits |= x->bit;
        atomic_store_explicit(&x->state, DB_W_DONE, memory_order_release);
        x = nx;
    }
    if (bits) wq_wake(db, bits);
}

/* Queue w and wait until it is done or leads; a leader returns with mu
 * held.  A relaxed write's group takes a few microseconds, less than a futex
 * sleep and wake-up cost on a VM, so a queued relaxed writer first spins for
 * a while; synced groups wait for a disk flush, so their writers sleep at
 * once. */
static int wait_turn(omen_db *db, db_writer *w)
{
    int st = DB_W_QUEUED;
    if (enqueue(db, w)) {
        pthread_mutex_lock(&db->mu);
        return DB_W_LEADS;
    }
    if (w->sync != OMEN_SYNC_FULL) {
        for (int i = 0; i < WRITER_SPIN; i++) {
            st = atomic_load_explicit(&w->state, memory_order_acquire);
            if (st != DB_W_QUEUED) break;
            spin_pause();
        }
    }
    for (;;) {
        int gen = atomic_load_explicit(&db->wq_wake, memory_order_acquire);
        st = atomic_load_explicit(&w->state, memory_order_acquire);
        if (st != DB_W_QUEUED) break;
        wq_sleep(db, gen, w->bit);
    }
    if (st == DB_W_LEADS) pthread_mutex_lock(&db->mu);
    return st;
}

/* A synced group costs one fdatasync however many writers it holds, so a
 * leader of synced writes waits a moment (mu released, yielding the CPU) for
 * the synced writers that are already inside db_write_ops -- typically the
 * previous group's members, just woken and about to write again -- to queue
 * up behind it: PostgreSQL's commit_delay with commit_siblings.  A lone
 * writer never waits; the wait is bounded by GATHER_MAX_US. */
static void gather_sync_group(omen_db *db)
{
    if (atomic_load_explicit(&db->sync_active, memory_order_relaxed) <= 1) return;
    uint64_t deadline = now_us() + GATHER_MAX_US;
    pthread_mutex_unlock(&db->mu);
    while (atomic_load_explicit(&db->sync_queued, memory_order_relaxed) <
               atomic_load_explicit(&db->sync_active, memory_order_relaxed) &&
           now_us() < deadline)
        sched_yield();
    pthread_mutex_lock(&db->mu);
}

typedef int (*validate_fn)(void *ctx, db_sv *sv, db_writer *first, db_writer *self);

static int write_ops(omen_db *db, const unsigned char *ops, size_t ops_len, uint32_t count,
                     size_t mem_cost, validate_fn validate, void *vctx, int sync);

int db_write_ops(omen_db *db, const unsigned char *ops, size_t ops_len, uint32_t count,
                 size_t mem_cost, validate_fn validate, void *vctx, int sync)
{
    int rc = resolve_sync(db, sync, &sync);
    if (rc) return rc;
    if (sync != OMEN_SYNC_FULL) return write_ops(db, ops, ops_len, count, mem_cost, validate, vctx, sync);
    atomic_fetch_add_explicit(&db->sync_active, 1, memory_order_relaxed);
    rc = write_ops(db, ops, ops_len, count, mem_cost, validate, vctx, sync);
    atomic_fetch_sub_explicit(&db->sync_active, 1, memory_order_relaxed);
    return rc;
}

static int write_ops(omen_db *db, const unsigned char *ops, size_t ops_len, uint32_t count,
                     size_t mem_cost, validate_fn validate, void *vctx, int sync)
{
    int rc;
    if (ops_len + BATCH_HEADER > WAL_MAX_RECORD)
        return util_seterr(OMEN_TOOBIG, "write of %zu bytes exceeds the %u-byte record limit",
                           ops_len, WAL_MAX_RECORD);
    db_writer w;
    memset(&w, 0, sizeof w);
    atomic_init(&w.state, DB_W_QUEUED);
    w.bit = writer_bit();
    w.ops = ops;
    w.ops_len = ops_len;
    w.count = count;
    w.mem_cost = mem_cost;
    w.validate = validate;
    w.vctx = vctx;
    w.sync = sync;

    rc = db_check_writable(db, "write");
    if (rc) return rc;
    if (wait_turn(db, &w) == DB_W_DONE) return w.status;

    /* Leader.  count == 0 && !validate is a flush request (omen_flush). */
    int flush_req = count == 0 && !validate && ops == NULL;
    if (sync == OMEN_SYNC_FULL && !flush_req) gather_sync_group(db);
    rc = make_room(db, flush_req);
    if (rc || flush_req) {
        w.status = rc;
        finish_group(db, &w, &w); /* releases mu */
        return rc;
    }
    db_writer *last = &w;
    size_t total = ops_len;
    size_t cap = ops_len <= GROUP_SMALL_BYTES ? ops_len + GROUP_SMALL_BYTES : GROUP_MAX_BYTES;
    int has_txn = validate != NULL;
    for (db_writer *x = next_of(&w); x; x = next_of(x)) {
        if (x->ops == NULL && x->count == 0 && !x->validate) break; /* flush request leads alone */
        if (total + x->ops_len > cap) break;
        total += x->ops_len;
        has_txn |= x->validate != NULL;
        last = x;
    }
    uint64_t seq0 = atomic_load_explicit(&db->last_seq, memory_order_relaxed) + 1;
    mt *mem = db->mem;
    wal_writer *wal = db->wal;
    db_sv *vsv = has_txn ? db_sv_get(db) : NULL;
    pthread_mutex_unlock(&db->mu);

    /* Serialized section: only the leader runs here. */
    size_t niov = 1, memcost = 0;
    uint32_t n = 0;
    int do_sync = 0;
    for (db_writer *x = &w;; x = next_of(x)) {
        x->status = OMEN_OK;
        if (x->validate) x->status = x->validate(x->vctx, vsv, &w, x);
        if (x->status == OMEN_OK && x->count) {
            n += x->count;
            niov++;
            memcost += x->mem_cost;
        }
        if (x->status == OMEN_OK) do_sync |= x->sync == OMEN_SYNC_FULL;
        if (x == last) break;
    }
    if (vsv) db_sv_put(vsv);
    rc = OMEN_OK;
    if (n > 0) {
        rc = ensure_iov(db, niov);
        if (!rc) rc = mt_reserve(mem, memcost, n);
        if (!rc) {
            unsigned char hdr[BATCH_HEADER];
            batch_put_header(hdr, seq0, n);
            db->iov[0].iov_base = hdr;
            db->iov[0].iov_len = BATCH_HEADER;
            size_t k = 1;
            for (db_writer *x = &w;; x = next_of(x)) {
                if (x->status == OMEN_OK && x->count) {
                    db->iov[k].iov_base = (void *)x->ops;
                    db->iov[k].iov_len = x->ops_len;
                    k++;
                }
                if (x == last) break;
            }
            /* Before a synced record: every earlier log durable (and the
             * record marked as written after that). */
            if (do_sync) rc = db_sync_imm_wal(db);
            if (!rc)
                rc = do_sync ? wal_append_synced_v(wal, db->iov, (int)k)
                             : wal_append_v(wal, db->iov, (int)k);
            if (!rc && do_sync) rc = wal_sync(wal);
            if (rc) {
                db_set_fatal(db, rc, do_sync ? "writing or syncing the write-ahead log"
                                             : "writing the write-ahead log");
            } else {
                atomic_fetch_add_explicit(&db->st_wal_bytes,
                                          total + BATCH_HEADER + WAL_RECORD_HEADER_SIZE,
                                          memory_order_relaxed);
                uint64_t s = seq0;
                for (db_writer *x = &w;; x = next_of(x)) {
                    if (x->status == OMEN_OK && x->count) {
                        int arc = apply_ops(mem, x->ops, x->ops_len, x->count, s);
                        if (arc) x->status = arc; /* cannot happen: memory reserved */
                        s += x->count;
                    }
                    if (x == last) break;
                }
            }
        }
        if (rc) {
            for (db_writer *x = &w;; x = next_of(x)) {
                if (x->status == OMEN_OK) x->status = rc;
                if (x == last) break;
            }
        }
    } else if (do_sync) {
        /* A group of omen_sync requests only: make the logs durable. */
        rc = db_sync_imm_wal(db);
        if (!rc) rc = wal_sync(wal);
        if (rc) {
            db_set_fatal(db, rc, "syncing the write-ahead log");
            for (db_writer *x = &w;; x = next_of(x)) {
                if (x->status == OMEN_OK) x->status = rc;
                if (x == last) break;
            }
        }
    }

    pthread_mutex_lock(&db->mu);
    if (n > 0 && rc == OMEN_OK)
        atomic_store_explicit(&db->last_seq, seq0 + n - 1, memory_order_release);
    finish_group(db, &w, last); /* releases mu */
    return w.status;
}

int db_sync_imm_wal(omen_db *db)
{
    if (!atomic_load_explicit(&db->imm_wal, memory_order_acquire)) return OMEN_OK;
    pthread_mutex_lock(&db->imm_wal_mu);
    wal_writer *w = atomic_load_explicit(&db->imm_wal, memory_order_acquire);
    int rc = OMEN_OK;
    if (w) {
        /* Only this function (under imm_wal_mu) syncs and closes it. */
        rc = wal_sync(w);
        if (rc) {
            db_set_fatal(db, rc, "syncing the write-ahead log");
        } else {
            pthread_mutex_lock(&db->mu); /* db->wal */
            atomic_store_explicit(&db->imm_wal, NULL, memory_order_release);
            wal_mark_earlier_durable(db->wal);
            pthread_mutex_unlock(&db->mu);
            wal_writer_close(w);
        }
    }
    pthread_mutex_unlock(&db->imm_wal_mu);
    return rc;
}

/* ---- public write calls ------------------------------------------------------- */

int omen_put(omen_db *db, const void *key, size_t klen, const void *val, size_t vlen, int sync)
{
    int rc = db_check_writable(db, "omen_put");
    if (rc) return rc;
    if ((rc = batch_check_kv("omen_put", key, klen, val, vlen)) != OMEN_OK) return rc;
    if (key && db_key_reserved(key, klen))
        return util_seterr(OMEN_INVALID, "omen_put: the key is in the engine's reserved range (docs/format.md)");
    if (klen > OMEN_MAX_KEY_LEN)
        return util_seterr(OMEN_TOOBIG, "omen_put: key of %zu bytes exceeds the %u-byte limit",
                           klen, OMEN_MAX_KEY_LEN);
    if (vlen > OMEN_MAX_VALUE_LEN)
        return util_seterr(OMEN_TOOBIG,
                           "omen_put: value of %zu bytes exceeds the %u-byte limit", vlen,
                           OMEN_MAX_VALUE_LEN);
    /* Encode on the stack when small: no allocation on the hot path. */
    unsigned char stackbuf[512];
    size_t need = batch_op_bound(klen, vlen);
    unsigned char *buf = need <= sizeof stackbuf ? stackbuf : util_malloc(need);
    if (!buf) return util_seterr(OMEN_NOMEM, "omen_put: out of memory");
    unsigned char *p = batch_encode_op(buf, MT_TYPE_PUT, key, klen, val, vlen);
    rc = db_write_ops(db, buf, (size_t)(p - buf), 1, mt_entry_cost(klen, vlen), NULL, NULL, sync);
    if (buf != stackbuf) omen_free(buf);
    return rc;
}

int omen_delete(omen_db *db, const void *key, size_t klen, int sync)
{
    int rc = db_check_writable(db, "omen_delete");
    if (rc) return rc;
    if ((rc = batch_check_kv("omen_delete", key, klen, NULL, 0)) != OMEN_OK) return rc;
    if (key && db_key_reserved(key, klen))
        return util_seterr(OMEN_INVALID, "omen_delete: the key is in the engine's reserved range (docs/format.md)");
    if (klen > OMEN_MAX_KEY_LEN)
        return util_seterr(OMEN_TOOBIG, "omen_delete: key of %zu bytes exceeds the %u-byte limit",
                           klen, OMEN_MAX_KEY_LEN);
    unsigned char stackbuf[512];
    size_t need = batch_op_bound(klen, 0);
    unsigned char *buf = need <= sizeof stackbuf ? stackbuf : util_malloc(need);
    if (!buf) return util_seterr(OMEN_NOMEM, "omen_delete: out of memory");
    unsigned char *p = batch_encode_op(buf, MT_TYPE_DELETE, key, klen, NULL, 0);
    rc = db_write_ops(db, buf, (size_t)(p - buf), 1, mt_entry_cost(klen, 0), NULL, NULL, sync);
    if (buf != stackbuf) omen_free(buf);
    return rc;
}

int omen_write(omen_db *db, omen_batch *b, int sync)
{
    int rc = db_check_writable(db, "omen_write");
    if (rc) return rc;
    if (!b) return util_seterr(OMEN_INVALID, "omen_write: NULL batch");
    if (b->count == 0) return resolve_sync(db, sync, &sync);
    rc = db_write_ops(db, batch_ops(b), batch_ops_len(b), b->count, b->mem_cost, NULL, NULL, sync);
    if (rc == OMEN_OK && b->hook.apply) b->hook.apply(b->hook.arg);
    return rc;
}

/* omen_sync outside the writer queue: the fdatasync runs while writers go
 * on appending, instead of holding every one of them behind it (omendb-
 * server's event loop stalled ~10-18 ms on each once-a-second sync).  It
 * covers every write whose call returned before this one began: those
 * bytes are in the current log's page cache, or in the log switched out
 * before it, which is synced first.  Through a descriptor of its own, not the
 * writer's: the kernel reports a write-back error to each open file
 * description, so the writer's next sync of the log fails too, and no
 * synced write can be acknowledged past a failure seen here.  1 if it
 * could not open the log (the caller then syncs through the queue). */
static int sync_log_apart(omen_db *db, int *rc)
{
    char *fn = NULL;
    fio_file *f = NULL;
    pthread_mutex_lock(&db->mu);
    uint64_t num = db->wal_number;
    int orc = db_filename(db->path, num, "wal", &fn);
    if (!orc) orc = fio_open(fn, FIO_READ, &f); /* under mu: the log cannot be switched out meanwhile */
    pthread_mutex_unlock(&db->mu);
    omen_free(fn);
    if (orc) {
        util_clearerr();
        return 1;
    }
    /* Earlier logs first (the one switched out, if unsynced; num itself if
     * a switch came after it was read). */
    *rc = db_sync_imm_wal(db);
    if (*rc == OMEN_OK) *rc = fio_sync(f);
    if (fio_close(f) != OMEN_OK) util_clearerr(); /* read-only: nothing to lose */
    if (*rc == OMEN_OK && atomic_load(&db->apart_dir_synced) != num) {
        *rc = fio_sync_dir(db->path); /* the log's directory entry */
        if (*rc == OMEN_OK) atomic_store(&db->apart_dir_synced, num);
    }
    if (*rc) {
        db_set_fatal(db, *rc, "syncing the write-ahead log");
        *rc = OMEN_IO;
        return 0;
    }
    /* A descriptor opened after a write-back error was already reported
     * (to the writer's sync, which then turns the handle read-only) does
     * not see it again: a handle that went read-only meanwhile fails
     * this sync too. */
    *rc = db_check_writable(db, "omen_sync");
    return 0;
}

int omen_sync(omen_db *db)
{
    int rc = db_check_writable(db, "omen_sync");
    if (rc) return rc;
    if (sync_log_apart(db, &rc) == 0) return rc;
    /* An empty synced request (non-NULL ops, unlike a flush request): its
     * leader fdatasyncs the log, covering every write appended before. */
    static const unsigned char none[1];
    return db_write_ops(db, none, 0, 0, 0, NULL, NULL, OMEN_SYNC_FULL);
}

int omen_flush(omen_db *db)
{
    int rc = db_check_writable(db, "omen_flush");
    if (rc) return rc;
    /* Become leader with an empty request: switches the memtable. */
    rc = db_write_ops(db, NULL, 0, 0, 0, NULL, NULL, OMEN_SYNC_RELAXED);
    if (rc) return rc;
    pthread_mutex_lock(&db->mu);
    while (db->imm && !atomic_load(&db->read_only) && !db->shutting_down) {
        pthread_cond_signal(&db->flush_cv);
        pthread_cond_wait(&db->bg_cv, &db->mu);
    }
    rc = atomic_load(&db->read_only) ? db_check_writable(db, "omen_flush") : OMEN_OK;
    pthread_mutex_unlock(&db->mu);
    return rc;
}
