/*
 * vfilter.h -- filter expressions over element attributes (the Redis VSIM
 * FILTER language) and the small JSON reader they need.
 *
 * An expression is compiled once (vfilter_compile) into an immutable tree
 * that any number of threads may evaluate at once.  Evaluation reads the
 * attributes' JSON text directly (no document is built): each `.field`
 * reference scans the top-level object for that key.
 *
 * Values are numbers (double; true/false are 1/0 as in Redis), strings,
 * and lists (literal [..] or JSON arrays of scalars, right of `in` only).
 * A string that is entirely a number stands for that number wherever a
 * number is wanted or compared against ("1990" == 1990), as in Redis.
 * A field that is missing or unreadable (malformed JSON, an object value)
 * fails the element whatever the rest of the expression says, as Redis
 * documents; an operator applied to types it does not take (or a NaN)
 * yields "undefined", which propagates and never matches.
 */
#ifndef OMEN_VFILTER_H
#define OMEN_VFILTER_H

#include <stddef.h>

typedef struct vfilter vfilter;

/* Compile expr (NUL-terminated).  OMEN_OK with *out owned by the caller
 * (vfilter_free), or OMEN_INVALID with a message naming the position. */
int vfilter_compile(const char *expr, vfilter **out);
void vfilter_free(vfilter *f);

/* 1 if the attributes (JSON object text) satisfy f, else 0; an element
 * without attributes (NULL or empty) satisfies no filter, as in Redis. */
int vfilter_match(const vfilter *f, const char *json, size_t len);

/* OMEN_OK if [json, json+len) is one JSON object (nesting up to 64 deep),
 * OMEN_INVALID with a message otherwise. */
int vfilter_json_check(const char *json, size_t len);

#endif
