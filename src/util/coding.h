/*
 * coding.h -- fixed-width and variable-length integer encodings used by every
 * on-disk format (WAL records, manifest, sorted-run files).
 *
 * Invariants:
 *  - fixed32/fixed64 are little-endian regardless of the host; be64 is
 *    big-endian (byte order == numeric order, used for key slots).
 *  - varints are LEB128 (7 bits per byte, low group first, high bit = more).
 *    A varint32 is at most 5 bytes, a varint64 at most 10.
 *  - Decoders never read at or past `limit`.  They return the position after
 *    the decoded value, or NULL when the input is truncated or the value
 *    overflows its type (a 5th varint32 byte > 0x0f, an 11-byte varint64,
 *    a 10th varint64 byte > 1), so corrupt input is always detected, never
 *    silently wrapped.
 * Everything is static inline: these sit on decode hot paths.
 */
#ifndef OMEN_CODING_H
#define OMEN_CODING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VARINT32_MAX_LEN 5
#define VARINT64_MAX_LEN 10

static inline void put_fixed32(void *dst, uint32_t v)
{
    uint8_t *p = (uint8_t *)dst;
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t get_fixed32(const void *src)
{
    const uint8_t *p = (const uint8_t *)src;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline void put_fixed64(void *dst, uint64_t v)
{
    put_fixed32(dst, (uint32_t)v);
    put_fixed32((uint8_t *)dst + 4, (uint32_t)(v >> 32));
}

static inline uint64_t get_fixed64(const void *src)
{
    return (uint64_t)get_fixed32(src) | ((uint64_t)get_fixed32((const uint8_t *)src + 4) << 32);
}

/* Big-endian 64-bit: byte order equals numeric order. */
static inline void put_be64(void *dst, uint64_t v)
{
    uint8_t *p = (uint8_t *)dst;
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t get_be64(const void *src)
{
    const uint8_t *p = (const uint8_t *)src;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

/* Number of bytes put_varint64(v) writes (1..10). */
static inline int varint_length(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Encode v at dst (room for VARINT64_MAX_LEN bytes); returns the end. */
static inline uint8_t *put_varint64(uint8_t *dst, uint64_t v)
{
    while (v >= 0x80) {
        *dst++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *dst++ = (uint8_t)v;
    return dst;
}

static inline uint8_t *put_varint32(uint8_t *dst, uint32_t v)
{
    return put_varint64(dst, v);
}

/* Decode a varint64 from [p, limit).  Returns the byte after it, or NULL on
 * truncation or overflow. */
static inline const uint8_t *get_varint64(const uint8_t *p, const uint8_t *limit, uint64_t *v)
{
    uint64_t result = 0;
    for (unsigned shift = 0; shift <= 63 && p < limit; shift += 7) {
        uint64_t byte = *p++;
        if (shift == 63 && byte > 1) return NULL; /* would overflow 64 bits */
        result |= (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = result;
            return p;
        }
    }
    return NULL;
}

/* Decode a varint32 from [p, limit).  Returns the byte after it, or NULL on
 * truncation or overflow. */
static inline const uint8_t *get_varint32(const uint8_t *p, const uint8_t *limit, uint32_t *v)
{
    uint32_t result = 0;
    for (unsigned shift = 0; shift <= 28 && p < limit; shift += 7) {
        uint32_t byte = *p++;
        if (shift == 28 && byte > 0x0f) return NULL; /* would overflow 32 bits */
        result |= (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = result;
            return p;
        }
    }
    return NULL;
}

#endif
