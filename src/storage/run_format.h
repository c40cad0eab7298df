/*
 * run_format.h -- what the sorted-run files (run_write.c, run_read.c,
 * run_iter.c, run_verify.c) share: the layout constants of
 * docs/format.md "Sorted-run file", the little-endian field readers, the
 * reader's struct run and the record/block accessors every read path uses.
 * Internal to src/storage/run_*.c; everyone else uses run.h.
 */
#ifndef OMEN_RUN_FORMAT_H
#define OMEN_RUN_FORMAT_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "index/lindex.h"
#include "index/lsearch.h"
#include "index/lmap.h"
#include "storage/bloom.h"
#include "storage/cache.h"
#include "storage/run.h"
#include "util/coding.h"
#include "util/crc32c.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "run files map their little-endian slot array directly: little-endian hosts only"
#endif

#define RUN_MAGIC "OMENRUN\x1a"
/* 2: the footer's former reserved word holds the file number, and codec 3
 * (Snappy) may appear.  1 is still read. */
#define RUN_VERSION 2u
#define RUN_HEADER_SIZE 16u
#define RUN_FOOTER_SIZE 176u
#define RUN_REC_SIZE 32u
#define RUN_BINDEX_SIZE 16u
#define RUN_BLOCK_TRAILER 5u /* type byte + masked crc32c */
#define RUN_NO_BLOCK UINT32_MAX
#define RUN_MAX_BLOCK_SIZE (16u << 20)
#define RUN_DEFAULT_BLOCK_SIZE 4096u
/* Value-offset hint: error bound of the map, and the bytes prefetched past
 * the predicted offset (a small value's length, without reading its record). */
#define RUN_VMAP_EPS 32u
#define RUN_VMAP_SPAN 128u
#define RUN_SPILL_MEM (8u << 20)
#define RUN_OBUF (2u << 20)
#define RUN_KOFF_MASK ((UINT64_C(1) << 48) - 1)
#define RUN_BOFF_MASK ((UINT64_C(1) << 56) - 1)
#define RUN_HOT_HUGE_MIN ((uint64_t)4 << 20)
#define RUN_MAX_RAW_BLOCK (RUN_MAX_BLOCK_SIZE + OMEN_MAX_VALUE_LEN)

/* Masked checksum of the footer: bytes 0..155, and from version 2 also the
 * version and file-number words (160..167), which version 1 left out. */
static inline uint32_t run_footer_checksum(const uint8_t *ft, uint32_t version)
{
    uint32_t c = crc32c(0, ft, 156);
    if (version >= 2) c = crc32c(c, ft + 160, 8);
    return crc32c_mask(c);
}

static inline int keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return (alen > blen) - (alen < blen);
}

static inline uint64_t slot_of(const uint8_t *key, size_t klen, size_t lcp)
{
    if (klen >= lcp + 8) return get_be64(key + lcp);
    return lidx_slot(key, klen, lcp);
}

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t align8(uint64_t x)
{
    return (x + 7) & ~(uint64_t)7;
}

/* ---- the reader (run_read.c) ------------------------------------------ */

struct run {
    const uint8_t *map;
    uint64_t size;
    uint64_t number;
    block_cache *cache;
    uint64_t n;
    const uint64_t *slots;
    const uint8_t *recs;
    const uint8_t *koffs; /* per-entry key offsets (in the map: cold path) */
    const uint8_t *keys;
    uint64_t keys_len;
    const uint8_t *bindex;
    uint64_t nblocks;
    const uint8_t *bloom;
    uint64_t bloom_len, model_len;
    lidx *model;
    const uint8_t *lcp;
    size_t lcp_len;
    int compression; /* run-level: NONE means records hold file offsets */
    uint64_t min_seq, max_seq;
    uint64_t blocks_off, blocks_end;
    _Atomic uint64_t *verified; /* raw blocks whose crc matched since open */
    lmap vmap;                  /* position -> value offset hint (raw runs; may be empty) */
    void *hot_alloc;            /* in-memory copy of slots, records, filter */
    size_t hot_map;             /* nonzero: hot_alloc is util_map_huge'd, this long */
    char *path;
    uint32_t version, footer_crc, stored_number;
};

static inline const uint8_t *rec_at(const run *r, uint64_t i)
{
    return r->recs + i * RUN_REC_SIZE;
}

static inline size_t rec_klen(const uint8_t *rec)
{
    return (size_t)(ld64(rec + 16) >> 48);
}

static inline uint64_t rec_vpos(const uint8_t *rec)
{
    return ld64(rec + 16) & RUN_KOFF_MASK;
}

static inline const uint8_t *key_at(const run *r, uint64_t i, size_t *klen)
{
    *klen = rec_klen(rec_at(r, i));
    return r->keys + ld64(r->koffs + 8 * i);
}

static inline void block_info(const run *r, uint64_t b, uint64_t *off, int *type, uint32_t *plen,
                              uint32_t *raw)
{
    const uint8_t *bi = r->bindex + b * RUN_BINDEX_SIZE;
    uint64_t o = ld64(bi);
    *off = o & RUN_BOFF_MASK;
    *type = (int)(o >> 56);
    *plen = ld32(bi + 8);
    *raw = ld32(bi + 12);
}

/* Check block b's crc (payload + type byte). */
int run_verify_block(const run *r, uint64_t b);

/* Verify a raw block once per open. */
static inline int raw_block_ok(const run *r, uint64_t b)
{
    uint64_t bit = UINT64_C(1) << (b & 63);
    if (atomic_load_explicit(&r->verified[b >> 6], memory_order_relaxed) & bit) return OMEN_OK;
    int rc = run_verify_block(r, b);
    if (rc == OMEN_OK) atomic_fetch_or_explicit(&r->verified[b >> 6], bit, memory_order_relaxed);
    return rc;
}

/* The decompressed content of a compressed block b (a raw block: its bytes
 * in the map, checked once per open).  With a cache *h holds the pinning
 * handle; without, *own receives a buffer the caller frees. */
int run_load_block(const run *r, uint64_t b, cache_handle **h, uint8_t **own, const uint8_t **data);

/* ---- the search (point lookups, iterator seeks, the verifier) -------------- */

/* Start loading the value of entry i (raw runs: straight from the map)
 * before its record arrives: the value-offset map predicts where it lies
 * within RUN_VMAP_EPS bytes, so the value's TLB and cache misses overlap the
 * record's instead of following them.  Without a map, the record is read
 * and the value prefetched from it, which still overlaps the key
 * comparison that precedes the copy. */
static inline void run_prefetch_value(const run *r, uint64_t i)
{
    if (r->compression != OMEN_COMPRESS_NONE) return;
    if (r->vmap.nsegs) {
        uint64_t v = lmap_predict(&r->vmap, i);
        uint64_t lo = v > r->blocks_off + RUN_VMAP_EPS ? v - RUN_VMAP_EPS : r->blocks_off;
        uint64_t hi = v + RUN_VMAP_EPS + RUN_VMAP_SPAN;
        if (hi > r->blocks_end) hi = r->blocks_end;
        for (uint64_t at = lo & ~(uint64_t)63; at < hi; at += 64)
            __builtin_prefetch(r->map + at);
        return;
    }
    const uint8_t *rec = rec_at(r, i);
    uint32_t len = ld32(rec + 24);
    if (len == 0) return;
    const uint8_t *v = r->map + rec_vpos(rec);
    __builtin_prefetch(v);
    __builtin_prefetch(v + len - 1);
}

/* Order of entry i against query q, both with the same prefix and slot
 * (qext: the query's 8 bytes after the slot).
 * Keys of at most lcp + 16 bytes are settled by the record alone: equal
 * prefix and slot, then the next 8 bytes (zero-padded, in the record) and
 * the length order them exactly as memcmp would; longer keys read the key
 * bytes. */
static inline int run_rec_cmp(const run *r, uint64_t i, const uint8_t *q, size_t qlen, uint64_t qext)
{
    const uint8_t *rec = rec_at(r, i);
    size_t kl = rec_klen(rec), lim = r->lcp_len + 16;
    if (kl <= lim && qlen <= lim) {
        uint64_t ext = ld64(rec + 8);
        if (ext != qext) return ext < qext ? -1 : 1;
        return (kl > qlen) - (kl < qlen);
    }
    return keycmp(r->keys + ld64(r->koffs + 8 * i), kl, q, qlen);
}

/* First position whose user key >= q, among [0, n].  The model finds the
 * run of equal slots; only slot ties need full-key comparisons.  With
 * bloom_h != NULL this is a point lookup: the filter line and the slot
 * window are fetched in parallel, n is returned if the filter rules q out,
 * and the value of the entry found is prefetched.  *exact (if non-NULL) is
 * set when the entry at the returned position has user key q. */
static inline uint64_t run_lower_bound(const run *r, const uint8_t *q, size_t qlen,
                                       const uint64_t *bloom_h, int *exact)
{
    uint64_t n = r->n;
    size_t pl = r->lcp_len, m = qlen < pl ? qlen : pl;
    if (exact) *exact = 0;
    int c = m ? memcmp(q, r->lcp, m) : 0;
    if (c < 0 || (c == 0 && qlen < pl)) return 0;
    if (c > 0) return n;
    uint64_t qs = slot_of(q, qlen, pl);
    size_t wlo, whi;
    lidx_window(r->model, r->slots, n, qs, &wlo, &whi);
    if (bloom_h) {
        for (size_t at = wlo; at < whi; at += 8)
            __builtin_prefetch(&r->slots[at]);
        if (!bloom_may_contain(r->bloom, *bloom_h)) return n;
    }
    uint64_t lo = lidx_search(r->slots, wlo, whi, qs);
    if (lo == n || r->slots[lo] != qs) return lo;
    uint64_t qext = slot_of(q, qlen, pl + 8);
    if (bloom_h) run_prefetch_value(r, lo);
    c = run_rec_cmp(r, lo, q, qlen, qext);
    if (c >= 0) {
        if (exact) *exact = c == 0;
        return lo;
    }
    uint64_t hi = qs == UINT64_MAX ? n : lidx_lower_bound(r->model, r->slots, n, qs + 1);
    lo++;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (run_rec_cmp(r, mid, q, qlen, qext) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (exact && lo < n && r->slots[lo] == qs) *exact = run_rec_cmp(r, lo, q, qlen, qext) == 0;
    return lo;
}


/* Codec `type` may appear in a file of format version v (Snappy came with
 * version 2). */
static inline int run_codec_in_version(int type, uint32_t v)
{
    return compress_type_valid(type) && (type != OMEN_COMPRESS_SNAPPY || v >= 2);
}

#endif
