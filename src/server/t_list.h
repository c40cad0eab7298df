/*
 * t_list.h -- list commands (LPUSH RPUSH LPOP RPOP LRANGE ...).
 */
#ifndef OMEN_SERVER_T_LIST_H
#define OMEN_SERVER_T_LIST_H

#include "server/server.h"

extern command list_commands[];

#endif
