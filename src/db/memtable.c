/*
 * memtable.c -- the write buffer: an arena-backed B+tree with one writer
 * and lock-free readers (see memtable.h for the invariants; the tree
 * section below for how readers stay safe while the writer changes it).
 */
#include "db/memtable.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "storage/bloom.h"
#include "util/err.h"
#include "util/mem.h"

/* Point-lookup filter of a database memtable.  A get of a key the memtable
 * does not hold (the common case: most keys live in runs) would otherwise
 * search the tree, a leaf miss and more, before it reaches the runs.
 * Blocked bloom: one 64-byte line per key, three bits in it.  The writer
 * sets the bits before it inserts the entry and before the db publishes
 * the entry's sequence number, so a reader that may see the entry (its
 * snapshot was read after that publication, with acquire) also sees the
 * bits: no false negatives.  Transaction write sets (small arenas) get none. */
#define MT_FILTER_MIN_BLOCK (64u << 10)
#define MT_FILTER_LINES (32768u) /* 2 MiB: ~24 bits/key at 64 MiB of 100-byte values */
/* One huge page: every get of a database that is being written probes it at
 * a random line, and with 4 KiB pages the probe cost a TLB miss besides the
 * cache miss (perf put the filter at ~22% of a reader's time while one
 * writer wrote at 20,000/s). */
#define MT_FILTER_BYTES ((size_t)MT_FILTER_LINES * 64)

/* Memtable-sized blocks are mapped 2 MiB-aligned and marked for transparent
 * huge pages: a random insert hops across the whole arena, and with 4 KiB
 * pages nearly every hop was a TLB miss on top of the cache miss.  Small
 * blocks (transaction write sets) stay on malloc. */
#define MT_HUGE UTIL_HUGE_PAGE

typedef struct mt_block {
    struct mt_block *next;
    size_t cap;
    unsigned char *data;
    size_t map_len; /* nonzero: data is an mmap of this many bytes */
} mt_block;

/* One budget covers every mapped block of the pool's memtables, in use or
 * held: blocks come back to the pool while the total stays within it, and
 * prefill tops the pool up to it.  (A cap on the held blocks alone made
 * each flush map and fault in fresh blocks for the new memtable and then
 * unmap most of the flushed one's.) */
struct mt_pool {
    atomic_int refs;
    pthread_mutex_t mu;
    mt_block *free;   /* held mapped blocks, any size        */
    size_t bytes;     /* of them                             */
    size_t mapped;    /* held + in the pool's memtables      */
    size_t max_bytes; /* the budget for mapped               */
};

/* A bump allocator over a list of blocks, with blocks set aside ahead
 * (spare) by a reservation that the current block's room alone did not
 * cover; allocation moves on to them before it makes new blocks. */
typedef struct mt_arena {
    mt_block *blocks; /* newest first; blocks->data + used is the bump ptr */
    size_t used;      /* bytes used in the newest block                    */
    mt_block *spare;  /* reserved, not yet used                            */
} mt_arena;

/* ---- the B+tree ------------------------------------------------------------
 *
 * Entries (mt_node: header, key, value pointer) are immutable once written.
 * The tree orders pointers to them.  Each slot also holds 16 bytes of its
 * entry's key (big-endian, zero padded), so that a search compares integers
 * in the node it has already fetched and dereferences an entry only on a
 * tie.  Padded prefixes order like the keys they come from (a shorter key
 * that is a prefix of a longer one pads with zeros), so prefix order is a
 * sound first test.
 *
 * The 16 bytes are taken after the node's skip: the length of a prefix that
 * every key the node can ever hold shares (prefix truncation).  A node's
 * keys lie between its fences, the separators around it in its parent and
 * above, and every key between two fences shares their common prefix; so a
 * node made by a split gets the common prefix of its fences as its skip,
 * fixed for its life (splits only narrow a node's range).  Keys that share
 * a long head (a family byte, "user:0000" and the like) would otherwise tie
 * on the whole 16 bytes and dereference entries at every step near the
 * target: for 17-byte keys that differed in their last byte, that was 21%
 * of an insert.  The left half of a split keeps its skip (re-deriving its
 * prefixes would dereference every entry it keeps), nodes without an upper
 * fence (the rightmost) and the root have skip 0, and the right half of a
 * split pays one dereference per entry it receives when its skip differs.
 *
 * Why not the skiplist LevelDB uses: a random insert into a 64 MiB table
 * walked ~20 skiplist nodes, nearly every one a cache miss, and that walk
 * was half of the writer's time (perf, 2M fillrandom).  Here the inner nodes
 * of a full table fit in the L2 and a search misses on one leaf.
 *
 * Concurrency (one writer, lock-free readers), seqlock style:
 *  - smo counts structure changes (splits).  The writer makes it odd before
 *    a split and even after; inner nodes, root and leaf links change only
 *    inside that window.  A reader reads smo first (waits while odd) and
 *    re-reads it last; a change means start over.
 *  - Each leaf has its own version, odd while the writer shifts entries in
 *    it; readers validate it the same way.
 *  - Every tree field is atomic, stored with release and loaded with
 *    acquire (see LD below), so what a reader reaches through a node or
 *    entry pointer is fully written.  A torn read can mislead a reader
 *    only into a slot that is NULL or an older, valid pointer (nodes are
 *    zeroed when made and never freed before the table), and validation
 *    then sends it back.
 *  - The first leaf never moves (splits keep the left half in place), and
 *    only the first leaf of an empty table is empty. */
#define MT_FAN 32
#define MT_MAX_DEPTH 16

typedef struct mt_tnode {
    uint32_t level; /* 0: leaf; immutable */
    _Atomic uint32_t n;
    _Atomic uint32_t skip; /* key bytes before the slot prefixes; set before the node is linked */
} mt_tnode;

typedef struct mt_leaf {
    mt_tnode h;
    _Atomic uint64_t ver;
    _Atomic(struct mt_leaf *) next, prev;
    _Atomic uint64_t pk[MT_FAN][2]; /* key prefixes, slot by slot */
    _Atomic(const mt_node *) ent[MT_FAN];
} mt_leaf;

typedef struct mt_inner {
    mt_tnode h; /* n separators, n + 1 children */
    _Atomic uint64_t pk[MT_FAN][2];
    _Atomic(const mt_node *) sep[MT_FAN]; /* sep[i]: first entry under child[i + 1] */
    _Atomic(mt_tnode *) child[MT_FAN + 1];
} mt_inner;

/* Arena bytes one tree node may take (aligned to a cache line). */
#define MT_TNODE_COST ((sizeof(mt_inner) > sizeof(mt_leaf) ? sizeof(mt_inner) : sizeof(mt_leaf)) + 64)

struct mt {
    atomic_int refs;
    mt_pool *pool; /* or NULL */
    size_t block_size;
    /* Database memtables keep values apart from the entries and tree nodes,
     * so that a search walks memory dense with keys.  Small tables
     * (transaction write sets) keep both in one arena: vals == &nodes. */
    mt_arena nodes, vals_arena;
    mt_arena *vals;
    atomic_size_t bytes;
    atomic_size_t entries;
    atomic_uint_fast64_t max_seq, min_seq;
    _Atomic(mt_tnode *) root;
    _Atomic uint64_t smo;
    mt_leaf *first;           /* the leftmost leaf: fixed for the table's life */
    mt_leaf *tail;            /* writer only: the rightmost leaf (ascending inserts) */
    int depth;                /* writer only: levels above the leaves */
    size_t tnodes;            /* writer only: tree nodes linked into the tree */
    _Atomic uint64_t *filter; /* MT_FILTER_LINES * 8 words, or NULL */
};

/* The filter line of key and its three bits in it (disjoint parts of the
 * hash pick the 64-bit word and the bit). */
static inline _Atomic uint64_t *filter_line(const mt *m, uint64_t h, unsigned word[3], uint64_t mask[3])
{
    for (int i = 0; i < 3; i++) {
        unsigned pos = (unsigned)((h >> (20 + 9 * i)) & 511);
        word[i] = pos >> 6;
        mask[i] = UINT64_C(1) << (pos & 63);
    }
    return m->filter + (h % MT_FILTER_LINES) * 8;
}

static inline _Atomic uint64_t *filter_probe(const mt *m, const void *key, size_t klen, unsigned word[3],
                                             uint64_t mask[3])
{
    return filter_line(m, bloom_hash(key, klen), word, mask);
}

static inline void filter_add(mt *m, uint64_t h)
{
    unsigned word[3];
    uint64_t mask[3];
    _Atomic uint64_t *line = filter_line(m, h, word, mask);
    /* Plain load and store, not a locked OR: only the one writer changes
     * the filter; readers only load, and see each word before or after. */
    for (int i = 0; i < 3; i++) {
        uint64_t w = atomic_load_explicit(&line[word[i]], memory_order_relaxed);
        atomic_store_explicit(&line[word[i]], w | mask[i], memory_order_relaxed);
    }
}

int mt_filter_may_contain(const mt *m, const void *key, size_t klen)
{
    if (!m->filter) return 1;
    unsigned word[3];
    uint64_t mask[3];
    _Atomic uint64_t *line = filter_probe(m, key, klen, word, mask);
    for (int i = 0; i < 3; i++)
        if (!(atomic_load_explicit(&line[word[i]], memory_order_relaxed) & mask[i])) return 0;
    return 1;
}

/* A pooled block of at least cap bytes and not wastefully larger, or NULL.
 * Its bytes are whatever the last memtable left: the arena never relies on
 * zeroed memory (entries are written whole before the tree points to them,
 * and tree nodes are zeroed when made). */
static mt_block *pool_take(mt_pool *p, size_t cap)
{
    if (!p) return NULL;
    pthread_mutex_lock(&p->mu);
    mt_block **pp = &p->free, *b = NULL;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->cap >= cap && (*pp)->cap <= 2 * cap + MT_HUGE) {
            b = *pp;
            *pp = b->next;
            p->bytes -= b->map_len;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (b) b->next = NULL;
    return b;
}

/* Keep b (a block counted in mapped) in the pool while the budget allows
 * (1), or uncount it and leave it to the caller to unmap (0).  A block of
 * its own for one big value (over a quarter of the budget) is not kept:
 * the ordinary blocks' requests could not use it. */
static int pool_give(mt_pool *p, mt_block *b)
{
    if (!p || !b->map_len) return 0;
    int kept = 0;
    pthread_mutex_lock(&p->mu);
    if (p->mapped <= p->max_bytes && b->map_len <= p->max_bytes / 4) {
        b->next = p->free;
        p->free = b;
        p->bytes += b->map_len;
        kept = 1;
    } else {
        p->mapped -= b->map_len;
    }
    pthread_mutex_unlock(&p->mu);
    return kept;
}

static mt_block *block_map(size_t cap)
{
    mt_block *b;
    if (cap >= MT_HUGE) {
        b = util_malloc(sizeof *b);
        if (!b) return NULL;
        size_t len = util_huge_len(cap);
        if (!(b->data = util_map_huge(len))) {
            omen_free(b);
            return NULL;
        }
        b->cap = len;
        b->map_len = len;
        return b;
    }
    b = util_malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->data = (unsigned char *)(b + 1);
    b->cap = cap;
    b->map_len = 0;
    return b;
}

/* Count a freshly mapped block against p's budget. */
static void pool_count(mt_pool *p, const mt_block *b)
{
    if (!p || !b->map_len) return;
    pthread_mutex_lock(&p->mu);
    p->mapped += b->map_len;
    pthread_mutex_unlock(&p->mu);
}

/* A block of at least cap bytes: from the pool, else freshly made. */
static mt_block *block_new(mt_pool *pool, size_t cap)
{
    mt_block *b;
    if (cap >= MT_HUGE && (b = pool_take(pool, cap)) != NULL) return b;
    if ((b = block_map(cap)) != NULL) pool_count(pool, b);
    return b;
}

static void block_free(mt_block *b)
{
    if (b->map_len) util_unmap_huge(b->data, b->map_len);
    omen_free(b);
}

int mt_pool_new(size_t max_bytes, mt_pool **out)
{
    *out = NULL;
    mt_pool *p = util_calloc(1, sizeof *p);
    if (!p) return util_seterr(OMEN_NOMEM, "memtable pool: out of memory");
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->mu, NULL);
    p->max_bytes = max_bytes;
    *out = p;
    return OMEN_OK;
}

size_t mt_pool_bytes(mt_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t b = p->bytes;
    pthread_mutex_unlock(&p->mu);
    return b;
}

void mt_pool_prefill(mt_pool *p, size_t block_size)
{
    if (!p || block_size < MT_HUGE) return;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t mapped = p->mapped;
        pthread_mutex_unlock(&p->mu);
        if (mapped + block_size > p->max_bytes) return;
        mt_block *b = block_map(block_size);
        if (!b) return;
        pool_count(p, b);
        int done = 0;
#ifdef MADV_POPULATE_WRITE
        done = madvise(b->data, b->map_len, MADV_POPULATE_WRITE) == 0;
#endif
        if (!done) /* older kernels: one write per page faults it in */
            for (size_t off = 0; off < b->map_len; off += 4096)
                b->data[off] = 0;
        if (!pool_give(p, b)) {
            block_free(b);
            return;
        }
    }
}

void mt_pool_unref(mt_pool *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    while (p->free) {
        mt_block *b = p->free;
        p->free = b->next;
        block_free(b);
    }
    pthread_mutex_destroy(&p->mu);
    omen_free(p);
}

static void *arena_alloc(mt *m, mt_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (a->blocks && a->blocks->cap - a->used >= n) {
        void *p = a->blocks->data + a->used;
        a->used += n;
        atomic_fetch_add_explicit(&m->bytes, n, memory_order_relaxed);
        return p;
    }
    if (a->spare && a->spare->cap >= n) {
        mt_block *b = a->spare;
        a->spare = b->next;
        b->next = a->blocks;
        a->blocks = b;
        a->used = n;
        atomic_fetch_add_explicit(&m->bytes, sizeof(mt_block) + n, memory_order_relaxed);
        return b->data;
    }
    /* Big entries get a block of their own, slipped in behind the current
     * block so that its free space keeps serving small entries. */
    int dedicated = n > m->block_size / 4;
    size_t cap = dedicated ? n : m->block_size;
    mt_block *b = block_new(m->pool, cap);
    if (!b) {
        util_seterr(OMEN_NOMEM, "memtable: cannot allocate %zu bytes", cap);
        return NULL;
    }
    atomic_fetch_add_explicit(&m->bytes, sizeof(mt_block) + n, memory_order_relaxed);
    if (dedicated && a->blocks) {
        b->next = a->blocks->next;
        a->blocks->next = b;
        return b->data;
    }
    b->next = a->blocks;
    a->blocks = b;
    a->used = n;
    return b->data;
}

static void blocks_free(mt *m, mt_block *b)
{
    while (b) {
        mt_block *n = b->next;
        if (!pool_give(m->pool, b)) block_free(b);
        b = n;
    }
}

static void arena_free(mt *m, mt_arena *a)
{
    blocks_free(m, a->blocks);
    blocks_free(m, a->spare);
    a->blocks = a->spare = NULL;
}

/* Room for allocations of up to bytes in all, none over unit bytes, that
 * need not be contiguous: the current block's room and spare blocks, each
 * counted less the unit (what a block may leave unused when the next
 * allocation does not fit).  For tree nodes, whose worst-case reservation
 * is far above what a batch uses: a contiguous one as large made nearly
 * every big batch start a fresh block and leave the rest of the last. */
static int arena_reserve_items(mt *m, mt_arena *a, size_t bytes, size_t unit)
{
    unit = (unit + 7) & ~(size_t)7;
    size_t have = 0;
    if (a->blocks && a->blocks->cap - a->used >= unit) have = a->blocks->cap - a->used - unit;
    mt_block **tail = &a->spare;
    for (; *tail; tail = &(*tail)->next) have += (*tail)->cap - unit;
    while (have < bytes) {
        size_t cap = bytes - have + unit;
        if (cap < m->block_size) cap = m->block_size;
        mt_block *b = block_new(m->pool, cap);
        if (!b) return util_seterr(OMEN_NOMEM, "memtable: cannot reserve %zu bytes", bytes);
        b->next = NULL;
        *tail = b;
        tail = &b->next;
        have += b->cap - unit;
    }
    return OMEN_OK;
}

static int arena_reserve(mt *m, mt_arena *a, size_t bytes)
{
    if (a->blocks && a->blocks->cap - a->used >= bytes) return OMEN_OK;
    size_t cap = bytes > m->block_size ? bytes : m->block_size;
    mt_block *b = block_new(m->pool, cap);
    if (!b) return util_seterr(OMEN_NOMEM, "memtable: cannot reserve %zu bytes", bytes);
    b->next = a->blocks;
    a->blocks = b;
    a->used = 0;
    atomic_fetch_add_explicit(&m->bytes, sizeof(mt_block), memory_order_relaxed);
    return OMEN_OK;
}

/* ---- tree nodes ------------------------------------------------------------------ */

/* Tree fields are loaded with acquire and stored with release, which on
 * x86 are plain moves.  That orders a seqlock without fences (which TSan
 * cannot check): a reader that loads any slot a writer stored after making
 * a version odd synchronizes with that store, so its later re-read of the
 * version sees the change; and its acquire loads keep that re-read after
 * them. */
#define LD(x) atomic_load_explicit(&(x), memory_order_acquire)
#define ST(x, v) atomic_store_explicit(&(x), (v), memory_order_release)

/* A zeroed tree node from the nodes arena, cache-line aligned.  Zeroed:
 * a reader that races a split may load a slot the writer has not filled
 * yet, and must find NULL there, not a pointer left by an older table. */
static mt_tnode *tnode_new(mt *m, uint32_t level)
{
    size_t sz = level ? sizeof(mt_inner) : sizeof(mt_leaf);
    unsigned char *p = arena_alloc(m, &m->nodes, sz + 64);
    if (!p) return NULL;
    p = (unsigned char *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
    memset(p, 0, sz);
    mt_tnode *t = (mt_tnode *)(void *)p;
    t->level = level;
    return t;
}

/* The search target: an internal key and its 16-byte prefix after `at`
 * bytes (the skip of the node it was last compared in). */
typedef struct tkey {
    const void *k;
    size_t len;
    uint64_t seq;
    uint64_t p0, p1;
    uint32_t at;
} tkey;

/* The 16 bytes of key k after its first skip bytes, as two big-endian words. */
static inline void key_prefix(const void *k, size_t len, uint32_t skip, uint64_t *p0, uint64_t *p1)
{
    uint64_t x, y;
    if (len >= (size_t)skip + 16) {
        memcpy(&x, (const unsigned char *)k + skip, 8);
        memcpy(&y, (const unsigned char *)k + skip + 8, 8);
        *p0 = __builtin_bswap64(x);
        *p1 = __builtin_bswap64(y);
        return;
    }
    unsigned char b[16] = {0};
    if (len > skip) memcpy(b, (const unsigned char *)k + skip, len - skip);
    memcpy(&x, b, 8);
    memcpy(&y, b + 8, 8);
    *p0 = __builtin_bswap64(x);
    *p1 = __builtin_bswap64(y);
}

static inline void tkey_make(tkey *t, const void *k, size_t len, uint64_t seq)
{
    t->k = k;
    t->len = len;
    t->seq = seq;
    t->at = 0;
    key_prefix(k, len, 0, &t->p0, &t->p1);
}

static __attribute__((noinline)) void tkey_reprefix(tkey *t, uint32_t skip)
{
    t->at = skip;
    key_prefix(t->k, t->len, skip, &t->p0, &t->p1);
}

/* Make t's prefix the one a node of this skip holds (out of line: the
 * searches that call this stay small enough to inline). */
static inline void tkey_at(tkey *t, uint32_t skip)
{
    if (t->at != skip) tkey_reprefix(t, skip);
}

static inline uint32_t node_skip(const mt_tnode *x)
{
    return atomic_load_explicit(&x->skip, memory_order_relaxed);
}

/* Bytes the keys of entries a and b share (b NULL: none). */
static uint32_t shared_prefix(const mt_node *a, const mt_node *b)
{
    if (!b) return 0;
    const unsigned char *x = mt_node_key(a), *y = mt_node_key(b);
    size_t n = a->klen < b->klen ? a->klen : b->klen, i = 0;
    while (i + 8 <= n) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        if (u != v) return (uint32_t)(i + (size_t)__builtin_ctzll(u ^ v) / 8);
        i += 8;
    }
    while (i < n && x[i] == y[i]) i++;
    return (uint32_t)i;
}

/* Sign of (t - the entry in slot i of pk/ent); 2 if a racing reader found
 * the slot's entry missing (the caller starts over).  t is at the node's skip. */
static inline int slot_cmp(const tkey *t, _Atomic uint64_t pk[][2], _Atomic(const mt_node *) *ent, unsigned i)
{
    uint64_t a = LD(pk[i][0]);
    if (t->p0 != a) return t->p0 < a ? -1 : 1;
    uint64_t b = LD(pk[i][1]);
    if (t->p1 != b) return t->p1 < b ? -1 : 1;
    const mt_node *e = LD(ent[i]);
    if (!e) return 2;
    return ikey_cmp(t->k, t->len, t->seq, mt_node_key(e), e->klen, e->seq);
}

/* Slots [0, n) below t (upper = 0: entries < t; upper = 1: entries <= t),
 * or -1 on a torn read. */
static inline __attribute__((always_inline)) int bound(tkey *t, uint32_t skip, _Atomic uint64_t pk[][2], _Atomic(const mt_node *) *ent,
                        unsigned n, int upper)
{
    tkey_at(t, skip);
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        int c = slot_cmp(t, pk, ent, mid);
        if (c == 2) return -1;
        if (c > 0 || (upper && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)lo;
}

static inline unsigned clamp_n(unsigned n)
{
    return n > MT_FAN ? MT_FAN : n;
}

/* The leaf's slot prefixes in flight at once: a binary search over them
 * would otherwise wait for one cache miss per probe. */
static inline void leaf_prefetch(const mt_leaf *l)
{
    const char *p = (const char *)l;
    for (size_t off = 0; off < offsetof(mt_leaf, ent); off += 64)
        __builtin_prefetch(p + off);
}

/* The lines a search of node x reads (header and slot prefixes), asked for
 * together as soon as the descent knows x: the binary search then waits
 * for about one miss instead of one per probe (each probe's line depends
 * on the last comparison). */
#define MT_SEARCH_BYTES \
    (offsetof(mt_leaf, ent) > offsetof(mt_inner, sep) ? offsetof(mt_leaf, ent) : offsetof(mt_inner, sep))
static inline void node_prefetch(const mt_tnode *x)
{
    /* Not x->level first: that load would be a miss of its own. */
    const char *p = (const char *)x;
    for (size_t off = 0; off < MT_SEARCH_BYTES; off += 64)
        __builtin_prefetch(p + off);
}

/* Child of inner node x to descend to for t (separators <= t), or NULL on a
 * torn read. */
static inline mt_tnode *inner_child(const mt_tnode *x, tkey *t)
{
    mt_inner *in = (mt_inner *)(uintptr_t)x;
    int i = bound(t, node_skip(x), in->pk, in->sep, clamp_n(LD(in->h.n)), 1);
    if (i < 0) return NULL;
    mt_tnode *c = LD(in->child[i]);
    node_prefetch(c); /* a prefetch never faults, even on a torn read's pointer */
    return c;
}

/* ---- reader side ------------------------------------------------------------------ */

/* A reader's position is kept in an mt_iter (mt_get uses one of its own):
 * node, the slot idx of leaf it sits in, and the leaf version and smo it
 * was read under (for iterators' fast steps). */
static void pos_end(mt_iter *p)
{
    p->node = NULL;
    p->leaf = NULL;
    p->idx = 0;
    p->ver = p->smo = 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Read slot idx of leaf l (idx < 0: its last slot) of p's table as of
 * smo.  0 with p positioned there (p->node NULL when the slot is past the
 * end), -1 if the writer changed something meanwhile. */
static int leaf_read(mt_iter *p, const mt_leaf *l, int idx, uint64_t smo)
{
    const mt *m = p->m;
    uint64_t v = LD(l->ver);
    if (v & 1) return -1;
    unsigned n = clamp_n(LD(l->h.n));
    if (idx < 0) idx = (int)n - 1;
    const mt_node *e = NULL;
    if (idx >= 0 && (unsigned)idx < n && !(e = LD(l->ent[idx]))) return -1;
    if (LD(l->ver) != v || LD(m->smo) != smo) return -1;
    p->leaf = l;
    p->idx = idx < 0 ? 0 : (unsigned)idx;
    p->ver = v;
    p->smo = smo;
    p->node = e;
    return 0;
}

/* The tree's structure counter once no split is under way: what a reader
 * starts from and validates against at the end. */
static uint64_t smo_stable(const mt *m)
{
    uint64_t smo;
    while ((smo = LD(m->smo)) & 1)
        cpu_relax();
    return smo;
}

enum { SEEK_GE, SEEK_GT, SEEK_LT, SEEK_LE };

/* Position p on the first entry >= t (SEEK_GE) or > t (SEEK_GT), or the
 * last < t (SEEK_LT) or <= t (SEEK_LE); p->node NULL if there is none. */
static void tree_seek(mt_iter *p, tkey *t, int mode)
{
    const mt *m = p->m;
    for (;;) {
        uint64_t smo = smo_stable(m);
        const mt_tnode *x = LD(m->root);
        while (x && x->level > 0)
            x = inner_child(x, t);
        if (!x) continue;
        mt_leaf *l = (mt_leaf *)(uintptr_t)x;
        int back = mode == SEEK_LT || mode == SEEK_LE;
        leaf_prefetch(l);
        uint64_t v = LD(l->ver);
        if (v & 1) continue;
        unsigned n = clamp_n(LD(l->h.n));
        int i = bound(t, node_skip(&l->h), l->pk, l->ent, n, mode == SEEK_GT || mode == SEEK_LE);
        if (i < 0) continue;
        int at = back ? i - 1 : i;
        const mt_node *e = NULL;
        if (at >= 0 && (unsigned)at < n && !(e = LD(l->ent[at]))) continue;
        const mt_leaf *side = back ? LD(l->prev) : LD(l->next);
        if (LD(l->ver) != v || LD(m->smo) != smo) continue;
        if (e) {
            p->node = e;
            p->leaf = l;
            p->idx = (unsigned)at;
            p->ver = v;
            p->smo = smo;
            return;
        }
        /* Off this leaf's edge: the neighbour's last (LT, LE) or first slot. */
        if (!side) {
            pos_end(p);
            return;
        }
        /* (Only the first leaf may be empty, and it has no left.) */
        if (leaf_read(p, side, back ? -1 : 0, smo) == 0 && p->node) return;
    }
}

/* ---- writer side ------------------------------------------------------------------ */

/* Shift slots [i, n) of a node's pk/ent (or sep) arrays right by one and put
 * (t's prefix, e) in slot i.  The caller has made the change invisible
 * (leaf version or smo odd). */
static void slots_insert(_Atomic uint64_t pk[][2], _Atomic(const mt_node *) *ent, unsigned n, unsigned i,
                         const tkey *t, const mt_node *e)
{
    for (unsigned j = n; j > i; j--) {
        ST(pk[j][0], LD(pk[j - 1][0]));
        ST(pk[j][1], LD(pk[j - 1][1]));
        ST(ent[j], LD(ent[j - 1]));
    }
    ST(pk[i][0], t->p0);
    ST(pk[i][1], t->p1);
    ST(ent[i], e);
}

/* Move slots [from, n) of src to the start of dst. */
/* Move slots [from, n) of src (prefixes after sskip bytes) to the start of
 * dst (after dskip bytes): a different skip re-derives each prefix from
 * its entry, whose misses are started together first. */
static void slots_move(_Atomic uint64_t dpk[][2], _Atomic(const mt_node *) *dent, uint32_t dskip,
                       _Atomic uint64_t spk[][2], _Atomic(const mt_node *) *sent, uint32_t sskip, unsigned from,
                       unsigned n)
{
    if (dskip != sskip)
        for (unsigned j = from; j < n; j++)
            __builtin_prefetch(LD(sent[j]));
    for (unsigned j = from; j < n; j++) {
        const mt_node *e = LD(sent[j]);
        if (dskip == sskip) {
            ST(dpk[j - from][0], LD(spk[j][0]));
            ST(dpk[j - from][1], LD(spk[j][1]));
        } else {
            uint64_t p0, p1;
            key_prefix(mt_node_key(e), e->klen, dskip, &p0, &p1);
            ST(dpk[j - from][0], p0);
            ST(dpk[j - from][1], p1);
        }
        ST(dent[j - from], e);
    }
}

/* Whether two neighbours among slots [from, n) have the same prefix: only
 * then is a right half worth its own skip (re-deriving its prefixes costs
 * a dereference per entry); otherwise it keeps its left half's, which
 * tells its keys apart already. */
static int slots_tie(_Atomic uint64_t pk[][2], unsigned from, unsigned n)
{
    for (unsigned j = from + 1; j < n; j++)
        if (LD(pk[j][0]) == LD(pk[j - 1][0]) && LD(pk[j][1]) == LD(pk[j - 1][1])) return 1;
    return 0;
}

/* The upper fence of the node reached through path[0..k] (child pci[i] of
 * path[i]): the nearest separator to the right of the path, NULL if the
 * node is the rightmost of its level. */
static const mt_node *upper_fence(mt_inner **path, const unsigned *pci, int k)
{
    for (; k >= 0; k--)
        if (pci[k] < LD(path[k]->h.n)) return LD(path[k]->sep[pci[k]]);
    return NULL;
}

/* Odd before a split, even again after it. */
static inline void smo_bump(mt *m)
{
    ST(m->smo, LD(m->smo) + 1);
}

/* Insert separator (t's prefix, e) with right child r after child slot ci of
 * path[k], splitting upwards as needed.  Inside an smo window. */
static void sep_insert(mt *m, mt_inner **path, unsigned *pci, int k, tkey *t, const mt_node *e, mt_tnode *r,
                       mt_tnode **spare)
{
    for (; k >= 0; k--) {
        mt_inner *in = path[k];
        unsigned n = LD(in->h.n), ci = pci[k];
        uint32_t skip = node_skip(&in->h);
        tkey_at(t, skip);
        if (n < MT_FAN) {
            for (unsigned j = n + 1; j > ci + 1; j--)
                ST(in->child[j], LD(in->child[j - 1]));
            slots_insert(in->pk, in->sep, n, ci, t, e);
            ST(in->child[ci + 1], r);
            ST(in->h.n, n + 1);
            return;
        }
        /* Full: split around the middle of the n + 1 separators. */
        mt_inner *ri = (mt_inner *)*spare++;
        unsigned h = (MT_FAN + 1) / 2; /* separators staying left */
        /* Gather the n + 1 separators and n + 2 children in order. */
        uint64_t pk[MT_FAN + 1][2];
        const mt_node *sp[MT_FAN + 1];
        mt_tnode *ch[MT_FAN + 2];
        for (unsigned j = 0, o = 0; j <= n; j++) {
            if (j == ci) {
                pk[o][0] = t->p0, pk[o][1] = t->p1, sp[o++] = e;
            }
            if (j < n) pk[o][0] = LD(in->pk[j][0]), pk[o][1] = LD(in->pk[j][1]), sp[o++] = LD(in->sep[j]);
        }
        for (unsigned j = 0, o = 0; j <= n; j++) {
            ch[o++] = LD(in->child[j]);
            if (j == ci) ch[o++] = r;
        }
        for (unsigned j = 0; j < h; j++) {
            ST(in->pk[j][0], pk[j][0]);
            ST(in->pk[j][1], pk[j][1]);
            ST(in->sep[j], sp[j]);
        }
        for (unsigned j = 0; j <= h; j++)
            ST(in->child[j], ch[j]);
        /* ri holds [separator h, the fence above in). */
        int tie = 0;
        for (unsigned j = h + 2; j <= n && !tie; j++)
            tie = pk[j][0] == pk[j - 1][0] && pk[j][1] == pk[j - 1][1];
        uint32_t rskip = tie ? shared_prefix(sp[h], upper_fence(path, pci, k - 1)) : skip;
        atomic_store_explicit(&ri->h.skip, rskip, memory_order_relaxed);
        for (unsigned j = h + 1; j <= n; j++) {
            if (rskip != skip) key_prefix(mt_node_key(sp[j]), sp[j]->klen, rskip, &pk[j][0], &pk[j][1]);
            ST(ri->pk[j - h - 1][0], pk[j][0]);
            ST(ri->pk[j - h - 1][1], pk[j][1]);
            ST(ri->sep[j - h - 1], sp[j]);
        }
        for (unsigned j = h + 1; j <= n + 1; j++)
            ST(ri->child[j - h - 1], ch[j]);
        ST(in->h.n, h);
        ST(ri->h.n, n - h);
        /* Separator h moves up, as the first entry under ri. */
        e = sp[h];
        t->k = mt_node_key(e);
        t->len = e->klen;
        t->seq = e->seq;
        t->p0 = pk[h][0];
        t->p1 = pk[h][1];
        t->at = skip;
        r = &ri->h;
    }
    /* The root split: a new root above it (skip 0: it has no fences). */
    mt_inner *nr = (mt_inner *)*spare;
    tkey_at(t, 0);
    ST(nr->pk[0][0], t->p0);
    ST(nr->pk[0][1], t->p1);
    ST(nr->sep[0], e);
    ST(nr->child[0], LD(m->root));
    ST(nr->child[1], r);
    ST(nr->h.n, 1);
    ST(m->root, &nr->h);
    m->depth++;
}

/* Insert entry e (target t) into the tree.  Tree nodes come from space
 * mt_reserve set aside, so this cannot fail after a reservation. */
/* hash: e's key hash, whose filter bits are set once the descent is done
 * and before e is published (the filter line's miss overlaps the descent). */
static int tree_insert(mt *m, tkey *t, const mt_node *e, uint64_t hash)
{
    mt_inner *path[MT_MAX_DEPTH];
    unsigned pci[MT_MAX_DEPTH];
    int d = 0;
    mt_leaf *l = m->tail;
    unsigned n = LD(l->h.n), i;
    tkey_at(t, node_skip(&l->h));
    if (n && n < MT_FAN && slot_cmp(t, l->pk, l->ent, n - 1) > 0) {
        i = n; /* ascending input: append to the last leaf, no search */
    } else {
        mt_tnode *x = LD(m->root);
        while (x->level > 0) {
            mt_inner *in = (mt_inner *)x;
            int ci = bound(t, node_skip(x), in->pk, in->sep, LD(in->h.n), 1);
            path[d] = in;
            pci[d++] = (unsigned)ci;
            x = LD(in->child[ci]);
            node_prefetch(x);
        }
        l = (mt_leaf *)x;
        n = LD(l->h.n);
        i = (unsigned)bound(t, node_skip(x), l->pk, l->ent, n, 0);
    }
    if (m->filter) filter_add(m, hash);
    if (n < MT_FAN) {
        uint64_t v = LD(l->ver);
        ST(l->ver, v + 1);
        slots_insert(l->pk, l->ent, n, i, t, e);
        ST(l->h.n, n + 1);
        ST(l->ver, v + 2);
        return OMEN_OK;
    }
    /* Every node the split needs is made before anything changes, so a
     * failed allocation leaves the tree as it was. */
    mt_tnode *spare[MT_MAX_DEPTH + 2];
    int ns = 0, k = d - 1;
    spare[ns++] = tnode_new(m, 0);
    while (k >= 0 && LD(path[k]->h.n) == MT_FAN)
        spare[ns++] = tnode_new(m, path[k--]->h.level);
    if (k < 0) spare[ns++] = tnode_new(m, (uint32_t)m->depth + 1);
    for (int j = 0; j < ns; j++)
        if (!spare[j]) return OMEN_NOMEM;
    m->tnodes += (size_t)ns; /* counted once linked: nodes_needed relies on it */
    mt_leaf *r = (mt_leaf *)spare[0];
    smo_bump(m);
    mt_leaf *nx = LD(l->next);
    /* An append at the right end keeps the left leaf full (ascending loads
     * then fill every leaf); otherwise split in the middle. */
    unsigned keep = (i == n && !nx) ? n : n / 2;
    int left = i <= keep && keep < n; /* the new entry stays in l */
    /* r holds [its first entry, l's upper fence). */
    const mt_node *rfirst = !left && i == keep ? e : LD(l->ent[keep]);
    uint32_t lskip = node_skip(&l->h), rskip = lskip;
    if (slots_tie(l->pk, keep, n)) rskip = shared_prefix(rfirst, upper_fence(path, pci, d - 1));
    atomic_store_explicit(&r->h.skip, rskip, memory_order_relaxed);
    slots_move(r->pk, r->ent, rskip, l->pk, l->ent, lskip, keep, n);
    ST(r->h.n, n - keep);
    ST(l->h.n, keep);
    tkey_at(t, left ? lskip : rskip);
    if (left)
        slots_insert(l->pk, l->ent, keep, i, t, e), ST(l->h.n, keep + 1);
    else
        slots_insert(r->pk, r->ent, n - keep, i - keep, t, e), ST(r->h.n, n - keep + 1);
    ST(r->prev, l);
    ST(r->next, nx);
    if (nx) ST(nx->prev, r);
    ST(l->next, r);
    if (!nx) m->tail = r;
    const mt_node *se = LD(r->ent[0]);
    tkey st;
    tkey_make(&st, mt_node_key(se), se->klen, se->seq);
    sep_insert(m, path, pci, d - 1, &st, se, &r->h, spare + 1);
    smo_bump(m);
    return OMEN_OK;
}

/* ---- the table ------------------------------------------------------------------ */

int mt_new(size_t block_size, mt **out)
{
    return mt_new_pooled(block_size, NULL, out);
}

int mt_new_pooled(size_t block_size, mt_pool *pool, mt **out)
{
    *out = NULL;
    mt *m = util_calloc(1, sizeof *m);
    if (!m) return util_seterr(OMEN_NOMEM, "memtable: out of memory");
    if (block_size < 4096) block_size = 4096;
    m->block_size = block_size;
    m->vals = block_size >= MT_FILTER_MIN_BLOCK ? &m->vals_arena : &m->nodes;
    atomic_init(&m->refs, 1);
    atomic_init(&m->bytes, 0);
    atomic_init(&m->entries, 0);
    atomic_init(&m->max_seq, 0);
    atomic_init(&m->min_seq, UINT64_MAX);
    atomic_init(&m->smo, 0);
    if (pool) {
        atomic_fetch_add_explicit(&pool->refs, 1, memory_order_relaxed);
        m->pool = pool;
    }
    if (block_size >= MT_FILTER_MIN_BLOCK && !(m->filter = util_map_huge(MT_FILTER_BYTES))) {
        mt_unref(m);
        return util_seterr(OMEN_NOMEM, "memtable: out of memory");
    }
    mt_tnode *root = tnode_new(m, 0);
    if (!root) {
        mt_unref(m);
        return util_seterr(OMEN_NOMEM, "memtable: out of memory");
    }
    m->first = m->tail = (mt_leaf *)root;
    m->tnodes = 1;
    atomic_init(&m->root, root);
    *out = m;
    return OMEN_OK;
}

void mt_ref(mt *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void mt_unref(mt *m)
{
    if (!m) return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    arena_free(m, &m->nodes);
    arena_free(m, &m->vals_arena);
    util_unmap_huge((void *)m->filter, MT_FILTER_BYTES);
    mt_pool_unref(m->pool);
    omen_free(m);
}

/* Tree nodes that count more inserts may need.  Each insert may split a
 * leaf and every inner node above it and grow the root: count * (depth + 2).
 * For a big batch a second bound is far tighter: every leaf but the last
 * holds at least MT_FAN / 2 entries and every inner node but the root at
 * least MT_FAN / 2 separators (splits never leave less), so a tree of E
 * entries has at most L = E / 16 + 1 leaves and L / 16 + depth + 1 inner
 * nodes; nodes are never freed, so the batch needs at most that many for
 * E = entries + count, less those made already. */
static size_t nodes_needed(const mt *m, size_t count)
{
    size_t depth = (size_t)m->depth + 2; /* with room for the root to grow */
    size_t per = count * (depth + 1);
    size_t leaves = (atomic_load_explicit(&m->entries, memory_order_relaxed) + count) / (MT_FAN / 2) + 1;
    size_t all = leaves + leaves / (MT_FAN / 2) + 2 * depth + 2;
    size_t more = all > m->tnodes ? all - m->tnodes : 0;
    return per < more ? per : more;
}

int mt_reserve(mt *m, size_t bytes, size_t count)
{
    /* bytes bounds the entries and the values together, so it bounds each. */
    bytes = (bytes + 7) & ~(size_t)7;
    if (m->vals == &m->nodes) return arena_reserve(m, &m->nodes, bytes + nodes_needed(m, count) * MT_TNODE_COST);
    /* The nodes arena holds tree nodes and entries (each at most a header
     * and a key, and bounded by bytes). */
    size_t unit = sizeof(mt_node) + OMEN_MAX_KEY_LEN + 64;
    if (unit > bytes) unit = bytes;
    if (unit < MT_TNODE_COST) unit = MT_TNODE_COST;
    int rc = arena_reserve_items(m, &m->nodes, bytes + nodes_needed(m, count) * MT_TNODE_COST, unit);
    if (rc == OMEN_OK) rc = arena_reserve(m, m->vals, bytes);
    return rc;
}

uint64_t mt_key_hash(const void *key, size_t klen)
{
    return bloom_hash(key, klen);
}

void mt_filter_prefetch(const mt *m, uint64_t hash)
{
    if (m->filter) __builtin_prefetch((const void *)(m->filter + (hash % MT_FILTER_LINES) * 8), 1);
}

int mt_add(mt *m, uint64_t seq, int type, const void *key, size_t klen, const void *val, size_t vlen)
{
    return mt_add_hashed(m, m->filter ? bloom_hash(key, klen) : 0, seq, type, key, klen, val, vlen);
}

int mt_add_hashed(mt *m, uint64_t hash, uint64_t seq, int type, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    unsigned char *vp = NULL;
    if (vlen && !(vp = arena_alloc(m, m->vals, vlen))) return OMEN_NOMEM;
    mt_node *n = arena_alloc(m, &m->nodes, sizeof(mt_node) + klen);
    if (!n) return OMEN_NOMEM;
    n->seq = seq;
    n->klen = (uint32_t)klen;
    n->vlen = (uint32_t)vlen;
    n->type = (uint8_t)type;
    uint8_t *kp = (uint8_t *)(n + 1);
    if (klen) memcpy(kp, key, klen);
    if (vlen) memcpy(vp, val, vlen);
    n->val = vlen ? vp : kp + klen; /* an empty value still gets a valid pointer */
    mt_filter_prefetch(m, hash);
    tkey t;
    tkey_make(&t, key, klen, seq);
    int rc = tree_insert(m, &t, n, hash);
    if (rc) return util_seterr(rc, "memtable: out of memory");
    atomic_fetch_add_explicit(&m->entries, 1, memory_order_relaxed);
    if (seq > atomic_load_explicit(&m->max_seq, memory_order_relaxed))
        atomic_store_explicit(&m->max_seq, seq, memory_order_relaxed);
    if (seq < atomic_load_explicit(&m->min_seq, memory_order_relaxed))
        atomic_store_explicit(&m->min_seq, seq, memory_order_relaxed);
    return OMEN_OK;
}

int mt_get(const mt *m, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type,
           const void **val, size_t *vlen)
{
    /* An empty table (the usual state after a flush) costs no filter miss. */
    if (atomic_load_explicit(&m->entries, memory_order_relaxed) == 0 || !mt_filter_may_contain(m, key, klen))
        return 0;
    tkey t;
    tkey_make(&t, key, klen, snap);
    mt_iter p;
    mt_iter_init(&p, m);
    tree_seek(&p, &t, SEEK_GE);
    const mt_node *n = p.node;
    if (!n || n->klen != klen || (klen && memcmp(mt_node_key(n), key, klen) != 0)) return 0;
    if (seq) *seq = n->seq;
    if (type) *type = n->type;
    if (val) *val = mt_node_val(n);
    if (vlen) *vlen = n->vlen;
    return 1;
}

uint64_t mt_latest_seq(const mt *m, const void *key, size_t klen)
{
    uint64_t seq = 0;
    if (!mt_get(m, key, klen, MT_MAX_SEQ, &seq, NULL, NULL, NULL)) return 0;
    return seq;
}

size_t mt_bytes(const mt *m)
{
    return atomic_load_explicit(&m->bytes, memory_order_relaxed);
}

size_t mt_entries(const mt *m)
{
    return atomic_load_explicit(&m->entries, memory_order_relaxed);
}

uint64_t mt_max_seq(const mt *m)
{
    return atomic_load_explicit(&m->max_seq, memory_order_relaxed);
}

uint64_t mt_min_seq(const mt *m)
{
    uint64_t s = atomic_load_explicit(&m->min_seq, memory_order_relaxed);
    return s == UINT64_MAX ? 0 : s;
}

/* ---- iterators ------------------------------------------------------------------ */

static void iter_seek_mode(mt_iter *it, const void *key, size_t klen, uint64_t seq, int mode)
{
    tkey t;
    tkey_make(&t, key, klen, seq);
    tree_seek(it, &t, mode);
}

void mt_iter_init(mt_iter *it, const mt *m)
{
    memset(it, 0, sizeof *it);
    it->m = m;
}

void mt_iter_seek_first(mt_iter *it)
{
    while (leaf_read(it, it->m->first, 0, smo_stable(it->m))) {
    }
}

void mt_iter_seek_last(mt_iter *it)
{
    const mt *m = it->m;
    for (;;) {
        uint64_t smo = smo_stable(m);
        const mt_tnode *x = LD(m->root);
        while (x && x->level > 0) {
            mt_inner *in = (mt_inner *)(uintptr_t)x;
            x = LD(in->child[clamp_n(LD(in->h.n))]);
        }
        if (x && leaf_read(it, (const mt_leaf *)x, -1, smo) == 0) return;
    }
}

void mt_iter_seek(mt_iter *it, const void *key, size_t klen, uint64_t seq)
{
    iter_seek_mode(it, key, klen, seq, SEEK_GE);
}

void mt_iter_seek_for_prev(mt_iter *it, const void *key, size_t klen, uint64_t seq)
{
    iter_seek_mode(it, key, klen, seq, SEEK_LE);
}

/* Step to the neighbouring slot while the leaf and the tree are as they
 * were when the iterator was positioned: 1 done, 0 not possible (it is
 * left as it was). */
static int iter_step(mt_iter *it, int dir)
{
    const mt *m = it->m;
    const mt_leaf *l = it->leaf;
    if (!l || LD(m->smo) != it->smo || LD(l->ver) != it->ver) return 0;
    unsigned n = clamp_n(LD(l->h.n));
    mt_iter p = *it;
    if (dir > 0 ? it->idx + 1 < n : it->idx > 0) {
        if (leaf_read(&p, l, (int)it->idx + dir, it->smo) || p.ver != it->ver) return 0;
    } else {
        const mt_leaf *side = dir > 0 ? LD(l->next) : LD(l->prev);
        if (LD(l->ver) != it->ver || LD(m->smo) != it->smo) return 0;
        if (!side)
            pos_end(&p);
        else if (leaf_read(&p, side, dir > 0 ? 0 : -1, it->smo) || !p.node)
            return 0;
    }
    *it = p;
    return 1;
}

/* Entries sit in the arena in insertion order, so a scan in key order
 * (a flush reads the whole table so) misses on nearly every entry and
 * again on its value.  Ask for the entry MT_SCAN_AHEAD slots on and for
 * the value of the one half as far on (its entry was asked for earlier),
 * so that those misses overlap instead of each stalling one step.  Only
 * hints: the slots are read as a racing reader reads them, and a NULL or
 * older pointer just prefetches something harmless. */
#define MT_SCAN_AHEAD 8
static inline const mt_node *slot_ahead(const mt_leaf *l, unsigned i)
{
    unsigned n = clamp_n(LD(l->h.n));
    if (i >= n) {
        i -= n;
        if (!(l = LD(l->next)) || i >= clamp_n(LD(l->h.n))) return NULL;
    }
    return LD(l->ent[i]);
}

static inline void scan_prefetch(const mt_iter *it)
{
    const mt_leaf *l = it->leaf;
    if (!l) return;
    const mt_node *e = slot_ahead(l, it->idx + MT_SCAN_AHEAD);
    if (e) __builtin_prefetch(e);
    if ((e = slot_ahead(l, it->idx + MT_SCAN_AHEAD / 2)) != NULL) {
        __builtin_prefetch(e->val);
        if (e->vlen > 64) __builtin_prefetch(e->val + 64);
    }
    if (it->idx == 0 && (l = LD(l->next)) != NULL) /* the next leaf's slots */
        for (size_t off = offsetof(mt_leaf, ent); off < sizeof *l; off += 64)
            __builtin_prefetch((const char *)l + off);
}

void mt_iter_next(mt_iter *it)
{
    const mt_node *n = it->node;
    if (iter_step(it, 1)) {
        scan_prefetch(it);
        return;
    }
    iter_seek_mode(it, mt_node_key(n), n->klen, n->seq, SEEK_GT);
}

void mt_iter_prev(mt_iter *it)
{
    const mt_node *n = it->node;
    if (iter_step(it, -1)) return;
    iter_seek_mode(it, mt_node_key(n), n->klen, n->seq, SEEK_LT);
}
