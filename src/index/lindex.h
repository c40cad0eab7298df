/*
 * lindex.h -- the learned index: an epsilon-bounded piecewise-linear model
 * of key -> position over a sorted array of uint64 keys.
 *
 * Invariants:
 *  - The model never owns the key array it indexes; the array (often a
 *    region of an mmap'ed sorted-run file) must outlive every query.
 *  - For every key k at position p of the array, the bottom segment that
 *    covers k predicts p within +-epsilon; upper levels route to that
 *    segment within +-epsilon_rec.  Queries are therefore exact: they return
 *    the true lower_bound, found by a bounded SIMD search around the guess.
 *  - Duplicates are allowed; lower_bound returns the first of equal keys.
 *
 * Byte-string keys are indexed through an 8-byte "slot": the big-endian
 * bytes that follow the array's longest common prefix, zero-padded.  Slots
 * preserve order but may tie; ties are settled by full-key comparison.
 */
#ifndef OMEN_LINDEX_H
#define OMEN_LINDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct lidx lidx;

#define LIDX_DEFAULT_EPSILON 16

/* Build a model over keys[0..n) (sorted ascending, duplicates allowed).
 * epsilon 0 means LIDX_DEFAULT_EPSILON.  Returns OMEN_OK / OMEN_NOMEM /
 * OMEN_INVALID; *out is owned by the caller (lidx_free). n may be 0. */
int lidx_build(const uint64_t *keys, size_t n, unsigned epsilon, lidx **out);
void lidx_free(lidx *m);

/* Streaming build: feed keys in ascending order one at a time (e.g. while
 * a compaction merges runs), then finish.  Produces the same model as
 * lidx_build over the same keys.  Memory is O(segments), not O(keys). */
typedef struct lidx_builder lidx_builder;
int lidx_builder_new(unsigned epsilon, lidx_builder **out);
/* Keys must be non-decreasing; OMEN_INVALID otherwise. */
int lidx_builder_add(lidx_builder *b, uint64_t key);
/* Ends the builder (freed whatever the result) and yields the model. */
int lidx_builder_finish(lidx_builder *b, lidx **out);
void lidx_builder_free(lidx_builder *b);
/* Bottom-level segments closed so far (the model's size grows with it). */
size_t lidx_builder_segments(const lidx_builder *b);

/* Exact lower_bound of q in keys[0..n), the same array the model was built
 * (or loaded) for: the first position whose key >= q, n if none. */
size_t lidx_lower_bound(const lidx *m, const uint64_t *keys, size_t n, uint64_t q);

/* Many lookups in one call, hiding memory latency (prefetch, interleaving).
 * out[i] = lidx_lower_bound(m, keys, n, qs[i]). */
void lidx_lower_bound_batch(const lidx *m, const uint64_t *keys, size_t n, const uint64_t *qs,
                            size_t count, size_t *out);

/* The window [*lo, *hi) that contains the lower_bound of q (callers that
 * finish the search themselves, e.g. with full-key comparison). */
void lidx_window(const lidx *m, const uint64_t *keys, size_t n, uint64_t q, size_t *lo,
                 size_t *hi);

/* Introspection. */
size_t lidx_segments(const lidx *m);   /* bottom-level segments */
size_t lidx_levels(const lidx *m);
size_t lidx_bytes(const lidx *m);      /* in-memory size of the model */
unsigned lidx_epsilon(const lidx *m);
size_t lidx_nkeys(const lidx *m);

/* Serialization: a compact, versioned, checksummed byte image.
 * lidx_serialized_size gives the exact length lidx_serialize writes. */
size_t lidx_serialized_size(const lidx *m);
int lidx_serialize(const lidx *m, void *buf, size_t cap, size_t *written);
/* Load without rebuilding.  Any truncated, bit-flipped or inconsistent
 * buffer gives OMEN_CORRUPT (or OMEN_VERSION), never a crash.  The buffer is
 * copied; it need not outlive the model. */
int lidx_deserialize(const void *buf, size_t len, lidx **out);

/* ---- Byte-string keys -------------------------------------------------- */

/* Slot of key given the array's common prefix length lcp: the 8 bytes of
 * key after lcp, big-endian, zero-padded.  The caller must ensure key
 * begins with the common prefix (or handle keys outside it first). */
uint64_t lidx_slot(const uint8_t *key, size_t klen, size_t lcp);

/* Access to key i of a sorted byte-string array. */
/* (Named lidx_slice, not lidx_bytes: that name is the size function above.) */
typedef struct {
    const uint8_t *p;
    size_t len;
} lidx_slice;
typedef lidx_slice (*lidx_key_fn)(const void *ctx, size_t i);

/* A string-key index: lcp bytes + slot model.  The slots array (n uint64)
 * is supplied by the caller (computed with lidx_slot; it can live in a
 * file) and must stay valid while querying. */
typedef struct {
    lidx *model;
    const uint64_t *slots;
    size_t n;
    size_t lcp_len;
    const uint8_t *lcp; /* lcp_len bytes, not owned */
    lidx_key_fn key;
    const void *ctx;
} lidx_str;

/* Longest common prefix length of a sorted array (first vs last key). */
size_t lidx_str_lcp(lidx_key_fn key, const void *ctx, size_t n);

/* Exact lower_bound of q (first i with key(i) >= q bytewise). */
size_t lidx_str_lower_bound(const lidx_str *s, const uint8_t *q, size_t qlen);

#endif /* OMEN_LINDEX_H */
