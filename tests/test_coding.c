/*
 * test_coding.c -- crc32c (RFC 3720 vectors, hardware == software on every
 * length and alignment, masking) and util/coding.h (fixed, big-endian and
 * varint round trips, truncation and overflow detection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/coding.h"
#include "util/crc32c.h"

static void test_crc_vectors(void **state)
{
    (void)state;
    unsigned char buf[48];
    memset(buf, 0, 32);
    assert_int_equal(crc32c(0, buf, 32), 0x8a9136aa);
    memset(buf, 0xff, 32);
    assert_int_equal(crc32c(0, buf, 32), 0x62a8ab43);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)i;
    assert_int_equal(crc32c(0, buf, 32), 0x46dd794e);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)(31 - i);
    assert_int_equal(crc32c(0, buf, 32), 0x113fdb5c);
    /* iSCSI read command PDU from RFC 3720 B.4. */
    static const unsigned char scsi[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(crc32c(0, scsi, 48), 0xd9963a56);
    assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
    assert_int_equal(crc32c(0, "", 0), 0);
    assert_int_equal(crc32c_sw(0, "123456789", 9), 0xe3069283);
}

static void test_crc_hw_matches_sw(void **state)
{
    (void)state;
    enum { N = 13000 }; /* beyond 3 x 1024: the interleaved hardware path */
    unsigned char *buf = malloc(N + 16);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N + 16; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    for (size_t align = 0; align < 8; align++)
        for (size_t n = 0; n <= N; n += (n < 64 ? 1 : n < 3000 ? 37 : 371)) {
            uint32_t a = crc32c(0, buf + align, n), b = crc32c_sw(0, buf + align, n);
            assert_int_equal(a, b);
            /* Extension property: crc(a||b) == crc(crc(a), b). */
            size_t k = n / 3;
            assert_int_equal(crc32c(crc32c(0, buf + align, k), buf + align + k, n - k), a);
            assert_int_equal(crc32c_sw(crc32c_sw(0, buf + align, k), buf + align + k, n - k), a);
        }
    /* Exact multiples of the interleave round and their neighbours. */
    for (size_t n = 3072 - 9; n <= 3 * 3072 + 9; n += (n % 3072 == 9 ? 3072 - 18 : 1))
        assert_int_equal(crc32c(0, buf + 3, n), crc32c_sw(0, buf + 3, n));
    free(buf);
    (void)crc32c_hw_available(); /* either path is correct; both were compared */
}

static void test_crc_mask(void **state)
{
    (void)state;
    uint32_t c = crc32c(0, "foo", 3);
    assert_int_not_equal(crc32c_mask(c), c);
    assert_int_not_equal(crc32c_mask(crc32c_mask(c)), c);
    assert_int_equal(crc32c_unmask(crc32c_mask(c)), c);
    assert_int_equal(crc32c_unmask(crc32c_mask(crc32c_mask(c))), crc32c_mask(c));
    for (uint32_t v = 0; v < 100000; v += 7) assert_int_equal(crc32c_unmask(crc32c_mask(v)), v);
}

static void test_fixed(void **state)
{
    (void)state;
    unsigned char b[8];
    put_fixed32(b, 0x04030201u);
    assert_memory_equal(b, "\x01\x02\x03\x04", 4);
    assert_int_equal(get_fixed32(b), 0x04030201u);
    put_fixed64(b, 0x0807060504030201ull);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_int_equal(get_fixed64(b), 0x0807060504030201ull);
    put_be64(b, 0x0102030405060708ull);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_int_equal(get_be64(b), 0x0102030405060708ull);
    /* Big-endian preserves order under memcmp. */
    unsigned char c[8];
    put_be64(b, 255);
    put_be64(c, 256);
    assert_true(memcmp(b, c, 8) < 0);
    put_fixed32(b, UINT32_MAX);
    assert_int_equal(get_fixed32(b), UINT32_MAX);
}

static void test_varint64(void **state)
{
    (void)state;
    uint64_t vals[200];
    int nv = 0;
    vals[nv++] = 0;
    vals[nv++] = UINT64_MAX;
    for (int s = 0; s < 64; s++) {
        uint64_t p = (uint64_t)1 << s;
        vals[nv++] = p - 1;
        vals[nv++] = p;
        vals[nv++] = p + 1;
    }
    uint8_t buf[VARINT64_MAX_LEN * 200], *p = buf;
    for (int i = 0; i < nv; i++) {
        uint8_t *q = put_varint64(p, vals[i]);
        assert_int_equal(q - p, varint_length(vals[i]));
        assert_in_range(q - p, 1, VARINT64_MAX_LEN);
        p = q;
    }
    const uint8_t *r = buf;
    for (int i = 0; i < nv; i++) {
        uint64_t v;
        const uint8_t *start = r;
        r = get_varint64(r, p, &v);
        assert_non_null(r);
        assert_int_equal(v, vals[i]);
        /* Every strict prefix is a truncation. */
        for (const uint8_t *lim = start; lim < r; lim++) assert_null(get_varint64(start, lim, &v));
    }
    assert_ptr_equal(r, p);
    /* Overflow: 10th byte > 1, and an 11-byte encoding. */
    uint8_t over[11];
    memset(over, 0xff, 9);
    over[9] = 0x02;
    uint64_t v;
    assert_null(get_varint64(over, over + 10, &v));
    memset(over, 0x80, 10);
    over[10] = 0;
    assert_null(get_varint64(over, over + 11, &v));
    assert_null(get_varint64(over, over, &v));
}

static void test_varint32(void **state)
{
    (void)state;
    uint32_t vals[] = {0, 1, 127, 128, 16383, 16384, (1u << 21) - 1, 1u << 21, (1u << 28) - 1,
                       1u << 28, UINT32_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t buf[VARINT32_MAX_LEN];
        uint8_t *e = put_varint32(buf, vals[i]);
        assert_in_range(e - buf, 1, VARINT32_MAX_LEN);
        uint32_t v;
        assert_ptr_equal(get_varint32(buf, e, &v), e);
        assert_int_equal(v, vals[i]);
        for (uint8_t *lim = buf; lim < e; lim++) assert_null(get_varint32(buf, lim, &v));
    }
    /* 2^32 does not fit. */
    uint8_t buf[VARINT64_MAX_LEN];
    uint8_t *e = put_varint64(buf, (uint64_t)UINT32_MAX + 1);
    uint32_t v;
    assert_null(get_varint32(buf, e, &v));
    /* A 6-byte varint32 is rejected. */
    uint8_t six[6] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_null(get_varint32(six, six + 6, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors), cmocka_unit_test(test_crc_hw_matches_sw),
        cmocka_unit_test(test_crc_mask),    cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_varint64),    cmocka_unit_test(test_varint32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
