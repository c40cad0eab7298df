/*
 * test_conc_db.c -- one handle shared by writers, readers, iterators and
 * transactions at once (small enough for ThreadSanitizer), with a tiny
 * memtable so that flushes and compactions run underneath.
 *
 * Invariants checked while everything runs:
 *  - atomic batches: every pair (p<i>a, p<i>b) is written by one batch with
 *    equal values, so any snapshot / iterator / pair of snapshot gets sees
 *    equal values;
 *  - bank: transactions move money between accounts; the total seen by any
 *    snapshot is constant;
 *  - group commit: every acknowledged synced put is readable afterwards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "omendb.h"

#define ACCOUNTS 8
#define START_BALANCE 1000
#define PAIRS 16

static char dir[600];
static omen_db *db;
static atomic_int stop_flag;
static atomic_int failures;

static void report_fail(const char *what, int rc)
{
    fprintf(stderr, "FAIL %s: %s (%s)\n", what, omen_strerror(rc), omen_last_error());
    atomic_fetch_add(&failures, 1);
}

static void acct_key(int i, char *k)
{
    snprintf(k, 16, "acct%02d", i);
}

static long get_long(omen_db *d, const omen_snapshot *s, const char *k, int *found)
{
    void *v;
    size_t vl;
    int rc = omen_get(d, s, k, strlen(k), &v, &vl);
    *found = rc == OMEN_OK;
    if (rc == OMEN_NOTFOUND) return 0;
    if (rc) {
        report_fail("get", rc);
        return 0;
    }
    char buf[32];
    size_t n = vl < 31 ? vl : 31;
    memcpy(buf, v, n);
    buf[n] = 0;
    omen_free(v);
    return strtol(buf, NULL, 10);
}

static void *pair_writer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    omen_batch *b;
    omen_batch_create(&b);
    for (int n = 0; n < 400 && !atomic_load(&stop_flag); n++) {
        int i = (int)(rand_r(&seed) % PAIRS);
        char ka[16], kb[16], v[32];
        snprintf(ka, sizeof ka, "p%02da", i);
        snprintf(kb, sizeof kb, "p%02db", i);
        snprintf(v, sizeof v, "%u-%d", seed, n);
        omen_batch_clear(b);
        omen_batch_put(b, ka, strlen(ka), v, strlen(v));
        /* filler so that memtables fill and flush */
        char fill[120];
        memset(fill, 'f', sizeof fill);
        char fk[24];
        snprintf(fk, sizeof fk, "z%u-%d", seed % 1000, n);
        omen_batch_put(b, fk, strlen(fk), fill, sizeof fill);
        omen_batch_put(b, kb, strlen(kb), v, strlen(v));
        int rc = omen_write(db, b, n % 16 == 0 ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED);
        if (rc) report_fail("write", rc);
    }
    omen_batch_destroy(b);
    return NULL;
}

static void *pair_reader(void *arg)
{
    (void)arg;
    for (int n = 0; n < 150 && !atomic_load(&stop_flag); n++) {
        omen_snapshot *s;
        int rc = omen_snapshot_create(db, &s);
        if (rc) {
            report_fail("snapshot", rc);
            continue;
        }
        for (int i = 0; i < PAIRS; i += 3) {
            char ka[16], kb[16];
            snprintf(ka, sizeof ka, "p%02da", i);
            snprintf(kb, sizeof kb, "p%02db", i);
            void *va = NULL, *vb = NULL;
            size_t la = 0, lb = 0;
            int ra = omen_get(db, s, ka, strlen(ka), &va, &la);
            int rb = omen_get(db, s, kb, strlen(kb), &vb, &lb);
            if (ra != rb || (ra == OMEN_OK && (la != lb || memcmp(va, vb, la) != 0))) {
                fprintf(stderr, "FAIL torn pair %d under snapshot\n", i);
                atomic_fetch_add(&failures, 1);
            }
            omen_free(va);
            omen_free(vb);
        }
        /* iterator over the pairs: a and b adjacent and equal */
        omen_iter_options io = {0};
        io.lower = "p";
        io.lower_len = 1;
        io.upper = "q";
        io.upper_len = 1;
        io.snapshot = n % 2 ? s : NULL;
        omen_iter *it;
        rc = omen_iter_create(db, &io, &it);
        if (rc) {
            report_fail("iter", rc);
        } else {
            int forward = n % 3 != 0;
            if (forward)
                omen_iter_seek_first(it);
            else
                omen_iter_seek_last(it);
            char prevk[16] = "", prevv[64] = "";
            size_t prevvl = 0;
            while (omen_iter_valid(it)) {
                size_t kl, vl;
                const char *k = omen_iter_key(it, &kl);
                const char *v = omen_iter_value(it, &vl);
                if (kl != 4 || vl >= sizeof prevv) {
                    fprintf(stderr, "FAIL odd entry in pair range\n");
                    atomic_fetch_add(&failures, 1);
                    break;
                }
                if (prevk[0] && memcmp(prevk, k, 3) == 0) {
                    if (prevvl != vl || memcmp(prevv, v, vl) != 0) {
                        fprintf(stderr, "FAIL torn pair %.3s in iterator\n", k);
                        atomic_fetch_add(&failures, 1);
                    }
                }
                memcpy(prevk, k, kl);
                prevk[kl] = 0;
                memcpy(prevv, v, vl);
                prevvl = vl;
                if (forward)
                    omen_iter_next(it);
                else
                    omen_iter_prev(it);
            }
            if (omen_iter_status(it)) report_fail("iter status", omen_iter_status(it));
            omen_iter_destroy(it);
        }
        omen_snapshot_release(db, s);
    }
    return NULL;
}

static void *banker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    int done = 0;
    for (int attempts = 0; done < 60 && attempts < 2000 && !atomic_load(&stop_flag); attempts++) {
        int from = (int)(rand_r(&seed) % ACCOUNTS), to = (int)(rand_r(&seed) % ACCOUNTS);
        if (from == to) continue;
        omen_txn *t;
        int rc = omen_txn_begin(db, &t);
        if (rc) {
            report_fail("txn_begin", rc);
            continue;
        }
        char kf[16], kt[16];
        acct_key(from, kf);
        acct_key(to, kt);
        void *v;
        size_t vl;
        long bf = 0, bt = 0;
        char buf[32];
        if (omen_txn_get(t, kf, strlen(kf), &v, &vl) == OMEN_OK) {
            snprintf(buf, sizeof buf, "%.*s", (int)vl, (char *)v);
            bf = strtol(buf, NULL, 10);
            omen_free(v);
        }
        if (omen_txn_get(t, kt, strlen(kt), &v, &vl) == OMEN_OK) {
            snprintf(buf, sizeof buf, "%.*s", (int)vl, (char *)v);
            bt = strtol(buf, NULL, 10);
            omen_free(v);
        }
        long amt = (long)(rand_r(&seed) % 50);
        snprintf(buf, sizeof buf, "%ld", bf - amt);
        omen_txn_put(t, kf, strlen(kf), buf, strlen(buf));
        snprintf(buf, sizeof buf, "%ld", bt + amt);
        omen_txn_put(t, kt, strlen(kt), buf, strlen(buf));
        rc = omen_txn_commit(t, attempts % 4 == 0 ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED);
        if (rc == OMEN_OK)
            done++;
        else if (rc != OMEN_CONFLICT)
            report_fail("txn_commit", rc);
    }
    return NULL;
}

static void *auditor(void *arg)
{
    (void)arg;
    for (int n = 0; n < 100 && !atomic_load(&stop_flag); n++) {
        long total = 0;
        if (n % 2) {
            /* a read-only transaction scanning all accounts */
            omen_txn *t;
            if (omen_txn_begin(db, &t)) continue;
            omen_iter_options io = {0};
            io.lower = "acct";
            io.lower_len = 4;
            io.upper = "acct~";
            io.upper_len = 5;
            omen_iter *it;
            if (omen_txn_iter_create(t, &io, &it) == OMEN_OK) {
                for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
                    size_t vl;
                    const char *v = omen_iter_value(it, &vl);
                    char buf[32];
                    snprintf(buf, sizeof buf, "%.*s", (int)vl, v);
                    total += strtol(buf, NULL, 10);
                }
                omen_iter_destroy(it);
            }
            if (omen_txn_commit(t, 0) != OMEN_OK) report_fail("read-only commit", -1);
        } else {
            omen_snapshot *s;
            if (omen_snapshot_create(db, &s)) continue;
            for (int i = 0; i < ACCOUNTS; i++) {
                char k[16];
                acct_key(i, k);
                int found;
                total += get_long(db, s, k, &found);
            }
            omen_snapshot_release(db, s);
        }
        if (total != (long)ACCOUNTS * START_BALANCE) {
            fprintf(stderr, "FAIL bank total %ld\n", total);
            atomic_fetch_add(&failures, 1);
        }
    }
    return NULL;
}

static void test_mixed(void **state)
{
    (void)state;
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 32 * 1024;
    o.cache_size = 256 * 1024;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_OK);
    for (int i = 0; i < ACCOUNTS; i++) {
        char k[16], v[16];
        acct_key(i, k);
        snprintf(v, sizeof v, "%d", START_BALANCE);
        assert_int_equal(omen_put(db, k, strlen(k), v, strlen(v), 0), OMEN_OK);
    }
    pthread_t th[7];
    pthread_create(&th[0], NULL, pair_writer, (void *)(uintptr_t)11);
    pthread_create(&th[1], NULL, pair_writer, (void *)(uintptr_t)22);
    pthread_create(&th[2], NULL, pair_reader, NULL);
    pthread_create(&th[3], NULL, pair_reader, NULL);
    pthread_create(&th[4], NULL, banker, (void *)(uintptr_t)33);
    pthread_create(&th[5], NULL, banker, (void *)(uintptr_t)44);
    pthread_create(&th[6], NULL, auditor, NULL);
    for (int i = 0; i < 7; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    omen_stats st;
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_true(st.flushes > 0);
    assert_int_equal(st.read_only, 0);
    assert_int_equal(omen_close(db), OMEN_OK);

    /* everything survives reopen */
    assert_int_equal(omen_open(dir, &o, &db), OMEN_OK);
    long total = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        char k[16];
        acct_key(i, k);
        int found;
        total += get_long(db, NULL, k, &found);
        assert_true(found);
    }
    assert_int_equal(total, (long)ACCOUNTS * START_BALANCE);
    assert_int_equal(omen_close(db), OMEN_OK);
    assert_int_equal(atomic_load(&failures), 0);
}

#define GC_THREADS 6
#define GC_PUTS 40

static void *sync_putter(void *arg)
{
    int t = (int)(uintptr_t)arg;
    for (int i = 0; i < GC_PUTS; i++) {
        char k[24];
        snprintf(k, sizeof k, "g%d-%03d", t, i);
        int rc = omen_put(db, k, strlen(k), k, strlen(k), OMEN_SYNC_FULL);
        if (rc) report_fail("sync put", rc);
        if (i % 8 == 0) {
            void *v;
            size_t vl;
            rc = omen_get(db, NULL, k, strlen(k), &v, &vl);
            if (rc)
                report_fail("read own write", rc);
            else
                omen_free(v);
        }
    }
    return NULL;
}

static void test_group_commit(void **state)
{
    (void)state;
    assert_int_equal(omen_open(dir, NULL, &db), OMEN_OK);
    pthread_t th[GC_THREADS];
    for (int i = 0; i < GC_THREADS; i++)
        pthread_create(&th[i], NULL, sync_putter, (void *)(uintptr_t)i);
    for (int i = 0; i < GC_THREADS; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    omen_stats st;
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.sequence, GC_THREADS * GC_PUTS);
    assert_int_equal(omen_close(db), OMEN_OK);
    assert_int_equal(omen_open(dir, NULL, &db), OMEN_OK);
    for (int t = 0; t < GC_THREADS; t++)
        for (int i = 0; i < GC_PUTS; i++) {
            char k[32];
            snprintf(k, sizeof k, "g%d-%03d", t, i);
            void *v;
            size_t vl;
            assert_int_equal(omen_get(db, NULL, k, strlen(k), &v, &vl), OMEN_OK);
            assert_int_equal(vl, strlen(k));
            assert_memory_equal(v, k, vl);
            omen_free(v);
        }
    assert_int_equal(omen_close(db), OMEN_OK);
}

/* omen_sync from one thread while others write relaxed and the memtable
 * switches under them (small write buffer): the sync runs outside the
 * writer queue, on a descriptor of its own, racing appends and log
 * switches.  Every call succeeds and every write is there afterwards. */
#define SR_WRITERS 2
#define SR_PUTS 6000

static void *relaxed_putter(void *arg)
{
    int t = (int)(uintptr_t)arg;
    char v[200];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < SR_PUTS; i++) {
        char k[32];
        snprintf(k, sizeof k, "r%d-%05d", t, i);
        int rc = omen_put(db, k, strlen(k), v, sizeof v, OMEN_SYNC_RELAXED);
        if (rc) report_fail("relaxed put", rc);
    }
    return NULL;
}

static void *syncer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_flag)) {
        int rc = omen_sync(db);
        if (rc) report_fail("omen_sync", rc);
    }
    return NULL;
}

static void test_sync_while_writing(void **state)
{
    (void)state;
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 1 << 20;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_OK);
    pthread_t s, w[SR_WRITERS];
    pthread_create(&s, NULL, syncer, NULL);
    for (int i = 0; i < SR_WRITERS; i++)
        pthread_create(&w[i], NULL, relaxed_putter, (void *)(uintptr_t)i);
    for (int i = 0; i < SR_WRITERS; i++) pthread_join(w[i], NULL);
    atomic_store(&stop_flag, 1);
    pthread_join(s, NULL);
    assert_int_equal(omen_sync(db), OMEN_OK);
    assert_int_equal(atomic_load(&failures), 0);
    omen_stats st;
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.read_only, 0);
    for (int t = 0; t < SR_WRITERS; t++)
        for (int i = 0; i < SR_PUTS; i += 97) {
            char k[32];
            snprintf(k, sizeof k, "r%d-%05d", t, i);
            size_t vl = 0;
            assert_int_equal(omen_get_into(db, NULL, k, strlen(k), NULL, 0, &vl), OMEN_OK);
            assert_int_equal(vl, 200);
        }
    assert_int_equal(omen_close(db), OMEN_OK);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/conc.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpl)) return -1;
    snprintf(dir, sizeof dir, "%s/db", tmpl);
    atomic_store(&failures, 0);
    atomic_store(&stop_flag, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[700];
    char parent[600];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", parent);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_while_writing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
