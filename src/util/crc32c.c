/*
 * crc32c.c -- CRC-32C: SSE4.2 instruction path and slicing-by-8 fallback.
 *
 * The choice is made once (pthread_once) and cached in a function pointer;
 * the software tables are built in the same once-call, so concurrent first
 * callers never see half-built tables.
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static uint32_t (*impl)(uint32_t, const uint8_t *, size_t);
static int hw;

static uint32_t sw_impl(uint32_t crc, const uint8_t *p, size_t n)
{
    /* Byte-at-a-time until 8-byte aligned, then 8 bytes per step. */
    while (n && ((uintptr_t)p & 7)) {
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                      ((uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) |
                      ((uint32_t)p[7] << 24);
        lo ^= crc;
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
              table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t hw_impl(uint32_t crc, const uint8_t *p,
                                                          size_t n)
{
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    impl = sw_impl;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        impl = hw_impl;
        hw = 1;
    }
#endif
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&init_once, init);
    return ~impl(~crc, (const uint8_t *)p, n);
}

uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&init_once, init);
    return ~sw_impl(~crc, (const uint8_t *)p, n);
}

int crc32c_hw_available(void)
{
    pthread_once(&init_once, init);
    return hw;
}
