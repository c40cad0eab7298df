/*
 * batch.c -- omen_batch (public API) and the WAL record codec (batch.h).
 */
#include "db/batch.h"

#include <string.h>

#include "db/memtable.h"
#include "util/coding.h"
#include "db/reserved.h"
#include "util/err.h"
#include "util/mem.h"

void batch_init(struct omen_batch *b)
{
    memset(b, 0, sizeof *b);
}

void batch_free(struct omen_batch *b)
{
    db_hook_release(&b->hook);
    omen_free(b->buf);
    memset(b, 0, sizeof *b);
}

static int batch_grow(struct omen_batch *b, size_t need)
{
    if (b->cap - b->len >= need && b->buf) return OMEN_OK;
    size_t want = b->len + need;
    if (want < BATCH_HEADER + need) want = BATCH_HEADER + need;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want) cap *= 2;
    unsigned char *p = omen_realloc(b->buf, cap);
    if (!p) return omen_seterr(OMEN_NOMEM, "batch: cannot grow to %zu bytes", cap);
    b->buf = p;
    b->cap = cap;
    if (b->len < BATCH_HEADER) {
        memset(b->buf, 0, BATCH_HEADER);
        b->len = BATCH_HEADER;
    }
    return OMEN_OK;
}

int batch_add(struct omen_batch *b, int type, const void *key, size_t klen, const void *val,
              size_t vlen)
{
    if ((!key && klen) || (!val && vlen))
        return omen_seterr(OMEN_INVALID, "batch: NULL buffer with non-zero length");
    if (klen > OMEN_MAX_KEY_LEN)
        return omen_seterr(OMEN_TOOBIG, "key of %zu bytes exceeds the %u-byte limit", klen,
                           OMEN_MAX_KEY_LEN);
    if (type == MT_TYPE_PUT && vlen > OMEN_MAX_VALUE_LEN)
        return omen_seterr(OMEN_TOOBIG, "value of %zu bytes exceeds the %u-byte limit", vlen,
                           OMEN_MAX_VALUE_LEN);
    if (b->count == UINT32_MAX) return omen_seterr(OMEN_TOOBIG, "batch: too many operations");
    size_t need = 1 + VARINT32_MAX_LEN * 2 + klen + (type == MT_TYPE_PUT ? vlen : 0);
    int rc = batch_grow(b, need);
    if (rc) return rc;
    uint8_t *p = b->buf + b->len;
    *p++ = (uint8_t)type;
    p = put_varint32(p, (uint32_t)klen);
    if (klen) memcpy(p, key, klen);
    p += klen;
    if (type == MT_TYPE_PUT) {
        p = put_varint32(p, (uint32_t)vlen);
        if (vlen) memcpy(p, val, vlen);
        p += vlen;
    } else {
        vlen = 0;
    }
    b->len = (size_t)(p - b->buf);
    b->count++;
    b->mem_cost += mt_entry_cost(klen, vlen);
    return OMEN_OK;
}

void batch_put_header(unsigned char hdr[BATCH_HEADER], uint64_t seq, uint32_t count)
{
    put_fixed64(hdr, seq);
    put_fixed32(hdr + 8, count);
}

int batch_iterate_ops(const void *ops, size_t len, uint32_t count, uint64_t seq, batch_op_fn fn,
                      void *ctx)
{
    const uint8_t *p = ops, *end = p + len;
    if (!ops && len) return omen_seterr(OMEN_CORRUPT, "batch: NULL ops");
    for (uint32_t i = 0; i < count; i++) {
        if (p >= end) return omen_seterr(OMEN_CORRUPT, "batch: op %u of %u is missing", i, count);
        int type = *p++;
        if (type != MT_TYPE_PUT && type != MT_TYPE_DELETE)
            return omen_seterr(OMEN_CORRUPT, "batch: op %u has unknown type %d", i, type);
        uint32_t klen, vlen = 0;
        p = get_varint32(p, end, &klen);
        if (!p || klen > OMEN_MAX_KEY_LEN || klen > (size_t)(end - p))
            return omen_seterr(OMEN_CORRUPT, "batch: op %u has a bad key length", i);
        const uint8_t *key = p;
        p += klen;
        const uint8_t *val = NULL;
        if (type == MT_TYPE_PUT) {
            p = get_varint32(p, end, &vlen);
            if (!p || vlen > OMEN_MAX_VALUE_LEN || vlen > (size_t)(end - p))
                return omen_seterr(OMEN_CORRUPT, "batch: op %u has a bad value length", i);
            val = p;
            p += vlen;
        }
        if (fn) {
            int rc = fn(ctx, seq + i, type, key, klen, val, vlen);
            if (rc) return rc;
        }
    }
    if (p != end) return omen_seterr(OMEN_CORRUPT, "batch: %zu trailing bytes", (size_t)(end - p));
    return OMEN_OK;
}

int batch_decode(const void *rec, size_t len, uint64_t *seq, uint32_t *count, batch_op_fn fn,
                 void *ctx)
{
    if (!rec || len < BATCH_HEADER)
        return omen_seterr(OMEN_CORRUPT, "batch: record of %zu bytes is too short", len);
    const uint8_t *p = rec;
    uint64_t s = get_fixed64(p);
    uint32_t c = get_fixed32(p + 8);
    if (s == 0 || s > MT_MAX_SEQ || MT_MAX_SEQ - s < c)
        return omen_seterr(OMEN_CORRUPT, "batch: bad sequence number %llu",
                           (unsigned long long)s);
    int rc = batch_iterate_ops(p + BATCH_HEADER, len - BATCH_HEADER, c, s, NULL, NULL);
    if (rc) return rc;
    if (seq) *seq = s;
    if (count) *count = c;
    if (!fn) return OMEN_OK;
    return batch_iterate_ops(p + BATCH_HEADER, len - BATCH_HEADER, c, s, fn, ctx);
}

/* ---- public API ---------------------------------------------------------- */

int omen_batch_create(omen_batch **out)
{
    if (!out) return omen_seterr(OMEN_INVALID, "omen_batch_create: NULL out");
    *out = omen_calloc(1, sizeof(omen_batch));
    if (!*out) return omen_seterr(OMEN_NOMEM, "omen_batch_create: out of memory");
    return OMEN_OK;
}

int omen_batch_put(omen_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (!b) return omen_seterr(OMEN_INVALID, "omen_batch_put: NULL batch");
    if (key && db_key_reserved(key, klen))
        return omen_seterr(OMEN_INVALID, "omen_batch_put: the key is in the engine's reserved range (docs/format.md)");
    return batch_add(b, MT_TYPE_PUT, key, klen, val, vlen);
}

int omen_batch_delete(omen_batch *b, const void *key, size_t klen)
{
    if (!b) return omen_seterr(OMEN_INVALID, "omen_batch_delete: NULL batch");
    if (key && db_key_reserved(key, klen))
        return omen_seterr(OMEN_INVALID, "omen_batch_delete: the key is in the engine's reserved range (docs/format.md)");
    return batch_add(b, MT_TYPE_DELETE, key, klen, NULL, 0);
}

void omen_batch_clear(omen_batch *b)
{
    if (!b) return;
    db_hook_release(&b->hook);
    if (b->buf) b->len = BATCH_HEADER;
    b->count = 0;
    b->mem_cost = 0;
}

size_t omen_batch_count(const omen_batch *b)
{
    return b ? b->count : 0;
}

void omen_batch_destroy(omen_batch *b)
{
    if (!b) return;
    batch_free(b);
    omen_free(b);
}
