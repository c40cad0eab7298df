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

/* The crc32 instruction has a 3-cycle latency but issues every cycle, so one
 * dependency chain runs at a third of the possible speed.  Long inputs are
 * processed as three interleaved streams of STREAM bytes each, combined by
 * linearity: crc(c, A||B) = shift(crc(c, A)) ^ crc(0, B), where shift(x)
 * feeds STREAM zero bytes through the register -- a linear map on 32 bits,
 * tabulated per byte of x in shift_tab at init. */
#define STREAM 1024
static uint32_t shift_tab[4][256];

__attribute__((target("sse4.2"))) static uint32_t hw_single(uint32_t crc, const uint8_t *p,
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

static inline uint32_t shift_stream(uint32_t x)
{
    return shift_tab[0][x & 0xff] ^ shift_tab[1][(x >> 8) & 0xff] ^
           shift_tab[2][(x >> 16) & 0xff] ^ shift_tab[3][x >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t hw_impl(uint32_t crc, const uint8_t *p,
                                                          size_t n)
{
    if (n < 3 * STREAM) return hw_single(crc, p, n);
    /* Align so that the three streams read aligned words. */
    size_t head = (8 - ((uintptr_t)p & 7)) & 7;
    crc = hw_single(crc, p, head);
    p += head;
    n -= head;
    uint64_t c0 = crc;
    while (n >= 3 * STREAM) {
        uint64_t c1 = 0, c2 = 0;
        const uint8_t *a = p, *b = p + STREAM, *c = p + 2 * STREAM;
        for (size_t i = 0; i < STREAM; i += 8) {
            uint64_t wa, wb, wc;
            memcpy(&wa, a + i, 8);
            memcpy(&wb, b + i, 8);
            memcpy(&wc, c + i, 8);
            c0 = _mm_crc32_u64(c0, wa);
            c1 = _mm_crc32_u64(c1, wb);
            c2 = _mm_crc32_u64(c2, wc);
        }
        c0 = shift_stream(shift_stream((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * STREAM;
        n -= 3 * STREAM;
    }
    return hw_single((uint32_t)c0, p, n);
}

static void init_shift_tab(void)
{
    /* Image of each single-bit register value after STREAM zero bytes. */
    static const uint8_t zeros[STREAM];
    uint32_t basis[32];
    for (int b = 0; b < 32; b++) basis[b] = hw_single(1u << b, zeros, STREAM);
    for (int k = 0; k < 4; k++)
        for (int v = 0; v < 256; v++) {
            uint32_t x = 0;
            for (int i = 0; i < 8; i++)
                if (v >> i & 1) x ^= basis[8 * k + i];
            shift_tab[k][v] = x;
        }
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
        init_shift_tab();
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
