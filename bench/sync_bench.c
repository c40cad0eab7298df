/*
 * sync_bench.c -- cost of one durable (OMEN_SYNC_FULL) write, beside the
 * same bytes appended to a plain file with write(2) + fdatasync (what
 * Redis does with appendfsync always).
 *
 *   build/bench/sync_bench [DIR] [SYNCS]     (default DIR $TMPDIR or /tmp, SYNCS 2000)
 *
 * Rows (median of 5 repetitions, microseconds per sync):
 *   put        omen_put of one 100-byte value with OMEN_SYNC_FULL
 *   batch50    omen_write of 50 such puts with OMEN_SYNC_FULL (one server
 *              pass of 50 clients under --sync always)
 *   relaxed    batch50 with OMEN_SYNC_RELAXED: the part of it that is not the sync
 *   append     write(2) of the same record size to a growing file + fdatasync
 *   overwrite  the same, into a region already written and synced
 * and the ratios append/put and append/batch50 (> 1: OmenDB's sync is
 * cheaper than an appending log's).  The database is recreated for every
 * repetition; run under `flock /tmp/bench.lock`.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "omendb.h"

#define REPS 5

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s (%s)\n", what, omen_strerror(rc), omen_last_error());
    exit(1);
}

/* Microseconds per omen_write of `per` 100-byte puts with the given sync. */
static double run_db(const char *dir, long syncs, int per, int sync)
{
    omen_destroy(dir);
    omen_options o;
    omen_options_init(&o);
    omen_db *db;
    int rc = omen_open(dir, &o, &db);
    if (rc) die("omen_open", rc);
    omen_batch *b;
    if ((rc = omen_batch_create(&b))) die("omen_batch_create", rc);
    char key[32], val[100];
    memset(val, 'v', sizeof val);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < syncs; i++) {
        if (per == 1) {
            int kl = snprintf(key, sizeof key, "key:%012ld", i);
            rc = omen_put(db, key, (size_t)kl, val, sizeof val, sync);
            if (rc) die("omen_put", rc);
            continue;
        }
        omen_batch_clear(b);
        for (int j = 0; j < per; j++) {
            int kl = snprintf(key, sizeof key, "key:%012ld", i * per + j);
            if ((rc = omen_batch_put(b, key, (size_t)kl, val, sizeof val))) die("omen_batch_put", rc);
        }
        if ((rc = omen_write(db, b, sync))) die("omen_write", rc);
    }
    double us = (double)(bench_now_ns() - t0) / 1e3 / (double)syncs;
    omen_batch_destroy(b);
    if ((rc = omen_close(db))) die("omen_close", rc);
    omen_destroy(dir);
    return us;
}

/* Microseconds per write(2) of len bytes + fdatasync on a plain file:
 * appending (the file grows with every write) or overwriting a region
 * written and synced beforehand. */
static double run_file(const char *path, long syncs, size_t len, int overwrite)
{
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    char *buf = malloc(len);
    if (!buf) exit(1);
    memset(buf, 'r', len);
    if (overwrite) {
        char *z = calloc(1, 1 << 20);
        if (!z) exit(1);
        for (size_t done = 0; done < (size_t)syncs * len; done += 1 << 20)
            if (write(fd, z, 1 << 20) != 1 << 20) exit(1);
        if (fdatasync(fd)) exit(1);
        free(z);
        lseek(fd, 0, SEEK_SET);
    }
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < syncs; i++) {
        if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd)) {
            perror(path);
            exit(1);
        }
    }
    double us = (double)(bench_now_ns() - t0) / 1e3 / (double)syncs;
    close(fd);
    unlink(path);
    free(buf);
    return us;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    long syncs = argc > 2 ? atol(argv[2]) : 2000;
    if (syncs <= 0) syncs = 2000;
    char dir[4096], file[4200];
    snprintf(dir, sizeof dir, "%s/sync_bench.%d", base, (int)getpid());
    snprintf(file, sizeof file, "%s.aof", dir);
    /* One put's log record: batch header + op (key, value, varints) + record
     * header; within a few bytes, the same for the file rows. */
    const size_t rec1 = 9 + 12 + 1 + 1 + 16 + 1 + 100, rec50 = 9 + 12 + 50 * (1 + 1 + 16 + 1 + 100);
    double put[REPS], b50[REPS], rel50[REPS], app1[REPS], app50[REPS], ow50[REPS];
    for (int r = 0; r < REPS; r++) {
        put[r] = run_db(dir, syncs, 1, OMEN_SYNC_FULL);
        b50[r] = run_db(dir, syncs / 2, 50, OMEN_SYNC_FULL);
        rel50[r] = run_db(dir, syncs / 2, 50, OMEN_SYNC_RELAXED);
        app1[r] = run_file(file, syncs, rec1, 0);
        app50[r] = run_file(file, syncs / 2, rec50, 0);
        ow50[r] = run_file(file, syncs / 2, rec50, 1);
    }
    double p = bench_median(put, REPS), b = bench_median(b50, REPS);
    double a1 = bench_median(app1, REPS), a50 = bench_median(app50, REPS), o50 = bench_median(ow50, REPS);
    printf("put      1 x 100 B, OMEN_SYNC_FULL  %8.1f us/sync\n", p);
    printf("batch   50 x 100 B, OMEN_SYNC_FULL  %8.1f us/sync\n", b);
    printf("batch   50 x 100 B, relaxed (no sync) %6.1f us/write\n", bench_median(rel50, REPS));
    printf("append  %5zu B + fdatasync          %8.1f us/sync\n", rec1, a1);
    printf("append  %5zu B + fdatasync          %8.1f us/sync\n", rec50, a50);
    printf("overwrite %5zu B + fdatasync        %8.1f us/sync\n", rec50, o50);
    printf("ratio append/put     %.2fx\n", a1 / p);
    printf("ratio append/batch50 %.2fx\n", a50 / b);
    return 0;
}
