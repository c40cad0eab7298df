/*
 * db.h -- point reads over a pinned superversion (db.c), shared with
 * transactions.
 */
#ifndef OMEN_DB_DB_H
#define OMEN_DB_DB_H

#include "db/version.h"

/* Point read at seq through a pinned superversion: OMEN_OK with a malloc'd
 * copy, OMEN_NOTFOUND, or an error. */
int db_get_sv(db_sv *sv, uint64_t seq, const void *key, size_t klen, void **val, size_t *vlen);
/* n point reads at seq through a pinned superversion (multiget.c): each
 * found PUT's value goes to dsts[i] as run_vdst says and vlens[i] gets its
 * length; a key not found leaves dsts[i] untouched.  OMEN_OK, OMEN_NOMEM,
 * or a read (or visitor) error, after which values may have been handed
 * out for some keys. */
int db_get_many_sv(db_sv *sv, uint64_t seq, size_t n, const void *const *keys, const size_t *klens,
                   const run_vdst *dsts, size_t *vlens);
/* The len bytes at loc (a run_vdst's loc) if a run of sv holds that place,
 * else NULL (the run was compacted away, or loc is 0).  Valid while sv is
 * pinned. */
const void *db_sv_value_at(const db_sv *sv, uint64_t loc, size_t len);
/* omen_get for the engine's own entries (the reserved range, reserved.h),
 * which the public reads refuse: latest state, *val malloc'd (val NULL: the
 * length only). */
int db_get_reserved(omen_db *db, const void *key, size_t klen, void **val, size_t *vlen);
/* *changed = whether key has a committed version newer than snap in sv. */
int db_changed_since(db_sv *sv, const void *key, size_t klen, uint64_t snap, int *changed);

#endif
