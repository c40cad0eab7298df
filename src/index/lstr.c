/*
 * lstr.c -- byte-string keys over the uint64 learned index.
 *
 * A sorted array of byte strings (memcmp order, a proper prefix first)
 * shares its longest common prefix P.  The slot of a key is the 8 bytes
 * after P, big-endian, zero-padded: a non-decreasing function of the key,
 * so slot(a) < slot(b) implies a < b, and the keys below a query are
 * exactly those with a smaller slot plus a prefix of the equal-slot run.
 * The model finds the run, galloping over equal slots finds its end, and
 * full-key comparison settles the run (binary search, since runs can be
 * long: keys sharing 8 bytes past P, "ab" and "ab\0", ...).  A query that
 * does not start with P is answered by comparing it with P alone.
 */
#include <string.h>

#include "index/lidx_int.h"

uint64_t lidx_slot(const uint8_t *key, size_t klen, size_t lcp)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        size_t at = lcp + i;
        v = (v << 8) | (at < klen ? key[at] : 0u);
    }
    return v;
}

static int keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return (alen > blen) - (alen < blen);
}

size_t lidx_str_lcp(lidx_key_fn key, const void *ctx, size_t n)
{
    if (!key || n == 0) return 0;
    lidx_slice a = key(ctx, 0), b = key(ctx, n - 1);
    size_t m = a.len < b.len ? a.len : b.len, i = 0;
    while (i < m && a.p[i] == b.p[i]) i++;
    return i;
}

size_t lidx_str_lower_bound(const lidx_str *s, const uint8_t *q, size_t qlen)
{
    if (!s || s->n == 0) return 0;
    size_t n = s->n;
    /* Against the common prefix first: a query outside it is below or
     * above every key. */
    size_t pl = s->lcp_len;
    size_t m = qlen < pl ? qlen : pl;
    int c = m ? memcmp(q, s->lcp, m) : 0;
    if (c < 0) return 0;
    if (c > 0) return n;
    if (qlen < pl) return 0; /* a proper prefix of P sorts first */

    uint64_t qs = lidx_slot(q, qlen, pl);
    size_t lo = lidx_lower_bound(s->model, s->slots, n, qs);
    if (lo == n || s->slots[lo] != qs) return lo;
    /* The run of keys whose slot equals qs: usually one key, so gallop
     * from lo (the slots there are already in cache) rather than asking
     * the model again. */
    size_t step = 1, end = lo + 1;
    while (end < n && s->slots[end] == qs) {
        end = (n - lo > 2 * step) ? lo + 2 * step : n;
        step *= 2;
    }
    /* slots[lo + step/2] == qs (or step == 1), slots[end] != qs or end == n */
    size_t hi = lidx_search(s->slots, lo + (step > 1 ? step / 2 : 0) + 1, end, qs + 1);
    if (qs == UINT64_MAX) hi = end;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        lidx_slice k = s->key(s->ctx, mid);
        if (keycmp(k.p, k.len, q, qlen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
