/*
 * fuzz_lindex.c -- libFuzzer target for the learned index.
 *
 * 1. The input as a serialized model, as given and with its checksum
 *    recomputed (so the fuzzer reaches the structural checks behind the
 *    CRC).  Anything that loads is queried over a key array of exactly the
 *    size the caller claims, in its own heap block, so ASan proves that no
 *    query reads outside it or outside the model, whatever the model says.
 * 2. The input as keys: sorted, indexed with an epsilon taken from the
 *    input, and every answer compared with binary search; the model is then
 *    serialized and loaded back and must answer the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/lindex.h"
#include "omendb.h"
#include "support/u64_oracle.h"
#include "util/crc32c.h"

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void query_loaded(const lidx *m, const uint8_t *data, size_t len)
{
    size_t n = lidx_nkeys(m);
    if (n > 4096) n = 4096;
    uint64_t *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return;
    /* Arbitrary sorted contents: the model need not match them. */
    uint64_t step = len ? (uint64_t)data[0] * 0x0101010101ull + 1 : 1;
    for (size_t i = 0; i < n; i++) keys[i] = (uint64_t)i * step;
    uint64_t qs[64];
    size_t nq = 0;
    for (size_t off = 0; off + 8 <= len && nq < 60; off += 8) qs[nq++] = rd64(data + off);
    qs[nq++] = 0;
    qs[nq++] = UINT64_MAX;
    qs[nq++] = n ? keys[n / 2] : 1;
    size_t out[64];
    for (size_t i = 0; i < nq; i++) {
        size_t lo, hi;
        lidx_window(m, keys, n, qs[i], &lo, &hi);
        if (lo > hi || hi > n) abort();
        size_t r = lidx_lower_bound(m, keys, n, qs[i]);
        if (r > n) abort();
    }
    lidx_lower_bound_batch(m, keys, n, qs, nq, out);
    for (size_t i = 0; i < nq; i++)
        if (out[i] > n) abort();
    /* A smaller array than the model was built for must be safe too. */
    for (size_t i = 0; i < nq; i++)
        if (lidx_lower_bound(m, keys, n / 3, qs[i]) > n / 3) abort();
    free(keys);
}

static void try_load(const uint8_t *buf, size_t len)
{
    lidx *m = NULL;
    int rc = lidx_deserialize(buf, len, &m);
    if (rc == OMEN_OK) {
        query_loaded(m, buf, len);
        /* Re-serialization reproduces the image, in the current format
         * version (an old version loads; only its version field and
         * checksum then differ). */
        size_t sz = lidx_serialized_size(m);
        uint8_t *again = malloc(sz ? sz : 1);
        size_t w = 0;
        if (!again || lidx_serialize(m, again, sz, &w) != OMEN_OK || w != len ||
            memcmp(again, buf, 4) != 0 || memcmp(again + 8, buf + 8, len - 12) != 0 ||
            (memcmp(again + 4, buf + 4, 4) == 0 && memcmp(again + len - 4, buf + len - 4, 4) != 0))
            abort();
        free(again);
        lidx_free(m);
    } else if (m != NULL || (rc != OMEN_CORRUPT && rc != OMEN_VERSION)) {
        abort();
    }
}

static void build_check(const uint8_t *data, size_t len)
{
    if (len < 1) return;
    unsigned eps = 1u + (data[0] % 40);
    size_t n = (len - 1) / 8;
    uint64_t *k = malloc((n ? n : 1) * sizeof *k);
    if (!k) return;
    for (size_t i = 0; i < n; i++) {
        k[i] = rd64(data + 1 + 8 * i);
        /* Fold some keys into a small range so duplicates and dense runs
         * occur, and some to the extremes. */
        if (data[0] & 0x40) k[i] %= 64;
        if ((data[0] & 0x80) && (k[i] & 1)) k[i] = ~(k[i] >> 60);
    }
    u64_oracle_sort(k, n);
    lidx *m = NULL;
    if (lidx_build(k, n, eps, &m) != OMEN_OK) abort();
    size_t sz = lidx_serialized_size(m);
    uint8_t *img = malloc(sz);
    lidx *m2 = NULL;
    if (!img || lidx_serialize(m, img, sz, NULL) != OMEN_OK || lidx_deserialize(img, sz, &m2) != OMEN_OK)
        abort();
    for (size_t i = 0; i < n + 3; i++) {
        uint64_t base = i < n ? k[i] : (i == n ? 0 : UINT64_MAX);
        for (int d = -1; d <= 1; d++) {
            uint64_t q = base + (uint64_t)(int64_t)d;
            size_t want = u64_oracle_lower_bound(k, n, q);
            if (lidx_lower_bound(m, k, n, q) != want) abort();
            if (lidx_lower_bound(m2, k, n, q) != want) abort();
        }
    }
    lidx_free(m2);
    lidx_free(m);
    free(img);
    free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    try_load(data, len);
    if (len >= 4 && len <= (1u << 20)) {
        uint8_t *fixed = malloc(len);
        if (!fixed) return 0;
        memcpy(fixed, data, len);
        uint32_t c = crc32c_mask(crc32c(0, fixed, len - 4));
        memcpy(fixed + len - 4, &c, 4); /* little-endian host */
        try_load(fixed, len);
        free(fixed);
    }
    if (len <= 8 * 4096) build_check(data, len);
    return 0;
}
