/*
 * test_wal.c -- write-ahead log: round trip, torn tails at every length, bit
 * flips at every bit, huge and bogus lengths, sticky failures under the
 * fault env, and power loss keeping exactly the synced prefix.
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
#include "storage/wal.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

#include "testutil.h"

static char dir[512], logpath[600];

static int setup(void **state)
{
    (void)state;
    if (tu_mkdtemp(dir, sizeof dir, "wal") != 0)
        return -1;
    snprintf(logpath, sizeof logpath, "%s/000001.wal", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fio_fault_remove();
    util_mem_fail_after(-1);
    tu_rmrf(dir);
    return 0;
}

/* ---- collecting replay results ---------------------------------------- */

typedef struct {
    int n;
    size_t len[64];
    unsigned char *rec[64];
    int fail_at; /* return 77 when the fail_at-th (1-based) record arrives */
} got_t;

static int collect(void *ctx, const void *rec, size_t len)
{
    got_t *g = ctx;
    if (g->fail_at && g->n + 1 == g->fail_at) return 77;
    assert_true(g->n < 64);
    g->len[g->n] = len;
    g->rec[g->n] = malloc(len ? len : 1);
    memcpy(g->rec[g->n], rec, len);
    g->n++;
    return 0;
}

static void got_free(got_t *g)
{
    for (int i = 0; i < g->n; i++) free(g->rec[i]);
    memset(g, 0, sizeof *g);
}

/* Deterministic record i: length and content depend on i. */
static size_t rec_len(int i)
{
    static const size_t lens[] = {0, 1, 7, 33, 100, 3, 250, 12};
    return lens[i % 8];
}

static void rec_fill(int i, unsigned char *buf)
{
    for (size_t k = 0; k < rec_len(i); k++) buf[k] = (unsigned char)(i * 17 + k * 3 + 1);
}

/* Check that g holds exactly records first..first+g->n-1 as generated. */
static void check_records(const got_t *g, int first)
{
    unsigned char buf[300];
    for (int i = 0; i < g->n; i++) {
        rec_fill(first + i, buf);
        assert_int_equal(g->len[i], rec_len(first + i));
        assert_memory_equal(g->rec[i], buf, g->len[i]);
    }
}

/* Write n generated records; ends[i] = offset after record i. */
static void write_log(const char *path, int n, uint64_t *ends)
{
    wal_writer *w;
    assert_int_equal(wal_writer_open(path, &w), OMEN_OK);
    assert_int_equal(wal_size(w), WAL_FILE_HEADER_SIZE);
    unsigned char buf[300];
    for (int i = 0; i < n; i++) {
        rec_fill(i, buf);
        assert_int_equal(wal_append(w, rec_len(i) ? buf : NULL, rec_len(i)), OMEN_OK);
        if (ends) ends[i] = wal_size(w);
    }
    assert_int_equal(wal_sync(w), OMEN_OK);
    assert_int_equal(wal_writer_close(w), OMEN_OK);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    uint64_t ends[16];
    write_log(logpath, 16, ends);
    got_t g = {0};
    uint64_t valid = 1;
    int tail = -1;
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_OK);
    assert_int_equal(g.n, 16);
    check_records(&g, 0);
    assert_int_equal(tail, WAL_TAIL_CLEAN);
    assert_int_equal(valid, ends[15]);
    struct stat st;
    assert_int_equal(stat(logpath, &st), 0);
    assert_int_equal((uint64_t)st.st_size, ends[15]);
    got_free(&g);
    /* NULL outputs are allowed. */
    assert_int_equal(wal_replay(logpath, collect, &g, NULL, NULL), OMEN_OK);
    assert_int_equal(g.n, 16);
    got_free(&g);
}

static int no_mmap(fio_file *f, uint64_t len, const void **addr)
{
    (void)f;
    (void)len;
    (void)addr;
    return util_seterr(OMEN_IO, "mmap not supported here");
}

/* Where mmap is unavailable, replay reads the file instead: same results. */
static void test_replay_without_mmap(void **state)
{
    (void)state;
    uint64_t ends[10];
    write_log(logpath, 10, ends);
    fio_env e = *fio_posix_env();
    e.mmap = no_mmap;
    fio_set_env(&e);
    got_t g = {0};
    uint64_t valid;
    int tail;
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_OK);
    assert_int_equal(g.n, 10);
    check_records(&g, 0);
    assert_int_equal(valid, ends[9]);
    assert_int_equal(tail, WAL_TAIL_CLEAN);
    got_free(&g);
    assert_int_equal(truncate(logpath, (off_t)ends[6] + 3), 0);
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_OK);
    assert_int_equal(g.n, 7);
    assert_int_equal(tail, WAL_TAIL_TORN);
    got_free(&g);
    util_mem_fail_after(2); /* the file handle (2 allocations) succeeds, the buffer fails */
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_NOMEM);
    util_mem_fail_after(-1);
    assert_non_null(strstr(omen_last_error(), "reading"));
    fio_set_env(NULL);
}

static void test_append_v(void **state)
{
    (void)state;
    wal_writer *w;
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
    /* 40 pieces (more than the writer's on-stack iovec array). */
    struct iovec v[40];
    char pieces[40][4];
    for (int i = 0; i < 40; i++) {
        pieces[i][0] = (char)('0' + i / 100);
        pieces[i][1] = (char)('0' + i / 10 % 10);
        pieces[i][2] = (char)('0' + i % 10);
        pieces[i][3] = 0;
        v[i].iov_base = pieces[i];
        v[i].iov_len = (size_t)(i % 3);
    }
    assert_int_equal(wal_append_v(w, v, 40), OMEN_OK);
    assert_int_equal(wal_append_v(w, v, 2), OMEN_OK);
    assert_int_equal(wal_append_v(w, NULL, 0), OMEN_OK); /* empty record */
    assert_int_equal(wal_append_v(w, NULL, 1), OMEN_INVALID);
    assert_int_equal(wal_append(w, NULL, 3), OMEN_INVALID);
    assert_int_equal(wal_append(NULL, "x", 1), OMEN_INVALID);
    assert_int_equal(wal_writer_close(w), OMEN_OK);
    got_t g = {0};
    int tail;
    assert_int_equal(wal_replay(logpath, collect, &g, NULL, &tail), OMEN_OK);
    assert_int_equal(g.n, 3);
    assert_int_equal(tail, WAL_TAIL_CLEAN);
    char expect[200];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        memcpy(expect + n, pieces[i], v[i].iov_len);
        n += v[i].iov_len;
    }
    assert_int_equal(g.len[0], n);
    assert_memory_equal(g.rec[0], expect, n);
    assert_int_equal(g.len[1], 1); /* "000"[0..0) + "001"[0..1) */
    assert_memory_equal(g.rec[1], "0", 1);
    assert_int_equal(g.len[2], 0);
    got_free(&g);
}

static void test_open_errors(void **state)
{
    (void)state;
    wal_writer *w;
    write_log(logpath, 2, NULL);
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_EXISTS); /* never overwrites */
    assert_null(w);
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir.wal", dir);
    assert_int_equal(wal_writer_open(bad, &w), OMEN_NOTFOUND);
    assert_int_equal(wal_writer_open(NULL, &w), OMEN_INVALID);
    assert_int_equal(wal_writer_close(NULL), OMEN_OK);
    assert_int_equal(wal_sync(NULL), OMEN_INVALID);
    assert_int_equal(wal_size(NULL), 0);
    got_t g = {0};
    assert_int_equal(wal_replay(bad, collect, &g, NULL, NULL), OMEN_NOTFOUND);
    assert_int_equal(wal_replay(logpath, NULL, &g, NULL, NULL), OMEN_INVALID);
    assert_int_equal(wal_replay_buf(NULL, 5, collect, &g, NULL, NULL), OMEN_INVALID);
    /* Allocation failure while opening. */
    char p2[700];
    snprintf(p2, sizeof p2, "%s/000002.wal", dir);
    int opened = 0;
    for (long n = 0; n < 10 && !opened; n++) {
        util_mem_fail_after(n);
        int rc = wal_writer_open(p2, &w);
        util_mem_fail_after(-1);
        if (rc == OMEN_OK) {
            wal_writer_close(w);
            opened = 1;
            continue;
        }
        assert_int_equal(rc, OMEN_NOMEM);
        assert_int_equal(fio_exists(p2), 0);
    }
    assert_true(opened);
}

static void test_torn_tail_every_length(void **state)
{
    (void)state;
    enum { N = 8 };
    uint64_t ends[N];
    write_log(logpath, N, ends);
    size_t len;
    unsigned char *img = slurp(logpath, &len);
    assert_int_equal(len, ends[N - 1]);
    for (size_t cut = 0; cut <= len; cut++) {
        /* In memory and through a truncated file: same answers. */
        for (int via_file = 0; via_file < 2; via_file++) {
            got_t g = {0};
            uint64_t valid = 99;
            int tail = -1, rc;
            if (via_file) {
                spit(logpath, img, cut);
                rc = wal_replay(logpath, collect, &g, &valid, &tail);
            } else {
                unsigned char *copy = malloc(cut + 1); /* exact-size: ASan catches overreads */
                memcpy(copy, img, cut);
                rc = wal_replay_buf(copy, cut, collect, &g, &valid, &tail);
                free(copy);
            }
            assert_int_equal(rc, OMEN_OK);
            int expect_n = 0;
            while (expect_n < N && ends[expect_n] <= cut) expect_n++;
            assert_int_equal(g.n, expect_n);
            check_records(&g, 0);
            if (cut < WAL_FILE_HEADER_SIZE) {
                assert_int_equal(valid, 0);
                assert_int_equal(tail, WAL_TAIL_TORN);
            } else {
                uint64_t expect_valid = expect_n ? ends[expect_n - 1] : WAL_FILE_HEADER_SIZE;
                assert_int_equal(valid, expect_valid);
                assert_int_equal(tail, valid == cut ? WAL_TAIL_CLEAN : WAL_TAIL_TORN);
            }
            got_free(&g);
        }
    }
    free(img);
}

static void test_bit_flips(void **state)
{
    (void)state;
    enum { N = 6 };
    uint64_t ends[N];
    write_log(logpath, N, ends);
    size_t len;
    unsigned char *img = slurp(logpath, &len);
    unsigned char *copy = malloc(len);
    for (size_t byte = 0; byte < len; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, img, len);
            copy[byte] ^= (unsigned char)(1u << bit);
            got_t g = {0};
            uint64_t valid;
            int tail;
            int rc = wal_replay_buf(copy, len, collect, &g, &valid, &tail);
            if (byte < WAL_FILE_HEADER_SIZE) {
                assert_int_equal(rc, OMEN_CORRUPT);
                assert_int_equal(g.n, 0);
                continue;
            }
            assert_int_equal(rc, OMEN_OK);
            /* The damaged record and everything after it are withheld. */
            int damaged = 0;
            while (ends[damaged] <= byte) damaged++;
            assert_int_equal(g.n, damaged);
            check_records(&g, 0);
            assert_int_equal(valid, damaged ? ends[damaged - 1] : WAL_FILE_HEADER_SIZE);
            assert_int_not_equal(tail, WAL_TAIL_CLEAN);
            got_free(&g);
        }
    }
    free(copy);
    free(img);
}

static void test_header_cases(void **state)
{
    (void)state;
    write_log(logpath, 1, NULL);
    size_t len;
    unsigned char *img = slurp(logpath, &len);
    got_t g = {0};
    uint64_t valid;
    int tail;
    /* Empty file: a crash right after creation. */
    spit(logpath, img, 0);
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_OK);
    assert_int_equal(valid, 0);
    assert_int_equal(tail, WAL_TAIL_TORN);
    /* Short foreign file. */
    spit(logpath, "hello", 5);
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_CORRUPT);
    assert_non_null(strstr(omen_last_error(), logpath));
    /* Long foreign file. */
    spit(logpath, "this is not a write-ahead log at all", 36);
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_CORRUPT);
    /* A future version with a valid header checksum. */
    put_fixed32(img + 8, 3);
    put_fixed32(img + 12, crc32c_mask(crc32c(0, img, 12)));
    spit(logpath, img, len);
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_VERSION);
    assert_int_equal(g.n, 0);
    free(img);
}

/* Records appended after wal_mark_earlier_durable carry their own type and
 * are counted as such; a version 1 log (type 1 records only) still replays. */
static int count_cb(void *ctx, const void *rec, size_t len, uint64_t off)
{
    (void)rec, (void)len, (void)off;
    (*(int *)ctx)++;
    return 0;
}

static void test_earlier_durable_mark(void **state)
{
    (void)state;
    wal_writer *w;
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
    assert_int_equal(wal_append(w, "before", 6), OMEN_OK);
    wal_mark_earlier_durable(w);
    assert_int_equal(wal_append(w, "after1", 6), OMEN_OK);
    assert_int_equal(wal_append(w, "after2", 6), OMEN_OK);
    assert_int_equal(wal_writer_close(w), OMEN_OK);
    size_t len;
    unsigned char *img = slurp(logpath, &len);
    assert_int_equal(get_fixed32(img + 8), 2); /* version */
    assert_int_equal(img[16 + 8], 1);          /* record types */
    assert_int_equal(img[16 + 15 + 8], 2);
    assert_int_equal(img[16 + 30 + 8], 2);
    wal_replay_info info;
    int n = 0;
    assert_int_equal(wal_replay_buf_ex(img, len, 0, count_cb, &n, &info), OMEN_OK);
    assert_int_equal(n, 3);
    assert_int_equal(info.after_durable, 2);
    assert_int_equal(info.tail_state, WAL_TAIL_CLEAN);

    /* Version 1: the header says so and every record is type 1. */
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_EXISTS);
    unlink(logpath);
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
    assert_int_equal(wal_append(w, "old1", 4), OMEN_OK);
    assert_int_equal(wal_append(w, "old2", 4), OMEN_OK);
    assert_int_equal(wal_writer_close(w), OMEN_OK);
    free(img);
    img = slurp(logpath, &len);
    put_fixed32(img + 8, 1);
    put_fixed32(img + 12, crc32c_mask(crc32c(0, img, 12)));
    n = 0;
    assert_int_equal(wal_replay_buf_ex(img, len, 0, count_cb, &n, &info), OMEN_OK);
    assert_int_equal(n, 2);
    assert_int_equal(info.after_durable, 0);
    assert_int_equal(info.tail_state, WAL_TAIL_CLEAN);
    /* A record type this build does not know is damage. */
    img[16 + 8] = 3;
    put_fixed32(img + 16, crc32c_mask(crc32c(0, img + 16 + 4, 5 + 4)));
    n = 0;
    assert_int_equal(wal_replay_buf_ex(img, len, 0, count_cb, &n, &info), OMEN_OK);
    assert_int_equal(n, 0);
    assert_int_equal(info.corrupt, 1);
    free(img);
}

static void test_bogus_lengths(void **state)
{
    (void)state;
    write_log(logpath, 1, NULL); /* record 0 is empty */
    size_t len;
    unsigned char *img = slurp(logpath, &len);
    unsigned char buf[WAL_FILE_HEADER_SIZE + 64];
    memcpy(buf, img, WAL_FILE_HEADER_SIZE);
    unsigned char *r = buf + WAL_FILE_HEADER_SIZE;
    got_t g = {0};
    uint64_t valid;
    int tail;
    /* Length beyond the file but within the record limit: torn. */
    put_fixed32(r, 0x12345678);
    put_fixed32(r + 4, 400u * 1024 * 1024);
    r[8] = 1;
    memset(r + 9, 0xab, 20);
    assert_int_equal(wal_replay_buf(buf, WAL_FILE_HEADER_SIZE + 29, collect, &g, &valid, &tail),
                     OMEN_OK);
    assert_int_equal(g.n, 0);
    assert_int_equal(tail, WAL_TAIL_TORN);
    assert_int_equal(valid, WAL_FILE_HEADER_SIZE);
    /* Beyond the record limit / unknown type: corrupt. */
    put_fixed32(r + 4, 0xffffffffu);
    assert_int_equal(wal_replay_buf(buf, WAL_FILE_HEADER_SIZE + 29, collect, &g, &valid, &tail),
                     OMEN_OK);
    assert_int_equal(tail, WAL_TAIL_CORRUPT);
    put_fixed32(r + 4, 4);
    r[8] = 9;
    assert_int_equal(wal_replay_buf(buf, WAL_FILE_HEADER_SIZE + 29, collect, &g, &valid, &tail),
                     OMEN_OK);
    assert_int_equal(tail, WAL_TAIL_CORRUPT);
    /* A zero-filled tail (reserved space, or a size extended before the
     * data landed): the log's end, not damage. */
    memcpy(buf, img, len);
    memset(buf + len, 0, 40);
    assert_int_equal(wal_replay_buf(buf, len + 40, collect, &g, &valid, &tail), OMEN_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(valid, len);
    assert_int_equal(tail, WAL_TAIL_CLEAN);
    got_free(&g);
    free(img);
}

static void test_callback_error(void **state)
{
    (void)state;
    uint64_t ends[5];
    write_log(logpath, 5, ends);
    got_t g = {.fail_at = 3};
    uint64_t valid;
    int tail;
    assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), 77);
    assert_int_equal(g.n, 2);
    assert_int_equal(valid, ends[1]);
    got_free(&g);
}

#define PIECE (16u * 1024 * 1024)

static unsigned char gen(size_t i)
{
    return (unsigned char)((i * 2654435761u) >> 24);
}

struct big {
    int n;
    size_t len[3];
};

/* Records longer than 1 byte must be repeated PIECEs of gen(). */
static int check_big(void *ctx, const void *rec, size_t len)
{
    struct big *b = ctx;
    if (b->n < 3) b->len[b->n] = len;
    const unsigned char *p = rec;
    if (len > 1)
        for (size_t off = 0; off < len; off += PIECE - 4093)
            if (p[off] != gen(off % PIECE)) return 99;
    b->n++;
    return 0;
}

static void test_huge_records(void **state)
{
    (void)state;
    /* One record just over the value limit, built from repeated pieces. */
    enum { NP = 17 }; /* 272 MiB */
    unsigned char *piece = malloc(PIECE);
    for (size_t i = 0; i < PIECE; i++) piece[i] = gen(i);
    struct iovec v[40];
    for (int i = 0; i < 40; i++) {
        v[i].iov_base = piece;
        v[i].iov_len = PIECE;
    }
    wal_writer *w;
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
    assert_int_equal(wal_append(w, "a", 1), OMEN_OK);
    /* Over the limit: refused, nothing written, writer still usable. */
    assert_int_equal(wal_append_v(w, v, 33), OMEN_TOOBIG); /* 528 MiB */
    uint64_t before = wal_size(w);
    assert_int_equal(wal_append_v(w, v, NP), OMEN_OK);
    assert_int_equal(wal_size(w), before + WAL_RECORD_HEADER_SIZE + (uint64_t)PIECE * NP);
    assert_int_equal(wal_append(w, "z", 1), OMEN_OK);
    assert_int_equal(wal_sync(w), OMEN_OK);
    assert_int_equal(wal_writer_close(w), OMEN_OK);

    struct big b = {0};
    int tail;
    assert_int_equal(wal_replay(logpath, check_big, &b, NULL, &tail), OMEN_OK);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.len[0], 1);
    assert_int_equal(b.len[1], (size_t)PIECE * NP);
    assert_int_equal(b.len[2], 1);
    assert_int_equal(tail, WAL_TAIL_CLEAN);
    free(piece);
    unlink(logpath);
}

/* ---- fault env ----------------------------------------------------------- */

static void test_write_failure_sticky(void **state)
{
    (void)state;
    for (int partial = 0; partial < 2; partial++) {
        fio_fault_install();
        unlink(logpath);
        wal_writer *w;
        assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
        unsigned char buf[300];
        for (int i = 0; i < 3; i++) {
            rec_fill(i, buf);
            assert_int_equal(wal_append(w, buf, rec_len(i)), OMEN_OK);
        }
        fio_fault_fail_nth(FIO_FAULT_WRITE, 1, partial ? FIO_FAULT_PARTIAL : 0);
        rec_fill(3, buf);
        assert_int_equal(wal_append(w, buf, rec_len(3)), OMEN_IO);
        fio_fault_fail_nth(0, 0, 0);
        /* Sticky: nothing more is written, and the first cause is named. */
        rec_fill(4, buf);
        assert_int_equal(wal_append(w, buf, rec_len(4)), OMEN_IO);
        assert_non_null(strstr(omen_last_error(), "injected"));
        assert_int_equal(wal_sync(w), OMEN_IO);
        assert_int_equal(wal_writer_close(w), OMEN_OK);
        got_t g = {0};
        int tail;
        assert_int_equal(wal_replay(logpath, collect, &g, NULL, &tail), OMEN_OK);
        assert_int_equal(g.n, 3);
        check_records(&g, 0);
        /* A failed writer leaves its reserved space as it is (it touches
         * nothing after a failure): the zeros after the last record read as
         * the log's end, a half-written record before them as a torn tail. */
        assert_int_equal(tail, partial ? WAL_TAIL_TORN : WAL_TAIL_CLEAN);
        got_free(&g);
    }
}

static void test_sync_failure_sticky(void **state)
{
    (void)state;
    fio_fault_install();
    wal_writer *w;
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
    assert_int_equal(wal_append(w, "abc", 3), OMEN_OK);
    fio_fault_fail_nth(FIO_FAULT_SYNC, 1, 0);
    assert_int_equal(wal_sync(w), OMEN_IO);
    assert_int_equal(fio_fault_failures(), 1);
    /* The next sync would succeed at the OS level; the writer must not
     * pretend the lost data is durable. */
    assert_int_equal(wal_sync(w), OMEN_IO);
    assert_int_equal(wal_append(w, "d", 1), OMEN_IO);
    assert_int_equal(fio_fault_failures(), 1); /* the writer did not even try */
    wal_writer_close(w);

    /* The directory fsync of the first wal_sync counts too. */
    char p2[700];
    snprintf(p2, sizeof p2, "%s/000002.wal", dir);
    assert_int_equal(wal_writer_open(p2, &w), OMEN_OK);
    fio_fault_fail_nth(FIO_FAULT_SYNC, 2, 0);
    assert_int_equal(wal_sync(w), OMEN_IO);
    assert_non_null(strstr(omen_last_error(), "directory"));
    assert_int_equal(wal_sync(w), OMEN_IO);
    wal_writer_close(w);
}

static void test_power_loss(void **state)
{
    (void)state;
    enum { N = 8, SYNCED = 4 };
    /* as_synced: the records before the sync go through
     * wal_append_synced_v (write(2) and zeros ahead), the rest through the
     * mapped window. */
    for (int as_synced = 0; as_synced <= 1; as_synced++)
    for (int mode = FIO_POWER_DROP; mode <= FIO_POWER_SCRAMBLE; mode++) {
        for (uint64_t seed = 1; seed <= (mode == FIO_POWER_DROP ? 1 : 25); seed++) {
            fio_fault_install();
            fio_fault_seed(seed);
            unlink(logpath);
            wal_writer *w;
            assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
            unsigned char buf[300];
            uint64_t synced_end = 0;
            for (int i = 0; i < N; i++) {
                rec_fill(i, buf);
                struct iovec v = {.iov_base = buf, .iov_len = rec_len(i)};
                if (as_synced && i < SYNCED)
                    assert_int_equal(wal_append_synced_v(w, &v, 1), OMEN_OK);
                else
                    assert_int_equal(wal_append_v(w, &v, 1), OMEN_OK);
                if (i == SYNCED - 1) {
                    assert_int_equal(wal_sync(w), OMEN_OK);
                    synced_end = wal_size(w);
                }
            }
            /* The reserved space was synced along with the records. */
            assert_true(fio_fault_synced_len(logpath) >= (int64_t)synced_end);
            wal_writer_close(w);
            assert_int_equal(fio_fault_power_loss(mode), OMEN_OK);
            got_t g = {0};
            uint64_t valid;
            int tail;
            assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_OK);
            check_records(&g, 0); /* never a damaged record */
            if (mode == FIO_POWER_DROP) {
                assert_int_equal(g.n, SYNCED); /* exactly the synced prefix */
                assert_int_equal(valid, synced_end);
                /* The lost appends read as the reserved zeros again: the
                 * log's end. */
                assert_int_equal(tail, WAL_TAIL_CLEAN);
            } else {
                assert_in_range(g.n, SYNCED, N);
                assert_true(valid >= synced_end);
            }
            got_free(&g);
        }
    }
    /* A log whose directory entry is durable but whose records are not:
     * the header survives whatever happens to the tail. */
    for (int mode = FIO_POWER_DROP; mode <= FIO_POWER_SCRAMBLE; mode++) {
        fio_fault_install();
        fio_fault_seed(7);
        unlink(logpath);
        wal_writer *w;
        assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
        assert_int_equal(fio_sync_dir(dir), OMEN_OK);
        static unsigned char big[20000];
        assert_int_equal(wal_append(w, big, sizeof big), OMEN_OK);
        wal_writer_close(w);
        assert_int_equal(fio_fault_power_loss(mode), OMEN_OK);
        got_t g = {0};
        uint64_t valid;
        int tail;
        assert_int_equal(wal_replay(logpath, collect, &g, &valid, &tail), OMEN_OK);
        assert_true(g.n == 0 || (mode != FIO_POWER_DROP && g.n == 1 && g.len[0] == sizeof big));
        assert_int_equal(valid, WAL_FILE_HEADER_SIZE + (g.n ? WAL_RECORD_HEADER_SIZE + sizeof big : 0));
        got_free(&g);
    }

    /* A log never synced disappears with its directory entry. */
    fio_fault_install();
    unlink(logpath);
    wal_writer *w;
    assert_int_equal(wal_writer_open(logpath, &w), OMEN_OK);
    assert_int_equal(wal_append(w, "x", 1), OMEN_OK);
    wal_writer_close(w);
    assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
    got_t g = {0};
    assert_int_equal(wal_replay(logpath, collect, &g, NULL, NULL), OMEN_NOTFOUND);
}

/* Every failure point of a small workload: the log holds a prefix of the
 * records, contains every record whose sync succeeded, and never a
 * damaged one. */
static void test_fail_every_op(void **state)
{
    (void)state;
    enum { N = 6 };
    fio_fault_install();
    for (long n = 1;; n++) {
        unlink(logpath);
        fio_fault_install();
        fio_fault_fail_nth(FIO_FAULT_ALL, n, FIO_FAULT_STICKY);
        wal_writer *w = NULL;
        int acked = 0, durable = 0, rc = wal_writer_open(logpath, &w);
        unsigned char buf[300];
        for (int i = 0; !rc && i < N; i++) {
            rec_fill(i, buf);
            rc = wal_append(w, buf, rec_len(i));
            if (!rc) acked = i + 1;
            if (!rc && i % 2 == 1) {
                rc = wal_sync(w);
                if (!rc) durable = acked;
            }
        }
        long failures = fio_fault_failures();
        wal_writer_close(w);
        fio_fault_fail_nth(0, 0, 0);
        assert_int_equal(fio_fault_power_loss(FIO_POWER_DROP), OMEN_OK);
        if (failures == 0) {
            assert_int_equal(rc, OMEN_OK);
            assert_true(n > 2 * N);
            break;
        }
        assert_int_not_equal(rc, OMEN_OK);
        got_t g = {0};
        rc = wal_replay(logpath, collect, &g, NULL, NULL);
        if (durable == 0) {
            assert_true(rc == OMEN_OK || rc == OMEN_NOTFOUND);
        } else {
            assert_int_equal(rc, OMEN_OK);
        }
        assert_true(g.n >= durable && g.n <= acked);
        check_records(&g, 0);
        got_free(&g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_without_mmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_v, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bit_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_earlier_durable_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bogus_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_failure_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_every_op, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
