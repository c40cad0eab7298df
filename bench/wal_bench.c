/*
 * wal_bench.c -- speed of the storage floor: crc32c (hardware and table),
 * WAL appends without sync (the relaxed write path: one writev per record),
 * WAL appends with an fdatasync each (the full-sync path without group
 * commit), and replay throughput.
 *
 *   build/bench/wal_bench [DIR] [RECORDS]      (default DIR $TMPDIR or /tmp)
 *
 * Each figure is the median of 5 repetitions; the log is recreated for
 * each repetition so page-cache state is comparable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "storage/wal.h"
#include "util/crc32c.h"
#include "util/err.h"

#define REPS 5

static double now(void) /* seconds */
{
    return bench_now_ns() * 1e-9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s (%s)\n", what, omen_strerror(rc), omen_last_error());
    exit(1);
}

static int count_cb(void *ctx, const void *rec, size_t len)
{
    (void)rec;
    *(uint64_t *)ctx += len;
    return 0;
}

/* Seconds to append n records of len bytes, syncing every `sync_every`
 * records (0: never). */
static double run_appends(const char *path, size_t len, long n, long sync_every)
{
    static unsigned char rec[65536];
    memset(rec, 0x5a, sizeof rec);
    unlink(path);
    wal_writer *w;
    int rc = wal_writer_open(path, &w);
    if (rc) die("wal_writer_open", rc);
    double t = now();
    for (long i = 0; i < n; i++) {
        rc = wal_append(w, rec, len);
        if (rc) die("wal_append", rc);
        if (sync_every && (i + 1) % sync_every == 0 && (rc = wal_sync(w))) die("wal_sync", rc);
    }
    double el = now() - t;
    wal_writer_close(w);
    return el;
}

int main(int argc, char **argv)
{
    const char *t = getenv("TMPDIR");
    const char *dir = argc > 1 ? argv[1] : (t && *t ? t : "/tmp");
    long n = argc > 2 ? atol(argv[2]) : 100000;
    if (n <= 0) n = 100000;
    char path[4096];
    snprintf(path, sizeof path, "%s/wal_bench.%ld.wal", dir, (long)getpid());

    /* crc32c over a 4 MiB buffer. */
    size_t blen = 4u << 20;
    unsigned char *buf = malloc(blen);
    for (size_t i = 0; i < blen; i++) buf[i] = (unsigned char)(i * 131 + 7);
    double v[REPS];
    uint32_t sink = 0;
    for (int r = 0; r < REPS; r++) {
        double s = now();
        for (int k = 0; k < 16; k++) sink ^= crc32c(0, buf, blen);
        v[r] = 16.0 * (double)blen / (now() - s) / 1e9;
    }
    printf("crc32c (%s path)   %8.2f GB/s\n", crc32c_hw_available() ? "sse4.2" : "table", bench_median(v, REPS));
    for (int r = 0; r < REPS; r++) {
        double s = now();
        for (int k = 0; k < 4; k++) sink ^= crc32c_sw(0, buf, blen);
        v[r] = 4.0 * (double)blen / (now() - s) / 1e9;
    }
    printf("crc32c (table path)    %8.2f GB/s\n", bench_median(v, REPS));
    for (int r = 0; r < REPS; r++) {
        double s = now();
        for (size_t o = 0; o + 100 <= blen; o += 100) sink ^= crc32c(0, buf + o, 100);
        v[r] = (now() - s) / (double)(blen / 100) * 1e9;
    }
    printf("crc32c 100-byte input  %8.1f ns\n", bench_median(v, REPS));
    free(buf);

    static const size_t sizes[] = {100, 1024, 16384};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int r = 0; r < REPS; r++) v[r] = run_appends(path, sizes[s], n, 0);
        double el = bench_median(v, REPS);
        printf("append %6zu B, no sync %8.2f us/record %8.1f MB/s\n", sizes[s], el / (double)n * 1e6,
               (double)n * (double)sizes[s] / el / 1e6);
    }
    long ns = n / 100 > 0 ? n / 100 : 1;
    for (int r = 0; r < REPS; r++) v[r] = run_appends(path, 100, ns, 1);
    printf("append    100 B + fdatasync each %8.1f us/record\n", bench_median(v, REPS) / (double)ns * 1e6);

    /* Replay of a log of n 1 KiB records. */
    run_appends(path, 1024, n, 0);
    for (int r = 0; r < REPS; r++) {
        uint64_t bytes = 0, valid;
        int tail;
        double st = now();
        int rc = wal_replay(path, count_cb, &bytes, &valid, &tail);
        if (rc) die("wal_replay", rc);
        v[r] = (double)bytes / (now() - st) / 1e9;
        if (bytes != (uint64_t)n * 1024 || tail != WAL_TAIL_CLEAN) {
            fprintf(stderr, "replay returned %llu bytes, tail %d\n", (unsigned long long)bytes, tail);
            return 1;
        }
    }
    printf("replay 1 KiB records     %8.2f GB/s\n", bench_median(v, REPS));
    unlink(path);
    return (int)(sink & 0); /* keep the checksums alive */
}
