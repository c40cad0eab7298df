/*
 * txn.h -- optimistic serializable transactions (internal view).
 *
 * A transaction reads at a snapshot taken at begin, buffers its writes in a
 * private memtable (sequences above MT_MAX_SEQ so they shadow everything
 * committed), and records the keys it read and the ranges it scanned.  At
 * commit the write-group leader validates, inside the serialized section
 * and before assigning sequences, that nothing it read, wrote or scanned
 * was committed after its snapshot (including by earlier members of the
 * same group); otherwise OMEN_CONFLICT.
 */
#ifndef OMEN_TXN_H
#define OMEN_TXN_H

#include "db/memtable.h"
#include "db/version.h"

typedef struct txn_range {
    void *lo, *hi;
    size_t lolen, hilen;
    int has_lo, has_hi;
} txn_range;

struct omen_txn {
    omen_db *db;
    struct omen_snapshot *snap;
    mt *writes;   /* write set, seqs from MT_MAX_SEQ + 1 */
    uint64_t wseq;
    mt *reads;    /* read set (keys only) */
    uint64_t rseq;
    txn_range *ranges;
    size_t nranges, cranges;
    omen_iter **iters; /* live iterators (detached when the txn ends) */
    size_t niters, citers;
    int status;   /* sticky failure (e.g. could not record a read) */
    db_commit_hook hook; /* applied after a successful commit (batch.h) */
};

/* A write into the transaction that may use the reserved key range (for
 * engine modules such as the vector layer). */
/* omen_txn_get for the engine's own entries (the reserved range), which
 * the public call refuses; the read is tracked for conflicts like any. */
int txn_get_reserved(struct omen_txn *t, const void *key, size_t klen, void **val, size_t *vlen);
int txn_write_raw(struct omen_txn *t, int type, const void *key, size_t klen, const void *val,
                  size_t vlen);


#endif
