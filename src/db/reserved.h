/*
 * reserved.h -- the key range kept for the engine's own entries.
 *
 * Keys starting with nine 0xFF bytes belong to the engine (vector sets,
 * docs/format.md "Reserved keys").  They sort after every user key, so
 * bounding user iterators below the prefix hides them without a per-entry
 * check.  Nine bytes, because every 8-byte key (omen_key_u64 integers up to
 * UINT64_MAX among them) sorts below it: no integer key is ever refused.
 * Public writes there are rejected; internal modules write through
 * batch_add / txn_write_raw.
 */
#ifndef OMEN_RESERVED_H
#define OMEN_RESERVED_H

#include <stddef.h>
#include <string.h>

#define DB_RESERVED_PREFIX "\xff\xff\xff\xff\xff\xff\xff\xff\xff"
#define DB_RESERVED_LEN 9
/* The message of a refused write ("<fn>: " DB_RESERVED_WHAT). */
#define DB_RESERVED_WHAT "keys starting with nine 0xFF bytes are reserved"

static inline int db_key_reserved(const void *k, size_t klen)
{
    return klen >= DB_RESERVED_LEN && memcmp(k, DB_RESERVED_PREFIX, DB_RESERVED_LEN) == 0;
}

/* Does upper bound (exclusive; NULL = none) reach into the reserved range? */
static inline int db_upper_reaches_reserved(const void *up, size_t len)
{
    if (!up) return 1;
    size_t m = len < DB_RESERVED_LEN ? len : DB_RESERVED_LEN;
    int c = memcmp(up, DB_RESERVED_PREFIX, m);
    if (c) return c > 0;
    return len > DB_RESERVED_LEN;
}

#endif
