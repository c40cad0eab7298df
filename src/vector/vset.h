/*
 * vset.h -- vector sets: the public omen_vset_* API tied to the engine.
 *
 * A set's elements are engine entries under the reserved prefix P
 * (src/db/reserved.h; layout in docs/format.md, "Reserved keys"):
 *     P 'V' 'M' name                    -> set metadata
 *     P 'V' 'N'                         -> next set number
 *     P 'V' 'E' set(4, BE) id           -> 0x01 | float32[dim] LE | attrs
 *     P 'V' 'L' set(4, BE) log(8, BE)   -> element id  (mutation log)
 * Every write of an element also writes one log key.  The graph in RAM
 * follows the engine: after a commit, each logged element is re-read from
 * the engine and its node inserted, replaced, re-labelled or deleted to
 * match ("sync"), so the order in which concurrent commits reach the graph
 * does not matter.  A checkpoint writes the graph file and then deletes the
 * log keys it covers; reopening loads the file and syncs the elements named
 * by the log keys that remain (idempotent: a key replayed twice is harmless).
 *
 * Invariants: wmu serializes every graph change of a set; readers never
 * take it.  refs (under the registry lock) counts handles plus batches and
 * transactions holding pending vector writes.
 */
#ifndef OMEN_VSET_H
#define OMEN_VSET_H

#include <pthread.h>
#include <stdatomic.h>

#include "omendb.h"
#include "vector/hnsw.h"

typedef struct vmap_ent {
    uint64_t h;    /* 0: empty */
    uint32_t slot;
} vmap_ent;

typedef struct vmap {
    vmap_ent *t;
    size_t cap, n;
} vmap;

struct omen_vset {
    omen_db *db;
    char *name;
    uint32_t set_id;
    omen_vset_options o;
    hnsw *g;
    pthread_mutex_t wmu;
    int refs; /* registry lock */
    _Atomic int dropped;
    vmap map; /* element id -> live slot (wmu) */
    _Atomic uint64_t next_log;
    uint64_t *applied; /* log numbers synced since the last checkpoint (wmu) */
    size_t napplied, capplied;
    int need_ckpt; /* graph rebuilt: rewrite the file even without log keys */
    struct omen_vset *next;
};

/* ---- internals shared by the files of a set ----
 * vset.c    registry, handles (create/open/close/drop/list/info), load,
 *           checkpoint, argument checks
 * vsync.c   id map, element values, graph sync (wmu held)
 * vwrite.c  staging of writes, the commit hook, public writes
 * vread.c   reads by id
 * vsearch.c searches
 * Calls run one way: vsearch -> vread; vsearch, vread, vwrite -> vset.c;
 * all of them -> vsync.c, which calls none of the others. */

#define VS_TRAIN_SAMPLE 4096 /* vectors that train the int8 quantizer */

/* vset.c */
void vset_ref(omen_vset *vs);
void vset_unref(omen_vset *vs); /* the last reference frees the set */
int vset_check(const omen_vset *vs, const char *fn);
int vset_check_id(const void *id, size_t n, const char *fn);
/* Validate vec; *copy gets a normalised copy for cosine (else NULL). */
int vset_check_vec(const omen_vset *vs, const float *vec, uint32_t dim, float **copy, const char *fn);
typedef int (*vset_scan_fn)(void *ctx, const unsigned char *k, size_t kl, const void *v, size_t vl);
/* Call fn on each entry of [lo, hi) of the reserved range until it
 * returns nonzero (that value is returned). */
int vset_scan_range(omen_db *db, const unsigned char *lo, size_t lol, const unsigned char *hi, size_t hil,
                    vset_scan_fn fn, void *ctx);

/* vsync.c (wmu held, except vset_elem_decode/vset_elem_read) */
uint32_t vset_map_find(const omen_vset *vs, const void *id, size_t n); /* HN_NONE if absent */
int vset_map_put(omen_vset *vs, const void *id, size_t n, uint32_t slot);
/* *vec points into val (unaligned LE floats), *attrs after it. */
int vset_elem_decode(const omen_vset *vs, const void *val, size_t vlen, const unsigned char **vec,
                     const char **attrs, size_t *alen);
int vset_elem_read(omen_vset *vs, const void *id, size_t idlen, void **val, size_t *vlen); /* *val malloc'd */
int vset_push_applied(omen_vset *vs, uint64_t logno);
int vset_sync_elem(omen_vset *vs, const void *id, size_t idlen);

#endif
