/*
 * reserved.h -- the key range kept for the engine's own entries.
 *
 * Keys starting with the 14-byte prefix FF x8, 00, "omen", 00 belong to the
 * engine (vector sets, docs/format.md "Reserved keys").  The prefix is long
 * so that ordinary keys, including big-endian integers up to UINT64_MAX
 * (eight FF bytes, which sorts just below the range), never fall inside it.
 * Public writes there are rejected; user iterators step over the range
 * (iter.c); internal modules write through batch_add / txn_write_raw and
 * read with db_iter_create_any.
 */
#ifndef OMEN_RESERVED_H
#define OMEN_RESERVED_H

#include <stddef.h>
#include <string.h>

#define DB_RESERVED_PREFIX "\xff\xff\xff\xff\xff\xff\xff\xff\x00omen\x00"
#define DB_RESERVED_END "\xff\xff\xff\xff\xff\xff\xff\xff\x00omen\x01"
#define DB_RESERVED_LEN 14

static inline int db_key_reserved(const void *k, size_t klen)
{
    return klen >= DB_RESERVED_LEN && memcmp(k, DB_RESERVED_PREFIX, DB_RESERVED_LEN) == 0;
}

#endif
