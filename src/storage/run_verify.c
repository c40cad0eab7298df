/*
 * run_verify.c -- run_verify: open a run and check everything run_open does
 * not (every value block, the zero padding, key order, every key's prefix
 * and slot, that the model finds every key, that the filter holds every
 * key), reporting each finding.
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
    if (!path) return util_seterr(OMEN_INVALID, "run_verify: NULL path");
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
        rc = run_load_block(r, b, &h, &own, &data);
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
        if (newkey && run_lower_bound(r, k, kl, NULL, NULL) != i)
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
    if (v.rc != OMEN_OK) util_seterr(v.rc, "run %s: verification found %d problem(s)", path, v.findings);
    return v.rc;
}
