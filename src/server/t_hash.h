/*
 * t_hash.h -- hash commands (HSET HGET HMGET HDEL HGETALL ...).
 */
#ifndef OMEN_SERVER_T_HASH_H
#define OMEN_SERVER_T_HASH_H

#include "server/server.h"

extern command hash_commands[];

#endif
