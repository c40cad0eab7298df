/*
 * mem.c -- allocation wrappers with an optional injected failure point.
 * The failure point exists only in the testing build (OMEN_TESTING, see
 * docs/testing.md).  Its countdown is a relaxed atomic: cheap on the hot
 * path (one load when disarmed) and safe when background threads allocate
 * too.
 */
#include "util/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "omendb.h" /* omen_free is public: its definition needs OMEN_EXPORT */

#ifdef OMEN_TESTING
static atomic_long fail_countdown = -1; /* -1: disarmed */
static atomic_ulong fail_count;

static int should_fail(void)
{
    long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (c < 0) return 0;
    if (c == 0) {
        atomic_fetch_add_explicit(&fail_count, 1, memory_order_relaxed);
        return 1;
    }
    /* Decrement unless another thread got there first; losing the race
     * only shifts the failure point by one allocation. */
    atomic_compare_exchange_strong(&fail_countdown, &c, c - 1);
    return 0;
}

void util_mem_fail_after(long countdown)
{
    atomic_store(&fail_countdown, countdown);
}

unsigned long util_mem_failures(void)
{
    return atomic_exchange(&fail_count, 0);
}
#else
/* The shipped library: no failure point. */
static inline int should_fail(void)
{
    return 0;
}
#endif

void *util_malloc(size_t n)
{
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *util_calloc(size_t count, size_t size)
{
    if (should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *util_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void omen_free(void *p)
{
    free(p);
}

char *util_strdup(const char *s)
{
    return util_memdup(s, strlen(s) + 1);
}

void *util_memdup(const void *p, size_t n)
{
    void *q = util_malloc(n);
    if (q && n) memcpy(q, p, n);
    return q;
}

void *util_map_huge(size_t len)
{
    if (should_fail()) return NULL;
    /* Over-map by one huge page, then trim to the aligned middle. */
    unsigned char *p =
        mmap(NULL, len + UTIL_HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    unsigned char *a =
        (unsigned char *)(((uintptr_t)p + UTIL_HUGE_PAGE - 1) & ~(uintptr_t)(UTIL_HUGE_PAGE - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    if (p + UTIL_HUGE_PAGE > a) munmap(a + len, (size_t)(p + UTIL_HUGE_PAGE - a));
#ifdef MADV_HUGEPAGE
    (void)madvise(a, len, MADV_HUGEPAGE); /* a hint: fine if refused */
#endif
    return a;
}

void util_unmap_huge(void *p, size_t len)
{
    if (p) munmap(p, len);
}
