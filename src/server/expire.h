/*
 * expire.h -- key expiry: EXPIRE family, TTL family, PERSIST, and the
 * background cycle that reclaims due keys and old collection generations.
 *
 * A key whose expiry is due is invisible at once (ks_lookup hides and
 * deletes it); the cycle reclaims keys nobody reads, in due order.
 */
#ifndef OMEN_SERVER_EXPIRE_H
#define OMEN_SERVER_EXPIRE_H

#include <stdint.h>

#include "server/keyspace.h"
#include "server/server.h"

extern command expire_commands[];

/* v in units of `unit_ms` (1000 for seconds), absolute (unix) or relative
 * to now, to absolute unix ms in *out.  -1 if it overflows or v <= 0, as
 * SET's EX/PX/EXAT/PXAT demand. */
int expire_from_arg(long long v, long long unit_ms, int absolute, int64_t *out);
/* Change key's expiry (0 = persist) given its metadata m. */
int expire_set(const void *key, size_t klen, ks_meta *m, int64_t when);
/* Timer: background expiry and reclamation. */
long expire_cron(ae_loop *el, long long id, void *data);

#endif
