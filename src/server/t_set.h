/*
 * t_set.h -- set commands (SADD SREM SMEMBERS SINTER ...).
 */
#ifndef OMEN_SERVER_T_SET_H
#define OMEN_SERVER_T_SET_H

#include "server/server.h"

extern command set_commands[];

#endif
