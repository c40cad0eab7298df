/*
 * multi.h -- MULTI/EXEC/DISCARD and WATCH/UNWATCH.
 *
 * Queued commands run inside one engine transaction (ks_txn_begin/end), so
 * EXEC's writes are one atomic WAL record.  WATCH is optimistic as in
 * Redis: the server is the engine's only writer, so every modification of
 * a key passes through the keyspace's touch hook, which marks the clients
 * watching that key; their EXEC then fails with a null reply.
 */
#ifndef OMEN_SERVER_MULTI_H
#define OMEN_SERVER_MULTI_H

#include <stddef.h>

#include "server/server.h"

extern command multi_commands[];

void multi_init(void);
/* Queue c's current command (inside MULTI) and reply +QUEUED. */
void multi_queue(client *c);
/* Drop the MULTI queue and state. */
void multi_discard_state(client *c);
void watch_unwatch_all(client *c);
/* The keyspace touch hook: key NULL means every key is about to go. */
void watch_touch(const void *key, size_t klen);
void execCommand(client *c);

#endif
