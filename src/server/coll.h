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
 *
 * Rule for handlers: create every iterator before the command's first
 * write.  Creating an iterator commits the pass's pending writes (so that
 * it sees them); keeping a command's writes after its reads keeps them in
 * one engine batch, so a crash never leaves half a command behind.
 */
#ifndef OMEN_SERVER_COLL_H
#define OMEN_SERVER_COLL_H

#include <stddef.h>
#include <stdint.h>

#include "server/keyspace.h"
#include "server/server.h"

/* Look up key expecting `type`: 1 found, 0 absent, -1 an error was replied
 * (WRONGTYPE, storage).  Counts keyspace hits and misses of read commands. */
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

/* Reply every entry of it (which this call destroys) as a bulk string: the
 * sub-key's element (values 0) or the entry's value (values 1), in an
 * array (as_set 0) or a RESP3 set.  A read error mid-reply closes the
 * client, as a partial reply cannot be taken back. */
void coll_reply_iter(client *c, omen_iter *it, int values, int as_set);

/* An element copied out of the engine (malloc'd; v NULL without values). */
typedef struct coll_elem {
    char *p;
    size_t len;
    char *v;
    size_t vlen;
} coll_elem;
void coll_elems_free(coll_elem *v, size_t n);

/* k random elements of family fam of collection m, uniformly: distinct
 * (k <= m->count) or, with repeat, drawn with repetition; values copied
 * too if asked.  *out (k entries, random order) is freed with
 * coll_elems_free.  An ordered store has no "element at rank i" in O(1):
 * one element is a walk from the nearer end (n/4 steps on average), several
 * are one scan. */
int coll_sample(const ks_meta *m, int fam, uint64_t k, int repeat, int values, coll_elem **out);

/* HRANDFIELD / ZRANDMEMBER key [count [WITHVALUES|WITHSCORES]] over family
 * fam; `word` names the option, scores says the values are sorted-set
 * scores (replied as doubles). */
void coll_randmember(client *c, int type, int fam, const char *word, int scores);
/* Largest |count| of a random draw with repetition (Redis has no limit). */
#define COLL_REPEAT_MAX (1 << 27)

/* Shortest text Redis 7.0 prints for a score ("%.17g", "inf", "-inf"). */
int coll_fmt_score(char *b, size_t cap, double d);
/* A uniform random number in [0, n), n > 0. */
uint64_t coll_random(uint64_t n);

#endif
