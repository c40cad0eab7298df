/*
 * memtable.c -- arena-backed skiplist (see memtable.h for the invariants).
 *
 * Concurrency follows LevelDB's skiplist: the single writer builds a node
 * completely, sets its forward links (relaxed: nobody can see the node yet),
 * then links it into each level bottom-up with release stores.  Readers use
 * acquire loads, so following a link always reaches a fully built node.
 * The current height is read relaxed: a reader that sees a stale (lower)
 * height just starts lower; one that sees a new height before the new
 * top-level links finds NULL there and drops down, which is correct.
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
 * walk the whole skiplist, a chain of cache misses, before it reaches the
 * runs.  Blocked bloom: one 64-byte line per key, three bits in it.  The
 * writer sets the bits before it links the node and before the db publishes
 * the entry's sequence number, so a reader that may see the entry (its
 * snapshot was read after that publication, with acquire) also sees the
 * bits: no false negatives.  Transaction write sets (small arenas) get none. */
#define MT_FILTER_MIN_BLOCK (64u << 10)
#define MT_FILTER_LINES (16384u) /* 1 MiB: ~12 bits/key at 64 MiB of 100-byte values */

/* Memtable-sized blocks are mapped 2 MiB-aligned and marked for transparent
 * huge pages: a random insert hops across the whole arena, and with 4 KiB
 * pages nearly every hop was a TLB miss on top of the cache miss.  Small
 * blocks (transaction write sets) stay on malloc. */
#define MT_HUGE (2u << 20)

typedef struct mt_block {
    struct mt_block *next;
    size_t cap;
    unsigned char *data;
    size_t map_len; /* nonzero: data is an mmap of this many bytes */
} mt_block;

typedef _Atomic(mt_node *) mt_link;

/* One budget covers every mapped block of the pool's memtables, in use or
 * held: blocks come back to the pool while the total stays within it, and
 * prefill tops the pool up to it.  (A cap on the held blocks alone made
 * each flush map and fault in fresh blocks for the new memtable and then
 * unmap most of the flushed one's.) */
struct mt_pool {
    atomic_int refs;
    pthread_mutex_t mu;
    mt_block *free;    /* held mapped blocks, any size        */
    size_t bytes;      /* of them                             */
    size_t mapped;     /* held + in the pool's memtables      */
    size_t max_bytes;  /* the budget for mapped               */
};

/* A bump allocator over a list of blocks. */
typedef struct mt_arena {
    mt_block *blocks; /* newest first; blocks->data + used is the bump ptr */
    size_t used;      /* bytes used in the newest block                    */
} mt_arena;

struct mt {
    atomic_int refs;
    mt_pool *pool; /* or NULL */
    atomic_int height;
    size_t block_size;
    /* Database memtables keep values apart from the nodes (keys and links):
     * a search then walks nodes packed at ~60 bytes each, not spread out by
     * 100-byte values, so more of them stay in cache and an insert into a
     * full table takes fewer memory round trips.  Small tables (transaction
     * write sets) keep both in one arena: vals == &nodes. */
    mt_arena nodes, vals_arena;
    mt_arena *vals;
    uint64_t rnd;      /* xorshift state for node heights (writer only)     */
    atomic_size_t bytes;
    atomic_size_t entries;
    atomic_uint_fast64_t max_seq, min_seq;
    mt_node *head; /* sentinel with MT_MAX_HEIGHT links */
    /* Writer only: the last node of each level (head if none), so that
     * ascending inserts (fillseq, replay of sorted input) skip the search. */
    mt_node *last[MT_MAX_HEIGHT];
    _Atomic uint64_t *filter; /* MT_FILTER_LINES * 8 words, or NULL */
};

/* The filter line of key and its three bits in it (disjoint parts of the
 * hash pick the 64-bit word and the bit). */
static inline _Atomic uint64_t *filter_probe(const mt *m, const void *key, size_t klen,
                                             unsigned word[3], uint64_t mask[3])
{
    uint64_t h = bloom_hash(key, klen);
    for (int i = 0; i < 3; i++) {
        unsigned pos = (unsigned)((h >> (20 + 9 * i)) & 511);
        word[i] = pos >> 6;
        mask[i] = UINT64_C(1) << (pos & 63);
    }
    return m->filter + (h % MT_FILTER_LINES) * 8;
}

static inline void filter_add(mt *m, const void *key, size_t klen)
{
    unsigned word[3];
    uint64_t mask[3];
    _Atomic uint64_t *line = filter_probe(m, key, klen, word, mask);
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

/* Link i of a node; the tower grows downwards from the header. */
static inline mt_link *node_link(const mt_node *n, int i)
{
    return (mt_link *)(uintptr_t)n - 1 - i;
}

/* A pooled block of at least cap bytes and not wastefully larger, or NULL.
 * Its bytes are whatever the last memtable left: the arena never relies on
 * zeroed memory (a node's every field and link is written before it is
 * linked). */
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
        /* The descriptor comes from omen_malloc so that fault injection
         * still reaches this path. */
        b = omen_malloc(sizeof *b);
        if (!b) return NULL;
        size_t len = (cap + MT_HUGE - 1) & ~(size_t)(MT_HUGE - 1);
        unsigned char *p =
            mmap(NULL, len + MT_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            omen_free(b);
            return NULL;
        }
        unsigned char *a =
            (unsigned char *)(((uintptr_t)p + MT_HUGE - 1) & ~(uintptr_t)(MT_HUGE - 1));
        if (a > p) munmap(p, (size_t)(a - p));
        if (p + len + MT_HUGE > a + len) munmap(a + len, (size_t)(p + len + MT_HUGE - (a + len)));
#ifdef MADV_HUGEPAGE
        (void)madvise(a, len, MADV_HUGEPAGE); /* a hint: fine if refused */
#endif
        b->data = a;
        b->cap = len;
        b->map_len = len;
        return b;
    }
    b = omen_malloc(sizeof *b + cap);
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
    if (b->map_len) munmap(b->data, b->map_len);
    omen_free(b);
}

int mt_pool_new(size_t max_bytes, mt_pool **out)
{
    *out = NULL;
    mt_pool *p = omen_calloc(1, sizeof *p);
    if (!p) return omen_seterr(OMEN_NOMEM, "memtable pool: out of memory");
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
            for (size_t off = 0; off < b->map_len; off += 4096) b->data[off] = 0;
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
    /* Big entries get a block of their own, slipped in behind the current
     * block so that its free space keeps serving small entries. */
    int dedicated = n > m->block_size / 4;
    size_t cap = dedicated ? n : m->block_size;
    mt_block *b = block_new(m->pool, cap);
    if (!b) {
        omen_seterr(OMEN_NOMEM, "memtable: cannot allocate %zu bytes", cap);
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

static void arena_free(mt *m, mt_arena *a)
{
    mt_block *b = a->blocks;
    while (b) {
        mt_block *n = b->next;
        if (!pool_give(m->pool, b)) block_free(b);
        b = n;
    }
    a->blocks = NULL;
}

static int arena_reserve(mt *m, mt_arena *a, size_t bytes)
{
    if (a->blocks && a->blocks->cap - a->used >= bytes) return OMEN_OK;
    size_t cap = bytes > m->block_size ? bytes : m->block_size;
    mt_block *b = block_new(m->pool, cap);
    if (!b) return omen_seterr(OMEN_NOMEM, "memtable: cannot reserve %zu bytes", bytes);
    b->next = a->blocks;
    a->blocks = b;
    a->used = 0;
    atomic_fetch_add_explicit(&m->bytes, sizeof(mt_block), memory_order_relaxed);
    return OMEN_OK;
}

int mt_new(size_t block_size, mt **out)
{
    return mt_new_pooled(block_size, NULL, out);
}

int mt_new_pooled(size_t block_size, mt_pool *pool, mt **out)
{
    *out = NULL;
    mt *m = omen_calloc(1, sizeof *m);
    if (!m) return omen_seterr(OMEN_NOMEM, "memtable: out of memory");
    if (block_size < 1024) block_size = 1024;
    m->block_size = block_size;
    m->vals = block_size >= MT_FILTER_MIN_BLOCK ? &m->vals_arena : &m->nodes;
    atomic_init(&m->refs, 1);
    atomic_init(&m->height, 1);
    atomic_init(&m->bytes, 0);
    atomic_init(&m->entries, 0);
    atomic_init(&m->max_seq, 0);
    atomic_init(&m->min_seq, UINT64_MAX);
    m->rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)m;
    unsigned char *h = omen_calloc(1, MT_MAX_HEIGHT * sizeof(mt_link) + sizeof(mt_node));
    if (!h) {
        omen_free(m);
        return omen_seterr(OMEN_NOMEM, "memtable: out of memory");
    }
    if (block_size >= MT_FILTER_MIN_BLOCK) {
        m->filter = omen_calloc(MT_FILTER_LINES * 8, sizeof *m->filter);
        if (!m->filter) {
            omen_free(h);
            omen_free(m);
            return omen_seterr(OMEN_NOMEM, "memtable: out of memory");
        }
    }
    if (pool) {
        atomic_fetch_add_explicit(&pool->refs, 1, memory_order_relaxed);
        m->pool = pool;
    }
    m->head = (mt_node *)(void *)(h + MT_MAX_HEIGHT * sizeof(mt_link));
    m->head->height = MT_MAX_HEIGHT;
    for (int i = 0; i < MT_MAX_HEIGHT; i++) {
        atomic_init(node_link(m->head, i), NULL);
        m->last[i] = m->head;
    }
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
    omen_free((unsigned char *)m->head - MT_MAX_HEIGHT * sizeof(mt_link));
    omen_free((void *)m->filter);
    mt_pool_unref(m->pool);
    omen_free(m);
}

int mt_reserve(mt *m, size_t bytes)
{
    /* bytes bounds the node and the value together, so it bounds each. */
    bytes = (bytes + 7) & ~(size_t)7;
    int rc = arena_reserve(m, &m->nodes, bytes);
    if (rc == OMEN_OK && m->vals != &m->nodes) rc = arena_reserve(m, m->vals, bytes);
    return rc;
}

static int random_height(mt *m)
{
    uint64_t x = m->rnd;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    m->rnd = x;
    int h = 1;
    while (h < MT_MAX_HEIGHT && (x & 3) == 0) {
        h++;
        x >>= 2;
    }
    return h;
}

static inline int node_cmp(const mt_node *n, const void *key, size_t klen, uint64_t seq)
{
    return ikey_cmp(mt_node_key(n), n->klen, n->seq, key, klen, seq);
}

/* First node >= (key, seq); fills prev[] with the last node < it per level
 * when prev is non-NULL.
 *
 * Each step compares against the right neighbour nx; if that fails the
 * search drops to x's next link one level down.  That candidate is
 * prefetched while nx is being compared, so the two likely cache misses of
 * a step overlap instead of queueing behind each other. */
static mt_node *find_ge(const mt *m, const void *key, size_t klen, uint64_t seq, mt_node **prev)
{
    mt_node *x = m->head;
    int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
    mt_node *bound = NULL; /* node known to be >= target at the level above */
    for (;;) {
        mt_node *nx = atomic_load_explicit(node_link(x, level), memory_order_acquire);
        if (level > 0) {
            mt_node *d = atomic_load_explicit(node_link(x, level - 1), memory_order_relaxed);
            if (d != nx && d) __builtin_prefetch(d);
        }
        if (nx && nx != bound && node_cmp(nx, key, klen, seq) < 0) {
            x = nx;
        } else {
            if (prev) prev[level] = x;
            if (level == 0) return nx;
            bound = nx;
            level--;
        }
    }
}

/* Last node < (key, seq), or the head if none. */
static mt_node *find_lt(const mt *m, const void *key, size_t klen, uint64_t seq)
{
    mt_node *x = m->head;
    int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
    for (;;) {
        mt_node *nx = atomic_load_explicit(node_link(x, level), memory_order_acquire);
        if (nx && node_cmp(nx, key, klen, seq) < 0) {
            x = nx;
        } else {
            if (level == 0) return x;
            level--;
        }
    }
}

static mt_node *find_last(const mt *m)
{
    mt_node *x = m->head;
    int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
    for (;;) {
        mt_node *nx = atomic_load_explicit(node_link(x, level), memory_order_acquire);
        if (nx) {
            x = nx;
        } else {
            if (level == 0) return x;
            level--;
        }
    }
}

int mt_add(mt *m, uint64_t seq, int type, const void *key, size_t klen, const void *val,
           size_t vlen)
{
    mt_node *prev[MT_MAX_HEIGHT];
    mt_node *tail = m->last[0];
    if (tail != m->head && node_cmp(tail, key, klen, seq) < 0) {
        /* Appending after the largest entry: the splice is the last node
         * of every level. */
        memcpy(prev, m->last, sizeof prev);
    } else {
        find_ge(m, key, klen, seq, prev);
    }
    int h = random_height(m);
    size_t tower = (size_t)h * sizeof(mt_link);
    unsigned char *vp = NULL;
    if (vlen && !(vp = arena_alloc(m, m->vals, vlen))) return OMEN_NOMEM;
    unsigned char *base = arena_alloc(m, &m->nodes, tower + sizeof(mt_node) + klen);
    if (!base) return OMEN_NOMEM;
    mt_node *n = (mt_node *)(void *)(base + tower);
    n->seq = seq;
    n->klen = (uint32_t)klen;
    n->vlen = (uint32_t)vlen;
    n->type = (uint8_t)type;
    n->height = (uint8_t)h;
    uint8_t *kp = (uint8_t *)(n + 1);
    if (klen) memcpy(kp, key, klen);
    if (vlen) memcpy(vp, val, vlen);
    n->val = vlen ? vp : kp + klen; /* an empty value still gets a valid pointer */
    if (m->filter) filter_add(m, key, klen);
    int cur = atomic_load_explicit(&m->height, memory_order_relaxed);
    if (h > cur) {
        for (int i = cur; i < h; i++) prev[i] = m->head;
        atomic_store_explicit(&m->height, h, memory_order_relaxed);
    }
    for (int i = 0; i < h; i++) {
        mt_node *succ = atomic_load_explicit(node_link(prev[i], i), memory_order_relaxed);
        atomic_store_explicit(node_link(n, i), succ, memory_order_relaxed);
        atomic_store_explicit(node_link(prev[i], i), n, memory_order_release);
        if (!succ) m->last[i] = n;
    }
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
    const mt_node *n = find_ge(m, key, klen, snap, NULL);
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

void mt_iter_init(mt_iter *it, const mt *m)
{
    it->m = m;
    it->node = NULL;
}

void mt_iter_seek_first(mt_iter *it)
{
    it->node = atomic_load_explicit(node_link(it->m->head, 0), memory_order_acquire);
}

void mt_iter_seek_last(mt_iter *it)
{
    const mt_node *n = find_last(it->m);
    it->node = n == it->m->head ? NULL : n;
}

void mt_iter_seek(mt_iter *it, const void *key, size_t klen, uint64_t seq)
{
    it->node = find_ge(it->m, key, klen, seq, NULL);
}

void mt_iter_seek_for_prev(mt_iter *it, const void *key, size_t klen, uint64_t seq)
{
    const mt_node *n = find_ge(it->m, key, klen, seq, NULL);
    if (n && node_cmp(n, key, klen, seq) == 0) {
        it->node = n;
        return;
    }
    n = find_lt(it->m, key, klen, seq);
    it->node = n == it->m->head ? NULL : n;
}

void mt_iter_next(mt_iter *it)
{
    it->node = atomic_load_explicit(node_link(it->node, 0), memory_order_acquire);
}

void mt_iter_prev(mt_iter *it)
{
    const mt_node *n = it->node;
    const mt_node *p = find_lt(it->m, mt_node_key(n), n->klen, n->seq);
    it->node = p == it->m->head ? NULL : p;
}
