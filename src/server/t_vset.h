/*
 * t_vset.h -- vector set commands (VADD VSIM VREM VCARD VDIM VEMB VGETATTR
 * VSETATTR VINFO VISMEMBER VRANDMEMBER), Redis 8 syntax, over the engine's
 * vector sets (omen_vset_*).
 */
#ifndef OMEN_SERVER_T_VSET_H
#define OMEN_SERVER_T_VSET_H

#include "omendb.h"
#include "server/server.h"

extern command vset_commands[];

/* After ks_open: install the keyspace hooks and drop engine sets that no
 * key owns any more (a crash between creating a set and committing the
 * key that names it, or a FLUSHALL cut short).  0 or an engine error. */
int vset_init(omen_db *db);
/* Close every cached engine handle (before omen_close; after ks_close). */
void vset_shutdown(void);

#endif
