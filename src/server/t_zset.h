/*
 * t_zset.h -- sorted set commands (ZADD ZRANGE ZRANGEBYSCORE ZPOPMIN ...).
 */
#ifndef OMEN_SERVER_T_ZSET_H
#define OMEN_SERVER_T_ZSET_H

#include "server/server.h"

extern command zset_commands[];

#endif
