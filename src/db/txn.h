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

#include "db/db_impl.h"

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
int txn_write_raw(struct omen_txn *t, int type, const void *key, size_t klen, const void *val,
                  size_t vlen);

void txn_iter_released(struct omen_txn *t, omen_iter *it);
/* Called by txn.c when the transaction ends before its iterators. */
void db_iter_detach_txn(omen_iter *it);
/* Record the range a transaction iterator has covered so far. */
void db_iter_txn_flush(omen_iter *it);

#endif
