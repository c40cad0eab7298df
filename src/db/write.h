/*
 * write.h -- the write path with group commit (write.c).
 *
 * A writer may carry a validation callback (a transaction's): the group
 * leader calls it inside the serialized section, before sequences are
 * assigned, with the members placed before it in the same group, so
 * write.c needs no knowledge of transactions.
 */
#ifndef OMEN_DB_WRITE_H
#define OMEN_DB_WRITE_H

#include "db/version.h"

enum { DB_W_QUEUED = 0, DB_W_DONE = 1, DB_W_LEADS = 2 };

typedef struct db_writer {
    const unsigned char *ops;
    size_t ops_len, mem_cost;
    uint32_t count;
    /* Validated by the leader when non-NULL: OMEN_CONFLICT (or another
     * error) makes this member fail.  first..self are the group so far. */
    int (*validate)(void *ctx, db_sv *sv, struct db_writer *first, struct db_writer *self);
    void *vctx;
    int sync;
    int status;
    unsigned bit; /* the futex wake bit of the writer's thread (write.c) */
    atomic_int state; /* DB_W_QUEUED, DB_W_DONE (status set) or DB_W_LEADS */
    _Atomic(struct db_writer *) next; /* the writer queued after this one */
} db_writer;

/* Apply the encoded batch ops (count of them, mem_cost bytes of memtable)
 * as one atomic write; validate/vctx as in db_writer (NULL: none).
 * ops == NULL with count 0 and no validate is a flush request. */
int db_write_ops(omen_db *db, const unsigned char *ops, size_t ops_len, uint32_t count,
                 size_t mem_cost, int (*validate)(void *ctx, db_sv *sv, db_writer *first,
                                                  db_writer *self),
                 void *vctx, int sync);

/* Make the log switched out with the immutable memtable durable, if it is
 * not yet, and mark the current log as following durable ones.  Every
 * sync of the current log calls this first.  Turns the handle read-only
 * on failure.  Not with mu held. */
int db_sync_imm_wal(omen_db *db);

#endif
