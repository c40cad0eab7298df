/*
 * bg.c -- background work: the flush thread (immutable memtable -> level-0
 * run) and the compaction thread (leveled, one run per level below L0).
 *
 * Invariants:
 *  - Only these threads (and open, before they start) change the set of
 *    runs, always under manifest_mu: compute the new run list, write the
 *    MANIFEST, then install a new superversion under mu.  The MANIFEST on
 *    disk therefore always describes an installed or about-to-be-installed
 *    version, and a run file is unlinked only after a MANIFEST without it is
 *    durable and the last reader released it (db_run refcount).
 *  - Every entry in a flush or compaction input was published before the
 *    input became immutable, and the snapshot list is read after that, so
 *    keeping the newest version per key plus the newest version <= each
 *    live snapshot preserves every read any reader can still make.
 *  - Tombstones are dropped only when the output is the bottom-most
 *    non-empty level and the tombstone is at or below the oldest live
 *    snapshot (so no snapshot or transaction can tell the difference, and
 *    transaction validation still sees every change after its snapshot).
 */
#include <stdlib.h>
#include <string.h>

#include "db/bg.h"
#include "db/iter.h"
#include "db/version.h"
#include "db/write.h"
#include "util/err.h"
#include "util/mem.h"

static void opts_for_runs(const omen_db *db, run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->compression = db->opts.compression;
    o->bloom_bits_per_key = db->opts.bloom_bits_per_key;
    o->epsilon = (unsigned)db->opts.index_epsilon;
    o->block_size = 0;
}

/* Index of the first snapshot >= seq (nsnaps if none): entries in the same
 * "stripe" are seen by exactly the same snapshots. */
static size_t stripe_of(const uint64_t *snaps, size_t n, uint64_t seq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (snaps[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Stream m's entries into run file fnum at `level`, dropping what no
 * reader can see.  `expect` is at least the number of entries m holds.
 * *out is NULL when nothing survived. */
static int build_run(omen_db *db, miter *m, uint64_t expect, uint64_t fnum, unsigned level,
                     const uint64_t *snaps, size_t nsnaps, int bottom, const void *lo, size_t lolen,
                     const void *hi, size_t hilen, db_run **out)
{
    *out = NULL;
    char *path = NULL;
    int rc = db_filename(db->path, fnum, "run", &path);
    if (rc) return rc;
    run_opts o;
    opts_for_runs(db, &o);
    run_writer *w = NULL;
    rc = run_writer_open(path, &o, lo, lolen, hi, hilen, &w);
    if (rc) {
        omen_free(path);
        return rc;
    }
    run_writer_set_number(w, fnum);
    /* Keys as long as the longer bound: a guess, only used to size buffers. */
    run_writer_expect(w, expect, expect * (lolen > hilen ? lolen : hilen));
    const void *pkey = NULL;
    size_t pklen = 0, pstripe = 0;
    int have = 0;
    uint64_t added = 0;
    miter_seek_first(m);
    while (miter_valid(m)) {
        if (atomic_load_explicit(&db->shutting_down, memory_order_relaxed)) {
            rc = util_seterr(OMEN_CLOSED, "compaction interrupted by close");
            break;
        }
        citer *c = m->cur;
        if (!have || ukey_cmp(c->key, c->klen, pkey, pklen) != 0) {
            /* Keys of memtables and mmap'ed runs stay put: no copy needed. */
            pkey = c->key;
            pklen = c->klen;
            pstripe = SIZE_MAX;
            have = 1;
        }
        size_t st = stripe_of(snaps, nsnaps, c->seq);
        int drop = st == pstripe;
        pstripe = st;
        if (!drop && c->type == MT_TYPE_DELETE && bottom && st == 0) drop = 1;
        if (!drop) {
            const void *v = NULL;
            size_t vl = 0;
            if (c->type == MT_TYPE_PUT) {
                rc = c->ops->value(c, &v, &vl);
                if (rc) break;
            }
            rc = run_writer_add(w, c->key, c->klen, c->seq, c->type, v, vl);
            if (rc) break;
            added++;
        }
        miter_next(m);
    }
    if (!rc) rc = miter_status(m);
    if (rc || added == 0) {
        run_writer_abort(w);
        omen_free(path);
        return rc;
    }
    run_meta meta;
    memset(&meta, 0, sizeof meta);
    rc = run_writer_finish(w, &meta);
    omen_free(path);
    if (rc) return rc;
    manifest_run mr;
    memset(&mr, 0, sizeof mr);
    mr.level = level;
    mr.file_number = fnum;
    mr.file_size = meta.file_size;
    mr.entries = meta.entries;
    mr.min_seq = meta.min_seq;
    mr.max_seq = meta.max_seq;
    mr.smallest = meta.smallest;
    mr.smallest_len = meta.smallest_len;
    mr.largest = meta.largest;
    mr.largest_len = meta.largest_len;
    rc = db_run_open(db, &mr, &meta, out); /* takes meta.hot: no copy of it */
    run_meta_clear(&meta);
    return rc;
}

int db_flush_memtable(omen_db *db, mt *mem, uint64_t fnum, db_run **out)
{
    *out = NULL;
    mt_iter it;
    mt_iter_init(&it, mem);
    mt_iter_seek_first(&it);
    if (!mt_iter_valid(&it)) return OMEN_OK;
    const mt_node *first = it.node;
    mt_iter_seek_last(&it);
    const mt_node *last = it.node;

    citer **arr = util_calloc(1, sizeof *arr);
    if (!arr) return util_seterr(OMEN_NOMEM, "out of memory");
    arr[0] = citer_mem_new(mem);
    if (!arr[0]) {
        omen_free(arr);
        return util_seterr(OMEN_NOMEM, "out of memory");
    }
    miter m;
    miter_init(&m, arr, 1);
    uint64_t *snaps = NULL;
    size_t nsnaps = 0;
    pthread_mutex_lock(&db->mu);
    int rc = db_snapshot_list(db, &snaps, &nsnaps);
    pthread_mutex_unlock(&db->mu);
    if (!rc)
        rc = build_run(db, &m, mt_entries(mem), fnum, 0, snaps, nsnaps, 0, mt_node_key(first),
                       first->klen, mt_node_key(last), last->klen, out);
    omen_free(snaps);
    miter_free(&m);
    return rc;
}

/* Replace `remove` by `add` in the version (manifest_mu held, not mu).
 * With `moved`, that run only changes to level `level`, in the MANIFEST and
 * in the new version, without being rewritten (a trivial move).  A run's
 * level is written only with both mu and manifest_mu held and read only
 * under one of them (the picker and version building under mu, MANIFEST
 * writes under manifest_mu); readers of older versions go by their own
 * level_start, which stays as it was. */
static int install_version(omen_db *db, db_run **remove, size_t nremove, db_run *add,
                           int flushed_imm, db_run *moved, unsigned level)
{
    pthread_mutex_lock(&db->mu);
    db_sv *cur = db->sv;
    size_t cap = cur->nruns + 1;
    db_run **arr = util_calloc(cap, sizeof *arr);
    if (!arr) {
        pthread_mutex_unlock(&db->mu);
        return util_seterr(OMEN_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < cur->nruns; i++) {
        int gone = 0;
        for (size_t j = 0; j < nremove; j++)
            if (remove[j] == cur->runs[i]) gone = 1;
        if (!gone) arr[n++] = cur->runs[i];
    }
    if (add) arr[n++] = add;
    uint64_t log_number = flushed_imm ? db->wal_number : db->log_number;
    unsigned was = moved ? moved->meta.level : 0;
    if (moved) moved->meta.level = level;
    pthread_mutex_unlock(&db->mu);

    int rc = db_write_manifest(db, arr, n, log_number);
    if (rc) {
        pthread_mutex_lock(&db->mu);
        if (moved) moved->meta.level = was;
        pthread_mutex_unlock(&db->mu);
        omen_free(arr);
        return rc;
    }
    pthread_mutex_lock(&db->mu);
    if (flushed_imm && db->imm) {
        mt_unref(db->imm);
        db->imm = NULL;
    }
    db_sv *nsv = db_sv_new(db->mem, db->imm, arr, n);
    omen_free(arr);
    if (!nsv) {
        pthread_mutex_unlock(&db->mu);
        return util_seterr(OMEN_NOMEM, "out of memory installing a new version");
    }
    for (size_t j = 0; j < nremove; j++) remove[j]->obsolete = 1;
    db_sv *old = db_sv_install(db, nsv);
    pthread_mutex_unlock(&db->mu);
    db_sv_put(old);
    return OMEN_OK;
}

static void *flush_main(void *arg)
{
    omen_db *db = arg;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        while (!atomic_load(&db->shutting_down) && !(db->imm && !atomic_load(&db->read_only)))
            pthread_cond_wait(&db->flush_cv, &db->mu);
        if (atomic_load(&db->shutting_down)) break;
        mt *imm = db->imm;
        mt_ref(imm);
        uint64_t old_wal = db->imm_wal_number;
        uint64_t fnum = db->next_file++;
        pthread_mutex_unlock(&db->mu);

        /* Its log first: the switch left that fdatasync to this thread. */
        if (db_sync_imm_wal(db) != OMEN_OK) {
            mt_unref(imm);
            pthread_mutex_lock(&db->mu);
            pthread_cond_broadcast(&db->bg_cv); /* waiters see read-only */
            continue;                           /* and this thread waits for the close */
        }
        /* The new memtable fills while this one is written out: give it
         * faulted-in blocks of the size switch_memtable asks for. */
        mt_pool_prefill(db->mt_pool, db_mem_block_size(db));
        db_run *nr = NULL;
        int rc = db_flush_memtable(db, imm, fnum, &nr);
        mt_unref(imm);
        if (!rc) {
            pthread_mutex_lock(&db->manifest_mu);
            rc = install_version(db, NULL, 0, nr, 1, NULL, 0);
            pthread_mutex_unlock(&db->manifest_mu);
        }
        if (nr) db_run_unref(nr);
        if (rc == OMEN_CLOSED) {
            pthread_mutex_lock(&db->mu);
            break;
        }
        if (rc) {
            db_set_fatal(db, rc, "flushing the memtable");
        } else {
            char *fn = NULL;
            if (db_filename(db->path, old_wal, "wal", &fn) == OMEN_OK) {
                fio_unlink(fn);
                omen_free(fn);
            }
            atomic_fetch_add(&db->st_flushes, 1);
        }
        pthread_mutex_lock(&db->mu);
        pthread_cond_broadcast(&db->bg_cv);
        pthread_cond_signal(&db->comp_cv);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

static uint64_t level_target(const omen_db *db, int lv)
{
    uint64_t t = (uint64_t)db->opts.write_buffer_size * 4;
    for (int i = 1; i < lv; i++) t *= 10;
    return t;
}

static uint64_t level_bytes(const db_sv *sv, int lv)
{
    uint64_t b = 0;
    for (size_t i = sv->level_start[lv]; i < sv->level_start[lv + 1]; i++)
        b += sv->runs[i]->meta.file_size;
    return b;
}

static int deepest_level(const db_sv *sv)
{
    int d = 0;
    for (size_t i = 0; i < sv->nruns; i++)
        if ((int)sv->runs[i]->meta.level > d) d = (int)sv->runs[i]->meta.level;
    return d;
}

/* Choose a compaction (mu held).  Returns 1 with inputs referenced.
 * *move is set when the single input only changes level: a level over its
 * target whose next level is empty hands its run down as it is (LevelDB's
 * trivial move); rewriting it would cost a full pass over the data, on the
 * compaction thread's core and in the page cache, and change nothing. */
static int pick(omen_db *db, db_run ***inputs, size_t *n, unsigned *out_level, int *bottom,
                int *manual, int *move)
{
    *move = 0;
    db_sv *sv = db->sv;
    size_t from = 0, to = 0;
    int out = -1;
    *manual = 0;
    if (db->manual_done < db->manual_req) {
        if (sv->nruns == 0) return 0;
        *manual = 1;
        from = 0;
        to = sv->nruns;
        out = deepest_level(sv);
        if (out < 1) out = 1;
    } else if (sv->level_start[1] - sv->level_start[0] >= DB_L0_COMPACT) {
        /* Merge L0 straight into the first level that can hold it together
         * with every level above: writing L1 only to rewrite it into L2 at
         * once would double the write amplification. */
        uint64_t total = level_bytes(sv, 0);
        int deepest = deepest_level(sv);
        out = 1;
        for (int lv = 1; lv < OMEN_MAX_LEVELS; lv++) {
            total += level_bytes(sv, lv);
            out = lv;
            if (total <= level_target(db, lv) || lv > deepest) break;
        }
        from = sv->level_start[0];
        to = sv->level_start[out + 1];
    } else {
        for (int lv = 1; lv < OMEN_MAX_LEVELS - 1; lv++) {
            if (level_bytes(sv, lv) > level_target(db, lv)) {
                from = sv->level_start[lv];
                to = sv->level_start[lv + 2];
                out = lv + 1;
                *move = to - from == 1;
                break;
            }
        }
    }
    if (out < 0 || to == from) return 0;
    db_run **arr = util_calloc(to - from, sizeof *arr);
    if (!arr) return 0;
    for (size_t i = from; i < to; i++) {
        arr[i - from] = sv->runs[i];
        atomic_fetch_add(&sv->runs[i]->refs, 1);
    }
    *inputs = arr;
    *n = to - from;
    *out_level = (unsigned)out;
    *bottom = sv->level_start[out + 1] == sv->nruns;
    return 1;
}

static int do_compaction(omen_db *db, db_run **in, size_t n, unsigned level, int bottom,
                         uint64_t fnum, const uint64_t *snaps, size_t nsnaps, db_run **out)
{
    *out = NULL;
    citer **arr = util_calloc(n, sizeof *arr);
    if (!arr) return util_seterr(OMEN_NOMEM, "out of memory");
    const void *lo = NULL, *hi = NULL;
    size_t lolen = 0, hilen = 0;
    int have = 0;
    uint64_t entries = 0;
    for (size_t i = 0; i < n; i++) {
        arr[i] = citer_run_new(in[i]);
        if (!arr[i]) {
            miter m;
            miter_init(&m, arr, i);
            miter_free(&m);
            return util_seterr(OMEN_NOMEM, "out of memory");
        }
        const manifest_run *mr = &in[i]->meta;
        if (!mr->entries) continue;
        entries += mr->entries;
        if (!have || ukey_cmp(mr->smallest, mr->smallest_len, lo, lolen) < 0) {
            lo = mr->smallest;
            lolen = mr->smallest_len;
        }
        if (!have || ukey_cmp(mr->largest, mr->largest_len, hi, hilen) > 0) {
            hi = mr->largest;
            hilen = mr->largest_len;
        }
        have = 1;
    }
    miter m;
    miter_init(&m, arr, n);
    int rc = OMEN_OK;
    if (have) rc = build_run(db, &m, entries, fnum, level, snaps, nsnaps, bottom, lo, lolen, hi, hilen, out);
    miter_free(&m);
    return rc;
}

static void *comp_main(void *arg)
{
    omen_db *db = arg;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        if (atomic_load(&db->shutting_down)) break;
        db_run **in = NULL;
        size_t n = 0;
        unsigned level = 0;
        int bottom = 0, manual = 0, move = 0;
        if (atomic_load(&db->read_only) ||
            !pick(db, &in, &n, &level, &bottom, &manual, &move)) {
            if (db->manual_done < db->manual_req) {
                db->manual_done = db->manual_req;
                pthread_cond_broadcast(&db->bg_cv);
                continue;
            }
            pthread_cond_wait(&db->comp_cv, &db->mu);
            continue;
        }
        uint64_t req = db->manual_req;
        uint64_t fnum = db->next_file++;
        uint64_t *snaps = NULL;
        size_t nsnaps = 0;
        int rc = db_snapshot_list(db, &snaps, &nsnaps);
        pthread_mutex_unlock(&db->mu);

        db_run *outr = NULL;
        uint64_t written = 0;
        if (!rc && !move) rc = do_compaction(db, in, n, level, bottom, fnum, snaps, nsnaps, &outr);
        omen_free(snaps);
        if (!rc) {
            if (outr) written = outr->meta.file_size;
            pthread_mutex_lock(&db->manifest_mu);
            rc = move ? install_version(db, NULL, 0, NULL, 0, in[0], level)
                      : install_version(db, in, n, outr, 0, NULL, 0);
            pthread_mutex_unlock(&db->manifest_mu);
        }
        if (outr) db_run_unref(outr);
        for (size_t i = 0; i < n; i++) db_run_unref(in[i]);
        omen_free(in);
        if (rc == OMEN_CLOSED) {
            pthread_mutex_lock(&db->mu);
            break;
        }
        if (rc) {
            db_set_fatal(db, rc, "compaction");
        } else if (!move) {
            atomic_fetch_add(&db->st_compactions, 1);
            atomic_fetch_add(&db->st_comp_bytes, written);
        }
        pthread_mutex_lock(&db->mu);
        if (manual && db->manual_done < req) db->manual_done = req;
        pthread_cond_broadcast(&db->bg_cv);
    }
    /* Nobody may wait for a manual compaction that will never run. */
    db->manual_done = db->manual_req;
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

int db_start_threads(omen_db *db)
{
    if (pthread_create(&db->flush_thread, NULL, flush_main, db) != 0)
        return util_seterr(OMEN_NOMEM, "cannot start the flush thread");
    if (pthread_create(&db->comp_thread, NULL, comp_main, db) != 0) {
        pthread_mutex_lock(&db->mu);
        atomic_store(&db->shutting_down, 1);
        pthread_cond_broadcast(&db->flush_cv);
        pthread_mutex_unlock(&db->mu);
        pthread_join(db->flush_thread, NULL);
        return util_seterr(OMEN_NOMEM, "cannot start the compaction thread");
    }
    db->threads_started = 1;
    return OMEN_OK;
}

void db_stop_threads(omen_db *db)
{
    pthread_mutex_lock(&db->mu);
    atomic_store(&db->shutting_down, 1);
    pthread_cond_broadcast(&db->flush_cv);
    pthread_cond_broadcast(&db->comp_cv);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    if (db->threads_started) {
        pthread_join(db->flush_thread, NULL);
        pthread_join(db->comp_thread, NULL);
        db->threads_started = 0;
    }
}

int omen_compact_range(omen_db *db, const void *begin, size_t blen, const void *end, size_t elen)
{
    int rc = db_check_writable(db, "omen_compact_range");
    if (rc) return rc;
    if ((!begin && blen) || (!end && elen))
        return util_seterr(OMEN_INVALID, "omen_compact_range: NULL bound with non-zero length");
    rc = omen_flush(db);
    if (rc) return rc;
    pthread_mutex_lock(&db->mu);
    db_sv *sv = db->sv;
    int overlap = 0;
    for (size_t i = 0; i < sv->nruns && !overlap; i++) {
        const manifest_run *mr = &sv->runs[i]->meta;
        if (begin && ukey_cmp(mr->largest, mr->largest_len, begin, blen) < 0) continue;
        if (end && ukey_cmp(mr->smallest, mr->smallest_len, end, elen) > 0) continue;
        overlap = 1;
    }
    if (!overlap) {
        pthread_mutex_unlock(&db->mu);
        return OMEN_OK;
    }
    uint64_t my = ++db->manual_req;
    pthread_cond_signal(&db->comp_cv);
    while (db->manual_done < my && !atomic_load(&db->read_only) &&
           !atomic_load(&db->shutting_down))
        pthread_cond_wait(&db->bg_cv, &db->mu);
    rc = atomic_load(&db->read_only) ? db_check_writable(db, "omen_compact_range") : OMEN_OK;
    pthread_mutex_unlock(&db->mu);
    return rc;
}
