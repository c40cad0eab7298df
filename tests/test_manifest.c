/*
 * test_manifest.c -- MANIFEST encode/decode round trip, every truncation and
 * every bit flip giving a clean error, version/magic handling, allocation
 * failures, atomic replacement across simulated power loss.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/fio.h"
#include "support/fio_fault.h"
#include "storage/manifest.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

#include "testutil.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(dir, sizeof dir, "man");
}

static int teardown(void **state)
{
    (void)state;
    fio_fault_remove();
    util_mem_fail_after(-1);
    tu_rmrf(dir);
    return 0;
}

/* A manifest with `n` runs and varied field sizes (1- to 10-byte varints,
 * empty and long keys).  Keys point into static storage. */
static manifest_run runs[8];
static char keybuf[8][2][300];

static manifest sample(size_t n, uint64_t salt)
{
    manifest m = {.next_file_number = 1000 + salt,
                  .log_number = 998 + salt,
                  .last_sequence = UINT64_MAX - salt,
                  .nruns = n,
                  .runs = n ? runs : NULL};
    for (size_t i = 0; i < n; i++) {
        manifest_run *r = &runs[i];
        r->level = (uint32_t)i;
        r->file_number = 5 + i + salt;
        r->file_size = (uint64_t)1 << (i * 8);
        r->entries = i * 1000003;
        r->min_seq = i;
        r->max_seq = UINT64_MAX >> i;
        size_t sl = i == 0 ? 0 : 8 + i * 37, ll = 10 + i * 30;
        for (size_t k = 0; k < sl; k++) keybuf[i][0][k] = (char)(i + k);
        for (size_t k = 0; k < ll; k++) keybuf[i][1][k] = (char)(i * 3 + k + 1);
        r->smallest = sl ? keybuf[i][0] : NULL;
        r->smallest_len = sl;
        r->largest = keybuf[i][1];
        r->largest_len = ll;
    }
    return m;
}

static void assert_same(const manifest *a, const manifest *b)
{
    assert_int_equal(a->next_file_number, b->next_file_number);
    assert_int_equal(a->log_number, b->log_number);
    assert_int_equal(a->last_sequence, b->last_sequence);
    assert_int_equal(a->nruns, b->nruns);
    for (size_t i = 0; i < a->nruns; i++) {
        const manifest_run *x = &a->runs[i], *y = &b->runs[i];
        assert_int_equal(x->level, y->level);
        assert_int_equal(x->file_number, y->file_number);
        assert_int_equal(x->file_size, y->file_size);
        assert_int_equal(x->entries, y->entries);
        assert_int_equal(x->min_seq, y->min_seq);
        assert_int_equal(x->max_seq, y->max_seq);
        assert_int_equal(x->smallest_len, y->smallest_len);
        assert_int_equal(x->largest_len, y->largest_len);
        if (x->smallest_len) assert_memory_equal(x->smallest, y->smallest, x->smallest_len);
        if (x->largest_len) assert_memory_equal(x->largest, y->largest, x->largest_len);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 8; n++) {
        manifest m = sample(n, n), d;
        void *buf;
        size_t len;
        assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_OK);
        assert_int_equal(manifest_decode(buf, len, &d), OMEN_OK);
        assert_same(&m, &d);
        /* Decoded keys are owned copies. */
        if (n) assert_ptr_not_equal(d.runs[n - 1].largest, runs[n - 1].largest);
        manifest_clear(&d);
        assert_int_equal(d.nruns, 0);
        assert_null(d.runs);
        omen_free(buf);
    }
    manifest_clear(NULL);
}

static void test_bad_args(void **state)
{
    (void)state;
    manifest m = sample(2, 0), d;
    void *buf;
    size_t len;
    assert_int_equal(manifest_encode(NULL, &buf, &len), OMEN_INVALID);
    assert_int_equal(manifest_encode(&m, NULL, &len), OMEN_INVALID);
    runs[1].largest = NULL; /* non-zero length */
    assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_INVALID);
    assert_null(buf);
    m.runs = NULL;
    assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_INVALID);
    assert_int_equal(manifest_decode(NULL, 3, &d), OMEN_INVALID);
    assert_int_equal(manifest_decode("x", 1, NULL), OMEN_INVALID);
    assert_int_equal(manifest_write(NULL, &m), OMEN_INVALID);
    assert_int_equal(manifest_read(NULL, &d), OMEN_INVALID);
    assert_int_equal(manifest_read(dir, NULL), OMEN_INVALID);
}

static void test_every_truncation(void **state)
{
    (void)state;
    manifest m = sample(5, 3), d;
    void *buf;
    size_t len;
    assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_OK);
    for (size_t cut = 0; cut < len; cut++) {
        void *copy = malloc(cut + 1);
        memcpy(copy, buf, cut);
        d.nruns = 77;
        int rc = manifest_decode(copy, cut, &d);
        assert_int_equal(rc, OMEN_CORRUPT); /* the magic prefix matches: truncated */
        assert_int_equal(d.nruns, 0);
        assert_null(d.runs);
        free(copy);
    }
    omen_free(buf);
}

static void test_every_bit_flip(void **state)
{
    (void)state;
    manifest m = sample(4, 9), d;
    void *buf;
    size_t len;
    assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_OK);
    unsigned char *copy = malloc(len);
    for (size_t byte = 0; byte < len; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, buf, len);
            copy[byte] ^= (unsigned char)(1u << bit);
            int rc = manifest_decode(copy, len, &d);
            /* Magic damage: not ours; anything else: corrupt (a flipped
             * version bit is caught by the header checksum). */
            assert_int_equal(rc, byte < 8 ? OMEN_NOTDB : OMEN_CORRUPT);
            assert_int_equal(d.nruns, 0);
        }
    }
    free(copy);
    omen_free(buf);
}

static void test_magic_version(void **state)
{
    (void)state;
    manifest m = sample(1, 0), d;
    void *buf;
    size_t len;
    assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_OK);
    unsigned char *b = buf;
    assert_int_equal(manifest_decode("SQLite format 3", 15, &d), OMEN_NOTDB);
    assert_int_equal(manifest_decode("", 0, &d), OMEN_CORRUPT);
    /* A future version, header checksum valid: OMEN_VERSION even though the
     * rest would not parse as version 1. */
    put_fixed32(b + 8, 7);
    put_fixed32(b + 12, crc32c_mask(crc32c(0, b, 12)));
    assert_int_equal(manifest_decode(b, len, &d), OMEN_VERSION);
    assert_non_null(strstr(omen_last_error(), "7"));
    omen_free(buf);
}

/* Structurally bad bodies with valid checksums: reseal after editing. */
static void reseal(unsigned char *b, size_t len)
{
    put_fixed32(b + len - 4, crc32c_mask(crc32c(0, b, len - 4)));
}

static void test_structure(void **state)
{
    (void)state;
    manifest m = sample(0, 0), d;
    void *buf;
    size_t len;
    assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_OK);
    unsigned char img[256];
    memcpy(img, buf, len);
    omen_free(buf);
    /* Counters: 3 two-byte varints + nruns=0 then trailer.  Claim a huge
     * run count: rejected before any allocation. */
    size_t body = 16;
    uint8_t *p = img + body;
    p = put_varint64(p, 1);
    p = put_varint64(p, 2);
    p = put_varint64(p, 3);
    p = put_varint64(p, UINT64_MAX);
    size_t n = (size_t)(p - img) + 4;
    reseal(img, n);
    assert_int_equal(manifest_decode(img, n, &d), OMEN_CORRUPT);
    assert_non_null(strstr(omen_last_error(), "run count"));
    /* Trailing bytes after a valid run list. */
    p = img + body;
    p = put_varint64(p, 1);
    p = put_varint64(p, 2);
    p = put_varint64(p, 3);
    p = put_varint64(p, 0);
    *p++ = 0x55;
    n = (size_t)(p - img) + 4;
    reseal(img, n);
    assert_int_equal(manifest_decode(img, n, &d), OMEN_CORRUPT);
    /* A key length pointing past the end. */
    p = img + body;
    p = put_varint64(p, 1);
    p = put_varint64(p, 2);
    p = put_varint64(p, 3);
    p = put_varint64(p, 1);
    for (int i = 0; i < 6; i++) p = put_varint64(p, 1);
    p = put_varint32(p, 1000);
    *p++ = 'k';
    n = (size_t)(p - img) + 4;
    reseal(img, n);
    assert_int_equal(manifest_decode(img, n, &d), OMEN_CORRUPT);
    /* An overlong varint. */
    p = img + body;
    for (int i = 0; i < 11; i++) *p++ = 0xff;
    *p++ = 0;
    n = (size_t)(p - img) + 4;
    reseal(img, n);
    assert_int_equal(manifest_decode(img, n, &d), OMEN_CORRUPT);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    manifest m = sample(6, 1), d;
    void *buf;
    size_t len;
    assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_OK);
    int done = 0;
    for (long n = 0; n < 100 && !done; n++) {
        util_mem_fail_after(n);
        int rc = manifest_decode(buf, len, &d);
        util_mem_fail_after(-1);
        if (rc == OMEN_OK) {
            assert_same(&m, &d);
            manifest_clear(&d);
            done = 1;
        } else {
            assert_int_equal(rc, OMEN_NOMEM);
            assert_int_equal(d.nruns, 0); /* nothing leaked to the caller (ASan checks leaks) */
        }
    }
    assert_true(done);
    omen_free(buf);
    util_mem_fail_after(0);
    assert_int_equal(manifest_encode(&m, &buf, &len), OMEN_NOMEM);
    assert_int_equal(manifest_write(dir, &m), OMEN_NOMEM);
    util_mem_fail_after(-1);
}

static void test_write_read(void **state)
{
    (void)state;
    manifest d;
    assert_int_equal(manifest_read(dir, &d), OMEN_NOTFOUND);
    manifest m = sample(3, 5);
    assert_int_equal(manifest_write(dir, &m), OMEN_OK);
    assert_int_equal(manifest_read(dir, &d), OMEN_OK);
    assert_same(&m, &d);
    manifest_clear(&d);
    manifest m2 = sample(7, 6);
    assert_int_equal(manifest_write(dir, &m2), OMEN_OK);
    assert_int_equal(manifest_read(dir, &d), OMEN_OK);
    assert_same(&m2, &d);
    manifest_clear(&d);
    /* A corrupt file on disk names its path. */
    char path[700];
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 20, SEEK_SET);
    fputc(0xee, fp);
    fclose(fp);
    assert_int_equal(manifest_read(dir, &d), OMEN_CORRUPT);
    assert_non_null(strstr(omen_last_error(), "MANIFEST"));
}

/* Each step of a rewrite fails in turn; after a power loss the manifest is
 * the old or the new one, never damaged; after success it is the new one. */
static void test_atomic_under_faults(void **state)
{
    (void)state;
    fio_fault_install();
    manifest old = sample(2, 11), d;
    for (long n = 1;; n++) {
        fio_fault_fail_nth(0, 0, 0);
        assert_int_equal(manifest_write(dir, &old), OMEN_OK);
        fio_fault_fail_nth(FIO_FAULT_MUTATING, n, FIO_FAULT_STICKY);
        manifest neu = sample(5, 12);
        int rc = manifest_write(dir, &neu);
        long failures = fio_fault_failures();
        fio_fault_fail_nth(0, 0, 0);
        for (int mode = FIO_POWER_DROP; mode <= FIO_POWER_SCRAMBLE; mode++) {
            assert_int_equal(fio_fault_power_loss(mode), OMEN_OK);
            assert_int_equal(manifest_read(dir, &d), OMEN_OK);
            if (rc == OMEN_OK) {
                manifest neu2 = sample(5, 12);
                assert_same(&neu2, &d);
            } else {
                assert_true(d.nruns == 2 || d.nruns == 5);
                assert_int_equal(d.next_file_number, 1000 + (d.nruns == 2 ? 11 : 12));
            }
            manifest_clear(&d);
        }
        if (failures == 0) {
            assert_int_equal(rc, OMEN_OK);
            assert_true(n > 5);
            break;
        }
        assert_int_equal(rc, OMEN_IO);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_magic_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_under_faults, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
