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

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"

typedef struct mt_block {
    struct mt_block *next;
    size_t cap;
    unsigned char data[];
} mt_block;

struct mt {
    atomic_int refs;
    atomic_int height;
    size_t block_size;
    mt_block *blocks;  /* newest first; blocks->data + used is the bump ptr */
    size_t used;       /* bytes used in the newest block                    */
    uint64_t rnd;      /* xorshift state for node heights (writer only)     */
    atomic_size_t bytes;
    atomic_size_t entries;
    atomic_uint_fast64_t max_seq, min_seq;
    mt_node *head; /* sentinel with MT_MAX_HEIGHT links */
};

static void *arena_alloc(mt *m, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (m->blocks && m->blocks->cap - m->used >= n) {
        void *p = m->blocks->data + m->used;
        m->used += n;
        atomic_fetch_add_explicit(&m->bytes, n, memory_order_relaxed);
        return p;
    }
    /* Big entries get a block of their own, slipped in behind the current
     * block so that its free space keeps serving small entries. */
    int dedicated = n > m->block_size / 4;
    size_t cap = dedicated ? n : m->block_size;
    mt_block *b = omen_malloc(sizeof(mt_block) + cap);
    if (!b) {
        omen_seterr(OMEN_NOMEM, "memtable: cannot allocate %zu bytes", cap);
        return NULL;
    }
    b->cap = cap;
    atomic_fetch_add_explicit(&m->bytes, sizeof(mt_block) + n, memory_order_relaxed);
    if (dedicated && m->blocks) {
        b->next = m->blocks->next;
        m->blocks->next = b;
        return b->data;
    }
    b->next = m->blocks;
    m->blocks = b;
    m->used = n;
    return b->data;
}

int mt_new(size_t block_size, mt **out)
{
    *out = NULL;
    mt *m = omen_calloc(1, sizeof *m);
    if (!m) return omen_seterr(OMEN_NOMEM, "memtable: out of memory");
    if (block_size < 1024) block_size = 1024;
    m->block_size = block_size;
    atomic_init(&m->refs, 1);
    atomic_init(&m->height, 1);
    atomic_init(&m->bytes, 0);
    atomic_init(&m->entries, 0);
    atomic_init(&m->max_seq, 0);
    atomic_init(&m->min_seq, UINT64_MAX);
    m->rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)m;
    m->head = omen_calloc(1, sizeof(mt_node) + MT_MAX_HEIGHT * sizeof(void *));
    if (!m->head) {
        omen_free(m);
        return omen_seterr(OMEN_NOMEM, "memtable: out of memory");
    }
    m->head->height = MT_MAX_HEIGHT;
    for (int i = 0; i < MT_MAX_HEIGHT; i++) atomic_init(&m->head->next[i], NULL);
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
    mt_block *b = m->blocks;
    while (b) {
        mt_block *n = b->next;
        omen_free(b);
        b = n;
    }
    omen_free(m->head);
    omen_free(m);
}

int mt_reserve(mt *m, size_t bytes)
{
    bytes = (bytes + 7) & ~(size_t)7;
    if (m->blocks && m->blocks->cap - m->used >= bytes) return OMEN_OK;
    size_t cap = bytes > m->block_size ? bytes : m->block_size;
    mt_block *b = omen_malloc(sizeof(mt_block) + cap);
    if (!b) return omen_seterr(OMEN_NOMEM, "memtable: cannot reserve %zu bytes", bytes);
    b->cap = cap;
    b->next = m->blocks;
    m->blocks = b;
    m->used = 0;
    atomic_fetch_add_explicit(&m->bytes, sizeof(mt_block), memory_order_relaxed);
    return OMEN_OK;
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
 * when prev is non-NULL. */
static mt_node *find_ge(const mt *m, const void *key, size_t klen, uint64_t seq, mt_node **prev)
{
    mt_node *x = m->head;
    int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
    mt_node *bound = NULL; /* node known to be >= target at the level above */
    for (;;) {
        mt_node *nx = atomic_load_explicit(&x->next[level], memory_order_acquire);
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
        mt_node *nx = atomic_load_explicit(&x->next[level], memory_order_acquire);
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
        mt_node *nx = atomic_load_explicit(&x->next[level], memory_order_acquire);
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
    find_ge(m, key, klen, seq, prev);
    int h = random_height(m);
    size_t sz = sizeof(mt_node) + (size_t)h * sizeof(void *) + klen + vlen;
    mt_node *n = arena_alloc(m, sz);
    if (!n) return OMEN_NOMEM;
    n->seq = seq;
    n->klen = (uint32_t)klen;
    n->vlen = (uint32_t)vlen;
    n->type = (uint8_t)type;
    n->height = (uint8_t)h;
    uint8_t *kp = (uint8_t *)&n->next[h];
    if (klen) memcpy(kp, key, klen);
    if (vlen) memcpy(kp + klen, val, vlen);
    int cur = atomic_load_explicit(&m->height, memory_order_relaxed);
    if (h > cur) {
        for (int i = cur; i < h; i++) prev[i] = m->head;
        atomic_store_explicit(&m->height, h, memory_order_relaxed);
    }
    for (int i = 0; i < h; i++) {
        atomic_store_explicit(&n->next[i],
                              atomic_load_explicit(&prev[i]->next[i], memory_order_relaxed),
                              memory_order_relaxed);
        atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
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
    it->node = atomic_load_explicit(&it->m->head->next[0], memory_order_acquire);
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
    it->node = atomic_load_explicit(&((mt_node *)it->node)->next[0], memory_order_acquire);
}

void mt_iter_prev(mt_iter *it)
{
    const mt_node *n = it->node;
    const mt_node *p = find_lt(it->m, mt_node_key(n), n->klen, n->seq);
    it->node = p == it->m->head ? NULL : p;
}
