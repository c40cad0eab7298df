/*
 * test_db_basic.c -- the public API end to end: every bad-input case,
 * put/get/delete, batches, reopen and recovery, iterators (bounds, both
 * directions, direction switches), snapshots, transactions (conflicts,
 * range conflicts, read-your-own-writes), flush and compaction with many
 * keys, statistics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "omendb.h"

static char dir[600];

static int rm_rf(const char *p)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    return system(cmd);
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/dbb.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpl)) return -1;
    snprintf(dir, sizeof dir, "%s/db", tmpl);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char parent[600];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = 0;
    rm_rf(parent);
    return 0;
}

static omen_db *open_db(size_t wbs)
{
    omen_options o;
    omen_options_init(&o);
    if (wbs) o.write_buffer_size = wbs;
    o.cache_size = 1 << 20;
    omen_db *db = NULL;
    int rc = omen_open(dir, &o, &db);
    if (rc) fprintf(stderr, "open: %s: %s\n", omen_strerror(rc), omen_last_error());
    assert_int_equal(rc, OMEN_OK);
    assert_non_null(db);
    return db;
}

static void put_s(omen_db *db, const char *k, const char *v)
{
    assert_int_equal(omen_put(db, k, strlen(k), v, strlen(v), OMEN_SYNC_DEFAULT), OMEN_OK);
}

/* omen_get_into agrees with what expect() wants: the whole value into a
 * large enough buffer, a prefix into a short one (the full length still
 * reported, nothing written past cap), the length alone with cap 0. */
static void expect_into(omen_db *db, const omen_snapshot *s, const char *k, const char *v)
{
    size_t want = v ? strlen(v) : 0;
    char *buf = malloc(want + 2);
    size_t vl = 99;
    int rc = omen_get_into(db, s, k, strlen(k), buf, want + 1, &vl);
    if (!v) {
        assert_int_equal(rc, OMEN_NOTFOUND);
        assert_int_equal(vl, 0);
        free(buf);
        return;
    }
    assert_int_equal(rc, OMEN_OK);
    assert_int_equal(vl, want);
    assert_memory_equal(buf, v, want);
    size_t cap = want / 2;
    memset(buf, '#', want + 2);
    vl = 0;
    assert_int_equal(omen_get_into(db, s, k, strlen(k), buf, cap, &vl), OMEN_OK);
    assert_int_equal(vl, want);
    assert_memory_equal(buf, v, cap);
    assert_int_equal(buf[cap], '#');
    vl = 0;
    assert_int_equal(omen_get_into(db, s, k, strlen(k), NULL, 0, &vl), OMEN_OK);
    assert_int_equal(vl, want);
    free(buf);
}

static void expect(omen_db *db, const omen_snapshot *s, const char *k, const char *v)
{
    expect_into(db, s, k, v);
    void *val = (void *)1;
    size_t vl = 99;
    int rc = omen_get(db, s, k, strlen(k), &val, &vl);
    if (!v) {
        assert_int_equal(rc, OMEN_NOTFOUND);
        assert_null(val);
        return;
    }
    if (rc) fprintf(stderr, "get %s: %s: %s\n", k, omen_strerror(rc), omen_last_error());
    assert_int_equal(rc, OMEN_OK);
    assert_non_null(val);
    assert_int_equal(vl, strlen(v));
    assert_memory_equal(val, v, vl);
    omen_free(val);
}

static void key_of(unsigned i, char *out)
{
    snprintf(out, 32, "key%08u", i);
}

static void val_of(unsigned i, unsigned gen, char *out)
{
    snprintf(out, 64, "value-%u-%u-%s", i, gen, "padpadpadpadpadpadpadpadpadpad");
}

/* ---- API surface ------------------------------------------------------------ */

static void test_bad_inputs(void **state)
{
    (void)state;
    omen_db *db = NULL;
    void *v = NULL;
    size_t vl = 0;
    assert_int_equal(omen_open(NULL, NULL, &db), OMEN_INVALID);
    assert_int_equal(omen_open(dir, NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_put(NULL, "a", 1, "b", 1, 0), OMEN_INVALID);
    assert_int_equal(omen_get(NULL, NULL, "a", 1, &v, &vl), OMEN_INVALID);
    char buf4[4];
    assert_int_equal(omen_get_into(NULL, NULL, "a", 1, buf4, sizeof buf4, &vl), OMEN_INVALID);
    assert_int_equal(omen_delete(NULL, "a", 1, 0), OMEN_INVALID);
    assert_int_equal(omen_write(NULL, NULL, 0), OMEN_INVALID);
    assert_int_equal(omen_flush(NULL), OMEN_INVALID);
    assert_int_equal(omen_get_stats(NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_close(NULL), OMEN_OK);
    assert_int_equal(omen_batch_put(NULL, "a", 1, "b", 1), OMEN_INVALID);
    assert_int_equal(omen_txn_begin(NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_txn_commit(NULL, 0), OMEN_INVALID);
    omen_txn_rollback(NULL);
    omen_iter_destroy(NULL);
    omen_batch_destroy(NULL);
    assert_int_equal(omen_iter_valid(NULL), 0);
    assert_int_equal(omen_snapshot_sequence(NULL), 0);

    /* bad options */
    omen_options o;
    omen_options_init(&o);
    o.compression = 77;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_INVALID);
    omen_options_init(&o);
    o.sync = 9;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_INVALID);
    omen_options_init(&o);
    o.create_if_missing = 0;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_NOTFOUND);

    db = open_db(0);
    assert_int_equal(omen_put(db, NULL, 3, "b", 1, 0), OMEN_INVALID);
    assert_int_equal(omen_put(db, "a", 1, NULL, 3, 0), OMEN_INVALID);
    assert_int_equal(omen_put(db, "a", 1, "b", 1, 7), OMEN_INVALID);
    assert_int_equal(omen_get(db, NULL, NULL, 2, &v, &vl), OMEN_INVALID);
    assert_int_equal(omen_get(db, NULL, "a", 1, NULL, &vl), OMEN_INVALID);
    assert_int_equal(omen_get(db, NULL, "a", 1, &v, NULL), OMEN_INVALID);
    assert_int_equal(omen_get_into(db, NULL, "a", 1, buf4, sizeof buf4, NULL), OMEN_INVALID);
    assert_int_equal(omen_get_into(db, NULL, "a", 1, NULL, 4, &vl), OMEN_INVALID);
    assert_int_equal(omen_get_into(db, NULL, NULL, 2, buf4, sizeof buf4, &vl), OMEN_INVALID);
    assert_int_equal(omen_delete(db, NULL, 1, 0), OMEN_INVALID);
    char *big = calloc(1, OMEN_MAX_KEY_LEN + 1);
    assert_int_equal(omen_put(db, big, OMEN_MAX_KEY_LEN + 1, "x", 1, 0), OMEN_TOOBIG);
    assert_int_equal(omen_get(db, NULL, big, OMEN_MAX_KEY_LEN + 1, &v, &vl), OMEN_TOOBIG);
    assert_int_equal(omen_get_into(db, NULL, big, OMEN_MAX_KEY_LEN + 1, buf4, sizeof buf4, &vl), OMEN_TOOBIG);
    assert_int_equal(omen_delete(db, big, OMEN_MAX_KEY_LEN + 1, 0), OMEN_TOOBIG);
    assert_int_equal(omen_put(db, "k", 1, big, (size_t)OMEN_MAX_VALUE_LEN + 1, 0), OMEN_TOOBIG);
    /* the maximum key is fine */
    assert_int_equal(omen_put(db, big, OMEN_MAX_KEY_LEN, "x", 1, 0), OMEN_OK);
    assert_int_equal(omen_get(db, NULL, big, OMEN_MAX_KEY_LEN, &v, &vl), OMEN_OK);
    omen_free(v);
    omen_batch *b = NULL;
    assert_int_equal(omen_batch_create(&b), OMEN_OK);
    assert_int_equal(omen_batch_put(b, big, OMEN_MAX_KEY_LEN + 1, "x", 1), OMEN_TOOBIG);
    assert_int_equal(omen_batch_put(b, NULL, 1, "x", 1), OMEN_INVALID);
    assert_int_equal(omen_batch_delete(b, NULL, 1), OMEN_INVALID);
    assert_int_equal(omen_batch_count(b), 0);
    assert_int_equal(omen_write(db, b, 0), OMEN_OK); /* empty batch */
    omen_batch_destroy(b);
    free(big);
    omen_iter *it = NULL;
    omen_iter_options io = {0};
    io.lower_len = 3;
    assert_int_equal(omen_iter_create(db, &io, &it), OMEN_INVALID);
    assert_int_equal(omen_iter_create(db, NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_compact_range(db, NULL, 1, NULL, 0), OMEN_INVALID);

    /* second handle on the same directory */
    omen_db *db2 = NULL;
    assert_int_equal(omen_open(dir, NULL, &db2), OMEN_LOCKED);
    assert_null(db2);
    assert_int_equal(omen_destroy(dir), OMEN_BUSY);
    omen_options_init(&o);
    o.error_if_exists = 1;
    assert_int_equal(omen_open(dir, &o, &db2), OMEN_EXISTS);

    assert_int_equal(omen_close(db), OMEN_OK);
    /* closed handle: a clean error, never a crash */
    assert_int_equal(omen_put(db, "a", 1, "b", 1, 0), OMEN_CLOSED);
    assert_int_equal(omen_get(db, NULL, "a", 1, &v, &vl), OMEN_CLOSED);
    assert_int_equal(omen_close(db), OMEN_CLOSED);
    assert_int_equal(omen_open(dir, &o, &db2), OMEN_EXISTS);
    assert_int_equal(omen_destroy(dir), OMEN_OK);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
}

static void test_notdb(void **state)
{
    (void)state;
    omen_db *db = NULL;
    /* a regular file */
    FILE *f = fopen(dir, "w");
    assert_non_null(f);
    fputs("hello", f);
    fclose(f);
    assert_int_equal(omen_open(dir, NULL, &db), OMEN_NOTDB);
    unlink(dir);
    /* a directory with foreign files */
    assert_int_equal(mkdir(dir, 0755), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    f = fopen(p, "w");
    fputs("x", f);
    fclose(f);
    assert_int_equal(omen_open(dir, NULL, &db), OMEN_NOTDB);
    assert_int_equal(omen_destroy(dir), OMEN_NOTDB);
    unlink(p);
    /* an empty directory is fine */
    db = open_db(0);
    omen_close(db);
}

static void test_put_get_delete_reopen(void **state)
{
    (void)state;
    omen_db *db = open_db(0);
    expect(db, NULL, "a", NULL);
    put_s(db, "a", "1");
    put_s(db, "b", "2");
    assert_int_equal(omen_put(db, "", 0, "empty-key", 9, 0), OMEN_OK);
    assert_int_equal(omen_put(db, "ev", 2, "", 0, 0), OMEN_OK);
    expect(db, NULL, "a", "1");
    expect(db, NULL, "b", "2");
    expect(db, NULL, "", "empty-key");
    expect(db, NULL, "ev", "");
    put_s(db, "a", "11");
    expect(db, NULL, "a", "11");
    assert_int_equal(omen_delete(db, "b", 1, OMEN_SYNC_FULL), OMEN_OK);
    assert_int_equal(omen_delete(db, "never", 5, 0), OMEN_OK);
    expect(db, NULL, "b", NULL);
    omen_stats st;
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.sequence, 7);
    assert_int_equal(st.read_only, 0);
    assert_true(st.memtable_entries >= 6);
    assert_int_equal(omen_close(db), OMEN_OK);

    db = open_db(0);
    expect(db, NULL, "a", "11");
    expect(db, NULL, "b", NULL);
    expect(db, NULL, "", "empty-key");
    expect(db, NULL, "ev", "");
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.sequence, 7);
    put_s(db, "c", "3");
    assert_int_equal(omen_flush(db), OMEN_OK);
    expect(db, NULL, "c", "3");
    expect(db, NULL, "a", "11");
    assert_int_equal(omen_close(db), OMEN_OK);

    db = open_db(0);
    expect(db, NULL, "c", "3");
    expect(db, NULL, "b", NULL);
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.sequence, 8);
    assert_int_equal(omen_close(db), OMEN_OK);

    /* read-only open sees everything and refuses writes */
    omen_options o;
    omen_options_init(&o);
    o.read_only = 1;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_OK);
    expect(db, NULL, "a", "11");
    assert_int_equal(omen_put(db, "z", 1, "z", 1, 0), OMEN_READONLY);
    assert_int_equal(omen_close(db), OMEN_OK);
}

static void test_batch(void **state)
{
    (void)state;
    omen_db *db = open_db(0);
    put_s(db, "gone", "x");
    omen_batch *b;
    assert_int_equal(omen_batch_create(&b), OMEN_OK);
    assert_int_equal(omen_batch_put(b, "k1", 2, "v1", 2), OMEN_OK);
    assert_int_equal(omen_batch_put(b, "k2", 2, "v2", 2), OMEN_OK);
    assert_int_equal(omen_batch_delete(b, "gone", 4), OMEN_OK);
    assert_int_equal(omen_batch_put(b, "k1", 2, "v1b", 3), OMEN_OK); /* later op wins */
    assert_int_equal(omen_batch_count(b), 4);
    assert_int_equal(omen_write(db, b, OMEN_SYNC_FULL), OMEN_OK);
    expect(db, NULL, "k1", "v1b");
    expect(db, NULL, "k2", "v2");
    expect(db, NULL, "gone", NULL);
    omen_batch_clear(b);
    assert_int_equal(omen_batch_count(b), 0);
    assert_int_equal(omen_batch_put(b, "k3", 2, "v3", 2), OMEN_OK);
    assert_int_equal(omen_write(db, b, 0), OMEN_OK);
    assert_int_equal(omen_write(db, b, 0), OMEN_OK); /* reusable */
    omen_batch_destroy(b);
    omen_stats st;
    omen_get_stats(db, &st);
    assert_int_equal(st.sequence, 1 + 4 + 1 + 1);
    omen_close(db);
    db = open_db(0);
    expect(db, NULL, "k1", "v1b");
    expect(db, NULL, "k3", "v3");
    expect(db, NULL, "gone", NULL);
    omen_close(db);
}

/* A torn last WAL record (crash in the middle of an append) is dropped
 * whole: the batch is either entirely there or entirely absent. */
static void test_batch_atomic_torn(void **state)
{
    (void)state;
    omen_db *db = open_db(0);
    put_s(db, "before", "1");
    omen_batch *b;
    omen_batch_create(&b);
    for (int i = 0; i < 100; i++) {
        char k[32];
        snprintf(k, sizeof k, "batch%03d", i);
        omen_batch_put(b, k, strlen(k), "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", 32);
    }
    assert_int_equal(omen_write(db, b, 0), OMEN_OK);
    omen_batch_destroy(b);
    omen_close(db);
    /* find the newest wal and chop its last 10 bytes */
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "f=$(ls '%s'/*.wal | sort | tail -1); s=$(stat -c %%s \"$f\"); truncate -s $((s-10)) \"$f\"",
             dir);
    assert_int_equal(system(cmd), 0);
    db = open_db(0);
    expect(db, NULL, "before", "1");
    for (int i = 0; i < 100; i++) {
        char k[32];
        snprintf(k, sizeof k, "batch%03d", i);
        expect(db, NULL, k, NULL);
    }
    omen_close(db);
}

/* ---- iterators ---------------------------------------------------------------- */

static void collect(omen_iter *it, int forward, char *out, size_t cap)
{
    out[0] = 0;
    while (omen_iter_valid(it)) {
        size_t kl;
        const char *k = omen_iter_key(it, &kl);
        size_t vl;
        const char *v = omen_iter_value(it, &vl);
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%.*s=%.*s,", (int)kl, k, (int)vl, v);
        if (forward)
            omen_iter_next(it);
        else
            omen_iter_prev(it);
    }
}

/* Position `it` (how: 'F' seek_first, 'L' seek_last, 'S' seek(key), 'P'
 * seek_for_prev(key)), walk it to its end in the direction that position
 * reads in (forward after F and S, backward after L and P), and compare the
 * "k=v," list with want. */
static void expect_walk(omen_iter *it, char how, const char *key, const char *want)
{
    switch (how) {
    case 'F':
        omen_iter_seek_first(it);
        break;
    case 'L':
        omen_iter_seek_last(it);
        break;
    case 'S':
        omen_iter_seek(it, key, strlen(key));
        break;
    default:
        omen_iter_seek_for_prev(it, key, strlen(key));
        break;
    }
    char buf[4096];
    collect(it, how == 'F' || how == 'S', buf, sizeof buf);
    assert_string_equal(buf, want);
}

static void check_iter_scenarios(omen_db *db)
{
    omen_iter *it;
    assert_int_equal(omen_iter_create(db, NULL, &it), OMEN_OK);
    assert_false(omen_iter_valid(it));
    expect_walk(it, 'F', NULL, "a=1,c=3,d=4,f=6,");
    expect_walk(it, 'L', NULL, "f=6,d=4,c=3,a=1,");
    expect_walk(it, 'S', "b", "c=3,d=4,f=6,");
    expect_walk(it, 'S', "c", "c=3,d=4,f=6,");
    expect_walk(it, 'P', "e", "d=4,c=3,a=1,");
    expect_walk(it, 'P', "d", "d=4,c=3,a=1,");
    omen_iter_seek(it, "g", 1);
    assert_false(omen_iter_valid(it));
    omen_iter_seek_for_prev(it, "0", 1);
    assert_false(omen_iter_valid(it));

    /* direction switches */
    omen_iter_seek(it, "c", 1);
    omen_iter_next(it); /* d */
    omen_iter_prev(it); /* c */
    size_t kl;
    const char *k = omen_iter_key(it, &kl);
    assert_int_equal(kl, 1);
    assert_memory_equal(k, "c", 1);
    omen_iter_prev(it); /* a */
    k = omen_iter_key(it, &kl);
    assert_memory_equal(k, "a", 1);
    omen_iter_next(it); /* c */
    k = omen_iter_key(it, &kl);
    assert_memory_equal(k, "c", 1);
    omen_iter_next(it); /* d */
    omen_iter_next(it); /* f */
    k = omen_iter_key(it, &kl);
    assert_memory_equal(k, "f", 1);
    omen_iter_prev(it); /* d */
    k = omen_iter_key(it, &kl);
    assert_memory_equal(k, "d", 1);
    omen_iter_prev(it);
    omen_iter_prev(it);
    omen_iter_prev(it); /* off the front */
    assert_false(omen_iter_valid(it));
    assert_int_equal(omen_iter_status(it), OMEN_OK);
    omen_iter_destroy(it);

    /* bounds */
    omen_iter_options io = {0};
    io.lower = "b";
    io.lower_len = 1;
    io.upper = "f";
    io.upper_len = 1;
    assert_int_equal(omen_iter_create(db, &io, &it), OMEN_OK);
    expect_walk(it, 'F', NULL, "c=3,d=4,");
    expect_walk(it, 'L', NULL, "d=4,c=3,");
    expect_walk(it, 'S', "a", "c=3,d=4,");
    expect_walk(it, 'P', "z", "d=4,c=3,");
    omen_iter_seek(it, "d", 1);
    omen_iter_prev(it);
    k = omen_iter_key(it, &kl);
    assert_memory_equal(k, "c", 1);
    omen_iter_prev(it);
    assert_false(omen_iter_valid(it));
    omen_iter_destroy(it);
}

static void test_iterators(void **state)
{
    (void)state;
    omen_db *db = open_db(0);
    put_s(db, "a", "1");
    put_s(db, "b", "2");
    put_s(db, "c", "x");
    put_s(db, "e", "5");
    put_s(db, "d", "4");
    omen_delete(db, "b", 1, 0);
    put_s(db, "c", "3");
    put_s(db, "f", "6");
    omen_delete(db, "e", 1, 0);
    check_iter_scenarios(db); /* memtable only */
    assert_int_equal(omen_flush(db), OMEN_OK);
    check_iter_scenarios(db); /* one run */
    /* versions split over memtable and runs */
    put_s(db, "b", "zz");
    omen_delete(db, "b", 1, 0);
    put_s(db, "e", "zz");
    assert_int_equal(omen_flush(db), OMEN_OK);
    omen_delete(db, "e", 1, 0);
    put_s(db, "c", "3");
    check_iter_scenarios(db);
    assert_int_equal(omen_compact_range(db, NULL, 0, NULL, 0), OMEN_OK);
    check_iter_scenarios(db);
    omen_close(db);
    db = open_db(0);
    check_iter_scenarios(db);
    omen_close(db);
}

/* ---- snapshots ------------------------------------------------------------------ */

static void test_snapshots(void **state)
{
    (void)state;
    omen_db *db = open_db(0);
    put_s(db, "k", "v1");
    put_s(db, "gone", "here");
    omen_snapshot *s1;
    assert_int_equal(omen_snapshot_create(db, &s1), OMEN_OK);
    assert_int_equal(omen_snapshot_sequence(s1), 2);
    put_s(db, "k", "v2");
    omen_delete(db, "gone", 4, 0);
    put_s(db, "new", "n");
    expect(db, s1, "k", "v1");
    expect(db, s1, "gone", "here");
    expect(db, s1, "new", NULL);
    expect(db, NULL, "k", "v2");
    expect(db, NULL, "gone", NULL);
    /* survives flush and full compaction */
    assert_int_equal(omen_flush(db), OMEN_OK);
    put_s(db, "k", "v3");
    assert_int_equal(omen_compact_range(db, NULL, 0, NULL, 0), OMEN_OK);
    expect(db, s1, "k", "v1");
    expect(db, s1, "gone", "here");
    expect(db, s1, "new", NULL);
    expect(db, NULL, "k", "v3");
    omen_iter_options io = {0};
    io.snapshot = s1;
    omen_iter *it;
    assert_int_equal(omen_iter_create(db, &io, &it), OMEN_OK);
    expect_walk(it, 'F', NULL, "gone=here,k=v1,");
    omen_iter_destroy(it);
    omen_snapshot_release(db, s1);
    /* after release, compaction may drop the old versions */
    assert_int_equal(omen_compact_range(db, NULL, 0, NULL, 0), OMEN_OK);
    omen_stats st;
    omen_get_stats(db, &st);
    assert_int_equal(st.run_entries, 2); /* k, new: tombstone and old versions gone */
    omen_close(db);
}

/* ---- transactions ------------------------------------------------------------------ */

static void txn_expect(omen_txn *t, const char *k, const char *v)
{
    void *val;
    size_t vl;
    int rc = omen_txn_get(t, k, strlen(k), &val, &vl);
    if (!v) {
        assert_int_equal(rc, OMEN_NOTFOUND);
        return;
    }
    assert_int_equal(rc, OMEN_OK);
    assert_int_equal(vl, strlen(v));
    assert_memory_equal(val, v, vl);
    omen_free(val);
}

static void test_txn(void **state)
{
    (void)state;
    omen_db *db = open_db(0);
    put_s(db, "a", "1");
    put_s(db, "b", "2");

    /* read-your-own-writes, commit */
    omen_txn *t;
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    txn_expect(t, "a", "1");
    assert_int_equal(omen_txn_put(t, "a", 1, "10", 2), OMEN_OK);
    assert_int_equal(omen_txn_delete(t, "b", 1), OMEN_OK);
    assert_int_equal(omen_txn_put(t, "c", 1, "30", 2), OMEN_OK);
    txn_expect(t, "a", "10");
    txn_expect(t, "b", NULL);
    txn_expect(t, "c", "30");
    expect(db, NULL, "a", "1"); /* not visible outside yet */
    expect(db, NULL, "c", NULL);
    omen_iter *it;
    assert_int_equal(omen_txn_iter_create(t, NULL, &it), OMEN_OK);
    expect_walk(it, 'F', NULL, "a=10,c=30,");
    expect_walk(it, 'L', NULL, "c=30,a=10,");
    omen_iter_destroy(it);
    assert_int_equal(omen_txn_commit(t, OMEN_SYNC_FULL), OMEN_OK);
    expect(db, NULL, "a", "10");
    expect(db, NULL, "b", NULL);
    expect(db, NULL, "c", "30");

    /* write-read conflict */
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    txn_expect(t, "a", "10");
    put_s(db, "a", "11");
    assert_int_equal(omen_txn_put(t, "x", 1, "1", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CONFLICT);
    expect(db, NULL, "x", NULL);

    /* write-write conflict (blind write) */
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_put(t, "a", 1, "t", 1), OMEN_OK);
    put_s(db, "a", "12");
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CONFLICT);
    expect(db, NULL, "a", "12");

    /* no conflict on unrelated keys; reads of absent keys count */
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    txn_expect(t, "absent", NULL);
    put_s(db, "other", "o");
    assert_int_equal(omen_txn_put(t, "y", 1, "1", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_OK);
    expect(db, NULL, "y", "1");
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    txn_expect(t, "absent", NULL);
    put_s(db, "absent", "now");
    assert_int_equal(omen_txn_put(t, "y", 1, "2", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CONFLICT);

    /* range conflict: a phantom inserted into a scanned range */
    omen_iter_options io = {0};
    io.lower = "r0";
    io.lower_len = 2;
    io.upper = "r9";
    io.upper_len = 2;
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_iter_create(t, &io, &it), OMEN_OK);
    omen_iter_seek_first(it);
    assert_false(omen_iter_valid(it));
    omen_iter_destroy(it);
    put_s(db, "r5", "phantom");
    assert_int_equal(omen_txn_put(t, "sum", 3, "0", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CONFLICT);
    /* a write outside the scanned range does not conflict */
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_iter_create(t, &io, &it), OMEN_OK);
    expect_walk(it, 'F', NULL, "r5=phantom,");
    omen_iter_destroy(it);
    put_s(db, "s5", "outside");
    assert_int_equal(omen_txn_put(t, "sum", 3, "1", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_OK);
    expect(db, NULL, "sum", "1");

    /* the recorded range is what the iterator covered, not its bounds */
    put_s(db, "k10", "1");
    put_s(db, "k20", "2");
    put_s(db, "k30", "3");
    put_s(db, "k40", "4");
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_iter_create(t, NULL, &it), OMEN_OK);
    omen_iter_seek(it, "k15", 3);
    omen_iter_next(it);
    size_t kl;
    const void *kp = omen_iter_key(it, &kl);
    assert_memory_equal(kp, "k30", 3);
    omen_iter_destroy(it);
    put_s(db, "k45", "outside"); /* beyond k30: not covered */
    put_s(db, "k12", "outside"); /* before the seek target: not covered */
    assert_int_equal(omen_txn_put(t, "w", 1, "1", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_OK);
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_iter_create(t, NULL, &it), OMEN_OK);
    omen_iter_seek(it, "k15", 3); /* lands on k20: [k15, k20] covered */
    omen_iter_destroy(it);
    put_s(db, "k17", "phantom");
    assert_int_equal(omen_txn_put(t, "w", 1, "2", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CONFLICT);
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_iter_create(t, NULL, &it), OMEN_OK);
    omen_iter_seek_for_prev(it, "k35", 3); /* lands on k30: [k30, k35] covered */
    kp = omen_iter_key(it, &kl);
    assert_memory_equal(kp, "k30", 3);
    omen_iter_destroy(it);
    put_s(db, "k25", "outside");
    assert_int_equal(omen_txn_put(t, "w", 1, "3", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_OK);
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_iter_create(t, NULL, &it), OMEN_OK);
    omen_iter_seek_for_prev(it, "k35", 3);
    omen_iter_destroy(it);
    omen_delete(db, "k30", 3, 0); /* a deletion inside the covered range */
    assert_int_equal(omen_txn_put(t, "w", 1, "4", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CONFLICT);
    /* running off the end covers everything to the end */
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_iter_create(t, NULL, &it), OMEN_OK);
    omen_iter_seek(it, "zzz", 3);
    assert_false(omen_iter_valid(it));
    omen_iter_destroy(it);
    put_s(db, "zzzz", "x");
    assert_int_equal(omen_txn_put(t, "w", 1, "5", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CONFLICT);

    /* conflicts are found also after the change was flushed to a run */
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    txn_expect(t, "a", "12");
    put_s(db, "a", "13");
    assert_int_equal(omen_flush(db), OMEN_OK);
    assert_int_equal(omen_txn_put(t, "a", 1, "t", 1), OMEN_OK);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CONFLICT);

    /* rollback discards */
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_txn_put(t, "rb", 2, "1", 1), OMEN_OK);
    omen_txn_rollback(t);
    expect(db, NULL, "rb", NULL);
    /* read-only transaction commits */
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    txn_expect(t, "a", "13");
    put_s(db, "a", "14");
    assert_int_equal(omen_txn_commit(t, 0), OMEN_OK);
    omen_close(db);
}

/* ---- flush and compaction with many keys --------------------------------------------- */

static void test_many_keys(void **state)
{
    (void)state;
    omen_db *db = open_db(64 * 1024); /* small memtable: many flushes */
    const unsigned N = 20000;
    char k[32], v[64];
    for (unsigned i = 0; i < N; i++) {
        unsigned x = (i * 7919u) % N;
        key_of(x, k);
        val_of(x, 0, v);
        assert_int_equal(omen_put(db, k, strlen(k), v, strlen(v), 0), OMEN_OK);
    }
    for (unsigned i = 0; i < N; i += 3) {
        key_of(i, k);
        val_of(i, 1, v);
        assert_int_equal(omen_put(db, k, strlen(k), v, strlen(v), 0), OMEN_OK);
    }
    for (unsigned i = 0; i < N; i += 5) {
        key_of(i, k);
        assert_int_equal(omen_delete(db, k, strlen(k), 0), OMEN_OK);
    }
    omen_stats st;
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_true(st.flushes > 0);
    for (int pass = 0; pass < 3; pass++) {
        for (unsigned i = 0; i < N; i++) {
            key_of(i, k);
            if (i % 5 == 0) {
                expect(db, NULL, k, NULL);
                continue;
            }
            val_of(i, i % 3 == 0, v);
            expect(db, NULL, k, v);
        }
        /* full scan forward and backward */
        omen_iter *it;
        assert_int_equal(omen_iter_create(db, NULL, &it), OMEN_OK);
        unsigned count = 0, expect_i = 1;
        for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
            while (expect_i % 5 == 0) expect_i++;
            size_t kl, vl;
            const void *kp = omen_iter_key(it, &kl);
            const void *vp = omen_iter_value(it, &vl);
            key_of(expect_i, k);
            val_of(expect_i, expect_i % 3 == 0, v);
            assert_int_equal(kl, strlen(k));
            assert_memory_equal(kp, k, kl);
            assert_int_equal(vl, strlen(v));
            assert_memory_equal(vp, v, vl);
            expect_i++;
            count++;
        }
        assert_int_equal(count, N - N / 5);
        count = 0;
        for (omen_iter_seek_last(it); omen_iter_valid(it); omen_iter_prev(it)) count++;
        assert_int_equal(count, N - N / 5);
        assert_int_equal(omen_iter_status(it), OMEN_OK);
        omen_iter_destroy(it);
        if (pass == 0) {
            assert_int_equal(omen_compact_range(db, NULL, 0, NULL, 0), OMEN_OK);
            assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
            assert_true(st.compactions > 0);
            assert_int_equal(st.run_entries, N - N / 5); /* old versions and tombstones gone */
            assert_int_equal(st.runs_per_level[0], 0);
            assert_true(st.index_bytes > 0);
            assert_true(st.file_bytes > 0);
        } else if (pass == 1) {
            omen_close(db);
            db = open_db(64 * 1024);
        }
    }
    omen_close(db);
    /* check passes on a healthy database */
    assert_int_equal(omen_check(dir, NULL, NULL), OMEN_OK);
}

/* A level over its target whose next level is empty hands its run down
 * without rewriting it: the level changes (in the MANIFEST too), no bytes
 * are written, and every key still reads back. */
static void put_range(omen_db *db, unsigned from, unsigned to)
{
    /* One batch: one memtable, one L0 run, whatever its size. */
    omen_batch *b;
    assert_int_equal(omen_batch_create(&b), OMEN_OK);
    char k[32], v[200];
    for (unsigned i = from; i < to; i++) {
        key_of(i, k);
        memset(v, 'a' + i % 26, sizeof v);
        assert_int_equal(omen_batch_put(b, k, strlen(k), v, sizeof v), OMEN_OK);
    }
    assert_int_equal(omen_write(db, b, 0), OMEN_OK);
    omen_batch_destroy(b);
}

static void test_trivial_move(void **state)
{
    (void)state;
    omen_db *db = open_db(64 * 1024); /* L1 target: 256 KiB */
    omen_stats st, st0;
    /* ~90 KiB into L1, then ~200 KiB more as one L0 run: merging both
     * into L1, the deepest level, leaves L1 over its target, and the
     * compaction thread then moves the run to L2 (whose 2.5 MiB target
     * holds it). */
    put_range(db, 0, 400);
    assert_int_equal(omen_compact_range(db, NULL, 0, NULL, 0), OMEN_OK);
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.runs_per_level[1], 1);
    put_range(db, 400, 1400);
    assert_int_equal(omen_compact_range(db, NULL, 0, NULL, 0), OMEN_OK);
    assert_int_equal(omen_get_stats(db, &st0), OMEN_OK);
    int moved = 0;
    for (int t = 0; t < 1000 && !moved; t++) { /* a deadline, not a timing */
        assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
        moved = st.runs_per_level[2] == 1;
        if (!moved) usleep(10000);
    }
    assert_true(moved);
    assert_int_equal(st.runs_per_level[1], 0);
    /* A move is no compaction: nothing more was counted or written since
     * the manual compaction returned (a rewrite of the run could not even
     * have started before st0 was read). */
    assert_int_equal(st.compactions, st0.compactions);
    assert_int_equal(st.compaction_bytes_written, st0.compaction_bytes_written);
    assert_int_equal(omen_close(db), OMEN_OK);
    db = open_db(64 * 1024);
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.runs_per_level[2], 1); /* the MANIFEST has the move */
    assert_int_equal(st.run_entries, 1400);
    for (unsigned i = 0; i < 1400; i += 7) {
        char k[32];
        key_of(i, k);
        void *got;
        size_t gl;
        assert_int_equal(omen_get(db, NULL, k, strlen(k), &got, &gl), OMEN_OK);
        assert_int_equal(gl, 200);
        assert_int_equal(((char *)got)[199], 'a' + i % 26);
        omen_free(got);
    }
    omen_close(db);
    assert_int_equal(omen_check(dir, NULL, NULL), OMEN_OK);
}

/* Misuse: closing with an iterator, snapshot and transaction still open is
 * reported (OMEN_BUSY) and releasing them afterwards must not crash. */
static void test_close_with_outstanding(void **state)
{
    (void)state;
    omen_db *db = open_db(0);
    put_s(db, "a", "1");
    assert_int_equal(omen_flush(db), OMEN_OK);
    put_s(db, "b", "2");
    omen_iter *it;
    omen_snapshot *s;
    omen_txn *t;
    assert_int_equal(omen_iter_create(db, NULL, &it), OMEN_OK);
    omen_iter_seek_first(it);
    assert_true(omen_iter_valid(it));
    assert_int_equal(omen_snapshot_create(db, &s), OMEN_OK);
    assert_int_equal(omen_txn_begin(db, &t), OMEN_OK);
    assert_int_equal(omen_compact_range(db, NULL, 0, NULL, 0), OMEN_OK);
    assert_int_equal(omen_close(db), OMEN_BUSY);
    assert_int_equal(omen_txn_commit(t, 0), OMEN_CLOSED);
    omen_snapshot_release(db, s);
    omen_iter_next(it);
    omen_iter_destroy(it);
    /* the database is intact */
    db = open_db(0);
    expect(db, NULL, "a", "1");
    expect(db, NULL, "b", "2");
    omen_close(db);
}

static void test_key_u64(void **state)
{
    (void)state;
    unsigned char a[8], b[8];
    omen_key_u64(5, a);
    omen_key_u64(256, b);
    assert_true(memcmp(a, b, 8) < 0);
    assert_int_equal(omen_key_to_u64(b, 8), 256);
    assert_int_equal(omen_key_to_u64(b, 7), 0);
    omen_key_u64(UINT64_MAX, a);
    assert_true(omen_key_to_u64(a, 8) == UINT64_MAX);
    assert_string_equal(omen_strerror(OMEN_CONFLICT), "transaction conflict");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notdb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_delete_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_atomic_torn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trivial_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_outstanding, setup, teardown),
        cmocka_unit_test(test_key_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
