/*
 * run.h -- sorted-run files: immutable, mmap'ed files of internal entries
 * whose key section is searched by a learned index (src/index/lindex.h).
 * The byte layout is in docs/format.md, "Sorted-run file".
 *
 * Entries are internal keys (user key, seq, type, value), ordered by user
 * key ascending (memcmp, shorter first on a common prefix), then seq
 * DESCENDING, so the first entry of a user key is its newest version.  A
 * run may hold several versions of a user key, tombstones (type
 * RUN_TYPE_DELETE, empty value) and empty values.
 *
 * Lookup: the run's common prefix check, bloom filter, then the learned
 * model over the 8-byte slot array (lower_bound; a SIMD search finishes and
 * full keys settle slot ties), then a walk over that user key's versions to
 * the newest with seq <= snapshot.  No binary search index on the key path.
 * A second learned model, fitted at open over the records (src/index/lmap.h:
 * entry position -> value offset, raw runs only), predicts where the found
 * entry's value lies, so its cache and TLB misses run in parallel with the
 * record's; the record still gives the exact offset.
 *
 * Memory: run_open copies the sections every point lookup touches (slot
 * array, entry records, filter: 40 bytes per entry plus the filter) into
 * private memory on transparent huge pages, so lookups take no TLB miss
 * there; key bytes and values are read from the map.
 *
 * Integrity: run_open verifies the footer, model, filter, block index and
 * the whole key section (slots, entry records, key offsets, key bytes) by
 * crc32c and checks every record's bounds, so a run that opened never makes
 * a read go outside the file.  Value blocks are verified the first time they are
 * read after open (an atomic per-block "verified" bitmap; compressed blocks
 * on every decompression, i.e. on every cache miss), so a flipped byte
 * anywhere yields OMEN_CORRUPT, never wrong data.  run_verify checks
 * everything, including key order and that the model finds every key.
 *
 * Thread-safety: a run is immutable after run_open; run_get,
 * run_latest_seq and iterators (one thread per iterator) may be used by
 * any number of threads concurrently.  Its lifetime (run_close) is managed
 * by the caller.  A run_writer is used by one thread.
 */
#ifndef OMEN_RUN_H
#define OMEN_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "omendb.h"
#include "storage/cache.h"

/* Entry types. */
enum { RUN_TYPE_DELETE = 0, RUN_TYPE_PUT = 1 };

/* Largest sequence number (56 bits). */
#define RUN_MAX_SEQ ((UINT64_C(1) << 56) - 1)

typedef struct run_opts {
    int compression;        /* OMEN_COMPRESS_*                                  */
    int bloom_bits_per_key; /* 0 disables the filter (answers "maybe" always)    */
    unsigned epsilon;       /* learned-model error bound; 0 = the writer picks (run_write.c) */
    size_t block_size;      /* target value-block size; 0 = 4096                 */
} run_opts;

/* What a finished run holds.  smallest/largest are the smallest and largest
 * USER keys, malloc'ed (util_malloc; NULL when the run is empty); release
 * with run_meta_clear. */
typedef struct run_meta {
    uint64_t entries, file_size, min_seq, max_seq, index_bytes, filter_bytes;
    void *smallest;
    size_t smallest_len;
    void *largest;
    size_t largest_len;
    /* From a writer told the entry count (run_writer_expect), or NULL: the
     * run's slots (at hot), records (at hot + hot_recs) and filter (at hot +
     * hot_bloom) in a util_map_huge region hot_len long, for run_open_fresh
     * to take instead of copying them from the file. */
    uint8_t *hot;
    size_t hot_len;
    uint64_t hot_recs, hot_bloom;
} run_meta;

/* Free the keys and any hot region and zero *m.  NULL is allowed. */
void run_meta_clear(run_meta *m);

/* ---- Writing --------------------------------------------------------- */

typedef struct run_writer run_writer;

/* Create `path` (truncating any old file) and start a run.  o may be NULL
 * (no compression, 10 bits/key, default epsilon, 4 KiB blocks).
 * [lcp_lo, lcp_hi] bound every user key that will be added (e.g. the first
 * and last key of a memtable, or of the merged inputs); their common prefix
 * becomes the run's key prefix and slots are the 8 bytes after it.  The
 * bounds may be loose (any lo <= every key <= hi works; tighter bounds give
 * a longer prefix).  Temporary spill files "<path>.tmpN" may be created
 * next to path for very large runs and are removed by finish/abort.
 * OMEN_INVALID on bad options or lo > hi. */
int run_writer_open(const char *path, const run_opts *o, const void *lcp_lo, size_t lo_len,
                    const void *lcp_hi, size_t hi_len, run_writer **out);

/* Record the run's file number in its footer (its low 32 bits; without
 * this call 0, "none"), so that a run file copied over another one is told
 * apart by the manifest check even when the contents look alike. */
void run_writer_set_number(run_writer *w, uint64_t file_number);

/* Optional, before the first add: how many entries, and how many key
 * bytes, are about to come (an upper bound serves).  The writer then sizes
 * its in-memory sections once (each up to its spill limit) instead of
 * doubling them, and so copying them, as they grow.  Only address space is
 * reserved: pages are touched as entries arrive. */
void run_writer_expect(run_writer *w, uint64_t entries, uint64_t key_bytes);

/* Append one entry.  Entries must come in internal-key order (user key
 * ascending, then seq strictly descending for an equal user key), with
 * lcp_lo <= key <= lcp_hi, seq <= RUN_MAX_SEQ, type PUT or DELETE,
 * klen <= OMEN_MAX_KEY_LEN and vlen <= OMEN_MAX_VALUE_LEN; OMEN_INVALID
 * (the writer stays usable) otherwise.  val may be NULL iff vlen == 0.
 * An I/O failure (OMEN_IO) is sticky: later calls return it, and the
 * writer can then only be aborted. */
int run_writer_add(run_writer *w, const void *key, size_t klen, uint64_t seq, int type, const void *val,
                   size_t vlen);

/* Write the remaining sections and the footer, fsync the file (fio_sync)
 * and close it.  Frees w whatever the result; on failure the partial file
 * is deleted.  out may be NULL; on OMEN_OK it receives the run's meta. */
int run_writer_finish(run_writer *w, run_meta *out);

/* Close and delete the partial file and any temporary; frees w. NULL ok. */
void run_writer_abort(run_writer *w);

/* ---- Reading ---------------------------------------------------------- */

typedef struct run run;

/* Open and verify a run file (see Integrity above).  file_number keys the
 * block cache (must be unique per file in the cache); cache may be NULL
 * (compressed blocks are then decompressed per read).  Errors:
 * OMEN_NOTFOUND (no file), OMEN_CORRUPT (bad magic, checksum or structure,
 * truncated), OMEN_VERSION (newer format), OMEN_IO, OMEN_NOMEM. */
int run_open(const char *path, uint64_t file_number, block_cache *cache, run **out);
/* run_open for the run that run_writer_finish just wrote, with the meta it
 * returned: the run takes over fresh->hot (which is NULL afterwards,
 * whatever the result) as its in-memory sections, still checked against
 * the file's checksums, instead of copying them from the file.  fresh may
 * be NULL or carry no region; then this is run_open. */
int run_open_fresh(const char *path, uint64_t file_number, block_cache *cache, run_meta *fresh,
                   run **out);
/* Unmap and free.  Every iterator of the run must be freed first.  NULL ok. */
void run_close(run *r);

uint64_t run_entries(const run *r);
uint64_t run_file_size(const run *r);
uint64_t run_index_bytes(const run *r);  /* serialized learned model */
uint64_t run_filter_bytes(const run *r); /* bloom filter image */
unsigned run_index_epsilon(const run *r); /* the model's error bound (chosen by the writer if 0 was asked) */
uint64_t run_min_seq(const run *r);      /* 0 for an empty run */
uint64_t run_max_seq(const run *r);
uint64_t run_file_number(const run *r);
/* The masked footer checksum stored in the file (identifies its content). */
uint32_t run_footer_crc(const run *r);
/* The file number the writer recorded in the file (low 32 bits), 0 if none
 * (version-1 files, or written without one). */
uint32_t run_stored_number(const run *r);
/* Smallest / largest user key, borrowed from the map (valid until
 * run_close); NULL with *len 0 for an empty run. */
const void *run_smallest(const run *r, size_t *len);
const void *run_largest(const run *r, size_t *len);

/* Newest version of key with seq <= snap.  OMEN_OK with *seq, *type and,
 * for a PUT, a malloc'ed copy of the value in *val (non-NULL even when
 * empty; the caller releases it with omen_free) and *vlen; for a DELETE
 * *val = NULL, *vlen = 0.  OMEN_NOTFOUND (with *val = NULL) if the run holds
 * no version of key with seq <= snap.  OMEN_CORRUPT if the value's block
 * fails its checksum; OMEN_NOMEM.  val/vlen may be NULL to skip the copy
 * (then only *seq and *type are produced). */
int run_get(run *r, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type, void **val,
            size_t *vlen);

/* Where a point read puts a PUT's value: a malloc'ed copy in *val (val
 * non-NULL; release it with omen_free), with val NULL and visit non-NULL a
 * call visit(arg, value, length) with the value in place (in the mapped run
 * or the memtable, valid only during the call: no copy), or else min(cap,
 * length) bytes into buf (which may be NULL when cap is 0).  Shared by the
 * run and memtable paths of a get, so both treat a destination alike. */
typedef struct run_vdst {
    void **val;
    void *buf;
    size_t cap;
    int (*visit)(void *arg, const void *v, size_t len); /* returns OMEN_OK or an error */
    void *arg;
    /* Non-NULL: a value read in place from an uncompressed run also sets
     * *loc to its place there (run_value_at), or to 0 if that cannot be
     * expressed; other sources leave *loc alone. */
    uint64_t *loc;
} run_vdst;
/* The len bytes at loc (from a run_vdst) if loc names a place in this run
 * (same file number, uncompressed, within its value blocks), else NULL.  A
 * second read of a value without a lookup: the bytes stay valid until
 * run_close, and were checksummed when loc was taken. */
const void *run_value_at(const run *r, uint64_t loc, size_t len);
/* Put the len bytes at src where d says and set *vlen (if non-NULL) to len.
 * OMEN_NOMEM (or the visitor's error) is the only failure. */
int run_vdst_put(const run_vdst *d, const void *src, size_t len, size_t *vlen);
/* run_get with the value going to d (NULL: seq and type only). */
int run_get_to(run *r, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type,
               const run_vdst *d, size_t *vlen);

/* As run_get, but a PUT's value goes into the caller's buf: min(cap, its
 * length) bytes are copied and *vlen receives the full length (so
 * *vlen > cap means the copy was cut short).  buf may be NULL if cap is 0.
 * No allocation: the point-read path of omen_get_into. */
int run_get_into(run *r, const void *key, size_t klen, uint64_t snap, uint64_t *seq, int *type,
                 void *buf, size_t cap, size_t *vlen);

/* Newest seq of key (any seq), for transaction validation.  OMEN_NOTFOUND
 * if the run has no version of key. */
int run_latest_seq(run *r, const void *key, size_t klen, uint64_t *seq);

/* ---- Iteration over ALL internal entries (every version) -------------- */

typedef struct run_iter run_iter;

/* New iterator, initially not valid.  Used by one thread at a time; must
 * be freed before run_close. */
int run_iter_new(run *r, run_iter **out);
void run_iter_seek_first(run_iter *it);
void run_iter_seek_last(run_iter *it);
/* First entry whose user key >= key (its newest version). */
void run_iter_seek(run_iter *it, const void *key, size_t klen);
void run_iter_next(run_iter *it);
void run_iter_prev(run_iter *it);
int run_iter_valid(const run_iter *it);
/* Only when valid.  Key borrowed until run_close (it points into the map). */
const void *run_iter_key(const run_iter *it, size_t *klen);
uint64_t run_iter_seq(const run_iter *it);
int run_iter_type(const run_iter *it);
/* All of the above in one call (the merging iterator's per-entry step):
 * 0 when not valid, else 1 with the key (as run_iter_key), seq and type. */
int run_iter_entry(const run_iter *it, const void **key, size_t *klen, uint64_t *seq, int *type);
/* Value of the current entry (empty for a DELETE): borrowed until the next
 * move or free of the iterator.  May fail with OMEN_CORRUPT (bad block
 * checksum), OMEN_NOMEM; the failure is also recorded in run_iter_status. */
int run_iter_value(run_iter *it, const void **val, size_t *vlen);
/* OMEN_OK, or the first error a value read hit. */
int run_iter_status(const run_iter *it);
void run_iter_free(run_iter *it);

/* ---- Verification ---------------------------------------------------- */

/* Open path and check everything: all checksums (every value block too),
 * record bounds, key order, the common prefix, and that the model returns
 * every key's exact position.  Each finding is passed to report (may be
 * NULL) as one line; OMEN_OK if all is well, else the first error
 * (OMEN_CORRUPT, OMEN_VERSION, OMEN_IO, OMEN_NOTFOUND...). */
int run_verify(const char *path, void (*report)(void *ctx, const char *line), void *ctx);

/* Test hook for fuzzing only, in the testing build (OMEN_TESTING; default
 * 0): when non-zero, checksum mismatches are ignored so that mutated files
 * reach the structural checks behind them, which must still keep every read
 * inside the file.  Never set it in the engine; not thread-safe to change
 * while runs are in use.  In the shipped library it is the constant 0. */
#ifdef OMEN_TESTING
extern int run_test_skip_checksums;
#else
#define run_test_skip_checksums 0
#endif

/* ---- Batched point lookup -------------------------------------------- */

/* One key of run_get_batch: key/klen and where a PUT's value goes (d, as
 * for run_get_to; *vlen receives its length) are read; rc, seq and type are
 * written: rc OMEN_NOTFOUND (no version <= snap in this run; d untouched),
 * OMEN_OK (seq and type set; a PUT's value delivered to d, a DELETE hands
 * out none), or the error of that key's value read. */
typedef struct run_getq {
    const void *key;
    size_t klen;
    run_vdst d;
    size_t *vlen;
    int rc;
    int type;
    uint64_t seq;
} run_getq;

/* run_get_to for q[0..n) at once, with the memory misses of many keys
 * overlapped (bloom lines, the learned model's batch search over the slots,
 * records, values).  Keys in ascending order make the accesses monotone but
 * any order is correct.  Returns OMEN_OK, or the first value-read error
 * (OMEN_CORRUPT, OMEN_NOMEM: later queries are then left unresolved with
 * rc OMEN_NOTFOUND); OMEN_INVALID for a NULL run/query array, a NULL key
 * with a length or a NULL vlen. */
int run_get_batch(run *r, uint64_t snap, run_getq *q, size_t n);

#endif
