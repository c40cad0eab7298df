/*
 * coll.h -- what the collection families (t_hash.c, t_list.c, t_set.c,
 * t_zset.c) share: looking up or creating a collection, writing its
 * metadata back (deleting the key when it became empty, as Redis does),
 * element size checks, *SCAN over a collection's sub-keys, and random
 * numbers for SPOP/SRANDMEMBER.
 *
 * A collection's elements are sub-keys named by its generation
 * (keyspace.h); its metadata holds the element count, so HLEN/SCARD/ZCARD/
 * LLEN are one engine read.  Every command that changes a collection
 * rewrites its metadata (a few bytes), which also tells WATCH.
 */
#ifndef OMEN_SERVER_COLL_H
#define OMEN_SERVER_COLL_H

#include <stddef.h>
#include <stdint.h>

#include "server/keyspace.h"
#include "server/server.h"

/* Look up key expecting `type`: 1 found, 0 absent, -1 an error was replied
 * (WRONGTYPE, storage).  Counts keyspace hits and misses. */
int coll_lookup(client *c, const sarg *k, int type, ks_meta *m);
/* A new, empty collection of `type` with a fresh generation for key k:
 * 0, or -1 after replying (key too long). */
int coll_init(client *c, const sarg *k, ks_meta *m, int type);
/* Write m back for key k (ks_collection_save): old is the metadata found
 * by coll_lookup (NULL if the key was absent).  An empty collection
 * deletes the key.  Replies
 * the storage error and returns -1 on failure, 0 on success. */
int coll_save(client *c, const sarg *k, ks_meta *m, const ks_meta *old);
/* Refuse (reply and return -1) if any of argv[from], argv[from+step], ...
 * is longer than max bytes (fields and members are engine key bytes). */
int coll_check_elems(client *c, int from, int step, size_t max);
/* Reply the error for an engine failure code. */
void coll_storage_error(client *c, int rc);

/* HSCAN/SSCAN/ZSCAN key cursor [MATCH pattern] [COUNT count]: what kind of
 * value follows each element in the reply. */
enum { SCAN_ELEM = 0, SCAN_VALUE = 1, SCAN_SCORE = 2 };
void coll_scan(client *c, int type, int fam, int what);

/* Shortest text Redis 7.0 prints for a score ("%.17g", "inf", "-inf"). */
int coll_fmt_score(char *b, size_t cap, double d);
/* A uniform random number in [0, n), n > 0. */
uint64_t coll_random(uint64_t n);

#endif
