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

#endif
