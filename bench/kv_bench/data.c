/*
 * data.c -- the run's settings and the data every engine is given: keys
 * (16-byte decimal or 8-byte big-endian integers, byte order == numeric
 * order), values (windows into a pool of half-random, half-repeated bytes,
 * db_bench's compression ratio 0.5) and the fillrandom permutation, all
 * from fixed seeds so every engine sees the same bytes in the same order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omendb.h"
#include "harness.h"

cfg_t C;
const char *const KV_CODEC_NAMES[KV_NCODEC] = {"none", "lz4", "zstd", "snappy"};
uint8_t *g_vpool;
uint32_t *g_perm;

_Thread_local char t_err[512];

void seterr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_err, sizeof t_err, fmt, ap);
    va_end(ap);
}

void key_encode(uint64_t num, uint8_t *out)
{
    if (C.int_keys) {
        omen_key_u64(num, out);
        return;
    }
    for (int i = 15; i >= 0; i--) {
        out[i] = (uint8_t)('0' + num % 10);
        num /= 10;
    }
}

uint64_t key_decode_int(const uint8_t *k)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | k[i];
    return v;
}

const uint8_t *value_for(uint64_t id, uint64_t ver)
{
    uint64_t off = mix64(id * 0x2545F4914F6CDD1Dull + ver * 0x9E3779B97F4A7C15ull + C.seed) %
                   VBUF_SPAN;
    return g_vpool + off;
}

int make_data(void)
{
    size_t len = VBUF_SPAN + C.vsize + 64;
    g_vpool = malloc(len);
    if (!g_vpool)
        return -1;
    rng_t r = {C.seed ^ 0x5A5A5A5Aull};
    /* 32 random printable bytes followed by the same 32 bytes again. */
    for (size_t pos = 0; pos < len; pos += 64) {
        uint8_t chunk[32];
        for (int i = 0; i < 32; i++)
            chunk[i] = (uint8_t)(' ' + rng_below(&r, 95));
        for (size_t i = 0; i < 64 && pos + i < len; i++)
            g_vpool[pos + i] = chunk[i % 32];
    }
    g_perm = malloc(C.n * sizeof *g_perm);
    if (!g_perm)
        return -1;
    for (uint64_t i = 0; i < C.n; i++)
        g_perm[i] = (uint32_t)i;
    rng_t p = {C.seed ^ 0xC0FFEEull};
    for (uint64_t i = C.n - 1; i > 0; i--) {
        uint64_t j = rng_below(&p, i + 1);
        uint32_t t = g_perm[i];
        g_perm[i] = g_perm[j];
        g_perm[j] = t;
    }
    return 0;
}

void free_data(void)
{
    free(g_vpool);
    free(g_perm);
}

void rmw_bump(uint8_t *v)
{
    uint64_t x;
    memcpy(&x, v, 8);
    x++;
    memcpy(v, &x, 8);
}

int vbufs_new(uint8_t **v1, uint8_t **v2)
{
    *v1 = malloc(C.vsize);
    *v2 = malloc(C.vsize);
    return (*v1 && *v2) ? 0 : -1;
}
