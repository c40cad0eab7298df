/*
 * test_fault.c -- I/O-error, out-of-memory and power-loss tests, in the
 * style of SQLite's I/O-error and malloc-failure loops.
 *
 * 1. Error loops.  A fixed workload (open with WAL recovery, puts, deletes,
 *    batches, transactions, a flush, a compaction, close) runs under the
 *    fault-injecting file env (storage/fio_fault.h).  For N = 1, 2, ... the
 *    Nth operation of one kind (open, write, fsync, rename, unlink; sticky:
 *    the disk stays dead, or once: it comes back) fails, or the Nth
 *    allocation fails (util_mem_fail_after).  Calls may fail; the test
 *    records which writes were acknowledged.  Then: close (must not crash or
 *    leak: ASan runs this too), simulated power loss (only synced data
 *    stays), env removed, reopen, and the invariants:
 *      - every acknowledged write (all are OMEN_SYNC_FULL) is present whole;
 *      - a key holds either its last acknowledged value or the value of a
 *        later unacknowledged write, nothing else;
 *      - every batch and transaction is all-or-nothing;
 *      - omen_check passes after recovery.
 *    The loop ends when the workload ran through without reaching N.
 * 2. Read-only after a failed fsync / WAL write: later writes return
 *    OMEN_READONLY, stats.read_only = 1, reads still work, reopen recovers.
 * 3. Power loss.  Random workloads mixing OMEN_SYNC_FULL and relaxed
 *    writes, batches, flushes; at random points the "machine dies" (every
 *    later disk mutation fails, the handle is closed, and
 *    fio_fault_power_loss discards unsynced data in one of three ways:
 *    drop, torn tail, scrambled tail).  After reopen the database must equal
 *    the oracle state after some prefix of the operations that includes
 *    every write acknowledged as durable (FULL write or omen_flush).
 *
 * The totals (operations failed, power losses, invariants checked) are
 * printed at the end.  Environment: OMEN_POWER_ITERS (power losses per mode,
 * default 6), OMEN_CRASH_SEED, OMEN_FAULT_EXHAUSTIVE=1 (every N, not a
 * growing stride).
 */
#include "support/fio_fault.h"
#include "testutil.h"
#include "util/mem.h"

static unsigned long g_failed_ops, g_power_losses, g_invariants, g_loops;

/* ---- The fixed workload ------------------------------------------------- */

#define NSHARED 8
#define NWOPS 30
#define GROUP 4

enum { W_PUT, W_DEL, W_BATCH, W_TXN };

typedef struct wop {
    int kind, key, acked;
} wop;

static unsigned char g_val[2048];

static size_t shared_key(int k, char *out)
{
    return (size_t)sprintf(out, "s%02d", k);
}

static size_t group_key(int id, int i, char *out)
{
    return (size_t)sprintf(out, "g%03d-%d", id, i);
}

/* Values are unique per (op id, slot) and a few hundred bytes long so the
 * 8 KiB write buffer fills and flushes happen in the background. */
static size_t value_for(int id, int slot, unsigned char *out)
{
    int n = sprintf((char *)out, "v%d.%d:", id, slot);
    size_t len = (size_t)n + 150 + (size_t)((id * 37 + slot * 11) % 400);
    for (size_t i = (size_t)n; i < len; i++)
        out[i] = (unsigned char)('a' + (i * 7 + (size_t)id) % 26);
    return len;
}

static void workload_plan(wop *ops)
{
    for (int i = 0; i < NWOPS; i++) {
        int j = i % 10;
        ops[i].acked = 0;
        ops[i].key = (i * 7) % NSHARED;
        ops[i].kind = j <= 4 || j == 9 ? W_PUT : j == 5 ? W_DEL : j <= 7 ? W_BATCH : W_TXN;
    }
}

static void wl_options(omen_options *o)
{
    omen_options_init(o);
    o->write_buffer_size = 8 * 1024;
    o->sync = OMEN_SYNC_FULL;
    o->cache_size = 64 * 1024;
}

/* Run the workload; fills ops[].acked.  Never asserts on engine results
 * (every call may fail under injection); only checks that errors are
 * codes, not crashes. */
static void workload_run(const char *path, wop *ops)
{
    omen_options o;
    wl_options(&o);
    omen_db *db = NULL;
    int rc = omen_open(path, &o, &db);
    if (rc != OMEN_OK) {
        assert_null(db);
        return;
    }
    char k[32];
    for (int i = 0; i < NWOPS; i++) {
        wop *w = &ops[i];
        if (w->kind == W_PUT) {
            size_t vl = value_for(i, 0, g_val);
            rc = omen_put(db, k, shared_key(w->key, k), g_val, vl, OMEN_SYNC_FULL);
        } else if (w->kind == W_DEL) {
            rc = omen_delete(db, k, shared_key(w->key, k), OMEN_SYNC_FULL);
        } else if (w->kind == W_BATCH) {
            omen_batch *b = NULL;
            rc = omen_batch_create(&b);
            for (int g = 0; g < GROUP && rc == OMEN_OK; g++) {
                size_t vl = value_for(i, g, g_val);
                rc = omen_batch_put(b, k, group_key(i, g, k), g_val, vl);
            }
            if (rc == OMEN_OK)
                rc = omen_write(db, b, OMEN_SYNC_FULL);
            omen_batch_destroy(b);
        } else {
            omen_txn *t = NULL;
            rc = omen_txn_begin(db, &t);
            if (rc == OMEN_OK) {
                void *v = NULL;
                size_t vl = 0;
                int grc = omen_txn_get(t, k, shared_key(w->key, k), &v, &vl);
                omen_free(v);
                if (grc != OMEN_OK && grc != OMEN_NOTFOUND)
                    rc = grc;
                for (int g = 0; g < GROUP - 1 && rc == OMEN_OK; g++) {
                    vl = value_for(i, g, g_val);
                    rc = omen_txn_put(t, k, group_key(i, g, k), g_val, vl);
                }
                if (rc == OMEN_OK) {
                    rc = omen_txn_commit(t, OMEN_SYNC_FULL);
                } else {
                    omen_txn_rollback(t);
                }
            }
        }
        assert_true(rc >= OMEN_OK && rc <= OMEN_BUSY);
        w->acked = rc == OMEN_OK;
        if (i == 12)
            (void)omen_flush(db);
        if (i == 22)
            (void)omen_compact_range(db, NULL, 0, NULL, 0);
        if (i % 20 == 0) {
            /* Reads under failure: any clean answer is fine. */
            void *v = NULL;
            size_t vl = 0;
            rc = omen_get(db, NULL, "p07", 3, &v, &vl);
            assert_true(rc == OMEN_OK || rc == OMEN_NOTFOUND || rc == OMEN_IO ||
                        rc == OMEN_NOMEM || rc == OMEN_CORRUPT);
            omen_free(v);
            omen_iter *it = NULL;
            if (omen_iter_create(db, NULL, &it) == OMEN_OK) {
                int n = 0;
                for (omen_iter_seek_first(it); omen_iter_valid(it) && n < 50; omen_iter_next(it))
                    n++;
                omen_iter_destroy(it);
            }
        }
    }
    (void)omen_close(db);
}

/* Check the recovered database against the workload's acknowledgements. */
static void workload_verify(const char *path, const wop *ops, const char *what, long n)
{
    omen_options o;
    wl_options(&o);
    omen_db *db = NULL;
    int rc = omen_open(path, &o, &db);
    if (rc != OMEN_OK)
        tu_fail("%s N=%ld: reopen after faults: %s (%s)", what, n, omen_strerror(rc),
                omen_last_error());
    char k[32];
    /* Pre-existing keys (acknowledged before any fault). */
    for (int p = 0; p < 30; p++) {
        int kl = sprintf(k, "p%02d", p);
        void *v = NULL;
        size_t vl = 0;
        rc = omen_get(db, NULL, k, (size_t)kl, &v, &vl);
        if (rc != OMEN_OK || vl != 5 || memcmp(v, "base.", 5) != 0)
            tu_fail("%s N=%ld: pre-existing key %s: %s", what, n, k, omen_strerror(rc));
        omen_free(v);
        g_invariants++;
    }
    /* Shared keys: last acknowledged effect, or a later unacknowledged one. */
    for (int key = 0; key < NSHARED; key++) {
        size_t kl = shared_key(key, k);
        void *v = NULL;
        size_t vl = 0;
        rc = omen_get(db, NULL, k, kl, &v, &vl);
        if (rc != OMEN_OK && rc != OMEN_NOTFOUND)
            tu_fail("%s N=%ld: get %s: %s", what, n, k, omen_strerror(rc));
        int last = -1;
        for (int i = 0; i < NWOPS; i++)
            if ((ops[i].kind == W_PUT || ops[i].kind == W_DEL) && ops[i].key == key &&
                ops[i].acked)
                last = i;
        /* Candidates: the last acknowledged state (absent if none), then each
         * unacknowledged write to the key after it. */
        int ok = 0;
        for (int i = last; i < NWOPS && !ok; i++) {
            if (i >= 0 && !((ops[i].kind == W_PUT || ops[i].kind == W_DEL) && ops[i].key == key))
                continue;
            if (i < 0 || ops[i].kind == W_DEL) {
                ok = rc == OMEN_NOTFOUND;
            } else if (rc == OMEN_OK) {
                size_t el = value_for(i, 0, g_val);
                ok = el == vl && memcmp(v, g_val, el) == 0;
            }
            if (i < 0)
                i = last; /* == -1: the loop's i++ moves on to op 0 */
        }
        if (!ok)
            tu_fail("%s N=%ld: key %s is %s, not its last acknowledged state (op %d) nor a "
                    "later attempted write",
                    what, n, k, rc == OMEN_OK ? "present" : "absent", last);
        omen_free(v);
        g_invariants++;
    }
    /* Batches and transactions: all or nothing, whole when acknowledged. */
    for (int i = 0; i < NWOPS; i++) {
        if (ops[i].kind != W_BATCH && ops[i].kind != W_TXN)
            continue;
        int nk = ops[i].kind == W_BATCH ? GROUP : GROUP - 1, present = 0;
        for (int g = 0; g < nk; g++) {
            size_t kl = group_key(i, g, k);
            void *v = NULL;
            size_t vl = 0;
            rc = omen_get(db, NULL, k, kl, &v, &vl);
            if (rc == OMEN_OK) {
                size_t el = value_for(i, g, g_val);
                if (el != vl || memcmp(v, g_val, el) != 0)
                    tu_fail("%s N=%ld: %s has a wrong value", what, n, k);
                present++;
            } else if (rc != OMEN_NOTFOUND) {
                tu_fail("%s N=%ld: get %s: %s", what, n, k, omen_strerror(rc));
            }
            omen_free(v);
        }
        if (ops[i].acked && present != nk)
            tu_fail("%s N=%ld: acknowledged %s %d lost %d of %d keys", what, n,
                    ops[i].kind == W_BATCH ? "batch" : "txn", i, nk - present, nk);
        if (present != 0 && present != nk)
            tu_fail("%s N=%ld: %s %d half-applied (%d of %d keys)", what, n,
                    ops[i].kind == W_BATCH ? "batch" : "txn", i, present, nk);
        g_invariants++;
    }
    /* The recovered handle is writable and healthy. */
    omen_stats st;
    TU_OK(omen_get_stats(db, &st));
    assert_int_equal(st.read_only, 0);
    TU_OK(omen_put(db, "after", 5, "x", 1, OMEN_SYNC_FULL));
    TU_OK(omen_close(db));
    rc = tu_check_db(path, 0);
    if (rc != OMEN_OK) {
        tu_check_db(path, 1);
        tu_fail("%s N=%ld: omen_check after recovery: %s", what, n, omen_strerror(rc));
    }
    g_invariants++;
}

/* Template database with a WAL to replay: the workload's open recovers it
 * under injection too. */
static void make_template(const char *tpl)
{
    omen_options o;
    wl_options(&o);
    o.sync = OMEN_SYNC_RELAXED;
    o.write_buffer_size = 1 << 20;
    omen_db *db = NULL;
    TU_OK(omen_open(tpl, &o, &db));
    char k[32];
    for (int p = 0; p < 30; p++) {
        int kl = sprintf(k, "p%02d", p);
        TU_OK(omen_put(db, k, (size_t)kl, "base.", 5, OMEN_SYNC_DEFAULT));
        if (p == 14)
            TU_OK(omen_flush(db)); /* one run + a WAL */
    }
    TU_OK(omen_close(db));
}

#define MAX_N 5000

/* kinds == 0: allocation failures. */
static void error_loop(int kinds, int flags, const char *what)
{
    char tpl[PATH_MAX], path[PATH_MAX], name[64];
    snprintf(name, sizeof name, "tpl-%s", what);
    tu_path(tpl, sizeof tpl, name);
    snprintf(name, sizeof name, "db-%s", what);
    tu_path(path, sizeof path, name);
    make_template(tpl);
    wop ops[NWOPS];
    long n, iters = 0, failed = 0;
    int done = 0;
    /* Every N while N is small (each early failure point is a distinct code
     * path: open, recovery, first write...), then a growing stride so that
     * `make test` stays quick; OMEN_FAULT_EXHAUSTIVE=1 tries every N. */
    int exhaustive = tu_env_u64("OMEN_FAULT_EXHAUSTIVE", 0) != 0;
    for (n = 1; n < MAX_N && !done;
         n += exhaustive ? (kinds ? 1 : 1 + n / 64) : n < 8 ? 1 : 1 + n / (kinds ? 4 : 6)) {
        assert_int_equal(tu_copy_dir(tpl, path), 0);
        workload_plan(ops);
        long nfail;
        if (kinds) {
            fio_fault_install();
            fio_fault_seed((uint64_t)n);
            /* flags < 0: alternate whole and half-written failed writes. */
            fio_fault_fail_nth(kinds, n,
                               flags >= 0 ? flags
                                          : FIO_FAULT_STICKY | (n % 2 ? FIO_FAULT_PARTIAL : 0));
            workload_run(path, ops);
            nfail = fio_fault_failures();
            /* The machine dies right after: keep only what was synced. */
            assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
            g_power_losses++;
            fio_fault_fail_nth(0, 0, 0);
            fio_fault_remove();
        } else {
            (void)util_mem_failures();
            util_mem_fail_after(n - 1);
            workload_run(path, ops);
            util_mem_fail_after(-1);
            nfail = (long)util_mem_failures();
        }
        failed += nfail;
        done = nfail == 0;
        workload_verify(path, ops, what, n);
        iters++;
        tu_rmrf(path);
    }
    if (!done)
        tu_fail("%s: the workload still hit the fault at N=%d", what, MAX_N);
    int acked = 0;
    for (int i = 0; i < NWOPS; i++)
        acked += ops[i].acked;
    /* The final, fault-free pass must have acknowledged everything. */
    assert_int_equal(acked, NWOPS);
    printf("fault loop %-12s: %ld runs, %ld injected failures\n", what, iters, failed);
    g_failed_ops += (unsigned long)failed;
    g_loops += (unsigned long)iters;
    tu_rmrf(tpl);
}

static void test_fault_write(void **state)
{
    (void)state;
    error_loop(FIO_FAULT_WRITE, -1, "write");
}

static void test_fault_sync(void **state)
{
    (void)state;
    error_loop(FIO_FAULT_SYNC, FIO_FAULT_STICKY, "fsync");
}

static void test_fault_rename_open_unlink(void **state)
{
    (void)state;
    error_loop(FIO_FAULT_RENAME, FIO_FAULT_STICKY, "rename");
    error_loop(FIO_FAULT_OPEN, FIO_FAULT_STICKY, "open");
    error_loop(FIO_FAULT_UNLINK, FIO_FAULT_STICKY, "unlink");
}

/* A transient failure: only the Nth mutating operation fails, the disk then
 * works again (a full, then freed, file system). */
static void test_fault_transient(void **state)
{
    (void)state;
    error_loop(FIO_FAULT_MUTATING, 0, "transient");
}

static void test_fault_nomem(void **state)
{
    (void)state;
    error_loop(0, 0, "nomem");
}

/* ---- Read-only after a fatal I/O error ----------------------------------- */

static void readonly_case(int kind, int flags, const char *name)
{
    char path[PATH_MAX];
    tu_path(path, sizeof path, name);
    omen_options o;
    wl_options(&o);
    o.write_buffer_size = 1 << 20;
    fio_fault_install();
    omen_db *db = NULL;
    TU_OK(omen_open(path, &o, &db));
    TU_OK(omen_put(db, "a", 1, "1", 1, OMEN_SYNC_FULL));
    fio_fault_fail_nth(kind, 1, flags);
    int rc = omen_put(db, "b", 1, "2", 1, OMEN_SYNC_FULL);
    if (rc != OMEN_IO)
        tu_fail("%s: put under a failing %s returned %s, want OMEN_IO", name,
                kind == FIO_FAULT_SYNC ? "fsync" : "write", omen_strerror(rc));
    assert_int_equal(fio_fault_failures(), 1);
    fio_fault_fail_nth(0, 0, 0); /* the disk works again: the handle must not */
    assert_int_equal(omen_put(db, "c", 1, "3", 1, OMEN_SYNC_FULL), OMEN_READONLY);
    assert_int_equal(omen_put(db, "c", 1, "3", 1, OMEN_SYNC_RELAXED), OMEN_READONLY);
    assert_int_equal(omen_delete(db, "a", 1, OMEN_SYNC_FULL), OMEN_READONLY);
    omen_batch *b = NULL;
    TU_OK(omen_batch_create(&b));
    TU_OK(omen_batch_put(b, "d", 1, "4", 1));
    assert_int_equal(omen_write(db, b, OMEN_SYNC_FULL), OMEN_READONLY);
    omen_batch_destroy(b);
    omen_txn *t = NULL;
    rc = omen_txn_begin(db, &t);
    if (rc == OMEN_OK) {
        TU_OK(omen_txn_put(t, "e", 1, "5", 1));
        assert_int_equal(omen_txn_commit(t, OMEN_SYNC_FULL), OMEN_READONLY);
    } else {
        assert_int_equal(rc, OMEN_READONLY);
    }
    omen_stats st;
    TU_OK(omen_get_stats(db, &st));
    assert_int_equal(st.read_only, 1);
    /* Reads keep working. */
    void *v = NULL;
    size_t vl = 0;
    TU_OK(omen_get(db, NULL, "a", 1, &v, &vl));
    assert_true(vl == 1 && memcmp(v, "1", 1) == 0);
    omen_free(v);
    assert_int_equal(omen_get(db, NULL, "c", 1, &v, &vl), OMEN_NOTFOUND);
    (void)omen_close(db);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    g_power_losses++;
    fio_fault_remove();
    g_failed_ops++;

    TU_OK(omen_open(path, &o, &db));
    TU_OK(omen_get(db, NULL, "a", 1, &v, &vl));
    assert_true(vl == 1 && memcmp(v, "1", 1) == 0);
    omen_free(v);
    rc = omen_get(db, NULL, "b", 1, &v, &vl);
    if (flags & FIO_FAULT_PARTIAL) /* half a record can never be replayed */
        assert_int_equal(rc, OMEN_NOTFOUND);
    else
        assert_true(rc == OMEN_NOTFOUND || (rc == OMEN_OK && vl == 1 && !memcmp(v, "2", 1)));
    omen_free(v);
    TU_OK(omen_get_stats(db, &st));
    assert_int_equal(st.read_only, 0);
    TU_OK(omen_put(db, "f", 1, "6", 1, OMEN_SYNC_FULL));
    TU_OK(omen_close(db));
    TU_OK(tu_check_db(path, 1));
    g_invariants += 8;
    tu_rmrf(path);
}

static void test_readonly_after_fsync_failure(void **state)
{
    (void)state;
    readonly_case(FIO_FAULT_SYNC, 0, "ro-fsync");
}

static void test_readonly_after_wal_write_failure(void **state)
{
    (void)state;
    readonly_case(FIO_FAULT_WRITE, 0, "ro-write");
    readonly_case(FIO_FAULT_WRITE, FIO_FAULT_PARTIAL, "ro-write-partial");
}

/* ---- Power loss ------------------------------------------------------------ */

#define PL_KEYS 120

typedef struct plop {
    int n;
    int keys[6];
    int del[6];
    uint64_t tag;
} plop;

static size_t pl_value(uint64_t tag, int key, unsigned char *out)
{
    int n = sprintf((char *)out, "t%llu.k%d:", (unsigned long long)tag, key);
    size_t len = (size_t)n + (size_t)((tag * 31 + (uint64_t)key * 17) % 300);
    for (size_t i = (size_t)n; i < len; i++)
        out[i] = (unsigned char)(i ^ tag);
    return len;
}

static void pl_apply(tu_map *m, const plop *p)
{
    char k[32];
    for (int i = 0; i < p->n; i++) {
        int kl = sprintf(k, "pk%04d", p->keys[i]);
        if (p->del[i]) {
            tu_map_del(m, k, (size_t)kl);
        } else {
            size_t vl = pl_value(p->tag, p->keys[i], g_val);
            tu_map_put(m, k, (size_t)kl, g_val, vl);
        }
    }
}

static void power_mode(int mode, const char *name, long iters, uint64_t seed)
{
    char path[PATH_MAX];
    tu_path(path, sizeof path, name);
    tu_rng r = {seed * 31 + (uint64_t)mode};
    tu_map durable = {0}; /* state after the last write known durable */
    plop *log = malloc(400 * sizeof *log);
    size_t nlog = 0;
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 8 * 1024;
    o.sync = OMEN_SYNC_RELAXED;
    uint64_t tag = 1;
    unsigned long matched_prefix_total = 0, lost_total = 0;
    char k[32];
    fio_fault_install();
    fio_fault_seed(seed + (uint64_t)mode);
    for (long it = 0; it <= iters; it++) {
        omen_db *db = NULL;
        int rc = omen_open(path, &o, &db);
        if (rc != OMEN_OK)
            tu_fail("%s power loss %ld: reopen: %s (%s)", name, it, omen_strerror(rc),
                    omen_last_error());
        /* Verify the recovered state: oracle after some prefix of the log. */
        if (it > 0) {
            tu_map got;
            rc = tu_dump(db, NULL, &got);
            if (rc != OMEN_OK)
                tu_fail("%s power loss %ld: scan: %s", name, it, omen_strerror(rc));
            tu_map cur;
            tu_map_copy(&cur, &durable);
            size_t j = 0;
            int found = tu_map_equal(&got, &cur);
            while (!found && j < nlog) {
                pl_apply(&cur, &log[j++]);
                found = tu_map_equal(&got, &cur);
            }
            if (!found) {
                size_t miss = 0, extra = 0;
                for (size_t i = 0; i < durable.n; i++)
                    miss += tu_map_get(&got, durable.a[i].k, durable.a[i].kl) == NULL;
                for (size_t i = 0; i < got.n; i++)
                    extra += tu_map_get(&cur, got.a[i].k, got.a[i].kl) == NULL;
                tu_fail("%s power loss %ld: recovered state (%zu keys) is no prefix of the %zu "
                        "operations after the last durable point (%zu keys; %zu durable keys "
                        "missing, %zu keys unknown to the final state)",
                        name, it, got.n, nlog, durable.n, miss, extra);
            }
            matched_prefix_total += j;
            lost_total += nlog - j;
            tu_map_clear(&durable);
            durable = cur;
            nlog = 0;
            tu_map_clear(&got);
            g_invariants++;
            /* Point reads agree with the scan. */
            tu_check_gets(db, NULL, &durable);
            g_invariants += durable.n;
        }
        if (it == iters) {
            TU_OK(omen_close(db));
            break;
        }
        /* A random stretch of work. */
        long nops = 5 + (long)tu_below(&r, 120);
        for (long i = 0; i < nops && nlog < 400; i++) {
            plop p;
            memset(&p, 0, sizeof p);
            p.tag = tag++;
            uint64_t x = tu_below(&r, 100);
            int sync = tu_below(&r, 4) == 0 ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED;
            if (x < 3) {
                TU_OK(omen_flush(db));
                /* Everything written before a completed flush is durable. */
                for (size_t j = 0; j < nlog; j++)
                    pl_apply(&durable, &log[j]);
                nlog = 0;
                continue;
            }
            if (x < 5) {
                TU_OK(omen_compact_range(db, NULL, 0, NULL, 0));
                continue;
            }
            if (x < 70) {
                p.n = 1;
                p.keys[0] = (int)tu_below(&r, PL_KEYS);
                p.del[0] = tu_below(&r, 6) == 0;
                int kl = sprintf(k, "pk%04d", p.keys[0]);
                if (p.del[0]) {
                    TU_OK(omen_delete(db, k, (size_t)kl, sync));
                } else {
                    size_t vl = pl_value(p.tag, p.keys[0], g_val);
                    TU_OK(omen_put(db, k, (size_t)kl, g_val, vl, sync));
                }
            } else {
                omen_batch *b = NULL;
                TU_OK(omen_batch_create(&b));
                p.n = 2 + (int)tu_below(&r, 5);
                for (int g = 0; g < p.n; g++) {
                    p.keys[g] = (int)((tu_below(&r, PL_KEYS / 6) * 6 + (uint64_t)g) % PL_KEYS);
                    p.del[g] = tu_below(&r, 5) == 0;
                    int kl = sprintf(k, "pk%04d", p.keys[g]);
                    if (p.del[g]) {
                        TU_OK(omen_batch_delete(b, k, (size_t)kl));
                    } else {
                        size_t vl = pl_value(p.tag, p.keys[g], g_val);
                        TU_OK(omen_batch_put(b, k, (size_t)kl, g_val, vl));
                    }
                }
                TU_OK(omen_write(db, b, sync));
                omen_batch_destroy(b);
            }
            log[nlog++] = p;
            if (sync == OMEN_SYNC_FULL) {
                for (size_t j = 0; j < nlog; j++)
                    pl_apply(&durable, &log[j]);
                nlog = 0;
            }
        }
        /* The power goes: nothing reaches the disk any more, the process
         * state is discarded, and unsynced data is lost (mode). */
        fio_fault_fail_nth(FIO_FAULT_MUTATING, 1, FIO_FAULT_STICKY);
        (void)omen_close(db);
        g_failed_ops += (unsigned long)fio_fault_failures();
        assert_int_equal(fio_fault_power_loss(mode), OMEN_OK);
        fio_fault_fail_nth(0, 0, 0);
        g_power_losses++;
    }
    fio_fault_remove();
    int rc = tu_check_db(path, 0);
    if (rc != OMEN_OK) {
        tu_check_db(path, 1);
        tu_fail("%s: omen_check after %ld power losses: %s", name, iters, omen_strerror(rc));
    }
    g_invariants++;
    printf("power loss %-9s: %ld losses; %lu unsynced ops survived, %lu lost (all synced "
           "ops kept)\n",
           name, iters, matched_prefix_total, lost_total);
    tu_map_clear(&durable);
    free(log);
    tu_rmrf(path);
}

static void test_power_loss(void **state)
{
    (void)state;
    long iters = (long)tu_env_u64("OMEN_POWER_ITERS", 6);
    uint64_t seed = tu_env_u64("OMEN_CRASH_SEED", 20261124);
    power_mode(FIO_POWER_DROP, "drop", iters, seed);
    power_mode(FIO_POWER_TEAR, "tear", iters, seed);
    power_mode(FIO_POWER_SCRAMBLE, "scramble", iters, seed);
}

static int print_totals(void **state)
{
    (void)state;
    printf("fault totals: %lu operations failed, %lu power losses simulated, %lu invariants "
           "checked (%lu error-loop runs)\n",
           g_failed_ops, g_power_losses, g_invariants, g_loops);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readonly_after_fsync_failure),
        cmocka_unit_test(test_readonly_after_wal_write_failure),
        cmocka_unit_test(test_fault_sync),
        cmocka_unit_test(test_fault_write),
        cmocka_unit_test(test_fault_rename_open_unlink),
        cmocka_unit_test(test_fault_transient),
        cmocka_unit_test(test_fault_nomem),
        cmocka_unit_test(test_power_loss),
    };
    return cmocka_run_group_tests(tests, NULL, print_totals);
}
