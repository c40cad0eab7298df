/*
 * main.c -- kv_bench: a db_bench-style comparison of OmenDB with RocksDB,
 * LevelDB, LMDB and SQLite, run in one process over the same data.
 *
 * Every engine is driven through its C API behind one small interface
 * (engine.h; one adapter file per engine); OmenDB only through
 * include/omendb.h.  The workloads and their invariants are in harness.c;
 * this file parses the command line, runs the repetitions (engines
 * interleaved, so machine noise is shared) and prints the medians as
 * tables with ratios, or as CSV.  The method: docs/bench-kv.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <leveldb/c.h>
#include <lmdb.h>
#include <sqlite3.h>

#include "omendb.h"
#include "harness.h"

static char g_desc[NRES][200];

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(int e, int r)
{
    int n = g_nres[e][r];
    if (n == 0 || g_failed[e][r])
        return NAN;
    double v[MAX_REPS];
    memcpy(v, g_res[e][r], (size_t)n * sizeof v[0]);
    qsort(v, (size_t)n, sizeof v[0], cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fmt_ops(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "-");
        return;
    }
    char raw[32];
    snprintf(raw, sizeof raw, "%.0f", v);
    size_t len = strlen(raw), o = 0;
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = 0;
}

static void describe(void)
{
    snprintf(g_desc[R_FILLSEQ], 200, "%" PRIu64 " puts in key order, 1 thread, no-sync", C.n);
    snprintf(g_desc[R_FILLRANDOM], 200, "%" PRIu64 " puts in a random permutation, 1 thread, no-sync",
             C.n);
    snprintf(g_desc[R_READRANDOM], 200, "%" PRIu64 " gets of random present keys, 1 thread", C.reads);
    snprintf(g_desc[R_READMISSING], 200,
             "%" PRIu64 " gets of random absent keys (odd numbers between stored keys), 1 thread",
             C.reads);
    snprintf(g_desc[R_READSEQ], 200, "one full forward scan, ops = entries");
    snprintf(g_desc[R_SEEKRANDOM], 200, "%" PRIu64 " seeks to random numbers in [0,2n) + %d nexts",
             C.reads, SEEK_NEXTS);
    snprintf(g_desc[R_RWW1], 200,
             "%" PRIu64 " random gets by 1 reader while 1 writer overwrites at %" PRIu64 "/s",
             C.reads, C.rww_rate);
    snprintf(g_desc[R_RWW2], 200,
             "%" PRIu64 " random gets split over 2 readers while 1 writer overwrites at %" PRIu64
             "/s",
             C.reads, C.rww_rate);
    snprintf(g_desc[R_OVERWRITE], 200, "%" PRIu64 " puts of random present keys, 1 thread, no-sync",
             C.writes);
    snprintf(g_desc[R_TXN], 200,
             "%" PRIu64 " transactions (read 2 random keys, write both back +1), %d threads, no-sync",
             C.txn_n, C.txn_threads);
    for (int i = 0; i < 3; i++)
        snprintf(g_desc[R_SYNC1 + i], 200, "%" PRIu64 " puts, random order, %d writer(s), fsync per write",
                 C.sync_n, SYNC_WRITERS[i]);
    for (int c = 0; c < KV_NCODEC; c++) {
        snprintf(g_desc[R_CFILL + c], 200,
                 "per codec: %" PRIu64 " puts in a random permutation (fill), untimed settle "
                 "(flush + full compaction), %" PRIu64 " random gets (read); MiB = files in the "
                 "database directory after the settle",
                 C.n, C.reads);
        snprintf(g_desc[R_CREAD + c], 200, "%" PRIu64 " gets of random present keys, %s blocks",
                 C.reads, KV_CODEC_NAMES[c]);
    }
}

static void print_header(FILE *f)
{
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    fprintf(f, "kv_bench  %s  (OmenDB %s, RocksDB 7.8 C API, LevelDB %d.%d, LMDB %d.%d.%d, SQLite %s)\n",
            date, OMEN_VERSION_STRING, leveldb_major_version(), leveldb_minor_version(),
            MDB_VERSION_MAJOR, MDB_VERSION_MINOR, MDB_VERSION_PATCH, sqlite3_libversion());
    fprintf(f, "data: n=%" PRIu64 ", %s, %zu-byte values (50%% compressible), seed %" PRIu64
               ", dir %s/<engine>\n",
            C.n, C.int_keys ? "8-byte big-endian integer keys" : "16-byte decimal keys", C.vsize,
            C.seed, C.dir);
    fprintf(f, "reps: %d (median reported, engines interleaved per rep); reads=%" PRIu64
               " writes=%" PRIu64 " sync-n=%" PRIu64 " txn-n=%" PRIu64 " txn-threads=%d rww-rate=%" PRIu64 "/s\n",
            C.reps, C.reads, C.writes, C.sync_n, C.txn_n, C.txn_threads, C.rww_rate);
    double la[3] = {0, 0, 0};
    if (getloadavg(la, 3) < 0)
        la[0] = la[1] = la[2] = -1;
    fprintf(f, "duration cap per read/overwrite/txn run: %.0f s (ops/s = ops done / time taken); "
               "load average at start of report: %.2f %.2f %.2f on %ld cores\n",
            C.duration, la[0], la[1], la[2], sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(f, "settle after fillrandom: %s\n",
            C.settle_compact ? "full manual compaction for every LSM (omendb flush+compact_range, "
                               "rocksdb/leveldb compact_range), SQLite wal_checkpoint(TRUNCATE), "
                               "LMDB nothing; untimed"
                             : "nothing forced: LSM reads may overlap background compaction");
    fprintf(f, "no-sync mode: log on, no fsync per write: omendb OMEN_SYNC_RELAXED, rocksdb/leveldb "
               "sync=false, lmdb MDB_NOSYNC (no WAL; survives a process crash), sqlite WAL + "
               "synchronous=NORMAL, one autocommit transaction per write\n");
    fprintf(f, "sync mode: fsync per write: omendb OMEN_SYNC_FULL, rocksdb/leveldb sync=true, "
               "lmdb default sync, sqlite WAL + synchronous=FULL\n");
    fprintf(f, "cache/bloom: omendb cache 64 MiB bloom 10, memtable 64 MiB; rocksdb LRU block cache "
               "64 MiB, full bloom 10, write_buffer 64 MiB; leveldb cache 64 MiB, bloom 10, "
               "write_buffer 64 MiB; compression off for all but the compression workload; "
               "lmdb map sized for the data, "
               "MDB_NOTLS, one read txn per get; sqlite cache_size 64 MiB per connection\n");
}

/* Result r's per-operation latency per engine, when it recorded any. */
static void print_latency(int r)
{
    int any = 0;
    for (int e = 0; e < NENG; e++)
        any |= g_lat[e][r] && g_lat[e][r]->n && !g_failed[e][r];
    if (!any)
        return;
    printf("  %-8s %10s %10s %10s %10s  (latency, us; all reps pooled)\n", "engine", "p50", "p99",
           "p99.9", "max");
    for (int e = 0; e < NENG; e++) {
        const hist_t *h = g_lat[e][r];
        if (!((C.engines >> e) & 1u) || !h || !h->n || g_failed[e][r])
            continue;
        printf("  %-8s %10.2f %10.2f %10.2f %10.2f\n", ENGINES[e]->name,
               (double)hist_quantile(h, 0.5) / 1e3, (double)hist_quantile(h, 0.99) / 1e3,
               (double)hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3);
    }
}

static void fmt_result(int e, int r, char *buf, size_t cap)
{
    if (g_failed[e][r])
        snprintf(buf, cap, "error");
    else if (!g_nres[e][r])
        snprintf(buf, cap, "n/a");
    else
        fmt_ops(median(e, r), buf, cap);
}

/* The compression workload's results: one row per engine and codec. */
static void print_compression(void)
{
    if (!((C.wls >> WL_COMPRESS) & 1u))
        return;
    printf("\ncompression: %s\n", g_desc[R_CFILL]);
    printf("  %-8s %-7s %14s %14s %12s  %s\n", "engine", "codec", "fill ops/s", "read ops/s",
           "MiB on disk", "size vs none");
    for (int e = 0; e < NENG; e++) {
        if (!((C.engines >> e) & 1u))
            continue;
        for (int c = 0; c < KV_NCODEC; c++) {
            int rf = R_CFILL + c, rr = R_CREAD + c;
            if (!g_nres[e][rf] && !g_failed[e][rf] && !g_note[e][rf][0])
                continue;
            char f[40], rd[40];
            fmt_result(e, rf, f, sizeof f);
            fmt_result(e, rr, rd, sizeof rd);
            printf("  %-8s %-7s %14s %14s", ENGINES[e]->name, KV_CODEC_NAMES[c], f, rd);
            if (g_bytes[e][rf])
                printf(" %12.1f", (double)g_bytes[e][rf] / 1048576.0);
            else
                printf(" %12s", "-");
            if (g_bytes[e][rf] && g_bytes[e][R_CFILL])
                printf("  %11.2fx", (double)g_bytes[e][rf] / (double)g_bytes[e][R_CFILL]);
            for (int r = rf; r <= rr; r += KV_NCODEC)
                if (g_note[e][r][0])
                    printf("   [%s]", g_note[e][r]);
            printf("\n");
        }
    }
}

static void report(void)
{
    if (C.csv) {
        printf("engine,workload,n,ops_per_sec,p50_ns,p99_ns,p999_ns,max_ns,db_bytes\n");
        for (int r = 0; r < NRES; r++)
            for (int e = 0; e < NENG; e++) {
                if (!((C.engines >> e) & 1u) || (!g_nres[e][r] && !g_failed[e][r]))
                    continue;
                double m = median(e, r);
                const hist_t *h = g_lat[e][r];
                printf("%s,%s,%" PRIu64 ",", ENGINES[e]->name, R_NAMES[r], C.n);
                if (isnan(m))
                    printf("error,,,,,\n");
                else if (h && h->n)
                    printf("%.0f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",\n", m,
                           hist_quantile(h, 0.5), hist_quantile(h, 0.99), hist_quantile(h, 0.999),
                           h->max);
                else if (g_bytes[e][r])
                    printf("%.0f,,,,,%" PRIu64 "\n", m, g_bytes[e][r]);
                else
                    printf("%.0f,,,,,\n", m);
            }
        /* The notes (writer rates, conflicts, settle times, n/a reasons)
         * have no CSV column; they go beside the settings, to stderr. */
        for (int r = 0; r < NRES; r++)
            for (int e = 0; e < NENG; e++)
                if (((C.engines >> e) & 1u) && g_note[e][r][0])
                    fprintf(stderr, "note: %s %s: %s\n", ENGINES[e]->name, R_NAMES[r], g_note[e][r]);
        return;
    }
    printf("\n");
    print_header(stdout);
    int om = (C.engines >> ENG_OM) & 1u;
    for (int r = 0; r < R_CFILL; r++) {
        int any = 0;
        for (int e = 0; e < NENG; e++)
            any |= g_nres[e][r] || g_failed[e][r];
        if (!any)
            continue;
        printf("\n%s: %s\n", R_NAMES[r], g_desc[r]);
        printf("  %-8s %14s %s\n", "engine", "ops/s", om ? "  omendb/engine" : "");
        double mo = median(ENG_OM, r);
        for (int e = 0; e < NENG; e++) {
            if (!((C.engines >> e) & 1u))
                continue;
            char buf[40];
            double m = median(e, r);
            if (g_failed[e][r])
                snprintf(buf, sizeof buf, "error");
            else if (!g_nres[e][r])
                snprintf(buf, sizeof buf, "n/a");
            else
                fmt_ops(m, buf, sizeof buf);
            printf("  %-8s %14s", ENGINES[e]->name, buf);
            if (om && e != ENG_OM && !isnan(m) && !isnan(mo))
                printf("  %12.2fx", mo / m);
            if (g_note[e][r][0])
                printf("   [%s]", g_note[e][r]);
            printf("\n");
        }
        print_latency(r);
    }
    print_compression();
    printf("\n(checksum of touched values: %016" PRIx64 ")\n", (uint64_t)g_sink);
}

/* ---- command line --------------------------------------------------------- */

static uint64_t parse_count(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) {
        fprintf(stderr, "bad number: %s\n", s);
        exit(2);
    }
    if (*end == 'k' || *end == 'K')
        v *= 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1e6, end++;
    else if (*end == 'g' || *end == 'G')
        v *= 1e9, end++;
    if (*end) {
        fprintf(stderr, "bad number: %s\n", s);
        exit(2);
    }
    return (uint64_t)v;
}

static unsigned parse_list(const char *s, const char *const *names, int n, const char *what)
{
    unsigned mask = 0;
    char *copy = strdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int i;
        if (!strcmp(tok, "all")) {
            mask = (1u << n) - 1;
            continue;
        }
        for (i = 0; i < n && strcmp(tok, names[i]); i++) {
        }
        if (i == n) {
            fprintf(stderr, "unknown %s: %s (known:", what, tok);
            for (int j = 0; j < n; j++)
                fprintf(stderr, " %s", names[j]);
            fprintf(stderr, ")\n");
            exit(2);
        }
        mask |= 1u << i;
    }
    free(copy);
    return mask;
}

static void usage(void)
{
    printf("usage: kv_bench [options]\n"
           "  --n N              keys (suffix k/M; default 2M)\n"
           "  --value-size B     value bytes (default 100, >= 8)\n"
           "  --keys str|int     16-byte decimal keys (default) or 8-byte big-endian integers\n"
           "  --dir PATH         database root (default /tmp/kvbench); each engine uses and wipes\n"
           "                     PATH/<engine>\n"
           "  --engines LIST     comma list of omendb,rocksdb,leveldb,lmdb,sqlite (default all)\n"
           "  --workloads LIST   comma list (default: all but compression; 'all' adds it),\n"
           "                     or 'list' to print the names\n"
           "  --compression LIST codecs of the compression workload: none,lz4,zstd,snappy\n"
           "                     (default all four; engines that cannot use one skip it)\n"
           "  --reps R           repetitions, median reported (default 3)\n"
           "  --reads N          operations per read workload (default min(n, 2M))\n"
           "  --writes N         operations of overwrite (default min(n, 2M))\n"
           "  --sync-n N         puts per fillsync run, all writers together (default 10000)\n"
           "  --txn-n N          transactions (default min(n, 500k))\n"
           "  --txn-threads T    transaction threads (default 2)\n"
           "  --rww-rate W       writer rate in readwhilewriting, writes/s (default 20000)\n"
           "  --settle compact|none  after fillrandom (default compact)\n"
           "  --duration S       cap in seconds of each random-read, seek, overwrite,\n"
           "                     readwhilewriting and txn run (default 20; 0 = none);\n"
           "                     fills, readseq and fillsync always run to completion\n"
           "  --seed S           (default 301)\n"
           "  --quick            small run: n=20k, reps 1, sync-n 500, txn-n 5000\n"
           "  --verify           read back samples after each fill; check txn counters\n"
           "  --no-latency       do not record per-operation latency (readrandom, overwrite,\n"
           "                     readwhilewriting, fillsync record it by default)\n"
           "  --csv              print engine,workload,n,ops_per_sec,p50_ns,p99_ns,p999_ns,max_ns,\n"
           "                     db_bytes on stdout (latency fields empty where none is recorded,\n"
           "                     db_bytes only on the compression workload's fill rows)\n");
}

int main(int argc, char **argv)
{
    enum { O_N = 256, O_VS, O_KEYS, O_DIR, O_ENG, O_WL, O_REPS, O_READS, O_WRITES, O_SYNCN,
           O_TXNN, O_TXNT, O_RATE, O_SETTLE, O_DUR, O_SEED, O_QUICK, O_VERIFY, O_CSV, O_HELP,
           O_NOLAT, O_CODECS };
    static const struct option opts[] = {
        {"n", 1, 0, O_N},           {"value-size", 1, 0, O_VS}, {"keys", 1, 0, O_KEYS},
        {"dir", 1, 0, O_DIR},       {"engines", 1, 0, O_ENG},   {"workloads", 1, 0, O_WL},
        {"reps", 1, 0, O_REPS},     {"reads", 1, 0, O_READS},   {"writes", 1, 0, O_WRITES},
        {"sync-n", 1, 0, O_SYNCN},  {"txn-n", 1, 0, O_TXNN},    {"txn-threads", 1, 0, O_TXNT},
        {"rww-rate", 1, 0, O_RATE}, {"settle", 1, 0, O_SETTLE}, {"seed", 1, 0, O_SEED},
        {"quick", 0, 0, O_QUICK},   {"verify", 0, 0, O_VERIFY}, {"csv", 0, 0, O_CSV},
        {"help", 0, 0, O_HELP},     {"duration", 1, 0, O_DUR},  {"no-latency", 0, 0, O_NOLAT},
        {"compression", 1, 0, O_CODECS},
        {0, 0, 0, 0}};
    const char *engines = NULL, *wls = NULL, *codecs = NULL;
    int64_t n = -1, reads = -1, writes = -1, sync_n = -1, txn_n = -1, reps = -1;
    int quick = 0, c;
    C.vsize = 100;
    C.dir = "/tmp/kvbench";
    C.txn_threads = 2;
    C.rww_rate = 20000;
    C.settle_compact = 1;
    C.seed = 301;
    C.duration = 20;
    C.latency = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_N: n = (int64_t)parse_count(optarg); break;
        case O_VS: C.vsize = (size_t)parse_count(optarg); break;
        case O_KEYS:
            if (strcmp(optarg, "int") && strcmp(optarg, "str")) {
                fprintf(stderr, "--keys int|str\n");
                return 2;
            }
            C.int_keys = !strcmp(optarg, "int");
            break;
        case O_DIR: C.dir = optarg; break;
        case O_ENG: engines = optarg; break;
        case O_WL: wls = optarg; break;
        case O_REPS: reps = (int64_t)parse_count(optarg); break;
        case O_READS: reads = (int64_t)parse_count(optarg); break;
        case O_WRITES: writes = (int64_t)parse_count(optarg); break;
        case O_SYNCN: sync_n = (int64_t)parse_count(optarg); break;
        case O_TXNN: txn_n = (int64_t)parse_count(optarg); break;
        case O_TXNT: C.txn_threads = (int)parse_count(optarg); break;
        case O_RATE: C.rww_rate = parse_count(optarg); break;
        case O_SETTLE:
            if (strcmp(optarg, "compact") && strcmp(optarg, "none")) {
                fprintf(stderr, "--settle compact|none\n");
                return 2;
            }
            C.settle_compact = !strcmp(optarg, "compact");
            break;
        case O_SEED: C.seed = parse_count(optarg); break;
        case O_DUR: C.duration = strtod(optarg, NULL); break;
        case O_QUICK: quick = 1; break;
        case O_VERIFY: C.verify = 1; break;
        case O_CSV: C.csv = 1; break;
        case O_NOLAT: C.latency = 0; break;
        case O_CODECS: codecs = optarg; break;
        case O_HELP: usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (optind < argc) {
        usage();
        return 2;
    }
    if (wls && !strcmp(wls, "list")) {
        for (int i = 0; i < NWL; i++)
            printf("%s\n", WL_NAMES[i]);
        return 0;
    }
    C.n = n >= 0 ? (uint64_t)n : quick ? 20000 : 2000000;
    C.reps = reps >= 0 ? (int)reps : quick ? 1 : 3;
    uint64_t cap = quick ? C.n : 2000000;
    C.reads = reads >= 0 ? (uint64_t)reads : C.n < cap ? C.n : cap;
    C.writes = writes >= 0 ? (uint64_t)writes : C.n < cap ? C.n : cap;
    C.sync_n = sync_n >= 0 ? (uint64_t)sync_n : quick ? 500 : 10000;
    C.txn_n = txn_n >= 0 ? (uint64_t)txn_n : quick ? 5000 : C.n < 500000 ? C.n : 500000;
    C.klen = C.int_keys ? 8 : 16;
    C.engines = engines ? parse_list(engines, (const char *const[]){"omendb", "rocksdb", "leveldb",
                                                                    "lmdb", "sqlite"},
                                     NENG, "engine")
                        : (1u << NENG) - 1;
    C.wls = wls ? parse_list(wls, WL_NAMES, NWL, "workload") : ((1u << NWL) - 1) & ~(1u << WL_COMPRESS);
    C.codecs = codecs ? parse_list(codecs, KV_CODEC_NAMES, KV_NCODEC, "codec") : (1u << KV_NCODEC) - 1;
    if (C.n < 2 || C.n > UINT32_MAX || C.vsize < 8 || C.vsize > VBUF_SPAN || C.reps < 1 ||
        C.reps > MAX_REPS || C.txn_threads < 1 || C.txn_threads > 32 || C.rww_rate < 1) {
        fprintf(stderr, "bad parameters: need 2 <= n < 2^32, 8 <= value-size <= 1 MiB, "
                        "1 <= reps <= %d, 1 <= txn-threads <= 32\n",
                MAX_REPS);
        return 2;
    }
    if (C.sync_n > C.n)
        C.sync_n = C.n; /* fillsync writes distinct keys from the permutation */
    if (mkdir(C.dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mkdir %s: %s\n", C.dir, strerror(errno));
        return 1;
    }
    if (make_data()) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    describe();
    print_header(stderr);
    for (int rep = 0; rep < C.reps; rep++) {
        for (int e = 0; e < NENG; e++) {
            if (!((C.engines >> e) & 1u))
                continue;
            if (!C.csv)
                fprintf(stderr, "-- rep %d/%d: %s\n", rep + 1, C.reps, ENGINES[e]->name);
            bench_engine(e, rep);
        }
    }
    report();
    free_data();
    return 0;
}

