/*
 * server.h -- omendb-server's shared state: the client, the command and the
 * global server structure (after Redis's server.h).
 *
 * The server is one thread running one event loop (ae.c).  Every command
 * runs to completion inside a loop pass; writes go into the keyspace's
 * pending batch (keyspace.c), which the after-pass hook commits once for
 * all clients of the pass before any reply of the pass is sent
 * (networking.c), so an acknowledged write is as durable as --sync says.
 */
#ifndef OMEN_SERVER_SERVER_H
#define OMEN_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "omendb.h"
#include "server/ae.h"
#include "server/proto.h"

#define OMEN_SERVER_VERSION "7.0.0" /* Redis version announced to clients */

/* Client flags. */
#define CLIENT_CLOSE_AFTER_REPLY (1 << 0) /* QUIT, protocol error: close once sent   */
#define CLIENT_CLOSE_ASAP (1 << 1)        /* drop at the end of the pass, unsent   */
#define CLIENT_MULTI (1 << 2)             /* inside MULTI                          */
#define CLIENT_DIRTY_CAS (1 << 3)         /* a WATCHed key changed: EXEC fails     */
#define CLIENT_DIRTY_EXEC (1 << 4)        /* a queued command was refused          */
#define CLIENT_PENDING_WRITE (1 << 5)     /* on server.pending_write               */
#define CLIENT_WROTE (1 << 6)             /* executed a write in this pass         */
#define CLIENT_NO_EVICT_PASS (1 << 7)

typedef struct sarg {
    char *p;
    size_t len;
} sarg;

typedef struct multi_cmd {
    int argc;
    sarg *argv; /* each p owned (malloc) */
    struct command *cmd;
} multi_cmd;

typedef struct client {
    uint64_t id;
    int fd;
    int flags;
    int resp;          /* 2 or 3 */
    int authenticated;
    char *name;        /* CLIENT SETNAME, NULL if none */
    char addr[64], laddr[64];
    int64_t ctime_ms, last_ms;

    /* query buffer: bytes [qpos, qlen) are unparsed */
    char *qbuf;
    size_t qlen, qcap, qpos;
    proto_state ps;
    int argc;
    sarg *argv;        /* arguments of the command being run (point into qbuf) */
    int argv_cap;
    struct command *cmd, *lastcmd;
    const char *lastsub; /* lastcmd's subcommand, if a container's (CLIENT LIST cmd=) */

    /* reply buffer: bytes [bsent, blen) are unsent */
    char *buf;
    size_t blen, bcap, bsent;
    size_t bsafe;      /* bytes below this were produced by committed passes */

    /* MULTI */
    multi_cmd *mq;
    int mq_len, mq_cap;
    /* WATCH: keys watched (owned copies) */
    sarg *watched;
    int nwatched;

    struct client *prev, *next;           /* server.clients */
    struct client *pw_next;               /* server.pending_write */
} client;

/* Command flags. */
#define CMD_WRITE (1 << 0)
#define CMD_READONLY (1 << 1)
#define CMD_ADMIN (1 << 2)
#define CMD_NOAUTH (1 << 3)    /* allowed before AUTH */
#define CMD_NOMULTI (1 << 4)   /* not queued inside MULTI (runs at once)   */
#define CMD_FAST (1 << 5)
#define CMD_DENYOOM (1 << 6)
#define CMD_NOSCRIPT (1 << 7)
#define CMD_LOADING (1 << 8)
#define CMD_STALE (1 << 9)
#define CMD_NOTXN (1 << 10)    /* refused inside MULTI (vector sets)       */
#define CMD_DENYMULTI (1 << 11) /* refused inside MULTI (Redis's no-multi)  */

typedef void command_fn(client *c);

typedef struct command {
    const char *name;
    command_fn *fn;
    int arity;          /* > 0 exact argc, < 0 at least -arity */
    int flags;
    int first_key, last_key, key_step; /* last_key -1: until the last argument */
    const char *group;  /* COMMAND DOCS group: string, generic, connection, ... */
    const char *summary;
    const char *since;
    long long calls; /* INFO commandstats (rejected/failed: commands_stats) */
} command;

/* A subcommand of a container command (CLIENT ID, CONFIG GET, ...); a
 * container's list ends with name NULL.  An unknown subcommand or a wrong
 * count of arguments is refused before the command runs or is queued, as
 * Redis refuses them (commands.c). */
typedef struct subcommand {
    const char *name;
    int arity; /* as a command's, counting the container's name */
} subcommand;

enum { SYNC_NO = 0, SYNC_EVERYSEC = 1, SYNC_ALWAYS = 2 };

typedef struct server_state {
    /* configuration (config.c) */
    int port;
    char *bind[16];
    int nbind;
    char *dir;
    int sync_mode;
    char *requirepass;
    int maxclients;
    int timeout_s;
    int protected_mode;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    long long client_output_buffer_limit;
    long long max_multibulk;
    int tcp_backlog;
    char *config_file;
    char *pidfile;
    char *logfile;
    int verbosity; /* 0 warning, 1 notice, 2 verbose */
    size_t write_buffer_size, cache_size;
    int hz;
    long long key_filter_min_keys; /* key filter sized for at least this many keys */
    int background_nice;           /* nice value of the engine's background threads */
    int loop_spin_us;              /* event loop: poll this long before sleeping (ae_set_spin) */

    /* runtime */
    omen_db *db;
    ae_loop *el;
    int listen_fd[16];
    int nlisten;
    client *clients;
    client *pending_write;
    uint64_t next_client_id;
    int nclients;
    int shutdown_asap;
    int64_t start_ms;
    char run_id[41];
    int read_only_err; /* the engine turned read-only: writes are refused */

    /* stats */
    long long stat_conns, stat_cmds, stat_rejected_conns, stat_expired, stat_keyspace_hits,
        stat_keyspace_misses, stat_net_in, stat_net_out, stat_commits, stat_syncs,
        stat_output_limit_drops, stat_errors;
    int64_t last_sync_ms;
    int64_t avg_commit_us; /* recent synced commit time (--sync always) */
    int npending;          /* clients on pending_write */
} server_state;

extern server_state server;

void server_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LL_WARNING 0
#define LL_NOTICE 1
#define LL_VERBOSE 2

/* Ends the loop after this pass (SHUTDOWN, SIGTERM). */
void server_request_shutdown(void);

#endif
