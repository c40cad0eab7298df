/*
 * run_write.c -- the sorted-run writer (run.h, "Writing").  Byte layout:
 * docs/format.md, "Sorted-run file".
 *
 * Entries stream in; value bytes go to the file block by block, while
 * slots, records, key offsets, key bytes and bloom hashes go to "spills"
 * (memory up to RUN_SPILL_MEM each, then a temporary file) that finish()
 * copies after the blocks.  The learned model is built in the same pass
 * from the slots (lidx_builder), so memory stays bounded for any run size.
 *
 * A writer told how many entries will come (run_writer_expect) builds the
 * sections a reader keeps in memory -- slots, records, filter -- in place,
 * in one huge-page region laid out as run_open would copy them, and hands
 * that region over through run_meta (run_open_fresh takes it).  A flushed
 * or compacted run is then not copied a second time into fresh memory,
 * whose page faults and zeroing were the larger part of opening it.
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
#include "storage/run_format.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

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

void run_meta_clear(run_meta *m)
{
    if (!m) return;
    omen_free(m->smallest);
    omen_free(m->largest);
    util_unmap_huge(m->hot, m->hot_len);
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
    uint32_t file_number; /* run_writer_set_number; 0 = none */
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
    uint64_t expect[SP_N]; /* run_writer_expect: bytes each spill will take */
    /* The in-place hot sections (see the top): room for hot_n entries, slots
     * at hot, records at hot + hot_recs, filter at hot + hot_bloom; while
     * hot is set, slots and records go there instead of to their spills. */
    uint8_t *hot;
    size_t hot_len;
    uint64_t hot_n, hot_recs, hot_bloom;
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
                s->path = util_malloc(pl + strlen(suffix) + 1);
                if (!s->path) return util_seterr(OMEN_NOMEM, "run writer: out of memory");
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
            if (!s->cap && w->expect[which] > nc)
                nc = w->expect[which] < RUN_SPILL_MEM ? (size_t)w->expect[which] : RUN_SPILL_MEM;
            while (nc < s->len + n)
                nc *= 2;
            if (nc > RUN_SPILL_MEM && s->len + n <= RUN_SPILL_MEM) nc = RUN_SPILL_MEM;
            uint8_t *nb = util_realloc(s->buf, nc);
            if (!nb) return util_seterr(OMEN_NOMEM, "run writer: out of memory");
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
        if (got != want) return util_seterr(OMEN_IO, "run writer: temporary file %s shrank", s->path);
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

static void hot_drop(run_writer *w)
{
    util_unmap_huge(w->hot, w->hot_len);
    w->hot = NULL;
    w->hot_len = 0;
}

/* More entries than announced: move what the hot region holds to the
 * slot and record spills, which take every later entry. */
static int hot_to_spills(run_writer *w)
{
    const uint8_t *sec[2] = {w->hot, w->hot + w->hot_recs};
    const uint64_t len[2] = {8 * w->n, (uint64_t)RUN_REC_SIZE * w->n};
    const int which[2] = {SP_SLOTS, SP_RECS};
    for (int i = 0; i < 2; i++)
        for (uint64_t at = 0; at < len[i]; at += RUN_OBUF) {
            size_t c = len[i] - at < RUN_OBUF ? (size_t)(len[i] - at) : RUN_OBUF;
            int rc = spill_put(w, &w->sp[which[i]], which[i], sec[i] + at, c);
            if (rc != OMEN_OK) return rc;
        }
    hot_drop(w);
    return OMEN_OK;
}

static void writer_free(run_writer *w, int remove_file)
{
    if (!w) return;
    hot_drop(w);
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

void run_writer_expect(run_writer *w, uint64_t entries, uint64_t key_bytes)
{
    if (!w || w->n) return;
    w->expect[SP_SLOTS] = 8 * entries;
    w->expect[SP_RECS] = RUN_REC_SIZE * entries;
    w->expect[SP_KOFFS] = 8 * entries;
    w->expect[SP_KEYS] = key_bytes;
    w->expect[SP_HASH] = 8 * entries;
    /* The hot region, where run_open would put the sections on huge pages
     * (and never for more entries than a file can describe). */
    uint64_t recs_at = (8 * entries + 63) & ~(uint64_t)63;
    uint64_t bloom_at = recs_at + (uint64_t)RUN_REC_SIZE * entries;
    if (w->hot || entries > (1ull << 36) || bloom_at < RUN_HOT_HUGE_MIN) return;
    size_t len = util_huge_len((size_t)(bloom_at + bloom_image_size(entries, w->o.bloom_bits_per_key)));
    w->hot = util_map_huge(len);
    if (!w->hot) { /* only an optimisation: the spills do without it */
        util_clearerr();
        return;
    }
    w->hot_len = len;
    w->hot_n = entries;
    w->hot_recs = recs_at;
    w->hot_bloom = bloom_at;
}

void run_writer_set_number(run_writer *w, uint64_t file_number)
{
    if (w) w->file_number = (uint32_t)file_number;
}

int run_writer_open(const char *path, const run_opts *o, const void *lcp_lo, size_t lo_len,
                    const void *lcp_hi, size_t hi_len, run_writer **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "run_writer_open: NULL out");
    *out = NULL;
    if (!path || (lo_len && !lcp_lo) || (hi_len && !lcp_hi))
        return util_seterr(OMEN_INVALID, "run_writer_open: NULL argument");
    run_opts opt = {OMEN_COMPRESS_NONE, 10, 0, RUN_DEFAULT_BLOCK_SIZE};
    if (o) opt = *o;
    if (opt.block_size == 0) opt.block_size = RUN_DEFAULT_BLOCK_SIZE;
    if (!compress_type_valid(opt.compression) || opt.bloom_bits_per_key < 0 || opt.bloom_bits_per_key > 100 ||
        opt.block_size > RUN_MAX_BLOCK_SIZE || opt.epsilon > (1u << 20))
        return util_seterr(OMEN_INVALID, "run_writer_open: bad options");
    if (keycmp(lcp_lo, lo_len, lcp_hi, hi_len) > 0)
        return util_seterr(OMEN_INVALID, "run_writer_open: lcp_lo > lcp_hi");
    run_writer *w = util_calloc(1, sizeof *w);
    if (!w) return util_seterr(OMEN_NOMEM, "run_writer_open: out of memory");
    w->o = opt;
    size_t m = lo_len < hi_len ? lo_len : hi_len, l = 0;
    while (l < m && ((const uint8_t *)lcp_lo)[l] == ((const uint8_t *)lcp_hi)[l])
        l++;
    w->lcp_len = l;
    w->path = util_strdup(path);
    w->lcp = util_memdup(lcp_lo, l);
    w->obuf = util_malloc(RUN_OBUF);
    int rc = OMEN_NOMEM;
    if (!w->path || !w->lcp || !w->obuf) {
        util_seterr(OMEN_NOMEM, "run_writer_open: out of memory");
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
    if (w->nblocks >= RUN_NO_BLOCK - 1) return util_seterr(OMEN_INVALID, "run writer: too many value blocks");
    const uint8_t *payload = w->blk;
    size_t plen = w->blen;
    uint8_t type = OMEN_COMPRESS_NONE;
    if (w->o.compression != OMEN_COMPRESS_NONE) {
        size_t bound = compress_bound(w->o.compression, w->blen), clen;
        if (bound > w->ccap) {
            uint8_t *nb = util_realloc(w->cbuf, bound);
            if (!nb) return util_seterr(OMEN_NOMEM, "run writer: out of memory");
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
        uint8_t *nb = util_realloc(w->bindex, nc * RUN_BINDEX_SIZE);
        if (!nb) return util_seterr(OMEN_NOMEM, "run writer: out of memory");
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
    if (!w) return util_seterr(OMEN_INVALID, "run_writer_add: NULL writer");
    if (w->err) return util_seterr(w->err, "run_writer_add: writer failed earlier");
    if ((klen && !key) || (vlen && !val) || seq > RUN_MAX_SEQ ||
        (type != RUN_TYPE_PUT && type != RUN_TYPE_DELETE) || (type == RUN_TYPE_DELETE && vlen))
        return util_seterr(OMEN_INVALID, "run_writer_add: bad argument");
    if (klen > OMEN_MAX_KEY_LEN || vlen > OMEN_MAX_VALUE_LEN)
        return util_seterr(OMEN_INVALID, "run_writer_add: key or value too long");
    if (klen < w->lcp_len || (w->lcp_len && memcmp(key, w->lcp, w->lcp_len) != 0))
        return util_seterr(OMEN_INVALID, "run_writer_add: key outside [lcp_lo, lcp_hi]");
    int newkey = 1;
    if (w->n) {
        int c = keycmp(w->last_key, w->last_len, key, klen);
        if (c > 0 || (c == 0 && seq >= w->last_seq))
            return util_seterr(OMEN_INVALID, "run_writer_add: entry out of order");
        newkey = c != 0;
    }
    if (w->keys_len + klen > RUN_KOFF_MASK || w->off + w->blen + vlen > RUN_KOFF_MASK)
        return util_seterr(OMEN_INVALID, "run_writer_add: run too large");
    /* Remember the key first (order check of the next add). */
    if (klen > w->last_cap || !w->last_key) {
        uint8_t *nk = util_realloc(w->last_key, klen ? klen : 1);
        if (!nk) return util_seterr(OMEN_NOMEM, "run_writer_add: out of memory");
        w->last_key = nk;
        w->last_cap = klen;
    }
    if (w->n == 0) {
        w->first_key = util_memdup(key, klen ? klen : 1);
        if (!w->first_key) return util_seterr(OMEN_NOMEM, "run_writer_add: out of memory");
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
            uint8_t *nb = util_realloc(w->blk, nc);
            if (!nb) {
                rc = util_seterr(OMEN_NOMEM, "run_writer_add: out of memory");
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
    if (w->hot && w->n == w->hot_n && (rc = hot_to_spills(w)) != OMEN_OK) goto fail;
    if (w->hot) {
        memcpy(w->hot + 8 * w->n, &slot, 8);
        memcpy(w->hot + w->hot_recs + RUN_REC_SIZE * w->n, rec, sizeof rec);
    } else {
        if ((rc = spill_put(w, &w->sp[SP_SLOTS], SP_SLOTS, &slot, 8)) != OMEN_OK) goto fail;
        if ((rc = spill_put(w, &w->sp[SP_RECS], SP_RECS, rec, sizeof rec)) != OMEN_OK) goto fail;
    }
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
                return util_seterr(OMEN_IO, "run writer: temporary file %s shrank", c->s->path);
            c->pos += got;
            c->have = got;
            c->at = 0;
            c->mem = 0;
        } else if (!c->mem) {
            c->mem = 1;
            c->have = c->s->len;
            c->at = 0;
        }
        if (c->at + 8 > c->have) return util_seterr(OMEN_IO, "run writer: hash spill too short");
    }
    const uint8_t *src = c->mem ? c->s->buf : c->chunk;
    memcpy(h, src + c->at, 8);
    c->at += 8;
    return OMEN_OK;
}

int run_writer_finish(run_writer *w, run_meta *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!w) return util_seterr(OMEN_INVALID, "run_writer_finish: NULL writer");
    int rc = w->err;
    uint8_t *chunk = NULL, *model = NULL, *bloom = NULL, *bloom_buf = NULL;
    lidx *m = NULL;
    uint32_t crc[7] = {0}; /* slots, recs, koffs, keys, model, filter, block index */
    uint64_t slots_off = 0, recs_off, keys_off, model_off, bloom_off, bindex_off;
    size_t model_len = 0, bloom_len = 0;
    if (rc != OMEN_OK) {
        util_seterr(rc, "run_writer_finish: writer failed earlier");
        goto fail;
    }
    if ((rc = flush_block(w)) != OMEN_OK) goto fail;
    uint64_t blocks_len = w->off - RUN_HEADER_SIZE;
    if ((rc = out_pad8(w)) != OMEN_OK) goto fail;
    chunk = util_malloc(RUN_OBUF);
    if (!chunk) {
        rc = util_seterr(OMEN_NOMEM, "run_writer_finish: out of memory");
        goto fail;
    }
    uint64_t sec_off[4];
    for (int i = 0; i < 4; i++) {
        struct copy_ctx cc = {w, 0};
        sec_off[i] = w->off;
        if (w->hot && i == SP_SLOTS)
            rc = copy_fn(&cc, w->hot, 8 * w->n);
        else if (w->hot && i == SP_RECS)
            rc = copy_fn(&cc, w->hot + w->hot_recs, RUN_REC_SIZE * w->n);
        else
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
    model = util_malloc(model_len ? model_len : 1);
    if (!model) {
        rc = util_seterr(OMEN_NOMEM, "run_writer_finish: out of memory");
        goto fail;
    }
    size_t written;
    if ((rc = lidx_serialize(m, model, model_len, &written)) != OMEN_OK) goto fail;
    if (written != model_len) {
        rc = util_seterr(OMEN_INVALID, "run_writer_finish: model size changed");
        goto fail;
    }
    crc[4] = crc32c(0, model, model_len);
    if ((rc = out_write(w, model, model_len)) != OMEN_OK) goto fail;

    /* Bloom filter over the distinct user keys. */
    bloom_off = w->off;
    bloom_len = bloom_image_size(w->distinct, w->o.bloom_bits_per_key);
    /* distinct <= n <= hot_n, so the filter fits the room left for it. */
    bloom = w->hot ? w->hot + w->hot_bloom : (bloom_buf = util_malloc(bloom_len));
    if (!bloom) {
        rc = util_seterr(OMEN_NOMEM, "run_writer_finish: out of memory");
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
    put_fixed32(ft + 160, RUN_VERSION);
    put_fixed32(ft + 164, w->file_number);
    put_fixed32(ft + 156, run_footer_checksum(ft, RUN_VERSION));
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
        /* The hot sections go to the reader, unless most of the room
         * reserved for them went unused (the count was far too high). */
        if (w->hot && 2 * w->n >= w->hot_n) {
            out->hot = w->hot;
            out->hot_len = w->hot_len;
            out->hot_recs = w->hot_recs;
            out->hot_bloom = w->hot_bloom;
            w->hot = NULL;
        }
    }
    lidx_free(m);
    omen_free(model);
    omen_free(bloom_buf);
    omen_free(chunk);
    writer_free(w, 0);
    return OMEN_OK;
fail:
    lidx_free(m);
    omen_free(model);
    omen_free(bloom_buf);
    omen_free(chunk);
    writer_free(w, 1);
    return rc;
}

void run_writer_abort(run_writer *w)
{
    writer_free(w, 1);
}

