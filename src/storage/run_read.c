/*
 * run_read.c -- the sorted-run reader: open (with its checks), the block
 * loader and point lookups.  The writer is run_write.c, the iterator
 * run_iter.c, the verifier run_verify.c; byte layout: docs/format.md,
 * "Sorted-run file".
 *
 * Layout in one line: header | value blocks | slots[n] | records[n] |
 * key offsets[n] | key bytes | model | bloom | block index | footer.  Every
 * section after the value blocks is dense and addressed by entry position,
 * so the learned model's answer (a position) leads straight to the slot and
 * the 32-byte record (seq/type, key bytes 8..15 after the prefix, key
 * length, value location).  Keys of up to lcp + 16 bytes are compared from
 * the record alone; longer keys read the key bytes through the offsets.
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
#include "storage/run_format.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

#ifdef OMEN_TESTING
/* Test hook (fuzzing only, run.h). */
int run_test_skip_checksums;
#endif

static int check_crc(const run *r, const char *what, const uint8_t *p, uint64_t n, uint32_t stored)
{
    if (run_test_skip_checksums) return OMEN_OK;
    if (crc32c_mask(crc32c(0, p, (size_t)n)) != stored)
        return util_seterr(OMEN_CORRUPT, "run %s: %s checksum mismatch", r->path, what);
    return OMEN_OK;
}

int run_verify_block(const run *r, uint64_t b)
{
    uint64_t off;
    int type;
    uint32_t plen, raw;
    block_info(r, b, &off, &type, &plen, &raw);
    const uint8_t *p = r->map + off;
    if (p[plen] != type)
        return util_seterr(OMEN_CORRUPT, "run %s: block %llu type byte mismatch", r->path,
                           (unsigned long long)b);
    if (run_test_skip_checksums) return OMEN_OK;
    uint32_t c = crc32c(0, p, (size_t)plen + 1);
    if (crc32c_mask(c) != get_fixed32(p + plen + 1))
        return util_seterr(OMEN_CORRUPT, "run %s: value block %llu checksum mismatch (offset %llu)", r->path,
                           (unsigned long long)b, (unsigned long long)off);
    return OMEN_OK;
}

int run_load_block(const run *r, uint64_t b, cache_handle **h, uint8_t **own, const uint8_t **data)
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
    int rc = run_verify_block(r, b);
    if (rc != OMEN_OK) return rc;
    uint8_t *buf = util_malloc(raw ? raw : 1);
    if (!buf) return util_seterr(OMEN_NOMEM, "run %s: out of memory for a block", r->path);
    rc = decompress_block(type, r->map + off, plen, buf, raw);
    if (rc != OMEN_OK) {
        omen_free(buf);
        return util_seterr_cause(rc, "run %s: value block %llu", r->path, (unsigned long long)b);
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

/* The writer's hot region (run_meta.hot), if its layout holds this file's
 * sections: slots at 0, records and filter where the writer put them, all
 * inside the region.  0 when it does not fit (it is then only freed). */
static int fresh_fits(const run_meta *fresh, uint64_t n, uint64_t bloom_len)
{
    return fresh && fresh->hot && n == fresh->entries && 8 * n <= fresh->hot_recs &&
           fresh->hot_recs + (uint64_t)RUN_REC_SIZE * n <= fresh->hot_bloom &&
           fresh->hot_bloom <= fresh->hot_len && bloom_len <= fresh->hot_len - fresh->hot_bloom;
}

static int validate(run *r, const uint8_t *ft, run_meta *fresh)
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
        return util_seterr(OMEN_CORRUPT, "run %s: bad value-block section", p);
    r->blocks_off = blocks_off;
    r->blocks_end = blocks_off + blocks_len;
    if (slots_off != align8(r->blocks_end) || n > (body - slots_off) / (16 + RUN_REC_SIZE))
        return util_seterr(OMEN_CORRUPT, "run %s: bad slot section", p);
    if (recs_off != slots_off + 8 * n || keys_off != recs_off + (RUN_REC_SIZE + 8) * n ||
        keys_len > body - keys_off || keys_len > RUN_KOFF_MASK)
        return util_seterr(OMEN_CORRUPT, "run %s: bad key section", p);
    if (model_off != align8(keys_off + keys_len) || model_off > body || model_len > body - model_off)
        return util_seterr(OMEN_CORRUPT, "run %s: bad model section", p);
    if (bloom_off != model_off + model_len || bloom_len > body - bloom_off)
        return util_seterr(OMEN_CORRUPT, "run %s: bad filter section", p);
    if (bindex_off != bloom_off + bloom_len || nblocks >= RUN_NO_BLOCK ||
        nblocks > (body - bindex_off) / RUN_BINDEX_SIZE || bindex_off + nblocks * RUN_BINDEX_SIZE != body)
        return util_seterr(OMEN_CORRUPT, "run %s: bad block index section", p);
    if (!run_codec_in_version((int)comp, r->version) || (n == 0 && (min_seq || max_seq)) || min_seq > max_seq ||
        max_seq > RUN_MAX_SEQ || (r->version == 1 && get_fixed32(ft + 164)) || (n == 0 && lcp_len) ||
        lcp_len > OMEN_MAX_KEY_LEN)
        return util_seterr(OMEN_CORRUPT, "run %s: bad footer fields", p);

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
    if (fresh_fits(fresh, n, bloom_len)) {
        /* The writer built them so already (run_open_fresh). */
        r->hot_alloc = fresh->hot;
        r->hot_map = fresh->hot_len;
        r->slots = (const uint64_t *)(const void *)fresh->hot;
        r->recs = fresh->hot + fresh->hot_recs;
        r->bloom = fresh->hot + fresh->hot_bloom;
        fresh->hot = NULL;
    } else {
        uint64_t recs_at = (8 * n + 63) & ~(uint64_t)63;
        uint64_t hot = recs_at + RUN_REC_SIZE * n + bloom_len;
        uint8_t *hotp;
        if (hot >= RUN_HOT_HUGE_MIN) {
            r->hot_map = util_huge_len((size_t)hot);
            hotp = r->hot_alloc = util_map_huge(r->hot_map);
        } else {
            r->hot_alloc = util_malloc((size_t)hot + 64);
            hotp = (uint8_t *)(((uintptr_t)r->hot_alloc + 63) & ~(uintptr_t)63);
        }
        if (!r->hot_alloc) return util_seterr(OMEN_NOMEM, "run %s: out of memory", p);
        memcpy(hotp, r->map + slots_off, 8 * n);
        memcpy(hotp + recs_at, r->map + recs_off, RUN_REC_SIZE * n);
        memcpy(hotp + recs_at + RUN_REC_SIZE * n, r->map + bloom_off, bloom_len);
        r->slots = (const uint64_t *)(const void *)hotp;
        r->recs = hotp + recs_at;
        r->bloom = hotp + recs_at + RUN_REC_SIZE * n;
    }

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
        return util_seterr_cause(OMEN_CORRUPT, "run %s", p);
    rc = lidx_deserialize(r->map + model_off, model_len, &r->model);
    if (rc != OMEN_OK) return util_seterr_cause(rc, "run %s: model", p);
    if (lidx_nkeys(r->model) != n)
        return util_seterr(OMEN_CORRUPT, "run %s: model covers %zu keys, run has %llu", p,
                           lidx_nkeys(r->model), (unsigned long long)n);

    /* Blocks tile the value section in order. */
    uint64_t expect = blocks_off;
    for (uint64_t b = 0; b < nblocks; b++) {
        uint64_t off;
        int type;
        uint32_t plen, raw;
        block_info(r, b, &off, &type, &plen, &raw);
        if (off != expect || !run_codec_in_version(type, r->version) ||
            (uint64_t)plen + RUN_BLOCK_TRAILER > r->blocks_end - off || raw > RUN_MAX_RAW_BLOCK ||
            (type == OMEN_COMPRESS_NONE && raw != plen) ||
            (comp == OMEN_COMPRESS_NONE && type != OMEN_COMPRESS_NONE))
            return util_seterr(OMEN_CORRUPT, "run %s: block index entry %llu is invalid", p,
                               (unsigned long long)b);
        expect = off + plen + RUN_BLOCK_TRAILER;
    }
    if (expect != r->blocks_end)
        return util_seterr(OMEN_CORRUPT, "run %s: value blocks do not fill their section", p);

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
            return util_seterr(OMEN_CORRUPT, "run %s: entry %llu is invalid", p, (unsigned long long)i);
        if (vlen) {
            uint64_t off;
            int type;
            uint32_t plen, raw;
            if (vb >= nblocks)
                return util_seterr(OMEN_CORRUPT, "run %s: entry %llu names a missing block", p,
                                   (unsigned long long)i);
            block_info(r, vb, &off, &type, &plen, &raw);
            int bad = comp == OMEN_COMPRESS_NONE
                          ? (vpos < off || vpos > off + plen || vlen > off + plen - vpos)
                          : (vpos > raw || vlen > raw - vpos);
            if (bad)
                return util_seterr(OMEN_CORRUPT, "run %s: entry %llu value out of its block", p,
                                   (unsigned long long)i);
            if (vmap_on && lmap_add(&r->vmap, i, vpos) != OMEN_OK) {
                lmap_free(&r->vmap);
                util_clearerr();
                vmap_on = 0;
            }
        }
        if (s < smin) smin = s;
        if (s > smax) smax = s;
    }
    if (vmap_on) lmap_finish(&r->vmap);
    if (n && (smin != min_seq || smax != max_seq))
        return util_seterr(OMEN_CORRUPT, "run %s: sequence range does not match the footer", p);
    if (n) {
        size_t k0;
        r->lcp = key_at(r, 0, &k0);
        r->lcp_len = lcp_len; /* every key has >= lcp_len bytes (checked above) */
    }
    return OMEN_OK;
}

static int run_open_at(const char *path, uint64_t file_number, block_cache *cache, run_meta *fresh,
                       run **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "run_open: NULL out");
    *out = NULL;
    if (!path) return util_seterr(OMEN_INVALID, "run_open: NULL path");
    run *r = util_calloc(1, sizeof *r);
    if (!r) return util_seterr(OMEN_NOMEM, "run_open: out of memory");
    r->number = file_number;
    r->cache = cache;
    r->path = util_strdup(path);
    fio_file *f = NULL;
    int rc;
    if (!r->path) {
        rc = util_seterr(OMEN_NOMEM, "run_open: out of memory");
        goto fail;
    }
    if ((rc = fio_open(path, FIO_READ, &f)) != OMEN_OK) goto fail;
    if ((rc = fio_size(f, &r->size)) != OMEN_OK) goto fail;
    if (r->size < RUN_HEADER_SIZE + RUN_FOOTER_SIZE) {
        rc = util_seterr(OMEN_CORRUPT, "run %s: file too short (%llu bytes)", path,
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
        rc = util_seterr(OMEN_CORRUPT, "run %s: bad magic (not a run file, or truncated)", path);
        goto fail;
    }
    uint32_t hv = get_fixed32(r->map + 8), fv = get_fixed32(ft + 160);
    if (hv != fv || get_fixed32(r->map + 12) != 0) {
        rc = util_seterr(OMEN_CORRUPT, "run %s: header does not match footer", path);
        goto fail;
    }
    /* The version is checked before the footer checksum: how a newer
     * version checksums its footer is not known here. */
    if (fv != RUN_VERSION && fv != 1) {
        rc = util_seterr(fv > RUN_VERSION ? OMEN_VERSION : OMEN_CORRUPT,
                         "run %s: unsupported format version %u", path, fv);
        goto fail;
    }
    if (run_footer_checksum(ft, fv) != get_fixed32(ft + 156) && !run_test_skip_checksums) {
        rc = util_seterr(OMEN_CORRUPT, "run %s: footer checksum mismatch", path);
        goto fail;
    }
    r->version = fv;
    r->footer_crc = get_fixed32(ft + 156);
    r->stored_number = fv >= 2 ? get_fixed32(ft + 164) : 0;
    if ((rc = validate(r, ft, fresh)) != OMEN_OK) goto fail;
    r->verified = util_calloc(r->nblocks / 64 + 1, sizeof *r->verified);
    if (!r->verified) {
        rc = util_seterr(OMEN_NOMEM, "run_open: out of memory");
        goto fail;
    }
    *out = r;
    return OMEN_OK;
fail:
    if (f) fio_close(f);
    run_close(r);
    return rc;
}

int run_open(const char *path, uint64_t file_number, block_cache *cache, run **out)
{
    return run_open_fresh(path, file_number, cache, NULL, out);
}

int run_open_fresh(const char *path, uint64_t file_number, block_cache *cache, run_meta *fresh,
                   run **out)
{
    int rc = run_open_at(path, file_number, cache, fresh, out);
    if (fresh) { /* not taken: the run failed to open, or the region did not fit */
        util_unmap_huge(fresh->hot, fresh->hot_len);
        fresh->hot = NULL;
        fresh->hot_len = 0;
    }
    return rc;
}

void run_close(run *r)
{
    if (!r) return;
    if (r->map) fio_munmap(r->map, r->size);
    lidx_free(r->model);
    lmap_free(&r->vmap);
    if (r->hot_map)
        util_unmap_huge(r->hot_alloc, r->hot_map);
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

uint32_t run_footer_crc(const run *r)
{
    return r ? r->footer_crc : 0;
}

uint32_t run_stored_number(const run *r)
{
    return r ? r->stored_number : 0;
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
    uint64_t i = run_lower_bound(r, q, qlen, &h, &exact);
    return exact ? i : n;
}

int run_vdst_put(const run_vdst *d, const void *src, size_t len, size_t *vlen)
{
    if (!d->val && d->visit) {
        if (vlen) *vlen = len;
        return d->visit(d->arg, src, len);
    }
    if (d->val) {
        void *p = util_malloc(len ? len : 1);
        if (!p) return util_seterr(OMEN_NOMEM, "out of memory copying a %zu-byte value", len);
        if (len) memcpy(p, src, len);
        *d->val = p;
    } else if (len && d->cap) {
        memcpy(d->buf, src, len < d->cap ? len : d->cap);
    }
    if (vlen) *vlen = len;
    return OMEN_OK;
}

/* A value's place: file number (24 bits) over offset (40 bits); 0 (never a
 * place: offset 0 is the file header) when either is too large. */
#define LOC_OFF_BITS 40
static inline uint64_t loc_pack(uint64_t number, uint64_t off)
{
    if (number >= (UINT64_C(1) << (64 - LOC_OFF_BITS)) || off >= (UINT64_C(1) << LOC_OFF_BITS)) return 0;
    return number << LOC_OFF_BITS | off;
}

const void *run_value_at(const run *r, uint64_t loc, size_t len)
{
    uint64_t off = loc & ((UINT64_C(1) << LOC_OFF_BITS) - 1);
    if (loc == 0 || loc >> LOC_OFF_BITS != r->number || r->compression != OMEN_COMPRESS_NONE ||
        off < r->blocks_off || off > r->blocks_end || len > r->blocks_end - off)
        return NULL;
    return r->map + off;
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
        if (rc != OMEN_OK) return rc;
        if (d->loc) *d->loc = loc_pack(r->number, vpos);
        return run_vdst_put(d, r->map + vpos, len, vlen);
    }
    cache_handle *h;
    uint8_t *own;
    const uint8_t *data;
    int rc = run_load_block(r, b, &h, &own, &data);
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
    if (!r || (klen && !key)) return util_seterr(OMEN_INVALID, "run_get: bad argument");
    uint64_t n = r->n;
    uint64_t i = find_key(r, key, klen);
    /* Older versions follow; the slot and record tell where they end
     * without reading the key bytes. */
    uint64_t qext = i < n ? slot_of(key, klen, r->lcp_len + 8) : 0;
    for (uint64_t j = i; j < n; j++) {
        const uint8_t *rec = rec_at(r, j);
        if (j != i && (r->slots[j] != r->slots[i] || run_rec_cmp(r, j, key, klen, qext) != 0)) break;
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
    run_vdst d = {.val = val};
    return run_get_to(r, key, klen, snap, seq, type, val ? &d : NULL, vlen);
}

int run_get_into(run *r, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type,
                 void *buf, size_t cap, size_t *vlen)
{
    if (!buf && cap) return util_seterr(OMEN_INVALID, "run_get_into: NULL buffer of %zu bytes", cap);
    run_vdst d = {.buf = buf, .cap = cap};
    return run_get_to(r, key, klen, snap, seq, type, &d, vlen);
}

int run_latest_seq(run *r, const void *key, size_t klen, uint64_t *seq)
{
    if (!r || (klen && !key)) return util_seterr(OMEN_INVALID, "run_latest_seq: bad argument");
    uint64_t i = find_key(r, key, klen);
    if (i >= r->n) return OMEN_NOTFOUND;
    if (seq) *seq = ld64(rec_at(r, i)) >> 8;
    return OMEN_OK;
}


/* ---- Batched point lookup ---------------------------------------------- */

/* Queries per pass: enough independent misses in flight to hide memory
 * latency, few enough that their bloom lines and slot windows are still in
 * cache when the next phase reads them. */
#define RUN_BATCH 64

/* One group of at most RUN_BATCH queries, in phases so each phase's memory
 * misses overlap instead of following one another: prefix check and bloom
 * prefetch; bloom probe and slot; the model's batch lower_bound over the
 * slots (lidx_lower_bound_batch); record and value prefetch; the
 * searches among tied slots, in lockstep; then the exact match and version
 * walk of run_get_to. */
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
            run_prefetch_value(r, pos[j]);
        }
    /* Exact position of each query.  Keys that share their slot (a common
     * head after the run's prefix, as in "user:123...") are settled among
     * the tied records by binary search; the searches of the group advance
     * in lockstep, one probe each per round with every probe's record
     * prefetched first, so their misses overlap instead of following one
     * another. */
    uint64_t ext[RUN_BATCH], thi[RUN_BATCH];
    int cmp[RUN_BATCH];
    size_t tie[RUN_BATCH], nt = 0;
    for (size_t j = 0; j < k; j++) {
        run_getq *x = &q[live[j]];
        uint64_t lo = pos[j];
        cmp[j] = 1;
        if (lo >= rn || r->slots[lo] != qs[j]) continue;
        ext[j] = slot_of(x->key, x->klen, r->lcp_len + 8);
        cmp[j] = run_rec_cmp(r, lo, x->key, x->klen, ext[j]);
        if (cmp[j] < 0) {
            thi[j] = qs[j] == UINT64_MAX ? rn : lidx_lower_bound(r->model, r->slots, rn, qs[j] + 1);
            pos[j] = lo + 1;
            tie[nt++] = j;
        }
    }
    while (nt) {
        for (size_t t = 0; t < nt; t++) {
            size_t j = tie[t];
            __builtin_prefetch(rec_at(r, pos[j] + (thi[j] - pos[j]) / 2));
        }
        size_t left = 0;
        for (size_t t = 0; t < nt; t++) {
            size_t j = tie[t];
            const run_getq *x = &q[live[j]];
            uint64_t mid = pos[j] + (thi[j] - pos[j]) / 2;
            if (run_rec_cmp(r, mid, x->key, x->klen, ext[j]) < 0)
                pos[j] = mid + 1;
            else
                thi[j] = mid;
            if (pos[j] < thi[j]) tie[left++] = j;
        }
        nt = left;
    }
    for (size_t j = 0; j < k; j++)
        if (cmp[j] < 0 && pos[j] < rn) run_prefetch_value(r, pos[j]);
    for (size_t j = 0; j < k; j++) {
        run_getq *x = &q[live[j]];
        uint64_t lo = pos[j];
        if (lo >= rn || r->slots[lo] != qs[j]) continue;
        const uint8_t *key = x->key;
        uint64_t qext = ext[j];
        int c = cmp[j] < 0 ? run_rec_cmp(r, lo, key, x->klen, qext) : cmp[j];
        if (c != 0) continue;
        for (uint64_t i = lo; i < rn; i++) {
            const uint8_t *rec = rec_at(r, i);
            if (i != lo && (r->slots[i] != r->slots[lo] || run_rec_cmp(r, i, key, x->klen, qext) != 0)) break;
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
    if (!r || (n && !q)) return util_seterr(OMEN_INVALID, "run_get_batch: bad argument");
    for (size_t i = 0; i < n; i++) {
        if ((q[i].klen && !q[i].key) || !q[i].vlen)
            return util_seterr(OMEN_INVALID, "run_get_batch: bad query %zu", i);
        q[i].rc = OMEN_NOTFOUND;
    }
    for (size_t at = 0; at < n; at += RUN_BATCH) {
        int rc = get_group(r, snap, q + at, n - at < RUN_BATCH ? n - at : RUN_BATCH);
        if (rc != OMEN_OK) return rc;
    }
    return OMEN_OK;
}
