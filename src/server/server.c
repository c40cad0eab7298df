/*
 * server.c -- omendb-server's main: settings, the data directory, listening
 * sockets, signals, timers, graceful shutdown; and the server commands
 * INFO, TIME, SHUTDOWN, LASTSAVE.
 *
 * Shutdown (SIGTERM, SIGINT, SHUTDOWN) ends the loop after the current
 * pass, whose writes are committed like any other; the engine is then
 * synced and closed, so a restart finds every acknowledged write.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "server/commands.h"
#include "server/config.h"
#include "server/expire.h"
#include "server/keyspace.h"
#include "server/multi.h"
#include "server/networking.h"
#include "server/t_vset.h"
#include "server/util.h"

server_state server;
static volatile sig_atomic_t got_signal;

void server_log(int level, const char *fmt, ...)
{
    if (level > server.verbosity) return;
    FILE *f = stderr;
    if (server.logfile && *server.logfile) {
        f = fopen(server.logfile, "a");
        if (!f) return;
    }
    char ts[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    localtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%d %b %Y %H:%M:%S", &tm);
    fprintf(f, "%d:M %s.%03ld %c ", (int)getpid(), ts, now.tv_nsec / 1000000,
            level == LL_WARNING ? '#' : level == LL_NOTICE ? '*' : '-');
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    if (f != stderr) fclose(f);
}

void server_request_shutdown(void)
{
    server.shutdown_asap = 1;
    ae_stop(server.el);
}

static void on_signal(int sig) { got_signal = sig; }

/* ---- timers ---------------------------------------------------------------- */

static long cron(ae_loop *el, long long id, void *data)
{
    (void)id, (void)data;
    if (got_signal) {
        server_log(LL_WARNING, "received %s, scheduling shutdown...", got_signal == SIGINT ? "SIGINT" : "SIGTERM");
        server_request_shutdown();
        (void)el;
    }
    net_close_idle();
    net_resume_accept();
    /* Give freed heap (a large pass's batch and overlay, the engine
     * threads' buffers) back to the OS: every 5 s, and at once when a
     * burst of commands ends (a tick without any after ticks with some). */
    static int ticks;
    static long long last_cmds;
    int busy = server.stat_cmds != last_cmds, trim = ++ticks % 50 == 0;
    static int was_busy;
    if (!busy && was_busy) trim = 1;
    was_busy = busy;
    last_cmds = server.stat_cmds;
    if (trim) malloc_trim(0);
    return 100;
}

/* The once-a-second sync of --sync everysec runs on a thread of its own
 * (as Redis fsyncs its AOF in a background thread): an fdatasync takes
 * 10-18 ms on this machine, all of it a stall when the loop made the call.
 * omen_sync syncs outside the engine's writer queue, so the loop keeps
 * committing passes meanwhile.  The loop's timer asks for a sync and
 * collects the outcome of the last one. */
static struct {
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int want, stop, failed; /* under mu */
    long long done;         /* syncs that succeeded, under mu */
    int64_t last_ms;        /* when the last one ended, under mu */
    int rc;                 /* the failure, under mu */
    char err[256];
} bgs = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *sync_main(void *arg)
{
    (void)arg;
    uint64_t synced_seq = 0;
    pthread_mutex_lock(&bgs.mu);
    for (;;) {
        while (!bgs.want && !bgs.stop)
            pthread_cond_wait(&bgs.cv, &bgs.mu);
        if (bgs.stop) break;
        bgs.want = 0;
        pthread_mutex_unlock(&bgs.mu);
        omen_stats st;
        int rc = OMEN_OK, did = 0;
        if (omen_get_stats(server.db, &st) == OMEN_OK && st.sequence != synced_seq) {
            rc = omen_sync(server.db);
            did = 1;
            if (!rc) synced_seq = st.sequence;
        }
        pthread_mutex_lock(&bgs.mu);
        if (rc && !bgs.failed) {
            bgs.failed = 1;
            bgs.rc = rc;
            snprintf(bgs.err, sizeof bgs.err, "%s", omen_last_error());
        } else if (did && !rc) {
            bgs.done++;
            bgs.last_ms = ae_now_ms();
        }
    }
    pthread_mutex_unlock(&bgs.mu);
    return NULL;
}

static void sync_thread_stop(void)
{
    if (!bgs.started) return;
    pthread_mutex_lock(&bgs.mu);
    bgs.stop = 1;
    pthread_cond_signal(&bgs.cv);
    pthread_mutex_unlock(&bgs.mu);
    pthread_join(bgs.th, NULL);
    bgs.started = 0;
}

static long sync_timer(ae_loop *el, long long id, void *data)
{
    (void)el, (void)id, (void)data;
    pthread_mutex_lock(&bgs.mu);
    if (bgs.failed && !server.read_only_err) {
        server_log(LL_WARNING, "syncing the log failed: %s (%s)", omen_strerror(bgs.rc), bgs.err);
        server.read_only_err = 1;
    }
    server.stat_syncs = bgs.done;
    if (bgs.last_ms) server.last_sync_ms = bgs.last_ms;
    if (server.sync_mode == SYNC_EVERYSEC && !server.read_only_err) {
        bgs.want = 1;
        pthread_cond_signal(&bgs.cv);
    }
    pthread_mutex_unlock(&bgs.mu);
    return 1000;
}

/* ---- listening ----------------------------------------------------------------- */

static int listen_on(const char *addr)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    char port[16];
    snprintf(port, sizeof port, "%d", server.port);
    int rc = getaddrinfo(addr, port, &hints, &res);
    if (rc) {
        server_log(LL_WARNING, "bad bind address %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, server.tcp_backlog) < 0) {
        server_log(LL_WARNING, "could not listen on %s:%d: %s", addr, server.port, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* ---- commands ------------------------------------------------------------------ */

static long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = 0, rss = 0;
    if (!f) return 0;
    if (fscanf(f, "%lld %lld", &pages, &rss) != 2) rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

enum {
    INFO_SERVER = 1 << 0,
    INFO_CLIENTS = 1 << 1,
    INFO_MEMORY = 1 << 2,
    INFO_PERSISTENCE = 1 << 3,
    INFO_STATS = 1 << 4,
    INFO_REPLICATION = 1 << 5,
    INFO_COMMANDSTATS = 1 << 6,
    INFO_KEYSPACE = 1 << 7,
    INFO_ALL = (1 << 8) - 1,
    INFO_DEFAULT = INFO_ALL & ~INFO_COMMANDSTATS,
};

/* INFO's sections: the union of its arguments (Redis 7 takes several),
 * "default" (or none), "all"/"everything"; unknown names add nothing. */
static int info_sections(client *c)
{
    static const struct {
        const char *name;
        int bits;
    } names[] = {
        {"server", INFO_SERVER}, {"clients", INFO_CLIENTS}, {"memory", INFO_MEMORY},
        {"persistence", INFO_PERSISTENCE}, {"stats", INFO_STATS}, {"replication", INFO_REPLICATION},
        {"commandstats", INFO_COMMANDSTATS}, {"keyspace", INFO_KEYSPACE}, {"default", INFO_DEFAULT},
        {"all", INFO_ALL}, {"everything", INFO_ALL},
    };
    if (c->argc == 1) return INFO_DEFAULT;
    int bits = 0;
    for (int j = 1; j < c->argc; j++)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (arg_is(&c->argv[j], names[i].name)) bits |= names[i].bits;
    return bits;
}

typedef struct info_buf {
    char *b;
    size_t o, cap;
} info_buf;

static void cmdstat_line(command *cmd, void *ctx)
{
    info_buf *ib = ctx;
    long long rejected, failed;
    commands_stats(cmd, &rejected, &failed);
    if (!cmd->calls && !rejected) return;
    if (ib->o + 128 > ib->cap) {
        size_t nc = ib->cap * 2 + 256;
        char *nb = realloc(ib->b, nc);
        if (!nb) return;
        ib->b = nb;
        ib->cap = nc;
    }
    ib->o += (size_t)snprintf(ib->b + ib->o, ib->cap - ib->o, "cmdstat_%s:calls=%lld,rejected_calls=%lld,failed_calls=%lld\r\n", cmd->name,
                              cmd->calls, rejected, failed);
}

static void infoCommand(client *c)
{
    int want = info_sections(c);
    char *b = malloc(65536);
    if (!b) {
        addReplyError(c, "ERR out of memory");
        return;
    }
    size_t o = 0, cap = 65536;
#define P(...) o += (size_t)snprintf(b + o, o < cap ? cap - o : 0, __VA_ARGS__)
    int64_t now = ae_now_ms();
    if (want & INFO_SERVER) {
        struct utsname u;
        uname(&u);
        P("# Server\r\nredis_version:%s\r\nomendb_version:%s\r\nredis_mode:standalone\r\n"
          "os:%s %s %s\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:%d\r\n"
          "run_id:%s\r\ntcp_port:%d\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
          "hz:%d\r\nexecutable:omendb-server\r\nconfig_file:%s\r\nio_threads_active:0\r\n\r\n",
          OMEN_SERVER_VERSION, OMEN_VERSION_STRING, u.sysname, u.release, u.machine, (int)getpid(),
          server.run_id, server.port, (long long)(now - server.start_ms) / 1000,
          (long long)(now - server.start_ms) / 86400000, server.hz,
          server.config_file ? server.config_file : "");
    }
    if (want & INFO_CLIENTS) {
        P("# Clients\r\nconnected_clients:%d\r\nmaxclients:%d\r\nblocked_clients:0\r\n"
          "tracking_clients:0\r\n\r\n", server.nclients, server.maxclients);
    }
    if (want & INFO_MEMORY) {
        omen_stats st;
        memset(&st, 0, sizeof st);
        omen_get_stats(server.db, &st);
        long long rss = rss_bytes();
        P("# Memory\r\nused_memory:%lld\r\nused_memory_rss:%lld\r\nused_memory_peak:%lld\r\n"
          "maxmemory:0\r\nmaxmemory_policy:noeviction\r\nmem_allocator:libc\r\n"
          "omendb_memtable_bytes:%llu\r\nomendb_index_bytes:%llu\r\nomendb_filter_bytes:%llu\r\n"
          "key_filter_bytes:%zu\r\n\r\n",
          rss, rss, rss, (unsigned long long)st.memtable_bytes,
          (unsigned long long)st.index_bytes, (unsigned long long)st.filter_bytes,
          ks_filter_bytes());
    }
    if (want & INFO_PERSISTENCE) {
        omen_stats st;
        memset(&st, 0, sizeof st);
        omen_get_stats(server.db, &st);
        P("# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n"
          "aof_enabled:1\r\naof_rewrite_in_progress:0\r\nomendb_sync:%s\r\nomendb_sequence:%llu\r\n"
          "omendb_wal_bytes:%llu\r\nomendb_file_bytes:%llu\r\nomendb_run_entries:%llu\r\n"
          "omendb_memtable_entries:%llu\r\nomendb_flushes:%llu\r\nomendb_compactions:%llu\r\n"
          "omendb_commits:%lld\r\nomendb_timed_syncs:%lld\r\nomendb_read_only:%d\r\n"
          "omendb_garbage_generations:%llu\r\n\r\n",
          server.sync_mode == SYNC_ALWAYS ? "always" : server.sync_mode == SYNC_EVERYSEC ? "everysec" : "no",
          (unsigned long long)st.sequence, (unsigned long long)st.wal_bytes,
          (unsigned long long)st.file_bytes, (unsigned long long)st.run_entries,
          (unsigned long long)st.memtable_entries, (unsigned long long)st.flushes,
          (unsigned long long)st.compactions, server.stat_commits, server.stat_syncs,
          st.read_only || server.read_only_err, (unsigned long long)ks_garbage_pending());
    }
    if (want & INFO_STATS) {
        P("# Stats\r\ntotal_connections_received:%lld\r\ntotal_commands_processed:%lld\r\n"
          "total_net_input_bytes:%lld\r\ntotal_net_output_bytes:%lld\r\nrejected_connections:%lld\r\n"
          "expired_keys:%lld\r\nevicted_keys:0\r\nkeyspace_hits:%lld\r\nkeyspace_misses:%lld\r\n"
          "total_error_replies:%lld\r\nclient_output_buffer_limit_disconnections:%lld\r\n\r\n",
          server.stat_conns, server.stat_cmds, server.stat_net_in, server.stat_net_out,
          server.stat_rejected_conns, server.stat_expired, server.stat_keyspace_hits,
          server.stat_keyspace_misses, server.stat_errors, server.stat_output_limit_drops);
    }
    if (want & INFO_REPLICATION) {
        P("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
    }
    if (want & INFO_COMMANDSTATS) {
        info_buf ib = {malloc(1024), 0, 1024};
        if (ib.b) {
            commands_foreach(cmdstat_line, &ib);
            P("# Commandstats\r\n%.*s\r\n", (int)ib.o, ib.b);
            free(ib.b);
        }
    }
    if (want & INFO_KEYSPACE) {
        P("# Keyspace\r\n");
        if (ks_dbsize())
            P("db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", (unsigned long long)ks_dbsize(),
              (unsigned long long)ks_expires_count());
        P("\r\n");
    }
#undef P
    if (o > cap) o = cap;
    while (o >= 2 && b[o - 1] == '\n' && b[o - 3] == '\n') o -= 2; /* drop the last blank line */
    addReplyVerbatim(c, b, o, "txt");
    free(b);
}

static void timeCommand(client *c)
{
    int64_t us = ae_now_us();
    addReplyArrayLen(c, 2);
    addReplyBulkLongLong(c, us / 1000000);
    addReplyBulkLongLong(c, us % 1000000);
}

static void lastsaveCommand(client *c)
{
    addReplyLongLong(c, (server.last_sync_ms ? server.last_sync_ms : server.start_ms) / 1000);
}

static void shutdownCommand(client *c)
{
    int save = 0, nosave = 0, abort_ = 0, other = 0;
    for (int j = 1; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "nosave")) nosave = 1;
        else if (arg_is(&c->argv[j], "save")) save = 1;
        else if (arg_is(&c->argv[j], "now") || arg_is(&c->argv[j], "force")) other = 1;
        else if (arg_is(&c->argv[j], "abort")) abort_ = 1;
        else other = save = nosave = 1; /* a syntax error */
    }
    if ((save && nosave) || (abort_ && (save || nosave || other))) {
        addReplyErrorSyntax(c);
        return;
    }
    /* ABORT cancels a shutdown waiting for replicas; ours never waits. */
    if (abort_) {
        addReplyError(c, "ERR No shutdown in progress.");
        return;
    }
    server_log(LL_WARNING, "user requested shutdown...");
    server_request_shutdown();
    /* Redis closes the connection without a reply on success. */
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

command server_commands[] = {
    {"info", infoCommand, -1, CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "Returns information and statistics about the server", "1.0.0", 0},
    {"time", timeCommand, 1, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "Returns the server time", "2.6.0", 0},
    {"lastsave", lastsaveCommand, 1, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "Returns the Unix timestamp of the last timed log sync", "1.0.0", 0},
    {"shutdown", shutdownCommand, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_DENYMULTI, 0, 0, 0, "server", "Synchronously syncs the log and shuts down the server", "1.0.0", 0},
    {0},
};

/* ---- main ------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "Usage: omendb-server [config-file] [--port 6379] [--bind 127.0.0.1 ::1] [--dir DIR]\n"
            "                     [--sync always|everysec|no] [--requirepass P] [--maxclients N]\n"
            "                     [--timeout SECONDS] [--config FILE] [--<any config name> VALUE]\n"
            "Speaks the Redis protocol; data lives in the OmenDB engine in DIR (docs/server.md).\n");
}

/* The engine's flush and compaction threads (started by omen_open) and the
 * server's sync thread get a higher nice value than the
 * event loop: on a busy machine they then take the CPU the loop leaves
 * idle instead of time-slicing with it.  They still keep up: when level 0
 * fills, the engine stalls writers, the loop waits and they run.  Nice
 * only lowers a thread's priority, so no privilege is needed. */
static void lower_engine_threads(int nice_val)
{
    if (nice_val <= 0) return;
    DIR *d = opendir("/proc/self/task");
    if (!d) return;
    pid_t self = gettid();
    /* Relative to the server's own nice value, as nice(1) counts. */
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    if (errno) base = 0;
    nice_val = base + nice_val > 19 ? 19 : base + nice_val;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid > 0 && tid != self && setpriority(PRIO_PROCESS, (id_t)tid, nice_val) != 0)
            server_log(LL_NOTICE, "cannot lower the priority of thread %d: %s", (int)tid, strerror(errno));
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage();
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))) {
        printf("omendb-server v=%s redis_compat=%s\n", OMEN_VERSION_STRING, OMEN_SERVER_VERSION);
        return 0;
    }
    config_defaults();
    if (config_parse_args(argc, argv)) {
        usage();
        return 1;
    }
    if (server.nbind == 0) {
        server.bind[server.nbind++] = strdup("127.0.0.1");
        server.bind[server.nbind++] = strdup("::1");
    }
    server.start_ms = ae_now_ms();
    srandom((unsigned)(server.start_ms ^ getpid()));
    for (int i = 0; i < 40; i++) server.run_id[i] = "0123456789abcdef"[random() & 15];
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* Enough descriptors for maxclients (plus the engine's files); under a
     * lower hard limit, fewer clients, as Redis does. */
    int fit = net_fit_maxclients(server.maxclients, 1);
    if (fit < server.maxclients) {
        server_log(LL_WARNING, "maxclients %d needs %d open files, more than the limit allows: "
                   "maxclients is now %d", server.maxclients, server.maxclients + NET_RESERVED_FDS, fit);
        server.maxclients = fit;
    }

    omen_options o;
    omen_options_init(&o);
    o.write_buffer_size = server.write_buffer_size;
    o.cache_size = server.cache_size;
    o.sync = OMEN_SYNC_RELAXED;
    int rc = omen_open(server.dir, &o, &server.db);
    if (rc) {
        server_log(LL_WARNING, "cannot open the database in %s: %s (%s)", server.dir, omen_strerror(rc), omen_last_error());
        return 1;
    }
    /* Started before the renice below, which the sync thread shares. */
    if (pthread_create(&bgs.th, NULL, sync_main, NULL) != 0) {
        server_log(LL_WARNING, "cannot start the sync thread: %s", strerror(errno));
        omen_close(server.db);
        return 1;
    }
    bgs.started = 1;
    lower_engine_threads(server.background_nice);
    rc = ks_open(server.db);
    if (rc) {
        server_log(LL_WARNING, "cannot read the keyspace: %s (%s)", omen_strerror(rc), omen_last_error());
        sync_thread_stop();
        omen_close(server.db);
        return 1;
    }
    ks_set_commit_sync(server.sync_mode == SYNC_ALWAYS ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED);
    vset_init(server.db);
    if (commands_init()) return 1;
    multi_init();
    server.el = ae_create(server.maxclients + 256);
    if (!server.el) return 1;
    for (int i = 0; i < server.nbind; i++) {
        int fd = listen_on(server.bind[i]);
        if (fd < 0) {
            /* ::1 may be absent (no IPv6): fine if another address works. */
            if (!strcmp(server.bind[i], "::1") && server.nbind > 1) continue;
            ks_close();
            vset_shutdown();
            omen_close(server.db);
            return 1;
        }
        server.listen_fd[server.nlisten++] = fd;
        ae_add(server.el, fd, AE_READABLE, net_accept_handler, NULL);
    }
    if (server.nlisten == 0) return 1;
    if (server.pidfile && *server.pidfile) {
        FILE *f = fopen(server.pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    ae_set_after_pass(server.el, net_after_pass);
    ae_set_gather(server.el, net_gather);
    ae_timer_add(server.el, 100, cron, NULL);
    ae_timer_add(server.el, 1000 / server.hz, expire_cron, NULL);
    ae_timer_add(server.el, 1000, sync_timer, NULL);
    server_log(LL_NOTICE, "omendb-server %s ready on port %d (dir %s, sync %s, %llu keys)", OMEN_VERSION_STRING,
               server.port, server.dir,
               server.sync_mode == SYNC_ALWAYS ? "always" : server.sync_mode == SYNC_EVERYSEC ? "everysec" : "no",
               (unsigned long long)ks_dbsize());
    printf("Ready to accept connections\n");
    fflush(stdout);

    ae_main(server.el);

    /* The last pass's writes are committed (after-pass ran); make all durable. */
    net_after_pass(server.el);
    sync_thread_stop();
    while (server.clients) client_free(server.clients);
    for (int i = 0; i < server.nlisten; i++) close(server.listen_fd[i]);
    rc = ks_commit(OMEN_SYNC_FULL);
    if (!rc && !server.read_only_err) rc = omen_sync(server.db);
    ks_close();
    vset_shutdown();
    int crc = omen_close(server.db);
    if (server.pidfile && *server.pidfile) unlink(server.pidfile);
    server_log(LL_WARNING, "omendb-server is now ready to exit, bye bye...");
    return rc || crc ? 1 : 0;
}
