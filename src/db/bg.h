/*
 * bg.h -- background work (bg.c): the flush thread (immutable memtable ->
 * level-0 run) and the compaction thread.
 */
#ifndef OMEN_DB_BG_H
#define OMEN_DB_BG_H

#include "db/version.h"

/* Write m to run file fnum (level 0); *out is NULL if nothing survived. */
int db_flush_memtable(omen_db *db, mt *m, uint64_t fnum, db_run **out);
int db_start_threads(omen_db *db);
void db_stop_threads(omen_db *db);

#endif
