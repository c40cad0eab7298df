/*
 * test_conc_multiget.c -- omen_get_many while a writer rewrites every key
 * in one atomic batch per round and a maintenance thread flushes and
 * compacts.  Runs under ThreadSanitizer.
 *
 * Round r writes the value "r" to every key (one omen_write), so any
 * consistent read sees one round for all keys.  Readers call omen_get_many
 * over all keys (shuffled, some twice, plus absent ones) and check that every
 * value is the same round, that the round never goes back between two
 * calls of a reader, and that it is not older than the last round whose
 * write had returned before the call; and the same through a snapshot,
 * whose round must not change while the writer and compactions go on.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "testutil.h"

#define NKEYS 300
#define ROUNDS 150
#define NREADERS 2

static omen_db *g_db;
static atomic_int g_stop;
static atomic_uint_fast64_t g_done_round; /* last round whose write returned */
static atomic_long g_calls, g_snap_checks;

static void *writer(void *arg)
{
    (void)arg;
    omen_batch *b;
    if (omen_batch_create(&b) != OMEN_OK) TU_THREAD_ERR("batch_create");
    char k[16], v[32];
    for (uint64_t r = 1; r <= ROUNDS; r++) {
        omen_batch_clear(b);
        int vl = sprintf(v, "%llu", (unsigned long long)r);
        for (int i = 0; i < NKEYS; i++) {
            int kl = sprintf(k, "mg%04d", i);
            omen_batch_put(b, k, (size_t)kl, v, (size_t)vl);
        }
        if (omen_write(g_db, b, OMEN_SYNC_DEFAULT) != OMEN_OK) TU_THREAD_ERR("write: %s", omen_last_error());
        atomic_store(&g_done_round, r);
    }
    omen_batch_destroy(b);
    atomic_store(&g_stop, 1);
    return NULL;
}

static void *maintenance(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop)) {
        if (omen_flush(g_db) != OMEN_OK) TU_THREAD_ERR("flush: %s", omen_last_error());
        if (omen_compact_range(g_db, NULL, 0, NULL, 0) != OMEN_OK)
            TU_THREAD_ERR("compact: %s", omen_last_error());
    }
    return NULL;
}

/* One omen_get_many over every key: the round all values agree on, 0 when
 * nothing was written yet, or UINT64_MAX after reporting a problem. */
static uint64_t read_round(const omen_snapshot *snap, unsigned seed)
{
    enum { N = NKEYS + 40 };
    static _Thread_local char kbuf[N][16];
    const void *keys[N];
    size_t kl[N];
    void *vals[N];
    size_t vl[N];
    tu_rng rng = {seed};
    for (int i = 0; i < N; i++) {
        int id = i < NKEYS ? i : (i < NKEYS + 20 ? (int)tu_below(&rng, NKEYS) : NKEYS + i);
        kl[i] = (size_t)sprintf(kbuf[i], "mg%04d", id);
        keys[i] = kbuf[i];
    }
    for (int i = N - 1; i > 0; i--) {
        int j = (int)tu_below(&rng, (uint64_t)i + 1);
        const void *t = keys[i];
        keys[i] = keys[j];
        keys[j] = t;
        size_t tl = kl[i];
        kl[i] = kl[j];
        kl[j] = tl;
    }
    if (omen_get_many(g_db, snap, N, keys, kl, vals, vl) != OMEN_OK) {
        TU_THREAD_ERR("get_many: %s", omen_last_error());
        return UINT64_MAX;
    }
    uint64_t round = UINT64_MAX - 1; /* unset */
    uint64_t bad = 0;
    for (int i = 0; i < N; i++) {
        int id = atoi((const char *)keys[i] + 2);
        uint64_t r = 0;
        if (vals[i]) {
            char b[32];
            size_t n = vl[i] < sizeof b - 1 ? vl[i] : sizeof b - 1;
            memcpy(b, vals[i], n);
            b[n] = 0;
            r = strtoull(b, NULL, 10);
        }
        if (id >= NKEYS && vals[i]) bad = 1;
        if (id < NKEYS) {
            if (round == UINT64_MAX - 1) round = r;
            if (r != round) bad = 1;
        }
        omen_free(vals[i]);
    }
    if (bad) {
        TU_THREAD_ERR("get_many saw more than one round (or an absent key)");
        return UINT64_MAX;
    }
    return round;
}

static void *reader(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    uint64_t last = 0;
    while (!atomic_load(&g_stop)) {
        uint64_t floor = atomic_load(&g_done_round);
        uint64_t r = read_round(NULL, seed++);
        if (r == UINT64_MAX) return NULL;
        if (r < last || r < floor) {
            TU_THREAD_ERR("stale read: round %llu after %llu (floor %llu)", (unsigned long long)r,
                          (unsigned long long)last, (unsigned long long)floor);
            return NULL;
        }
        last = r;
        atomic_fetch_add(&g_calls, 1);
        omen_snapshot *s;
        if (omen_snapshot_create(g_db, &s) != OMEN_OK) {
            TU_THREAD_ERR("snapshot: %s", omen_last_error());
            return NULL;
        }
        uint64_t a = read_round(s, seed++), at = atomic_load(&g_done_round);
        /* read it again once the writer is a few rounds on (the rounds in
         * between were flushed and compacted meanwhile) */
        while (!atomic_load(&g_stop) && atomic_load(&g_done_round) < at + 8) sched_yield();
        uint64_t b = a == UINT64_MAX ? a : read_round(s, seed++);
        if (b != a)
            TU_THREAD_ERR("snapshot moved: round %llu then %llu", (unsigned long long)a, (unsigned long long)b);
        else if (a != UINT64_MAX)
            atomic_fetch_add(&g_snap_checks, 1);
        omen_snapshot_release(g_db, s);
    }
    return NULL;
}

static void test_get_many_consistent(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(tu_mkdtemp(dir, sizeof dir, "cmget"), 0);
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 64 << 10;
    TU_OK(omen_open(dir, &o, &g_db));
    pthread_t w, m, r[NREADERS];
    assert_int_equal(pthread_create(&w, NULL, writer, NULL), 0);
    assert_int_equal(pthread_create(&m, NULL, maintenance, NULL), 0);
    for (int i = 0; i < NREADERS; i++)
        assert_int_equal(pthread_create(&r[i], NULL, reader, (void *)(uintptr_t)(i * 1000 + 1)), 0);
    pthread_join(w, NULL);
    pthread_join(m, NULL);
    for (int i = 0; i < NREADERS; i++) pthread_join(r[i], NULL);
    assert_int_equal(atomic_load(tu_thread_errors()), 0);
    assert_true(atomic_load(&g_calls) > 0 && atomic_load(&g_snap_checks) > 0);
    assert_int_equal(read_round(NULL, 7), ROUNDS);
    TU_OK(omen_close(g_db));
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_get_many_consistent)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
