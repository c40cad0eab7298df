/*
 * mem.h -- the engine's allocation functions.
 *
 * All engine allocations go through these so that fault-injection tests (in
 * the testing build) can make the Nth allocation fail and check that the engine reports OMEN_NOMEM
 * cleanly (no crash, no leak).  Memory from util_malloc is released with
 * omen_free (which is also the public release call for returned buffers).
 */
#ifndef OMEN_MEM_H
#define OMEN_MEM_H

#include <stddef.h>

void *util_malloc(size_t n);
void *util_calloc(size_t count, size_t size);
void *util_realloc(void *p, size_t n);
char *util_strdup(const char *s);
void *util_memdup(const void *p, size_t n);

/* Zeroed anonymous memory of len bytes (a multiple of UTIL_HUGE_PAGE:
 * round with util_huge_len), aligned to UTIL_HUGE_PAGE and marked for
 * transparent huge pages: for big regions that are hit at random (memtable
 * arenas and filters, sorted runs' hot copies, large learned-index models),
 * where a 4 KiB page per hop would add a TLB miss to each cache miss.  NULL
 * on failure (or an injected one).  Released with util_unmap_huge(p, len). */
#define UTIL_HUGE_PAGE ((size_t)2 << 20)
void *util_map_huge(size_t len);
void util_unmap_huge(void *p, size_t len);

/* n bytes rounded up to whole huge pages: the length to map. */
static inline size_t util_huge_len(size_t n)
{
    return (n + UTIL_HUGE_PAGE - 1) & ~(UTIL_HUGE_PAGE - 1);
}

#ifdef OMEN_TESTING
/* Fault injection, in the testing build only (docs/testing.md): after
 * `countdown` more successful allocations, every allocation fails until
 * reset with -1.  util_mem_failures returns the number of allocations that
 * failed since its last call. */
void util_mem_fail_after(long countdown);
unsigned long util_mem_failures(void);
#endif

#endif
