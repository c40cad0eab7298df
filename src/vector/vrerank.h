/*
 * vrerank.h -- exact distances of search candidates from the engine's
 * float32 vectors (the re-ranking step of int8 sets).
 *
 * The float32 vectors live only in the engine (element values, read
 * through the memtable, the mapped sorted runs and the block cache), never
 * in a second copy in RAM.  A re-ranking pins one superversion for the whole
 * query, so every candidate is read at the same sequence, and reads a batch
 * of candidates at once (db_get_many_sv: the lookups' memory misses overlap);
 * each distance is computed by a visitor on the value in place.
 *
 * Invariant: between vrerank_begin and vrerank_end the superversion stays
 * pinned; keep that span short (one query), as it holds flushed runs open.
 */
#ifndef OMEN_VRERANK_H
#define OMEN_VRERANK_H

#include <stddef.h>
#include <stdint.h>

#include "db/version.h"
#include "vector/hnsw.h"

typedef struct vrerank {
    omen_db *db;
    const hnsw *g;
    const float *q; /* the query as the graph compares it (normalised for cosine) */
    uint32_t set_id;
    db_sv *sv;
    uint64_t seq;
    int slot;
} vrerank;

void vrerank_begin(vrerank *rr, omen_db *db, const hnsw *g, uint32_t set_id, const float *q);
void vrerank_end(vrerank *rr);

/* Exact distances to q of the candidates c[0..n) (elements recs[0..n))
 * whose st[i] is not negative (a negative st[i], a lossless candidate, is
 * left as it is): d[i] and st[i] = 1, or st[i] = 0 when recs[i] is NULL or
 * the element is no longer in the engine (deleted since the graph was
 * read).  A candidate whose node remembers where its vector lies in a file
 * of the pinned version (hn_loc) is read there without a lookup; the others
 * are looked up, and their nodes remember the place.  OMEN_OK or the
 * engine's error. */
int vrerank_read(vrerank *rr, const hn_cand *c, const vrec *const *recs, size_t n, float *d, signed char *st);

#endif
