/*
 * test_crash.c -- process-crash test: SIGKILL a writer at random moments and
 * check that recovery keeps every acknowledged write and applies batches
 * all-or-nothing.
 *
 * A forked child opens the database and runs a deterministic stream of
 * operations (single puts, deletes, multi-key batches) derived from its run
 * seed.  After each call returns OMEN_OK the child appends the operation's
 * index to a side file and fsyncs it, so the side file lists exactly the
 * acknowledged operations (plus possibly nothing of the one in flight).  The
 * parent kills the child after a random delay -- during open/recovery, a
 * write, a flush or a compaction -- then:
 *   1. runs omen_check on the closed database (must pass);
 *   2. replays the acknowledged operations of that run onto its oracle;
 *   3. opens the database and checks every key: it must hold the oracle's
 *      value, except the keys of the single operation that was in flight,
 *      which must show either all of its effects or none (a half-applied
 *      batch fails here);
 *   4. folds the in-flight operation into the oracle if it was applied.
 *
 * Two variants: OMEN_SYNC_FULL writes, and OMEN_SYNC_RELAXED writes (a
 * relaxed write is in the kernel when acknowledged, so it too must survive
 * the death of the process -- this is not a power-loss test; test_fault.c
 * simulates power loss).
 *
 * Environment: OMEN_CRASH_ITERS (kills per variant, default 15; `make
 * crashtest` runs 500), OMEN_CRASH_SEED (default fixed).
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

#define NKEYS 300
#define MAX_OPS 1000000
#define MAX_BATCH 8

typedef struct op {
    int kind; /* 0 put, 1 delete, 2 batch */
    int n;    /* keys touched */
    int keys[MAX_BATCH];
    int del[MAX_BATCH]; /* per key: 1 = delete (batches mix puts and deletes) */
} op;

static size_t key_of(int id, char *out)
{
    return (size_t)sprintf(out, "key%05d", id);
}

/* The value written for key id by operation (run, idx): unique per write,
 * length varies (some long values so flushes produce real blocks). */
static size_t value_of(uint64_t run, uint64_t idx, int id, unsigned char *out)
{
    tu_rng r = {run * 1000003u + idx * 7919u + (uint64_t)id};
    int n = sprintf((char *)out, "r%llu.o%llu.k%d.", (unsigned long long)run,
                    (unsigned long long)idx, id);
    size_t len = (size_t)n + tu_below(&r, tu_below(&r, 8) == 0 ? 2000 : 100);
    for (size_t i = (size_t)n; i < len; i++)
        out[i] = (unsigned char)('a' + tu_below(&r, 26));
    return len;
}

/* Operation idx of run `run` (deterministic: child and parent agree). */
static void op_of(uint64_t run, uint64_t idx, op *o)
{
    tu_rng r = {(run << 32) ^ (idx * 0x9e3779b97f4a7c15ull) ^ 0x5bd1e995u};
    uint64_t x = tu_below(&r, 100);
    memset(o, 0, sizeof *o);
    if (x < 60) {
        o->kind = 0;
        o->n = 1;
        o->keys[0] = (int)tu_below(&r, NKEYS);
    } else if (x < 75) {
        o->kind = 1;
        o->n = 1;
        o->keys[0] = (int)tu_below(&r, NKEYS);
        o->del[0] = 1;
    } else {
        o->kind = 2;
        o->n = 2 + (int)tu_below(&r, MAX_BATCH - 1);
        /* Distinct keys, so every key of the batch shows the batch's effect. */
        for (int i = 0; i < o->n; i++) {
            int k, dup;
            do {
                k = (int)tu_below(&r, NKEYS);
                dup = 0;
                for (int j = 0; j < i; j++)
                    dup |= o->keys[j] == k;
            } while (dup);
            o->keys[i] = k;
            o->del[i] = tu_below(&r, 5) == 0;
        }
    }
}

static unsigned char g_val[4096];

/* Child: run ops of `run` forever (until killed), recording acks. */
static void child_main(const char *path, const char *ackpath, uint64_t run, int sync)
{
    int fd = open(ackpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        _exit(3);
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 16 * 1024;
    o.sync = sync;
    omen_db *db = NULL;
    int rc = omen_open(path, &o, &db);
    if (rc != OMEN_OK) {
        fprintf(stderr, "child: open: %s (%s)\n", omen_strerror(rc), omen_last_error());
        _exit(2);
    }
    omen_batch *b = NULL;
    if (omen_batch_create(&b) != OMEN_OK)
        _exit(2);
    char k[32];
    for (uint32_t idx = 0; idx < MAX_OPS; idx++) {
        op p;
        op_of(run, idx, &p);
        if (p.kind == 0) {
            size_t kl = key_of(p.keys[0], k);
            size_t vl = value_of(run, idx, p.keys[0], g_val);
            rc = omen_put(db, k, kl, g_val, vl, OMEN_SYNC_DEFAULT);
        } else if (p.kind == 1) {
            rc = omen_delete(db, k, key_of(p.keys[0], k), OMEN_SYNC_DEFAULT);
        } else {
            omen_batch_clear(b);
            for (int i = 0; i < p.n; i++) {
                size_t kl = key_of(p.keys[i], k);
                if (p.del[i]) {
                    rc = omen_batch_delete(b, k, kl);
                } else {
                    size_t vl = value_of(run, idx, p.keys[i], g_val);
                    rc = omen_batch_put(b, k, kl, g_val, vl);
                }
                if (rc != OMEN_OK)
                    break;
            }
            if (rc == OMEN_OK)
                rc = omen_write(db, b, OMEN_SYNC_DEFAULT);
        }
        if (rc != OMEN_OK) {
            fprintf(stderr, "child: op %u: %s (%s)\n", idx, omen_strerror(rc), omen_last_error());
            _exit(2);
        }
        if (write(fd, &idx, sizeof idx) != (ssize_t)sizeof idx || fsync(fd) != 0)
            _exit(3);
    }
    _exit(0);
}

/* Last writes of each key that the oracle took in (for failure messages). */
#define HIST 6
static struct {
    uint32_t run, idx;
    char how; /* 'a' acknowledged, 'f' in flight and found applied */
    char del;
} g_hist[NKEYS][HIST];
static unsigned g_nhist[NKEYS];

static void print_history(int id)
{
    fprintf(stderr, "    (the database as the kill left it is kept in <name>.before-recovery)\n");
    unsigned n = g_nhist[id], from = n > HIST ? n - HIST : 0;
    for (unsigned i = from; i < n; i++) {
        const unsigned j = i % HIST;
        fprintf(stderr, "    key%05d history: run %u op %u %s (%s)\n", id, g_hist[id][j].run,
                g_hist[id][j].idx, g_hist[id][j].del ? "delete" : "put",
                g_hist[id][j].how == 'a' ? "acknowledged" : "in flight, found applied");
    }
}

/* Apply operation (run, idx) to the oracle (how: history tag, 0 = none). */
static void apply(tu_map *m, uint64_t run, uint64_t idx, const op *p, char how)
{
    char k[32];
    for (int i = 0; i < p->n; i++) {
        if (how) {
            unsigned j = g_nhist[p->keys[i]]++ % HIST;
            g_hist[p->keys[i]][j].run = (uint32_t)run;
            g_hist[p->keys[i]][j].idx = (uint32_t)idx;
            g_hist[p->keys[i]][j].how = how;
            g_hist[p->keys[i]][j].del = (char)p->del[i];
        }
        size_t kl = key_of(p->keys[i], k);
        if (p->del[i]) {
            tu_map_del(m, k, kl);
        } else {
            size_t vl = value_of(run, idx, p->keys[i], g_val);
            tu_map_put(m, k, kl, g_val, vl);
        }
    }
}

typedef struct crash_stats {
    unsigned long kills, acked, inflight_applied, inflight_absent, batches_acked;
} crash_stats;

static void crash_loop(const char *name, int sync, crash_stats *cs)
{
    memset(g_nhist, 0, sizeof g_nhist);
    char path[PATH_MAX], ackpath[PATH_MAX], ackname[80];
    tu_path(path, sizeof path, name);
    snprintf(ackname, sizeof ackname, "%s.acks", name);
    tu_path(ackpath, sizeof ackpath, ackname);
    char prepath[PATH_MAX], prename[80];
    snprintf(prename, sizeof prename, "%s.before-recovery", name);
    tu_path(prepath, sizeof prepath, prename);
    long iters = (long)tu_env_u64("OMEN_CRASH_ITERS", 15);
    uint64_t seed = tu_env_u64("OMEN_CRASH_SEED", 20261124);
    tu_rng rr = {seed ^ (uint64_t)sync};
    printf("crash %s: %ld kills, seed %llu\n", name, iters, (unsigned long long)seed);

    /* Create the database up front (creation itself is not under test). */
    omen_db *db = NULL;
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 16 * 1024;
    TU_OK(omen_open(path, &o, &db));
    TU_OK(omen_close(db));

    tu_map m = {0};
    char k[32], b1[128];
    for (long it = 0; it < iters; it++) {
        uint64_t run = (uint64_t)it + 1;
        /* A kill can land before the child has created its side file: the
         * previous run's file must not be mistaken for this run's. */
        unlink(ackpath);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child_main(path, ackpath, run, sync);
        /* Some short delays (kills during open/recovery and the first
         * writes), mostly longer ones (kills amid writes, flushes and
         * compactions). */
        uint64_t us = tu_below(&rr, 4) == 0 ? tu_below(&rr, 20000)
                                            : 20000 + tu_below(&rr, 280000);
        struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            tu_fail("kill %ld: child ended on its own (status 0x%x): it hit an error", it, status);
        cs->kills++;

        /* Acknowledged operations of this run. */
        unsigned char *acks = NULL;
        size_t alen = 0;
        if (tu_read_file(ackpath, &acks, &alen) != 0)
            alen = 0; /* killed before it created the file: nothing acknowledged */
        uint32_t nacked = (uint32_t)(alen / sizeof(uint32_t));
        for (uint32_t i = 0; i < nacked; i++) {
            uint32_t v;
            memcpy(&v, acks + i * sizeof v, sizeof v);
            assert_int_equal(v, i);
            op p;
            op_of(run, i, &p);
            apply(&m, run, i, &p, 'a');
            cs->batches_acked += p.kind == 2;
        }
        free(acks);
        cs->acked += nacked;

        /* Keep the state as the kill left it: a failure below can then be
         * replayed and inspected (the copy is replaced at every kill). */
        assert_int_equal(tu_copy_dir(path, prepath), 0);
        int crc = tu_check_db(path, 0);
        if (crc != OMEN_OK) {
            tu_check_db(path, 1);
            tu_fail("kill %ld: omen_check: %s", it, omen_strerror(crc));
        }

        /* Check every key; the in-flight op's keys may show old or new. */
        op inflight;
        op_of(run, nacked, &inflight);
        tu_map after;
        tu_map_copy(&after, &m);
        apply(&after, run, nacked, &inflight, 0);
        TU_OK(omen_open(path, &o, &db));
        int seen_new = 0, seen_old = 0;
        for (int id = 0; id < NKEYS; id++) {
            size_t kl = key_of(id, k);
            void *v = NULL;
            size_t vl = 0;
            int rc = omen_get(db, NULL, k, kl, &v, &vl);
            if (rc != OMEN_OK && rc != OMEN_NOTFOUND)
                tu_fail("kill %ld: get %s: %s (%s)", it, k, omen_strerror(rc), omen_last_error());
            const tu_kv *eo = tu_map_get(&m, k, kl), *en = tu_map_get(&after, k, kl);
            int is_old = rc == OMEN_OK ? (eo && !tu_keycmp(v, vl, eo->v, eo->vl)) : !eo;
            int is_new = rc == OMEN_OK ? (en && !tu_keycmp(v, vl, en->v, en->vl)) : !en;
            int touched = 0;
            for (int i = 0; i < inflight.n; i++)
                touched |= inflight.keys[i] == id;
            if (!is_old && !(touched && is_new)) {
                print_history(id);
                tu_fail("kill %ld (run %llu, %u acked): key %s is %s%s, expected %s (a value from run %llu)", it,
                        (unsigned long long)run, nacked, k,
                        rc == OMEN_OK ? "present: " : "absent",
                        rc == OMEN_OK ? tu_fmt(v, vl < 40 ? vl : 40, b1, sizeof b1) : "",
                        eo ? "present" : "absent", eo ? (unsigned long long)atoll((const char *)eo->v + 1) : 0ull);
            }
            if (touched && is_new && !is_old)
                seen_new++;
            if (touched && is_old && !is_new)
                seen_old++;
            omen_free(v);
        }
        if (seen_new && seen_old)
            tu_fail("kill %ld: operation %u (batch of %d) is half-applied: %d keys new, %d old",
                    it, nacked, inflight.n, seen_new, seen_old);
        if (seen_new) {
            apply(&m, run, nacked, &inflight, 'f');
            cs->inflight_applied++;
        } else {
            cs->inflight_absent++;
        }
        tu_map_clear(&after);
        /* A full scan must agree too (iterators read the same recovered state). */
        tu_check_scan(db, NULL, &m, NULL, 0, NULL, 0);
        TU_OK(omen_close(db));
    }
    tu_map_clear(&m);
    printf("crash %s: %lu kills, %lu acknowledged ops (%lu batches) all recovered; in-flight op "
           "applied %lu times, absent %lu times\n",
           name, cs->kills, cs->acked, cs->batches_acked, cs->inflight_applied,
           cs->inflight_absent);
    tu_rmrf(path);
    tu_rmrf(ackpath);
    tu_rmrf(prepath);
}

static void test_crash_sync(void **state)
{
    (void)state;
    crash_stats cs = {0};
    crash_loop("crash-sync", OMEN_SYNC_FULL, &cs);
    assert_true(cs.acked > 0);
}

static void test_crash_relaxed(void **state)
{
    (void)state;
    crash_stats cs = {0};
    crash_loop("crash-relaxed", OMEN_SYNC_RELAXED, &cs);
    assert_true(cs.acked > 0);
}

/* Kills while the database is being created: whatever moment the process
 * dies, the next open must succeed (finishing or redoing the creation), and
 * the one synced write, if acknowledged, must be there. */
static void test_crash_during_create(void **state)
{
    (void)state;
    char path[PATH_MAX], ackpath[PATH_MAX];
    tu_path(path, sizeof path, "crash-create");
    tu_path(ackpath, sizeof ackpath, "crash-create.acks");
    tu_rng rr = {tu_env_u64("OMEN_CRASH_SEED", 20261124) + 77};
    long iters = (long)tu_env_u64("OMEN_CRASH_ITERS", 15);
    unsigned long acked = 0;
    for (long it = 0; it < iters; it++) {
        tu_rmrf(path);
        unlink(ackpath);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            omen_db *db = NULL;
            if (omen_open(path, NULL, &db) != OMEN_OK)
                _exit(2);
            if (omen_put(db, "first", 5, "write", 5, OMEN_SYNC_FULL) != OMEN_OK)
                _exit(3);
            int fd = open(ackpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || write(fd, "A", 1) != 1 || fsync(fd) != 0)
                _exit(4);
            for (;;)
                pause();
        }
        uint64_t us = tu_below(&rr, 70000);
        struct timespec ts = {0, (long)us * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            tu_fail("create kill %ld: child ended on its own (status 0x%x)", it, status);
        int was_acked = access(ackpath, F_OK) == 0;
        omen_db *db = NULL;
        int rc = omen_open(path, NULL, &db);
        if (rc != OMEN_OK)
            tu_fail("create kill %ld (after %llu us): reopen: %s (%s)", it, (unsigned long long)us,
                    omen_strerror(rc), omen_last_error());
        void *v = NULL;
        size_t vl = 0;
        rc = omen_get(db, NULL, "first", 5, &v, &vl);
        if (was_acked && (rc != OMEN_OK || vl != 5 || memcmp(v, "write", 5) != 0))
            tu_fail("create kill %ld: the acknowledged first write is %s", it, omen_strerror(rc));
        if (rc != OMEN_OK && rc != OMEN_NOTFOUND)
            tu_fail("create kill %ld: get: %s", it, omen_strerror(rc));
        omen_free(v);
        acked += (unsigned long)was_acked;
        TU_OK(omen_close(db));
        TU_OK(tu_check_db(path, 1));
    }
    printf("crash during create: %ld kills, the first write was acknowledged %lu times\n", iters,
           acked);
    tu_rmrf(path);
    unlink(ackpath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_sync),
        cmocka_unit_test(test_crash_relaxed),
        cmocka_unit_test(test_crash_during_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
