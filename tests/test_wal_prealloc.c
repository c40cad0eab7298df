/*
 * test_wal_prealloc.c -- the WAL's zero-filled space ahead of its appends:
 * file sizes while open and after close, what replay makes of the zeros
 * after the last record (the log's end), of a record torn before them (a
 * torn tail) and of a flipped byte inside them (corruption), and reopening
 * a database after kill -9 and after simulated power loss, then writing on.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/fio.h"
#include "storage/wal.h"
#include "support/fio_fault.h"
#include "util/err.h"

#include "testutil.h"

#define MIB (1u << 20)

static char dir[512], logpath[600], dbdir[600];

static int setup(void **state)
{
    (void)state;
    if (tu_mkdtemp(dir, sizeof dir, "walpre") != 0) return -1;
    snprintf(logpath, sizeof logpath, "%s/000001.wal", dir);
    snprintf(dbdir, sizeof dbdir, "%s/db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fio_fault_remove();
    tu_rmrf(dir);
    return 0;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = (size_t)file_size(path);
    unsigned char *b = malloc(cap ? cap : 1);
    assert_non_null(b);
    *n = fread(b, 1, cap, f);
    assert_int_equal(*n, cap);
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Record i: 50..1049 bytes, content derived from i. */
static size_t rec_len(int i)
{
    return 50 + (size_t)(i * 397) % 1000;
}

static void rec_fill(int i, unsigned char *b)
{
    for (size_t k = 0; k < rec_len(i); k++) b[k] = (unsigned char)(i * 31 + k * 7 + 1);
}

/* Replay callback: checks record n against rec_fill and that records are
 * contiguous (no zeros between them). */
typedef struct {
    int n;
    uint64_t next_off;
} seen_t;

static int check_rec(void *ctx, const void *rec, size_t len, uint64_t off)
{
    seen_t *s = ctx;
    unsigned char want[1100];
    if (len != rec_len(s->n)) return 99;
    rec_fill(s->n, want);
    if (memcmp(rec, want, len) != 0) return 98;
    if (s->next_off && off != s->next_off) return 97;
    s->next_off = off + WAL_RECORD_HEADER_SIZE + len;
    s->n++;
    return 0;
}

static void replay_check(const char *path, int skip, int want_n, int want_tail, wal_replay_info *info)
{
    seen_t s = {0, WAL_FILE_HEADER_SIZE};
    assert_int_equal(wal_replay_ex(path, skip, check_rec, &s, info), OMEN_OK);
    assert_int_equal(s.n, want_n);
    assert_int_equal(info->tail_state, want_tail);
}

static void append(wal_writer *w, int i, int synced)
{
    unsigned char b[1100];
    rec_fill(i, b);
    struct iovec v = {.iov_base = b, .iov_len = rec_len(i)};
    if (synced) {
        assert_int_equal(wal_append_synced_v(w, &v, 1), OMEN_OK);
        assert_int_equal(wal_sync(w), OMEN_OK);
    } else {
        assert_int_equal(wal_append_v(w, &v, 1), OMEN_OK);
    }
}

/* ---- file sizes and clean close ------------------------------------------ */

static void test_sizes_and_clean_close(void **state)
{
    (void)state;
    wal_writer *w;
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
    for (int i = 0; i < 3000; i++) {
        append(w, i, i % 3 != 2); /* synced and relaxed appends mixed */
        if (i % 500 == 0 || i == 2999) {
            /* While open: whole chunks reserved past the last record. */
            uint64_t sz = file_size(logpath);
            assert_int_equal(sz % MIB, 0);
            assert_true(sz > wal_size(w));
        }
    }
    uint64_t end = wal_size(w);
    size_t n;
    unsigned char *img = read_all(logpath, &n);
    assert_true(n > end);
    assert_true(all_zero(img + end, n - end)); /* the space ahead is zeros */
    free(img);
    wal_replay_info info;
    /* Read while open (as after a crash): the zeros are the log's end. */
    replay_check(logpath, 0, 3000, WAL_TAIL_CLEAN, &info);
    assert_int_equal(info.valid_len, end);
    assert_int_equal(info.file_size, n);
    assert_false(info.corrupt);
    assert_int_equal(info.bytes_after, 0);
    assert_int_equal(info.damage_off, 0);
    assert_int_equal(wal_writer_close(w), OMEN_OK);
    /* A clean close cuts the zeros off. */
    assert_int_equal(file_size(logpath), end);
    replay_check(logpath, 0, 3000, WAL_TAIL_CLEAN, &info);
    assert_int_equal(info.valid_len, end);
}

/* ---- kill -9 ------------------------------------------------------------- */

/* Child: append `n` synced records, report, wait to be killed. */
static void child_append(int fd, int n)
{
    wal_writer *w;
    if (wal_writer_open(logpath, &w) != OMEN_OK) _exit(2);
    for (int i = 0; i < n; i++) {
        unsigned char b[1100];
        rec_fill(i, b);
        struct iovec v = {.iov_base = b, .iov_len = rec_len(i)};
        if (wal_append_synced_v(w, &v, 1) != OMEN_OK || wal_sync(w) != OMEN_OK) _exit(3);
    }
    char c = 'k';
    if (write(fd, &c, 1) != 1) _exit(4);
    for (;;) pause();
}

static pid_t spawn(void (*fn)(int fd, int n), int n, int *rfd)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        fn(p[1], n);
        _exit(0);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

static void kill_child(pid_t pid, int rfd)
{
    char c = 0;
    assert_int_equal(read(rfd, &c, 1), 1);
    assert_int_equal(c, 'k');
    close(rfd);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
}

static void test_kill9_wal(void **state)
{
    (void)state;
    int rfd;
    pid_t pid = spawn(child_append, 2500, &rfd);
    kill_child(pid, rfd);
    uint64_t sz = file_size(logpath);
    assert_int_equal(sz % MIB, 0);
    wal_replay_info info;
    for (int skip = 0; skip <= 1; skip++) {
        replay_check(logpath, skip, 2500, WAL_TAIL_CLEAN, &info);
        assert_true(info.valid_len < sz); /* zeros were ahead */
        assert_false(info.corrupt);
        assert_int_equal(info.bytes_after, 0);
        assert_int_equal(info.regions, 0);
        assert_int_equal(info.bytes_skipped, 0);
    }
}

/* ---- crafted tails ------------------------------------------------------- */

/* A closed log of `n` records, its image with `zeros` zero bytes appended,
 * written back; returns the image (caller frees) and the records' end. */
static unsigned char *log_with_zeros(int n, size_t zeros, size_t *len, uint64_t *end)
{
    wal_writer *w;
    unlink(logpath);
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
    for (int i = 0; i < n; i++) append(w, i, 0);
    *end = wal_size(w);
    assert_int_equal(wal_writer_close(w), OMEN_OK);
    size_t n0;
    unsigned char *img = read_all(logpath, &n0);
    assert_int_equal(n0, *end);
    img = realloc(img, n0 + zeros);
    assert_non_null(img);
    memset(img + n0, 0, zeros);
    *len = n0 + zeros;
    write_all(logpath, img, *len);
    return img;
}

static void test_torn_record_before_zeros(void **state)
{
    (void)state;
    size_t len;
    uint64_t end;
    unsigned char *img = log_with_zeros(10, MIB, &len, &end);
    wal_replay_info info;
    replay_check(logpath, 0, 10, WAL_TAIL_CLEAN, &info);
    /* The last record loses its second half to zeros: a torn tail. */
    uint64_t last = end - WAL_RECORD_HEADER_SIZE - rec_len(9);
    unsigned char *t = malloc(len);
    assert_non_null(t);
    memcpy(t, img, len);
    uint64_t cut = last + WAL_RECORD_HEADER_SIZE + rec_len(9) / 2;
    memset(t + cut, 0, end - cut);
    write_all(logpath, t, len);
    for (int skip = 0; skip <= 1; skip++) {
        replay_check(logpath, skip, 9, WAL_TAIL_TORN, &info);
        assert_false(info.corrupt);
        assert_int_equal(info.valid_len, last);
        assert_int_equal(info.damage_off, last);
        assert_int_equal(info.bytes_skipped, 0);
    }
    assert_int_equal(info.tail_state, WAL_TAIL_TORN);
    /* Only the first 1..8 header bytes landed (the type byte did not):
     * still a torn write, not corruption. */
    for (size_t keep = 1; keep <= 8; keep++) {
        memcpy(t, img, len);
        memset(t + last + keep, 0, end - last - keep);
        t[last] = 0x5a; /* the checksum's first byte is never all of it zero */
        write_all(logpath, t, len);
        replay_check(logpath, 0, 9, WAL_TAIL_TORN, &info);
        assert_int_equal(info.bytes_after, len - last);
    }
    /* A torn record with garbage, then an intact record: corruption. */
    memcpy(t, img, len);
    size_t third = WAL_FILE_HEADER_SIZE + 2 * WAL_RECORD_HEADER_SIZE + rec_len(0) + rec_len(1);
    t[third + 20] ^= 0x40;
    write_all(logpath, t, len);
    replay_check(logpath, 0, 2, WAL_TAIL_CORRUPT, &info);
    assert_true(info.corrupt);
    assert_int_equal(info.records_after, 7);
    free(t);
    free(img);
}

/* Decision: a non-zero byte inside the zero-filled space (past the first 8
 * bytes after the last record) is corruption, not a tail; the records
 * before it are all intact. */
static void test_flip_in_zero_region(void **state)
{
    (void)state;
    size_t len;
    uint64_t end;
    unsigned char *img = log_with_zeros(10, MIB, &len, &end);
    wal_replay_info info;
    size_t offs[] = {8, 9, 100, 4096, MIB / 2, MIB - 1};
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        img[end + offs[k]] = 0x10;
        write_all(logpath, img, len);
        replay_check(logpath, 0, 10, WAL_TAIL_CORRUPT, &info);
        assert_true(info.corrupt);
        assert_int_equal(info.damage_off, end);
        assert_int_equal(info.valid_len, end);
        assert_int_equal(info.records_after, 0);
        assert_int_equal(info.resume_off, 0);
        /* Skipping: every record delivered, the rest one damaged region. */
        replay_check(logpath, 1, 10, WAL_TAIL_CORRUPT, &info);
        assert_int_equal(info.regions, 1);
        assert_int_equal(info.bytes_skipped, len - end);
        img[end + offs[k]] = 0;
    }
    /* Inside the first 8 bytes it cannot be told from a torn header. */
    img[end + 3] = 0x10;
    write_all(logpath, img, len);
    replay_check(logpath, 0, 10, WAL_TAIL_TORN, &info);
    free(img);
}

/* ---- databases: kill -9, power loss, reopening and writing on ------------ */

static void put_keys(omen_db *db, int from, int to, int sync)
{
    for (int i = from; i < to; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof k, "key%06d", i);
        int vl = snprintf(v, sizeof v, "value-%d-%0*d", i, i % 40, 7);
        assert_int_equal(omen_put(db, k, (size_t)kl, v, (size_t)vl, sync), OMEN_OK);
    }
}

static void expect_keys(omen_db *db, int from, int to)
{
    for (int i = from; i < to; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof k, "key%06d", i);
        int vl = snprintf(v, sizeof v, "value-%d-%0*d", i, i % 40, 7);
        void *got = NULL;
        size_t gl = 0;
        assert_int_equal(omen_get(db, NULL, k, (size_t)kl, &got, &gl), OMEN_OK);
        assert_int_equal(gl, (size_t)vl);
        assert_memory_equal(got, v, gl);
        omen_free(got);
    }
}

static void child_db(int fd, int n)
{
    omen_db *db;
    if (omen_open(dbdir, NULL, &db) != OMEN_OK) _exit(2);
    for (int i = 0; i < n; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof k, "key%06d", i);
        int vl = snprintf(v, sizeof v, "value-%d-%0*d", i, i % 40, 7);
        if (omen_put(db, k, (size_t)kl, v, (size_t)vl, OMEN_SYNC_FULL) != OMEN_OK) _exit(3);
    }
    char c = 'k';
    if (write(fd, &c, 1) != 1) _exit(4);
    for (;;) pause();
}

typedef struct {
    int lines, torn, problem;
} check_t;

static void check_line(void *ctx, const char *line)
{
    check_t *c = ctx;
    c->lines++;
    if (strstr(line, "torn")) c->torn++;
    if (strstr(line, "corrupt")) c->problem++;
}

static int count_any(void *ctx, const void *rec, size_t len, uint64_t off)
{
    uint64_t *next = ctx;
    (void)rec;
    if (off != *next) return 97; /* a gap (zeros) between records */
    *next = off + WAL_RECORD_HEADER_SIZE + len;
    return 0;
}

/* Every log in dbdir: intact records, contiguous (no zeros between them),
 * ending exactly at the file's end (a closed database). */
static int check_wal_file(void *ctx, const char *name)
{
    size_t n = strlen(name);
    if (n <= 4 || strcmp(name + n - 4, ".wal") != 0) return 0;
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dbdir, name);
    uint64_t next = WAL_FILE_HEADER_SIZE;
    wal_replay_info info;
    assert_int_equal(wal_replay_ex(p, 0, count_any, &next, &info), OMEN_OK);
    assert_int_equal(info.tail_state, WAL_TAIL_CLEAN);
    assert_int_equal(info.valid_len, next);
    assert_int_equal(info.file_size, next); /* closed: no zeros left */
    (*(int *)ctx)++;
    return 0;
}

static void reopen_write_on(int have)
{
    omen_options o;
    omen_options_init(&o);
    o.wal_recovery = OMEN_WAL_RECOVER_ABSOLUTE; /* refuses any torn or damaged log */
    omen_db *db;
    assert_int_equal(omen_open(dbdir, &o, &db), OMEN_OK);
    omen_stats st;
    assert_int_equal(omen_get_stats(db, &st), OMEN_OK);
    assert_int_equal(st.wal_records_skipped, 0);
    assert_int_equal(st.wal_bytes_skipped, 0);
    expect_keys(db, 0, have);
    put_keys(db, have, have + 300, OMEN_SYNC_FULL);
    put_keys(db, have + 300, have + 400, OMEN_SYNC_RELAXED);
    assert_int_equal(omen_close(db), OMEN_OK);
    int nwal = 0;
    assert_int_equal(fio_list_dir(dbdir, check_wal_file, &nwal), OMEN_OK);
    assert_true(nwal >= 1);
    assert_int_equal(omen_open(dbdir, &o, &db), OMEN_OK);
    expect_keys(db, 0, have + 400);
    assert_int_equal(omen_close(db), OMEN_OK);
}

static void test_kill9_db(void **state)
{
    (void)state;
    int rfd;
    pid_t pid = spawn(child_db, 1500, &rfd);
    kill_child(pid, rfd);
    /* The live log still has its zeros; omen_check calls it clean. */
    check_t c = {0};
    assert_int_equal(omen_check(dbdir, check_line, &c), OMEN_OK);
    assert_true(c.lines > 0);
    assert_int_equal(c.torn, 0);
    assert_int_equal(c.problem, 0);
    reopen_write_on(1500);
}

static void test_kill9_db_flip_in_zeros(void **state)
{
    (void)state;
    int rfd;
    pid_t pid = spawn(child_db, 200, &rfd);
    kill_child(pid, rfd);
    /* Find the live log (the only one) and flip a byte in its zeros. */
    char p[1200] = "";
    DIR *d = opendir(dbdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".wal")) snprintf(p, sizeof p, "%s/%s", dbdir, e->d_name);
    closedir(d);
    assert_true(p[0]);
    size_t n;
    unsigned char *img = read_all(p, &n);
    uint64_t next = WAL_FILE_HEADER_SIZE;
    wal_replay_info info;
    assert_int_equal(wal_replay_ex(p, 0, count_any, &next, &info), OMEN_OK);
    assert_int_equal(info.tail_state, WAL_TAIL_CLEAN);
    assert_true(n > next + 5000);
    img[next + 5000] = 0x80;
    write_all(p, img, n);
    free(img);
    check_t c = {0};
    assert_int_equal(omen_check(dbdir, check_line, &c), OMEN_CORRUPT);
    assert_int_equal(c.problem, 1);
    omen_db *db = NULL;
    assert_int_equal(omen_open(dbdir, NULL, &db), OMEN_CORRUPT); /* default: refuse */
    assert_null(db);
    omen_options o;
    omen_options_init(&o);
    o.wal_recovery = OMEN_WAL_RECOVER_POINT_IN_TIME;
    assert_int_equal(omen_open(dbdir, &o, &db), OMEN_OK);
    expect_keys(db, 0, 200); /* every write was before the damage */
    assert_int_equal(omen_close(db), OMEN_OK);
}

static void test_power_loss_db(void **state)
{
    (void)state;
    for (int mode = FIO_POWER_DROP; mode <= FIO_POWER_TEAR; mode++) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            tu_rmrf(dbdir);
            fio_fault_install();
            fio_fault_seed(seed);
            omen_db *db;
            assert_int_equal(omen_open(dbdir, NULL, &db), OMEN_OK);
            put_keys(db, 0, 400, OMEN_SYNC_FULL);
            put_keys(db, 400, 450, OMEN_SYNC_RELAXED); /* may be lost */
            /* Crash: every later change to the disk fails (the close cannot
             * cut the log back), then the power goes. */
            fio_fault_fail_nth(FIO_FAULT_MUTATING, 1, FIO_FAULT_STICKY);
            omen_close(db);
            assert_int_equal(fio_fault_power_loss(mode), OMEN_OK);
            fio_fault_remove();
            if (mode == FIO_POWER_DROP) {
                /* Exactly the synced records, then zeros: a clean end. */
                check_t c = {0};
                assert_int_equal(omen_check(dbdir, check_line, &c), OMEN_OK);
                assert_int_equal(c.torn, 0);
                reopen_write_on(400);
            } else {
                omen_db *db2;
                assert_int_equal(omen_open(dbdir, NULL, &db2), OMEN_OK);
                expect_keys(db2, 0, 400);
                assert_int_equal(omen_close(db2), OMEN_OK);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sizes_and_clean_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_record_before_zeros, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flip_in_zero_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_db_flip_in_zeros, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_loss_db, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
