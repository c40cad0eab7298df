/*
 * mem.h -- the engine's allocation functions.
 *
 * All engine allocations go through these so that fault-injection tests can
 * make the Nth allocation fail and check that the engine reports OMEN_NOMEM
 * cleanly (no crash, no leak).  Memory from omen_malloc is released with
 * omen_free (which is also the public release call for returned buffers).
 */
#ifndef OMEN_MEM_H
#define OMEN_MEM_H

#include <stddef.h>

void *omen_malloc(size_t n);
void *omen_calloc(size_t count, size_t size);
void *omen_realloc(void *p, size_t n);
char *omen_strdup(const char *s);
void *omen_memdup(const void *p, size_t n);

/* Fault injection (tests only): after `countdown` more successful
 * allocations, every allocation fails until reset with -1.  Returns the
 * number of allocations that failed since the last call. */
void omen_mem_fail_after(long countdown);
unsigned long omen_mem_failures(void);

#endif
