/*
 * keyspace.h -- the Redis data model encoded over the engine's ordered keys
 * (layout: docs/format.md, "omendb-server key encoding").
 *
 * Every Redis key has one metadata entry ("k" + key) holding its type,
 * expiry and, for strings, the value itself; a collection's elements are
 * sub-keys ("s" + generation + family + element) named by the generation
 * stored in its metadata.  Deleting or overwriting a collection writes the
 * metadata only and queues the old generation for background reclamation,
 * so it costs O(1) however large the collection was.
 *
 * Writes of a loop pass accumulate in one pending engine batch (plus an
 * in-memory overlay so reads of the same pass see them); ks_commit writes
 * the batch once.  Iterators read the engine directly, so ks_*_iter commits
 * the pending batch first.  Pointers returned into ks-owned memory (string
 * values, sub-key values) stay valid until the next ks_* call.
 */
#ifndef OMEN_SERVER_KEYSPACE_H
#define OMEN_SERVER_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "omendb.h"

struct client;

enum { OBJ_STRING = 0, OBJ_LIST = 1, OBJ_SET = 2, OBJ_ZSET = 3, OBJ_HASH = 4, OBJ_VSET = 5 };

/* Sub-key families (one byte after the generation). */
enum {
    KS_FAM_HASH = 'h',      /* field -> value                               */
    KS_FAM_SET = 's',       /* member -> ""                                 */
    KS_FAM_LIST = 'l',      /* ks_list_pos(index) -> element                */
    KS_FAM_ZMEMBER = 'm',   /* member -> 8-byte score (ks_score_encode)     */
    KS_FAM_ZSCORE = 'z',    /* ks_score_encode(score) + member -> ""        */
    KS_FAM_VSET = 'v',      /* vector sets: "" -> marker, id -> norm (t_vset.c) */
};

typedef struct ks_meta {
    int type;           /* OBJ_*                                            */
    int64_t expire_ms;  /* absolute unix ms; 0 = no expiry                  */
    uint64_t gen;       /* collections: generation naming the sub-keys      */
    uint64_t count;     /* collections: number of elements                  */
    int64_t head, tail; /* lists: position of the first element, one past the last */
    const char *sval;   /* strings: the value (ks-owned, see above)         */
    size_t slen;
} ks_meta;

/* Largest user key: the engine's limit less the metadata prefix. */
#define KS_MAX_KEY (OMEN_MAX_KEY_LEN - 1)
/* Largest element (hash field, member): engine limit less sub-key prefix. */
#define KS_MAX_ELEM (OMEN_MAX_KEY_LEN - 18)
/* Bytes a sub-key needs: prefix (1 + 8 + 1) + element. */
#define KS_SUBKEY_LEN(elen) (10 + (elen))

int ks_open(omen_db *db);
void ks_close(void);

/* ---- keys -------------------------------------------------------------- */

/* OMEN_OK and *m filled, OMEN_NOTFOUND (absent, or expired: an expired key
 * is deleted in the pending batch and reported absent), or an engine error. */
int ks_lookup(const void *key, size_t klen, ks_meta *m);
/* For command handlers: 1 found (of `type`, or any type if type < 0),
 * 0 absent, -1 an error was replied (WRONGTYPE or an engine error). */
int ks_lookup_reply(struct client *c, const void *key, size_t klen, int type, ks_meta *m);

/* Write the metadata of key.  old is what ks_lookup returned for it (NULL
 * if absent): the expiry index and the key count are maintained from the
 * difference, and if old is a collection of another generation, that
 * generation is queued for reclamation. */
int ks_put_meta(const void *key, size_t klen, const ks_meta *m, const ks_meta *old);
/* Store a string (replacing any value of any type); expire_ms 0 = none. */
int ks_set_string(const void *key, size_t klen, const void *val, size_t vlen, int64_t expire_ms,
                  const ks_meta *old);
/* Delete key (its metadata; a collection's generation is queued for
 * reclamation).  old as for ks_put_meta (must be non-NULL). */
int ks_delete(const void *key, size_t klen, const ks_meta *old);
/* Look up and delete: 1 deleted, 0 absent, < 0 engine error (negated code). */
int ks_delete_key(const void *key, size_t klen);
/* Move key src (metadata ms) to dst (dold: dst's metadata, NULL if
 * absent).  A collection keeps its generation: O(1) whatever its size. */
int ks_rename(const void *src, size_t slen, const ks_meta *ms, const void *dst, size_t dlen,
              const ks_meta *dold);
/* A fresh generation for a new collection. */
uint64_t ks_new_gen(void);
/* Number of keys (including expired keys not yet reclaimed). */
uint64_t ks_dbsize(void);
/* Delete every key (FLUSHDB). */
int ks_flushall(void);

/* ---- collection elements ------------------------------------------------ */

/* For collection commands: look key up as a collection of `type`.
 * 1: it exists, *m is its metadata and *old a copy to pass to
 *    ks_collection_save; 0: absent and create != 0: *m is a fresh empty
 *    collection (new generation, count 0) not yet written; 0 with create
 *    == 0: absent; -1: an error (WRONGTYPE, engine) was replied. */
int ks_collection_open(struct client *c, const void *key, size_t klen, int type, int create,
                       ks_meta *m, ks_meta *old);
/* After changing elements and m->count: write m, or delete the key when
 * the count reached 0 (Redis removes empty collections).  existed: what
 * ks_collection_open returned (1/0); old as it gave it. */
int ks_collection_save(const void *key, size_t klen, ks_meta *m, int existed, const ks_meta *old);

size_t ks_subkey(char *out, uint64_t gen, int fam, const void *elem, size_t elen);
/* OMEN_OK with *val and *vlen (ks-owned), OMEN_NOTFOUND, or an engine error. */
int ks_sub_get(uint64_t gen, int fam, const void *elem, size_t elen, const char **val,
               size_t *vlen);
int ks_sub_put(uint64_t gen, int fam, const void *elem, size_t elen, const void *val,
               size_t vlen);
int ks_sub_del(uint64_t gen, int fam, const void *elem, size_t elen);
/* Iterator over one family of a generation (pending writes committed
 * first).  Keys it yields are sub-keys: ks_sub_elem strips the prefix.
 * Seek with a key made by ks_subkey.  Destroy with omen_iter_destroy before
 * the next pass. */
int ks_sub_iter(uint64_t gen, int fam, omen_iter **out);
const char *ks_sub_elem(omen_iter *it, size_t *elen);
/* Iterator over the elements of one family in [lo, hi) (element bytes,
 * without the sub-key prefix): lo NULL = from the family's first element,
 * hi NULL = through its last.  A range read is one engine range scan. */
int ks_sub_iter_range(uint64_t gen, int fam, const void *lo, size_t lolen, const void *hi,
                      size_t hilen, omen_iter **out);

/* Order-preserving 8-byte encoding of a double (sorted-set scores):
 * memcmp order of the encodings equals numeric order (-inf < ... < +inf). */
void ks_score_encode(double d, unsigned char out[8]);
double ks_score_decode(const unsigned char in[8]);
/* Order-preserving 8-byte encoding of a signed list position. */
void ks_list_pos(int64_t pos, unsigned char out[8]);

/* ---- vector sets (t_vset.c) ------------------------------------------------ */

/* Commit the pass's pending writes now (mid-pass), so that the engine's
 * vector graphs, which follow committed writes only, see all of them. */
int ks_flush(void);
/* Vector writes recorded in the pass's batch (committed with it). */
int ks_vadd(omen_vset *vs, const void *id, size_t idlen, const float *vec, uint32_t dim,
            const char *attrs, size_t alen);
int ks_vdel(omen_vset *vs, const void *id, size_t idlen);
/* Sync mode for a write made directly to the engine mid-pass. */
int ks_direct_sync(void);
/* drop(gen) is called by the reclamation of a generation that holds a
 * vector-set marker (KS_FAM_VSET, empty element), before the marker is
 * deleted; nonzero = retry later.  sweep() is called after FLUSHALL. */
void ks_set_vset_hooks(int (*drop)(uint64_t gen), void (*sweep)(void));

/* ---- key iteration (KEYS, SCAN, RANDOMKEY) -------------------------------- */

/* Iterator over the metadata entries (pending writes committed first). */
int ks_key_iter(omen_iter **out);
/* The user key at the iterator, and its metadata decoded; returns 0 if the
 * entry is expired (the caller skips it), 1 otherwise. */
int ks_key_at(omen_iter *it, const char **key, size_t *klen, ks_meta *m);
/* Seek key iterator to the first user key >= key. */
void ks_key_seek(omen_iter *it, const void *key, size_t klen);

/* ---- passes and background work --------------------------------------- */

/* EXEC: from ks_txn_begin to ks_txn_end every read and write goes through
 * one engine transaction (its iterators see its own writes), and
 * ks_txn_end commits it as one log record, so the block is atomic in the
 * WAL even when a command in it scans.  ks_txn_end returns the commit's
 * result; the durability sync is left to the pass's ks_commit. */
int ks_txn_begin(void);
int ks_txn_end(void);

/* Commit the pending batch (sync: OMEN_SYNC_FULL / RELAXED).  OMEN_OK if
 * there was nothing to do.  On failure the batch is dropped: the caller
 * must not acknowledge any write of the pass. */
int ks_commit(int sync);
/* Number of operations in the pending batch. */
size_t ks_pending(void);
/* Sync mode of the commits that iterators force mid-pass. */
void ks_set_commit_sync(int sync);
/* Nonzero once a mid-pass commit failed; cleared by the next ks_commit. */
int ks_commit_failed(void);
/* Reclaim expired keys and old generations: at most `budget` engine
 * entries per call; returns the number of keys expired. */
long ks_background(long budget, int64_t now_ms);
/* fn is called with the user key whenever a key is modified or deleted,
 * and with key NULL just before every key goes (FLUSHALL): WATCH uses it. */
void ks_set_touch_hook(void (*fn)(const void *key, size_t klen));
/* "string", "list", ... as TYPE replies. */
const char *ks_type_name(int type);
/* Statistics for INFO. */
uint64_t ks_expires_count(void);
uint64_t ks_garbage_pending(void);
/* Bytes of the in-memory key filter (kfilter.h). */
size_t ks_filter_bytes(void);
/* A hint that key will be looked up soon: its filter line is loaded. */
void ks_prefetch_key(const void *key, size_t klen);

#endif
