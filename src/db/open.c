/*
 * open.c -- open and recovery, close, destroy.
 *
 * Recovery invariant: MANIFEST lists every live run and the lowest WAL
 * number still needed (log_number).  Open replays every WAL >= log_number
 * in file-number order as the WAL recovery mode says, writes what it
 * replayed to a level-0 run, sets aside the logs the mode left records in,
 * starts a fresh WAL, records both in a new MANIFEST and only then deletes
 * the replayed WALs and any file the manifest does not reference.  A crash
 * at any point leaves either the old or the new manifest, and every file
 * either references is still there.
 *
 * Closed handles are not freed: their (small) struct stays on a global list
 * with every resource released, so a call on a closed handle returns
 * OMEN_CLOSED instead of touching freed memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/batch.h"
#include "db/bg.h"
#include "db/version.h"
#include "db/write.h"
#include "util/err.h"
#include "util/mem.h"

static pthread_mutex_t zombie_mu = PTHREAD_MUTEX_INITIALIZER;
static omen_db *zombies;

/* ---- WAL replay ---------------------------------------------------------------- */

typedef struct replay_ctx {
    omen_db *db;
    mt *mem;
    uint64_t max_seq;
} replay_ctx;

static int replay_apply(void *ctx, uint64_t seq, int type, const void *key, size_t klen,
                        const void *val, size_t vlen)
{
    replay_ctx *r = ctx;
    if (mt_reserve(r->mem, mt_entry_cost(klen, vlen), 1)) return OMEN_NOMEM;
    int rc = mt_add(r->mem, seq, type, key, klen, val, vlen);
    if (rc) return rc;
    if (seq > r->max_seq) r->max_seq = seq;
    return OMEN_OK;
}

/* An intact log record whose batch does not decode, or whose sequence does
 * not follow the ones before it, is damage (WAL_REC_BAD): the recovery mode
 * decides, as for a checksum mismatch. */
static int replay_record(void *ctx, const void *rec, size_t len, uint64_t off)
{
    (void)off;
    replay_ctx *r = ctx;
    uint64_t seq;
    uint32_t count;
    int rc = batch_decode(rec, len, &seq, &count, NULL, NULL);
    if (rc == OMEN_NOMEM) return rc;
    if (rc || seq <= r->max_seq) return WAL_REC_BAD;
    /* Structure checked above: applying can only run out of memory. */
    return batch_decode(rec, len, NULL, NULL, replay_apply, r);
}

static int count_record(void *ctx, const void *rec, size_t len, uint64_t off)
{
    (void)rec, (void)len, (void)off;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The logs to replay, in order, and what the recovery mode left behind. */
typedef struct wal_recovery {
    int mode;
    int stopped;        /* POINT_IN_TIME met damage: later records are not applied */
    uint64_t *aside;    /* logs holding data that was not recovered */
    size_t naside;
    uint64_t records, bytes;
    /* An earlier log ended in a torn write.  The engine syncs a log before
     * any later one (db_sync_imm_wal), and records appended after that say
     * so: a later log that holds one proves the tear lost synced writes.
     * Later records without that mark were appended before the torn log was
     * synced, so none was acknowledged as durable: the crash tore them off
     * with it (dropped, as a torn tail is, under TORN_TAIL). */
    int torn;
    uint64_t torn_num, torn_off, torn_bytes;
    int dropping; /* TORN_TAIL past such a tear: later logs are its tail */
} wal_recovery;

static int torn_lost_synced(const wal_recovery *wr, const char *fn, uint64_t n)
{
    return util_seterr(OMEN_CORRUPT,
                       "WAL %06llu.wal ends in a torn write at offset %llu, but the later log %s holds "
                       "%llu record(s) written after that log was synced: the tear lost acknowledged "
                       "writes; not opened, nothing was changed: open with a WAL recovery mode (point "
                       "in time, or skip corrupted records) to recover around it",
                       (unsigned long long)wr->torn_num, (unsigned long long)wr->torn_off,
                       strrchr(fn, '/') ? strrchr(fn, '/') + 1 : fn, (unsigned long long)n);
}

/* Replay one log into rctx under the recovery mode; fn is its path. */
static int recover_wal(omen_db *db, wal_recovery *wr, replay_ctx *rctx, uint64_t num,
                       const char *fn)
{
    wal_replay_info info;
    int rc;
    if (wr->torn || wr->stopped) {
        /* A log after a tear, or past the stop point: counted first (one
         * pass serves both cases below). */
        uint64_t n = 0;
        rc = wal_replay_ex(fn, 1, count_record, &n, &info);
        if (rc) return rc;
        if (!wr->stopped && n > 0) {
            if (wr->mode == OMEN_WAL_RECOVER_TORN_TAIL) {
                wr->stopped = wr->dropping = 1;
            } else {
                wr->aside[wr->naside++] = wr->torn_num;
                wr->records++; /* the torn region counts as one */
                wr->bytes += wr->torn_bytes;
                /* Point in time: the tear is the stop; skip: later logs still apply. */
                if (wr->mode == OMEN_WAL_RECOVER_POINT_IN_TIME) wr->stopped = 1;
            }
            wr->torn = 0;
        }
        if (wr->dropping) {
            /* A mark here means every log before this one was durable,
             * the torn one too (logs are synced in order). */
            if (info.after_durable > 0) return torn_lost_synced(wr, fn, info.after_durable);
            return OMEN_OK;
        }
        if (wr->stopped) {
            /* Everything in a log after the stop point is left behind. */
            wr->records += n + info.regions;
            wr->bytes += info.file_size;
            wr->aside[wr->naside++] = num;
            return OMEN_OK;
        }
    }
    rc = wal_replay_ex(fn, wr->mode == OMEN_WAL_RECOVER_SKIP, replay_record, rctx, &info);
    if (rc) return rc;
    if (!info.corrupt) {
        if (info.tail_state == WAL_TAIL_TORN && wr->mode == OMEN_WAL_RECOVER_ABSOLUTE)
            return util_seterr(OMEN_CORRUPT,
                               "WAL %s ends in a torn (incomplete) write at offset %llu, which the "
                               "absolute-consistency recovery mode does not accept",
                               fn, (unsigned long long)info.damage_off);
        if (info.tail_state == WAL_TAIL_TORN) {
            wr->torn = 1;
            wr->torn_num = num;
            wr->torn_off = info.damage_off;
            wr->torn_bytes = info.file_size - info.damage_off;
        }
        return OMEN_OK; /* clean, or a torn tail: no acknowledged write is in it (unless a
                         * later log holds records: see above) */
    }
    if (wr->mode == OMEN_WAL_RECOVER_TORN_TAIL || wr->mode == OMEN_WAL_RECOVER_ABSOLUTE)
        return util_seterr(OMEN_CORRUPT,
                           "WAL %s is corrupt at offset %llu (%s, %llu intact record(s) after it); "
                           "not opened, nothing was changed: open with a WAL recovery mode "
                           "(point in time, or skip corrupted records) to recover around it",
                           fn, (unsigned long long)info.damage_off,
                           info.header_bad ? "damaged file header" : "damaged record",
                           (unsigned long long)info.records_after);
    (void)db;
    wr->aside[wr->naside++] = num;
    if (wr->mode == OMEN_WAL_RECOVER_POINT_IN_TIME) {
        wr->stopped = 1;
        wr->records += info.records_after + 1; /* the damaged region counts as one */
        wr->bytes += info.bytes_after;
    } else {
        wr->records += info.regions;
        wr->bytes += info.bytes_skipped;
    }
    return OMEN_OK;
}

/* Copy one log to NNNNNN.wal.damaged, durably (fio_write_file_atomic
 * syncs the copy and the directory). */
static int copy_aside(const char *dir, const char *from)
{
    const char *base = strrchr(from, '/');
    base = base ? base + 1 : from;
    size_t n = strlen(base) + sizeof DB_DAMAGED_SUFFIX;
    char *to = util_malloc(n);
    if (!to) return util_seterr(OMEN_NOMEM, "out of memory");
    snprintf(to, n, "%s%s", base, DB_DAMAGED_SUFFIX);
    fio_file *f = NULL;
    int rc = fio_open(from, FIO_READ, &f);
    uint64_t size = 0;
    if (!rc) rc = fio_size(f, &size);
    const void *map = NULL;
    if (!rc && size > (uint64_t)SIZE_MAX) rc = util_seterr(OMEN_NOMEM, "%s too large to copy", from);
    if (!rc && size) rc = fio_mmap(f, size, &map);
    if (!rc) rc = fio_write_file_atomic(dir, to, map, (size_t)size);
    if (map) fio_munmap(map, size);
    if (f) fio_close(f);
    omen_free(to);
    return rc;
}

/* Copy every log the recovery left data behind in to NNNNNN.wal.damaged
 * (durable) before the manifest that stops naming those logs is written.
 * A copy, not a rename: until that manifest is durable the old one still
 * needs the log itself, whose intact records are in the level-0 run only
 * that new manifest names (a crash in between must replay the log again).
 * Once the manifest is written, orphan cleanup deletes the original. */
static int set_aside(omen_db *db, const wal_recovery *wr)
{
    for (size_t i = 0; i < wr->naside; i++) {
        char *from = NULL;
        int rc = db_filename(db->path, wr->aside[i], "wal", &from);
        if (rc) return rc;
        rc = copy_aside(db->path, from);
        omen_free(from);
        if (rc) return rc;
    }
    return OMEN_OK;
}

static int delete_orphans_cb(void *ctx, const char *name)
{
    omen_db *db = ctx;
    uint64_t num;
    int kind = db_parse_name(name, &num);
    int del = 0;
    if (kind == 'w') {
        del = num < db->wal_number;
    } else if (kind == 'd') {
        del = 0; /* kept aside by a WAL recovery mode: the user's to remove */
    } else if (kind == 'r') {
        del = 1;
        db_sv *sv = db->sv;
        for (size_t i = 0; i < sv->nruns; i++)
            if (sv->runs[i]->meta.file_number == num) del = 0;
    } else if (strcmp(name, MANIFEST_FILE ".tmp") == 0 || strstr(name, ".run.tmp") ||
               strstr(name, DB_DAMAGED_SUFFIX ".tmp")) {
        del = 1;
    }
    if (del) {
        char *p = db_path_join(db->path, name);
        if (p) {
            fio_unlink(p);
            omen_free(p);
        }
    }
    return 0;
}

static int db_open_impl(omen_db *db)
{
    const omen_options *o = &db->opts;
    db_dir_scan scan;
    memset(&scan, 0, sizeof scan);
    manifest m;
    memset(&m, 0, sizeof m);
    int rc;
    db_run **runs = NULL;
    size_t nruns = 0;
    mt *mem = NULL;
    wal_recovery wr;
    memset(&wr, 0, sizeof wr);

    if (!fio_exists(db->path)) {
        if (!o->create_if_missing || o->read_only)
            return util_seterr(OMEN_NOTFOUND, "database %s does not exist", db->path);
        rc = fio_mkdir(db->path);
        if (rc) return rc;
    }
    rc = fio_list_dir(db->path, db_scan_cb, &scan);
    if (rc) {
        omen_free(scan.wals);
        if (rc == OMEN_NOMEM) return rc;
        return util_seterr(OMEN_NOTDB, "%s is not a database directory (cannot list it)",
                           db->path);
    }
    if (!scan.has_manifest && scan.foreign) {
        omen_free(scan.wals);
        return util_seterr(OMEN_NOTDB,
                           "%s holds files that are not OmenDB's (e.g. '%s') and no MANIFEST",
                           db->path, scan.foreign_name);
    }
    if (scan.has_manifest && o->error_if_exists) {
        omen_free(scan.wals);
        return util_seterr(OMEN_EXISTS, "database %s already exists", db->path);
    }
    if (!scan.has_manifest && (!o->create_if_missing || o->read_only)) {
        omen_free(scan.wals);
        return util_seterr(OMEN_NOTFOUND, "no database in %s", db->path);
    }
    char *lockp = db_path_join(db->path, "LOCK");
    if (!lockp) {
        omen_free(scan.wals);
        return util_seterr(OMEN_NOMEM, "out of memory");
    }
    if (!o->read_only) {
        rc = fio_lock(lockp, &db->lock);
        if (rc == OMEN_LOCKED)
            rc = util_seterr(OMEN_LOCKED,
                             "database %s is already open (its LOCK is held by another process "
                             "or handle)",
                             db->path);
    } else {
        /* Shared with other read-only opens; LOCK is opened read-only, so
         * this works on a read-only file system.  No LOCK file (a database
         * never opened for writing): nothing to share, and creating one
         * would be a write. */
        rc = fio_lock_shared(lockp, &db->lock);
        if (rc == OMEN_NOTFOUND) rc = OMEN_OK;
        if (rc == OMEN_LOCKED)
            rc = util_seterr(OMEN_LOCKED,
                             "database %s is open for writing by another process or handle; a "
                             "read-only open needs it closed",
                             db->path);
    }
    omen_free(lockp);
    if (rc) goto fail;

    if (scan.has_manifest) {
        rc = manifest_read(db->path, &m);
        if (rc == OMEN_NOTFOUND) rc = util_seterr(OMEN_CORRUPT, "MANIFEST of %s vanished", db->path);
        if (rc) goto fail;
    }
    rc = cache_new(o->cache_size, &db->cache);
    if (rc) goto fail;

    runs = util_calloc(m.nruns + 1, sizeof *runs); /* + the replayed memtable */
    if (!runs) {
        rc = util_seterr(OMEN_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < m.nruns; i++) {
        if (m.runs[i].level >= OMEN_MAX_LEVELS) {
            rc = util_seterr(OMEN_CORRUPT, "MANIFEST lists run %llu at level %u",
                             (unsigned long long)m.runs[i].file_number, m.runs[i].level);
            goto fail;
        }
        rc = db_run_open(db, &m.runs[i], NULL, &runs[nruns]);
        if (rc) goto fail;
        nruns++;
    }
    db->next_file = m.next_file_number;
    if (db->next_file <= scan.max_number) db->next_file = scan.max_number + 1;
    if (db->next_file < 1) db->next_file = 1;
    db->manifest_last_seq = m.last_sequence;
    uint64_t last = m.last_sequence;
    for (size_t i = 0; i < nruns; i++)
        if (runs[i]->meta.max_seq > last) last = runs[i]->meta.max_seq;

    /* The memtable and the immutable one being flushed, what the engine
     * maps anyway under a write load, plus a block of slack each. */
    rc = mt_pool_new(2 * (db->opts.write_buffer_size + db_mem_block_size(db)), &db->mt_pool);
    if (rc) goto fail;
    /* Replay the logs the manifest does not cover. */
    rc = mt_new_pooled(db_mem_block_size(db), db->mt_pool, &mem);
    if (rc) goto fail;
    if (scan.nwals) qsort(scan.wals, scan.nwals, sizeof(uint64_t), db_u64_cmp);
    replay_ctx rctx = {db, mem, last};
    wr.mode = o->wal_recovery;
    wr.aside = util_calloc(scan.nwals + 1, sizeof *wr.aside);
    if (!wr.aside) {
        rc = util_seterr(OMEN_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < scan.nwals; i++) {
        if (scan.wals[i] < m.log_number) continue;
        char *fn = NULL;
        rc = db_filename(db->path, scan.wals[i], "wal", &fn);
        if (rc) goto fail;
        rc = recover_wal(db, &wr, &rctx, scan.wals[i], fn);
        omen_free(fn);
        if (rc) goto fail;
    }
    db->wal_records_skipped = wr.records;
    db->wal_bytes_skipped = wr.bytes;
    last = rctx.max_seq;
    atomic_store(&db->last_seq, last);

    if (o->read_only) {
        db->mem = mem;
        mem = NULL;
        db->sv = db_sv_new(db->mem, NULL, runs, nruns);
        if (db->sv) db->sv->db = db;
        if (!db->sv) {
            rc = util_seterr(OMEN_NOMEM, "out of memory");
            goto fail;
        }
        atomic_store(&db->read_only, 1);
        goto done;
    }

    /* Persist what was replayed as a level-0 run. */
    if (mt_entries(mem) > 0) {
        db_run *nr = NULL;
        uint64_t fnum = db->next_file++;
        rc = db_flush_memtable(db, mem, fnum, &nr);
        if (rc) goto fail;
        if (nr) runs[nruns++] = nr;
    }
    mt_unref(mem);
    mem = NULL;
    rc = set_aside(db, &wr);
    if (rc) goto fail;
    rc = mt_new_pooled(db_mem_block_size(db), db->mt_pool, &db->mem);
    if (rc) goto fail;
    db->wal_number = db->next_file++;
    {
        char *fn = NULL;
        rc = db_filename(db->path, db->wal_number, "wal", &fn);
        if (rc) goto fail;
        rc = wal_writer_open(fn, &db->wal);
        omen_free(fn);
        if (rc) goto fail;
        /* The manifest below retires every earlier log before a record is
         * written here. */
        wal_mark_earlier_durable(db->wal);
    }
    rc = db_write_manifest(db, runs, nruns, db->wal_number);
    if (rc) goto fail;
    db->sv = db_sv_new(db->mem, NULL, runs, nruns);
    if (!db->sv) {
        rc = util_seterr(OMEN_NOMEM, "out of memory");
        goto fail;
    }
    db->sv->db = db;
    fio_list_dir(db->path, delete_orphans_cb, db);
    fio_sync_dir(db->path);
    rc = db_start_threads(db);
    if (rc) goto fail;

done:
    for (size_t i = 0; i < nruns; i++) db_run_unref(runs[i]); /* sv holds them */
    omen_free(runs);
    omen_free(scan.wals);
    omen_free(wr.aside);
    manifest_clear(&m);
    return OMEN_OK;

fail:
    if (mem) mt_unref(mem);
    for (size_t i = 0; i < nruns; i++) db_run_unref(runs[i]);
    omen_free(runs);
    omen_free(scan.wals);
    omen_free(wr.aside);
    manifest_clear(&m);
    return rc;
}

static void db_release_resources(omen_db *db)
{
    if (db->sv) {
        db_sv_put(db->sv);
        db->sv = NULL;
    }
    pthread_mutex_lock(&db->retire_mu);
    db_sv_reclaim(db); /* no readers remain: frees every retired version */
    pthread_mutex_unlock(&db->retire_mu);
    if (db->mem) mt_unref(db->mem);
    if (db->imm) mt_unref(db->imm);
    db->mem = db->imm = NULL;
    mt_pool_unref(db->mt_pool); /* memtables still pinned keep it alive */
    db->mt_pool = NULL;
    wal_writer_close(atomic_exchange(&db->imm_wal, NULL)); /* NULL is fine */
    if (db->wal) wal_writer_close(db->wal);
    db->wal = NULL;
    if (db->cache) cache_free(db->cache);
    db->cache = NULL;
    if (db->lock) fio_close(db->lock);
    db->lock = NULL;
    omen_free(db->iov);
    db->iov = NULL;
}

static void zombify(omen_db *db)
{
    omen_free(db->hp_mem);
    db->hp_mem = NULL;
    db->hp = NULL;
    omen_free(db->path);
    db->path = NULL;
    db->closed = 1;
    pthread_mutex_lock(&zombie_mu);
    db->zombie_next = zombies;
    zombies = db;
    pthread_mutex_unlock(&zombie_mu);
}

int omen_open(const char *path, const omen_options *opts, omen_db **out)
{
    if (!out) return util_seterr(OMEN_INVALID, "omen_open: NULL out");
    *out = NULL;
    if (!path || !*path) return util_seterr(OMEN_INVALID, "omen_open: empty path");
    omen_options o;
    if (opts)
        o = *opts;
    else
        omen_options_init(&o);
    if (o.compression < OMEN_COMPRESS_NONE || o.compression > OMEN_COMPRESS_SNAPPY)
        return util_seterr(OMEN_INVALID, "omen_open: unknown compression %d", o.compression);
    if (o.sync != OMEN_SYNC_RELAXED && o.sync != OMEN_SYNC_FULL)
        return util_seterr(OMEN_INVALID, "omen_open: sync option must be RELAXED or FULL");
    if (o.bloom_bits_per_key < 0 || o.bloom_bits_per_key > 64)
        return util_seterr(OMEN_INVALID, "omen_open: bloom_bits_per_key %d out of range",
                           o.bloom_bits_per_key);
    if (o.index_epsilon < 0 || o.index_epsilon > (1 << 20))
        return util_seterr(OMEN_INVALID, "omen_open: index_epsilon %d out of range",
                           o.index_epsilon);
    if (o.wal_recovery < OMEN_WAL_RECOVER_TORN_TAIL || o.wal_recovery > OMEN_WAL_RECOVER_SKIP)
        return util_seterr(OMEN_INVALID, "omen_open: unknown wal_recovery mode %d", o.wal_recovery);
    if (o.write_buffer_size == 0) o.write_buffer_size = 64u << 20;
    if (o.write_buffer_size < 4096) o.write_buffer_size = 4096;

    omen_db *db = util_calloc(1, sizeof *db);
    if (!db) return util_seterr(OMEN_NOMEM, "omen_open: out of memory");
    db->opts = o;
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/') pl--;
    db->path = util_malloc(pl + 1);
    if (!db->path) {
        omen_free(db);
        return util_seterr(OMEN_NOMEM, "omen_open: out of memory");
    }
    memcpy(db->path, path, pl);
    db->path[pl] = 0;
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->retire_mu, NULL);
    db->hp_mem = util_calloc(1, sizeof(db_hp_slot) * DB_HP_SLOTS + 64);
    if (!db->hp_mem) {
        pthread_mutex_destroy(&db->mu);
        pthread_mutex_destroy(&db->retire_mu);
        omen_free(db->path);
        omen_free(db);
        return util_seterr(OMEN_NOMEM, "omen_open: out of memory");
    }
    db->hp = (db_hp_slot *)(((uintptr_t)db->hp_mem + 63) & ~(uintptr_t)63);
    for (int i = 0; i < DB_HP_SLOTS; i++) {
        atomic_init(&db->hp[i].busy, 0);
        atomic_init(&db->hp[i].hp, NULL);
    }
    pthread_mutex_init(&db->manifest_mu, NULL);
    pthread_mutex_init(&db->imm_wal_mu, NULL);
    pthread_mutex_init(&db->fatal_mu, NULL);
    pthread_cond_init(&db->bg_cv, NULL);
    pthread_cond_init(&db->flush_cv, NULL);
    pthread_cond_init(&db->comp_cv, NULL);
    db->snaps.next = db->snaps.prev = &db->snaps;
    atomic_init(&db->last_seq, 0);
    atomic_init(&db->outstanding, 0);
    atomic_init(&db->read_only, 0);
    int rc = db_open_impl(db);
    if (rc) {
        db_stop_threads(db);
        db_release_resources(db);
        pthread_mutex_destroy(&db->mu);
        pthread_mutex_destroy(&db->retire_mu);
        pthread_mutex_destroy(&db->manifest_mu);
        pthread_mutex_destroy(&db->imm_wal_mu);
        pthread_mutex_destroy(&db->fatal_mu);
        pthread_cond_destroy(&db->bg_cv);
        pthread_cond_destroy(&db->flush_cv);
        pthread_cond_destroy(&db->comp_cv);
        omen_free(db->hp_mem);
        omen_free(db->path);
        omen_free(db);
        return rc;
    }
    *out = db;
    return OMEN_OK;
}

int omen_close(omen_db *db)
{
    if (!db) return OMEN_OK;
    if (db->closed) return util_seterr(OMEN_CLOSED, "omen_close: handle already closed");
    db_stop_threads(db);
    /* A log switched out and not yet synced is made durable, as a later
     * sync of its successor would: a reopen never finds a torn log
     * followed by records (what a crash inside that window leaves). */
    int rc = atomic_load(&db->read_only) ? OMEN_OK : db_sync_imm_wal(db);
    long busy = atomic_load(&db->outstanding);
    if (busy > 0) {
        if (rc == OMEN_OK)
            rc = util_seterr(OMEN_BUSY,
                             "omen_close: %ld iterator(s), snapshot(s) or transaction(s) were not "
                             "released; their memory is leaked",
                             busy);
        /* They pin runs that use the cache: keep the cache alive (and
         * reachable from the zombie handle). */
        db->kept_cache = db->cache;
        db->cache = NULL;
    }
    db_release_resources(db);
    zombify(db);
    return rc;
}

/* ---- destroy --------------------------------------------------------------------- */

static int destroy_cb(void *ctx, const char *name)
{
    const char *dir = ctx;
    uint64_t num;
    if (db_parse_name(name, &num) || strcmp(name, MANIFEST_FILE) == 0 ||
        strcmp(name, MANIFEST_FILE ".tmp") == 0 || strstr(name, ".run.tmp") ||
        strstr(name, DB_DAMAGED_SUFFIX ".tmp") ||
        (strncmp(name, "vset-", 5) == 0 && strstr(name, ".graph"))) { /* vector graph files */
        char *p = db_path_join(dir, name);
        if (!p) return OMEN_NOMEM;
        int rc = fio_unlink(p);
        omen_free(p);
        if (rc && rc != OMEN_NOTFOUND) return rc;
    }
    return 0;
}

int omen_destroy(const char *path)
{
    if (!path || !*path) return util_seterr(OMEN_INVALID, "omen_destroy: empty path");
    if (!fio_exists(path)) return OMEN_OK;
    db_dir_scan scan;
    memset(&scan, 0, sizeof scan);
    int rc = fio_list_dir(path, db_scan_cb, &scan);
    omen_free(scan.wals);
    if (rc) return util_seterr(OMEN_NOTDB, "omen_destroy: %s is not a database directory", path);
    if (!scan.has_manifest && scan.foreign)
        return util_seterr(OMEN_NOTDB, "omen_destroy: %s holds foreign files and no MANIFEST",
                           path);
    char *lockp = db_path_join(path, "LOCK");
    if (!lockp) return util_seterr(OMEN_NOMEM, "out of memory");
    fio_file *lock = NULL;
    rc = fio_lock(lockp, &lock);
    if (rc == OMEN_LOCKED) {
        omen_free(lockp);
        return util_seterr(OMEN_BUSY, "omen_destroy: database %s is open", path);
    }
    if (rc) {
        omen_free(lockp);
        return rc;
    }
    rc = fio_list_dir(path, destroy_cb, (void *)path);
    fio_unlink(lockp);
    fio_close(lock);
    omen_free(lockp);
    if (rc) return rc;
    fio_sync_dir(path);
    if (!scan.foreign) {
        /* The file layer has no rmdir; removing an empty directory is not
         * data I/O that fault injection needs to see. */
        if (rmdir(path) != 0 && errno != ENOTEMPTY && errno != EEXIST)
            return util_seterr_errno(OMEN_IO, errno, "omen_destroy: rmdir %s", path);
    }
    return OMEN_OK;
}

