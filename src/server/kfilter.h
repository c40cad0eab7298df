/*
 * kfilter.h -- an in-memory filter over every user key that has metadata in
 * the engine, so that a lookup of a key that was never written (a SET of a
 * new key, a GET that misses) answers "absent" without an engine read.
 *
 * A blocked Bloom filter: each key sets three bits in one 64-byte line.  It
 * has no false negatives as long as every key written is added before its
 * metadata can reach the engine and the filter starts from a scan of all
 * metadata (keyspace.c keeps both).  Deleted keys stay in it (false
 * positives only: they cost the engine read they cost without a filter);
 * keyspace.c rebuilds it from a scan when more keys were added than it was
 * sized for, and empties it on FLUSHALL.  Used by keyspace.c only.
 */
#ifndef OMEN_SERVER_KFILTER_H
#define OMEN_SERVER_KFILTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct kfilter {
    uint64_t *lines; /* nlines * 8 words; NULL: disabled (every key "may exist") */
    uint64_t nlines;
    uint64_t cap;    /* keys it was sized for                                  */
    uint64_t added;  /* kf_add calls for new keys since it was built or cleared */
} kfilter;

/* A filter sized for cap keys (bits zero; at least 12 bits a key, in whole
 * 2 MiB pages).  OMEN_OK or OMEN_NOMEM (f left disabled). */
int kf_init(kfilter *f, uint64_t cap);
void kf_free(kfilter *f);
void kf_add(kfilter *f, const void *key, size_t klen);
/* 0: key was never added since the filter was built (it is absent); 1: it
 * may have been.  A disabled filter always says 1. */
int kf_may_contain(const kfilter *f, const void *key, size_t klen);
/* Start loading key's line into the cache (a hint; see networking.c). */
void kf_prefetch(const kfilter *f, const void *key, size_t klen);
/* Forget every key (FLUSHALL); the size stays. */
void kf_clear(kfilter *f);
/* Memory it holds, for INFO. */
size_t kf_bytes(const kfilter *f);

#endif
