/*
 * cache.c -- sharded, reference-counted LRU block cache.
 *
 * Each entry carries one reference for the table while it is in the table
 * (in_table) plus one per outstanding handle.  Entries referenced only by
 * the table sit on the shard's LRU list (eviction candidates, oldest at the
 * head); entries with handles out are on no list, so eviction never has to
 * skip pinned blocks.  An entry is freed when its last reference goes.
 */
#include "storage/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"

#define CACHE_SHARDS 16

struct cache_handle {
    uint64_t file, block;
    void *data;
    size_t len, charge;
    uint32_t hash;
    unsigned refs; /* under the shard mutex */
    int in_table;
    struct cache_handle *next_hash;
    struct cache_handle *prev, *next; /* LRU links (only when refs == 1 && in_table) */
};

typedef struct cache_shard {
    pthread_mutex_t mu;
    size_t capacity, usage, count;
    cache_handle **buckets;
    size_t nbuckets;  /* power of two */
    cache_handle lru; /* sentinel: lru.next oldest, lru.prev newest */
} cache_shard;

struct block_cache {
    size_t capacity;
    atomic_uint_fast64_t hits, misses;
    cache_shard shards[CACHE_SHARDS];
};

static uint32_t cache_hash(uint64_t file, uint64_t block)
{
    uint64_t x = file * UINT64_C(0x9e3779b97f4a7c15) ^ (block + UINT64_C(0x632be59bd9b4e019));
    x ^= x >> 31;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 29;
    return (uint32_t)(x >> 32);
}

int cache_new(size_t capacity, block_cache **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "cache_new: NULL out");
    *out = NULL;
    block_cache *c = util_calloc(1, sizeof *c);
    if (!c) return util_seterr(OMEN_NOMEM, "cache_new: out of memory");
    c->capacity = capacity;
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        s->capacity = (capacity + CACHE_SHARDS - 1) / CACHE_SHARDS;
        s->nbuckets = 64;
        s->buckets = util_calloc(s->nbuckets, sizeof *s->buckets);
        s->lru.next = s->lru.prev = &s->lru;
        if (!s->buckets || pthread_mutex_init(&s->mu, NULL) != 0) {
            omen_free(s->buckets);
            for (int j = 0; j < i; j++) {
                pthread_mutex_destroy(&c->shards[j].mu);
                omen_free(c->shards[j].buckets);
            }
            omen_free(c);
            return util_seterr(OMEN_NOMEM, "cache_new: out of memory");
        }
    }
    *out = c;
    return OMEN_OK;
}

static void entry_free(cache_handle *e)
{
    omen_free(e->data);
    omen_free(e);
}

static void lru_remove(cache_handle *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static void lru_append(cache_shard *s, cache_handle *e)
{
    e->next = &s->lru;
    e->prev = s->lru.prev;
    e->prev->next = e;
    s->lru.prev = e;
}

/* Drop one reference; under the shard mutex. */
static void entry_unref(cache_shard *s, cache_handle *e)
{
    e->refs--;
    if (e->refs == 0) {
        entry_free(e);
    } else if (e->in_table && e->refs == 1) {
        lru_append(s, e); /* only the table holds it now: evictable */
    }
}

static cache_handle **bucket_find(cache_shard *s, uint64_t file, uint64_t block, uint32_t hash)
{
    cache_handle **pp = &s->buckets[hash & (s->nbuckets - 1)];
    while (*pp && ((*pp)->hash != hash || (*pp)->file != file || (*pp)->block != block))
        pp = &(*pp)->next_hash;
    return pp;
}

/* Take e out of the table (it may live on through handles). */
static void table_remove(cache_shard *s, cache_handle **pp)
{
    cache_handle *e = *pp;
    *pp = e->next_hash;
    e->next_hash = NULL;
    e->in_table = 0;
    s->usage -= e->charge;
    s->count--;
    if (e->refs == 1) lru_remove(e);
    entry_unref(s, e);
}

static void evict(cache_shard *s)
{
    while (s->usage > s->capacity && s->lru.next != &s->lru) {
        cache_handle *old = s->lru.next;
        table_remove(s, bucket_find(s, old->file, old->block, old->hash));
    }
}

static void maybe_grow(cache_shard *s)
{
    if (s->count <= s->nbuckets) return;
    size_t nn = s->nbuckets * 2;
    cache_handle **nb = util_calloc(nn, sizeof *nb);
    if (!nb) return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        cache_handle *e = s->buckets[i];
        while (e) {
            cache_handle *n = e->next_hash;
            e->next_hash = nb[e->hash & (nn - 1)];
            nb[e->hash & (nn - 1)] = e;
            e = n;
        }
    }
    omen_free(s->buckets);
    s->buckets = nb;
    s->nbuckets = nn;
}

void cache_free(block_cache *c)
{
    if (!c) return;
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        for (size_t b = 0; b < s->nbuckets; b++) {
            cache_handle *e = s->buckets[b];
            while (e) {
                cache_handle *n = e->next_hash;
                entry_free(e); /* handles must all be released by now */
                e = n;
            }
        }
        omen_free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    omen_free(c);
}

cache_handle *cache_lookup(block_cache *c, uint64_t file, uint64_t block)
{
    if (!c) return NULL;
    uint32_t h = cache_hash(file, block);
    cache_shard *s = &c->shards[h % CACHE_SHARDS];
    pthread_mutex_lock(&s->mu);
    cache_handle *e = *bucket_find(s, file, block, h);
    if (e) {
        if (e->refs == 1) lru_remove(e);
        e->refs++;
    }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add_explicit(e ? &c->hits : &c->misses, 1, memory_order_relaxed);
    return e;
}

int cache_insert(block_cache *c, uint64_t file, uint64_t block, void *data, size_t len, size_t charge,
                 cache_handle **out)
{
    if (!out) {
        omen_free(data);
        return util_seterr(OMEN_INVALID, "cache_insert: NULL out");
    }
    *out = NULL;
    if (!c) {
        omen_free(data);
        return util_seterr(OMEN_INVALID, "cache_insert: NULL cache");
    }
    cache_handle *e = util_malloc(sizeof *e);
    if (!e) {
        omen_free(data);
        return util_seterr(OMEN_NOMEM, "cache_insert: out of memory");
    }
    memset(e, 0, sizeof *e);
    e->file = file;
    e->block = block;
    e->data = data;
    e->len = len;
    e->charge = charge;
    e->hash = cache_hash(file, block);
    e->refs = 1; /* the caller's handle */
    cache_shard *s = &c->shards[e->hash % CACHE_SHARDS];
    pthread_mutex_lock(&s->mu);
    if (c->capacity > 0) {
        cache_handle **pp = bucket_find(s, file, block, e->hash);
        if (*pp) table_remove(s, pp);
        e->refs++;
        e->in_table = 1;
        e->next_hash = s->buckets[e->hash & (s->nbuckets - 1)];
        s->buckets[e->hash & (s->nbuckets - 1)] = e;
        s->usage += charge;
        s->count++;
        maybe_grow(s);
        evict(s);
    }
    pthread_mutex_unlock(&s->mu);
    *out = e;
    return OMEN_OK;
}

const void *cache_handle_data(const cache_handle *h, size_t *len)
{
    if (len) *len = h ? h->len : 0;
    return h ? h->data : NULL;
}

void cache_release(block_cache *c, cache_handle *h)
{
    if (!h) return;
    if (!c) return;
    cache_shard *s = &c->shards[h->hash % CACHE_SHARDS];
    pthread_mutex_lock(&s->mu);
    entry_unref(s, h);
    if (s->usage > s->capacity) evict(s);
    pthread_mutex_unlock(&s->mu);
}

void cache_erase(block_cache *c, uint64_t file, uint64_t block)
{
    if (!c) return;
    uint32_t h = cache_hash(file, block);
    cache_shard *s = &c->shards[h % CACHE_SHARDS];
    pthread_mutex_lock(&s->mu);
    cache_handle **pp = bucket_find(s, file, block, h);
    if (*pp) table_remove(s, pp);
    pthread_mutex_unlock(&s->mu);
}

uint64_t cache_hits(const block_cache *c)
{
    return c ? atomic_load_explicit(&((block_cache *)c)->hits, memory_order_relaxed) : 0;
}

uint64_t cache_misses(const block_cache *c)
{
    return c ? atomic_load_explicit(&((block_cache *)c)->misses, memory_order_relaxed) : 0;
}

static size_t cache_sum(const block_cache *c, int what)
{
    size_t t = 0;
    if (!c) return 0;
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = (cache_shard *)&c->shards[i];
        pthread_mutex_lock(&s->mu);
        t += what ? s->count : s->usage;
        pthread_mutex_unlock(&s->mu);
    }
    return t;
}

size_t cache_usage(const block_cache *c)
{
    return cache_sum(c, 0);
}

size_t cache_entries(const block_cache *c)
{
    return cache_sum(c, 1);
}

size_t cache_capacity(const block_cache *c)
{
    return c ? c->capacity : 0;
}
