/*
 * t_string.h -- string commands.
 */
#ifndef OMEN_SERVER_T_STRING_H
#define OMEN_SERVER_T_STRING_H

#include "server/server.h"

extern command string_commands[];

/* Reply the error for an engine failure code (TOOBIG, IO, ...). */
void reply_storage_error(client *c, int rc);

#endif
