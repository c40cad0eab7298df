/*
 * bloom.c -- blocked bloom filter (one 64-byte block per key) and the
 * engine's stable 64-bit key hash.
 *
 * Probe positions: the high 32 bits of the hash choose the block (by a
 * multiply-shift range reduction, no modulo), the low 32 bits seed double
 * hashing h1 + i*h2 over the block's 512 bits.  h2 is forced odd so the k
 * positions differ as long as k <= 512.
 */
#include "storage/bloom.h"

#include <string.h>

#include "util/coding.h"
#include "util/err.h"

#define BLOOM_MAX_K 16
#define BLOOM_MAX_BLOCKS (UINT32_MAX)

static inline uint64_t bloom_mix(uint64_t x)
{
    /* A 64-bit finalizer: xor-shift / multiply rounds so every input bit
     * affects every output bit. */
    x ^= x >> 32;
    x *= UINT64_C(0xd6e8feb86659fd93);
    x ^= x >> 32;
    x *= UINT64_C(0xd6e8feb86659fd93);
    x ^= x >> 32;
    return x;
}

/* The value is part of the file format (run filters are built with it):
 * test_bloom_hash_stable pins it. */
uint64_t bloom_hash(const void *key, size_t len)
{
    const uint8_t *p = (const uint8_t *)key;
    const size_t all = len;
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t)len * UINT64_C(0xc2b2ae3d27d4eb4f));
    while (len >= 8) {
        h = bloom_mix(h ^ get_fixed64(p)) + UINT64_C(0x165667b19e3779f9);
        p += 8;
        len -= 8;
    }
    if (len) {
        /* The tail's bytes, zero-extended, as a little-endian word.  A key
         * of 8 bytes or more has them as the top of its last 8 bytes: one
         * load, where copying them byte by byte into a word and loading
         * that stalled on store forwarding (17-byte keys: 15 -> 5.5 ns). */
        uint64_t t;
        if (all >= 8) {
            t = get_fixed64((const uint8_t *)key + all - 8) >> (8 * (8 - len));
        } else {
            uint8_t tail[8] = {0};
            memcpy(tail, p, len);
            t = get_fixed64(tail);
        }
        h = bloom_mix(h ^ t ^ ((uint64_t)len << 59)) + UINT64_C(0x27d4eb2f165667c5);
    }
    return bloom_mix(h);
}

static int bloom_k(int bits_per_key)
{
    /* k = bits_per_key * ln 2, rounded, in [1, BLOOM_MAX_K]. */
    int k = (bits_per_key * 69 + 50) / 100;
    if (k < 1) k = 1;
    if (k > BLOOM_MAX_K) k = BLOOM_MAX_K;
    return k;
}

static uint64_t bloom_nblocks(uint64_t nkeys, int bits_per_key)
{
    if (bits_per_key <= 0 || nkeys == 0) return 0;
    if (bits_per_key > 100) bits_per_key = 100;
    uint64_t bits = nkeys * (uint64_t)bits_per_key;
    uint64_t nb = (bits + 511) / 512;
    if (nb > BLOOM_MAX_BLOCKS) nb = BLOOM_MAX_BLOCKS;
    return nb;
}

size_t bloom_image_size(uint64_t nkeys, int bits_per_key)
{
    return BLOOM_HEADER_BYTES + (size_t)bloom_nblocks(nkeys, bits_per_key) * BLOOM_BLOCK_BYTES;
}

static inline void bloom_set(uint8_t *blocks, uint32_t nblocks, int k, uint64_t h)
{
    uint8_t *b = blocks + bloom_block_offset(nblocks, h);
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 17) | 1u;
    for (int i = 0; i < k; i++) {
        uint32_t bit = h1 & 511u;
        b[bit >> 3] |= (uint8_t)(1u << (bit & 7));
        h1 += h2;
    }
}

int bloom_build(uint64_t nkeys, int bits_per_key, int (*next)(void *ctx, uint64_t *h), void *ctx, void *out,
                size_t out_len)
{
    uint64_t nb = bloom_nblocks(nkeys, bits_per_key);
    if (!out || out_len != BLOOM_HEADER_BYTES + nb * BLOOM_BLOCK_BYTES)
        return util_seterr(OMEN_INVALID, "bloom: output buffer has the wrong size");
    uint8_t *o = (uint8_t *)out;
    int k = nb ? bloom_k(bits_per_key) : 0;
    memset(o, 0, out_len);
    put_fixed32(o, (uint32_t)nb);
    o[4] = (uint8_t)k;
    if (nb == 0) return OMEN_OK;
    for (uint64_t i = 0; i < nkeys; i++) {
        uint64_t h;
        int rc = next(ctx, &h);
        if (rc != OMEN_OK) return rc;
        bloom_set(o + BLOOM_HEADER_BYTES, (uint32_t)nb, k, h);
    }
    return OMEN_OK;
}

struct bloom_arr {
    const uint64_t *h;
    size_t i;
};

static int bloom_arr_next(void *ctx, uint64_t *h)
{
    struct bloom_arr *a = ctx;
    *h = a->h[a->i++];
    return OMEN_OK;
}

int bloom_build_array(const uint64_t *hashes, size_t n, int bits_per_key, void *out, size_t out_len)
{
    struct bloom_arr a = {hashes, 0};
    if (n && !hashes) return util_seterr(OMEN_INVALID, "bloom: NULL hashes");
    return bloom_build(n, bits_per_key, bloom_arr_next, &a, out, out_len);
}

int bloom_check_image(const void *img, size_t len)
{
    const uint8_t *p = (const uint8_t *)img;
    if (!p || len < BLOOM_HEADER_BYTES) return util_seterr(OMEN_CORRUPT, "bloom: image truncated");
    uint64_t nb = get_fixed32(p);
    int k = p[4];
    if (p[5] || p[6] || p[7]) return util_seterr(OMEN_CORRUPT, "bloom: reserved bytes set");
    if ((len - BLOOM_HEADER_BYTES) / BLOOM_BLOCK_BYTES != nb ||
        (len - BLOOM_HEADER_BYTES) % BLOOM_BLOCK_BYTES)
        return util_seterr(OMEN_CORRUPT, "bloom: image size does not match %llu blocks",
                           (unsigned long long)nb);
    if (nb == 0 ? k != 0 : (k < 1 || k > BLOOM_MAX_K))
        return util_seterr(OMEN_CORRUPT, "bloom: bad probe count %d", k);
    return OMEN_OK;
}

int bloom_may_contain(const void *img, uint64_t h)
{
    const uint8_t *p = (const uint8_t *)img;
    uint32_t nb = get_fixed32(p);
    if (nb == 0) return 1;
    int k = p[4];
    const uint8_t *b = bloom_block(img, h);
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 17) | 1u;
    for (int i = 0; i < k; i++) {
        uint32_t bit = h1 & 511u;
        if (!(b[bit >> 3] & (1u << (bit & 7)))) return 0;
        h1 += h2;
    }
    return 1;
}
