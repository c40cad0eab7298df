/*
 * pending.c -- the loop pass's pending writes (see pending.h).
 *
 * Invariants:
 *  - The batch and the overlay hold exactly the same writes, in order; the
 *    overlay maps each engine key to its last pending value or deletion.
 *  - Everything in the overlay lives in the pass's arena and dies at the
 *    commit, so a value pointer handed out stays valid until then.
 *  - During an EXEC transaction (pd.txn) the batch is empty (it was
 *    committed at pend_txn_begin) and every access goes through pd.txn.
 */
#include "server/pending.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MID_PASS_BATCH_BYTES (32u << 20)

/* ---- the overlay: the pending batch, readable by key ------------------ */

typedef struct ov_ent {
    uint64_t h;
    uint32_t klen;
    int del;
    size_t vlen;
    char *data; /* key bytes, then value bytes */
} ov_ent;

/* The overlay's entries live in a per-pass arena: a pass may write
 * thousands of entries, and all of them die together at the commit. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk;

/* One pass's writes: the engine batch and the overlay over it. */
typedef struct pend_set {
    omen_batch *batch;
    size_t batch_bytes;
    arena_chunk *arena;
    ov_ent **tab;
    size_t cap, used;
    size_t *slots; /* used slot indexes, for a clear in O(used) */
} pend_set;

static struct {
    omen_db *db;
    pend_set cur;     /* the pass being executed                       */
    pend_set fly;     /* the previous pass, being written by the commit
                         thread while pd.inflight (read-only here)       */
    int inflight;
    int fly_rc;       /* result of the last flight, until taken          */
    int commit_sync;  /* sync mode of mid-pass commits */
    int pass_failed;  /* first failed commit of the pass, 0 if none */
    omen_txn *txn;    /* EXEC in progress: reads and writes go here */
    int txn_unsynced; /* a transaction was committed relaxed in this pass */
} pd;

/* The commit thread (pend_commit_async): it writes pd.fly.batch to the
 * engine and then signals efd, so the event loop wakes to send the
 * replies that waited for it. */
static struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop;
    int job;  /* a batch is posted and not yet written */
    int sync; /* its sync mode                          */
    int rc;   /* its result                             */
    char err[512]; /* omen_last_error of a failure (it is per thread) */
    int efd;
} ct = {.efd = -1};

#define ARENA_CHUNK (256u << 10)

static void *arena_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_chunk *a = pd.cur.arena;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        arena_chunk *na = malloc(sizeof *na + cap);
        if (!na) return NULL;
        na->used = 0;
        na->cap = cap;
        na->next = a;
        pd.cur.arena = a = na;
    }
    void *p = a->data + a->used;
    a->used += n;
    return p;
}

/* Free all but one standard chunk (kept for the next pass). */
static void arena_reset(pend_set *ps)
{
    arena_chunk *keep = NULL;
    while (ps->arena) {
        arena_chunk *a = ps->arena;
        ps->arena = a->next;
        if (!keep && a->cap == ARENA_CHUNK) {
            keep = a;
            continue;
        }
        free(a);
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    ps->arena = keep;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static ov_ent *ov_find(const pend_set *ps, const void *key, size_t klen, uint64_t h, size_t *slot)
{
    if (!ps->cap) return NULL;
    size_t m = ps->cap - 1, i = h & m;
    for (;;) {
        ov_ent *e = ps->tab[i];
        if (!e) {
            if (slot) *slot = i;
            return NULL;
        }
        if (e->h == h && e->klen == klen && memcmp(e->data, key, klen) == 0) {
            if (slot) *slot = i;
            return e;
        }
        i = (i + 1) & m;
    }
}

static int ov_grow(void)
{
    pend_set *ps = &pd.cur;
    size_t ncap = ps->cap ? ps->cap * 2 : 1024;
    ov_ent **nt = calloc(ncap, sizeof *nt);
    size_t *ns = malloc(ncap * sizeof *ns);
    if (!nt || !ns) {
        free(nt);
        free(ns);
        return OMEN_NOMEM;
    }
    size_t n = 0;
    for (size_t k = 0; k < ps->used; k++) {
        ov_ent *e = ps->tab[ps->slots[k]];
        size_t i = e->h & (ncap - 1);
        while (nt[i]) i = (i + 1) & (ncap - 1);
        nt[i] = e;
        ns[n++] = i;
    }
    free(ps->tab);
    free(ps->slots);
    ps->tab = nt;
    ps->slots = ns;
    ps->cap = ncap;
    return OMEN_OK;
}

static int ov_set(const void *key, size_t klen, const void *val, size_t vlen, int del)
{
    pend_set *ps = &pd.cur;
    if ((ps->used + 1) * 2 > ps->cap && ov_grow()) return OMEN_NOMEM;
    uint64_t h = hash_bytes(key, klen);
    size_t slot;
    ov_ent *e = ov_find(ps, key, klen, h, &slot);
    /* A replaced value stays in the arena until the commit: a caller's
     * pointer into it (a value read earlier in the pass) stays valid. */
    char *d = arena_alloc(klen + (del ? 0 : vlen) + 1);
    if (!d) return OMEN_NOMEM;
    memcpy(d, key, klen);
    if (!del && vlen) memcpy(d + klen, val, vlen);
    if (!e) {
        e = arena_alloc(sizeof *e);
        if (!e) return OMEN_NOMEM;
        ps->tab[slot] = e;
        ps->slots[ps->used++] = slot;
    }
    e->h = h;
    e->klen = (uint32_t)klen;
    e->del = del;
    e->vlen = del ? 0 : vlen;
    e->data = d;
    return OMEN_OK;
}

static void ov_clear(pend_set *ps)
{
    for (size_t k = 0; k < ps->used; k++) ps->tab[ps->slots[k]] = NULL;
    ps->used = 0;
    arena_reset(ps);
    if (ps->cap > 65536) { /* a huge pass grew it: give the memory back */
        free(ps->tab);
        free(ps->slots);
        ps->tab = NULL;
        ps->slots = NULL;
        ps->cap = 0;
    }
}

/* ---- raw engine access through the overlay ------------------------------ */

int pend_put(const void *key, size_t klen, const void *val, size_t vlen)
{
    if (pd.txn) return omen_txn_put(pd.txn, key, klen, val, vlen);
    int rc = omen_batch_put(pd.cur.batch, key, klen, val, vlen);
    if (rc) return rc;
    pd.cur.batch_bytes += klen + vlen + 16;
    return ov_set(key, klen, val, vlen, 0);
}

int pend_vadd(omen_vset *vs, const void *id, size_t idlen, const float *vec, uint32_t dim,
              const char *attrs, size_t alen)
{
    if (pd.txn) return OMEN_INVALID;
    return omen_batch_vadd(pd.cur.batch, vs, id, idlen, vec, dim, attrs, alen);
}

int pend_vdel(omen_vset *vs, const void *id, size_t idlen)
{
    if (pd.txn) return OMEN_INVALID;
    return omen_batch_vdel(pd.cur.batch, vs, id, idlen);
}

int pend_mid_sync(void) { return pd.commit_sync; }

int pend_del(const void *key, size_t klen)
{
    if (pd.txn) return omen_txn_delete(pd.txn, key, klen);
    int rc = omen_batch_delete(pd.cur.batch, key, klen);
    if (rc) return rc;
    pd.cur.batch_bytes += klen + 16;
    return ov_set(key, klen, NULL, 0, 1);
}

/* Read key into *buf (grown as needed); OMEN_OK/NOTFOUND/error. */
int pend_get(const void *key, size_t klen, char **buf, size_t *cap, const char **val,
                   size_t *vlen)
{
    if (pd.txn) {
        void *v = NULL;
        size_t n = 0;
        int rc = omen_txn_get(pd.txn, key, klen, &v, &n);
        if (rc) return rc;
        if (n > *cap) {
            char *nb = realloc(*buf, n + 64);
            if (!nb) {
                omen_free(v);
                return OMEN_NOMEM;
            }
            *buf = nb;
            *cap = n + 64;
        }
        memcpy(*buf, v, n);
        omen_free(v);
        *val = *buf;
        *vlen = n;
        return OMEN_OK;
    }
    /* This pass's writes, then the previous pass's (still being
     * written by the commit thread), then the engine. */
    if (pd.cur.used || (pd.inflight && pd.fly.used)) {
        uint64_t h = hash_bytes(key, klen);
        ov_ent *e = ov_find(&pd.cur, key, klen, h, NULL);
        if (!e && pd.inflight) e = ov_find(&pd.fly, key, klen, h, NULL);
        if (e) {
            if (e->del) return OMEN_NOTFOUND;
            *val = e->data + e->klen;
            *vlen = e->vlen;
            return OMEN_OK;
        }
    }
    for (;;) {
        size_t n = 0;
        int rc = omen_get_into(pd.db, NULL, key, klen, *buf, *cap, &n);
        if (rc) return rc;
        if (n <= *cap) {
            *val = *buf;
            *vlen = n;
            return OMEN_OK;
        }
        size_t nc = n + 64;
        char *nb = realloc(*buf, nc);
        if (!nb) return OMEN_NOMEM;
        *buf = nb;
        *cap = nc;
    }
}

/* ---- pass commit ---------------------------------------------------------- */

static void *commit_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "omen-commit");
    pthread_mutex_lock(&ct.mu);
    for (;;) {
        while (!ct.job && !ct.stop) pthread_cond_wait(&ct.cv, &ct.mu);
        if (!ct.job) break;
        int sync = ct.sync;
        pthread_mutex_unlock(&ct.mu);
        int rc = omen_write(pd.db, pd.fly.batch, sync);
        pthread_mutex_lock(&ct.mu);
        ct.rc = rc;
        if (rc) snprintf(ct.err, sizeof ct.err, "%s", omen_last_error());
        ct.job = 0;
        pthread_cond_broadcast(&ct.cv);
        uint64_t one = 1;
        ssize_t w = write(ct.efd, &one, sizeof one);
        (void)w;
    }
    pthread_mutex_unlock(&ct.mu);
    return NULL;
}

int pend_wait(void)
{
    if (!pd.inflight) return OMEN_OK;
    pthread_mutex_lock(&ct.mu);
    while (ct.job) pthread_cond_wait(&ct.cv, &ct.mu);
    int rc = ct.rc;
    pthread_mutex_unlock(&ct.mu);
    omen_batch_clear(pd.fly.batch);
    pd.fly.batch_bytes = 0;
    ov_clear(&pd.fly);
    pd.inflight = 0;
    if (rc && !pd.fly_rc) pd.fly_rc = rc;
    return rc;
}

int pend_inflight(void) { return pd.inflight; }
const char *pend_flight_error(void) { return ct.err; }

int pend_take_flight_rc(void)
{
    int rc = pd.fly_rc;
    pd.fly_rc = 0;
    return rc;
}

int pend_event_fd(void) { return ct.efd; }

void pend_event_drain(void)
{
    uint64_t v;
    ssize_t r = read(ct.efd, &v, sizeof v);
    (void)r;
}

int pend_commit_async(int sync, int *started)
{
    *started = 0;
    pend_wait();
    if (pd.fly_rc || pd.pass_failed || !ct.started || pd.txn || !omen_batch_count(pd.cur.batch))
        return pend_commit(sync);
    *started = 1;
    pend_set t = pd.fly;
    pd.fly = pd.cur;
    pd.cur = t;
    pd.inflight = 1;
    pthread_mutex_lock(&ct.mu);
    ct.sync = sync;
    ct.job = 1;
    pthread_cond_signal(&ct.cv);
    pthread_mutex_unlock(&ct.mu);
    return OMEN_OK;
}

static int commit_now(int sync)
{
    pend_wait();
    int rc = OMEN_OK;
    if (omen_batch_count(pd.cur.batch)) rc = omen_write(pd.db, pd.cur.batch, sync);
    omen_batch_clear(pd.cur.batch);
    pd.cur.batch_bytes = 0;
    ov_clear(&pd.cur);
    return rc;
}

int pend_commit(int sync)
{
    int rc;
    pend_wait();
    if (sync == OMEN_SYNC_FULL && pd.txn_unsynced && !omen_batch_count(pd.cur.batch))
        rc = omen_sync(pd.db); /* only relaxed transaction commits to cover */
    else
        rc = commit_now(sync);
    pd.txn_unsynced = 0;
    if (!rc && pd.pass_failed) rc = pd.pass_failed;
    pd.pass_failed = 0;
    return rc;
}

size_t pend_count(void) { return omen_batch_count(pd.cur.batch); }
void pend_set_mid_sync(int sync) { pd.commit_sync = sync; }
int pend_failed(void) { return pd.pass_failed; }

/* Commit what is pending in the middle of a pass (before an iterator, or
 * when the batch grew large); replies still wait for the pass's end.  A
 * flight is finished first, so the engine's state is every write so far. */
int pend_commit_mid(void)
{
    pend_wait();
    if (pd.txn || !omen_batch_count(pd.cur.batch)) return OMEN_OK;
    int rc = commit_now(pd.commit_sync);
    if (rc && !pd.pass_failed) pd.pass_failed = rc;
    return rc;
}

void pend_maybe_commit_large(void)
{
    if (pd.cur.batch_bytes > MID_PASS_BATCH_BYTES) pend_commit_mid();
}

int pend_iter(const char *lo, size_t lolen, const char *hi, size_t hilen, omen_iter **out)
{
    pend_commit_mid();
    omen_iter_options o;
    memset(&o, 0, sizeof o);
    o.lower = lo;
    o.lower_len = lolen;
    o.upper = hi;
    o.upper_len = hilen;
    if (pd.txn) return omen_txn_iter_create(pd.txn, &o, out);
    return omen_iter_create(pd.db, &o, out);
}

int pend_txn_begin(void)
{
    int rc = pend_commit_mid();
    if (rc) return rc;
    return omen_txn_begin(pd.db, &pd.txn);
}

int pend_txn_end(void)
{
    omen_txn *t = pd.txn;
    pd.txn = NULL;
    if (!t) return OMEN_OK;
    int rc = omen_txn_commit(t, OMEN_SYNC_RELAXED);
    if (rc == OMEN_OK) pd.txn_unsynced = 1;
    else if (!pd.pass_failed) pd.pass_failed = rc;
    return rc;
}

int pend_open(omen_db *db, int commit_thread)
{
    memset(&pd, 0, sizeof pd);
    pd.db = db;
    pd.commit_sync = OMEN_SYNC_RELAXED;
    int rc = omen_batch_create(&pd.cur.batch);
    if (!rc) rc = omen_batch_create(&pd.fly.batch);
    if (rc || !commit_thread) return rc;
    ct.stop = ct.job = 0;
    ct.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ct.efd < 0) return OMEN_IO;
    pthread_mutex_init(&ct.mu, NULL);
    pthread_cond_init(&ct.cv, NULL);
    if (pthread_create(&ct.th, NULL, commit_main, NULL) != 0) {
        close(ct.efd);
        ct.efd = -1;
        return OMEN_NOMEM;
    }
    ct.started = 1;
    return OMEN_OK;
}

void pend_close(void)
{
    pend_wait();
    if (ct.started) {
        pthread_mutex_lock(&ct.mu);
        ct.stop = 1;
        pthread_cond_signal(&ct.cv);
        pthread_mutex_unlock(&ct.mu);
        pthread_join(ct.th, NULL);
        pthread_mutex_destroy(&ct.mu);
        pthread_cond_destroy(&ct.cv);
        ct.started = 0;
    }
    if (ct.efd >= 0) close(ct.efd);
    ct.efd = -1;
    pend_set *sets[2] = {&pd.cur, &pd.fly};
    for (int i = 0; i < 2; i++) {
        ov_clear(sets[i]);
        free(sets[i]->arena);
        omen_batch_destroy(sets[i]->batch);
        free(sets[i]->tab);
        free(sets[i]->slots);
    }
    memset(&pd, 0, sizeof pd);
}

omen_db *pend_db(void) { return pd.db; }
