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
/* *changed = whether key has a committed version newer than snap in sv. */
int db_changed_since(db_sv *sv, const void *key, size_t klen, uint64_t snap, int *changed);

#endif
