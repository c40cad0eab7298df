/*
 * kfilter.c -- the key filter (see kfilter.h).
 *
 * One cache line per key: the probe of a lookup costs one cache miss, where
 * the engine's negative read costs a memtable filter probe plus a Bloom
 * probe per sorted run (and a search where a run's Bloom filter errs).
 * At least 12 bits per key with three bits in a 512-bit line err on about
 * 1.5% of absent keys.  The lines are mapped in 2 MiB-aligned whole huge
 * pages (transparent huge pages, when the kernel grants them): a probe
 * lands on a random line, and with 4 KiB pages it cost a TLB miss besides
 * the cache miss.  The rounding up to whole huge pages goes to more lines,
 * so fewer false positives.
 */
#include "server/kfilter.h"
#include "server/hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "omendb.h"

#define KF_BITS_PER_KEY 12
#define KF_WORDS 8 /* 64-byte lines */
#define KF_HUGE ((size_t)2 << 20)

/* len bytes (a multiple of KF_HUGE), zeroed, KF_HUGE-aligned. */
static void *map_lines(size_t len)
{
    unsigned char *p = mmap(NULL, len + KF_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    unsigned char *a = (unsigned char *)(((uintptr_t)p + KF_HUGE - 1) & ~(uintptr_t)(KF_HUGE - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    if (p + KF_HUGE > a) munmap(a + len, (size_t)(p + KF_HUGE - a));
#ifdef MADV_HUGEPAGE
    (void)madvise(a, len, MADV_HUGEPAGE); /* a hint: fine if refused */
#endif
    return a;
}

int kf_init(kfilter *f, uint64_t cap)
{
    memset(f, 0, sizeof *f);
    if (cap < 1) cap = 1;
    uint64_t bytes = (cap * KF_BITS_PER_KEY + 511) / 512 * 64;
    bytes = (bytes + KF_HUGE - 1) & ~(uint64_t)(KF_HUGE - 1);
    uint64_t nlines = bytes / 64;
    uint64_t *l = map_lines((size_t)bytes);
    if (!l) return OMEN_NOMEM;
    f->lines = l;
    f->nlines = nlines;
    f->cap = cap;
    return OMEN_OK;
}

void kf_free(kfilter *f)
{
    if (f->lines) munmap(f->lines, (size_t)f->nlines * 64);
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
    uint64_t h = srv_hash64(key, klen);
    uint64_t *l = kf_line(f, h);
    for (int j = 0; j < 3; j++) {
        unsigned b = (unsigned)(h >> (9 * j)) & 511;
        l[b >> 6] |= 1ull << (b & 63);
    }
}

int kf_may_contain(const kfilter *f, const void *key, size_t klen)
{
    if (!f->lines) return 1;
    uint64_t h = srv_hash64(key, klen);
    const uint64_t *l = kf_line(f, h);
    for (int j = 0; j < 3; j++) {
        unsigned b = (unsigned)(h >> (9 * j)) & 511;
        if (!(l[b >> 6] & (1ull << (b & 63)))) return 0;
    }
    return 1;
}

void kf_prefetch(const kfilter *f, const void *key, size_t klen)
{
    if (f->lines) __builtin_prefetch(kf_line(f, srv_hash64(key, klen)), 0, 3);
}

void kf_clear(kfilter *f)
{
    if (f->lines) {
        /* Zero pages stay mapped (and huge) for the keys to come. */
        memset(f->lines, 0, (size_t)f->nlines * KF_WORDS * sizeof *f->lines);
    }
    f->added = 0;
}

size_t kf_bytes(const kfilter *f) { return f->lines ? (size_t)f->nlines * KF_WORDS * 8 : 0; }
