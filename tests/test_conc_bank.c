/*
 * test_conc_bank.c -- the bank test: serializable transactions conserve
 * money under concurrency and across crashes.  Runs under ThreadSanitizer.
 *
 * NACC accounts start with INIT each.  Transfer threads move random amounts
 * between random accounts in optimistic transactions (read both balances,
 * write both, commit; retry on OMEN_CONFLICT).  Reader threads meanwhile
 * sum all balances through a snapshot -- with an iterator, with point gets
 * at the snapshot, with an implicit-snapshot iterator, and inside a
 * read-only transaction -- and the sum must always be the initial total.
 * A tiny write buffer plus a maintenance thread keep flushes and
 * compactions running underneath.  Lost updates, write skew, a snapshot
 * that sees half a transaction, or a compaction that drops a version a
 * snapshot needs all show up as a wrong total.
 *
 * Then a forked child runs the same transfers with OMEN_SYNC_FULL and is
 * SIGKILLed at random moments; after each kill the database is reopened,
 * the total checked, and omen_check run.
 *
 * Environment: OMEN_BANK_KILLS (default 5; `make crashtest` runs 100).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

#define NACC 8
#define INIT 1000
#define TOTAL ((long long)NACC * INIT)
#define TRANSFERS 250 /* per transfer thread */
#define NXFER 3
#define NREAD 2

static atomic_int g_done;
static atomic_long g_commits, g_conflicts, g_sums;

static size_t acc_key(int i, char *out)
{
    return (size_t)sprintf(out, "acct%03d", i);
}

static int parse_bal(const void *v, size_t vl, long long *out)
{
    char buf[32];
    if (vl == 0 || vl >= sizeof buf)
        return -1;
    memcpy(buf, v, vl);
    buf[vl] = 0;
    char *end;
    *out = strtoll(buf, &end, 10);
    return *end ? -1 : 0;
}

static omen_db *open_bank(const char *path, int sync)
{
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 8 * 1024;
    o.sync = sync;
    omen_db *db = NULL;
    int rc = omen_open(path, &o, &db);
    if (rc != OMEN_OK) {
        TU_THREAD_ERR("open %s: %s (%s)", path, omen_strerror(rc), omen_last_error());
        return NULL;
    }
    return db;
}

static void init_accounts(omen_db *db)
{
    omen_batch *b = NULL;
    TU_OK(omen_batch_create(&b));
    char k[16], v[32];
    for (int i = 0; i < NACC; i++) {
        int vl = sprintf(v, "%d", INIT);
        TU_OK(omen_batch_put(b, k, acc_key(i, k), v, (size_t)vl));
    }
    TU_OK(omen_write(db, b, OMEN_SYNC_FULL));
    omen_batch_destroy(b);
}

/* One transfer, retried until it commits.  Returns 0, or -1 on an error. */
static int transfer(omen_db *db, tu_rng *r, int sync)
{
    int a = (int)tu_below(r, NACC), b = (int)tu_below(r, NACC - 1);
    if (b >= a)
        b++;
    for (;;) {
        omen_txn *t = NULL;
        int rc = omen_txn_begin(db, &t);
        if (rc != OMEN_OK) {
            TU_THREAD_ERR("txn_begin: %s", omen_strerror(rc));
            return -1;
        }
        char ka[16], kb[16], v[32];
        size_t kal = acc_key(a, ka), kbl = acc_key(b, kb);
        long long ba, bb;
        void *va = NULL, *vb = NULL;
        size_t lva = 0, lvb = 0;
        int r1 = omen_txn_get(t, ka, kal, &va, &lva), r2 = omen_txn_get(t, kb, kbl, &vb, &lvb);
        if (r1 != OMEN_OK || r2 != OMEN_OK || parse_bal(va, lva, &ba) || parse_bal(vb, lvb, &bb)) {
            TU_THREAD_ERR("transfer: reading %s/%s: %s/%s", ka, kb, omen_strerror(r1), omen_strerror(r2));
            omen_free(va);
            omen_free(vb);
            omen_txn_rollback(t);
            return -1;
        }
        omen_free(va);
        omen_free(vb);
        long long amt = ba > 0 ? (long long)tu_below(r, (uint64_t)(ba < 100 ? ba : 100) + 1) : 0;
        int n = sprintf(v, "%lld", ba - amt);
        rc = omen_txn_put(t, ka, kal, v, (size_t)n);
        if (rc == OMEN_OK) {
            n = sprintf(v, "%lld", bb + amt);
            rc = omen_txn_put(t, kb, kbl, v, (size_t)n);
        }
        if (rc != OMEN_OK) {
            TU_THREAD_ERR("txn_put: %s", omen_strerror(rc));
            omen_txn_rollback(t);
            return -1;
        }
        rc = omen_txn_commit(t, sync);
        if (rc == OMEN_OK) {
            atomic_fetch_add(&g_commits, 1);
            return 0;
        }
        if (rc != OMEN_CONFLICT) {
            TU_THREAD_ERR("txn_commit: %s (%s)", omen_strerror(rc), omen_last_error());
            return -1;
        }
        atomic_fetch_add(&g_conflicts, 1);
    }
}

typedef struct targ {
    omen_db *db;
    uint64_t seed;
    int sync;
    long count; /* < 0: forever */
} targ;

static void *xfer_thread(void *p)
{
    targ *a = p;
    tu_rng r = {a->seed};
    for (long i = 0; a->count < 0 || i < a->count; i++)
        if (transfer(a->db, &r, a->sync) != 0)
            break;
    return NULL;
}

/* Sum through an iterator (snap may be NULL: implicit snapshot). */
static long long sum_iter(omen_db *db, const omen_snapshot *snap, int backward)
{
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.snapshot = snap;
    io.lower = "acct";
    io.lower_len = 4;
    io.upper = "acct~";
    io.upper_len = 5;
    omen_iter *it = NULL;
    int rc = omen_iter_create(db, &io, &it);
    if (rc != OMEN_OK) {
        TU_THREAD_ERR("iter_create: %s", omen_strerror(rc));
        return -1;
    }
    long long sum = 0;
    int n = 0;
    if (backward)
        omen_iter_seek_last(it);
    else
        omen_iter_seek_first(it);
    while (omen_iter_valid(it)) {
        size_t vl;
        const void *v = omen_iter_value(it, &vl);
        long long b = 0;
        if (parse_bal(v, vl, &b))
            TU_THREAD_ERR("unparsable balance");
        sum += b;
        n++;
        if (backward)
            omen_iter_prev(it);
        else
            omen_iter_next(it);
    }
    if (omen_iter_status(it) != OMEN_OK)
        TU_THREAD_ERR("iterator status %s", omen_strerror(omen_iter_status(it)));
    if (n != NACC)
        TU_THREAD_ERR("iterator saw %d accounts, want %d", n, NACC);
    omen_iter_destroy(it);
    return sum;
}

static long long sum_gets(omen_db *db, const omen_snapshot *snap)
{
    long long sum = 0;
    char k[16];
    for (int i = 0; i < NACC; i++) {
        void *v = NULL;
        size_t vl = 0;
        int rc = omen_get(db, snap, k, acc_key(i, k), &v, &vl);
        long long b;
        if (rc != OMEN_OK || parse_bal(v, vl, &b)) {
            TU_THREAD_ERR("get %s at snapshot: %s", k, omen_strerror(rc));
            omen_free(v);
            return -1;
        }
        sum += b;
        omen_free(v);
    }
    return sum;
}

static long long sum_txn(omen_db *db)
{
    omen_txn *t = NULL;
    if (omen_txn_begin(db, &t) != OMEN_OK)
        return -1;
    long long sum = 0;
    char k[16];
    for (int i = 0; i < NACC; i++) {
        void *v = NULL;
        size_t vl = 0;
        long long b;
        int rc = omen_txn_get(t, k, acc_key(i, k), &v, &vl);
        if (rc != OMEN_OK || parse_bal(v, vl, &b)) {
            TU_THREAD_ERR("txn_get %s: %s", k, omen_strerror(rc));
            sum = -1;
            omen_free(v);
            break;
        }
        sum += b;
        omen_free(v);
    }
    omen_txn_rollback(t);
    return sum;
}

static void *reader_thread(void *p)
{
    targ *a = p;
    tu_rng r = {a->seed};
    while (!atomic_load(&g_done)) {
        long long s1 = -2, s2 = -2, s3 = -2;
        switch (tu_below(&r, 3)) {
        case 0: {
            omen_snapshot *snap = NULL;
            if (omen_snapshot_create(a->db, &snap) != OMEN_OK) {
                TU_THREAD_ERR("snapshot_create failed");
                return NULL;
            }
            s1 = sum_iter(a->db, snap, 0);
            s2 = sum_gets(a->db, snap);
            s3 = sum_iter(a->db, snap, 1);
            omen_snapshot_release(a->db, snap);
            break;
        }
        case 1:
            s1 = s2 = s3 = sum_iter(a->db, NULL, (int)tu_below(&r, 2));
            break;
        default:
            s1 = s2 = s3 = sum_txn(a->db);
        }
        if (s1 != TOTAL || s2 != TOTAL || s3 != TOTAL)
            TU_THREAD_ERR("total is %lld / %lld / %lld, want %lld", s1, s2, s3, TOTAL);
        atomic_fetch_add(&g_sums, 1);
    }
    return NULL;
}

static void *maint_thread(void *p)
{
    targ *a = p;
    while (!atomic_load(&g_done)) {
        int rc = omen_flush(a->db);
        if (rc == OMEN_OK)
            rc = omen_compact_range(a->db, NULL, 0, NULL, 0);
        if (rc != OMEN_OK)
            TU_THREAD_ERR("maintenance: %s (%s)", omen_strerror(rc), omen_last_error());
        tu_sleep_ns(2000000);
    }
    return NULL;
}

static void test_bank_threads(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "bank");
    omen_db *db = open_bank(path, OMEN_SYNC_RELAXED);
    assert_non_null(db);
    init_accounts(db);
    atomic_store(&g_done, 0);
    pthread_t xt[NXFER], rt[NREAD], mt;
    targ xa[NXFER], ra[NREAD], ma = {db, 0, 0, 0};
    for (int i = 0; i < NREAD; i++) {
        ra[i] = (targ){db, 100 + (uint64_t)i, 0, 0};
        assert_int_equal(pthread_create(&rt[i], NULL, reader_thread, &ra[i]), 0);
    }
    assert_int_equal(pthread_create(&mt, NULL, maint_thread, &ma), 0);
    for (int i = 0; i < NXFER; i++) {
        xa[i] = (targ){db, 1 + (uint64_t)i, OMEN_SYNC_RELAXED, TRANSFERS};
        assert_int_equal(pthread_create(&xt[i], NULL, xfer_thread, &xa[i]), 0);
    }
    for (int i = 0; i < NXFER; i++)
        pthread_join(xt[i], NULL);
    atomic_store(&g_done, 1);
    for (int i = 0; i < NREAD; i++)
        pthread_join(rt[i], NULL);
    pthread_join(mt, NULL);
    assert_int_equal(atomic_load(tu_thread_errors()), 0);
    assert_int_equal(atomic_load(&g_commits), NXFER * TRANSFERS);
    assert_int_equal(sum_gets(db, NULL), TOTAL);
    TU_OK(omen_close(db));
    db = open_bank(path, OMEN_SYNC_RELAXED);
    assert_non_null(db);
    assert_int_equal(sum_iter(db, NULL, 0), TOTAL);
    TU_OK(omen_close(db));
    TU_OK(tu_check_db(path, 1));
    printf("bank: %ld commits, %ld conflicts retried, %ld consistent total checks\n",
           atomic_load(&g_commits), atomic_load(&g_conflicts), atomic_load(&g_sums));
    assert_int_equal(atomic_load(tu_thread_errors()), 0);
    tu_rmrf(path);
}

static void test_bank_kill(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "bank-kill");
    omen_db *db = open_bank(path, OMEN_SYNC_FULL);
    assert_non_null(db);
    init_accounts(db);
    TU_OK(omen_close(db));
    long kills = (long)tu_env_u64("OMEN_BANK_KILLS", 5);
    tu_rng rr = {tu_env_u64("OMEN_CRASH_SEED", 20261124)};
    long recovered_commits = 0;
    uint64_t last_seq = 0;
    for (long it = 0; it < kills; it++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            omen_db *c = open_bank(path, OMEN_SYNC_FULL);
            if (!c)
                _exit(2);
            pthread_t t[NXFER];
            targ a[NXFER];
            for (int i = 0; i < NXFER; i++) {
                a[i] = (targ){c, (uint64_t)it * 10 + (uint64_t)i + 1, OMEN_SYNC_FULL, -1};
                pthread_create(&t[i], NULL, xfer_thread, &a[i]);
            }
            for (int i = 0; i < NXFER; i++)
                pthread_join(t[i], NULL);
            _exit(3); /* transfer threads stop only on an error */
        }
        uint64_t us = 20000 + tu_below(&rr, 130000);
        tu_sleep_ns((long)us * 1000);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            tu_fail("bank kill %ld: child ended on its own (status 0x%x)", it, status);
        int rc = tu_check_db(path, 0);
        if (rc != OMEN_OK) {
            tu_check_db(path, 1);
            tu_fail("bank kill %ld: omen_check: %s", it, omen_strerror(rc));
        }
        db = open_bank(path, OMEN_SYNC_FULL);
        assert_non_null(db);
        long long s1 = sum_gets(db, NULL), s2 = sum_iter(db, NULL, 1);
        if (s1 != TOTAL || s2 != TOTAL)
            tu_fail("bank kill %ld: total after recovery %lld / %lld, want %lld", it, s1, s2,
                    TOTAL);
        omen_stats st;
        TU_OK(omen_get_stats(db, &st));
        assert_true(st.sequence >= last_seq); /* acknowledged commits never vanish */
        recovered_commits += (long)(st.sequence - last_seq);
        last_seq = st.sequence;
        TU_OK(omen_close(db));
    }
    assert_int_equal(atomic_load(tu_thread_errors()), 0);
    printf("bank kill: %ld kills, total intact after each; %ld sequence numbers recovered\n",
           kills, recovered_commits);
    tu_rmrf(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bank_threads),
        cmocka_unit_test(test_bank_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
