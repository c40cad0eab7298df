/*
 * bloom.h -- the per-run bloom filter over user keys.
 *
 * A *blocked* bloom filter: a key's 64-bit hash picks one 64-byte block
 * (one cache line) and k bit positions inside it, derived from the same
 * hash by double hashing (h1 + i*h2).  A probe therefore costs one cache
 * miss instead of k, which matters on the point-read path; the price is a
 * slightly higher false-positive rate than a classic filter of the same
 * size (about 1.2% -> ~1.5% at 10 bits/key).
 *
 * Serialized image (little-endian), see docs/format.md:
 *   u32 nblocks | u8 k | u8 reserved[3] | nblocks * 64 bytes of bits
 * An image with nblocks == 0 answers "may contain" for every key (a filter
 * that was disabled).  bloom_check_image() validates an image once (at run
 * open); after that bloom_may_contain() trusts it and never reads outside.
 *
 * Invariants: no false negatives; the hash function is part of the file
 * format and must never change for format version 1.
 */
#ifndef OMEN_BLOOM_H
#define OMEN_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "omendb.h"
#include "util/coding.h"

#define BLOOM_HEADER_BYTES 8
#define BLOOM_BLOCK_BYTES 64

/* The 64-bit key hash of the filter (stable, seedless). */
uint64_t bloom_hash(const void *key, size_t len);

/* Size in bytes of the image for nkeys distinct keys at bits_per_key
 * (bits_per_key <= 0 or nkeys == 0 gives the 8-byte "disabled" image). */
size_t bloom_image_size(uint64_t nkeys, int bits_per_key);

/* Build the image into out[0..bloom_image_size(nkeys, bits_per_key)) from
 * the hashes of nkeys keys, delivered by repeated calls of next(ctx, &h)
 * (return OMEN_OK, or an error that aborts and is returned).  Duplicated
 * hashes are harmless. */
int bloom_build(uint64_t nkeys, int bits_per_key, int (*next)(void *ctx, uint64_t *h), void *ctx, void *out,
                size_t out_len);

/* Convenience for small sets: hashes given as an array. */
int bloom_build_array(const uint64_t *hashes, size_t n, int bits_per_key, void *out, size_t out_len);

/* OMEN_OK if img[0..len) is a well-formed image, OMEN_CORRUPT otherwise. */
int bloom_check_image(const void *img, size_t len);

/* 0 if the key is certainly absent, 1 if it may be present.  img must have
 * passed bloom_check_image. */
int bloom_may_contain(const void *img, uint64_t hash);

/* The block of a filter of nblocks blocks that hash selects (part of the
 * format: docs/format.md), as a byte offset from the first block. */
static inline uint64_t bloom_block_offset(uint32_t nblocks, uint64_t hash)
{
    return (((hash >> 32) * (uint64_t)nblocks) >> 32) * BLOOM_BLOCK_BYTES;
}

/* The block of image img that bloom_may_contain(img, hash) probes. */
static inline const uint8_t *bloom_block(const void *img, uint64_t hash)
{
    const uint8_t *p = (const uint8_t *)img;
    return p + BLOOM_HEADER_BYTES + bloom_block_offset(get_fixed32(p), hash);
}

/* Start loading the cache line bloom_may_contain(img, hash) will probe, so
 * that the miss overlaps other work of a lookup.  img as above. */
static inline void bloom_prefetch(const void *img, uint64_t hash)
{
    __builtin_prefetch(bloom_block(img, hash));
}

#endif
