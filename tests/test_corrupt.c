/*
 * test_corrupt.c -- damaged files and bad input.
 *
 * Corruption: a pristine database is built with sorted runs on two levels,
 * a WAL holding writes not yet in any run, and a MANIFEST.  For each file,
 * copies of the directory get one byte flipped at many positions (header,
 * footer, evenly spread, random) or the file truncated at many lengths.  On
 * each copy: omen_check, then open, a get of every key, and full scans both
 * ways.  Required:
 *   - every call returns a clean code (OMEN_CORRUPT, OMEN_NOTDB,
 *     OMEN_VERSION, ...) -- never a crash (ASan runs this too);
 *   - a get or scan never returns a wrong value, and scans stay ordered; a
 *     key may be absent only because data was damaged;
 *   - if omen_check passes on a damaged copy of a run or the MANIFEST, the
 *     database must read back completely (damage that check misses and that
 *     changes data is a bug);
 *   - damage to the WAL: open may refuse cleanly, or recover a prefix of the
 *     logged writes; a truncated WAL (a torn tail) must open and recover the
 *     prefix.
 * Bad input: NULL handles and buffers, oversize keys and values, closed
 * handles, a path that is a regular file, a directory of foreign files
 * (left untouched), absent/existing databases, read-only opens that write
 * nothing, and a database locked by another process (fork) or handle.
 */
#include <signal.h>
#include <sys/wait.h>

#include "testutil.h"
#include "util/crc32c.h"

/* ---- The pristine database ------------------------------------------------ */

#define N1 1500 /* phase 1: keys that end up in runs */
#define N2 120  /* phase 2: logged operations left in the WAL */

static tu_map g_base;  /* state after phase 1 (what the runs hold) */
static tu_map g_final; /* state after phase 2 */
static char g_pristine[PATH_MAX];

typedef struct wal_op {
    char key[32];
    size_t kl;
    int del;
    unsigned char val[64];
    size_t vl;
    int batch_end; /* 1 on the last op of an atomic group */
} wal_op;
static wal_op g_ops[N2 * 4];
static size_t g_nops;

static void build_pristine(void)
{
    tu_path(g_pristine, sizeof g_pristine, "pristine");
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 32 * 1024;
    o.compression = OMEN_COMPRESS_LZ4;
    omen_db *db = NULL;
    TU_OK(omen_open(g_pristine, &o, &db));
    tu_rng r = {42};
    char k[32];
    unsigned char v[600];
    for (int i = 0; i < N1; i++) {
        int kl = sprintf(k, "key%06d", i * 3);
        size_t vl = 1 + tu_below(&r, 400);
        for (size_t j = 0; j < vl; j++)
            v[j] = (unsigned char)(j % 3 == 0 ? tu_next(&r) : 'x');
        TU_OK(omen_put(db, k, (size_t)kl, v, vl, OMEN_SYNC_RELAXED));
        tu_map_put(&g_base, k, (size_t)kl, v, vl);
    }
    TU_OK(omen_compact_range(db, NULL, 0, NULL, 0)); /* a bottom-level run */
    for (int i = 0; i < 300; i++) {                  /* newer versions on L0 */
        int kl = sprintf(k, "key%06d", (int)tu_below(&r, N1) * 3);
        if (i % 5 == 0) {
            TU_OK(omen_delete(db, k, (size_t)kl, OMEN_SYNC_RELAXED));
            tu_map_del(&g_base, k, (size_t)kl);
        } else {
            size_t vl = sprintf((char *)v, "second-%d", i);
            TU_OK(omen_put(db, k, (size_t)kl, v, vl, OMEN_SYNC_RELAXED));
            tu_map_put(&g_base, k, (size_t)kl, v, vl);
        }
    }
    TU_OK(omen_flush(db));
    TU_OK(omen_close(db));

    /* Phase 2: a big write buffer keeps these in the WAL only. */
    o.write_buffer_size = 64u << 20;
    TU_OK(omen_open(g_pristine, &o, &db));
    tu_map_copy(&g_final, &g_base);
    omen_batch *b = NULL;
    TU_OK(omen_batch_create(&b));
    for (int i = 0; i < N2; i++) {
        int group = i % 10 == 9 ? 3 : 1;
        omen_batch_clear(b);
        for (int g = 0; g < group; g++) {
            wal_op *w = &g_ops[g_nops++];
            if (g == 0 && i % 4 == 1) /* overwrite or delete a phase-1 key */
                w->kl = (size_t)sprintf(w->key, "key%06d", (int)tu_below(&r, N1) * 3);
            else
                w->kl = (size_t)sprintf(w->key, "wal%04d-%d", i, g);
            w->del = i % 12 == 5;
            w->vl = (size_t)sprintf((char *)w->val, "walval-%d-%d", i, g);
            w->batch_end = g == group - 1;
            if (w->del)
                TU_OK(omen_batch_delete(b, w->key, w->kl));
            else
                TU_OK(omen_batch_put(b, w->key, w->kl, w->val, w->vl));
            if (w->del)
                tu_map_del(&g_final, w->key, w->kl);
            else
                tu_map_put(&g_final, w->key, w->kl, w->val, w->vl);
        }
        TU_OK(omen_write(db, b, OMEN_SYNC_RELAXED));
    }
    omen_batch_destroy(b);
    TU_OK(omen_close(db));
    TU_OK(tu_check_db(g_pristine, 0));
}

/* ---- Evaluating a damaged copy --------------------------------------------- */

enum { F_RUN, F_WAL, F_MANIFEST };

typedef struct dmg_stats {
    unsigned long trials, check_caught, open_refused, reads_failed, keys_lost, prefix_recovered;
} dmg_stats;

static int clean_open_code(int rc)
{
    return rc == OMEN_CORRUPT || rc == OMEN_NOTDB || rc == OMEN_VERSION || rc == OMEN_IO;
}

/* Is v a value the key had at some point (base, or a logged write)? */
static int value_known(const void *k, size_t kl, const void *v, size_t vl)
{
    const tu_kv *e = tu_map_get(&g_base, k, kl);
    if (e && !tu_keycmp(v, vl, e->v, e->vl))
        return 1;
    for (size_t i = 0; i < g_nops; i++)
        if (!g_ops[i].del && !tu_keycmp(k, kl, g_ops[i].key, g_ops[i].kl) &&
            !tu_keycmp(v, vl, g_ops[i].val, g_ops[i].vl))
            return 1;
    return 0;
}

/* When 0, values an iterator returned are only required to be right if the
 * iterator finished with status OK (see test_corrupt_runs_iter_strict). */
static int g_iter_strict = 1;

static void evaluate(const char *dir, int kind, const char *what, dmg_stats *ds)
{
    char b1[128];
    ds->trials++;
    int crc = omen_check(dir, NULL, NULL);
    if (crc != OMEN_OK && !clean_open_code(crc))
        tu_fail("%s: omen_check returned %s", what, omen_strerror(crc));
    if (crc != OMEN_OK)
        ds->check_caught++;
    omen_db *db = NULL;
    omen_options o;
    omen_options_init(&o);
    o.create_if_missing = 0;
    int rc = omen_open(dir, &o, &db);
    if (rc != OMEN_OK) {
        if (!clean_open_code(rc))
            tu_fail("%s: open returned %s (%s)", what, omen_strerror(rc), omen_last_error());
        if (db)
            tu_fail("%s: failed open left a handle", what);
        if (kind == F_WAL && strstr(what, "truncate"))
            tu_fail("%s: a truncated WAL (torn tail) must recover, open said %s (%s)", what,
                    omen_strerror(rc), omen_last_error());
        ds->open_refused++;
        return;
    }
    /* Point reads: right value, absent, or a clean error. */
    unsigned long lost = 0, failed = 0;
    for (size_t i = 0; i < g_final.n; i++) {
        const tu_kv *e = &g_final.a[i];
        void *v = NULL;
        size_t vl = 0;
        rc = omen_get(db, NULL, e->k, e->kl, &v, &vl);
        if (rc == OMEN_OK) {
            if (!value_known(e->k, e->kl, v, vl))
                tu_fail("%s: get %s returned a value never written", what,
                        tu_fmt(e->k, e->kl, b1, sizeof b1));
            if (kind != F_WAL && tu_keycmp(v, vl, e->v, e->vl) != 0) {
                /* Damage outside the WAL cannot roll a key back in time, unless
                 * the newer version was in damaged data: count as lost. */
                lost++;
            }
        } else if (rc == OMEN_NOTFOUND) {
            lost++;
        } else if (rc == OMEN_CORRUPT || rc == OMEN_IO) {
            failed++;
        } else {
            tu_fail("%s: get %s returned %s", what, tu_fmt(e->k, e->kl, b1, sizeof b1),
                    omen_strerror(rc));
        }
        omen_free(v);
    }
    /* Scans: ordered, known values, clean status. */
    tu_map got = {0};
    int src = tu_dump(db, NULL, &got);
    if (src == TU_ORDER_ERR)
        tu_fail("%s: scan returned keys out of order", what);
    if (src != OMEN_OK && src != OMEN_CORRUPT && src != OMEN_IO)
        tu_fail("%s: scan status %s", what, omen_strerror(src));
    for (size_t i = 0; i < got.n && (g_iter_strict || src == OMEN_OK); i++)
        if (!value_known(got.a[i].k, got.a[i].kl, got.a[i].v, got.a[i].vl))
            tu_fail("%s: scan returned %s with a value never written", what,
                    tu_fmt(got.a[i].k, got.a[i].kl, b1, sizeof b1));
    omen_iter *it = NULL;
    if (omen_iter_create(db, NULL, &it) == OMEN_OK) {
        const void *pk = NULL;
        size_t pkl = 0;
        unsigned char prev[64];
        for (omen_iter_seek_last(it); omen_iter_valid(it); omen_iter_prev(it)) {
            size_t kl, vl;
            const void *k = omen_iter_key(it, &kl);
            const void *v = omen_iter_value(it, &vl);
            if (pk && tu_keycmp(k, kl, pk, pkl) >= 0)
                tu_fail("%s: backward scan out of order", what);
            if (!value_known(k, kl, v, vl) && (g_iter_strict || omen_iter_status(it) == OMEN_OK))
                tu_fail("%s: backward scan: %s has a value never written", what,
                        tu_fmt(k, kl, b1, sizeof b1));
            pkl = kl < sizeof prev ? kl : sizeof prev;
            memcpy(prev, k, pkl);
            pk = prev;
        }
        int s = omen_iter_status(it);
        if (s != OMEN_OK && s != OMEN_CORRUPT && s != OMEN_IO)
            tu_fail("%s: backward scan status %s", what, omen_strerror(s));
        omen_iter_destroy(it);
    }
    if (kind == F_WAL && src == OMEN_OK && !failed) {
        /* Recovery from a damaged log: the base plus a prefix of the log,
         * whole batches only. */
        tu_map cur;
        tu_map_copy(&cur, &g_base);
        int found = tu_map_equal(&got, &cur);
        for (size_t i = 0; i < g_nops && !found; i++) {
            if (g_ops[i].del)
                tu_map_del(&cur, g_ops[i].key, g_ops[i].kl);
            else
                tu_map_put(&cur, g_ops[i].key, g_ops[i].kl, g_ops[i].val, g_ops[i].vl);
            if (g_ops[i].batch_end)
                found = tu_map_equal(&got, &cur);
        }
        tu_map_clear(&cur);
        if (!found)
            tu_fail("%s: recovered state (%zu keys) is not the runs plus a prefix of the log",
                    what, got.n);
        ds->prefix_recovered++;
    }
    if (crc == OMEN_OK && kind != F_WAL && (lost || failed || src != OMEN_OK ||
                                             !tu_map_equal(&got, &g_final)))
        tu_fail("%s: omen_check passed but %lu keys were lost, %lu reads failed (scan %s, %zu "
                "keys of %zu)",
                what, lost, failed, omen_strerror(src), got.n, g_final.n);
    ds->keys_lost += lost;
    ds->reads_failed += failed;
    tu_map_clear(&got);
    rc = omen_close(db);
    if (rc != OMEN_OK && !clean_open_code(rc))
        tu_fail("%s: close returned %s", what, omen_strerror(rc));
}

static void damage_file(const char *name, int kind, int nflips, int ntrunc, dmg_stats *ds)
{
    char src[PATH_MAX], copy[PATH_MAX], target[PATH_MAX], what[200];
    tu_join(src, sizeof src, g_pristine, name);
    tu_path(copy, sizeof copy, "damaged");
    tu_join(target, sizeof target, copy, name);
    unsigned char *orig;
    size_t len;
    assert_int_equal(tu_read_file(src, &orig, &len), 0);
    assert_true(len > 0);
    tu_rng r = {len * 7 + (uint64_t)kind};
    for (int t = 0; t < nflips; t++) {
        size_t pos;
        if (t < 16 && (size_t)t < len)
            pos = (size_t)t; /* header */
        else if (t < 32)
            pos = len - 1 - tu_below(&r, len < 64 ? len : 64); /* footer */
        else if (t < nflips / 2 + 16)
            pos = (size_t)((uint64_t)(t - 32) * len / (uint64_t)(nflips / 2 - 16 + 1)); /* spread */
        else
            pos = tu_below(&r, len);
        if (pos >= len)
            pos = len - 1;
        assert_int_equal(tu_copy_dir(g_pristine, copy), 0);
        unsigned char *buf = tu_dup(orig, len);
        buf[pos] ^= (unsigned char)(1u << tu_below(&r, 8)) | (t & 1 ? 0x80 : 0);
        assert_int_equal(tu_write_file(target, buf, len), 0);
        free(buf);
        snprintf(what, sizeof what, "%s: flip at %zu of %zu", name, pos, len);
        evaluate(copy, kind, what, ds);
    }
    for (int t = 0; t < ntrunc; t++) {
        size_t cut;
        if (t == 0)
            cut = 0;
        else if (t < 4)
            cut = len - (size_t)t;
        else
            cut = (size_t)((uint64_t)t * len / (uint64_t)(ntrunc + 1));
        if (cut >= len)
            cut = len - 1;
        assert_int_equal(tu_copy_dir(g_pristine, copy), 0);
        assert_int_equal(tu_write_file(target, orig, cut), 0);
        snprintf(what, sizeof what, "%s: truncate to %zu of %zu", name, cut, len);
        evaluate(copy, kind, what, ds);
    }
    free(orig);
    tu_rmrf(copy);
}

static int setup_pristine(void **state)
{
    (void)state;
    build_pristine();
    return 0;
}

static int teardown_pristine(void **state)
{
    (void)state;
    tu_map_clear(&g_base);
    tu_map_clear(&g_final);
    tu_rmrf(g_pristine);
    return 0;
}

static void print_stats(const char *what, const dmg_stats *ds)
{
    printf("%-9s: %lu damaged copies; omen_check caught %lu, open refused %lu, reads failed "
           "cleanly %lu, keys lost %lu, WAL prefixes recovered %lu\n",
           what, ds->trials, ds->check_caught, ds->open_refused, ds->reads_failed, ds->keys_lost,
           ds->prefix_recovered);
}

static void test_corrupt_runs(void **state)
{
    (void)state;
    g_iter_strict = 0;
    char **names;
    size_t n = tu_list(g_pristine, ".run", &names);
    assert_true(n >= 2); /* one bottom-level run, one L0 run */
    dmg_stats ds = {0};
    for (size_t i = 0; i < n; i++)
        damage_file(names[i], F_RUN, 48, 16, &ds);
    tu_list_free(names, n);
    print_stats("runs", &ds);
    /* Every truncation must be noticed by omen_check (sizes are recorded). */
    assert_true(ds.check_caught >= 16 * n);
    g_iter_strict = 1;
}

/* The same damage, but an iterator must never hand out a wrong value even
 * on the step where it hits the error: it stops (invalid) with the status
 * set.  (Regression: the iterator once stayed valid on the damaged entry
 * with an empty value while omen_iter_status said OMEN_CORRUPT.) */
static void test_corrupt_runs_iter_strict(void **state)
{
    (void)state;
    char **names;
    size_t n = tu_list(g_pristine, ".run", &names);
    dmg_stats ds = {0};
    for (size_t i = 0; i < n; i++)
        damage_file(names[i], F_RUN, 48, 0, &ds);
    tu_list_free(names, n);
}

static void test_corrupt_wal(void **state)
{
    (void)state;
    char **names;
    size_t n = tu_list(g_pristine, ".wal", &names);
    assert_true(n >= 1);
    dmg_stats ds = {0};
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX];
        tu_join(p, sizeof p, g_pristine, names[i]);
        struct stat st;
        if (stat(p, &st) == 0 && st.st_size > 64)
            damage_file(names[i], F_WAL, 48, 24, &ds);
    }
    tu_list_free(names, n);
    print_stats("wal", &ds);
    assert_true(ds.trials > 0);
}

static void test_corrupt_manifest(void **state)
{
    (void)state;
    dmg_stats ds = {0};
    damage_file("MANIFEST", F_MANIFEST, 64, 16, &ds);
    print_stats("manifest", &ds);
    /* The manifest is small and fully checksummed: every flip and every
     * truncation must be refused by open. */
    assert_int_equal(ds.open_refused, ds.trials);
}

/* A run file named in the MANIFEST is missing. */
static void test_missing_run(void **state)
{
    (void)state;
    char **names;
    size_t n = tu_list(g_pristine, ".run", &names);
    assert_true(n >= 1);
    char copy[PATH_MAX], victim[PATH_MAX];
    tu_path(copy, sizeof copy, "missing");
    assert_int_equal(tu_copy_dir(g_pristine, copy), 0);
    tu_join(victim, sizeof victim, copy, names[0]);
    assert_int_equal(unlink(victim), 0);
    assert_int_equal(omen_check(copy, NULL, NULL), OMEN_CORRUPT);
    omen_db *db = NULL;
    int rc = omen_open(copy, NULL, &db);
    assert_true(rc == OMEN_CORRUPT || rc == OMEN_IO || rc == OMEN_NOTFOUND);
    assert_null(db);
    tu_list_free(names, n);
    tu_rmrf(copy);
}

/* A file written by a newer format version (docs/format.md: version u32 at
 * offset 8, masked crc32c of bytes 0..11 at offset 12; the MANIFEST also
 * ends with a masked crc of everything before it) must be refused with
 * OMEN_VERSION, not misread and not called corruption. */
static void put_u32le(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void bump_version(const char *file, int has_trailer)
{
    unsigned char *buf;
    size_t len;
    assert_int_equal(tu_read_file(file, &buf, &len), 0);
    assert_true(len >= 20);
    put_u32le(buf + 8, 99); /* a version no build has written yet */
    put_u32le(buf + 12, crc32c_mask(crc32c(0, buf, 12)));
    if (has_trailer)
        put_u32le(buf + len - 4, crc32c_mask(crc32c(0, buf, len - 4)));
    assert_int_equal(tu_write_file(file, buf, len), 0);
    free(buf);
}

static void test_future_version(void **state)
{
    (void)state;
    char copy[PATH_MAX], f[PATH_MAX];
    omen_db *db = NULL;
    tu_path(copy, sizeof copy, "version-manifest");
    assert_int_equal(tu_copy_dir(g_pristine, copy), 0);
    tu_join(f, sizeof f, copy, "MANIFEST");
    bump_version(f, 1);
    assert_int_equal(omen_open(copy, NULL, &db), OMEN_VERSION);
    assert_null(db);
    assert_int_not_equal(omen_check(copy, NULL, NULL), OMEN_OK);
    tu_rmrf(copy);

    char **names;
    size_t n = tu_list(g_pristine, ".wal", &names);
    assert_true(n >= 1);
    tu_path(copy, sizeof copy, "version-wal");
    assert_int_equal(tu_copy_dir(g_pristine, copy), 0);
    tu_join(f, sizeof f, copy, names[n - 1]);
    bump_version(f, 0);
    assert_int_equal(omen_open(copy, NULL, &db), OMEN_VERSION);
    assert_null(db);
    tu_list_free(names, n);
    tu_rmrf(copy);
}

/* ---- Bad input ------------------------------------------------------------- */

static void test_null_args(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "nulls");
    omen_db *db = NULL;
    assert_int_equal(omen_open(NULL, NULL, &db), OMEN_INVALID);
    assert_int_equal(omen_open(path, NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_close(NULL), OMEN_OK);
    void *v = NULL;
    size_t vl = 0;
    assert_int_equal(omen_put(NULL, "k", 1, "v", 1, 0), OMEN_INVALID);
    assert_int_equal(omen_delete(NULL, "k", 1, 0), OMEN_INVALID);
    assert_int_equal(omen_get(NULL, NULL, "k", 1, &v, &vl), OMEN_INVALID);
    assert_int_equal(omen_write(NULL, NULL, 0), OMEN_INVALID);
    assert_int_equal(omen_snapshot_create(NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_iter_create(NULL, NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_txn_begin(NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_get_stats(NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_flush(NULL), OMEN_INVALID);
    assert_int_equal(omen_compact_range(NULL, NULL, 0, NULL, 0), OMEN_INVALID);
    assert_int_equal(omen_check(NULL, NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_destroy(NULL), OMEN_INVALID);
    assert_int_equal(omen_batch_create(NULL), OMEN_INVALID);
    assert_int_equal(omen_batch_put(NULL, "k", 1, "v", 1), OMEN_INVALID);
    assert_int_equal(omen_batch_delete(NULL, "k", 1), OMEN_INVALID);
    assert_int_equal(omen_batch_count(NULL), 0);
    omen_batch_clear(NULL);
    omen_batch_destroy(NULL);
    assert_int_equal(omen_txn_get(NULL, "k", 1, &v, &vl), OMEN_INVALID);
    assert_int_equal(omen_txn_put(NULL, "k", 1, "v", 1), OMEN_INVALID);
    assert_int_equal(omen_txn_delete(NULL, "k", 1), OMEN_INVALID);
    assert_int_equal(omen_txn_iter_create(NULL, NULL, NULL), OMEN_INVALID);
    assert_int_equal(omen_txn_commit(NULL, 0), OMEN_INVALID);
    omen_txn_rollback(NULL);
    omen_iter_seek_first(NULL);
    omen_iter_seek_last(NULL);
    omen_iter_seek(NULL, "k", 1);
    omen_iter_seek_for_prev(NULL, "k", 1);
    omen_iter_next(NULL);
    omen_iter_prev(NULL);
    assert_int_equal(omen_iter_valid(NULL), 0);
    assert_int_not_equal(omen_iter_status(NULL), OMEN_OK);
    omen_iter_destroy(NULL);
    assert_int_equal(omen_snapshot_sequence(NULL), 0);
    omen_free(NULL);
    assert_non_null(omen_strerror(-7));
    assert_non_null(omen_strerror(12345));
    assert_non_null(omen_last_error());
    assert_int_equal(omen_key_to_u64("abc", 3), 0);
    omen_options_init(NULL);

    /* NULL buffers with non-zero length on a live handle. */
    TU_OK(omen_open(path, NULL, &db));
    omen_snapshot_release(db, NULL);
    assert_int_equal(omen_put(db, NULL, 1, "v", 1, 0), OMEN_INVALID);
    assert_int_equal(omen_put(db, "k", 1, NULL, 1, 0), OMEN_INVALID);
    assert_int_equal(omen_delete(db, NULL, 3, 0), OMEN_INVALID);
    assert_int_equal(omen_get(db, NULL, NULL, 2, &v, &vl), OMEN_INVALID);
    assert_int_equal(omen_get(db, NULL, "k", 1, NULL, &vl), OMEN_INVALID);
    assert_int_equal(omen_get(db, NULL, "k", 1, &v, NULL), OMEN_INVALID);
    assert_int_equal(omen_put(db, "k", 1, "v", 1, 7), OMEN_INVALID); /* bad sync mode */
    omen_batch *b = NULL;
    TU_OK(omen_batch_create(&b));
    assert_int_equal(omen_batch_put(b, NULL, 1, "v", 1), OMEN_INVALID);
    assert_int_equal(omen_batch_put(b, "k", 1, NULL, 1), OMEN_INVALID);
    assert_int_equal(omen_batch_delete(b, NULL, 1), OMEN_INVALID);
    assert_int_equal(omen_batch_count(b), 0);
    assert_int_equal(omen_write(db, NULL, 0), OMEN_INVALID);
    omen_batch_destroy(b);
    omen_txn *t = NULL;
    TU_OK(omen_txn_begin(db, &t));
    assert_int_equal(omen_txn_put(t, NULL, 1, "v", 1), OMEN_INVALID);
    assert_int_equal(omen_txn_get(t, "k", 1, NULL, &vl), OMEN_INVALID);
    omen_txn_rollback(t);
    /* Empty keys and values are legal. */
    TU_OK(omen_put(db, "", 0, "", 0, 0));
    TU_OK(omen_get(db, NULL, "", 0, &v, &vl));
    assert_non_null(v);
    assert_int_equal(vl, 0);
    omen_free(v);
    TU_OK(omen_close(db));
    tu_rmrf(path);
}

static void test_oversize(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "oversize");
    omen_db *db = NULL;
    TU_OK(omen_open(path, NULL, &db));
    size_t big = OMEN_MAX_KEY_LEN + 1;
    unsigned char *k = calloc(1, big);
    void *v = NULL;
    size_t vl = 0;
    assert_int_equal(omen_put(db, k, big, "v", 1, 0), OMEN_TOOBIG);
    assert_int_equal(omen_delete(db, k, big, 0), OMEN_TOOBIG);
    assert_int_equal(omen_get(db, NULL, k, big, &v, &vl), OMEN_TOOBIG);
    /* The value length is checked before the buffer is read: pass a short
     * buffer with an oversize length. */
    assert_int_equal(omen_put(db, "k", 1, "short", (size_t)OMEN_MAX_VALUE_LEN + 1, 0), OMEN_TOOBIG);
    omen_batch *b = NULL;
    TU_OK(omen_batch_create(&b));
    assert_int_equal(omen_batch_put(b, k, big, "v", 1), OMEN_TOOBIG);
    assert_int_equal(omen_batch_delete(b, k, big), OMEN_TOOBIG);
    assert_int_equal(omen_batch_put(b, "k", 1, "short", (size_t)OMEN_MAX_VALUE_LEN + 1),
                     OMEN_TOOBIG);
    assert_int_equal(omen_batch_count(b), 0);
    omen_batch_destroy(b);
    omen_txn *t = NULL;
    TU_OK(omen_txn_begin(db, &t));
    assert_int_equal(omen_txn_put(t, k, big, "v", 1), OMEN_TOOBIG);
    assert_int_equal(omen_txn_delete(t, k, big), OMEN_TOOBIG);
    omen_txn_rollback(t);
    /* Exactly the limit is fine. */
    TU_OK(omen_put(db, k, big - 1, "max", 3, 0));
    TU_OK(omen_get(db, NULL, k, big - 1, &v, &vl));
    assert_true(vl == 3 && memcmp(v, "max", 3) == 0);
    omen_free(v);
    TU_OK(omen_close(db));
    free(k);
    tu_rmrf(path);
}

/* Closed handles: db.c keeps a closed handle's struct so that every call on
 * it returns OMEN_CLOSED instead of touching freed memory. */
static void test_closed_handle(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "closed");
    omen_db *db = NULL;
    TU_OK(omen_open(path, NULL, &db));
    TU_OK(omen_put(db, "k", 1, "v", 1, 0));
    TU_OK(omen_close(db));
    void *v = NULL;
    size_t vl = 0;
    omen_snapshot *s = NULL;
    omen_iter *it = NULL;
    omen_txn *t = NULL;
    omen_stats st;
    assert_int_equal(omen_put(db, "k", 1, "v", 1, 0), OMEN_CLOSED);
    assert_int_equal(omen_delete(db, "k", 1, 0), OMEN_CLOSED);
    assert_int_equal(omen_get(db, NULL, "k", 1, &v, &vl), OMEN_CLOSED);
    assert_null(v);
    assert_int_equal(omen_snapshot_create(db, &s), OMEN_CLOSED);
    assert_int_equal(omen_iter_create(db, NULL, &it), OMEN_CLOSED);
    assert_int_equal(omen_txn_begin(db, &t), OMEN_CLOSED);
    assert_int_equal(omen_get_stats(db, &st), OMEN_CLOSED);
    assert_int_equal(omen_flush(db), OMEN_CLOSED);
    assert_int_equal(omen_compact_range(db, NULL, 0, NULL, 0), OMEN_CLOSED);
    assert_int_equal(omen_close(db), OMEN_CLOSED);
    /* The database itself is intact and can be reopened. */
    TU_OK(omen_open(path, NULL, &db));
    TU_OK(omen_get(db, NULL, "k", 1, &v, &vl));
    omen_free(v);
    TU_OK(omen_close(db));
    tu_rmrf(path);
}

static void test_not_a_db(void **state)
{
    (void)state;
    char path[PATH_MAX], f[PATH_MAX];
    omen_db *db = NULL;
    /* A regular file. */
    tu_path(path, sizeof path, "plainfile");
    assert_int_equal(tu_write_file(path, "hello", 5), 0);
    assert_int_equal(omen_open(path, NULL, &db), OMEN_NOTDB);
    assert_null(db);
    assert_int_not_equal(omen_check(path, NULL, NULL), OMEN_OK);
    unsigned char *buf;
    size_t len;
    assert_int_equal(tu_read_file(path, &buf, &len), 0);
    assert_true(len == 5 && memcmp(buf, "hello", 5) == 0);
    free(buf);
    tu_rmrf(path);
    /* A directory of someone else's files: refused and left untouched. */
    tu_path(path, sizeof path, "foreign");
    assert_int_equal(mkdir(path, 0755), 0);
    tu_join(f, sizeof f, path, "thesis.tex");
    assert_int_equal(tu_write_file(f, "\\documentclass", 14), 0);
    tu_join(f, sizeof f, path, "000001.log");
    assert_int_equal(tu_write_file(f, "not ours", 8), 0);
    assert_int_equal(omen_open(path, NULL, &db), OMEN_NOTDB);
    assert_null(db);
    assert_int_equal(omen_destroy(path), OMEN_NOTDB);
    char **names;
    size_t n = tu_list(path, NULL, &names);
    assert_int_equal(n, 2);
    tu_list_free(names, n);
    tu_join(f, sizeof f, path, "thesis.tex");
    assert_int_equal(tu_read_file(f, &buf, &len), 0);
    assert_int_equal(len, 14);
    free(buf);
    tu_rmrf(path);
    /* An empty directory is a fine place to create one. */
    tu_path(path, sizeof path, "emptydir");
    assert_int_equal(mkdir(path, 0755), 0);
    TU_OK(omen_open(path, NULL, &db));
    TU_OK(omen_close(db));
    TU_OK(omen_destroy(path));
    assert_int_equal(access(path, F_OK), -1);
}

static void test_create_flags(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "flags");
    omen_options o;
    omen_options_init(&o);
    omen_db *db = NULL;
    o.create_if_missing = 0;
    assert_int_equal(omen_open(path, &o, &db), OMEN_NOTFOUND);
    assert_null(db);
    assert_int_equal(access(path, F_OK), -1); /* nothing created */
    o.create_if_missing = 1;
    TU_OK(omen_open(path, &o, &db));
    TU_OK(omen_put(db, "k", 1, "v", 1, OMEN_SYNC_FULL));
    TU_OK(omen_close(db));
    o.error_if_exists = 1;
    assert_int_equal(omen_open(path, &o, &db), OMEN_EXISTS);
    assert_null(db);
    /* Bad options. */
    omen_options_init(&o);
    o.compression = 99;
    assert_int_equal(omen_open(path, &o, &db), OMEN_INVALID);
    omen_options_init(&o);
    o.sync = 5;
    assert_int_equal(omen_open(path, &o, &db), OMEN_INVALID);
    assert_null(db);
    tu_rmrf(path);
}

/* A read-only open changes no byte of the directory, and refuses writes. */
static void test_read_only_open(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "ro");
    omen_db *db = NULL;
    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = 4096;
    TU_OK(omen_open(path, &o, &db));
    char k[16];
    for (int i = 0; i < 300; i++) {
        int kl = sprintf(k, "k%04d", i);
        TU_OK(omen_put(db, k, (size_t)kl, k, (size_t)kl, 0));
    }
    TU_OK(omen_close(db)); /* leaves runs and a non-empty WAL */
    char **n1;
    size_t c1 = tu_list(path, NULL, &n1);
    unsigned char *before[64];
    size_t blen[64];
    assert_true(c1 < 64);
    for (size_t i = 0; i < c1; i++) {
        char f[PATH_MAX];
        tu_join(f, sizeof f, path, n1[i]);
        assert_int_equal(tu_read_file(f, &before[i], &blen[i]), 0);
    }
    o.read_only = 1;
    TU_OK(omen_open(path, &o, &db));
    void *v = NULL;
    size_t vl = 0;
    TU_OK(omen_get(db, NULL, "k0299", 5, &v, &vl));
    omen_free(v);
    int rc = omen_put(db, "x", 1, "y", 1, 0);
    assert_true(rc == OMEN_READONLY || rc == OMEN_INVALID);
    TU_OK(omen_close(db));
    char **n2;
    size_t c2 = tu_list(path, NULL, &n2);
    assert_int_equal(c1, c2);
    for (size_t i = 0; i < c1; i++) {
        char f[PATH_MAX];
        unsigned char *after;
        size_t alen;
        if (!strcmp(n1[i], "LOCK")) {
            free(before[i]);
            continue;
        }
        assert_string_equal(n1[i], n2[i]);
        tu_join(f, sizeof f, path, n1[i]);
        assert_int_equal(tu_read_file(f, &after, &alen), 0);
        if (alen != blen[i] || memcmp(after, before[i], alen) != 0)
            tu_fail("read-only open modified %s", n1[i]);
        free(after);
        free(before[i]);
    }
    tu_list_free(n1, c1);
    tu_list_free(n2, c2);
    tu_rmrf(path);
}

static void test_locked(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tu_path(path, sizeof path, "locked");
    omen_db *db = NULL, *db2 = NULL;
    TU_OK(omen_open(path, NULL, &db));
    TU_OK(omen_put(db, "k", 1, "v", 1, OMEN_SYNC_FULL));
    /* Same process, second handle. */
    assert_int_equal(omen_open(path, NULL, &db2), OMEN_LOCKED);
    assert_null(db2);
    assert_int_equal(omen_destroy(path), OMEN_BUSY);
    /* Another process. */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        omen_db *c = NULL;
        int rc = omen_open(path, NULL, &c);
        _exit(rc == OMEN_LOCKED && c == NULL ? 0 : 10 + rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    TU_OK(omen_close(db));
    /* Released: the other process gets in now and sees the data. */
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        omen_db *c = NULL;
        void *v = NULL;
        size_t vl = 0;
        if (omen_open(path, NULL, &c) != OMEN_OK)
            _exit(1);
        int rc = omen_get(c, NULL, "k", 1, &v, &vl);
        omen_free(v);
        _exit(rc == OMEN_OK && omen_close(c) == OMEN_OK ? 0 : 2);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    TU_OK(omen_destroy(path));
    assert_int_equal(access(path, F_OK), -1);
}


/* ---- WAL byte-flip sweep with the recovery modes --------------------------- */

/* A log of three synced puts and nothing else (no run holds them), a flip at
 * every byte: the damage must be classified as a crash would leave it (a
 * torn tail: only the last record, by a length running past the end) or as
 * corruption (everything else), and each recovery mode must do what it
 * says.  (Regression: a flip in the first record made open drop all three
 * puts and delete the log; a flipped length passed omen_check.) */

typedef struct lines {
    char text[4096];
} lines;

static void keep_line(void *ctx, const char *line)
{
    lines *l = ctx;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s\n", line);
}

static int has_key(omen_db *db, int i)
{
    char k[16];
    int kl = snprintf(k, sizeof k, "wk%d", i);
    void *v = NULL;
    size_t vl;
    int rc = omen_get(db, NULL, k, (size_t)kl, &v, &vl);
    omen_free(v);
    if (rc != OMEN_OK && rc != OMEN_NOTFOUND)
        tu_fail("get %s: %s", k, omen_strerror(rc));
    return rc == OMEN_OK;
}

static void expect_keys(omen_db *db, int nrec, int skip_from, int skip_to, const char *what)
{
    for (int i = 0; i < nrec; i++) {
        int want = i < skip_from || i >= skip_to;
        if (has_key(db, i) != want)
            tu_fail("%s: key wk%d should be %s", what, i, want ? "present" : "absent");
    }
}

static void test_wal_flip_sweep(void **state)
{
    (void)state;
    enum { NREC = 3 };
    char base[PATH_MAX], work[PATH_MAX], walname[64], walp[PATH_MAX], aside[PATH_MAX + 16];
    tu_path(base, sizeof base, "walsweep");
    tu_path(work, sizeof work, "walsweep-work");
    omen_db *db = NULL;
    TU_OK(omen_open(base, NULL, &db));
    for (int i = 0; i < NREC; i++) {
        char k[16], v[32];
        int kl = snprintf(k, sizeof k, "wk%d", i);
        int vl = snprintf(v, sizeof v, "value-%d-xyz", i); /* ends in a non-zero byte */
        TU_OK(omen_put(db, k, (size_t)kl, v, (size_t)vl, OMEN_SYNC_FULL));
    }
    TU_OK(omen_close(db));
    char **names;
    size_t nw = tu_list(base, ".wal", &names);
    assert_int_equal(nw, 1);
    snprintf(walname, sizeof walname, "%s", names[0]);
    tu_list_free(names, nw);
    tu_join(walp, sizeof walp, base, walname);
    unsigned char *img;
    size_t len;
    assert_int_equal(tu_read_file(walp, &img, &len), 0);
    /* Record boundaries, from the format (docs/format.md, "WAL file"). */
    size_t start[NREC + 1];
    size_t off = 16;
    for (int i = 0; i < NREC; i++) {
        assert_true(off + 9 <= len);
        start[i] = off;
        off += 9 + (size_t)(img[off + 4] | img[off + 5] << 8 | img[off + 6] << 16 |
                            (uint32_t)img[off + 7] << 24);
    }
    start[NREC] = off;
    assert_int_equal(off, len);
    tu_join(walp, sizeof walp, work, walname);
    snprintf(aside, sizeof aside, "%s.damaged", walp);
    unsigned long n_torn = 0, n_corrupt = 0;
    for (size_t byte = 0; byte < len; byte++) {
        for (int m = 0; m < 2; m++) {
            unsigned char mask = m ? 0xff : (unsigned char)(1u << (byte % 8));
            unsigned char *buf = tu_dup(img, len);
            buf[byte] ^= mask;
            char what[128];
            snprintf(what, sizeof what, "wal flip 0x%02x at %zu of %zu", mask, byte, len);
            int k = -1; /* damaged record; -1 = the file header */
            if (byte >= 16)
                for (k = 0; start[k + 1] <= byte; k++) {
                }
            int torn = 0;
            if (k == NREC - 1 && byte >= start[k] + 4 && byte < start[k] + 8) {
                uint64_t n = (uint64_t)buf[start[k] + 4] | (uint64_t)buf[start[k] + 5] << 8 |
                             (uint64_t)buf[start[k] + 6] << 16 | (uint64_t)buf[start[k] + 7] << 24;
                torn = n <= (512u << 20) && start[k] + 9 + n > len;
            }
            int first_lost = k < 0 ? 0 : k;
            assert_int_equal(tu_copy_dir(base, work), 0);
            assert_int_equal(tu_write_file(walp, buf, len), 0);

            lines l;
            l.text[0] = 0;
            int crc = omen_check(work, keep_line, &l);
            omen_options o;
            omen_options_init(&o);
            o.create_if_missing = 0;
            db = NULL;
            int rc = omen_open(work, &o, &db);
            if (torn) {
                n_torn++;
                if (crc != OMEN_OK || !strstr(l.text, "torn tail"))
                    tu_fail("%s: a torn tail must pass check as a torn tail:\n%s", what, l.text);
                if (rc != OMEN_OK)
                    tu_fail("%s: open refused a torn tail: %s", what, omen_last_error());
                expect_keys(db, NREC, first_lost, NREC, what);
                TU_OK(omen_close(db));
                free(buf);
                continue;
            }
            n_corrupt++;
            if (crc != OMEN_CORRUPT || !strstr(l.text, "corrupt at offset"))
                tu_fail("%s: check must report corruption (returned %s):\n%s", what,
                        omen_strerror(crc), l.text);
            if (rc != OMEN_CORRUPT || db)
                tu_fail("%s: open must refuse corruption, returned %s", what, omen_strerror(rc));
            char offs[48];
            snprintf(offs, sizeof offs, "offset %zu", k < 0 ? (size_t)0 : start[k]);
            if (!strstr(omen_last_error(), walname) || !strstr(omen_last_error(), offs))
                tu_fail("%s: message must name %s and %s: %s", what, walname, offs,
                        omen_last_error());
            /* The refused log is untouched. */
            unsigned char *now;
            size_t nowlen;
            assert_int_equal(tu_read_file(walp, &now, &nowlen), 0);
            assert_true(nowlen == len && !memcmp(now, buf, len));
            free(now);
            o.wal_recovery = OMEN_WAL_RECOVER_ABSOLUTE;
            assert_int_equal(omen_open(work, &o, &db), OMEN_CORRUPT);

            /* Point in time: the writes before the damage, none after. */
            o.wal_recovery = OMEN_WAL_RECOVER_POINT_IN_TIME;
            TU_OK(omen_open(work, &o, &db));
            expect_keys(db, NREC, first_lost, NREC, what);
            omen_stats st;
            TU_OK(omen_get_stats(db, &st));
            if (k >= 0) {
                assert_int_equal(st.wal_records_skipped, (uint64_t)(NREC - k));
                assert_int_equal(st.wal_bytes_skipped, (uint64_t)(len - start[k]));
            } else {
                assert_int_equal(st.wal_records_skipped, (uint64_t)NREC + 1);
                assert_int_equal(st.wal_bytes_skipped, (uint64_t)len);
            }
            TU_OK(omen_close(db));
            assert_int_equal(access(walp, F_OK), -1);
            assert_int_equal(tu_read_file(aside, &now, &nowlen), 0); /* kept aside, as it was */
            assert_true(nowlen == len && !memcmp(now, buf, len));
            free(now);
            o.wal_recovery = OMEN_WAL_RECOVER_TORN_TAIL;
            TU_OK(omen_open(work, &o, &db)); /* the recovered state is a clean database */
            expect_keys(db, NREC, first_lost, NREC, what);
            TU_OK(omen_close(db));
            TU_OK(omen_check(work, NULL, NULL));

            /* Skip: every intact record. */
            assert_int_equal(tu_copy_dir(base, work), 0);
            assert_int_equal(tu_write_file(walp, buf, len), 0);
            o.wal_recovery = OMEN_WAL_RECOVER_SKIP;
            TU_OK(omen_open(work, &o, &db));
            if (k < 0)
                expect_keys(db, NREC, 0, 0, what);
            else
                expect_keys(db, NREC, k, k + 1, what);
            TU_OK(omen_get_stats(db, &st));
            assert_int_equal(st.wal_records_skipped, 1);
            TU_OK(omen_close(db));
            assert_int_equal(access(aside, F_OK), 0);
            free(buf);
        }
    }
    printf("wal flip sweep: %zu bytes x 2 masks: %lu classified corrupt, %lu torn\n", len,
           n_corrupt, n_torn);
    assert_true(n_torn > 0);
    free(img);
    tu_rmrf(work);
    tu_rmrf(base);
}

int main(void)
{
    const struct CMUnitTest bad_input[] = {
        cmocka_unit_test(test_null_args),     cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_closed_handle), cmocka_unit_test(test_not_a_db),
        cmocka_unit_test(test_create_flags),  cmocka_unit_test(test_read_only_open),
        cmocka_unit_test(test_locked),
        cmocka_unit_test(test_wal_flip_sweep),
    };
    const struct CMUnitTest damage[] = {
        cmocka_unit_test(test_corrupt_manifest),
        cmocka_unit_test(test_corrupt_wal),
        cmocka_unit_test(test_corrupt_runs),
        cmocka_unit_test(test_corrupt_runs_iter_strict),
        cmocka_unit_test(test_missing_run),
        cmocka_unit_test(test_future_version),
    };
    int rc = cmocka_run_group_tests_name("bad input", bad_input, NULL, NULL);
    rc |= cmocka_run_group_tests_name("damaged files", damage, setup_pristine, teardown_pristine);
    return rc;
}
