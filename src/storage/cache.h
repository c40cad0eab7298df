/*
 * cache.h -- the block cache: a sharded LRU of decompressed value blocks,
 * keyed by (file number, block number), charged by bytes.
 *
 * Invariants:
 *  - File numbers are never reused by the db, so an entry can never be
 *    served for the wrong file; blocks of deleted runs simply age out.
 *  - Entries are reference counted.  A handle returned by lookup/insert
 *    keeps its block alive (and its bytes valid and unchanged) until
 *    cache_release, even if the entry is evicted or replaced meanwhile.
 *    Usage may exceed capacity while handles pin blocks.
 *  - Inserting a key already present replaces the old entry (old handles
 *    stay valid); capacity 0 disables caching (insert still returns a
 *    usable handle that owns the block until release).
 *  - Thread-safe: 16 shards, each under its own mutex; hit/miss counters
 *    are relaxed atomics.
 */
#ifndef OMEN_CACHE_H
#define OMEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "omendb.h"

typedef struct block_cache block_cache;
typedef struct cache_handle cache_handle;

/* New cache holding up to `capacity` bytes of charge.  *out is owned by the
 * caller (cache_free).  OMEN_NOMEM on allocation failure. */
int cache_new(size_t capacity, block_cache **out);
/* Free the cache and every entry.  All handles must have been released.
 * NULL is allowed. */
void cache_free(block_cache *c);

/* Find (file, block).  Returns a handle (release it!) or NULL on a miss.
 * Counts a hit or a miss. */
cache_handle *cache_lookup(block_cache *c, uint64_t file, uint64_t block);

/* Insert data[0..len) (allocated with util_malloc; ownership passes to the
 * cache in every case, also on failure) under (file, block) with charge
 * `charge` (normally len).  On OMEN_OK *out is a handle to the new entry.
 * On OMEN_NOMEM data has been freed and *out is NULL. */
int cache_insert(block_cache *c, uint64_t file, uint64_t block, void *data, size_t len, size_t charge,
                 cache_handle **out);

/* The block bytes of a handle (valid until cache_release). */
const void *cache_handle_data(const cache_handle *h, size_t *len);

/* Drop a reference from lookup/insert.  NULL is allowed. */
void cache_release(block_cache *c, cache_handle *h);

/* Remove (file, block) if present (live handles keep it alive). */
void cache_erase(block_cache *c, uint64_t file, uint64_t block);

uint64_t cache_hits(const block_cache *c);
uint64_t cache_misses(const block_cache *c);
size_t cache_usage(const block_cache *c); /* charge of all entries in the table */
size_t cache_capacity(const block_cache *c);
size_t cache_entries(const block_cache *c); /* entries in the table */

#endif
