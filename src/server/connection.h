/*
 * connection.h -- connection commands: PING ECHO SELECT AUTH HELLO QUIT
 * RESET CLIENT.
 */
#ifndef OMEN_SERVER_CONNECTION_H
#define OMEN_SERVER_CONNECTION_H

#include "server/server.h"

extern command connection_commands[];
/* CLIENT's subcommands, checked by the dispatcher (commands.c). */
extern const subcommand client_subcommands[];
/* Constant-time password check against requirepass. */
int auth_check(const char *p, size_t len);

#endif
