/*
 * hnsw.h -- the in-memory search graph of one vector set (a hierarchical
 * navigable small world graph) with lock-free readers.
 *
 * Writers (insert, mark_deleted, set_rec, consolidate, load) must be
 * serialized by the caller (each set's wmu, vset.h).  Readers run
 * at any time, without locks, between hnsw_read_begin and hnsw_read_end:
 *
 *  - Node memory lives in chunks of HN_CHUNK slots that are never moved or
 *    freed while the graph exists, so any slot number a reader finds points
 *    at valid memory.
 *  - Link counts and links are atomics: a writer fills a new node's lists
 *    completely, and only then stores its slot into neighbours' lists
 *    (release); a reader loads links with acquire, so a node reachable by a
 *    link is fully written.  A list being rewritten may be read half old,
 *    half new; each entry is a valid slot either way.
 *  - Deletion is two-step: mark_deleted hides the node from results at once
 *    (state DELETED) but leaves it in the graph as a waypoint; consolidate
 *    unlinks every deleted node, re-links its in-neighbours through its own
 *    neighbours, and frees the slot.  A freed slot (and a replaced id/attrs
 *    record) is reused/freed only after every reader that entered before the
 *    free has left (epoch reclamation: readers publish the epoch they entered
 *    in a slot of rd[]).
 */
#ifndef OMEN_HNSW_H
#define OMEN_HNSW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vector/vdist.h"
#include "vector/vfilter.h"
#include "vector/vquant.h"

#define HN_CHUNK_BITS 10
#define HN_CHUNK (1u << HN_CHUNK_BITS)
#define HN_MAX_CHUNKS 65536u /* 64M slots */
#define HN_MAX_LEVEL 16
#define HN_READERS 128
#define HN_NONE UINT32_MAX

enum { HN_FREE = 0, HN_LIVE = 1, HN_DELETED = 2 };

/* An element's id and attributes, immutable once published. */
typedef struct vrec {
    uint32_t id_len, attrs_len; /* attrs_len 0: none */
    char data[];                /* id bytes, then attrs bytes, then NUL */
} vrec;

static inline const char *vrec_attrs(const vrec *r)
{
    return r->data + r->id_len;
}
vrec *vrec_new(const void *id, size_t id_len, const char *attrs, size_t attrs_len);

typedef struct hnode {
    _Atomic uint32_t state;
    uint32_t level;
    _Atomic(_Atomic uint32_t *) upper; /* levels 1..level: (1 + M) words each */
    _Atomic(vrec *) rec;
} hnode;

typedef struct hn_retired {
    uint64_t epoch;
    uint32_t slot; /* HN_NONE: ptr instead */
    void *ptr;
} hn_retired;

typedef struct hn_reader {
    _Atomic uint64_t epoch; /* 0: idle */
    char pad[56];
} hn_reader;

typedef struct hnsw {
    uint32_t dim;
    int metric, precision;
    uint32_t M, M0, efc;
    size_t vec_bytes;  /* traversal vector bytes per node */
    size_t l0_stride;  /* bytes per slot in a level-0 chunk */
    size_t vec_off;    /* offset of the vector in a level-0 record */
    vquant q;          /* int8 L2: the set's map (dot metrics: see hn_map) */
    int trained;       /* int8: quantizer set */
    int permap;        /* int8 dot metrics: each vector has its own map */
    const vdist_kernels *k;

    _Atomic(unsigned char *) *l0dir; /* [HN_MAX_CHUNKS] */
    _Atomic(hnode *) *ndir;          /* [HN_MAX_CHUNKS] */
    _Atomic uint32_t hwm;            /* slots ever used: [0, hwm) */
    _Atomic uint64_t entry;          /* entry slot | maxlevel << 32; HN_NONE slot: empty */
    _Atomic uint64_t live, deleted;
    _Atomic uint64_t mem;            /* bytes allocated */

    uint64_t rng;
    /* free slots and retired memory, oldest first (writer only) */
    hn_retired *limbo;
    size_t nlimbo, climbo, limbo_head;
    _Atomic uint64_t epoch;
    hn_reader *rd; /* HN_READERS, 64-byte aligned inside rd_mem */
    void *rd_mem;
} hnsw;

typedef struct hn_cand {
    float d;
    uint32_t slot;
} hn_cand;

int hnsw_new(uint32_t dim, int metric, int precision, uint32_t M, uint32_t efc, hnsw **out);
void hnsw_free(hnsw *g);

static inline hnode *hn_node(const hnsw *g, uint32_t s)
{
    hnode *c = atomic_load_explicit(&g->ndir[s >> HN_CHUNK_BITS], memory_order_acquire);
    return &c[s & (HN_CHUNK - 1)];
}
static inline unsigned char *hn_l0(const hnsw *g, uint32_t s)
{
    unsigned char *c = atomic_load_explicit(&g->l0dir[s >> HN_CHUNK_BITS], memory_order_acquire);
    return c + (size_t)(s & (HN_CHUNK - 1)) * g->l0_stride;
}
/* A level-0 record: word 0 mirrors the node's state (so a search checks
 * it on the cache line it reads anyway), words 1-3 the vector's sums and
 * flags, words 4-5 its quantizer map, words 6-7 where its float32 vector
 * was last read (hn_loc), word 8 the link count, then M0 links; the vector
 * starts at the next 64-byte boundary. */
#define HN_L0_HDR_WORDS 8
static inline _Atomic uint32_t *hn_l0state(const hnsw *g, uint32_t s)
{
    return (_Atomic uint32_t *)(void *)hn_l0(g, s);
}
static inline void hn_set_state(const hnsw *g, uint32_t s, uint32_t st)
{
    atomic_store_explicit(&hn_node(g, s)->state, st, memory_order_release);
    atomic_store_explicit(hn_l0state(g, s), st, memory_order_release);
}
static inline _Atomic uint32_t *hn_links(const hnsw *g, uint32_t s, uint32_t level)
{
    if (level == 0) return (_Atomic uint32_t *)(void *)hn_l0(g, s) + HN_L0_HDR_WORDS;
    _Atomic uint32_t *u = atomic_load_explicit(&hn_node(g, s)->upper, memory_order_acquire);
    return u + (size_t)(level - 1) * (g->M + 1);
}
/* Words 1 .. 3 of a level-0 record: the sum of the int8 components, the
 * sum of their squares, and flags (written before the node is published,
 * never changed while it lives); on the state word's cache line, which a
 * distance reads anyway. */
static inline int32_t *hn_sum(const hnsw *g, uint32_t s)
{
    return (int32_t *)(void *)(hn_l0(g, s) + 4);
}
static inline int32_t *hn_sqsum(const hnsw *g, uint32_t s)
{
    return (int32_t *)(void *)(hn_l0(g, s) + 8);
}
/* HN_F_EXACT: the int8 codes decode to exactly the element's float32
 * vector (vquant_exact), so its distance to an exact query needs no
 * re-ranking. */
enum { HN_F_EXACT = 1 };
static inline uint32_t *hn_flags(const hnsw *g, uint32_t s)
{
    return (uint32_t *)(void *)(hn_l0(g, s) + 12);
}
/* Words 4-5: the map that decodes the node's int8 codes (the set's map
 * for L2, the vector's own for dot metrics). */
static inline vquant *hn_map(const hnsw *g, uint32_t s)
{
    return (vquant *)(void *)(hn_l0(g, s) + 16);
}
/* Words 6-7: the place in the engine's files where re-ranking last found
 * the element's float32 vector (db_sv_value_at), 0 for none.  A hint that
 * saves the lookup next time: readers store it (atomically, any reader's is
 * as good), it is cleared when the slot gets a vector, and it stays right
 * for the node's life because a node's vector never changes (a new vector
 * is a new node) and a file's bytes never change (a compacted-away file
 * just no longer resolves). */
static inline _Atomic uint64_t *hn_loc(const hnsw *g, uint32_t s)
{
    return (_Atomic uint64_t *)(void *)(hn_l0(g, s) + 24);
}
/* Sets sum, square sum, flags and map of slot s from its stored vector
 * (m: the map its codes were made with; exact: whether they are lossless). */
void hnsw_set_vec_meta(hnsw *g, uint32_t s, const vquant *m, int exact);
static inline const void *hn_vec(const hnsw *g, uint32_t s)
{
    return hn_l0(g, s) + g->vec_off;
}

/* Readers. */
int hnsw_read_begin(hnsw *g);            /* returns the reader slot */
void hnsw_read_end(hnsw *g, int slot);

/* Prepared query: the traversal representation of q (quantized for int8). */
typedef struct hn_query {
    const float *f; /* float32 query (normalised for cosine) */
    int8_t *q8;     /* int8 sets */
    vquant m;       /* int8: the map q8 was made with */
    int exact;      /* int8: q8 decodes to exactly f */
} hn_query;

/* Fills *out for query f (normalised for cosine); int8 sets encode it into
 * q8 (dim bytes, owned by the caller, used by *out).  Readers; for an L2
 * set, after the quantizer is trained (a live node exists). */
void hnsw_prepare_query(const hnsw *g, const float *f, int8_t *q8, hn_query *out);

/* Distance of the prepared query to slot s in the traversal precision. */
float hnsw_qdist(const hnsw *g, const hn_query *q, uint32_t s);
/* Exact float32 distance of two vectors under the set's metric (b at any
 * byte address, see vdist.h). */
float hnsw_fdist(const hnsw *g, const float *a, const void *b);

/* Up to ef best candidates (live, matching f when non-NULL) by traversal
 * distance, closest first, into out (room for ef).  *visited receives how
 * many nodes were examined.  Between read_begin/read_end. */
size_t hnsw_search(hnsw *g, const hn_query *q, uint32_t ef, const vfilter *f, hn_cand *out,
                   size_t *visited);
/* Exhaustive: the best r live nodes matching f. */
size_t hnsw_scan(hnsw *g, const hn_query *q, uint32_t r, const vfilter *f, hn_cand *out);
/* Fraction of up to n random live nodes that match f (1.0 when empty). */
double hnsw_filter_sample(hnsw *g, const vfilter *f, uint32_t n);
/* A random live slot, HN_NONE when empty. */
uint32_t hnsw_random_live(hnsw *g, uint64_t r);

/* Writers (serialized by the caller). */
/* Train the int8 quantizer from n sample vectors (no-op for float32 or
 * once trained). */
void hnsw_train(hnsw *g, const float *vecs, size_t n);
/* Insert vec (already normalised for cosine) with record rec (ownership
 * passes to the graph).  *slot receives the node. */
int hnsw_insert(hnsw *g, const float *vec, vrec *rec, uint32_t *slot);
void hnsw_mark_deleted(hnsw *g, uint32_t slot);
void hnsw_set_rec(hnsw *g, uint32_t slot, vrec *rec);
/* 1 if the node's traversal vector equals vec's encoding and its lossless
 * flag is what vec's would be (else the node must be replaced). */
int hnsw_same_vector(hnsw *g, uint32_t slot, const float *vec);
/* Unlink and free every deleted node (see above). */
int hnsw_consolidate(hnsw *g);
/* Free retired memory whose readers have all left. */
void hnsw_reclaim(hnsw *g);
/* Make slot s exist (for loading a graph file): allocates chunks up to s and
 * raises hwm; the node is FREE. */
int hnsw_ensure_slot(hnsw *g, uint32_t s);
/* Record slot s (FREE) as reusable (loaders). */
int hnsw_add_free_slot(hnsw *g, uint32_t s);
uint64_t hnsw_memory(const hnsw *g);
uint32_t hnsw_levels(const hnsw *g);

#endif
