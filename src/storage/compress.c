/*
 * compress.c -- LZ4 / zstd / Snappy block codecs behind one interface.
 *
 * Decompression never trusts the input: the caller states the exact
 * decompressed size (from a checksummed block index) and anything else the
 * codec produces is OMEN_CORRUPT.  LZ4_decompress_safe, ZSTD_decompress and
 * snappy_uncompress are all bounds-checked against the output capacity.
 */
#include "storage/compress.h"

#include <limits.h>
#include <lz4.h>
#include <snappy-c.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "util/err.h"

#define COMPRESS_ZSTD_LEVEL 1

int compress_type_valid(int type)
{
    return type == OMEN_COMPRESS_NONE || type == OMEN_COMPRESS_LZ4 || type == OMEN_COMPRESS_ZSTD ||
           type == OMEN_COMPRESS_SNAPPY;
}

size_t compress_bound(int type, size_t n)
{
    if (n > COMPRESS_MAX_INPUT) return 0;
    switch (type) {
    case OMEN_COMPRESS_NONE: return n ? n : 1;
    case OMEN_COMPRESS_LZ4: return (size_t)LZ4_compressBound((int)n);
    case OMEN_COMPRESS_ZSTD: return ZSTD_compressBound(n);
    case OMEN_COMPRESS_SNAPPY: return snappy_max_compressed_length(n);
    default: return 0;
    }
}

int compress_block(int type, const void *in, size_t n, void *out, size_t cap, size_t *out_len)
{
    if (!compress_type_valid(type) || n > COMPRESS_MAX_INPUT || (n && (!in || !out)) || !out_len)
        return util_seterr(OMEN_INVALID, "compress: bad arguments (type %d, %zu bytes)", type, n);
    switch (type) {
    case OMEN_COMPRESS_NONE:
        if (cap < n) return util_seterr(OMEN_INVALID, "compress: output too small");
        if (n) memcpy(out, in, n);
        *out_len = n;
        return OMEN_OK;
    case OMEN_COMPRESS_LZ4: {
        int c = cap > INT_MAX ? INT_MAX : (int)cap;
        int r = LZ4_compress_default((const char *)in, (char *)out, (int)n, c);
        if (r <= 0) return util_seterr(OMEN_INVALID, "compress: lz4 failed (output too small?)");
        *out_len = (size_t)r;
        return OMEN_OK;
    }
    case OMEN_COMPRESS_SNAPPY: {
        size_t len = cap;
        if (snappy_compress((const char *)in, n, (char *)out, &len) != SNAPPY_OK)
            return util_seterr(OMEN_INVALID, "compress: snappy failed (output too small?)");
        *out_len = len;
        return OMEN_OK;
    }
    default: {
        size_t r = ZSTD_compress(out, cap, in, n, COMPRESS_ZSTD_LEVEL);
        if (ZSTD_isError(r))
            return util_seterr(ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? OMEN_NOMEM
                                                                                    : OMEN_INVALID,
                               "compress: zstd: %s", ZSTD_getErrorName(r));
        *out_len = r;
        return OMEN_OK;
    }
    }
}

int decompress_block(int type, const void *in, size_t n, void *out, size_t raw_len)
{
    if (!compress_type_valid(type))
        return util_seterr(OMEN_INVALID, "decompress: unknown compression type %d", type);
    if ((n && !in) || (raw_len && !out)) return util_seterr(OMEN_INVALID, "decompress: NULL buffer");
    if (n > COMPRESS_MAX_INPUT || raw_len > COMPRESS_MAX_INPUT)
        return util_seterr(OMEN_CORRUPT, "decompress: block size out of range");
    switch (type) {
    case OMEN_COMPRESS_NONE:
        if (n != raw_len) return util_seterr(OMEN_CORRUPT, "decompress: raw block size mismatch");
        if (n) memcpy(out, in, n);
        return OMEN_OK;
    case OMEN_COMPRESS_LZ4: {
        if (n == 0) return util_seterr(OMEN_CORRUPT, "decompress: empty lz4 block");
        int r = LZ4_decompress_safe((const char *)in, (char *)out, (int)n, (int)raw_len);
        if (r < 0 || (size_t)r != raw_len)
            return util_seterr(OMEN_CORRUPT, "decompress: malformed lz4 block");
        return OMEN_OK;
    }
    case OMEN_COMPRESS_SNAPPY: {
        /* The block starts with its decompressed length: reject a mismatch
         * before decoding (snappy_uncompress checks the rest). */
        size_t len;
        if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK || len != raw_len)
            return util_seterr(OMEN_CORRUPT, "decompress: malformed snappy block header");
        if (snappy_uncompress((const char *)in, n, (char *)out, &len) != SNAPPY_OK || len != raw_len)
            return util_seterr(OMEN_CORRUPT, "decompress: malformed snappy block");
        return OMEN_OK;
    }
    default: {
        /* The frame records its content size; reject a mismatch before
         * decoding so the codec never sees a wrong capacity. */
        unsigned long long cs = ZSTD_getFrameContentSize(in, n);
        if (cs == ZSTD_CONTENTSIZE_ERROR || (cs != ZSTD_CONTENTSIZE_UNKNOWN && cs != raw_len))
            return util_seterr(OMEN_CORRUPT, "decompress: malformed zstd frame header");
        size_t r = ZSTD_decompress(out, raw_len, in, n);
        if (ZSTD_isError(r)) {
            if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
                return util_seterr(OMEN_NOMEM, "decompress: zstd out of memory");
            return util_seterr(OMEN_CORRUPT, "decompress: zstd: %s", ZSTD_getErrorName(r));
        }
        if (r != raw_len) return util_seterr(OMEN_CORRUPT, "decompress: zstd size mismatch");
        return OMEN_OK;
    }
    }
}
