/*
 * kfilter.c -- the key filter (see kfilter.h).
 *
 * One cache line per key: the probe of a lookup costs one cache miss, where
 * the engine's negative read costs a memtable filter probe plus a Bloom
 * probe per sorted run (and a search where a run's Bloom filter errs).
 * 12 bits per key with three bits in a 512-bit line err on about 1.5% of
 * absent keys.
 */
#include "server/kfilter.h"

#include <stdlib.h>
#include <string.h>

#include "omendb.h"

#define KF_BITS_PER_KEY 12
#define KF_WORDS 8 /* 64-byte lines */

static uint64_t kf_hash(const void *p, size_t n)
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
    h ^= h >> 32;
    return h;
}

int kf_init(kfilter *f, uint64_t cap)
{
    memset(f, 0, sizeof *f);
    if (cap < 1) cap = 1;
    uint64_t nlines = (cap * KF_BITS_PER_KEY + 511) / 512;
    /* aligned_alloc wants a size that is a multiple of the alignment:
     * nlines * 64 is. */
    uint64_t *l = aligned_alloc(64, (size_t)nlines * KF_WORDS * sizeof *l);
    if (!l) return OMEN_NOMEM;
    memset(l, 0, (size_t)nlines * KF_WORDS * sizeof *l);
    f->lines = l;
    f->nlines = nlines;
    f->cap = cap;
    return OMEN_OK;
}

void kf_free(kfilter *f)
{
    free(f->lines);
    memset(f, 0, sizeof *f);
}

/* The key's line (multiply-shift onto [0, nlines)) and its three bits
 * (9 bits each pick one of the line's 512). */
static inline uint64_t *kf_line(const kfilter *f, uint64_t h)
{
    uint64_t i = (uint64_t)(((unsigned __int128)(h >> 27) * f->nlines) >> 37);
    return f->lines + i * KF_WORDS;
}

void kf_add(kfilter *f, const void *key, size_t klen)
{
    if (!f->lines) return;
    uint64_t h = kf_hash(key, klen);
    uint64_t *l = kf_line(f, h);
    for (int j = 0; j < 3; j++) {
        unsigned b = (unsigned)(h >> (9 * j)) & 511;
        l[b >> 6] |= 1ull << (b & 63);
    }
}

int kf_may_contain(const kfilter *f, const void *key, size_t klen)
{
    if (!f->lines) return 1;
    uint64_t h = kf_hash(key, klen);
    const uint64_t *l = kf_line(f, h);
    for (int j = 0; j < 3; j++) {
        unsigned b = (unsigned)(h >> (9 * j)) & 511;
        if (!(l[b >> 6] & (1ull << (b & 63)))) return 0;
    }
    return 1;
}

void kf_clear(kfilter *f)
{
    if (f->lines) memset(f->lines, 0, (size_t)f->nlines * KF_WORDS * sizeof *f->lines);
    f->added = 0;
}

size_t kf_bytes(const kfilter *f) { return f->lines ? (size_t)f->nlines * KF_WORDS * 8 : 0; }
