/*
 * test_conc_fio.c -- the fault env under concurrent I/O (also run under
 * ThreadSanitizer): writers appending and syncing their own files, a thread
 * fsyncing a file another thread appends to, a thread churning the
 * directory (atomic replaces, renames, unlinks, directory fsyncs), and
 * readers; then a power loss must keep at least every byte each writer
 * knew to be synced, and only bytes that were written.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/fio.h"
#include "support/fio_fault.h"
#include "storage/wal.h"
#include "util/err.h"

enum { WRITERS = 3, APPENDS = 400, CHUNK = 97 };

static char dir[512];

static unsigned char pat(int w, size_t off)
{
    return (unsigned char)(w * 41 + off * 13 + (off >> 8));
}

typedef struct {
    int id;
    char path[700];
    fio_file *f;
    uint64_t synced; /* bytes this writer's own fio_sync covered */
    atomic_int done;
    int read_failures;
} writer_t;

static writer_t writers[WRITERS];

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    unsigned char buf[CHUNK], rbuf[CHUNK];
    uint64_t off = 0;
    for (int i = 0; i < APPENDS; i++) {
        for (size_t k = 0; k < CHUNK; k++) buf[k] = pat(w->id, off + k);
        if (fio_append(w->f, buf, CHUNK) != OMEN_OK) abort();
        off += CHUNK;
        if (i % 10 == 9) {
            if (fio_sync(w->f) != OMEN_OK) abort();
            w->synced = off;
        }
        if (i % 7 == 0) {
            size_t got;
            int rc = fio_pread(w->f, rbuf, CHUNK, off - CHUNK, &got);
            if (rc == OMEN_IO) {
                w->read_failures++; /* the one injected read fault */
            } else if (rc != OMEN_OK || got != CHUNK || memcmp(rbuf, buf, CHUNK) != 0) {
                abort();
            }
        }
    }
    atomic_store(&w->done, 1);
    return NULL;
}

/* fsyncs writer 0's file while it appends: must never count bytes written
 * after the fdatasync started as durable. */
static void *syncer_main(void *arg)
{
    (void)arg;
    long polls = 0;
    while (!atomic_load(&writers[0].done)) {
        if (fio_sync(writers[0].f) != OMEN_OK) abort();
        if (fio_fault_synced_len(writers[0].path) < 0) abort();
        polls += fio_fault_ops() >= 0;
    }
    return (void *)(intptr_t)(polls >= 0);
}

static void *churn_main(void *arg)
{
    (void)arg;
    char a[700], b[700];
    for (int i = 0; i < 150; i++) {
        char name[32], val[32];
        snprintf(name, sizeof name, "M%d", i % 4);
        int n = snprintf(val, sizeof val, "value %d", i);
        if (fio_write_file_atomic(dir, name, val, (size_t)n) != OMEN_OK) abort();
        snprintf(a, sizeof a, "%s/%s", dir, name);
        snprintf(b, sizeof b, "%s/R%d", dir, i % 3);
        if (fio_rename(a, b) != OMEN_OK) abort();
        if (i % 5 == 0 && fio_unlink(b) != OMEN_OK) abort();
        if (i % 3 == 0 && fio_sync_dir(dir) != OMEN_OK) abort();
    }
    return NULL;
}

static int rm_cb(void *ctx, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", (const char *)ctx, name);
    unlink(p);
    return 0;
}

static void test_concurrent_fault_env(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cfio.XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
    fio_fault_install();
    for (int i = 0; i < WRITERS; i++) {
        writers[i].id = i;
        snprintf(writers[i].path, sizeof writers[i].path, "%s/w%d", dir, i);
        assert_int_equal(fio_open(writers[i].path, FIO_READ | FIO_WRITE | FIO_CREATE, &writers[i].f),
                         OMEN_OK);
    }
    assert_int_equal(fio_sync_dir(dir), OMEN_OK);
    /* Exactly one read somewhere fails. */
    fio_fault_fail_nth(FIO_FAULT_READ, 60, 0);

    pthread_t th[WRITERS + 2];
    for (int i = 0; i < WRITERS; i++) pthread_create(&th[i], NULL, writer_main, &writers[i]);
    pthread_create(&th[WRITERS], NULL, syncer_main, NULL);
    pthread_create(&th[WRITERS + 1], NULL, churn_main, NULL);
    for (int i = 0; i < WRITERS + 2; i++) pthread_join(th[i], NULL);

    int read_failures = 0;
    for (int i = 0; i < WRITERS; i++) read_failures += writers[i].read_failures;
    assert_int_equal(fio_fault_failures(), 1);
    assert_int_equal(read_failures, 1);
    assert_true(fio_fault_ops() > 60);
    for (int i = 0; i < WRITERS; i++) assert_int_equal(fio_close(writers[i].f), OMEN_OK);

    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    size_t cap = (size_t)APPENDS * CHUNK;
    unsigned char *buf = malloc(cap + 1);
    for (int i = 0; i < WRITERS; i++) {
        fio_file *f;
        size_t got;
        assert_int_equal(fio_open(writers[i].path, FIO_READ, &f), OMEN_OK);
        assert_int_equal(fio_pread(f, buf, cap + 1, 0, &got), OMEN_OK);
        fio_close(f);
        assert_true(got >= writers[i].synced);
        assert_true(got <= cap);
        for (size_t k = 0; k < got; k++) assert_int_equal(buf[k], pat(i, k));
    }
    free(buf);
    /* The churned names hold whole values of some iteration, or are gone. */
    for (int r = 0; r < 3; r++) {
        char p[700], v[64];
        snprintf(p, sizeof p, "%s/R%d", dir, r);
        fio_file *f;
        if (fio_open(p, FIO_READ, &f) != OMEN_OK) continue;
        size_t got;
        assert_int_equal(fio_pread(f, v, sizeof v - 1, 0, &got), OMEN_OK);
        fio_close(f);
        v[got] = 0;
        assert_true(got > 6 && !strncmp(v, "value ", 6));
    }
    fio_fault_remove();
    fio_list_dir(dir, rm_cb, dir);
    rmdir(dir);
}

/* Several WAL writers (one per thread, as the engine has one per log) under
 * the fault env with a sticky sync failure striking one of them. */
static void *wal_main(void *arg)
{
    const char *path = arg;
    wal_writer *w;
    if (wal_writer_open(path, &w) != OMEN_OK) {
        /* The header sync was the failing one: no log is left behind. */
        if (fio_exists(path)) abort();
        return (void *)(intptr_t)1;
    }
    int failed = 0;
    for (int i = 0; i < 200 && !failed; i++) {
        char rec[64];
        int n = snprintf(rec, sizeof rec, "record %d of %s", i, path);
        if (wal_append(w, rec, (size_t)n) != OMEN_OK) failed = 1;
        if (!failed && i % 20 == 19 && wal_sync(w) != OMEN_OK) failed = 1;
    }
    /* After a failure the writer stays failed. */
    if (failed && wal_append(w, "x", 1) == OMEN_OK) abort();
    wal_writer_close(w);
    return (void *)(intptr_t)failed;
}

static int count_cb(void *ctx, const void *rec, size_t len)
{
    (void)rec;
    (void)len;
    (*(int *)ctx)++;
    return 0;
}

static void test_concurrent_wal(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cwal.XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
    fio_fault_install();
    fio_fault_fail_nth(FIO_FAULT_SYNC, 25, FIO_FAULT_STICKY);
    enum { T = 4 };
    char paths[T][700];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%06d.wal", dir, i + 1);
        pthread_create(&th[i], NULL, wal_main, paths[i]);
    }
    int failed = 0;
    for (int i = 0; i < T; i++) {
        void *r;
        pthread_join(th[i], &r);
        failed += (int)(intptr_t)r;
    }
    /* 4 writers x (header sync + 10 syncs + 1 dir sync) > 25: someone hit
     * the failure. */
    assert_true(failed >= 1);
    assert_true(fio_fault_failures() >= 1);
    fio_fault_fail_nth(0, 0, 0);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    for (int i = 0; i < T; i++) {
        int n = 0, tail;
        int rc = wal_replay(paths[i], count_cb, &n, NULL, &tail);
        assert_true(rc == OMEN_OK || rc == OMEN_NOTFOUND);
        if (rc == OMEN_OK) {
            /* Clean (cut back at close) or the reserved zeros after a lost
             * unsynced tail. */
            assert_true(tail == WAL_TAIL_CLEAN || tail == WAL_TAIL_TORN);
            assert_int_equal(n % 20, 0); /* exactly some synced prefix */
        }
    }
    fio_fault_remove();
    fio_list_dir(dir, rm_cb, dir);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_fault_env),
        cmocka_unit_test(test_concurrent_wal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
