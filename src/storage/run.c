/*
 * run.c -- sorted-run files: streaming writer, mmap'ed reader, iterator and
 * verifier.  Byte layout: docs/format.md, "Sorted-run file".
 *
 * Layout in one line: header | value blocks | slots[n] | records[n] |
 * key offsets[n] | key bytes | model | bloom | block index | footer.  Every
 * section after the value blocks is dense and addressed by entry position,
 * so the learned model's answer (a position) leads straight to the slot and
 * the 32-byte record (seq/type, key bytes 8..15 after the prefix, key
 * length, value location).  Keys of up to lcp + 16 bytes are compared from
 * the record alone; longer keys read the key bytes through the offsets.
 *
 * Writer: entries stream in; value bytes go to the file block by block,
 * while slots, records, key offsets, key bytes and bloom hashes go to
 * "spills" (memory up to RUN_SPILL_MEM each, then a temporary file) that
 * finish() copies after the blocks.  The learned model is built in the same
 * pass from the slots (lidx_builder), so memory stays bounded for any run
 * size.
 *
 * Reader invariants after a successful run_open:
 *  - the slots, records and filter live in a private in-memory copy (huge
 *    pages when large) and that copy matched its crc32c, as did the footer,
 *    model, block index, key offsets and key bytes in the map;
 *  - every record's key lies inside the key bytes, every non-empty value
 *    inside its block (for raw blocks: inside the file region of the
 *    block's payload), every block inside the value-block section;
 * so no read path can leave the map.  Value blocks are checked against
 * their crc the first time they are read (a raw block: once per open,
 * remembered in an atomic bitmap; a compressed block: on each
 * decompression, i.e. each cache miss).
 */
#include "storage/run.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "index/lindex.h"
#include "index/lmap.h"
#include "storage/bloom.h"
#include "storage/compress.h"
#include "storage/fio.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "run files map their little-endian slot array directly: little-endian hosts only"
#endif

#define RUN_MAGIC "OMENRUN\x1a"
#define RUN_VERSION 1u
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

/* The model's epsilon when the options leave it to the writer.  A point
 * read pays for routing through the model, which is cheap only while the
 * model stays in cache, and for the slot window of 2 eps + 2 slots, whose
 * lines are fetched in parallel.  Keys that lines fit well (integers,
 * timestamps) give a small model at epsilon 16; others do not: the slots of
 * decimal-string keys jump at every carry of a digit, and at epsilon 16
 * their model has a segment per ~50 keys (1 MiB per 2M keys, out of the L2),
 * at 32 one per ~500.  So the writer feeds every candidate in the same pass
 * and keeps the smallest epsilon whose model has at most one segment per
 * RUN_KEYS_PER_SEG entries, else the largest (measured: docs/benchmarks.md,
 * "Run epsilon").  A candidate already far past that bound is dropped early,
 * which keeps the builders' memory O(entries / 64), and so are the ones
 * above a candidate that is well inside it after RUN_SEG_SETTLE entries. */
static const unsigned run_eps_cand[] = {16, 32, 64};
#define RUN_NEPS 3
#define RUN_KEYS_PER_SEG 256u
#define RUN_SEG_DROP 64u
#define RUN_SEG_SETTLE 65536u

/* Test hook (fuzzing only): when set, checksum mismatches are ignored so
 * that mutated inputs reach the structural checks behind them. */
int run_test_skip_checksums;

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

void run_meta_clear(run_meta *m)
{
    if (!m) return;
    omen_free(m->smallest);
    omen_free(m->largest);
    memset(m, 0, sizeof *m);
}

/* ====================================================================== */
/* Writer                                                                   */
/* ====================================================================== */

typedef struct spill {
    uint8_t *buf; /* the part not yet in the temp file */
    size_t len, cap;
    fio_file *f; /* temp file, created on first overflow */
    char *path;
    uint64_t on_disk;
} spill;

enum { SP_SLOTS, SP_RECS, SP_KOFFS, SP_KEYS, SP_HASH, SP_N };

struct run_writer {
    fio_file *f;
    char *path;
    run_opts o;
    int err; /* sticky I/O (or allocation) failure */
    uint8_t *lcp;
    size_t lcp_len;
    uint64_t off; /* logical file size (written + buffered) */
    uint8_t *obuf;
    size_t olen;
    uint8_t *blk; /* current value block (raw) */
    size_t blen, bcap;
    uint8_t *cbuf; /* compression output */
    size_t ccap;
    uint8_t *bindex; /* RUN_BINDEX_SIZE per written block */
    size_t nblocks, bicap;
    spill sp[SP_N];
    lidx_builder *lb[RUN_NEPS]; /* candidate models (run_eps_cand); NULL once dropped */
    uint64_t n, distinct, keys_len, min_seq, max_seq;
    uint8_t *first_key, *last_key;
    size_t first_len, last_len, last_cap;
    uint64_t last_seq;
};

static int out_flush(run_writer *w)
{
    if (w->olen == 0) return OMEN_OK;
    int rc = fio_append(w->f, w->obuf, w->olen);
    w->olen = 0;
    return rc;
}

/* The file goes out in whole RUN_OBUF pieces at multiples of RUN_OBUF:
 * with 2 MiB-aligned 2 MiB writes the page cache can hold the run in
 * PMD-sized folios, which a huge-page mapping of the run then reaches
 * without a page walk per 4 KiB (the value reads of random gets). */
static int out_write(run_writer *w, const void *p, size_t n)
{
    const uint8_t *src = p;
    w->off += n;
    while (n) {
        if (w->olen == 0 && n >= RUN_OBUF) {
            size_t whole = n - n % RUN_OBUF;
            int rc = fio_append(w->f, src, whole);
            if (rc != OMEN_OK) return rc;
            src += whole;
            n -= whole;
            continue;
        }
        size_t c = RUN_OBUF - w->olen < n ? RUN_OBUF - w->olen : n;
        memcpy(w->obuf + w->olen, src, c);
        w->olen += c;
        src += c;
        n -= c;
        if (w->olen == RUN_OBUF) {
            int rc = out_flush(w);
            if (rc != OMEN_OK) return rc;
        }
    }
    return OMEN_OK;
}

static int out_pad8(run_writer *w)
{
    static const uint8_t zeros[8];
    size_t pad = (size_t)(align8(w->off) - w->off);
    return out_write(w, zeros, pad);
}

static int spill_put(run_writer *w, spill *s, int which, const void *p, size_t n)
{
    if (s->len + n > s->cap) {
        if (s->len + n > RUN_SPILL_MEM) {
            int rc;
            if (!s->f) {
                char suffix[16];
                size_t pl = strlen(w->path);
                snprintf(suffix, sizeof suffix, ".tmp%d", which);
                s->path = omen_malloc(pl + strlen(suffix) + 1);
                if (!s->path) return omen_seterr(OMEN_NOMEM, "run writer: out of memory");
                memcpy(s->path, w->path, pl);
                strcpy(s->path + pl, suffix);
                rc = fio_open(s->path, FIO_READ | FIO_WRITE | FIO_CREATE | FIO_TRUNC, &s->f);
                if (rc != OMEN_OK) {
                    omen_free(s->path);
                    s->path = NULL;
                    return rc;
                }
            }
            rc = fio_append(s->f, s->buf, s->len);
            if (rc != OMEN_OK) return rc;
            s->on_disk += s->len;
            s->len = 0;
        }
        if (s->len + n > s->cap) {
            size_t nc = s->cap ? s->cap : 4096;
            while (nc < s->len + n)
                nc *= 2;
            if (nc > RUN_SPILL_MEM && s->len + n <= RUN_SPILL_MEM) nc = RUN_SPILL_MEM;
            uint8_t *nb = omen_realloc(s->buf, nc);
            if (!nb) return omen_seterr(OMEN_NOMEM, "run writer: out of memory");
            s->buf = nb;
            s->cap = nc;
        }
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return OMEN_OK;
}

/* Stream a spill's bytes, in order, to fn in chunks. */
static int spill_each(spill *s, uint8_t *chunk, size_t chunk_cap,
                      int (*fn)(void *ctx, const uint8_t *p, size_t n), void *ctx)
{
    uint64_t pos = 0;
    while (pos < s->on_disk) {
        size_t want = s->on_disk - pos < chunk_cap ? (size_t)(s->on_disk - pos) : chunk_cap, got;
        int rc = fio_pread(s->f, chunk, want, pos, &got);
        if (rc != OMEN_OK) return rc;
        if (got != want) return omen_seterr(OMEN_IO, "run writer: temporary file %s shrank", s->path);
        rc = fn(ctx, chunk, got);
        if (rc != OMEN_OK) return rc;
        pos += got;
    }
    return s->len ? fn(ctx, s->buf, s->len) : OMEN_OK;
}

static void spill_drop(spill *s)
{
    if (s->f) {
        fio_close(s->f);
        fio_unlink(s->path);
    }
    omen_free(s->path);
    omen_free(s->buf);
    memset(s, 0, sizeof *s);
}

static void writer_free(run_writer *w, int remove_file)
{
    if (!w) return;
    for (int i = 0; i < SP_N; i++)
        spill_drop(&w->sp[i]);
    if (w->f) fio_close(w->f);
    if (remove_file && w->path) fio_unlink(w->path);
    for (int i = 0; i < RUN_NEPS; i++)
        lidx_builder_free(w->lb[i]);
    omen_free(w->path);
    omen_free(w->lcp);
    omen_free(w->obuf);
    omen_free(w->blk);
    omen_free(w->cbuf);
    omen_free(w->bindex);
    omen_free(w->first_key);
    omen_free(w->last_key);
    omen_free(w);
}

int run_writer_open(const char *path, const run_opts *o, const void *lcp_lo, size_t lo_len,
                    const void *lcp_hi, size_t hi_len, run_writer **out)
{
    if (!out) return omen_seterr(OMEN_INVALID, "run_writer_open: NULL out");
    *out = NULL;
    if (!path || (lo_len && !lcp_lo) || (hi_len && !lcp_hi))
        return omen_seterr(OMEN_INVALID, "run_writer_open: NULL argument");
    run_opts opt = {OMEN_COMPRESS_NONE, 10, 0, RUN_DEFAULT_BLOCK_SIZE};
    if (o) opt = *o;
    if (opt.block_size == 0) opt.block_size = RUN_DEFAULT_BLOCK_SIZE;
    if (!compress_type_valid(opt.compression) || opt.bloom_bits_per_key < 0 || opt.bloom_bits_per_key > 100 ||
        opt.block_size > RUN_MAX_BLOCK_SIZE || opt.epsilon > (1u << 20))
        return omen_seterr(OMEN_INVALID, "run_writer_open: bad options");
    if (keycmp(lcp_lo, lo_len, lcp_hi, hi_len) > 0)
        return omen_seterr(OMEN_INVALID, "run_writer_open: lcp_lo > lcp_hi");
    run_writer *w = omen_calloc(1, sizeof *w);
    if (!w) return omen_seterr(OMEN_NOMEM, "run_writer_open: out of memory");
    w->o = opt;
    size_t m = lo_len < hi_len ? lo_len : hi_len, l = 0;
    while (l < m && ((const uint8_t *)lcp_lo)[l] == ((const uint8_t *)lcp_hi)[l])
        l++;
    w->lcp_len = l;
    w->path = omen_strdup(path);
    w->lcp = omen_memdup(lcp_lo, l);
    w->obuf = omen_malloc(RUN_OBUF);
    int rc = OMEN_NOMEM;
    if (!w->path || !w->lcp || !w->obuf) {
        omen_seterr(OMEN_NOMEM, "run_writer_open: out of memory");
        goto fail;
    }
    for (int i = 0; i < RUN_NEPS && (i == 0 || !opt.epsilon); i++) {
        rc = lidx_builder_new(opt.epsilon ? opt.epsilon : run_eps_cand[i], &w->lb[i]);
        if (rc != OMEN_OK) goto fail;
    }
    rc = fio_open(path, FIO_READ | FIO_WRITE | FIO_CREATE | FIO_TRUNC, &w->f);
    if (rc != OMEN_OK) goto fail;
    uint8_t hdr[RUN_HEADER_SIZE];
    memcpy(hdr, RUN_MAGIC, 8);
    put_fixed32(hdr + 8, RUN_VERSION);
    put_fixed32(hdr + 12, 0);
    rc = out_write(w, hdr, sizeof hdr);
    if (rc != OMEN_OK) goto fail;
    *out = w;
    return OMEN_OK;
fail:
    writer_free(w, w->f != NULL);
    return rc;
}

/* Write the current value block (if any) with its trailer. */
static int flush_block(run_writer *w)
{
    if (w->blen == 0) return OMEN_OK;
    if (w->nblocks >= RUN_NO_BLOCK - 1) return omen_seterr(OMEN_INVALID, "run writer: too many value blocks");
    const uint8_t *payload = w->blk;
    size_t plen = w->blen;
    uint8_t type = OMEN_COMPRESS_NONE;
    if (w->o.compression != OMEN_COMPRESS_NONE) {
        size_t bound = compress_bound(w->o.compression, w->blen), clen;
        if (bound > w->ccap) {
            uint8_t *nb = omen_realloc(w->cbuf, bound);
            if (!nb) return omen_seterr(OMEN_NOMEM, "run writer: out of memory");
            w->cbuf = nb;
            w->ccap = bound;
        }
        int rc = compress_block(w->o.compression, w->blk, w->blen, w->cbuf, w->ccap, &clen);
        if (rc == OMEN_NOMEM) return rc;
        /* Keep the compressed form only when it saves at least 1/8. */
        if (rc == OMEN_OK && clen < w->blen - w->blen / 8) {
            payload = w->cbuf;
            plen = clen;
            type = (uint8_t)w->o.compression;
        }
    }
    if (w->nblocks == w->bicap) {
        size_t nc = w->bicap ? w->bicap * 2 : 256;
        uint8_t *nb = omen_realloc(w->bindex, nc * RUN_BINDEX_SIZE);
        if (!nb) return omen_seterr(OMEN_NOMEM, "run writer: out of memory");
        w->bindex = nb;
        w->bicap = nc;
    }
    uint8_t *bi = w->bindex + w->nblocks * RUN_BINDEX_SIZE;
    put_fixed64(bi, w->off | ((uint64_t)type << 56));
    put_fixed32(bi + 8, (uint32_t)plen);
    put_fixed32(bi + 12, (uint32_t)w->blen);
    uint8_t trailer[RUN_BLOCK_TRAILER];
    trailer[0] = type;
    put_fixed32(trailer + 1, crc32c_mask(crc32c(crc32c(0, payload, plen), trailer, 1)));
    int rc = out_write(w, payload, plen);
    if (rc == OMEN_OK) rc = out_write(w, trailer, sizeof trailer);
    if (rc != OMEN_OK) return rc;
    w->nblocks++;
    w->blen = 0;
    return OMEN_OK;
}

/* Feed slot to every live candidate model (entry w->n, not yet counted);
 * drop the candidates that can no longer be picked, never the last one. */
static int model_add(run_writer *w, uint64_t slot)
{
    uint64_t seen = w->n + 1;
    for (int i = 0; i < RUN_NEPS; i++) {
        if (!w->lb[i]) continue;
        int rc = lidx_builder_add(w->lb[i], slot);
        if (rc != OMEN_OK) return rc;
        uint64_t segs = lidx_builder_segments(w->lb[i]);
        if (i + 1 < RUN_NEPS && w->lb[i + 1] && segs > seen / RUN_SEG_DROP + 1024) {
            lidx_builder_free(w->lb[i]);
            w->lb[i] = NULL;
        } else if (seen >= RUN_SEG_SETTLE && segs * RUN_KEYS_PER_SEG * 4 <= seen * 3) {
            /* A quarter inside the bound after many entries: this candidate
             * will be picked unless the rest of the keys turn irregular,
             * and even then it indexes them exactly.  The larger ones stop
             * here (in compactions their fitting was ~5 % of the CPU). */
            for (int j = i + 1; j < RUN_NEPS; j++) {
                lidx_builder_free(w->lb[j]);
                w->lb[j] = NULL;
            }
            break;
        }
    }
    return OMEN_OK;
}

/* The candidate to keep (see run_eps_cand). */
static int model_pick(const run_writer *w)
{
    int last = 0;
    for (int i = 0; i < RUN_NEPS; i++) {
        if (!w->lb[i]) continue;
        if ((uint64_t)lidx_builder_segments(w->lb[i]) * RUN_KEYS_PER_SEG <= w->n) return i;
        last = i;
    }
    return last;
}

int run_writer_add(run_writer *w, const void *key, size_t klen, uint64_t seq, int type, const void *val,
                   size_t vlen)
{
    if (!w) return omen_seterr(OMEN_INVALID, "run_writer_add: NULL writer");
    if (w->err) return omen_seterr(w->err, "run_writer_add: writer failed earlier");
    if ((klen && !key) || (vlen && !val) || seq > RUN_MAX_SEQ ||
        (type != RUN_TYPE_PUT && type != RUN_TYPE_DELETE) || (type == RUN_TYPE_DELETE && vlen))
        return omen_seterr(OMEN_INVALID, "run_writer_add: bad argument");
    if (klen > OMEN_MAX_KEY_LEN || vlen > OMEN_MAX_VALUE_LEN)
        return omen_seterr(OMEN_INVALID, "run_writer_add: key or value too long");
    if (klen < w->lcp_len || (w->lcp_len && memcmp(key, w->lcp, w->lcp_len) != 0))
        return omen_seterr(OMEN_INVALID, "run_writer_add: key outside [lcp_lo, lcp_hi]");
    int newkey = 1;
    if (w->n) {
        int c = keycmp(w->last_key, w->last_len, key, klen);
        if (c > 0 || (c == 0 && seq >= w->last_seq))
            return omen_seterr(OMEN_INVALID, "run_writer_add: entry out of order");
        newkey = c != 0;
    }
    if (w->keys_len + klen > RUN_KOFF_MASK || w->off + w->blen + vlen > RUN_KOFF_MASK)
        return omen_seterr(OMEN_INVALID, "run_writer_add: run too large");
    /* Remember the key first (order check of the next add). */
    if (klen > w->last_cap || !w->last_key) {
        uint8_t *nk = omen_realloc(w->last_key, klen ? klen : 1);
        if (!nk) return omen_seterr(OMEN_NOMEM, "run_writer_add: out of memory");
        w->last_key = nk;
        w->last_cap = klen;
    }
    if (w->n == 0) {
        w->first_key = omen_memdup(key, klen ? klen : 1);
        if (!w->first_key) return omen_seterr(OMEN_NOMEM, "run_writer_add: out of memory");
        w->first_len = klen;
    }

    /* From here on a failure leaves partial state: it is sticky. */
    int rc = OMEN_OK;
    uint64_t slot = slot_of(key, klen, w->lcp_len);
    uint8_t rec[RUN_REC_SIZE];
    uint32_t vblock = RUN_NO_BLOCK;
    uint64_t vpos = 0;
    if (vlen) {
        if (w->blen && w->blen + vlen > w->o.block_size) rc = flush_block(w);
        if (rc != OMEN_OK) goto fail;
        if (w->blen + vlen > w->bcap) {
            size_t nc = w->bcap ? w->bcap : w->o.block_size + 64;
            while (nc < w->blen + vlen)
                nc *= 2;
            uint8_t *nb = omen_realloc(w->blk, nc);
            if (!nb) {
                rc = omen_seterr(OMEN_NOMEM, "run_writer_add: out of memory");
                goto fail;
            }
            w->blk = nb;
            w->bcap = nc;
        }
        vblock = (uint32_t)w->nblocks;
        /* Uncompressed runs address values by file offset: the current
         * block's payload will start at w->off, the end of the file so far. */
        vpos = w->o.compression == OMEN_COMPRESS_NONE ? w->off + w->blen : w->blen;
        memcpy(w->blk + w->blen, val, vlen);
        w->blen += vlen;
    }
    put_fixed64(rec, (seq << 8) | (uint64_t)type);
    put_fixed64(rec + 8, slot_of(key, klen, w->lcp_len + 8));
    put_fixed64(rec + 16, vpos | ((uint64_t)klen << 48));
    put_fixed32(rec + 24, (uint32_t)vlen);
    put_fixed32(rec + 28, vblock);
    uint8_t koff[8];
    put_fixed64(koff, w->keys_len);
    if ((rc = model_add(w, slot)) != OMEN_OK) goto fail;
    if ((rc = spill_put(w, &w->sp[SP_SLOTS], SP_SLOTS, &slot, 8)) != OMEN_OK) goto fail;
    if ((rc = spill_put(w, &w->sp[SP_RECS], SP_RECS, rec, sizeof rec)) != OMEN_OK) goto fail;
    if ((rc = spill_put(w, &w->sp[SP_KOFFS], SP_KOFFS, koff, 8)) != OMEN_OK) goto fail;
    if (klen && (rc = spill_put(w, &w->sp[SP_KEYS], SP_KEYS, key, klen)) != OMEN_OK) goto fail;
    if (newkey) {
        uint64_t h = bloom_hash(key, klen);
        if ((rc = spill_put(w, &w->sp[SP_HASH], SP_HASH, &h, 8)) != OMEN_OK) goto fail;
        w->distinct++;
    }
    if (w->blen >= w->o.block_size && (rc = flush_block(w)) != OMEN_OK) goto fail;
    if (klen) memcpy(w->last_key, key, klen);
    w->last_len = klen;
    w->last_seq = seq;
    w->keys_len += klen;
    if (w->n == 0 || seq < w->min_seq) w->min_seq = seq;
    if (w->n == 0 || seq > w->max_seq) w->max_seq = seq;
    w->n++;
    return OMEN_OK;
fail:
    w->err = rc;
    return rc;
}

struct copy_ctx {
    run_writer *w;
    uint32_t crc;
};

static int copy_fn(void *ctx, const uint8_t *p, size_t n)
{
    struct copy_ctx *c = ctx;
    c->crc = crc32c(c->crc, p, n);
    return out_write(c->w, p, n);
}

struct hash_ctx {
    spill *s;
    uint8_t *chunk;
    size_t chunk_cap, have, at;
    uint64_t pos; /* bytes of the temp file consumed */
    int mem;      /* reading the in-memory tail */
};

static int hash_next(void *ctx, uint64_t *h)
{
    struct hash_ctx *c = ctx;
    if (c->at + 8 > c->have) {
        if (c->pos < c->s->on_disk) {
            size_t want = c->s->on_disk - c->pos < c->chunk_cap ? (size_t)(c->s->on_disk - c->pos)
                                                                : c->chunk_cap,
                   got;
            int rc = fio_pread(c->s->f, c->chunk, want, c->pos, &got);
            if (rc != OMEN_OK) return rc;
            if (got != want || got % 8)
                return omen_seterr(OMEN_IO, "run writer: temporary file %s shrank", c->s->path);
            c->pos += got;
            c->have = got;
            c->at = 0;
            c->mem = 0;
        } else if (!c->mem) {
            c->mem = 1;
            c->have = c->s->len;
            c->at = 0;
        }
        if (c->at + 8 > c->have) return omen_seterr(OMEN_IO, "run writer: hash spill too short");
    }
    const uint8_t *src = c->mem ? c->s->buf : c->chunk;
    memcpy(h, src + c->at, 8);
    c->at += 8;
    return OMEN_OK;
}

int run_writer_finish(run_writer *w, run_meta *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!w) return omen_seterr(OMEN_INVALID, "run_writer_finish: NULL writer");
    int rc = w->err;
    uint8_t *chunk = NULL, *model = NULL, *bloom = NULL;
    lidx *m = NULL;
    uint32_t crc[7] = {0}; /* slots, recs, koffs, keys, model, filter, block index */
    uint64_t slots_off = 0, recs_off, keys_off, model_off, bloom_off, bindex_off;
    size_t model_len = 0, bloom_len = 0;
    if (rc != OMEN_OK) {
        omen_seterr(rc, "run_writer_finish: writer failed earlier");
        goto fail;
    }
    if ((rc = flush_block(w)) != OMEN_OK) goto fail;
    uint64_t blocks_len = w->off - RUN_HEADER_SIZE;
    if ((rc = out_pad8(w)) != OMEN_OK) goto fail;
    chunk = omen_malloc(RUN_OBUF);
    if (!chunk) {
        rc = omen_seterr(OMEN_NOMEM, "run_writer_finish: out of memory");
        goto fail;
    }
    uint64_t sec_off[4];
    for (int i = 0; i < 4; i++) {
        struct copy_ctx cc = {w, 0};
        sec_off[i] = w->off;
        rc = spill_each(&w->sp[i], chunk, RUN_OBUF, copy_fn, &cc);
        if (rc != OMEN_OK) goto fail;
        crc[i] = cc.crc;
    }
    slots_off = sec_off[SP_SLOTS];
    recs_off = sec_off[SP_RECS];
    keys_off = sec_off[SP_KEYS];
    if ((rc = out_pad8(w)) != OMEN_OK) goto fail;

    /* Model. */
    model_off = w->off;
    int pick = model_pick(w);
    rc = lidx_builder_finish(w->lb[pick], &m);
    w->lb[pick] = NULL;
    if (rc != OMEN_OK) goto fail;
    model_len = lidx_serialized_size(m);
    model = omen_malloc(model_len ? model_len : 1);
    if (!model) {
        rc = omen_seterr(OMEN_NOMEM, "run_writer_finish: out of memory");
        goto fail;
    }
    size_t written;
    if ((rc = lidx_serialize(m, model, model_len, &written)) != OMEN_OK) goto fail;
    if (written != model_len) {
        rc = omen_seterr(OMEN_INVALID, "run_writer_finish: model size changed");
        goto fail;
    }
    crc[4] = crc32c(0, model, model_len);
    if ((rc = out_write(w, model, model_len)) != OMEN_OK) goto fail;

    /* Bloom filter over the distinct user keys. */
    bloom_off = w->off;
    bloom_len = bloom_image_size(w->distinct, w->o.bloom_bits_per_key);
    bloom = omen_malloc(bloom_len);
    if (!bloom) {
        rc = omen_seterr(OMEN_NOMEM, "run_writer_finish: out of memory");
        goto fail;
    }
    struct hash_ctx hc = {&w->sp[SP_HASH], chunk, RUN_OBUF & ~(size_t)7, 0, 0, 0, 0};
    rc = bloom_build(w->distinct, w->o.bloom_bits_per_key, hash_next, &hc, bloom, bloom_len);
    if (rc != OMEN_OK) goto fail;
    crc[5] = crc32c(0, bloom, bloom_len);
    if ((rc = out_write(w, bloom, bloom_len)) != OMEN_OK) goto fail;

    /* Block index. */
    bindex_off = w->off;
    crc[6] = crc32c(0, w->bindex, w->nblocks * RUN_BINDEX_SIZE);
    if ((rc = out_write(w, w->bindex, w->nblocks * RUN_BINDEX_SIZE)) != OMEN_OK) goto fail;

    uint8_t ft[RUN_FOOTER_SIZE];
    memset(ft, 0, sizeof ft);
    put_fixed64(ft + 0, RUN_HEADER_SIZE);
    put_fixed64(ft + 8, blocks_len);
    put_fixed64(ft + 16, w->nblocks);
    put_fixed64(ft + 24, slots_off);
    put_fixed64(ft + 32, w->n);
    put_fixed64(ft + 40, recs_off);
    put_fixed64(ft + 48, keys_off);
    put_fixed64(ft + 56, w->keys_len);
    put_fixed64(ft + 64, model_off);
    put_fixed64(ft + 72, model_len);
    put_fixed64(ft + 80, bloom_off);
    put_fixed64(ft + 88, bloom_len);
    put_fixed64(ft + 96, bindex_off);
    put_fixed64(ft + 104, w->n ? w->min_seq : 0);
    put_fixed64(ft + 112, w->n ? w->max_seq : 0);
    put_fixed32(ft + 120, w->n ? (uint32_t)w->lcp_len : 0); /* no key 0 to hold it */
    put_fixed32(ft + 124, (uint32_t)w->o.compression);
    put_fixed32(ft + 128, crc32c_mask(crc[0]));
    put_fixed32(ft + 132, crc32c_mask(crc[1]));
    put_fixed32(ft + 136, crc32c_mask(crc[3]));
    put_fixed32(ft + 140, crc32c_mask(crc[4]));
    put_fixed32(ft + 144, crc32c_mask(crc[5]));
    put_fixed32(ft + 148, crc32c_mask(crc[6]));
    put_fixed32(ft + 152, crc32c_mask(crc[2]));
    put_fixed32(ft + 156, crc32c_mask(crc32c(0, ft, 156)));
    put_fixed32(ft + 160, RUN_VERSION);
    put_fixed32(ft + 164, 0);
    memcpy(ft + 168, RUN_MAGIC, 8);
    if ((rc = out_write(w, ft, sizeof ft)) != OMEN_OK) goto fail;
    if ((rc = out_flush(w)) != OMEN_OK) goto fail;
    if ((rc = fio_sync(w->f)) != OMEN_OK) goto fail;
    rc = fio_close(w->f);
    w->f = NULL;
    if (rc != OMEN_OK) goto fail;
    if (out) {
        out->entries = w->n;
        out->file_size = w->off;
        out->min_seq = w->n ? w->min_seq : 0;
        out->max_seq = w->n ? w->max_seq : 0;
        out->index_bytes = model_len;
        out->filter_bytes = bloom_len;
        if (w->n) {
            /* Hand over the key buffers instead of copying them. */
            out->smallest = w->first_key;
            out->smallest_len = w->first_len;
            out->largest = w->last_key;
            out->largest_len = w->last_len;
            w->first_key = w->last_key = NULL;
        }
    }
    lidx_free(m);
    omen_free(model);
    omen_free(bloom);
    omen_free(chunk);
    writer_free(w, 0);
    return OMEN_OK;
fail:
    lidx_free(m);
    omen_free(model);
    omen_free(bloom);
    omen_free(chunk);
    writer_free(w, 1);
    return rc;
}

void run_writer_abort(run_writer *w)
{
    writer_free(w, 1);
}

/* ====================================================================== */
/* Reader                                                                   */
/* ====================================================================== */

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
    size_t hot_map;             /* nonzero: hot_alloc is omen_map_huge'd, this long */
    char *path;
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

static int check_crc(const run *r, const char *what, const uint8_t *p, uint64_t n, uint32_t stored)
{
    if (run_test_skip_checksums) return OMEN_OK;
    if (crc32c_mask(crc32c(0, p, (size_t)n)) != stored)
        return omen_seterr(OMEN_CORRUPT, "run %s: %s checksum mismatch", r->path, what);
    return OMEN_OK;
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
static int verify_block(const run *r, uint64_t b)
{
    uint64_t off;
    int type;
    uint32_t plen, raw;
    block_info(r, b, &off, &type, &plen, &raw);
    const uint8_t *p = r->map + off;
    if (p[plen] != type)
        return omen_seterr(OMEN_CORRUPT, "run %s: block %llu type byte mismatch", r->path,
                           (unsigned long long)b);
    if (run_test_skip_checksums) return OMEN_OK;
    uint32_t c = crc32c(0, p, (size_t)plen + 1);
    if (crc32c_mask(c) != get_fixed32(p + plen + 1))
        return omen_seterr(OMEN_CORRUPT, "run %s: value block %llu checksum mismatch (offset %llu)", r->path,
                           (unsigned long long)b, (unsigned long long)off);
    return OMEN_OK;
}

/* Verify a raw block once per open. */
static inline int raw_block_ok(const run *r, uint64_t b)
{
    uint64_t bit = UINT64_C(1) << (b & 63);
    if (atomic_load_explicit(&r->verified[b >> 6], memory_order_relaxed) & bit) return OMEN_OK;
    int rc = verify_block(r, b);
    if (rc == OMEN_OK) atomic_fetch_or_explicit(&r->verified[b >> 6], bit, memory_order_relaxed);
    return rc;
}

/* The decompressed content of a compressed block b.  With a cache *h holds
 * the pinning handle; without, *own receives a buffer the caller frees. */
static int load_block(const run *r, uint64_t b, cache_handle **h, uint8_t **own, const uint8_t **data)
{
    uint64_t off;
    int type;
    uint32_t plen, raw;
    block_info(r, b, &off, &type, &plen, &raw);
    *h = NULL;
    *own = NULL;
    if (type == OMEN_COMPRESS_NONE) {
        int rc = raw_block_ok(r, b);
        if (rc != OMEN_OK) return rc;
        *data = r->map + off;
        return OMEN_OK;
    }
    if (r->cache) {
        *h = cache_lookup(r->cache, r->number, b);
        if (*h) {
            *data = cache_handle_data(*h, NULL);
            return OMEN_OK;
        }
    }
    int rc = verify_block(r, b);
    if (rc != OMEN_OK) return rc;
    uint8_t *buf = omen_malloc(raw ? raw : 1);
    if (!buf) return omen_seterr(OMEN_NOMEM, "run %s: out of memory for a block", r->path);
    rc = decompress_block(type, r->map + off, plen, buf, raw);
    if (rc != OMEN_OK) {
        omen_free(buf);
        return omen_seterr(rc, "run %s: value block %llu: %s", r->path, (unsigned long long)b,
                           omen_last_error());
    }
    if (r->cache) {
        rc = cache_insert(r->cache, r->number, b, buf, raw, raw, h);
        if (rc != OMEN_OK) return rc; /* buf freed by the cache */
        *data = cache_handle_data(*h, NULL);
        return OMEN_OK;
    }
    *own = buf;
    *data = buf;
    return OMEN_OK;
}

static int validate(run *r, const uint8_t *ft)
{
    uint64_t size = r->size;
    uint64_t blocks_off = get_fixed64(ft + 0), blocks_len = get_fixed64(ft + 8);
    uint64_t nblocks = get_fixed64(ft + 16), slots_off = get_fixed64(ft + 24);
    uint64_t n = get_fixed64(ft + 32), recs_off = get_fixed64(ft + 40);
    uint64_t keys_off = get_fixed64(ft + 48), keys_len = get_fixed64(ft + 56);
    uint64_t model_off = get_fixed64(ft + 64), model_len = get_fixed64(ft + 72);
    uint64_t bloom_off = get_fixed64(ft + 80), bloom_len = get_fixed64(ft + 88);
    uint64_t bindex_off = get_fixed64(ft + 96);
    uint64_t min_seq = get_fixed64(ft + 104), max_seq = get_fixed64(ft + 112);
    uint32_t lcp_len = get_fixed32(ft + 120), comp = get_fixed32(ft + 124);
    uint64_t body = size - RUN_FOOTER_SIZE;
    const char *p = r->path;

    /* The sections tile the file exactly; each bound is checked before it
     * is used in the next sum, so nothing overflows. */
    if (blocks_off != RUN_HEADER_SIZE || blocks_len > body - blocks_off)
        return omen_seterr(OMEN_CORRUPT, "run %s: bad value-block section", p);
    r->blocks_off = blocks_off;
    r->blocks_end = blocks_off + blocks_len;
    if (slots_off != align8(r->blocks_end) || n > (body - slots_off) / (16 + RUN_REC_SIZE))
        return omen_seterr(OMEN_CORRUPT, "run %s: bad slot section", p);
    if (recs_off != slots_off + 8 * n || keys_off != recs_off + (RUN_REC_SIZE + 8) * n ||
        keys_len > body - keys_off || keys_len > RUN_KOFF_MASK)
        return omen_seterr(OMEN_CORRUPT, "run %s: bad key section", p);
    if (model_off != align8(keys_off + keys_len) || model_off > body || model_len > body - model_off)
        return omen_seterr(OMEN_CORRUPT, "run %s: bad model section", p);
    if (bloom_off != model_off + model_len || bloom_len > body - bloom_off)
        return omen_seterr(OMEN_CORRUPT, "run %s: bad filter section", p);
    if (bindex_off != bloom_off + bloom_len || nblocks >= RUN_NO_BLOCK ||
        nblocks > (body - bindex_off) / RUN_BINDEX_SIZE || bindex_off + nblocks * RUN_BINDEX_SIZE != body)
        return omen_seterr(OMEN_CORRUPT, "run %s: bad block index section", p);
    if (!compress_type_valid((int)comp) || (n == 0 && (min_seq || max_seq)) || min_seq > max_seq ||
        max_seq > RUN_MAX_SEQ || get_fixed32(ft + 164) || (n == 0 && lcp_len) || lcp_len > OMEN_MAX_KEY_LEN)
        return omen_seterr(OMEN_CORRUPT, "run %s: bad footer fields", p);

    r->n = n;
    r->koffs = r->map + recs_off + RUN_REC_SIZE * n;
    r->keys = r->map + keys_off;
    r->keys_len = keys_len;
    r->bindex = r->map + bindex_off;
    r->nblocks = nblocks;
    r->bloom_len = bloom_len;
    r->model_len = model_len;
    r->compression = (int)comp;
    r->min_seq = min_seq;
    r->max_seq = max_seq;

    /* The sections every point lookup touches -- slots, records, filter --
     * are copied into memory, on transparent huge pages when large: a
     * lookup then takes no TLB miss on them (random probes over a 4 KiB-page
     * file mapping cost a page walk per section), only the value's page
     * remains in the map.  The checksums below are checked on the copy, so
     * what is verified is exactly what is used. */
    /* Records start on a cache line so that none straddles two. */
    uint64_t recs_at = (8 * n + 63) & ~(uint64_t)63;
    uint64_t hot = recs_at + RUN_REC_SIZE * n + bloom_len;
    uint8_t *hotp;
    if (hot >= RUN_HOT_HUGE_MIN) {
        r->hot_map = omen_huge_len((size_t)hot);
        hotp = r->hot_alloc = omen_map_huge(r->hot_map);
    } else {
        r->hot_alloc = omen_malloc((size_t)hot + 64);
        hotp = (uint8_t *)(((uintptr_t)r->hot_alloc + 63) & ~(uintptr_t)63);
    }
    if (!r->hot_alloc) return omen_seterr(OMEN_NOMEM, "run %s: out of memory", p);
    memcpy(hotp, r->map + slots_off, 8 * n);
    memcpy(hotp + recs_at, r->map + recs_off, RUN_REC_SIZE * n);
    memcpy(hotp + recs_at + RUN_REC_SIZE * n, r->map + bloom_off, bloom_len);
    r->slots = (const uint64_t *)(const void *)hotp;
    r->recs = hotp + recs_at;
    r->bloom = hotp + recs_at + RUN_REC_SIZE * n;

    int rc;
    if ((rc = check_crc(r, "slot array", (const uint8_t *)r->slots, 8 * n, get_fixed32(ft + 128))) ||
        (rc = check_crc(r, "entry records", r->recs, RUN_REC_SIZE * n, get_fixed32(ft + 132))) ||
        (rc = check_crc(r, "key offsets", r->koffs, 8 * n, get_fixed32(ft + 152))) ||
        (rc = check_crc(r, "key bytes", r->keys, keys_len, get_fixed32(ft + 136))) ||
        (rc = check_crc(r, "model", r->map + model_off, model_len, get_fixed32(ft + 140))) ||
        (rc = check_crc(r, "filter", r->bloom, bloom_len, get_fixed32(ft + 144))) ||
        (rc = check_crc(r, "block index", r->bindex, nblocks * RUN_BINDEX_SIZE, get_fixed32(ft + 148))))
        return rc;
    if (bloom_check_image(r->bloom, bloom_len) != OMEN_OK)
        return omen_seterr(OMEN_CORRUPT, "run %s: %s", p, omen_last_error());
    rc = lidx_deserialize(r->map + model_off, model_len, &r->model);
    if (rc != OMEN_OK) return omen_seterr(rc, "run %s: model: %s", p, omen_last_error());
    if (lidx_nkeys(r->model) != n)
        return omen_seterr(OMEN_CORRUPT, "run %s: model covers %zu keys, run has %llu", p,
                           lidx_nkeys(r->model), (unsigned long long)n);

    /* Blocks tile the value section in order. */
    uint64_t expect = blocks_off;
    for (uint64_t b = 0; b < nblocks; b++) {
        uint64_t off;
        int type;
        uint32_t plen, raw;
        block_info(r, b, &off, &type, &plen, &raw);
        if (off != expect || !compress_type_valid(type) ||
            (uint64_t)plen + RUN_BLOCK_TRAILER > r->blocks_end - off || raw > RUN_MAX_RAW_BLOCK ||
            (type == OMEN_COMPRESS_NONE && raw != plen) ||
            (comp == OMEN_COMPRESS_NONE && type != OMEN_COMPRESS_NONE))
            return omen_seterr(OMEN_CORRUPT, "run %s: block index entry %llu is invalid", p,
                               (unsigned long long)b);
        expect = off + plen + RUN_BLOCK_TRAILER;
    }
    if (expect != r->blocks_end)
        return omen_seterr(OMEN_CORRUPT, "run %s: value blocks do not fill their section", p);

    /* Every record points inside the file.  The same pass fits the
     * value-offset hint of a raw run (see lmap.h): values are packed in
     * entry order, so offsets grow with the position; entries without a
     * value are skipped.  The map is only a prefetch hint, so a run whose
     * offsets are too irregular for the segment budget (1 per 32 entries),
     * or an allocation failure, just leaves it empty. */
    uint64_t smin = UINT64_MAX, smax = 0;
    int vmap_on = comp == OMEN_COMPRESS_NONE;
    lmap_init(&r->vmap, RUN_VMAP_EPS, n / 32 + 1);
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *rec = rec_at(r, i);
        uint64_t meta = ld64(rec), vpos = rec_vpos(rec), klen = rec_klen(rec);
        uint64_t koff = ld64(r->koffs + 8 * i), s = meta >> 8;
        uint32_t vlen = ld32(rec + 24), vb = ld32(rec + 28);
        int t = (int)(meta & 0xff);
        if ((t != RUN_TYPE_PUT && t != RUN_TYPE_DELETE) || klen > OMEN_MAX_KEY_LEN || koff > keys_len ||
            klen > keys_len - koff || (t == RUN_TYPE_DELETE && vlen) || klen < lcp_len)
            return omen_seterr(OMEN_CORRUPT, "run %s: entry %llu is invalid", p, (unsigned long long)i);
        if (vlen) {
            uint64_t off;
            int type;
            uint32_t plen, raw;
            if (vb >= nblocks)
                return omen_seterr(OMEN_CORRUPT, "run %s: entry %llu names a missing block", p,
                                   (unsigned long long)i);
            block_info(r, vb, &off, &type, &plen, &raw);
            int bad = comp == OMEN_COMPRESS_NONE
                          ? (vpos < off || vpos > off + plen || vlen > off + plen - vpos)
                          : (vpos > raw || vlen > raw - vpos);
            if (bad)
                return omen_seterr(OMEN_CORRUPT, "run %s: entry %llu value out of its block", p,
                                   (unsigned long long)i);
            if (vmap_on && lmap_add(&r->vmap, i, vpos) != OMEN_OK) {
                lmap_free(&r->vmap);
                omen_clearerr();
                vmap_on = 0;
            }
        }
        if (s < smin) smin = s;
        if (s > smax) smax = s;
    }
    if (vmap_on) lmap_finish(&r->vmap);
    if (n && (smin != min_seq || smax != max_seq))
        return omen_seterr(OMEN_CORRUPT, "run %s: sequence range does not match the footer", p);
    if (n) {
        size_t k0;
        r->lcp = key_at(r, 0, &k0);
        r->lcp_len = lcp_len; /* every key has >= lcp_len bytes (checked above) */
    }
    return OMEN_OK;
}

int run_open(const char *path, uint64_t file_number, block_cache *cache, run **out)
{
    if (!out) return omen_seterr(OMEN_INVALID, "run_open: NULL out");
    *out = NULL;
    if (!path) return omen_seterr(OMEN_INVALID, "run_open: NULL path");
    run *r = omen_calloc(1, sizeof *r);
    if (!r) return omen_seterr(OMEN_NOMEM, "run_open: out of memory");
    r->number = file_number;
    r->cache = cache;
    r->path = omen_strdup(path);
    fio_file *f = NULL;
    int rc;
    if (!r->path) {
        rc = omen_seterr(OMEN_NOMEM, "run_open: out of memory");
        goto fail;
    }
    if ((rc = fio_open(path, FIO_READ, &f)) != OMEN_OK) goto fail;
    if ((rc = fio_size(f, &r->size)) != OMEN_OK) goto fail;
    if (r->size < RUN_HEADER_SIZE + RUN_FOOTER_SIZE) {
        rc = omen_seterr(OMEN_CORRUPT, "run %s: file too short (%llu bytes)", path,
                         (unsigned long long)r->size);
        goto fail;
    }
    const void *map;
    if ((rc = fio_mmap(f, r->size, &map)) != OMEN_OK) goto fail;
    r->map = map;
    /* A hint: where the page cache holds large folios (or reads them in for
     * a huge-page mapping), values are reached without 4 KiB page walks. */
    madvise((void *)map, r->size, MADV_HUGEPAGE);
    fio_close(f);
    f = NULL;
    const uint8_t *ft = r->map + r->size - RUN_FOOTER_SIZE;
    if (memcmp(r->map, RUN_MAGIC, 8) != 0 || memcmp(ft + 168, RUN_MAGIC, 8) != 0) {
        rc = omen_seterr(OMEN_CORRUPT, "run %s: bad magic (not a run file, or truncated)", path);
        goto fail;
    }
    uint32_t hv = get_fixed32(r->map + 8), fv = get_fixed32(ft + 160);
    if (crc32c_mask(crc32c(0, ft, 156)) != get_fixed32(ft + 156) && !run_test_skip_checksums) {
        rc = omen_seterr(OMEN_CORRUPT, "run %s: footer checksum mismatch", path);
        goto fail;
    }
    if (hv != fv || get_fixed32(r->map + 12) != 0) {
        rc = omen_seterr(OMEN_CORRUPT, "run %s: header does not match footer", path);
        goto fail;
    }
    if (fv != RUN_VERSION) {
        rc = omen_seterr(fv > RUN_VERSION ? OMEN_VERSION : OMEN_CORRUPT,
                         "run %s: unsupported format version %u", path, fv);
        goto fail;
    }
    if ((rc = validate(r, ft)) != OMEN_OK) goto fail;
    r->verified = omen_calloc(r->nblocks / 64 + 1, sizeof *r->verified);
    if (!r->verified) {
        rc = omen_seterr(OMEN_NOMEM, "run_open: out of memory");
        goto fail;
    }
    *out = r;
    return OMEN_OK;
fail:
    if (f) fio_close(f);
    run_close(r);
    return rc;
}

void run_close(run *r)
{
    if (!r) return;
    if (r->map) fio_munmap(r->map, r->size);
    lidx_free(r->model);
    lmap_free(&r->vmap);
    if (r->hot_map)
        omen_unmap_huge(r->hot_alloc, r->hot_map);
    else
        omen_free(r->hot_alloc);
    omen_free(r->verified);
    omen_free(r->path);
    omen_free(r);
}

uint64_t run_entries(const run *r)
{
    return r ? r->n : 0;
}
uint64_t run_file_size(const run *r)
{
    return r ? r->size : 0;
}
uint64_t run_index_bytes(const run *r)
{
    return r ? r->model_len : 0;
}
unsigned run_index_epsilon(const run *r)
{
    return r ? lidx_epsilon(r->model) : 0;
}
uint64_t run_filter_bytes(const run *r)
{
    return r ? r->bloom_len : 0;
}
uint64_t run_min_seq(const run *r)
{
    return r ? r->min_seq : 0;
}
uint64_t run_max_seq(const run *r)
{
    return r ? r->max_seq : 0;
}
uint64_t run_file_number(const run *r)
{
    return r ? r->number : 0;
}

const void *run_smallest(const run *r, size_t *len)
{
    if (!r || r->n == 0) {
        if (len) *len = 0;
        return NULL;
    }
    size_t l;
    const void *k = key_at(r, 0, &l);
    if (len) *len = l;
    return k;
}

const void *run_largest(const run *r, size_t *len)
{
    if (!r || r->n == 0) {
        if (len) *len = 0;
        return NULL;
    }
    size_t l;
    const void *k = key_at(r, r->n - 1, &l);
    if (len) *len = l;
    return k;
}

/* Start loading the value of entry i (raw runs: straight from the map)
 * before its record arrives: the value-offset map predicts where it lies
 * within RUN_VMAP_EPS bytes, so the value's TLB and cache misses overlap the
 * record's instead of following them.  Without a map, the record is read
 * and the value prefetched from it, which still overlaps the key
 * comparison that precedes the copy. */
static inline void prefetch_value(const run *r, uint64_t i)
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
static inline int rec_cmp(const run *r, uint64_t i, const uint8_t *q, size_t qlen, uint64_t qext)
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
static inline uint64_t lower_bound(const run *r, const uint8_t *q, size_t qlen, const uint64_t *bloom_h,
                                   int *exact)
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
    if (bloom_h) prefetch_value(r, lo);
    c = rec_cmp(r, lo, q, qlen, qext);
    if (c >= 0) {
        if (exact) *exact = c == 0;
        return lo;
    }
    uint64_t hi = qs == UINT64_MAX ? n : lidx_lower_bound(r->model, r->slots, n, qs + 1);
    lo++;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (rec_cmp(r, mid, q, qlen, qext) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (exact && lo < n && r->slots[lo] == qs) *exact = rec_cmp(r, lo, q, qlen, qext) == 0;
    return lo;
}

/* Position of the newest version of q, or n if q is absent.  The prefix
 * check and bloom filter reject most absent keys before the search. */
static inline uint64_t find_key(const run *r, const uint8_t *q, size_t qlen)
{
    uint64_t n = r->n;
    if (n == 0) return 0;
    if (qlen < r->lcp_len || (r->lcp_len && memcmp(q, r->lcp, r->lcp_len) != 0)) return n;
    uint64_t h = bloom_hash(q, qlen);
    bloom_prefetch(r->bloom, h);
    int exact;
    uint64_t i = lower_bound(r, q, qlen, &h, &exact);
    return exact ? i : n;
}

int run_vdst_put(const run_vdst *d, const void *src, size_t len, size_t *vlen)
{
    if (d->val) {
        void *p = omen_malloc(len ? len : 1);
        if (!p) return omen_seterr(OMEN_NOMEM, "out of memory copying a %zu-byte value", len);
        if (len) memcpy(p, src, len);
        *d->val = p;
    } else if (len && d->cap) {
        memcpy(d->buf, src, len < d->cap ? len : d->cap);
    }
    if (vlen) *vlen = len;
    return OMEN_OK;
}

/* Hand the value of record rec to d (its block checked first). */
static int read_value(const run *r, const uint8_t *rec, const run_vdst *d, size_t *vlen)
{
    uint32_t len = ld32(rec + 24);
    if (len == 0) return run_vdst_put(d, NULL, 0, vlen);
    uint64_t vpos = rec_vpos(rec);
    uint32_t b = ld32(rec + 28);
    if (r->compression == OMEN_COMPRESS_NONE) {
        int rc = raw_block_ok(r, b);
        return rc != OMEN_OK ? rc : run_vdst_put(d, r->map + vpos, len, vlen);
    }
    cache_handle *h;
    uint8_t *own;
    const uint8_t *data;
    int rc = load_block(r, b, &h, &own, &data);
    if (rc != OMEN_OK) return rc;
    rc = run_vdst_put(d, data + vpos, len, vlen);
    cache_release(r->cache, h);
    omen_free(own);
    return rc;
}

int run_get_to(run *r, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type,
               const run_vdst *d, size_t *vlen)
{
    if (vlen) *vlen = 0;
    if (d && d->val) *d->val = NULL;
    if (!r || (klen && !key)) return omen_seterr(OMEN_INVALID, "run_get: bad argument");
    uint64_t n = r->n;
    uint64_t i = find_key(r, key, klen);
    /* Older versions follow; the slot and record tell where they end
     * without reading the key bytes. */
    uint64_t qext = i < n ? slot_of(key, klen, r->lcp_len + 8) : 0;
    for (uint64_t j = i; j < n; j++) {
        const uint8_t *rec = rec_at(r, j);
        if (j != i && (r->slots[j] != r->slots[i] || rec_cmp(r, j, key, klen, qext) != 0)) break;
        uint64_t meta = ld64(rec);
        if ((meta >> 8) > snap) continue;
        int t = (int)(meta & 0xff);
        if (seq) *seq = meta >> 8;
        if (type) *type = t;
        if (t == RUN_TYPE_PUT && d) return read_value(r, rec, d, vlen);
        return OMEN_OK;
    }
    return OMEN_NOTFOUND;
}

int run_get(run *r, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type, void **val,
            size_t *vlen)
{
    run_vdst d = {val, NULL, 0};
    return run_get_to(r, key, klen, snap, seq, type, val ? &d : NULL, vlen);
}

int run_get_into(run *r, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type,
                 void *buf, size_t cap, size_t *vlen)
{
    if (!buf && cap) return omen_seterr(OMEN_INVALID, "run_get_into: NULL buffer of %zu bytes", cap);
    run_vdst d = {NULL, buf, cap};
    return run_get_to(r, key, klen, snap, seq, type, &d, vlen);
}

int run_latest_seq(run *r, const void *key, size_t klen, uint64_t *seq)
{
    if (!r || (klen && !key)) return omen_seterr(OMEN_INVALID, "run_latest_seq: bad argument");
    uint64_t i = find_key(r, key, klen);
    if (i >= r->n) return OMEN_NOTFOUND;
    if (seq) *seq = ld64(rec_at(r, i)) >> 8;
    return OMEN_OK;
}

/* ---- Iterator ---------------------------------------------------------- */

struct run_iter {
    run *r;
    uint64_t i; /* == r->n when not valid */
    int status;
    cache_handle *h; /* pinned decompressed block (compressed runs) */
    uint8_t *own;    /* or our own copy of it (no cache) */
    /* The block h/own/cur_data hold (compressed runs), or the raw block
     * last found verified (raw runs: a scan reads ~35 values per block). */
    uint64_t cur_block;
    const uint8_t *cur_data;
};

int run_iter_new(run *r, run_iter **out)
{
    if (!out) return omen_seterr(OMEN_INVALID, "run_iter_new: NULL out");
    *out = NULL;
    if (!r) return omen_seterr(OMEN_INVALID, "run_iter_new: NULL run");
    run_iter *it = omen_calloc(1, sizeof *it);
    if (!it) return omen_seterr(OMEN_NOMEM, "run_iter_new: out of memory");
    it->r = r;
    it->i = r->n;
    it->cur_block = UINT64_MAX;
    *out = it;
    return OMEN_OK;
}

static void iter_drop_block(run_iter *it)
{
    cache_release(it->r->cache, it->h);
    omen_free(it->own);
    it->h = NULL;
    it->own = NULL;
    it->cur_data = NULL;
    it->cur_block = UINT64_MAX;
}

void run_iter_free(run_iter *it)
{
    if (!it) return;
    iter_drop_block(it);
    omen_free(it);
}

void run_iter_seek_first(run_iter *it)
{
    if (it) it->i = 0;
}

void run_iter_seek_last(run_iter *it)
{
    if (it) it->i = it->r->n ? it->r->n - 1 : 0;
}

void run_iter_seek(run_iter *it, const void *key, size_t klen)
{
    if (!it) return;
    if (klen && !key) {
        it->i = it->r->n;
        return;
    }
    it->i = it->r->n ? lower_bound(it->r, key, klen, NULL, NULL) : 0;
}

void run_iter_seek_index(run_iter *it, uint64_t i)
{
    if (it) it->i = i < it->r->n ? i : it->r->n;
}

void run_iter_next(run_iter *it)
{
    if (it && it->i < it->r->n) it->i++;
}

void run_iter_prev(run_iter *it)
{
    if (!it || it->i >= it->r->n) return;
    it->i = it->i ? it->i - 1 : it->r->n;
}

/* The validity test for calls inside this file: the exported
 * run_iter_valid may be interposed in the shared library (-fPIC), so GCC
 * does not inline it, and the per-entry accessors below should not pay a
 * call for it. */
static inline int iter_ok(const run_iter *it)
{
    return it && it->i < it->r->n;
}

int run_iter_valid(const run_iter *it)
{
    return iter_ok(it);
}

const void *run_iter_key(const run_iter *it, size_t *klen)
{
    if (!iter_ok(it)) {
        if (klen) *klen = 0;
        return NULL;
    }
    size_t l;
    const void *k = key_at(it->r, it->i, &l);
    if (klen) *klen = l;
    return k;
}

uint64_t run_iter_seq(const run_iter *it)
{
    return iter_ok(it) ? ld64(rec_at(it->r, it->i)) >> 8 : 0;
}

int run_iter_type(const run_iter *it)
{
    return iter_ok(it) ? (int)(ld64(rec_at(it->r, it->i)) & 0xff) : RUN_TYPE_DELETE;
}

int run_iter_entry(const run_iter *it, const void **key, size_t *klen, uint64_t *seq, int *type)
{
    if (!iter_ok(it)) return 0;
    *key = key_at(it->r, it->i, klen);
    uint64_t meta = ld64(rec_at(it->r, it->i));
    *seq = meta >> 8;
    *type = (int)(meta & 0xff);
    return 1;
}

int run_iter_value(run_iter *it, const void **val, size_t *vlen)
{
    static const uint8_t empty[1];
    if (val) *val = NULL;
    if (vlen) *vlen = 0;
    if (!iter_ok(it) || !val) return omen_seterr(OMEN_INVALID, "run_iter_value: not valid");
    run *r = it->r;
    const uint8_t *rec = rec_at(r, it->i);
    uint32_t len = ld32(rec + 24);
    if (len == 0) {
        *val = empty;
        return OMEN_OK;
    }
    uint64_t vpos = rec_vpos(rec);
    uint32_t b = ld32(rec + 28);
    int rc = OMEN_OK;
    if (r->compression == OMEN_COMPRESS_NONE) {
        if (it->cur_block != b) {
            rc = raw_block_ok(r, b);
            if (rc == OMEN_OK) it->cur_block = b;
        }
        if (rc == OMEN_OK) *val = r->map + vpos;
    } else {
        if (it->cur_block != b) {
            iter_drop_block(it);
            rc = load_block(r, b, &it->h, &it->own, &it->cur_data);
            if (rc == OMEN_OK) it->cur_block = b;
        } else {
            rc = OMEN_OK;
        }
        if (rc == OMEN_OK) *val = it->cur_data + vpos;
    }
    if (rc != OMEN_OK) {
        if (it->status == OMEN_OK) it->status = rc;
        return rc;
    }
    if (vlen) *vlen = len;
    return OMEN_OK;
}

int run_iter_status(const run_iter *it)
{
    return it ? it->status : OMEN_INVALID;
}

/* ---- Verification ------------------------------------------------------ */

#define RUN_VERIFY_MAX_FINDINGS 20

struct vctx {
    void (*report)(void *ctx, const char *line);
    void *ctx;
    int rc;
    int findings;
};

static void finding(struct vctx *v, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void finding(struct vctx *v, int code, const char *fmt, ...)
{
    if (v->rc == OMEN_OK) v->rc = code;
    if (++v->findings > RUN_VERIFY_MAX_FINDINGS || !v->report) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    v->report(v->ctx, line);
}

int run_verify(const char *path, void (*report)(void *ctx, const char *line), void *ctx)
{
    struct vctx v = {report, ctx, OMEN_OK, 0};
    run *r = NULL;
    if (!path) return omen_seterr(OMEN_INVALID, "run_verify: NULL path");
    int rc = run_open(path, 0, NULL, &r);
    if (rc != OMEN_OK) {
        finding(&v, rc, "%s", omen_last_error());
        return rc;
    }
    uint64_t n = r->n;
    /* Every value block: crc, and compressed blocks must decompress. */
    for (uint64_t b = 0; b < r->nblocks; b++) {
        cache_handle *h;
        uint8_t *own;
        const uint8_t *data;
        rc = load_block(r, b, &h, &own, &data);
        if (rc != OMEN_OK) finding(&v, rc, "%s", omen_last_error());
        omen_free(own);
    }
    /* Padding must be zero. */
    const uint8_t *pad = r->map + r->blocks_end;
    for (; pad < r->map + align8(r->blocks_end); pad++) /* the slots start there */
        if (*pad) {
            finding(&v, OMEN_CORRUPT, "run %s: non-zero padding after the value blocks", path);
            break;
        }
    for (pad = r->keys + r->keys_len; pad < r->map + align8((uint64_t)(r->keys + r->keys_len - r->map));
         pad++)
        if (*pad) {
            finding(&v, OMEN_CORRUPT, "run %s: non-zero padding after the key bytes", path);
            break;
        }
    /* Keys: order, prefix, slots, model, bloom. */
    uint64_t model_bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t kl;
        const uint8_t *k = key_at(r, i, &kl);
        uint64_t seq = ld64(rec_at(r, i)) >> 8;
        if (r->lcp_len && memcmp(k, r->lcp, r->lcp_len) != 0)
            finding(&v, OMEN_CORRUPT, "run %s: entry %llu lacks the common prefix", path,
                    (unsigned long long)i);
        if (r->slots[i] != slot_of(k, kl, r->lcp_len) ||
            ld64(rec_at(r, i) + 8) != slot_of(k, kl, r->lcp_len + 8))
            finding(&v, OMEN_CORRUPT, "run %s: entry %llu has a wrong slot", path, (unsigned long long)i);
        int newkey = 1;
        if (i) {
            size_t pl;
            const uint8_t *pk = key_at(r, i - 1, &pl);
            int c = keycmp(pk, pl, k, kl);
            uint64_t pseq = ld64(rec_at(r, i - 1)) >> 8;
            if (c > 0 || (c == 0 && pseq <= seq))
                finding(&v, OMEN_CORRUPT, "run %s: entries %llu and %llu out of order", path,
                        (unsigned long long)(i - 1), (unsigned long long)i);
            newkey = c != 0;
            if (r->slots[i] < r->slots[i - 1])
                finding(&v, OMEN_CORRUPT, "run %s: slots %llu and %llu out of order", path,
                        (unsigned long long)(i - 1), (unsigned long long)i);
        }
        if (i == 0 || r->slots[i] != r->slots[i - 1]) {
            uint64_t got = lidx_lower_bound(r->model, r->slots, n, r->slots[i]);
            if (got != i && model_bad++ < 5)
                finding(&v, OMEN_CORRUPT, "run %s: model finds slot of entry %llu at position %llu", path,
                        (unsigned long long)i, (unsigned long long)got);
        }
        if (newkey && !bloom_may_contain(r->bloom, bloom_hash(k, kl)))
            finding(&v, OMEN_CORRUPT, "run %s: filter misses the key of entry %llu", path,
                    (unsigned long long)i);
        if (newkey && lower_bound(r, k, kl, NULL, NULL) != i)
            finding(&v, OMEN_CORRUPT, "run %s: lookup of entry %llu's key lands elsewhere", path,
                    (unsigned long long)i);
    }
    if (v.findings > RUN_VERIFY_MAX_FINDINGS && report) {
        char line[160];
        snprintf(line, sizeof line, "run %s: %d further findings not shown", path,
                 v.findings - RUN_VERIFY_MAX_FINDINGS);
        report(ctx, line);
    }
    if (v.rc == OMEN_OK && report) {
        char line[600];
        snprintf(line, sizeof line,
                 "run %s: ok (%llu entries, %llu blocks, model %llu bytes, filter %llu bytes)", path,
                 (unsigned long long)n, (unsigned long long)r->nblocks, (unsigned long long)r->model_len,
                 (unsigned long long)r->bloom_len);
        report(ctx, line);
    }
    run_close(r);
    if (v.rc != OMEN_OK) omen_seterr(v.rc, "run %s: verification found %d problem(s)", path, v.findings);
    return v.rc;
}

/* ---- Batched point lookup ---------------------------------------------- */

/* Queries per pass: enough independent misses in flight to hide memory
 * latency, few enough that their bloom lines and slot windows are still in
 * cache when the next phase reads them. */
#define RUN_BATCH 64

/* One group of at most RUN_BATCH queries, in phases so each phase's memory
 * misses overlap instead of following one another: prefix check and bloom
 * prefetch; bloom probe and slot; the model's batch lower_bound over the
 * slots (lidx_lower_bound_batch); record and value prefetch; then the
 * exact match and version walk of run_get_to. */
static int get_group(run *r, uint64_t snap, run_getq *q, size_t n)
{
    uint64_t h[RUN_BATCH], qs[RUN_BATCH];
    size_t live[RUN_BATCH], pos[RUN_BATCH];
    size_t m = 0;
    const uint64_t rn = r->n;
    for (size_t i = 0; i < n; i++) {
        q[i].rc = OMEN_NOTFOUND;
        if (rn == 0 || q[i].klen < r->lcp_len ||
            (r->lcp_len && memcmp(q[i].key, r->lcp, r->lcp_len) != 0))
            continue;
        h[m] = bloom_hash(q[i].key, q[i].klen);
        bloom_prefetch(r->bloom, h[m]);
        live[m++] = i;
    }
    size_t k = 0;
    for (size_t j = 0; j < m; j++) {
        if (!bloom_may_contain(r->bloom, h[j])) continue;
        const run_getq *x = &q[live[j]];
        qs[k] = slot_of(x->key, x->klen, r->lcp_len);
        live[k++] = live[j];
    }
    if (k == 0) return OMEN_OK;
    lidx_lower_bound_batch(r->model, r->slots, rn, qs, k, pos);
    for (size_t j = 0; j < k; j++)
        if (pos[j] < rn && r->slots[pos[j]] == qs[j]) {
            __builtin_prefetch(rec_at(r, pos[j]));
            prefetch_value(r, pos[j]);
        }
    for (size_t j = 0; j < k; j++) {
        run_getq *x = &q[live[j]];
        uint64_t lo = pos[j];
        if (lo >= rn || r->slots[lo] != qs[j]) continue;
        const uint8_t *key = x->key;
        uint64_t qext = slot_of(key, x->klen, r->lcp_len + 8);
        int c = rec_cmp(r, lo, key, x->klen, qext);
        if (c < 0) {
            /* slot tie: settle among the entries of equal slot by full key */
            uint64_t hi = qs[j] == UINT64_MAX ? rn : lidx_lower_bound(r->model, r->slots, rn, qs[j] + 1);
            lo++;
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (rec_cmp(r, mid, key, x->klen, qext) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            c = lo < rn && r->slots[lo] == qs[j] ? rec_cmp(r, lo, key, x->klen, qext) : 1;
        }
        if (c != 0) continue;
        for (uint64_t i = lo; i < rn; i++) {
            const uint8_t *rec = rec_at(r, i);
            if (i != lo && (r->slots[i] != r->slots[lo] || rec_cmp(r, i, key, x->klen, qext) != 0)) break;
            uint64_t meta = ld64(rec);
            if ((meta >> 8) > snap) continue;
            x->seq = meta >> 8;
            x->type = (int)(meta & 0xff);
            x->rc = OMEN_OK;
            if (x->type == RUN_TYPE_PUT) {
                int rc = read_value(r, rec, &x->d, x->vlen);
                if (rc != OMEN_OK) {
                    x->rc = rc;
                    return rc;
                }
            }
            break;
        }
    }
    return OMEN_OK;
}

int run_get_batch(run *r, uint64_t snap, run_getq *q, size_t n)
{
    if (!r || (n && !q)) return omen_seterr(OMEN_INVALID, "run_get_batch: bad argument");
    for (size_t i = 0; i < n; i++) {
        if ((q[i].klen && !q[i].key) || !q[i].vlen)
            return omen_seterr(OMEN_INVALID, "run_get_batch: bad query %zu", i);
        q[i].rc = OMEN_NOTFOUND;
    }
    for (size_t at = 0; at < n; at += RUN_BATCH) {
        int rc = get_group(r, snap, q + at, n - at < RUN_BATCH ? n - at : RUN_BATCH);
        if (rc != OMEN_OK) return rc;
    }
    return OMEN_OK;
}
