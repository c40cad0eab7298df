/*
 * iter.h -- iterators: children over memtables and runs, the merging
 * iterator over internal entries, and the user-visible omen_iter.
 *
 * A transaction follows its iterators through iter_owner_ops (txn.c
 * implements them): iter.c reports the key range an iterator covered and
 * its release to an opaque owner, without knowing transactions.
 */
#ifndef OMEN_DB_ITER_H
#define OMEN_DB_ITER_H

#include "db/version.h"

/* A child of a merging iterator: yields internal entries in internal order. */
typedef struct citer citer;
typedef struct citer_ops {
    void (*seek_first)(citer *c);
    void (*seek_last)(citer *c);
    void (*seek)(citer *c, const void *k, size_t kl, uint64_t seq);          /* first >= */
    void (*seek_for_prev)(citer *c, const void *k, size_t kl, uint64_t seq); /* last <= */
    void (*next)(citer *c);
    void (*prev)(citer *c);
    /* Value of the current entry (loaded lazily: runs read value blocks
     * only for entries that are actually returned). */
    int (*value)(citer *c, const void **val, size_t *vlen);
    void (*destroy)(citer *c);
} citer_ops;

struct citer {
    const citer_ops *ops;
    int valid;
    int status;
    /* Points into the memtable's arena or the run's map: stays valid after
     * the child moves on, for as long as the iterator pins its source. */
    const void *key;
    size_t klen;
    uint64_t seq;
    int type;
};

citer *citer_mem_new(const mt *m);
citer *citer_run_new(db_run *r);

/* Merging iterator over children (owns them). */
typedef struct miter {
    citer **c;
    size_t n;
    citer *cur;
    /* Forward only: the smallest valid child other than cur when cur was
     * chosen (NULL: none), or second_ok == 0 when unknown.  Only cur moves
     * between two choices, so while cur stays below it, cur stays the
     * smallest: one comparison per step instead of one per child. */
    citer *second;
    int second_ok;
    int forward;
} miter;

void miter_init(miter *m, citer **children, size_t n);
void miter_free(miter *m);
void miter_seek_first(miter *m);
void miter_seek_last(miter *m);
void miter_seek(miter *m, const void *k, size_t kl, uint64_t seq);
void miter_seek_for_prev(miter *m, const void *k, size_t kl, uint64_t seq);
void miter_next(miter *m);
void miter_prev(miter *m);
int miter_status(const miter *m);
static inline int miter_valid(const miter *m)
{
    return m->cur != NULL;
}

/* Children over a superversion (mem, imm, runs) appended to *arr. */
int db_sv_children(db_sv *sv, citer ***arr, size_t *n, size_t *cap);

/* The owner of an iterator (a transaction): told the key range each
 * iterator covered (for validation) and when the iterator is destroyed. */
typedef struct iter_owner_ops {
    void (*record_range)(void *owner, const void *lo, size_t lolen, int has_lo, const void *hi,
                         size_t hilen, int has_hi);
    void (*released)(void *owner, omen_iter *it);
} iter_owner_ops;

/* Iterator creation shared by omen_iter_create and omen_txn_iter_create.
 * owner_ops/owner may be NULL; txn_writes (may be NULL) is merged over
 * everything committed. */
int db_iter_new(omen_db *db, db_sv *sv, uint64_t seq, const omen_iter_options *opts,
                const iter_owner_ops *owner_ops, void *owner, const mt *txn_writes,
                omen_iter **out);
/* omen_iter_create without the bound below the reserved range (engine
 * modules reading their own entries). */
int db_iter_create_any(omen_db *db, const omen_iter_options *opts, omen_iter **out);
/* Make an iterator step over the reserved range (user iterators). */
void db_iter_hide_reserved(omen_iter *it);
/* The owner ends before the iterator: forget it (the iterator then counts
 * as an outstanding object of the handle). */
void db_iter_detach(omen_iter *it);
/* Report the range the iterator has covered so far to its owner. */
void db_iter_flush_range(omen_iter *it);

#endif
