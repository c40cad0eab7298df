/*
 * pending.h -- the writes of the current loop pass, before the commit.
 *
 * Every write of a pass (all clients) goes into one engine batch; an
 * overlay (a hash table over the same writes) lets reads of the same pass
 * see them without a commit.  pend_commit writes the batch once at the end
 * of the pass.  Iterators cannot merge the overlay, so pend_iter commits
 * the batch first (a "mid-pass" commit; replies still wait for the end of
 * the pass).  During EXEC (pend_txn_begin .. pend_txn_end) reads, writes
 * and iterators go through one engine transaction instead, committed as
 * one log record.  Used by keyspace.c only (its ks_* API is what command
 * files use).
 */
#ifndef OMEN_SERVER_PENDING_H
#define OMEN_SERVER_PENDING_H

#include <stddef.h>

#include "omendb.h"

int pend_open(omen_db *db);
void pend_close(void);
omen_db *pend_db(void);

int pend_put(const void *key, size_t klen, const void *val, size_t vlen);
int pend_del(const void *key, size_t klen);
/* Read key: the pass's pending value if any (valid until the commit), else
 * the engine's, copied into *buf (grown as needed, *cap its size). */
int pend_get(const void *key, size_t klen, char **buf, size_t *cap, const char **val,
             size_t *vlen);
/* Iterator over [lo, hi) seeing every write so far (commits first). */
int pend_iter(const char *lo, size_t lolen, const char *hi, size_t hilen, omen_iter **out);

/* End of pass: write the batch with `sync`; also reports a mid-pass
 * commit of this pass that failed.  On failure nothing of the pass may be
 * acknowledged. */
int pend_commit(int sync);
size_t pend_count(void);
void pend_set_mid_sync(int sync);
int pend_failed(void);
/* Commit now, in the middle of a pass (no-op inside a transaction). */
int pend_commit_mid(void);
/* Commit mid-pass if the batch grew past 32 MiB. */
void pend_maybe_commit_large(void);

/* Vector writes into the pass's batch (omen_batch_vadd/vdel): they commit
 * with the pass's other writes; OMEN_INVALID inside a transaction (the
 * server refuses vector commands in MULTI). */
int pend_vadd(omen_vset *vs, const void *id, size_t idlen, const float *vec, uint32_t dim,
              const char *attrs, size_t alen);
int pend_vdel(omen_vset *vs, const void *id, size_t idlen);
/* Sync mode of mid-pass commits (the --sync policy of direct writes). */
int pend_mid_sync(void);

int pend_txn_begin(void);
/* Nonzero between pend_txn_begin and pend_txn_end. */
int pend_in_txn(void);
/* Commit the transaction (relaxed; the pass's pend_commit syncs it). */
int pend_txn_end(void);

#endif
