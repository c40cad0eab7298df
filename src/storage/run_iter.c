/*
 * run_iter.c -- iteration over every internal entry of a sorted run (run.h,
 * "Iteration").  Positions are entry indexes; values are read through
 * run_load_block (checked once per open for raw blocks, on every
 * decompression for compressed ones) only when asked for.
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
    if (!out) return util_seterr(OMEN_INVALID, "run_iter_new: NULL out");
    *out = NULL;
    if (!r) return util_seterr(OMEN_INVALID, "run_iter_new: NULL run");
    run_iter *it = util_calloc(1, sizeof *it);
    if (!it) return util_seterr(OMEN_NOMEM, "run_iter_new: out of memory");
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
    it->i = it->r->n ? run_lower_bound(it->r, key, klen, NULL, NULL) : 0;
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
    if (!iter_ok(it) || !val) return util_seterr(OMEN_INVALID, "run_iter_value: not valid");
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
            rc = run_load_block(r, b, &it->h, &it->own, &it->cur_data);
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

