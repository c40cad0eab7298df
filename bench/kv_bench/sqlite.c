/*
 * sqlite.c -- kv_bench's SQLite adapter (Debian libsqlite3): one table
 * kv(k PRIMARY KEY, v) in WAL mode, one connection and prepared
 * statements per thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "omendb.h"
#include "engine.h"

typedef struct {
    sqlite3 *main; /* owns the schema; closed last */
    char path[PATH_MAX];
    int sync;
} sq_db;

typedef struct {
    sq_db *d;
    sqlite3 *c; /* one connection per thread */
    sqlite3_stmt *put, *get, *seek, *first, *begin, *commit, *rollback, *cur;
    uint8_t kbuf[16];
    uint8_t *v1, *v2;
} sq_thr;

static int sq_fail(sqlite3 *c, const char *what)
{
    seterr("%s: %s", what, c ? sqlite3_errmsg(c) : "out of memory");
    return -1;
}

static int sq_exec(sqlite3 *c, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(c, sql, NULL, NULL, &msg) != SQLITE_OK) {
        seterr("sqlite3_exec(%s): %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int sq_open(const char *dir, int sync, int txn_mode, void **out)
{
    (void)txn_mode;
    sq_db *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->sync = sync;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        free(d);
        seterr("mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(d->path, sizeof d->path, "%s/kv.sqlite", dir);
    if (sqlite3_open(d->path, &d->main) != SQLITE_OK) {
        sq_fail(d->main, "sqlite3_open");
        sqlite3_close(d->main);
        free(d);
        return -1;
    }
    const char *schema = C.int_keys ? "CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v BLOB)"
                                    : "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) "
                                      "WITHOUT ROWID";
    if (sq_exec(d->main, "PRAGMA journal_mode=WAL") || sq_exec(d->main, schema)) {
        sqlite3_close(d->main);
        free(d);
        return -1;
    }
    *out = d;
    return 0;
}

static int sq_close(void *db)
{
    sq_db *d = db;
    int rc = sqlite3_close(d->main);
    free(d);
    if (rc != SQLITE_OK) {
        seterr("sqlite3_close: %s", sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

/* Moving the WAL into the database file is SQLite's "background work". */
static int sq_settle(void *db)
{
    sq_db *d = db;
    return sq_exec(d->main, "PRAGMA wal_checkpoint(TRUNCATE)");
}

static int sq_thr_new(void *db, void **out)
{
    sq_thr *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->d = db;
    *out = t;
    if (vbufs_new(&t->v1, &t->v2) != 0)
        return -1;
    if (sqlite3_open(t->d->path, &t->c) != SQLITE_OK)
        return sq_fail(t->c, "sqlite3_open");
    sqlite3_busy_timeout(t->c, 600000);
    char pragma[128];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s; PRAGMA cache_size=-%u",
             t->d->sync ? "FULL" : "NORMAL", CACHE_BYTES / 1024);
    if (sq_exec(t->c, pragma))
        return -1;
    const char *sql[] = {
        "INSERT OR REPLACE INTO kv(k, v) VALUES(?1, ?2)",
        "SELECT v FROM kv WHERE k = ?1",
        "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k",
        "SELECT k, v FROM kv ORDER BY k",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "ROLLBACK",
    };
    sqlite3_stmt **st[] = {&t->put, &t->get, &t->seek, &t->first, &t->begin, &t->commit, &t->rollback};
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
        if (sqlite3_prepare_v2(t->c, sql[i], -1, st[i], NULL) != SQLITE_OK)
            return sq_fail(t->c, sql[i]);
    return 0;
}

static void sq_thr_free(void *p)
{
    sq_thr *t = p;
    sqlite3_stmt *st[] = {t->put, t->get, t->seek, t->first, t->begin, t->commit, t->rollback};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        sqlite3_finalize(st[i]);
    sqlite3_close(t->c);
    free(t->v1);
    free(t->v2);
    free(t);
}

static void sq_bind_key(sqlite3_stmt *s, const uint8_t *k, size_t kl)
{
    if (C.int_keys)
        sqlite3_bind_int64(s, 1, (sqlite3_int64)key_decode_int(k));
    else
        sqlite3_bind_blob(s, 1, k, (int)kl, SQLITE_STATIC);
}

static int sq_step_done(sq_thr *t, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : sq_fail(t->c, what);
}

/* Autocommit: one transaction per write (db_bench_sqlite3, batch size 1). */
static int sq_put(void *p, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    sq_thr *t = p;
    sq_bind_key(t->put, k, kl);
    sqlite3_bind_blob(t->put, 2, v, (int)vl, SQLITE_STATIC);
    return sq_step_done(t, t->put, "sqlite insert");
}

static int sq_get(void *p, const uint8_t *k, size_t kl, uint8_t *buf, size_t cap, size_t *vl)
{
    sq_thr *t = p;
    sq_bind_key(t->get, k, kl);
    int rc = sqlite3_step(t->get), ret;
    if (rc == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(t->get, 0);
        size_t len = (size_t)sqlite3_column_bytes(t->get, 0);
        memcpy(buf, v, len < cap ? len : cap);
        *vl = len;
        ret = 1;
    } else {
        ret = rc == SQLITE_DONE ? 0 : sq_fail(t->c, "sqlite select");
    }
    sqlite3_reset(t->get);
    return ret;
}

static int sq_it_begin(void *p)
{
    sq_thr *t = p;
    t->cur = NULL;
    return 0;
}

static int sq_it_step(sq_thr *t)
{
    int rc = sqlite3_step(t->cur);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : sq_fail(t->c, "sqlite step");
}

static int sq_it_first(void *p)
{
    sq_thr *t = p;
    if (t->cur)
        sqlite3_reset(t->cur);
    t->cur = t->first;
    return sq_it_step(t);
}

static int sq_it_seek(void *p, const uint8_t *k, size_t kl)
{
    sq_thr *t = p;
    if (t->cur)
        sqlite3_reset(t->cur);
    t->cur = t->seek;
    memcpy(t->kbuf, k, kl); /* SQLITE_STATIC: must outlive the statement run */
    sq_bind_key(t->cur, t->kbuf, kl);
    return sq_it_step(t);
}

static int sq_it_next(void *p)
{
    return sq_it_step(p);
}

static void sq_it_cur(void *p, const uint8_t **k, size_t *kl, const uint8_t **v, size_t *vl)
{
    sq_thr *t = p;
    if (C.int_keys) {
        omen_key_u64((uint64_t)sqlite3_column_int64(t->cur, 0), t->kbuf);
        *k = t->kbuf;
        *kl = 8;
    } else {
        *k = sqlite3_column_blob(t->cur, 0);
        *kl = (size_t)sqlite3_column_bytes(t->cur, 0);
    }
    *v = sqlite3_column_blob(t->cur, 1);
    *vl = (size_t)sqlite3_column_bytes(t->cur, 1);
}

static void sq_it_end(void *p)
{
    sq_thr *t = p;
    if (t->cur)
        sqlite3_reset(t->cur);
    t->cur = NULL;
}

static int sq_txn_get(sq_thr *t, const uint8_t *k, size_t kl, uint8_t *buf)
{
    size_t len = 0;
    int rc = sq_get(t, k, kl, buf, C.vsize, &len);
    if (rc == 1 && len == C.vsize)
        return 0;
    if (rc >= 0)
        seterr("sqlite txn: key missing or bad value length");
    return -1;
}

/* BEGIN IMMEDIATE takes the write lock up front, so no conflict is possible;
 * busy waits happen inside sqlite3_busy_timeout. */
static int sq_txn_rmw(void *p, const uint8_t *k1, const uint8_t *k2, size_t kl, long *retries)
{
    sq_thr *t = p;
    (void)retries;
    if (sq_step_done(t, t->begin, "BEGIN IMMEDIATE"))
        return -1;
    if (sq_txn_get(t, k1, kl, t->v1) || sq_txn_get(t, k2, kl, t->v2))
        goto fail;
    rmw_bump(t->v1);
    rmw_bump(t->v2);
    if (sq_put(t, k1, kl, t->v1, C.vsize) || sq_put(t, k2, kl, t->v2, C.vsize))
        goto fail;
    return sq_step_done(t, t->commit, "COMMIT");
fail:
    sqlite3_step(t->rollback);
    sqlite3_reset(t->rollback);
    return -1;
}

const eng_vt ENG_SQLITE = {
    "sqlite",    sq_open,     sq_close,    sq_settle,  sq_thr_new, sq_thr_free, sq_put,
    sq_get,      sq_it_begin, sq_it_first, sq_it_seek, sq_it_next, sq_it_cur,   sq_it_end,
    sq_txn_rmw,  1u << KV_CODEC_NONE, /* no block compression */
};
