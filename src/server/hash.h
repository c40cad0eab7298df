/*
 * hash.h -- the server's 64-bit hash of a byte string, shared by the key
 * filter (kfilter.c) and the pass overlay (pending.c).  Eight bytes a step:
 * a byte-at-a-time FNV was ~2% of a pass of SETs.  Not keyed: neither
 * table is exposed to chosen collisions beyond what a Bloom filter's false
 * positives or an overlay chain of one pass can cost.
 */
#ifndef OMEN_SERVER_HASH_H
#define OMEN_SERVER_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t srv_hash64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

#endif
