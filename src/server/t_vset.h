/*
 * t_vset.h -- vector set commands (VADD VSIM VREM VCARD VDIM VEMB VGETATTR
 * VSETATTR VINFO VISMEMBER VRANDMEMBER), Redis 8 syntax, over the engine's
 * vector sets (omen_vset_*): writes and the engine handles in t_vset.c,
 * reads in t_vsetread.c.
 */
#ifndef OMEN_SERVER_T_VSET_H
#define OMEN_SERVER_T_VSET_H

#include "omendb.h"
#include "server/keyspace.h"
#include "server/server.h"

extern command vset_commands[];     /* t_vset.c: VADD VREM VSETATTR */
extern command vsetread_commands[]; /* t_vsetread.c: VSIM and the other reads */

/* After ks_open: install the keyspace hooks and drop engine sets that no
 * key owns any more (a crash between creating a set and committing the
 * key that names it, or a FLUSHALL cut short).  0 or an engine error. */
int vset_init(omen_db *db);
/* Close every cached engine handle (before omen_close; after ks_close). */
void vset_shutdown(void);

/* ---- shared by t_vset.c and t_vsetread.c ---- */

#define VS_DEFAULT_EF 100 /* search ef when EF is not given (Redis's) */

/* Reply an engine error: OMEN_INVALID with the engine's message, others as
 * coll_storage_error does. */
void vset_engine_error(client *c, int rc);
/* Common start of a command on the key argv[1]: commit pending writes,
 * look the key up and open its engine set.  1 with *m and *vs set, 0
 * absent (nothing replied), -1 after replying an error. */
int vset_lookup(client *c, ks_meta *m, omen_vset **vs);
/* vset_lookup, and the set's description into *in: 1, 0 (absent, nothing
 * replied) or -1 (an error was replied). */
int vset_lookup_info(client *c, ks_meta *m, omen_vset **vs, omen_vset_info *in);
/* FP32 blob | VALUES n v1..vn at argv[at]: a malloc'd vector in *out.
 * Returns the number of arguments consumed, or 0 (invalid). */
int vset_parse_vector(client *c, int at, float **out, uint32_t *dim);
/* Euclidean norm of v; 0 when a component is NaN or infinite (or the sum
 * overflows), so a result that is not > 0 means VSET_ERR_BADVEC: a cosine
 * set can neither store nor search with such a vector. */
float vset_vec_norm(const float *v, uint32_t dim);
#define VSET_ERR_BADVEC "ERR invalid vector: a component is NaN or infinite, or the vector is zero"

#endif
