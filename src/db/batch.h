/*
 * batch.h -- write batches and their WAL record encoding.
 *
 * A WAL record payload is one committed write group:
 *     fixed64 first_seq | fixed32 count | count x op
 *     op = type byte (MT_TYPE_PUT / MT_TYPE_DELETE) | varint32 klen | key
 *          [| varint32 vlen | value   -- puts only]
 * Operation i gets sequence first_seq + i.  An omen_batch keeps its ops
 * already encoded (after a reserved header), so the group-commit leader can
 * hand several batches' op bytes to one wal_append_v without copying.
 *
 * Decoding validates every length against the payload end, the type byte,
 * the key/value limits and the op count, so a checksum-valid but malformed
 * payload gives OMEN_CORRUPT, never an out-of-bounds read.
 */
#ifndef OMEN_BATCH_H
#define OMEN_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "omendb.h"

#define BATCH_HEADER 12

/* A module's work to do once a batch or transaction has committed (the
 * vector layer links the graph; see src/vector/vset.c).  apply runs after
 * each successful commit; release when the batch is cleared or freed or
 * the transaction ends.  One hook per batch: a module keeps its own list
 * behind arg. */
typedef struct db_commit_hook {
    void (*apply)(void *arg);
    void (*release)(void *arg);
    void *arg;
} db_commit_hook;

struct omen_batch {
    unsigned char *buf; /* BATCH_HEADER reserved bytes, then encoded ops */
    size_t len, cap;
    uint32_t count;
    size_t mem_cost; /* upper bound of memtable bytes to apply it */
    db_commit_hook hook;
};

static inline void db_hook_release(db_commit_hook *h)
{
    if (h->release) h->release(h->arg);
    h->apply = NULL;
    h->release = NULL;
    h->arg = NULL;
}

void batch_init(struct omen_batch *b);
void batch_free(struct omen_batch *b);
int batch_add(struct omen_batch *b, int type, const void *key, size_t klen, const void *val,
              size_t vlen);
static inline const unsigned char *batch_ops(const struct omen_batch *b)
{
    return b->buf + BATCH_HEADER;
}
static inline size_t batch_ops_len(const struct omen_batch *b)
{
    return b->len > BATCH_HEADER ? b->len - BATCH_HEADER : 0;
}

/* Fill a record header. */
void batch_put_header(unsigned char hdr[BATCH_HEADER], uint64_t seq, uint32_t count);

typedef int (*batch_op_fn)(void *ctx, uint64_t seq, int type, const void *key, size_t klen,
                           const void *val, size_t vlen);

/* Walk count ops encoded at [ops, ops+len), numbering them from seq.
 * OMEN_CORRUPT on any malformation (checked before fn sees a bad op; ops
 * before it have been passed to fn).  fn's non-zero return stops the walk. */
int batch_iterate_ops(const void *ops, size_t len, uint32_t count, uint64_t seq, batch_op_fn fn,
                      void *ctx);

/* Decode a full record: header + ops.  Validates the whole record before
 * calling fn for any op (so replay applies a record entirely or not at
 * all).  *seq / *count receive the header fields (may be NULL). */
int batch_decode(const void *rec, size_t len, uint64_t *seq, uint32_t *count, batch_op_fn fn,
                 void *ctx);

#endif
