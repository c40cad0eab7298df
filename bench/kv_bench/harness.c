/*
 * harness.c -- kv_bench's workloads and the threads that run them.
 *
 * Timing uses CLOCK_MONOTONIC around a barrier-released group of threads;
 * per-thread setup (connections, contexts) is outside the timed region.
 * Every value read is copied into a caller buffer and folded into a
 * checksum printed at the end, so no read is optimised away.  Reads run on
 * the database that fillrandom built, after a settle step that is the same
 * policy for every engine (--settle).
 */
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

const eng_vt *const ENGINES[NENG] = {&ENG_OMENDB, &ENG_ROCKSDB, &ENG_LEVELDB, &ENG_LMDB,
                                     &ENG_SQLITE};
const char *const WL_NAMES[NWL] = {"fillseq",   "fillrandom",       "readrandom",
                                   "readmissing", "readseq",        "seekrandom",
                                   "readwhilewriting", "overwrite", "txn",
                                   "fillsync", "compression"};
const char *const R_NAMES[NRES] = {
    "fillseq",    "fillrandom",          "readrandom",          "readmissing", "readseq",
    "seekrandom", "readwhilewriting_1r", "readwhilewriting_2r", "overwrite",   "txn",
    "fillsync_1w", "fillsync_4w",        "fillsync_16w",
    "compress_fill_none", "compress_fill_lz4", "compress_fill_zstd", "compress_fill_snappy",
    "compress_read_none", "compress_read_lz4", "compress_read_zstd", "compress_read_snappy"};
const int SYNC_WRITERS[3] = {1, 4, 16};
/* The selectable workload each result belongs to. */
static const int R_WL[NRES] = {WL_FILLSEQ,    WL_FILLRANDOM, WL_READRANDOM, WL_READMISSING,
                               WL_READSEQ,    WL_SEEKRANDOM, WL_RWW,        WL_RWW,
                               WL_OVERWRITE,  WL_TXN,        WL_FILLSYNC,   WL_FILLSYNC,
                               WL_FILLSYNC,   WL_COMPRESS,   WL_COMPRESS,   WL_COMPRESS,
                               WL_COMPRESS,   WL_COMPRESS,   WL_COMPRESS,   WL_COMPRESS,
                               WL_COMPRESS};

double g_res[NENG][NRES][MAX_REPS];
int g_nres[NENG][NRES];
int g_failed[NENG][NRES];
char g_note[NENG][NRES][200];
hist_t *g_lat[NENG][NRES];
uint64_t g_bytes[NENG][NRES];

/* The results whose per-operation latency is recorded (--no-latency: none). */
static const int R_LAT[NRES] = {[R_READRANDOM] = 1, [R_RWW1] = 1,  [R_RWW2] = 1, [R_OVERWRITE] = 1,
                                [R_SYNC1] = 1,      [R_SYNC4] = 1, [R_SYNC16] = 1};
volatile uint64_t g_sink;

static void record(int e, int r, uint64_t ops, uint64_t ns)
{
    double v = ns ? (double)ops * 1e9 / (double)ns : 0;
    if (g_nres[e][r] < MAX_REPS)
        g_res[e][r][g_nres[e][r]++] = v;
}

/* ---- the thread harness --------------------------------------------------- */

typedef struct wctx wctx;
typedef void (*wfn)(wctx *w);

struct wctx {
    const eng_vt *vt;
    void *db;
    void *t;
    int tid, nthreads;
    int wl;              /* tag for the random stream                   */
    uint64_t count;      /* operations for this thread                  */
    uint64_t total;      /* all threads' operations (partitioned work)  */
    uint64_t ops, found, sink;
    long retries;
    int err;
    uint64_t t0, t1;     /* this thread's own start/end                 */
    uint64_t deadline;   /* capped workloads stop here (--duration)      */
    int capped;
    uint8_t *buf;
    hist_t *lat;         /* per-operation latency, or NULL           */
    wfn fn;
    pthread_barrier_t *bar;
    atomic_int *stop;
    atomic_int *first_done; /* readwhilewriting's readers stop together (bench_engine) */
    const char *label;
};

/* Checked every 256 operations so the clock read costs nothing measurable. */
static int expired(const wctx *w, uint64_t i)
{
    return (i & 255) == 0 && i &&
           (now_ns() > w->deadline || (w->first_done && atomic_load(w->first_done)));
}

static rng_t wrng(const wctx *w)
{
    rng_t r = {mix64(C.seed ^ ((uint64_t)w->wl << 32) ^ (uint64_t)(w->tid + 1) * 0x51ED27ull)};
    return r;
}

static int w_fail(wctx *w, const char *op)
{
    if (!w->err)
        fprintf(stderr, "!! %s %s: %s failed: %s\n", w->vt->name, w->label, op, t_err);
    w->err = 1;
    return -1;
}

static void *thread_main(void *arg)
{
    wctx *w = arg;
    int ok = w->vt->thr_new(w->db, &w->t) == 0;
    if (!ok)
        w_fail(w, "thread context");
    pthread_barrier_wait(w->bar);
    w->t0 = now_ns();
    w->deadline = w->capped && C.duration > 0 ? w->t0 + (uint64_t)(C.duration * 1e9) : UINT64_MAX;
    if (ok)
        w->fn(w);
    w->t1 = now_ns();
    if (w->first_done) atomic_store(w->first_done, 1);
    if (w->t)
        w->vt->thr_free(w->t);
    w->t = NULL;
    return NULL;
}

/* Runs fn on n threads (plus optional background threads bg[0..nbg) that run
 * until the foreground ones finish), timing from the first foreground
 * thread's start after the barrier to the last one's end.  Returns ns. */
static uint64_t run_threads(wctx *fg, int n, wctx *bg, int nbg)
{
    pthread_barrier_t bar;
    atomic_int stop = 0;
    pthread_t th[64];
    pthread_barrier_init(&bar, NULL, (unsigned)(n + nbg + 1));
    for (int i = 0; i < nbg; i++) {
        bg[i].bar = &bar;
        bg[i].stop = &stop;
        pthread_create(&th[n + i], NULL, thread_main, &bg[i]);
    }
    for (int i = 0; i < n; i++) {
        fg[i].bar = &bar;
        fg[i].stop = &stop;
        pthread_create(&th[i], NULL, thread_main, &fg[i]);
    }
    pthread_barrier_wait(&bar);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop, 1);
    /* The clock is read by the workers themselves: on 2 cores the main
     * thread may be scheduled only after a short workload has finished. */
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (int i = 0; i < n; i++) {
        t0 = fg[i].t0 < t0 ? fg[i].t0 : t0;
        t1 = fg[i].t1 > t1 ? fg[i].t1 : t1;
    }
    for (int i = 0; i < nbg; i++)
        pthread_join(th[n + i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < n; i++)
        g_sink += fg[i].sink;
    return t1 - t0;
}

/* ---- workload bodies ------------------------------------------------------ */

/* Per-operation latency takes one clock read per operation: the interval
 * from the end of the thread's previous operation (or its start) to the end
 * of this one, so it also holds the few ns of key generation between them
 * (a second clock read per operation would cost more than that). */
static inline uint64_t lat_start(const wctx *w)
{
    return w->lat ? now_ns() : 0;
}

static inline void lat_tick(wctx *w, uint64_t *prev)
{
    if (w->lat) {
        uint64_t t = now_ns();
        hist_add(w->lat, t - *prev);
        *prev = t;
    }
}

/* Fill: operation i (i = tid, tid + nthreads, ...) writes key id
 * seq ? i : perm[i] at version 0. */
static void w_fill_seq(wctx *w)
{
    uint8_t k[16];
    for (uint64_t i = (uint64_t)w->tid; i < w->total; i += (uint64_t)w->nthreads) {
        key_encode(2 * i, k);
        if (w->vt->put(w->t, k, C.klen, value_for(i, 0), C.vsize)) {
            w_fail(w, "put");
            return;
        }
        w->ops++;
    }
}

static void w_fill_perm(wctx *w)
{
    uint8_t k[16];
    uint64_t tp = lat_start(w);
    for (uint64_t i = (uint64_t)w->tid; i < w->total; i += (uint64_t)w->nthreads) {
        uint64_t id = g_perm[i];
        key_encode(2 * id, k);
        if (w->vt->put(w->t, k, C.klen, value_for(id, 0), C.vsize)) {
            w_fail(w, "put");
            return;
        }
        lat_tick(w, &tp);
        w->ops++;
    }
}

static void w_overwrite(wctx *w)
{
    rng_t r = wrng(w);
    uint8_t k[16];
    uint64_t tp = lat_start(w);
    for (uint64_t i = 0; i < w->count && !expired(w, i); i++) {
        uint64_t id = rng_below(&r, C.n);
        key_encode(2 * id, k);
        if (w->vt->put(w->t, k, C.klen, value_for(id, 1), C.vsize)) {
            w_fail(w, "put");
            return;
        }
        lat_tick(w, &tp);
        w->ops++;
    }
}

/* readrandom (odd = 0) and readmissing (odd = 1). */
static void w_read(wctx *w, int odd)
{
    rng_t r = wrng(w);
    uint8_t k[16];
    uint64_t tp = lat_start(w);
    for (uint64_t i = 0; i < w->count && !expired(w, i); i++) {
        uint64_t id = rng_below(&r, C.n);
        key_encode(2 * id + (uint64_t)odd, k);
        size_t vl = 0;
        int rc = w->vt->get(w->t, k, C.klen, w->buf, C.vsize, &vl);
        if (rc < 0) {
            w_fail(w, "get");
            return;
        }
        if (rc) {
            w->found++;
            w->sink += w->buf[0] + w->buf[vl ? (vl < C.vsize ? vl : C.vsize) - 1 : 0] + vl;
        }
        lat_tick(w, &tp);
        w->ops++;
    }
}

static void w_readrandom(wctx *w)
{
    w_read(w, 0);
}

static void w_readmissing(wctx *w)
{
    w_read(w, 1);
}

static void touch_cur(wctx *w)
{
    const uint8_t *k, *v;
    size_t kl, vl;
    w->vt->it_cur(w->t, &k, &kl, &v, &vl);
    size_t n = vl < C.vsize ? vl : C.vsize;
    memcpy(w->buf, v, n);
    w->sink += k[kl - 1] + (n ? w->buf[n - 1] : 0) + vl;
}

static void w_readseq(wctx *w)
{
    if (w->vt->it_begin(w->t)) {
        w_fail(w, "iterator");
        return;
    }
    int rc = w->vt->it_first(w->t);
    while (rc == 1) {
        touch_cur(w);
        w->ops++;
        rc = w->vt->it_next(w->t);
    }
    if (rc < 0)
        w_fail(w, "iterate");
    w->vt->it_end(w->t);
}

/* One iterator per thread, reused for every seek (as db_bench does); each
 * seek targets a uniformly random number in [0, 2n), half of them absent. */
static void w_seekrandom(wctx *w)
{
    rng_t r = wrng(w);
    uint8_t k[16];
    if (w->vt->it_begin(w->t)) {
        w_fail(w, "iterator");
        return;
    }
    for (uint64_t i = 0; i < w->count && !expired(w, i); i++) {
        key_encode(rng_below(&r, 2 * C.n), k);
        int rc = w->vt->it_seek(w->t, k, C.klen);
        for (int j = 0; rc == 1; j++) {
            touch_cur(w);
            if (j == SEEK_NEXTS)
                break;
            rc = w->vt->it_next(w->t);
        }
        if (rc < 0) {
            w_fail(w, "seek");
            break;
        }
        w->found++;
        w->ops++;
    }
    w->vt->it_end(w->t);
}

/* The rate-limited writer of readwhilewriting: overwrites random existing
 * keys at C.rww_rate writes/s until the readers are done.  Like db_bench's
 * rate limiter, it paces in ticks (1 ms here, db_bench refills every 100 ms):
 * it wakes once a tick and writes what has fallen due since, one put at a
 * time.  Sleeping before every put instead (20,000 wake-ups a second at the
 * default rate) costs the writer's core more in scheduler work than the puts
 * themselves, and on a 2-core machine that cost lands on the readers being
 * measured, for every engine alike. */
static void w_bgwriter(wctx *w)
{
    const uint64_t tick = 1000000;
    rng_t r = wrng(w);
    uint8_t k[16];
    uint64_t t0 = now_ns();
    while (!atomic_load(w->stop)) {
        uint64_t now = now_ns();
        uint64_t due = (now - t0) / 1000 * C.rww_rate / 1000000;
        if (w->ops >= due) {
            sleep_ns(tick);
            continue;
        }
        for (; w->ops < due && !atomic_load(w->stop); w->ops++) {
            uint64_t id = rng_below(&r, C.n);
            key_encode(2 * id, k);
            if (w->vt->put(w->t, k, C.klen, value_for(id, 2), C.vsize)) {
                w_fail(w, "put");
                return;
            }
        }
    }
}

static void w_txn(wctx *w)
{
    rng_t r = wrng(w);
    uint8_t k1[16], k2[16];
    for (uint64_t i = 0; i < w->count && !expired(w, i); i++) {
        uint64_t a = rng_below(&r, C.n), b;
        do
            b = rng_below(&r, C.n);
        while (b == a);
        key_encode(2 * a, k1);
        key_encode(2 * b, k2);
        if (w->vt->txn_rmw(w->t, k1, k2, C.klen, &w->retries)) {
            w_fail(w, "transaction");
            return;
        }
        w->ops++;
    }
}

/* ---- phases --------------------------------------------------------------- */

static void wctx_init(wctx *w, const eng_vt *vt, void *db, int tid, int n, int wl, uint64_t total,
                      wfn fn, const char *label)
{
    memset(w, 0, sizeof *w);
    w->vt = vt;
    w->db = db;
    w->tid = tid;
    w->nthreads = n;
    w->wl = wl;
    w->total = total;
    w->count = total / (uint64_t)n + ((uint64_t)tid < total % (uint64_t)n);
    w->fn = fn;
    w->label = label;
    w->buf = malloc(C.vsize);
    w->capped = fn != w_fill_seq && fn != w_fill_perm && fn != w_readseq;
}

/* Gives each of threads w[0, n) a latency histogram when result r records
 * latency; 0, or -1 when out of memory. */
static int lat_alloc(wctx *w, int n, int r)
{
    if (!R_LAT[r] || !C.latency)
        return 0;
    for (int i = 0; i < n; i++) {
        if (!(w[i].lat = malloc(sizeof *w[i].lat)))
            return -1;
        hist_init(w[i].lat);
    }
    return 0;
}

/* Adds the threads' latencies to result (e, r) (when err is 0) and frees
 * their histograms. */
static void lat_collect(int e, int r, wctx *w, int n, int err)
{
    for (int i = 0; i < n; i++) {
        if (!w[i].lat)
            continue;
        if (!err && !g_lat[e][r] && (g_lat[e][r] = malloc(sizeof *g_lat[e][r])))
            hist_init(g_lat[e][r]);
        if (!err && g_lat[e][r])
            hist_merge(g_lat[e][r], w[i].lat);
        free(w[i].lat);
        w[i].lat = NULL;
    }
}

/* Runs a foreground workload on nthr threads and records its rate; returns
 * -1 if any thread failed (the engine's phase then stops). */
static int phase(int e, void *db, int r, int wl, int nthr, uint64_t total, wfn fn, uint64_t *found,
                 long *retries, uint64_t *ops_out)
{
    const eng_vt *vt = ENGINES[e];
    wctx w[64];
    for (int i = 0; i < nthr; i++)
        wctx_init(&w[i], vt, db, i, nthr, wl, total, fn, R_NAMES[r]);
    if (lat_alloc(w, nthr, r)) {
        fprintf(stderr, "!! %s %s: out of memory\n", vt->name, R_NAMES[r]);
        lat_collect(e, r, w, nthr, 1);
        for (int i = 0; i < nthr; i++)
            free(w[i].buf);
        g_failed[e][r] = 1;
        return -1;
    }
    uint64_t ns = run_threads(w, nthr, NULL, 0);
    uint64_t ops = 0, fnd = 0;
    long ret = 0;
    int err = 0;
    for (int i = 0; i < nthr; i++) {
        ops += w[i].ops;
        fnd += w[i].found;
        ret += w[i].retries;
        err |= w[i].err;
        free(w[i].buf);
    }
    if (found)
        *found = fnd;
    if (retries)
        *retries = ret;
    if (ops_out)
        *ops_out = ops;
    lat_collect(e, r, w, nthr, err);
    if (err) {
        g_failed[e][r] = 1;
        return -1;
    }
    record(e, r, ops, ns);
    if (w[0].capped && ops < total)
        snprintf(g_note[e][r], sizeof g_note[0][0], "stopped by --duration after %" PRIu64 " ops",
                 ops);
    if (!C.csv)
        fprintf(stderr, "   %-8s %-20s %12.0f ops/s  (%" PRIu64 " ops, %.2f s)\n", vt->name,
                R_NAMES[r], (double)ops * 1e9 / (double)ns, ops, (double)ns / 1e9);
    return 0;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void wipe(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t g_du;

static int du_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        g_du += (uint64_t)sb->st_size;
    return 0;
}

/* The bytes of the files under path (apparent sizes). */
static uint64_t dir_bytes(const char *path)
{
    g_du = 0;
    nftw(path, du_cb, 16, FTW_PHYS);
    return g_du;
}

static int open_db(int e, const char *path, int sync, int txn_mode, void **db)
{
    if (ENGINES[e]->open(path, sync, txn_mode, db)) {
        fprintf(stderr, "!! %s: open %s failed: %s\n", ENGINES[e]->name, path, t_err);
        return -1;
    }
    return 0;
}

static void close_db(int e, void *db)
{
    if (ENGINES[e]->close(db))
        fprintf(stderr, "!! %s: close failed: %s\n", ENGINES[e]->name, t_err);
}

/* --verify: read back a sample of the ids written with version 0; fill
 * ids are seq ? i : perm[i] for i < count. */
static int verify_fill(int e, void *db, uint64_t count, int seq, const char *what)
{
    const eng_vt *vt = ENGINES[e];
    void *t;
    if (vt->thr_new(db, &t)) {
        fprintf(stderr, "!! %s verify: %s\n", vt->name, t_err);
        return -1;
    }
    uint8_t k[16], *buf = malloc(C.vsize);
    uint64_t samples = count < VERIFY_SAMPLES ? count : VERIFY_SAMPLES, bad = 0;
    rng_t r = {C.seed ^ 0xBEEFull};
    for (uint64_t s = 0; s < samples; s++) {
        uint64_t i = s == 0 ? 0 : s == 1 ? count - 1 : rng_below(&r, count);
        uint64_t id = seq ? i : g_perm[i];
        key_encode(2 * id, k);
        size_t vl = 0;
        int rc = vt->get(t, k, C.klen, buf, C.vsize, &vl);
        const char *why = rc < 0 ? t_err : rc == 0 ? "missing" : vl != C.vsize ? "wrong length"
                          : memcmp(buf, value_for(id, 0), C.vsize) ? "wrong value" : NULL;
        if (why && bad++ < 10)
            fprintf(stderr, "!! verify %s after %s: key id %" PRIu64 ": %s\n", vt->name, what, id,
                    why);
    }
    /* A missing key right between two stored ones must stay missing. */
    key_encode(2 * (count / 2) + 1, k);
    size_t vl;
    if (vt->get(t, k, C.klen, buf, C.vsize, &vl) != 0 && bad++ < 10)
        fprintf(stderr, "!! verify %s after %s: absent key found\n", vt->name, what);
    free(buf);
    vt->thr_free(t);
    if (!C.csv || bad)
        fprintf(stderr, "   %-8s verify after %-12s %" PRIu64 "/%" PRIu64 " samples %s\n", vt->name,
                what, samples - (bad > samples ? samples : bad), samples, bad ? "FAILED" : "ok");
    return bad ? -1 : 0;
}

/* --verify for txn: the sum over all keys of the u64 in each value's first
 * 8 bytes grows by exactly 2 per committed transaction (mod 2^64), which a
 * lost update would break.  Also counts keys (must be n). */
static int value_sum(int e, void *db, uint64_t *sum, uint64_t *keys)
{
    const eng_vt *vt = ENGINES[e];
    void *t;
    if (vt->thr_new(db, &t) || vt->it_begin(t))
        return -1;
    uint64_t s = 0, c = 0;
    int rc = vt->it_first(t);
    while (rc == 1) {
        const uint8_t *k, *v;
        size_t kl, vl;
        vt->it_cur(t, &k, &kl, &v, &vl);
        uint64_t x = 0;
        memcpy(&x, v, vl < 8 ? vl : 8);
        s += x;
        c++;
        rc = vt->it_next(t);
    }
    vt->it_end(t);
    vt->thr_free(t);
    *sum = s;
    *keys = c;
    return rc < 0 ? -1 : 0;
}

static int want(int wl)
{
    return (C.wls >> wl) & 1u;
}

/* Whether the compression run asks engine vt for codec c: asked for on
 * the command line, the adapter can express it, and the engine compresses
 * at all (for LMDB and SQLite the run would repeat fillrandom). */
static int codec_wanted(const eng_vt *vt, int c)
{
    return ((C.codecs & vt->codecs) >> c & 1u) && vt->codecs != 1u << KV_CODEC_NONE;
}

/* Results skipped because the engine build lacks the codec (reported n/a). */
static int g_nocodec[NENG][NRES];

/* The compression workload: per codec, a fresh database filled in random
 * order with that codec (timed), settled as --settle compact does (always,
 * untimed, so the size is that of the compacted files), measured on disk,
 * then read at random (timed). */
static void compress_phase(int e, const char *path)
{
    const eng_vt *vt = ENGINES[e];
    for (int c = 0; c < KV_NCODEC; c++) {
        if (!codec_wanted(vt, c))
            continue;
        int rf = R_CFILL + c, rr = R_CREAD + c;
        void *db;
        uint64_t found, ops;
        wipe(path);
        C.codec = c;
        int rc = vt->open(path, 0, 0, &db);
        C.codec = KV_CODEC_NONE;
        if (rc == KV_NO_CODEC) {
            g_nocodec[e][rf] = g_nocodec[e][rr] = 1;
            snprintf(g_note[e][rf], sizeof g_note[0][0], "n/a: %.180s", t_err);
            if (!C.csv)
                fprintf(stderr, "   %-8s %s: not in this build, skipped (%s)\n", vt->name,
                        KV_CODEC_NAMES[c], t_err);
            continue;
        }
        if (rc) {
            fprintf(stderr, "!! %s: open %s (%s) failed: %s\n", vt->name, path, KV_CODEC_NAMES[c],
                    t_err);
            continue;
        }
        if (phase(e, db, rf, WL_FILLRANDOM, 1, C.n, w_fill_perm, NULL, NULL, NULL) == 0) {
            if (vt->settle(db))
                fprintf(stderr, "!! %s settle: %s\n", vt->name, t_err);
            g_bytes[e][rf] = dir_bytes(path);
            if (C.verify)
                verify_fill(e, db, C.n, 0, R_NAMES[rf]);
            if (phase(e, db, rr, WL_READRANDOM, 1, C.reads, w_readrandom, &found, NULL, &ops) == 0 &&
                found != ops)
                snprintf(g_note[e][rr], sizeof g_note[0][0],
                         "WRONG: found %" PRIu64 " of %" PRIu64, found, ops);
        }
        close_db(e, db);
    }
}

void bench_engine(int e, int rep)
{
    const eng_vt *vt = ENGINES[e];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", C.dir, vt->name);
    int before[NRES];
    memcpy(before, g_nres[e], sizeof before);
    void *db;
    uint64_t found, ops;
    long retries;

    if (want(WL_FILLSEQ)) {
        wipe(path);
        if (open_db(e, path, 0, 0, &db) == 0) {
            if (phase(e, db, R_FILLSEQ, WL_FILLSEQ, 1, C.n, w_fill_seq, NULL, NULL, NULL) == 0 &&
                C.verify)
                verify_fill(e, db, C.n, 1, "fillseq");
            close_db(e, db);
        }
    }

    int need_random = want(WL_FILLRANDOM) || want(WL_READRANDOM) || want(WL_READMISSING) ||
                      want(WL_READSEQ) || want(WL_SEEKRANDOM) || want(WL_RWW) ||
                      want(WL_OVERWRITE) || want(WL_TXN);
    if (need_random) {
        wipe(path);
        if (open_db(e, path, 0, 0, &db))
            goto sync_phase;
        if (phase(e, db, R_FILLRANDOM, WL_FILLRANDOM, 1, C.n, w_fill_perm, NULL, NULL, NULL)) {
            close_db(e, db);
            goto sync_phase;
        }
        if (!want(WL_FILLRANDOM))
            g_nres[e][R_FILLRANDOM] = 0; /* ran only to build the database */
        if (C.verify && verify_fill(e, db, C.n, 0, "fillrandom"))
            g_failed[e][R_FILLRANDOM] = 1;
        if (C.settle_compact) {
            uint64_t t0 = now_ns();
            if (vt->settle(db))
                fprintf(stderr, "!! %s settle: %s\n", vt->name, t_err);
            double s = (double)(now_ns() - t0) / 1e9;
            static const char *const what[NENG] = {"flush+compact_range", "compact_range",
                                                   "compact_range", "no settle needed",
                                                   "wal_checkpoint(TRUNCATE)"};
            snprintf(g_note[e][R_FILLRANDOM], sizeof g_note[0][0],
                     "then %s: %.2f s, untimed", what[e], s);
            if (!C.csv)
                fprintf(stderr, "   %-8s settle                 %.2f s\n", vt->name, s);
        }
        int ok = 1;
        if (ok && want(WL_READRANDOM)) {
            ok = phase(e, db, R_READRANDOM, WL_READRANDOM, 1, C.reads, w_readrandom, &found, NULL,
                       &ops) == 0;
            if (ok && found != ops) {
                fprintf(stderr, "!! %s readrandom: found %" PRIu64 " of %" PRIu64 "\n", vt->name,
                        found, ops);
                snprintf(g_note[e][R_READRANDOM], sizeof g_note[0][0],
                         "WRONG: found %" PRIu64 " of %" PRIu64, found, ops);
            }
        }
        if (ok && want(WL_READMISSING)) {
            ok = phase(e, db, R_READMISSING, WL_READMISSING, 1, C.reads, w_readmissing, &found,
                       NULL, &ops) == 0;
            if (ok && found)
                snprintf(g_note[e][R_READMISSING], sizeof g_note[0][0],
                         "WRONG: found %" PRIu64 " absent keys", found);
        }
        if (ok && want(WL_READSEQ)) {
            ok = phase(e, db, R_READSEQ, WL_READSEQ, 1, C.n, w_readseq, NULL, NULL, &ops) == 0;
            if (ok && ops != C.n) {
                fprintf(stderr, "!! %s readseq: %" PRIu64 " entries, expected %" PRIu64 "\n",
                        vt->name, ops, C.n);
                snprintf(g_note[e][R_READSEQ], sizeof g_note[0][0],
                         "WRONG: scanned %" PRIu64 " entries, expected %" PRIu64, ops, C.n);
            }
        }
        if (ok && want(WL_SEEKRANDOM))
            ok = phase(e, db, R_SEEKRANDOM, WL_SEEKRANDOM, 1, C.reads, w_seekrandom, NULL, NULL,
                       NULL) == 0;
        for (int nr = 1; ok && want(WL_RWW) && nr <= 2; nr++) {
            int r = nr == 1 ? R_RWW1 : R_RWW2;
            wctx rd[2], wr;
            /* The readers stop together, when the first has done its share:
             * with 3 threads on 2 cores the writer slows whichever reader
             * shares its core, and the other then ran alone at the end,
             * a tail that measured 1 reader, not 2 (one 2M rep: readers
             * took 0.78 s and 0.95 s for the same share).  As db_bench's
             * --duration runs do, every reader counts what it did in the
             * same interval. */
            atomic_int first_done = 0;
            for (int i = 0; i < nr; i++) {
                wctx_init(&rd[i], vt, db, i, nr, WL_RWW, C.reads, w_readrandom, R_NAMES[r]);
                rd[i].first_done = &first_done;
            }
            wctx_init(&wr, vt, db, 7, 1, WL_RWW + 100 * nr, 0, w_bgwriter, "rww writer");
            if (lat_alloc(rd, nr, r)) {
                fprintf(stderr, "!! %s %s: out of memory\n", vt->name, R_NAMES[r]);
                lat_collect(e, r, rd, nr, 1);
                for (int i = 0; i < nr; i++)
                    free(rd[i].buf);
                free(wr.buf);
                g_failed[e][r] = 1;
                ok = 0;
                break;
            }
            uint64_t ns = run_threads(rd, nr, &wr, 1);
            uint64_t rops = 0;
            int err = wr.err;
            for (int i = 0; i < nr; i++) {
                rops += rd[i].ops;
                err |= rd[i].err;
                free(rd[i].buf);
            }
            free(wr.buf);
            lat_collect(e, r, rd, nr, err);
            if (err) {
                g_failed[e][r] = 1;
                ok = 0;
                break;
            }
            record(e, r, rops, ns);
            double wrate = wr.t1 > wr.t0 ? (double)wr.ops * 1e9 / (double)(wr.t1 - wr.t0) : 0;
            snprintf(g_note[e][r], sizeof g_note[0][0], "writer achieved %.0f writes/s%s", wrate,
                     rops < C.reads && ns >= (uint64_t)(C.duration * 1e9)
                         ? "; stopped by --duration"
                         : "");
            if (!C.csv)
                fprintf(stderr, "   %-8s %-20s %12.0f ops/s  (%d reader(s), writer %.0f w/s)\n",
                        vt->name, R_NAMES[r], (double)rops * 1e9 / (double)ns, nr, wrate);
        }
        if (ok && want(WL_OVERWRITE))
            ok = phase(e, db, R_OVERWRITE, WL_OVERWRITE, 1, C.writes, w_overwrite, NULL, NULL,
                       NULL) == 0;
        close_db(e, db);
        /* Transactions reopen the same database in transaction mode
         * (RocksDB: OptimisticTransactionDB), untimed. */
        if (ok && want(WL_TXN) && vt->txn_rmw && open_db(e, path, 0, 1, &db) == 0) {
            uint64_t s0 = 0, s1 = 0, k0 = 0, k1 = 0;
            if (C.verify && value_sum(e, db, &s0, &k0))
                fprintf(stderr, "!! %s txn verify scan failed: %s\n", vt->name, t_err);
            if (phase(e, db, R_TXN, WL_TXN, C.txn_threads, C.txn_n, w_txn, NULL, &retries,
                      &ops) == 0) {
                snprintf(g_note[e][R_TXN], sizeof g_note[0][0],
                         "%ld conflict retries for %" PRIu64 " commits (%.3f%%)%s", retries, ops,
                         ops ? 100.0 * (double)retries / (double)ops : 0.0,
                         ops < C.txn_n ? "; stopped by --duration" : "");
                if (!C.csv)
                    fprintf(stderr, "   %-8s txn: %s\n", vt->name, g_note[e][R_TXN]);
                if (C.verify) {
                    if (value_sum(e, db, &s1, &k1))
                        fprintf(stderr, "!! %s txn verify scan failed: %s\n", vt->name, t_err);
                    int good = s1 - s0 == 2 * ops && k1 == C.n && k0 == C.n;
                    fprintf(stderr, "   %-8s verify txn: value-counter sum grew by %" PRIu64
                            ", expected %" PRIu64 "; %" PRIu64 " keys: %s\n",
                            vt->name, s1 - s0, 2 * ops, k1, good ? "ok" : "FAILED");
                    if (!good)
                        g_failed[e][R_TXN] = 1;
                }
            }
            close_db(e, db);
        }
    }

    if (want(WL_COMPRESS))
        compress_phase(e, path);

sync_phase:
    if (want(WL_FILLSYNC)) {
        for (int i = 0; i < 3; i++) {
            int r = R_SYNC1 + i, nw = SYNC_WRITERS[i];
            wipe(path);
            if (open_db(e, path, 1, 0, &db))
                break;
            if (phase(e, db, r, WL_FILLSYNC, nw, C.sync_n, w_fill_perm, NULL, NULL, NULL) == 0 &&
                C.verify)
                verify_fill(e, db, C.sync_n, 0, R_NAMES[r]);
            close_db(e, db);
        }
    }
    wipe(path);
    (void)rep;
    /* A wanted result that this repetition did not produce (open failed,
     * or an earlier step of its phase failed) is reported as an error. */
    for (int r = 0; r < NRES; r++)
        if (want(R_WL[r]) && g_nres[e][r] == before[r] && !(r == R_TXN && !vt->txn_rmw) &&
            !(r >= R_CFILL && !codec_wanted(vt, (r - R_CFILL) % KV_NCODEC)) && !g_nocodec[e][r])
            g_failed[e][r] = 1;
}

