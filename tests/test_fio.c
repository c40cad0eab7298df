/*
 * test_fio.c -- the file layer (posix env) and the fault-injection env:
 * Nth-operation failures and the power-loss model documented in fio_fault.h.
 * Each test works in its own fresh directory under $TMPDIR.
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

#include "storage/fio.h"
#include "support/fio_fault.h"
#include "util/err.h"

#include "testutil.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(dir, sizeof dir, "fio");
}

static int teardown(void **state)
{
    (void)state;
    fio_fault_remove();
    tu_rmrf(dir);
    return 0;
}

static const char *P(const char *name)
{
    static char buf[4][1024];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static uint64_t disk_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void write_new(const char *path, const void *buf, size_t n)
{
    fio_file *f;
    assert_int_equal(fio_open(path, FIO_WRITE | FIO_CREATE | FIO_TRUNC, &f), OMEN_OK);
    assert_int_equal(fio_append(f, buf, n), OMEN_OK);
    assert_int_equal(fio_close(f), OMEN_OK);
}

static size_t read_all(const char *path, void *buf, size_t cap)
{
    fio_file *f;
    size_t got;
    assert_int_equal(fio_open(path, FIO_READ, &f), OMEN_OK);
    assert_int_equal(fio_pread(f, buf, cap, 0, &got), OMEN_OK);
    fio_close(f);
    return got;
}

/* ---- posix env ----------------------------------------------------------- */

static void test_open_errors(void **state)
{
    (void)state;
    fio_file *f = (fio_file *)1;
    assert_int_equal(fio_open(P("absent"), FIO_READ, &f), OMEN_NOTFOUND);
    assert_null(f);
    assert_non_null(strstr(omen_last_error(), "absent"));
    assert_int_equal(fio_open(P("x"), FIO_WRITE | FIO_CREATE | FIO_EXCL, &f), OMEN_OK);
    assert_int_equal(fio_close(f), OMEN_OK);
    assert_int_equal(fio_open(P("x"), FIO_WRITE | FIO_CREATE | FIO_EXCL, &f), OMEN_EXISTS);
    assert_int_equal(fio_open(NULL, FIO_READ, &f), OMEN_INVALID);
    assert_int_equal(fio_open(P("x"), FIO_READ, NULL), OMEN_INVALID);
    assert_int_equal(fio_close(NULL), OMEN_OK);
    assert_int_equal(fio_sync(NULL), OMEN_INVALID);
    assert_int_equal(fio_append(NULL, "a", 1), OMEN_INVALID);
    /* A directory in place of a file. */
    assert_int_equal(fio_open(dir, FIO_WRITE, &f), OMEN_IO);
    assert_non_null(strstr(omen_last_error(), dir));
}

static void test_rw(void **state)
{
    (void)state;
    fio_file *f;
    assert_int_equal(fio_open(P("rw"), FIO_READ | FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    assert_int_equal(fio_append(f, "hello ", 6), OMEN_OK);
    assert_int_equal(fio_append(f, "world", 5), OMEN_OK);
    uint64_t sz;
    assert_int_equal(fio_size(f, &sz), OMEN_OK);
    assert_int_equal(sz, 11);
    char buf[32];
    size_t got;
    assert_int_equal(fio_pread(f, buf, sizeof buf, 0, &got), OMEN_OK);
    assert_int_equal(got, 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(fio_pread(f, buf, 4, 9, &got), OMEN_OK); /* short read at EOF */
    assert_int_equal(got, 2);
    assert_int_equal(fio_pread(f, buf, 4, 100, &got), OMEN_OK);
    assert_int_equal(got, 0);
    assert_int_equal(fio_pwrite(f, "W", 1, 6), OMEN_OK);
    assert_int_equal(fio_pwrite(f, "!", 1, 11), OMEN_OK); /* extends; append follows */
    assert_int_equal(fio_append(f, "?", 1), OMEN_OK);
    assert_int_equal(fio_pread(f, buf, sizeof buf, 0, &got), OMEN_OK);
    assert_int_equal(got, 13);
    assert_memory_equal(buf, "hello World!?", 13);
    assert_int_equal(fio_truncate(f, 5), OMEN_OK);
    assert_int_equal(fio_append(f, "X", 1), OMEN_OK); /* append position follows truncate */
    assert_int_equal(fio_sync(f), OMEN_OK);
    assert_int_equal(fio_pread(f, buf, sizeof buf, 0, &got), OMEN_OK);
    assert_int_equal(got, 6);
    assert_memory_equal(buf, "helloX", 6);
    assert_string_equal(fio_file_path(f), P("rw"));
    assert_int_equal(fio_close(f), OMEN_OK);

    /* Reopen: the append position starts at the current size. */
    assert_int_equal(fio_open(P("rw"), FIO_WRITE, &f), OMEN_OK);
    assert_int_equal(fio_append(f, "Y", 1), OMEN_OK);
    fio_close(f);
    assert_int_equal(read_all(P("rw"), buf, sizeof buf), 7);
    assert_memory_equal(buf, "helloXY", 7);
    /* FIO_TRUNC empties. */
    assert_int_equal(fio_open(P("rw"), FIO_WRITE | FIO_TRUNC, &f), OMEN_OK);
    fio_close(f);
    assert_int_equal(disk_size(P("rw")), 0);
}

static void test_appendv_many(void **state)
{
    (void)state;
    enum { N = 1500 }; /* more than IOV_MAX: chunked writes */
    struct iovec iov[N];
    static char data[N][16];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        snprintf(data[i], sizeof data[i], "%07u", (unsigned)i);
        iov[i].iov_base = data[i];
        iov[i].iov_len = (size_t)(i % 5 == 0 ? 0 : 7); /* some empty pieces */
        total += iov[i].iov_len;
    }
    fio_file *f;
    assert_int_equal(fio_open(P("v"), FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    assert_int_equal(fio_appendv(f, iov, N), OMEN_OK);
    assert_int_equal(fio_appendv(f, iov, 0), OMEN_OK);
    assert_int_equal(fio_appendv(f, NULL, -1), OMEN_INVALID);
    fio_close(f);
    char *buf = malloc(total + 10);
    assert_int_equal(read_all(P("v"), buf, total + 10), total);
    size_t off = 0;
    for (int i = 0; i < N; i++) {
        assert_memory_equal(buf + off, data[i], iov[i].iov_len);
        off += iov[i].iov_len;
    }
    free(buf);
}

static void test_mmap(void **state)
{
    (void)state;
    char data[10000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7);
    write_new(P("m"), data, sizeof data);
    fio_file *f;
    assert_int_equal(fio_open(P("m"), FIO_READ, &f), OMEN_OK);
    const void *map;
    assert_int_equal(fio_mmap(f, 0, &map), OMEN_INVALID);
    assert_int_equal(fio_mmap(f, sizeof data, &map), OMEN_OK);
    fio_close(f); /* the map outlives the handle */
    assert_memory_equal(map, data, sizeof data);
    fio_munmap(map, sizeof data);
}

struct names {
    int n, has_a, has_b;
    int stop_after;
};

static int name_cb(void *ctx, const char *name)
{
    struct names *c = ctx;
    c->n++;
    if (!strcmp(name, "a")) c->has_a = 1;
    if (!strcmp(name, "b")) c->has_b = 1;
    return c->stop_after && c->n >= c->stop_after ? 42 : 0;
}

/* fio_allocate reserves zeros without moving the append position; appends
 * inside a writable window are copies that read back through pread and
 * survive close; appends past the window fall back to write(2); truncate
 * drops the window. */
static void test_allocate_and_window(void **state)
{
    (void)state;
    fio_file *f;
    assert_int_equal(fio_open(P("w"), FIO_READ | FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    assert_int_equal(fio_append(f, "head", 4), OMEN_OK);
    assert_int_equal(fio_allocate(f, 4, 8192), OMEN_OK);
    assert_int_equal(fio_file_end(f), 4);
    assert_int_equal(disk_size(P("w")), 8196);
    assert_int_equal(fio_map_window(f, 4, 8192), OMEN_OK);
    char big[9000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    struct iovec v[2] = {{.iov_base = big, .iov_len = 100}, {.iov_base = big + 100, .iov_len = 200}};
    assert_int_equal(fio_appendv(f, v, 2), OMEN_OK);    /* inside the window */
    assert_int_equal(fio_file_end(f), 304);
    assert_int_equal(fio_append(f, big, 8000), OMEN_OK); /* runs past it: write(2) */
    assert_int_equal(fio_file_end(f), 8304);
    assert_int_equal(disk_size(P("w")), 8304);
    char back[9000];
    size_t got;
    assert_int_equal(fio_pread(f, back, sizeof back, 0, &got), OMEN_OK);
    assert_int_equal(got, 8304);
    assert_memory_equal(back, "head", 4);
    assert_memory_equal(back + 4, big, 300);
    assert_memory_equal(back + 304, big, 8000);
    assert_int_equal(fio_truncate(f, 10), OMEN_OK);
    assert_int_equal(fio_append(f, "xy", 2), OMEN_OK);
    assert_int_equal(fio_close(f), OMEN_OK);
    assert_int_equal(read_all(P("w"), back, sizeof back), 12);
    assert_memory_equal(back, "head", 4);
    assert_memory_equal(back + 4, big, 6);
    assert_memory_equal(back + 10, "xy", 2);
}

/* fio_write_zeros writes zeros wherever it is told, inside the window or
 * not, and leaves the append position alone; appends with window writes
 * off land in the same place as copies would. */
static void test_write_zeros(void **state)
{
    (void)state;
    fio_file *f;
    assert_int_equal(fio_open(P("z"), FIO_READ | FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    assert_int_equal(fio_append(f, "head", 4), OMEN_OK);
    assert_int_equal(fio_allocate(f, 4, 200000), OMEN_OK);
    assert_int_equal(fio_map_window(f, 4, 200000), OMEN_OK);
    assert_int_equal(fio_append(f, "abc", 3), OMEN_OK); /* a copy into the window */
    assert_int_equal(fio_pwrite(f, "XXXXXXXX", 8, 100), OMEN_OK);
    assert_int_equal(fio_file_end(f), 108);
    assert_int_equal(fio_write_zeros(f, 7, 150000), OMEN_OK); /* more than one chunk */
    assert_int_equal(fio_file_end(f), 108);
    fio_window_writes(f, 0);
    assert_int_equal(fio_append(f, "def", 3), OMEN_OK); /* write(2) */
    fio_window_writes(f, 1);
    assert_int_equal(fio_append(f, "gh", 2), OMEN_OK);
    assert_int_equal(fio_file_end(f), 113);
    static char back[200004];
    size_t got;
    assert_int_equal(fio_pread(f, back, sizeof back, 0, &got), OMEN_OK);
    assert_int_equal(got, 200004);
    assert_memory_equal(back, "headabc", 7);
    for (size_t i = 7; i < 108; i++) assert_int_equal(back[i], 0);
    assert_memory_equal(back + 108, "defgh", 5);
    for (size_t i = 113; i < got; i++) assert_int_equal(back[i], 0);
    assert_int_equal(fio_write_zeros(NULL, 0, 1), OMEN_INVALID);
    assert_int_equal(fio_close(f), OMEN_OK);
}

static void test_namespace(void **state)
{
    (void)state;
    write_new(P("a"), "1", 1);
    assert_int_equal(fio_exists(P("a")), 1);
    assert_int_equal(fio_exists(P("b")), 0);
    assert_int_equal(fio_rename(P("a"), P("b")), OMEN_OK);
    assert_int_equal(fio_exists(P("a")), 0);
    assert_int_equal(fio_rename(P("a"), P("c")), OMEN_NOTFOUND);
    write_new(P("a"), "2", 1);
    struct names c = {0};
    assert_int_equal(fio_list_dir(dir, name_cb, &c), OMEN_OK);
    assert_int_equal(c.n, 2);
    assert_true(c.has_a && c.has_b);
    struct names c2 = {.stop_after = 1};
    assert_int_equal(fio_list_dir(dir, name_cb, &c2), 42);
    assert_int_equal(c2.n, 1);
    assert_int_equal(fio_list_dir(P("nodir"), name_cb, &c), OMEN_NOTFOUND);
    assert_int_equal(fio_unlink(P("a")), OMEN_OK);
    assert_int_equal(fio_unlink(P("a")), OMEN_NOTFOUND);
    assert_non_null(strstr(omen_last_error(), "/a"));
    assert_int_equal(fio_mkdir(P("sub")), OMEN_OK);
    assert_int_equal(fio_mkdir(P("sub")), OMEN_OK);
    assert_int_equal(fio_mkdir(P("b")), OMEN_NOTDB); /* a file is in the way */
    assert_int_equal(fio_mkdir(P("no/such/parent")), OMEN_NOTFOUND);
    assert_int_equal(fio_sync_dir(dir), OMEN_OK);
    assert_int_equal(fio_sync_dir(P("nodir")), OMEN_NOTFOUND);
    write_new(P("sub/f"), "f", 1);
    assert_int_equal(fio_rmdir(P("sub")), OMEN_BUSY);
    assert_int_equal(fio_unlink(P("sub/f")), OMEN_OK);
    assert_int_equal(fio_rmdir(P("sub")), OMEN_OK);
    assert_int_equal(fio_rmdir(P("sub")), OMEN_NOTFOUND);
}

static void test_lock(void **state)
{
    (void)state;
    fio_file *l1, *l2;
    assert_int_equal(fio_lock(P("LOCK"), &l1), OMEN_OK);
    assert_int_equal(fio_lock(P("LOCK"), &l2), OMEN_LOCKED);
    assert_null(l2);
    assert_int_equal(fio_close(l1), OMEN_OK);
    assert_int_equal(fio_lock(P("LOCK"), &l2), OMEN_OK);
    fio_close(l2);
}

static void test_write_file_atomic(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(fio_write_file_atomic(dir, "F", "first", 5), OMEN_OK);
    assert_int_equal(read_all(P("F"), buf, sizeof buf), 5);
    assert_memory_equal(buf, "first", 5);
    assert_int_equal(fio_write_file_atomic(dir, "F", "second!", 7), OMEN_OK);
    assert_int_equal(read_all(P("F"), buf, sizeof buf), 7);
    assert_memory_equal(buf, "second!", 7);
    assert_int_equal(fio_exists(P("F.tmp")), 0);
    assert_int_equal(fio_write_file_atomic(P("nodir"), "F", "x", 1), OMEN_NOTFOUND);
    assert_int_equal(fio_write_file_atomic(dir, "F", NULL, 1), OMEN_INVALID);
}

/* A custom env sees every call, and files remember the env that opened them. */
static int counted_opens;
static int count_open(const char *path, int flags, fio_file **out)
{
    counted_opens++;
    return fio_posix_env()->open(path, flags, out);
}

static void test_custom_env(void **state)
{
    (void)state;
    fio_env e = *fio_posix_env();
    e.open = count_open;
    fio_set_env(&e);
    assert_ptr_equal(fio_get_env(), &e);
    fio_file *f;
    assert_int_equal(fio_open(P("e"), FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    fio_set_env(NULL);
    assert_ptr_equal(fio_get_env(), fio_posix_env());
    assert_int_equal(fio_append(f, "z", 1), OMEN_OK);
    fio_close(f);
    assert_int_equal(counted_opens, 1);
    assert_int_equal(fio_write_file_atomic(dir, "G", "g", 1), OMEN_OK);
    assert_int_equal(counted_opens, 1);
}

/* ---- fault env: Nth operation ---------------------------------------------- */

static void test_fault_nth_write(void **state)
{
    (void)state;
    fio_fault_install();
    fio_file *f;
    assert_int_equal(fio_open(P("w"), FIO_READ | FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    fio_fault_fail_nth(FIO_FAULT_WRITE, 2, 0);
    assert_int_equal(fio_append(f, "aa", 2), OMEN_OK);
    assert_int_equal(fio_sync(f), OMEN_OK); /* not a write: not counted */
    assert_int_equal(fio_append(f, "bb", 2), OMEN_IO);
    assert_non_null(strstr(omen_last_error(), "injected"));
    assert_non_null(strstr(omen_last_error(), "/w"));
    assert_int_equal(fio_append(f, "cc", 2), OMEN_OK); /* not sticky */
    assert_int_equal(fio_fault_ops(), 3);
    assert_int_equal(fio_fault_failures(), 1);
    char buf[8];
    size_t got;
    assert_int_equal(fio_pread(f, buf, sizeof buf, 0, &got), OMEN_OK);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "aacc", 4);

    fio_fault_fail_nth(FIO_FAULT_WRITE | FIO_FAULT_SYNC, 1, FIO_FAULT_STICKY);
    assert_int_equal(fio_sync(f), OMEN_IO);
    assert_int_equal(fio_append(f, "d", 1), OMEN_IO);
    assert_int_equal(fio_pwrite(f, "d", 1, 0), OMEN_IO);
    assert_int_equal(fio_truncate(f, 0), OMEN_IO);
    assert_int_equal(fio_fault_failures(), 4);
    assert_int_equal(fio_pread(f, buf, 1, 0, &got), OMEN_OK); /* reads unaffected */

    fio_fault_fail_nth(FIO_FAULT_READ, 1, 0);
    assert_int_equal(fio_pread(f, buf, 1, 0, &got), OMEN_IO);
    fio_fault_fail_nth(0, 0, 0);
    assert_int_equal(fio_append(f, "e", 1), OMEN_OK);
    assert_int_equal(disk_size(P("w")), 5);
    fio_close(f);
}

static void test_fault_partial_write(void **state)
{
    (void)state;
    fio_fault_install();
    fio_file *f;
    assert_int_equal(fio_open(P("p"), FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    fio_fault_fail_nth(FIO_FAULT_WRITE, 1, FIO_FAULT_PARTIAL);
    struct iovec v[2] = {{"abcd", 4}, {"efghij", 6}};
    assert_int_equal(fio_appendv(f, v, 2), OMEN_IO);
    assert_non_null(strstr(omen_last_error(), "injected"));
    fio_close(f);
    char buf[16];
    assert_int_equal(read_all(P("p"), buf, sizeof buf), 5);
    assert_memory_equal(buf, "abcde", 5);
}

static void test_fault_other_kinds(void **state)
{
    (void)state;
    fio_fault_install();
    write_new(P("a"), "A", 1);
    fio_file *f = (fio_file *)1;
    fio_fault_fail_nth(FIO_FAULT_OPEN, 1, 0);
    assert_int_equal(fio_open(P("a"), FIO_READ, &f), OMEN_IO);
    assert_null(f);
    fio_fault_fail_nth(FIO_FAULT_OPEN, 1, 0);
    assert_int_equal(fio_lock(P("LOCK"), &f), OMEN_IO);
    fio_fault_fail_nth(FIO_FAULT_RENAME, 1, 0);
    assert_int_equal(fio_rename(P("a"), P("b")), OMEN_IO);
    assert_int_equal(fio_exists(P("a")), 1); /* a failed rename renames nothing */
    assert_int_equal(fio_exists(P("b")), 0);
    fio_fault_fail_nth(FIO_FAULT_UNLINK, 1, 0);
    assert_int_equal(fio_unlink(P("a")), OMEN_IO);
    assert_int_equal(fio_exists(P("a")), 1);
    fio_fault_fail_nth(FIO_FAULT_MKDIR, 1, 0);
    assert_int_equal(fio_mkdir(P("d")), OMEN_IO);
    assert_int_equal(fio_exists(P("d")), 0);
    fio_fault_fail_nth(FIO_FAULT_SYNC, 1, 0);
    assert_int_equal(fio_sync_dir(dir), OMEN_IO);
    /* Each step of the atomic write can fail; the old content stays. */
    assert_int_equal(fio_write_file_atomic(dir, "M", "old", 3), OMEN_OK);
    for (long n = 1;; n++) {
        fio_fault_fail_nth(FIO_FAULT_MUTATING, n, FIO_FAULT_STICKY);
        int rc = fio_write_file_atomic(dir, "M", "newer", 5);
        long failures = fio_fault_failures();
        fio_fault_fail_nth(0, 0, 0);
        char buf[8];
        size_t got = read_all(P("M"), buf, sizeof buf);
        if (failures == 0) {
            assert_int_equal(rc, OMEN_OK);
            assert_true(n > 4); /* open, write, sync, rename, dir sync */
            break;
        }
        assert_int_equal(rc, OMEN_IO);
        /* Only the final directory fsync may fail after the rename. */
        assert_true((got == 3 && !memcmp(buf, "old", 3)) || (got == 5 && !memcmp(buf, "newer", 5)));
        assert_int_equal(fio_write_file_atomic(dir, "M", "old", 3), OMEN_OK);
    }
}

/* ---- fault env: power loss ------------------------------------------------- */

static void test_power_loss_drop(void **state)
{
    (void)state;
    /* A file that predates the env counts as durable. */
    write_new(P("old"), "0123456789", 10);
    fio_fault_install();
    assert_int_equal(fio_fault_synced_len(P("old")), -1); /* not seen yet */
    fio_file *f;
    assert_int_equal(fio_open(P("old"), FIO_WRITE, &f), OMEN_OK);
    assert_int_equal(fio_fault_synced_len(P("old")), 10);
    assert_int_equal(fio_append(f, "abc", 3), OMEN_OK);
    fio_close(f);

    assert_int_equal(fio_open(P("new"), FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    assert_int_equal(fio_append(f, "0123456789", 10), OMEN_OK);
    assert_int_equal(fio_sync(f), OMEN_OK);
    assert_int_equal(fio_append(f, "tail", 4), OMEN_OK);
    assert_int_equal(fio_fault_synced_len(P("new")), 10);
    fio_close(f);
    assert_int_equal(fio_sync_dir(dir), OMEN_OK); /* "new" entry durable */

    /* A synced file whose directory entry is not synced vanishes. */
    assert_int_equal(fio_open(P("nodirsync"), FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    assert_int_equal(fio_append(f, "x", 1), OMEN_OK);
    assert_int_equal(fio_sync(f), OMEN_OK);
    fio_close(f);

    /* A failed fsync leaves the data unsynced. */
    fio_fault_fail_nth(FIO_FAULT_SYNC, 1, 0);
    assert_int_equal(fio_open(P("new"), FIO_WRITE, &f), OMEN_OK);
    assert_int_equal(fio_append(f, "more", 4), OMEN_OK);
    assert_int_equal(fio_sync(f), OMEN_IO);
    fio_close(f);
    fio_fault_fail_nth(0, 0, 0);

    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    char buf[32];
    assert_int_equal(read_all(P("old"), buf, sizeof buf), 10);
    assert_memory_equal(buf, "0123456789", 10);
    assert_int_equal(read_all(P("new"), buf, sizeof buf), 10);
    assert_memory_equal(buf, "0123456789", 10);
    assert_int_equal(fio_exists(P("nodirsync")), 0);
    /* Afterwards everything left is durable: a second loss changes nothing. */
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    assert_int_equal(disk_size(P("new")), 10);
    assert_int_equal(fio_fault_synced_len(P("new")), 10);
}

static void test_power_loss_namespace(void **state)
{
    (void)state;
    fio_fault_install();
    char buf[32];
    /* Atomic replace completed: survives. */
    assert_int_equal(fio_write_file_atomic(dir, "M", "v1", 2), OMEN_OK);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    assert_int_equal(read_all(P("M"), buf, sizeof buf), 2);
    assert_memory_equal(buf, "v1", 2);

    /* Replace whose directory fsync never happened: the old file returns. */
    write_new(P("M.tmp"), "v2", 2);
    fio_file *f;
    assert_int_equal(fio_open(P("M.tmp"), FIO_WRITE, &f), OMEN_OK);
    assert_int_equal(fio_sync(f), OMEN_OK);
    fio_close(f);
    assert_int_equal(fio_rename(P("M.tmp"), P("M")), OMEN_OK);
    assert_int_equal(read_all(P("M"), buf, sizeof buf), 2);
    assert_memory_equal(buf, "v2", 2);
    struct names c = {0};
    assert_int_equal(fio_list_dir(dir, name_cb, &c), OMEN_OK);
    assert_int_equal(c.n, 1); /* the undo link is hidden */
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    assert_int_equal(read_all(P("M"), buf, sizeof buf), 2);
    assert_memory_equal(buf, "v1", 2);
    assert_int_equal(fio_exists(P("M.tmp")), 0); /* created, never dir-synced */
    struct names c2 = {0};
    assert_int_equal(fio_list_dir(dir, name_cb, &c2), OMEN_OK);
    assert_int_equal(c2.n, 1);

    /* Unlink without directory fsync: the file comes back whole. */
    assert_int_equal(fio_unlink(P("M")), OMEN_OK);
    assert_int_equal(fio_exists(P("M")), 0);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    assert_int_equal(read_all(P("M"), buf, sizeof buf), 2);
    assert_memory_equal(buf, "v1", 2);
    /* With the fsync it stays gone. */
    assert_int_equal(fio_unlink(P("M")), OMEN_OK);
    assert_int_equal(fio_sync_dir(dir), OMEN_OK);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    assert_int_equal(fio_exists(P("M")), 0);

    /* Directory spelled differently still matches after normalisation. */
    assert_int_equal(fio_open(P("N"), FIO_WRITE | FIO_CREATE, &f), OMEN_OK);
    fio_close(f);
    char alt[1100];
    snprintf(alt, sizeof alt, "%s//./", dir);
    assert_int_equal(fio_sync_dir(alt), OMEN_OK);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    assert_int_equal(fio_exists(P("N")), 1);

    /* Create + rename + unlink chains unwind newest first. */
    write_new(P("c1"), "c", 1);
    assert_int_equal(fio_rename(P("c1"), P("c2")), OMEN_OK);
    assert_int_equal(fio_unlink(P("c2")), OMEN_OK);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    assert_int_equal(fio_exists(P("c1")), 0);
    assert_int_equal(fio_exists(P("c2")), 0);
    struct names c3 = {0};
    assert_int_equal(fio_list_dir(dir, name_cb, &c3), OMEN_OK);
    assert_int_equal(c3.n, 1); /* only N: no leftover undo links */

    /* rmdir of a directory whose only content is hidden undo links works. */
    assert_int_equal(fio_mkdir(P("sub")), OMEN_OK);
    write_new(P("sub/x"), "x", 1);
    assert_int_equal(fio_sync_dir(P("sub")), OMEN_OK);
    assert_int_equal(fio_unlink(P("sub/x")), OMEN_OK); /* keeps an undo link */
    assert_int_equal(fio_rmdir(P("sub")), OMEN_OK);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    assert_int_equal(fio_exists(P("sub")), 0);

    /* Removing the env commits pending operations and drops undo links. */
    write_new(P("k"), "k", 1);
    assert_int_equal(fio_unlink(P("N")), OMEN_OK);
    fio_fault_remove();
    struct names c4 = {0};
    assert_int_equal(fio_list_dir(dir, name_cb, &c4), OMEN_OK);
    assert_int_equal(c4.n, 1);
}

static void test_power_loss_tear_scramble(void **state)
{
    (void)state;
    enum { SYNCED = 1000, TOTAL = 5000 };
    static unsigned char data[TOTAL], buf[TOTAL + 1];
    for (int i = 0; i < TOTAL; i++) data[i] = (unsigned char)(i * 31 + 7);
    int saw_partial_tear = 0, saw_scrambled = 0;
    for (int mode = FIO_POWER_TEAR; mode <= FIO_POWER_SCRAMBLE; mode++) {
        for (uint64_t seed = 1; seed <= 20; seed++) {
            fio_fault_install();
            fio_fault_seed(seed);
            fio_file *f;
            assert_int_equal(fio_open(P("t"), FIO_WRITE | FIO_CREATE | FIO_TRUNC, &f), OMEN_OK);
            assert_int_equal(fio_append(f, data, SYNCED), OMEN_OK);
            assert_int_equal(fio_sync(f), OMEN_OK);
            assert_int_equal(fio_sync_dir(dir), OMEN_OK);
            assert_int_equal(fio_append(f, data + SYNCED, TOTAL - SYNCED), OMEN_OK);
            fio_close(f);
            assert_int_equal(fio_fault_power_loss(mode), OMEN_OK);
            size_t got = read_all(P("t"), buf, sizeof buf);
            assert_in_range(got, SYNCED, TOTAL);
            assert_memory_equal(buf, data, SYNCED); /* synced prefix intact */
            if (mode == FIO_POWER_TEAR) {
                assert_memory_equal(buf, data, got); /* a prefix, unchanged */
                if (got > SYNCED && got < TOTAL) saw_partial_tear = 1;
            } else if (memcmp(buf, data, got) != 0) {
                saw_scrambled = 1;
            }
        }
    }
    assert_true(saw_partial_tear);
    assert_true(saw_scrambled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_zeros, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appendv_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_and_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_file_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_nth_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_partial_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_other_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_loss_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_loss_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_loss_tear_scramble, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
