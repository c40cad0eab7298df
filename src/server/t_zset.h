/*
 * t_zset.h -- sorted set commands (ZADD ZRANGE ZRANGEBYSCORE ZPOPMIN ...).
 */
#ifndef OMEN_SERVER_T_ZSET_H
#define OMEN_SERVER_T_ZSET_H

#include "server/server.h"

#include "server/keyspace.h"

extern command zset_commands[];
extern command zsetops_commands[]; /* t_zsetops.c: ZUNION ZINTER ZDIFF (+STORE) */

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

#endif
