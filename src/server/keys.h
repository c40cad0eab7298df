/*
 * keys.h -- commands on keys of any type: DEL UNLINK EXISTS TYPE KEYS SCAN
 * RANDOMKEY RENAME RENAMENX DBSIZE FLUSHDB FLUSHALL; and SCAN cursors.
 *
 * Keys are ordered, so a scan resumes at "the first key after the last one
 * returned".  Clients expect an integer cursor, so the server keeps the
 * resume position in a small table and hands out its number (random bits
 * plus a slot); a cursor pushed out of the table is reported as invalid.
 * HSCAN/SSCAN/ZSCAN use the same table with positions inside a collection.
 */
#ifndef OMEN_SERVER_KEYS_H
#define OMEN_SERVER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

extern command keys_commands[];

/* Remember a resume position; returns its cursor (never 0). */
uint64_t cursor_save(const void *pos, size_t len);
/* The position of cursor id: ks-owned bytes valid until the next
 * cursor_save; -1 if unknown. */
int cursor_load(uint64_t id, const char **pos, size_t *len);
/* Parse "<cursor>" of a SCAN-like command; -1 after replying an error. */
int parse_cursor(client *c, const sarg *a, uint64_t *out);
/* The SCAN family's options from argv[first] on: COUNT n (>= 1, default
 * 10), MATCH pattern ("*" is no pattern) and, when type is non-NULL, TYPE
 * name (-2 for an unknown name, -1 when absent).  0, or -1 after replying
 * an error. */
int scan_options(client *c, int first, long long *count, const sarg **pat, int *type);

#endif
