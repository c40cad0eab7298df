/*
 * t_zset.h -- sorted set commands (ZADD ZRANGE ZRANGEBYSCORE ZPOPMIN ...).
 * t_zset.c owns the encoding (two sub-key families per member) and the
 * tombstone hints; t_zsetrange.c and t_zsetops.c use them through the
 * functions below.
 */
#ifndef OMEN_SERVER_T_ZSET_H
#define OMEN_SERVER_T_ZSET_H

#include "server/server.h"

#include "server/keyspace.h"

extern command zset_commands[];
extern command zsetrange_commands[]; /* t_zsetrange.c: ranges, ranks, ZREMRANGEBY* */
extern command zsetops_commands[];   /* t_zsetops.c: ZUNION ZINTER ZDIFF (+STORE) */

typedef struct zset_member {
    char *mem;
    size_t ml;
    double score;
} zset_member;

/* The score of member mem of sorted set m: OMEN_OK, OMEN_NOTFOUND or an
 * engine error. */
int zset_score(const ks_meta *m, const void *mem, size_t ml, double *score);
/* Replace key dk (of any type) by a sorted set of the n distinct members
 * v (an empty result deletes dk) and reply n, or reply the error. */
void zset_store(client *c, const sarg *dk, const zset_member *v, size_t n);

/* ---- the score family (t_zset.c), for t_zsetrange.c ---- */

/* The score-family element score+member, in a buffer that the next call
 * reuses (NULL: out of memory). */
const char *zset_elem(double score, const void *mem, size_t ml, size_t *len);
/* Iterator over the score family in [lo, hi) (NULL: open), narrowed by the
 * generation's tombstone hints. */
int zset_iter(const ks_meta *m, const char *lo, size_t lolen, const char *hi, size_t hilen, omen_iter **it);
/* Remember that the score family of gen holds only deleted entries below
 * k (which 0) or at and above k (which 1). */
void zset_hint_set(uint64_t gen, int which, const char *k, size_t kl);
/* Delete member mem (of score score): both sub-keys. */
int zset_del(const ks_meta *m, const void *mem, size_t ml, double score);
/* The member and score at an iterator over family fam (KS_FAM_ZSCORE or
 * KS_FAM_ZMEMBER). */
const char *zset_it_member(omen_iter *it, int fam, size_t *ml, double *score);

#endif
