/*
 * test_recovery.c -- reliability cases of issue 21: the WAL's torn tail
 * versus corruption at every byte of a small log (wal layer), a run file
 * swapped for another, the exact message of a full disk, the cause of a
 * background failure, read-only opens sharing the lock (also on a file
 * layer that refuses every write), a key-only walk past a damaged value
 * block, not-found clearing a stale error message, and a torn write in a
 * log that a later log with records follows.
 *
 * The file layers used here are small test envs (fio_env) built on the
 * posix one: they change nothing in the library.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "storage/fio.h"
#include "storage/manifest.h"
#include "storage/wal.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"

/* ---- WAL: every offset of a small log ---------------------------------- */

enum { NREC = 3 };

typedef struct got {
    int n;
    uint64_t off[16];
} got;

static int collect(void *ctx, const void *rec, size_t len, uint64_t off)
{
    (void)rec, (void)len;
    got *g = ctx;
    if (g->n < 16) g->off[g->n] = off;
    g->n++;
    return 0;
}

static void test_wal_every_offset(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    tu_path(dir, sizeof dir, "walflip");
    assert_int_equal(mkdir(dir, 0755), 0);
    tu_join(path, sizeof path, dir, "000001.wal");
    wal_writer *w;
    TU_OK(wal_writer_open(path, &w));
    uint64_t start[NREC + 1];
    for (int i = 0; i < NREC; i++) {
        unsigned char rec[40];
        size_t n = 10 + (size_t)i * 7;
        for (size_t k = 0; k < n; k++) rec[k] = (unsigned char)('a' + (k + (size_t)i) % 26); /* no zero byte */
        start[i] = wal_size(w);
        TU_OK(wal_append(w, rec, n));
    }
    start[NREC] = wal_size(w);
    TU_OK(wal_sync(w));
    TU_OK(wal_writer_close(w));
    unsigned char *img;
    size_t len;
    assert_int_equal(tu_read_file(path, &img, &len), 0);
    assert_int_equal(len, start[NREC]);
    unsigned char *copy = malloc(len);
    unsigned long torn = 0, corrupt = 0;
    for (size_t byte = 0; byte < len; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, img, len);
            copy[byte] ^= (unsigned char)(1u << bit);
            got g = {0};
            wal_replay_info info;
            TU_OK(wal_replay_buf_ex(copy, len, 0, collect, &g, &info));
            if (byte < WAL_FILE_HEADER_SIZE) {
                /* A damaged file header is corruption: every record follows it. */
                assert_true(info.header_bad);
                assert_true(info.corrupt);
                assert_int_equal(g.n, 0);
                assert_int_equal(info.records_after, NREC);
                corrupt++;
                continue;
            }
            int k = 0;
            while (start[k + 1] <= byte) k++; /* the damaged record */
            assert_int_equal(g.n, k);
            assert_int_equal(info.damage_off, start[k]);
            assert_int_equal(info.valid_len, start[k]);
            /* Oracle: only the last record can be torn, and only by a length
             * that now runs past the end of the file (within the limit). */
            int expect_torn = 0;
            if (k == NREC - 1 && byte >= start[k] + 4 && byte < start[k] + 8) {
                uint32_t n = (uint32_t)copy[start[k] + 4] | (uint32_t)copy[start[k] + 5] << 8 |
                             (uint32_t)copy[start[k] + 6] << 16 | (uint32_t)copy[start[k] + 7] << 24;
                expect_torn = n <= WAL_MAX_RECORD && start[k] + WAL_RECORD_HEADER_SIZE + n > len;
            }
            if (expect_torn) {
                assert_int_equal(info.tail_state, WAL_TAIL_TORN);
                assert_false(info.corrupt);
                torn++;
            } else {
                if (info.tail_state != WAL_TAIL_CORRUPT)
                    fail_msg("flip of bit %d at offset %zu (record %d): tail %d, expected corrupt",
                             bit, byte, k, info.tail_state);
                assert_true(info.corrupt);
                assert_int_equal(info.records_after, NREC - 1 - k);
                corrupt++;
                /* Skipping: every other record comes back. */
                got s = {0};
                TU_OK(wal_replay_buf_ex(copy, len, 1, collect, &s, &info));
                assert_int_equal(s.n, NREC - 1);
                assert_int_equal(info.regions, 1);
                if (k < NREC - 1) {
                    assert_int_equal(info.bytes_skipped, start[k + 1] - start[k]);
                    assert_int_equal(s.off[k], start[k + 1]);
                }
            }
        }
    }
    printf("wal flips: %zu bytes x 8 bits: %lu corrupt, %lu torn\n", len, corrupt, torn);
    assert_true(torn > 0 && corrupt > 0);
    /* Truncation at every length: always a torn tail, never corruption. */
    for (size_t cut = 0; cut < len; cut++) {
        got g = {0};
        wal_replay_info info;
        TU_OK(wal_replay_buf_ex(img, cut, 0, collect, &g, &info));
        assert_false(info.corrupt);
    }
    free(copy);
    free(img);
    tu_rmrf(dir);
}

/* ---- a run file copied over another ------------------------------------ */

static void put_n(omen_db *db, int from, int to, const char *tag)
{
    char k[32], v[64];
    for (int i = from; i < to; i++) {
        int kl = snprintf(k, sizeof k, "key%06d", i);
        int vl = snprintf(v, sizeof v, "%s-value-%d", tag, i);
        TU_OK(omen_put(db, k, (size_t)kl, v, (size_t)vl, OMEN_SYNC_RELAXED));
    }
}

static void test_run_swap(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tu_path(dir, sizeof dir, "swap");
    omen_db *db;
    TU_OK(omen_open(dir, NULL, &db));
    put_n(db, 0, 100, "a");
    TU_OK(omen_flush(db));
    put_n(db, 100, 200, "b");
    TU_OK(omen_flush(db));
    TU_OK(omen_close(db));
    char **names;
    size_t n = tu_list(dir, ".run", &names);
    assert_true(n >= 2);
    TU_OK(omen_check(dir, NULL, NULL));
    char a[PATH_MAX], b[PATH_MAX];
    tu_join(a, sizeof a, dir, names[n - 1]);
    tu_join(b, sizeof b, dir, names[0]);
    unsigned char *buf;
    size_t len;
    assert_int_equal(tu_read_file(a, &buf, &len), 0);
    assert_int_equal(tu_write_file(b, buf, len), 0); /* cp newer.run older.run */
    free(buf);
    assert_int_equal(omen_check(dir, NULL, NULL), OMEN_CORRUPT);
    db = NULL;
    assert_int_equal(omen_open(dir, NULL, &db), OMEN_CORRUPT);
    assert_null(db);
    assert_non_null(strstr(omen_last_error(), names[0]));
    assert_non_null(strstr(omen_last_error(), "MANIFEST"));
    tu_list_free(names, n);
    tu_rmrf(dir);
}

/* ---- test file layers ---------------------------------------------------- */

static fio_env g_env;
static atomic_int g_full_wal, g_full_run;

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Appends to armed kinds of files fail as on a full disk. */
static int full_appendv(fio_file *f, const struct iovec *iov, int iovcnt)
{
    const char *p = fio_file_path(f);
    if ((atomic_load(&g_full_wal) && ends_with(p, ".wal")) ||
        (atomic_load(&g_full_run) && strstr(p, ".run")))
        return util_seterr_errno(OMEN_IO, ENOSPC, "fio: write %s", p);
    return fio_posix_env()->appendv(f, iov, iovcnt);
}

static void install_full_env(void)
{
    g_env = *fio_posix_env();
    g_env.appendv = full_appendv;
    fio_set_env(&g_env);
}

static void test_enospc_message(void **state)
{
    (void)state;
    char dir[PATH_MAX], wal[PATH_MAX], expect[PATH_MAX + 256];
    tu_path(dir, sizeof dir, "enospc");
    install_full_env();
    omen_db *db;
    TU_OK(omen_open(dir, NULL, &db));
    TU_OK(omen_put(db, "k", 1, "v", 1, OMEN_SYNC_FULL));
    char **names;
    size_t n = tu_list(dir, ".wal", &names);
    assert_int_equal(n, 1);
    tu_join(wal, sizeof wal, dir, names[0]);
    tu_list_free(names, n);
    atomic_store(&g_full_wal, 1);
    assert_int_equal(omen_put(db, "k2", 2, "v", 1, OMEN_SYNC_FULL), OMEN_IO);
    snprintf(expect, sizeof expect,
             "writing or syncing the write-ahead log failed; the database is now read-only "
             "(fio: write %s: No space left on device)",
             wal);
    assert_string_equal(omen_last_error(), expect);
    /* Every later write returns the first error, and so does the handle. */
    assert_int_equal(omen_put(db, "k3", 2, "v", 1, OMEN_SYNC_RELAXED), OMEN_READONLY);
    assert_non_null(strstr(omen_last_error(), expect));
    const char *msg = NULL;
    assert_int_equal(omen_fatal_error(db, &msg), OMEN_IO);
    assert_string_equal(msg, expect);
    omen_stats st;
    TU_OK(omen_get_stats(db, &st));
    assert_int_equal(st.fatal_error, OMEN_IO);
    atomic_store(&g_full_wal, 0);
    omen_close(db);
    fio_set_env(NULL);
    tu_rmrf(dir);
}

static void test_background_failure_cause(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tu_path(dir, sizeof dir, "bgfail");
    install_full_env();
    omen_db *db;
    TU_OK(omen_open(dir, NULL, &db));
    const char *msg = (const char *)1;
    assert_int_equal(omen_fatal_error(db, &msg), OMEN_OK);
    assert_null(msg);
    put_n(db, 0, 50, "x");
    atomic_store(&g_full_run, 1);
    /* The flush thread writes the run and fails there, not on this thread. */
    assert_int_not_equal(omen_flush(db), OMEN_OK);
    int rc = omen_put(db, "late", 4, "v", 1, OMEN_SYNC_RELAXED);
    assert_int_equal(rc, OMEN_READONLY);
    assert_non_null(strstr(omen_last_error(), "flushing the memtable failed"));
    assert_non_null(strstr(omen_last_error(), "No space left on device"));
    assert_int_equal(omen_fatal_error(db, &msg), OMEN_IO);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "flushing the memtable failed; the database is now read-only ("));
    assert_non_null(strstr(msg, ".run"));
    assert_non_null(strstr(msg, "No space left on device"));
    atomic_store(&g_full_run, 0);
    omen_close(db);
    fio_set_env(NULL);
    tu_rmrf(dir);
}

/* A file layer that refuses every write, as a read-only mount does. */
static int ro_err(const char *what, const char *path)
{
    return util_seterr_errno(OMEN_IO, EROFS, "fio: %s %s", what, path ? path : "");
}
static int ro_open(const char *path, int flags, fio_file **out)
{
    if (flags & (FIO_WRITE | FIO_CREATE | FIO_TRUNC)) {
        *out = NULL;
        return ro_err("open for writing", path);
    }
    return fio_posix_env()->open(path, flags, out);
}
static int ro_pwrite(fio_file *f, const void *b, size_t n, uint64_t o)
{
    (void)b, (void)n, (void)o;
    return ro_err("write", fio_file_path(f));
}
static int ro_appendv(fio_file *f, const struct iovec *v, int c)
{
    (void)v, (void)c;
    return ro_err("write", fio_file_path(f));
}
static int ro_sync(fio_file *f)
{
    return ro_err("fsync", fio_file_path(f));
}
static int ro_truncate(fio_file *f, uint64_t s)
{
    (void)s;
    return ro_err("truncate", fio_file_path(f));
}
static int ro_allocate(fio_file *f, uint64_t o, uint64_t l)
{
    (void)o, (void)l;
    return ro_err("fallocate", fio_file_path(f));
}
static int ro_rename(const char *a, const char *b)
{
    (void)b;
    return ro_err("rename", a);
}
static int ro_path(const char *p)
{
    return ro_err("change", p);
}
static int ro_lock(const char *p, fio_file **out)
{
    *out = NULL;
    return ro_err("open for writing", p);
}

static void install_ro_env(void)
{
    g_env = *fio_posix_env();
    g_env.open = ro_open;
    g_env.pwrite = ro_pwrite;
    g_env.appendv = ro_appendv;
    g_env.sync = ro_sync;
    g_env.truncate = ro_truncate;
    g_env.allocate = ro_allocate;
    g_env.rename = ro_rename;
    g_env.unlink = ro_path;
    g_env.sync_dir = ro_path;
    g_env.mkdir = ro_path;
    g_env.rmdir = ro_path;
    g_env.lock = ro_lock; /* the exclusive lock opens LOCK for writing */
    fio_set_env(&g_env);
}

static void check_count(omen_db *db, int expect)
{
    int n = 0;
    omen_iter *it;
    TU_OK(omen_iter_create(db, NULL, &it));
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) n++;
    TU_OK(omen_iter_status(it));
    omen_iter_destroy(it);
    assert_int_equal(n, expect);
}

static void test_read_only_shared(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tu_path(dir, sizeof dir, "roshare");
    omen_db *w, *r1 = NULL, *r2 = NULL;
    TU_OK(omen_open(dir, NULL, &w));
    put_n(w, 0, 30, "r");
    TU_OK(omen_flush(w));
    put_n(w, 30, 40, "r"); /* some in the log too */
    /* A writer excludes readers, and check says it cannot run. */
    omen_options ro;
    omen_options_init(&ro);
    ro.read_only = 1;
    assert_int_equal(omen_open(dir, &ro, &r1), OMEN_LOCKED);
    assert_int_equal(omen_check(dir, NULL, NULL), OMEN_LOCKED);
    TU_OK(omen_close(w));
    /* Two read-only opens at once, and check beside them. */
    TU_OK(omen_open(dir, &ro, &r1));
    TU_OK(omen_open(dir, &ro, &r2));
    check_count(r1, 40);
    check_count(r2, 40);
    TU_OK(omen_check(dir, NULL, NULL));
    /* Readers exclude a writer (design.md, "Locking"). */
    w = NULL;
    assert_int_equal(omen_open(dir, NULL, &w), OMEN_LOCKED);
    assert_null(w);
    TU_OK(omen_close(r1));
    TU_OK(omen_close(r2));

    /* On a file layer that refuses every write. */
    install_ro_env();
    TU_OK(omen_open(dir, &ro, &r1));
    TU_OK(omen_open(dir, &ro, &r2));
    check_count(r1, 40);
    check_count(r2, 40);
    void *v;
    size_t vl;
    TU_OK(omen_get(r2, NULL, "key000035", 9, &v, &vl));
    omen_free(v);
    TU_OK(omen_check(dir, NULL, NULL));
    TU_OK(omen_close(r1));
    TU_OK(omen_close(r2));
    assert_int_not_equal(omen_open(dir, NULL, &w), OMEN_OK); /* a writer cannot */
    fio_set_env(NULL);
    tu_rmrf(dir);
}

/* ---- a key-only walk needs no value block -------------------------------- */

static void test_keys_only_past_damaged_block(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tu_path(dir, sizeof dir, "keysonly");
    omen_db *db;
    TU_OK(omen_open(dir, NULL, &db));
    put_n(db, 0, 200, "long-enough-value-to-fill-some-blocks");
    TU_OK(omen_flush(db));
    TU_OK(omen_close(db));
    char **names;
    size_t n = tu_list(dir, ".run", &names);
    assert_int_equal(n, 1);
    char p[PATH_MAX];
    tu_join(p, sizeof p, dir, names[0]);
    tu_list_free(names, n);
    unsigned char *buf;
    size_t len;
    assert_int_equal(tu_read_file(p, &buf, &len), 0);
    buf[16 + 40] ^= 0x5a; /* inside the first value block */
    assert_int_equal(tu_write_file(p, buf, len), 0);
    free(buf);
    TU_OK(omen_open(dir, NULL, &db));
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.keys_only = 1;
    omen_iter *it;
    TU_OK(omen_iter_create(db, &io, &it));
    int cnt = 0;
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
        size_t vl = 1;
        assert_null(omen_iter_value(it, &vl));
        assert_int_equal(vl, 0);
        cnt++;
    }
    TU_OK(omen_iter_status(it));
    omen_iter_destroy(it);
    assert_int_equal(cnt, 200);
    /* A walk that reads values stops at the damage. */
    TU_OK(omen_iter_create(db, NULL, &it));
    for (omen_iter_seek_first(it); omen_iter_valid(it); omen_iter_next(it)) {
    }
    assert_int_equal(omen_iter_status(it), OMEN_CORRUPT);
    omen_iter_destroy(it);
    omen_close(db);
    tu_rmrf(dir);
}

/* ---- a not-found result leaves no stale message -------------------------- */

static void test_notfound_clears_error(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tu_path(dir, sizeof dir, "notfound");
    omen_db *db;
    TU_OK(omen_open(dir, NULL, &db));
    void *v;
    size_t vl;
    assert_int_equal(omen_get(db, NULL, NULL, 3, &v, &vl), OMEN_INVALID);
    assert_non_null(strstr(omen_last_error(), "NULL key"));
    assert_int_equal(omen_get(db, NULL, "absent", 6, &v, &vl), OMEN_NOTFOUND);
    assert_null(strstr(omen_last_error(), "NULL key"));
    assert_non_null(strstr(omen_last_error(), "not found"));
    omen_txn *t;
    TU_OK(omen_txn_begin(db, &t));
    assert_int_equal(omen_txn_get(t, NULL, 3, &v, &vl), OMEN_INVALID);
    char stale[512];
    snprintf(stale, sizeof stale, "%s", omen_last_error());
    assert_int_equal(omen_txn_get(t, "absent", 6, &v, &vl), OMEN_NOTFOUND);
    assert_string_not_equal(omen_last_error(), stale);
    assert_non_null(strstr(omen_last_error(), "not found"));
    omen_txn_rollback(t);
    omen_close(db);
    tu_rmrf(dir);
}


/* ---- files written by the previous formats still open --------------------- */

/* Turn a version-2 run file into the version-1 layout: version words 1,
 * reserved word 0, footer crc over bytes 0..155 only. */
static void run_to_v1(const char *path)
{
    unsigned char *b;
    size_t len;
    assert_int_equal(tu_read_file(path, &b, &len), 0);
    unsigned char *ft = b + len - 176;
    put_fixed32(b + 8, 1);
    put_fixed32(ft + 160, 1);
    put_fixed32(ft + 164, 0);
    put_fixed32(ft + 156, crc32c_mask(crc32c(0, ft, 156)));
    assert_int_equal(tu_write_file(path, b, len), 0);
    free(b);
}

/* Rewrite dir/MANIFEST in the version-1 encoding (no footer checksums). */
static void manifest_to_v1(const char *dir)
{
    manifest m;
    TU_OK(manifest_read(dir, &m));
    size_t cap = 64;
    for (size_t i = 0; i < m.nruns; i++) cap += 80 + m.runs[i].smallest_len + m.runs[i].largest_len;
    uint8_t *b = malloc(cap), *p = b + 16;
    memcpy(b, "OMENMAN\0", 8);
    put_fixed32(b + 8, 1);
    put_fixed32(b + 12, crc32c_mask(crc32c(0, b, 12)));
    p = put_varint64(p, m.next_file_number);
    p = put_varint64(p, m.log_number);
    p = put_varint64(p, m.last_sequence);
    p = put_varint64(p, m.nruns);
    for (size_t i = 0; i < m.nruns; i++) {
        manifest_run *r = &m.runs[i];
        p = put_varint32(p, r->level);
        p = put_varint64(p, r->file_number);
        p = put_varint64(p, r->file_size);
        p = put_varint64(p, r->entries);
        p = put_varint64(p, r->min_seq);
        p = put_varint64(p, r->max_seq);
        p = put_varint32(p, (uint32_t)r->smallest_len);
        memcpy(p, r->smallest, r->smallest_len);
        p += r->smallest_len;
        p = put_varint32(p, (uint32_t)r->largest_len);
        memcpy(p, r->largest, r->largest_len);
        p += r->largest_len;
    }
    put_fixed32(p, crc32c_mask(crc32c(0, b, (size_t)(p - b))));
    p += 4;
    char path[PATH_MAX];
    tu_join(path, sizeof path, dir, "MANIFEST");
    assert_int_equal(tu_write_file(path, b, (size_t)(p - b)), 0);
    free(b);
    manifest_clear(&m);
}

/* ---- a torn write in a log that is not the last ------------------------ */

/* Run-file appends never return: the flush thread stalls with the old log
 * rotated out (and synced) and the new one taking writes. */
static int stall_appendv(fio_file *f, const struct iovec *iov, int iovcnt)
{
    if (strstr(fio_file_path(f), ".run"))
        for (;;) pause();
    return fio_posix_env()->appendv(f, iov, iovcnt);
}

static size_t wal_names(const char *dir, char out[2][PATH_MAX])
{
    char **names;
    size_t n = tu_list(dir, ".wal", &names);
    for (size_t i = 0; i < n && i < 2; i++) tu_join(out[i], PATH_MAX, dir, names[i]);
    tu_list_free(names, n);
    return n;
}

/* The first log's path: its syncs never return once armed. */
static char g_stall_log[PATH_MAX];

static int stall_first_log_sync(fio_file *f)
{
    if (g_stall_log[0] && strcmp(fio_file_path(f), g_stall_log) == 0)
        for (;;) pause();
    return fio_posix_env()->sync(f);
}

/* A database whose older log is followed by a newer log holding the write
 * that filled the memtable and nb more writes; the process died without
 * closing.  Built by a child.  unsynced == 0: every write is synced, so the
 * older log was synced (by the flush or the first synced write after the
 * rotation), and the later writes are "b" keys.  unsynced == 1: every write
 * is relaxed and the older log's sync never returns (the flush thread hangs
 * in it): the crash comes between the rotation and that sync, with "c" keys
 * in the newer log. */
static void make_two_logs_ex(const char *dir, int nb, int unsynced)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30); /* a hang fails the test instead of stalling it */
        g_env = *fio_posix_env();
        g_env.appendv = stall_appendv;
        if (unsynced) g_env.sync = stall_first_log_sync;
        fio_set_env(&g_env);
        omen_options o;
        omen_options_init(&o);
        o.write_buffer_size = 16 << 10;
        int sync = unsynced ? OMEN_SYNC_RELAXED : OMEN_SYNC_FULL;
        omen_db *db;
        if (omen_open(dir, &o, &db)) _exit(2);
        char k[32], v[64], w[2][PATH_MAX];
        if (unsynced) {
            if (wal_names(dir, w) != 1) _exit(5);
            snprintf(g_stall_log, sizeof g_stall_log, "%s", w[0]);
        }
        int i = 0;
        for (; wal_names(dir, w) < 2 && i < 100000; i++) {
            int kl = snprintf(k, sizeof k, "a%06d", i), vl = snprintf(v, sizeof v, "value-%d", i);
            if (omen_put(db, k, (size_t)kl, v, (size_t)vl, sync)) _exit(3);
        }
        for (int j = 0; j < nb; j++) {
            int kl = snprintf(k, sizeof k, "%c%06d", unsynced ? 'c' : 'b', j);
            if (omen_put(db, k, (size_t)kl, "x", 1, sync)) _exit(4);
        }
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void make_two_logs(const char *dir, int nb) { make_two_logs_ex(dir, nb, 0); }

static int count_record_cb(void *ctx, const void *rec, size_t len, uint64_t off)
{
    (void)rec, (void)len, (void)off;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* Cut the older log's last record short: a torn tail. */
static void tear_older_log(const char *dir)
{
    char w[2][PATH_MAX];
    assert_int_equal(wal_names(dir, w), 2);
    wal_replay_info info;
    uint64_t n = 0;
    TU_OK(wal_replay_ex(w[0], 0, count_record_cb, &n, &info));
    assert_true(n > 1);
    assert_int_equal(truncate(w[0], (off_t)info.valid_len - 3), 0);
}

static int has_key(omen_db *db, const char *k)
{
    void *v = NULL;
    size_t vl = 0;
    int rc = omen_get(db, NULL, k, strlen(k), &v, &vl);
    omen_free(v);
    assert_true(rc == OMEN_OK || rc == OMEN_NOTFOUND);
    return rc == OMEN_OK;
}

static void test_torn_older_log(void **state)
{
    (void)state;
    char dir[PATH_MAX], cp[PATH_MAX], w[2][PATH_MAX];
    tu_path(dir, sizeof dir, "torn_older");
    tu_path(cp, sizeof cp, "torn_older_copy");
    make_two_logs(dir, 20);
    tear_older_log(dir);
    omen_options o;
    omen_options_init(&o);
    omen_db *db = NULL;

    /* default and absolute: refused, nothing changed on disk */
    unsigned char *before, *after;
    size_t lb, la;
    assert_int_equal(wal_names(dir, w), 2);
    assert_int_equal(tu_read_file(w[0], &before, &lb), 0);
    assert_int_equal(omen_open(dir, &o, &db), OMEN_CORRUPT);
    assert_non_null(strstr(omen_last_error(), "ends in a torn write"));
    assert_non_null(strstr(omen_last_error(), "the tear lost acknowledged writes"));
    o.wal_recovery = OMEN_WAL_RECOVER_ABSOLUTE;
    assert_int_equal(omen_open(dir, &o, &db), OMEN_CORRUPT);
    assert_int_equal(wal_names(dir, w), 2);
    assert_int_equal(tu_read_file(w[0], &after, &la), 0);
    assert_true(la == lb && memcmp(before, after, la) == 0);
    free(before);
    free(after);

    /* point in time: the older log's intact records, nothing after the tear */
    tu_rmrf(cp);
    assert_int_equal(tu_copy_dir(dir, cp), 0);
    o.wal_recovery = OMEN_WAL_RECOVER_POINT_IN_TIME;
    TU_OK(omen_open(cp, &o, &db));
    assert_true(has_key(db, "a000000"));
    assert_false(has_key(db, "b000000"));
    assert_false(has_key(db, "b000019"));
    omen_stats st;
    TU_OK(omen_get_stats(db, &st));
    assert_true(st.wal_records_skipped >= 21); /* the torn region and the 20 writes after it */
    omen_close(db);
    char **names;
    size_t nd = tu_list(cp, ".damaged", &names);
    tu_list_free(names, nd);
    assert_int_equal(nd, 2); /* the torn log and the later one */

    /* skip: the torn record is lost, the later log's writes are kept */
    tu_rmrf(cp);
    assert_int_equal(tu_copy_dir(dir, cp), 0);
    o.wal_recovery = OMEN_WAL_RECOVER_SKIP;
    TU_OK(omen_open(cp, &o, &db));
    assert_true(has_key(db, "a000000"));
    assert_true(has_key(db, "b000000"));
    assert_true(has_key(db, "b000019"));
    omen_close(db);
    tu_rmrf(cp);
    tu_rmrf(dir);

    /* relaxed writes only, the older log never synced: the crash came
     * between the rotation and that sync, so nothing after the tear was
     * acknowledged as durable.  The default mode drops it all as the torn
     * tail it is: no error, nothing kept aside, no "c" key. */
    make_two_logs_ex(dir, 20, 1);
    tear_older_log(dir);
    o.wal_recovery = OMEN_WAL_RECOVER_TORN_TAIL;
    TU_OK(omen_open(dir, &o, &db));
    assert_true(has_key(db, "a000000"));
    assert_false(has_key(db, "c000000"));
    assert_false(has_key(db, "c000019"));
    TU_OK(omen_get_stats(db, &st));
    assert_int_equal(st.wal_records_skipped, 0);
    TU_OK(omen_put(db, "d", 1, "d", 1, OMEN_SYNC_FULL));
    TU_OK(omen_close(db));
    nd = tu_list(dir, ".damaged", &names);
    tu_list_free(names, nd);
    assert_int_equal(nd, 0);
    TU_OK(omen_open(dir, &o, &db)); /* the dropped logs are gone: a clean reopen */
    assert_true(has_key(db, "a000000"));
    assert_true(has_key(db, "d"));
    assert_false(has_key(db, "c000000"));
    omen_close(db);
    tu_rmrf(dir);

    /* a newer log without records: the crash came between the rotation
     * and the sync of the older log, whose torn tail is an ordinary one */
    make_two_logs(dir, 0);
    tear_older_log(dir);
    assert_int_equal(wal_names(dir, w), 2);
    assert_int_equal(truncate(w[1], 16), 0); /* the newer log's file header only */
    o.wal_recovery = OMEN_WAL_RECOVER_TORN_TAIL;
    TU_OK(omen_open(dir, &o, &db));
    assert_true(has_key(db, "a000000"));
    omen_close(db);
    tu_rmrf(dir);
}

static void test_old_formats_open(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tu_path(dir, sizeof dir, "oldfmt");
    omen_db *db;
    TU_OK(omen_open(dir, NULL, &db));
    put_n(db, 0, 60, "o");
    TU_OK(omen_flush(db));
    put_n(db, 60, 90, "o");
    TU_OK(omen_flush(db));
    TU_OK(omen_close(db));
    char **names;
    size_t n = tu_list(dir, ".run", &names);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX];
        tu_join(p, sizeof p, dir, names[i]);
        run_to_v1(p);
    }
    manifest_to_v1(dir);
    TU_OK(omen_check(dir, NULL, NULL));
    TU_OK(omen_open(dir, NULL, &db));
    check_count(db, 90);
    TU_OK(omen_close(db));
    /* The open wrote a version-2 manifest with the runs' footer checksums,
     * so the swap is now caught even between version-1 runs. */
    manifest m;
    TU_OK(manifest_read(dir, &m));
    for (size_t i = 0; i < m.nruns; i++) assert_int_not_equal(m.runs[i].footer_crc, 0);
    manifest_clear(&m);
    TU_OK(omen_check(dir, NULL, NULL));
    tu_list_free(names, n);
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_every_offset),
        cmocka_unit_test(test_run_swap),
        cmocka_unit_test(test_enospc_message),
        cmocka_unit_test(test_background_failure_cause),
        cmocka_unit_test(test_read_only_shared),
        cmocka_unit_test(test_keys_only_past_damaged_block),
        cmocka_unit_test(test_notfound_clears_error),
        cmocka_unit_test(test_old_formats_open),
        cmocka_unit_test(test_torn_older_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
