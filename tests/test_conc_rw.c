/*
 * test_conc_rw.c -- readers, writers, iterators, snapshots, flushes and
 * compactions all at once on one handle.  Runs under ThreadSanitizer.
 *
 * Writers own disjoint key sets (key id % NWRITERS) and give every write of
 * a key a new counter.  Before a write a writer publishes `started[k]` (and
 * `del_started[k]` for deletes); after the call returns it publishes
 * `done[k]`.  Values are self-describing: key id, counter, and padding
 * derived from both plus a checksum.  Readers check:
 *   - every value read decodes, belongs to the key it was read under, and
 *     was actually written (counter <= started[k] read after the call);
 *   - reads are not stale: a get started after a write was acknowledged
 *     sees that write or a newer one (counter >= done[k] read before the
 *     call; NOTFOUND only if a delete at least that new was started);
 *   - iterators return strictly ordered keys with valid values and honour
 *     the same freshness rule as of their creation;
 *   - a snapshot is stable: the same snapshot scanned forwards, later
 *     backwards, and probed with point gets, while writers and compactions
 *     run, gives identical results.
 * A maintenance thread flushes and compacts the whole time (tiny write
 * buffer, so background flushes run as well).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "testutil.h"

#define NKEYS 400
#define NWRITERS 2
#define WRITES 2500 /* per writer */
#define NREADERS 2

static atomic_uint_fast64_t started[NKEYS], del_started[NKEYS], done_c[NKEYS];
static atomic_int g_stop;
static atomic_long g_reads, g_iters, g_snapchecks;
static omen_db *g_db;

static size_t key_of(unsigned id, char *out)
{
    return (size_t)sprintf(out, "rw%05u", id);
}

/* Key bytes -> id; -1 if not one of ours.  Iterator keys are borrowed and
 * not NUL-terminated, so they are copied before parsing. */
static int parse_key(const void *k, size_t kl, unsigned *id)
{
    char buf[8];
    if (kl != 7)
        return -1;
    memcpy(buf, k, 7);
    buf[7] = 0;
    return sscanf(buf, "rw%5u", id) == 1 && *id < NKEYS ? 0 : -1;
}

static uint32_t mix(uint32_t h, uint32_t x)
{
    h ^= x;
    h *= 0x01000193u;
    return h ^ (h >> 15);
}

/* "id counter|padding|hash32" */
static size_t encode(unsigned id, uint64_t c, unsigned char *out)
{
    int n = sprintf((char *)out, "%05u %012llu|", id, (unsigned long long)c);
    size_t pad = (size_t)((c * 131 + id) % 300);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < (size_t)n; i++)
        h = mix(h, out[i]);
    for (size_t i = 0; i < pad; i++) {
        out[n + i] = (unsigned char)('A' + (c + id + i) % 26);
        h = mix(h, out[n + i]);
    }
    memcpy(out + n + pad, &h, 4);
    return (size_t)n + pad + 4;
}

/* Returns the counter, or 0 if the value is not one encode() produced for id. */
static uint64_t decode(unsigned id, const void *v, size_t vl)
{
    unsigned char buf[400];
    unsigned vid;
    unsigned long long c;
    if (vl < 23 || vl > sizeof buf)
        return 0;
    memcpy(buf, v, vl);
    char head[20];
    memcpy(head, buf, 19);
    head[19] = 0;
    if (sscanf(head, "%5u %12llu|", &vid, &c) != 2 || vid != id || c == 0)
        return 0;
    unsigned char want[400];
    size_t wl = encode(id, c, want);
    return wl == vl && memcmp(want, buf, vl) == 0 ? c : 0;
}

static void *writer_thread(void *p)
{
    unsigned w = (unsigned)(uintptr_t)p;
    tu_rng r = {w + 1};
    uint64_t counter[NKEYS] = {0};
    unsigned char v[400];
    char k[16];
    for (int i = 0; i < WRITES; i++) {
        unsigned id = (unsigned)tu_below(&r, NKEYS / NWRITERS) * NWRITERS + w;
        uint64_t c = ++counter[id];
        atomic_store(&started[id], c);
        int rc;
        size_t kl = key_of(id, k);
        if (tu_below(&r, 10) == 0) {
            atomic_store(&del_started[id], c);
            rc = omen_delete(g_db, k, kl, OMEN_SYNC_RELAXED);
        } else if (tu_below(&r, 8) == 0) {
            /* A batch of this writer's keys (atomic, so readers may see it
             * only whole -- freshness rules still apply per key). */
            omen_batch *b = NULL;
            rc = omen_batch_create(&b);
            size_t vl = encode(id, c, v);
            if (rc == OMEN_OK)
                rc = omen_batch_put(b, k, kl, v, vl);
            if (rc == OMEN_OK)
                rc = omen_write(g_db, b, OMEN_SYNC_RELAXED);
            omen_batch_destroy(b);
        } else {
            size_t vl = encode(id, c, v);
            rc = omen_put(g_db, k, kl, v, vl, OMEN_SYNC_RELAXED);
        }
        if (rc != OMEN_OK) {
            TU_THREAD_ERR("writer %u: %s (%s)", w, omen_strerror(rc), omen_last_error());
            break;
        }
        atomic_store(&done_c[id], c);
    }
    return NULL;
}

/* A value (or absence) read for id is consistent with lo (done before the
 * read) and the write counters read after it. */
static int check_read(unsigned id, int rc, const void *v, size_t vl, uint64_t lo, const char *who)
{
    if (rc == OMEN_OK) {
        uint64_t c = decode(id, v, vl);
        uint64_t hi = atomic_load(&started[id]);
        if (c == 0) {
            TU_THREAD_ERR("%s: key %u: a value that was never written (len %zu)", who, id, vl);
            return -1;
        }
        if (c < lo || c > hi) {
            TU_THREAD_ERR("%s: key %u: counter %llu outside [%llu, %llu]", who, id, (unsigned long long)c,
                          (unsigned long long)lo, (unsigned long long)hi);
            return -1;
        }
        return 0;
    }
    if (rc == OMEN_NOTFOUND) {
        if (lo != 0 && atomic_load(&del_started[id]) < lo) {
            TU_THREAD_ERR("%s: key %u absent, but write %llu was acknowledged and no later delete began",
                          who, id, (unsigned long long)lo);
            return -1;
        }
        return 0;
    }
    TU_THREAD_ERR("%s: key %u: %s", who, id, omen_strerror(rc));
    return -1;
}

static void *reader_thread(void *p)
{
    tu_rng r = {(uintptr_t)p * 7919 + 3};
    char k[16];
    while (!atomic_load(&g_stop)) {
        unsigned id = (unsigned)tu_below(&r, NKEYS);
        uint64_t lo = atomic_load(&done_c[id]);
        void *v = NULL;
        size_t vl = 0;
        int rc = omen_get(g_db, NULL, k, key_of(id, k), &v, &vl);
        check_read(id, rc, v, vl, lo, "get");
        omen_free(v);
        atomic_fetch_add(&g_reads, 1);
    }
    return NULL;
}

/* Full scan of an implicit-snapshot iterator, direction chosen at random,
 * plus a seek and a few steps both ways. */
static void *iter_thread(void *p)
{
    tu_rng r = {(uintptr_t)p * 104729 + 1};
    static _Thread_local uint64_t lo[NKEYS];
    char k[16];
    while (!atomic_load(&g_stop)) {
        for (unsigned i = 0; i < NKEYS; i++)
            lo[i] = atomic_load(&done_c[i]);
        omen_iter *it = NULL;
        int rc = omen_iter_create(g_db, NULL, &it);
        if (rc != OMEN_OK) {
            TU_THREAD_ERR("iter_create: %s", omen_strerror(rc));
            return NULL;
        }
        int back = (int)tu_below(&r, 2);
        unsigned char seen[NKEYS] = {0};
        long prev = back ? NKEYS : -1;
        for (back ? omen_iter_seek_last(it) : omen_iter_seek_first(it); omen_iter_valid(it);
             back ? omen_iter_prev(it) : omen_iter_next(it)) {
            size_t kl, vl;
            const char *key = omen_iter_key(it, &kl);
            const void *v = omen_iter_value(it, &vl);
            unsigned id;
            if (parse_key(key, kl, &id) != 0) {
                TU_THREAD_ERR("iterator: unknown key");
                break;
            }
            if (back ? (long)id >= prev : (long)id <= prev) {
                TU_THREAD_ERR("iterator: key %u out of order after %ld", id, prev);
                break;
            }
            prev = id;
            seen[id] = 1;
            check_read(id, OMEN_OK, v, vl, lo[id], "iterator");
        }
        if (omen_iter_status(it) != OMEN_OK)
            TU_THREAD_ERR("iterator status: %s", omen_strerror(omen_iter_status(it)));
        for (unsigned i = 0; i < NKEYS; i++)
            if (!seen[i])
                check_read(i, OMEN_NOTFOUND, NULL, 0, lo[i], "iterator (absent)");
        /* Seek, then wander. */
        unsigned id = (unsigned)tu_below(&r, NKEYS);
        omen_iter_seek(it, k, key_of(id, k));
        for (int s = 0; s < 10 && omen_iter_valid(it); s++) {
            size_t kl;
            const char *key = omen_iter_key(it, &kl);
            unsigned got;
            if (parse_key(key, kl, &got) != 0) {
                TU_THREAD_ERR("iterator after seek: unknown key");
                break;
            }
            if (s == 0 && got < id)
                TU_THREAD_ERR("seek(%u) landed on %u", id, got);
            if (tu_below(&r, 2))
                omen_iter_next(it);
            else
                omen_iter_prev(it);
        }
        omen_iter_destroy(it);
        atomic_fetch_add(&g_iters, 1);
    }
    return NULL;
}

typedef struct snapdump {
    uint64_t c[NKEYS]; /* 0: absent */
} snapdump;

static int dump_snapshot(omen_snapshot *s, int back, snapdump *d)
{
    memset(d, 0, sizeof *d);
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.snapshot = s;
    omen_iter *it = NULL;
    if (omen_iter_create(g_db, &io, &it) != OMEN_OK)
        return -1;
    for (back ? omen_iter_seek_last(it) : omen_iter_seek_first(it); omen_iter_valid(it);
         back ? omen_iter_prev(it) : omen_iter_next(it)) {
        size_t kl, vl;
        const char *key = omen_iter_key(it, &kl);
        const void *v = omen_iter_value(it, &vl);
        unsigned id;
        if (parse_key(key, kl, &id) != 0) {
            omen_iter_destroy(it);
            return -1;
        }
        d->c[id] = decode(id, v, vl);
        if (!d->c[id])
            TU_THREAD_ERR("snapshot scan: bad value for key %u", id);
    }
    int rc = omen_iter_status(it);
    omen_iter_destroy(it);
    return rc == OMEN_OK ? 0 : -1;
}

static void *snapshot_thread(void *p)
{
    tu_rng r = {(uintptr_t)p + 99};
    static _Thread_local snapdump d1, d2;
    static _Thread_local uint64_t lo[NKEYS];
    char k[16];
    while (!atomic_load(&g_stop)) {
        for (unsigned i = 0; i < NKEYS; i++)
            lo[i] = atomic_load(&done_c[i]);
        omen_snapshot *s = NULL;
        if (omen_snapshot_create(g_db, &s) != OMEN_OK) {
            TU_THREAD_ERR("snapshot_create failed");
            return NULL;
        }
        if (dump_snapshot(s, 0, &d1) != 0)
            TU_THREAD_ERR("snapshot forward scan failed");
        for (unsigned i = 0; i < NKEYS; i++) {
            if (d1.c[i] && d1.c[i] < lo[i])
                TU_THREAD_ERR("snapshot: key %u at counter %llu, older than acknowledged %llu", i,
                              (unsigned long long)d1.c[i], (unsigned long long)lo[i]);
            if (!d1.c[i] && lo[i] && atomic_load(&del_started[i]) < lo[i])
                TU_THREAD_ERR("snapshot: key %u absent after acknowledged write %llu", i,
                              (unsigned long long)lo[i]);
        }
        /* Let the world move on (writes, flushes, compactions), then the
         * snapshot must read exactly the same. */
        for (int spin = 0; spin < 50 && !atomic_load(&g_stop); spin++) {
            unsigned id = (unsigned)tu_below(&r, NKEYS);
            void *v = NULL;
            size_t vl = 0;
            int rc = omen_get(g_db, s, k, key_of(id, k), &v, &vl);
            uint64_t c = rc == OMEN_OK ? decode(id, v, vl) : 0;
            if ((rc != OMEN_OK && rc != OMEN_NOTFOUND) || c != d1.c[id])
                TU_THREAD_ERR("snapshot get of key %u: %s counter %llu, scan said %llu", id,
                              omen_strerror(rc), (unsigned long long)c, (unsigned long long)d1.c[id]);
            omen_free(v);
        }
        if (dump_snapshot(s, 1, &d2) != 0)
            TU_THREAD_ERR("snapshot backward scan failed");
        if (memcmp(&d1, &d2, sizeof d1) != 0)
            TU_THREAD_ERR("snapshot changed between two scans");
        omen_snapshot_release(g_db, s);
        atomic_fetch_add(&g_snapchecks, 1);
    }
    return NULL;
}

static void *maint_thread(void *p)
{
    (void)p;
    unsigned n = 0;
    while (!atomic_load(&g_stop)) {
        int rc = (n++ % 3 == 2) ? omen_compact_range(g_db, "rw00100", 7, "rw00300", 7)
                                : omen_flush(g_db);
        if (rc == OMEN_OK && n % 4 == 0)
            rc = omen_compact_range(g_db, NULL, 0, NULL, 0);
        if (rc != OMEN_OK)
            TU_THREAD_ERR("maintenance: %s (%s)", omen_strerror(rc), omen_last_error());
        tu_sleep_ns(3000000);
    }
    return NULL;
}

static void test_concurrent_rw(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "conc-rw");
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 16 * 1024;
    o.cache_size = 128 * 1024;
    TU_OK(omen_open(path, &o, &g_db));
    pthread_t w[NWRITERS], rd[NREADERS], it, sn, mt;
    for (int i = 0; i < NREADERS; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, reader_thread, (void *)(uintptr_t)i), 0);
    assert_int_equal(pthread_create(&it, NULL, iter_thread, (void *)1), 0);
    assert_int_equal(pthread_create(&sn, NULL, snapshot_thread, (void *)2), 0);
    assert_int_equal(pthread_create(&mt, NULL, maint_thread, NULL), 0);
    for (int i = 0; i < NWRITERS; i++)
        assert_int_equal(pthread_create(&w[i], NULL, writer_thread, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < NWRITERS; i++)
        pthread_join(w[i], NULL);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < NREADERS; i++)
        pthread_join(rd[i], NULL);
    pthread_join(it, NULL);
    pthread_join(sn, NULL);
    pthread_join(mt, NULL);
    assert_int_equal(atomic_load(tu_thread_errors()), 0);

    /* Final state: exactly the last write of every key, also after reopen. */
    for (int round = 0; round < 2; round++) {
        char k[16];
        for (unsigned id = 0; id < NKEYS; id++) {
            void *v = NULL;
            size_t vl = 0;
            int rc = omen_get(g_db, NULL, k, key_of(id, k), &v, &vl);
            uint64_t last = atomic_load(&done_c[id]);
            if (last && atomic_load(&del_started[id]) == last)
                assert_int_equal(rc, OMEN_NOTFOUND);
            else if (last)
                assert_int_equal(rc == OMEN_OK ? decode(id, v, vl) : 0, last);
            else
                assert_int_equal(rc, OMEN_NOTFOUND);
            omen_free(v);
        }
        TU_OK(omen_close(g_db));
        g_db = NULL;
        if (round == 0)
            TU_OK(omen_open(path, &o, &g_db));
    }
    TU_OK(tu_check_db(path, 1));
    printf("conc rw: %d writes, %ld gets, %ld iterator passes, %ld snapshot checks, all "
           "consistent\n",
           NWRITERS * WRITES, atomic_load(&g_reads), atomic_load(&g_iters),
           atomic_load(&g_snapchecks));
    tu_rmrf(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_rw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
