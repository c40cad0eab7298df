/*
 * memtable.h -- the in-memory write buffer: a B+tree over internal entries
 * (user key, sequence, type, value) allocated from an arena.
 *
 * Invariants:
 *  - Order: user key ascending (memcmp, shorter first on a common prefix),
 *    then sequence descending, so a lower_bound on (key, snap) lands on the
 *    newest version visible at snap.
 *  - One writer at a time (the caller serializes mt_add / mt_reserve: the
 *    db's write-group leader); any number of readers run concurrently and
 *    lock-free.  An entry is fully written before the tree points to it
 *    (release store), and readers load those pointers with acquire, so a
 *    reader sees either the whole entry or not the entry at all; readers
 *    validate what they read of the tree against version counters and
 *    search again if the writer changed it (memtable.c).
 *  - Entries are never removed; memory is released when the last reference
 *    goes (mt_unref).
 *  - (key, seq) pairs are unique within one memtable (callers give every
 *    operation its own sequence number).
 */
#ifndef OMEN_MEMTABLE_H
#define OMEN_MEMTABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "omendb.h"

/* Entry types, shared by the whole db layer (WAL batches, memtable, runs). */
enum { MT_TYPE_DELETE = 0, MT_TYPE_PUT = 1 };

#define MT_MAX_SEQ ((uint64_t)0x00ffffffffffffffull)

/* An entry is laid out as [mt_node][key]; the value lives elsewhere in the
 * arena (memtable.c says why).  Use mt_node_key / mt_node_val. */
typedef struct mt_node {
    uint64_t seq;
    const uint8_t *val;
    uint32_t klen;
    uint32_t vlen;
    uint8_t type;
} mt_node;

typedef struct mt mt;

/* block_size: arena block size (small for transaction write sets, large for
 * the db memtable).  Starts with one reference. */
int mt_new(size_t block_size, mt **out);

/* Arena blocks of released memtables, kept for the next ones.  A fresh
 * huge-page block costs a page fault and the kernel's zeroing of 2 MiB per
 * first touch, in the writer's path: profiled at ~1/6 of the writer's time
 * in a random-insert load.  max_bytes budgets every mapped block of the
 * pool's memtables, in use or held.  The pool is reference counted (each
 * pooled memtable holds one), so memtables that outlive their database
 * handle keep it alive.  Thread-safe. */
typedef struct mt_pool mt_pool;
int mt_pool_new(size_t max_bytes, mt_pool **out);
void mt_pool_unref(mt_pool *p);   /* NULL ok */
size_t mt_pool_bytes(mt_pool *p); /* bytes of blocks held for reuse */
/* Map and fault in fresh blocks of block_size bytes into the pool up to
 * its budget: the flush thread runs this when a memtable fills up, so that
 * the next one's first touches, until blocks of flushed tables come back,
 * are not page faults in the writer's path.  A hint: stops quietly when
 * memory is short. */
void mt_pool_prefill(mt_pool *p, size_t block_size);
/* As mt_new, with large arena blocks taken from and given back to pool
 * (NULL: none).  The memtable references pool until it is freed. */
int mt_new_pooled(size_t block_size, mt_pool *pool, mt **out);
/* 0 if the memtable certainly holds no version of key (database-sized
 * memtables keep a bloom filter of their keys); 1 if it may. */
int mt_filter_may_contain(const mt *m, const void *key, size_t klen);
void mt_ref(mt *m);
void mt_unref(mt *m);

/* Make sure the next `count` adds, totalling `bytes` (as computed by
 * mt_entry_cost), cannot fail for lack of memory.  OMEN_NOMEM if the arena
 * cannot grow. */
int mt_reserve(mt *m, size_t bytes, size_t count);
/* Upper bound of the arena bytes one entry and its value need (the tree
 * nodes it may split are reserved by count). */
static inline size_t mt_entry_cost(size_t klen, size_t vlen)
{
    return sizeof(mt_node) + klen + vlen + 16;
}

/* Insert an entry.  OMEN_NOMEM only if nothing was reserved for it. */
int mt_add(mt *m, uint64_t seq, int type, const void *key, size_t klen, const void *val, size_t vlen);

/* Batched inserts: the point-lookup filter line an add writes is a cache
 * miss (a random line of 2 MiB), so a writer with many entries to add hashes
 * each a few entries ahead, asks for its line with mt_filter_prefetch, and
 * adds it with mt_add_hashed passing the same hash. */
uint64_t mt_key_hash(const void *key, size_t klen);
void mt_filter_prefetch(const mt *m, uint64_t hash);
int mt_add_hashed(mt *m, uint64_t hash, uint64_t seq, int type, const void *key, size_t klen, const void *val,
                  size_t vlen);

/* Newest version of key with seq <= snap.  Returns 1 and fills the outs
 * (value borrowed from the memtable, valid while it is referenced) or 0. */
int mt_get(const mt *m, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type,
           const void **val, size_t *vlen);

/* Sequence of the newest version of key, 0 if absent. */
uint64_t mt_latest_seq(const mt *m, const void *key, size_t klen);

size_t mt_bytes(const mt *m);   /* arena bytes in use                        */
size_t mt_entries(const mt *m); /* entries inserted                          */
uint64_t mt_max_seq(const mt *m);
uint64_t mt_min_seq(const mt *m);

static inline const uint8_t *mt_node_key(const mt_node *n)
{
    return (const uint8_t *)(n + 1);
}
static inline const uint8_t *mt_node_val(const mt_node *n)
{
    return n->val;
}

/* Iterator over every internal entry.  Not thread-safe per iterator; many
 * may run concurrently with the writer.  The memtable must stay referenced
 * while the iterator is used. */
typedef struct mt_iter {
    const mt *m;
    const mt_node *node; /* NULL: not valid */
    /* Where node was found, and the versions it was read under: a step
     * stays in the leaf while neither changed, else searches again. */
    const void *leaf;
    unsigned idx;
    uint64_t ver, smo;
} mt_iter;

void mt_iter_init(mt_iter *it, const mt *m);
static inline int mt_iter_valid(const mt_iter *it)
{
    return it->node != NULL;
}
void mt_iter_seek_first(mt_iter *it);
void mt_iter_seek_last(mt_iter *it);
/* First entry >= (key, seq) in internal order. */
void mt_iter_seek(mt_iter *it, const void *key, size_t klen, uint64_t seq);
/* Last entry <= (key, seq) in internal order. */
void mt_iter_seek_for_prev(mt_iter *it, const void *key, size_t klen, uint64_t seq);
void mt_iter_next(mt_iter *it);
void mt_iter_prev(mt_iter *it);

/* Bytewise user-key order (memcmp, shorter first on a common prefix).
 * Only the sign of the result is meaningful.  Compares 8 bytes at a time
 * inline: keys often share long prefixes and a libc call per comparison
 * showed up in profiles. */
static inline int ukey_cmp(const void *ak, size_t al, const void *bk, size_t bl)
{
    size_t n = al < bl ? al : bl;
    const unsigned char *p = (const unsigned char *)ak, *q = (const unsigned char *)bk;
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, p, 8);
        memcpy(&y, q, 8);
        if (x != y) {
            x = __builtin_bswap64(x);
            y = __builtin_bswap64(y);
            return x < y ? -1 : 1;
        }
        p += 8;
        q += 8;
        n -= 8;
    }
    while (n--) {
        if (*p != *q) return *p < *q ? -1 : 1;
        p++;
        q++;
    }
    return al < bl ? -1 : (al > bl ? 1 : 0);
}

/* Internal-key comparison: user key ascending, then seq descending. */
static inline int ikey_cmp(const void *ak, size_t al, uint64_t aseq, const void *bk, size_t bl, uint64_t bseq)
{
    int c = ukey_cmp(ak, al, bk, bl);
    if (c) return c;
    return aseq > bseq ? -1 : (aseq < bseq ? 1 : 0);
}

#endif
