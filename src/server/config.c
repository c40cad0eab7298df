/*
 * config.c -- settings (see config.h).
 *
 * One table describes every setting: its name (and Redis aliases), its
 * kind, where it lives in `server`, and whether CONFIG SET may change it
 * while running (listening sockets, the data directory and buffer sizes
 * of the open engine cannot change).  CONFIG GET answers from the same
 * table, so what it prints is what the server uses.
 */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/commands.h"
#include "server/networking.h"
#include "server/util.h"

/* C_MEM: a long long byte count ("64mb"); C_INT, C_LL: counts. */
enum { C_INT, C_LL, C_MEM, C_BOOL, C_STR, C_SYNC, C_BIND, C_LOGLEVEL, C_CONST, C_OBL };

typedef struct config_entry {
    const char *name;
    int kind;
    void *ptr;
    int mutable_;
    long long min, max;
    const char *constval; /* C_CONST: fixed answer (Redis settings that do not apply) */
} config_entry;

static config_entry table[] = {
    {"port", C_INT, &server.port, 0, 0, 65535, NULL},
    {"bind", C_BIND, NULL, 0, 0, 0, NULL},
    {"dir", C_STR, &server.dir, 0, 0, 0, NULL},
    {"sync", C_SYNC, &server.sync_mode, 1, 0, 0, NULL},
    {"appendfsync", C_SYNC, &server.sync_mode, 1, 0, 0, NULL},
    {"requirepass", C_STR, &server.requirepass, 1, 0, 0, NULL},
    {"maxclients", C_INT, &server.maxclients, 1, 1, 1000000, NULL},
    {"timeout", C_INT, &server.timeout_s, 1, 0, 1 << 30, NULL},
    {"protected-mode", C_BOOL, &server.protected_mode, 1, 0, 1, NULL},
    {"proto-max-bulk-len", C_MEM, &server.proto_max_bulk_len, 1, 1024 * 1024, 512LL * 1024 * 1024, NULL},
    {"client-query-buffer-limit", C_MEM, &server.client_query_buffer_limit, 1, 1024 * 1024, 1LL << 40, NULL},
    {"client-output-buffer-limit", C_OBL, &server.client_output_buffer_limit, 1, 0, 1LL << 40, NULL},
    {"max-multibulk-len", C_LL, &server.max_multibulk, 1, 1024, 0x7FFFFFFF, NULL},
    {"tcp-backlog", C_INT, &server.tcp_backlog, 0, 1, 65535, NULL},
    /* Redis's bounds; the value is then clamped to 1..500, as Redis does. */
    {"hz", C_INT, &server.hz, 1, 0, 0x7FFFFFFF, NULL},
    {"key-filter-min-keys", C_LL, &server.key_filter_min_keys, 0, 1, 1LL << 32, NULL},
    {"background-nice", C_INT, &server.background_nice, 0, 0, 19, NULL},
    {"loop-spin-us", C_INT, &server.loop_spin_us, 1, 0, 10000, NULL},
    {"loglevel", C_LOGLEVEL, &server.verbosity, 1, 0, 0, NULL},
    {"logfile", C_STR, &server.logfile, 0, 0, 0, NULL},
    {"pidfile", C_STR, &server.pidfile, 0, 0, 0, NULL},
    {"write-buffer-size", C_MEM, NULL, 0, 1 << 20, 1LL << 34, NULL},
    {"cache-size", C_MEM, NULL, 0, 0, 1LL << 40, NULL},
    /* Redis settings tools ask about; the engine's log is always on. */
    {"appendonly", C_CONST, NULL, 0, 0, 0, "yes"},
    {"save", C_CONST, NULL, 0, 0, 0, ""},
    {"databases", C_CONST, NULL, 0, 0, 0, "1"},
    {"maxmemory", C_CONST, NULL, 0, 0, 0, "0"},
    {"maxmemory-policy", C_CONST, NULL, 0, 0, 0, "noeviction"},
    {"daemonize", C_CONST, NULL, 0, 0, 0, "no"},
    {"cluster-enabled", C_CONST, NULL, 0, 0, 0, "no"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

void config_defaults(void)
{
    server.port = 6379;
    server.nbind = 0;
    server.dir = strdup("./omendb-data");
    server.sync_mode = SYNC_EVERYSEC;
    server.requirepass = NULL;
    server.maxclients = 10000;
    server.timeout_s = 0;
    server.protected_mode = 1;
    server.proto_max_bulk_len = 512LL * 1024 * 1024;
    server.client_query_buffer_limit = 1024LL * 1024 * 1024;
    server.client_output_buffer_limit = 1024LL * 1024 * 1024;
    server.max_multibulk = 8 * 1024 * 1024;
    server.tcp_backlog = 511;
    server.hz = 10;
    server.key_filter_min_keys = 1 << 20;
    server.background_nice = 0;
    server.loop_spin_us = 50;
    server.verbosity = LL_NOTICE;
    server.write_buffer_size = 32u << 20;
    server.cache_size = 32u << 20;
}

/* A count, as Redis reads one: an optional '-' and decimal digits, no
 * leading zero, sign, space or unit ("1k" is a size, not a count). */
static int parse_count(const char *s, long long *out)
{
    const char *d = s + (*s == '-');
    if (*d < '0' || *d > '9' || (*d == '0' && (d[1] || d != s))) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

static int parse_size(const char *s, long long *out)
{
    /* 1k 1kb 1m 1mb 1g 1gb (1024-based, like redis.conf) or plain bytes */
    char *end;
    if (*s < '0' || *s > '9') return -1; /* no sign or space, as Redis */
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno) return -1;
    long long mul = 1;
    if (!strcasecmp(end, "k") || !strcasecmp(end, "kb")) mul = 1024;
    else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb")) mul = 1024 * 1024;
    else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb")) mul = 1024LL * 1024 * 1024;
    else if (*end) return -1;
    if (v < 0 || (v && mul > (1LL << 62) / v)) return -1;
    *out = v * mul;
    return 0;
}

static config_entry *find(const char *name)
{
    for (config_entry *e = table; e->name; e++)
        if (!strcasecmp(e->name, name)) return e;
    return NULL;
}

/* The setting a command argument names (find for a request's bytes). */
static config_entry *find_arg(const sarg *a)
{
    for (config_entry *e = table; e->name; e++)
        if (arg_is(a, e->name)) return e;
    return NULL;
}

/* Parses e's value from argv and, unless check_only, stores it.  0, or -1
 * with *err set (in Redis's words where Redis has the setting). */
static int config_value(config_entry *e, int argc, char **argv, int startup, int check_only, const char **err)
{
    static char range_err[96];
    const char *v = argc ? argv[0] : "";
    long long n;
    switch (e->kind) {
    case C_INT:
    case C_LL:
    case C_MEM:
        /* A negative count parses (and is out of range); a size cannot. */
        if (e->kind == C_MEM ? parse_size(v, &n) : parse_count(v, &n)) {
            *err = e->kind == C_MEM ? "argument must be a memory value" : "argument couldn't be parsed into an integer";
            return -1;
        }
        if (n < e->min || n > e->max) {
            snprintf(range_err, sizeof range_err, "argument must be between %lld and %lld inclusive", e->min, e->max);
            *err = range_err;
            return -1;
        }
        if (!startup && e->ptr == &server.maxclients) {
            int fit = net_fit_maxclients((int)n, !check_only);
            if (fit < n) {
                static char msg[128];
                snprintf(msg, sizeof msg, "The operating system is not able to handle the specified "
                         "number of clients, try with %d", fit);
                *err = msg;
                return -1;
            }
        }
        if (check_only) return 0;
        if (e->ptr == &server.hz) n = n < 1 ? 1 : n > 500 ? 500 : n;
        if (!strcmp(e->name, "write-buffer-size")) server.write_buffer_size = (size_t)n;
        else if (!strcmp(e->name, "cache-size")) server.cache_size = (size_t)n;
        else if (e->kind == C_INT) *(int *)e->ptr = (int)n;
        else *(long long *)e->ptr = n;
        return 0;
    case C_OBL:
        /* "<bytes>" or Redis's "normal <hard> <soft> <seconds> ...": the
         * normal class's hard limit applies to every client. */
        if (argc == 1 && strchr(v, ' ')) {
            char cls[32], hard[32];
            if (sscanf(v, "%31s %31s", cls, hard) != 2 || strcasecmp(cls, "normal") || parse_size(hard, &n)) {
                *err = "argument must be a memory value or 'normal <hard> <soft> <seconds>'";
                return -1;
            }
        } else if (argc >= 2 && !strcasecmp(argv[0], "normal")) {
            if (parse_size(argv[1], &n)) {
                *err = "argument must be a memory value";
                return -1;
            }
        } else if (parse_size(v, &n)) {
            *err = "argument must be a memory value";
            return -1;
        }
        if (!check_only) *(long long *)e->ptr = n;
        return 0;
    case C_BOOL: {
        int b = !strcasecmp(v, "yes") ? 1 : !strcasecmp(v, "no") ? 0 : -1;
        if (b < 0) {
            *err = "argument must be 'yes' or 'no'";
            return -1;
        }
        if (!check_only) *(int *)e->ptr = b;
        return 0;
    }
    case C_STR: {
        if (check_only) return 0;
        char **p = e->ptr;
        free(*p);
        *p = (*v || e->ptr != &server.requirepass) ? strdup(v) : NULL;
        if (e->ptr == &server.requirepass && *p && !**p) {
            free(*p);
            *p = NULL;
        }
        return 0;
    }
    case C_SYNC: {
        int m = !strcasecmp(v, "always") ? SYNC_ALWAYS : !strcasecmp(v, "everysec") ? SYNC_EVERYSEC
              : !strcasecmp(v, "no") ? SYNC_NO : -1;
        if (m < 0) {
            *err = "argument(s) must be one of the following: everysec, always, no";
            return -1;
        }
        if (!check_only) server.sync_mode = m;
        return 0;
    }
    case C_BIND:
        if (check_only) return 0;
        for (int i = 0; i < server.nbind; i++) free(server.bind[i]);
        server.nbind = 0;
        for (int i = 0; i < argc && i < 16; i++) {
            /* A config-file line may hold all addresses in one value. */
            char *copy = strdup(argv[i]), *save = NULL;
            for (char *t = strtok_r(copy, " ", &save); t && server.nbind < 16; t = strtok_r(NULL, " ", &save))
                server.bind[server.nbind++] = strdup(t);
            free(copy);
        }
        return 0;
    case C_LOGLEVEL: {
        int l = !strcasecmp(v, "warning") ? LL_WARNING : !strcasecmp(v, "notice") ? LL_NOTICE
              : (!strcasecmp(v, "verbose") || !strcasecmp(v, "debug")) ? LL_VERBOSE : -1;
        if (l < 0) {
            *err = "argument(s) must be one of the following: debug, verbose, notice, warning";
            return -1;
        }
        if (!check_only) server.verbosity = l;
        return 0;
    }
    case C_CONST:
        if (startup) return 0; /* accepted in files for compatibility, ignored */
        *err = "can't set immutable config";
        return -1;
    }
    return -1;
}

int config_apply(const char *name, int argc, char **argv, int startup, const char **err)
{
    config_entry *e = find(name);
    if (!e) {
        *err = "Unknown option or number of arguments for CONFIG SET";
        return -1;
    }
    if (!startup && !e->mutable_) {
        *err = "can't set immutable config";
        return -1;
    }
    if (e->kind != C_BIND && argc != 1 && !(e->kind == C_OBL && argc >= 1)) {
        *err = "wrong number of arguments";
        return -1;
    }
    return config_value(e, argc, argv, startup, 0, err);
}

static void value_of(config_entry *e, char *out, size_t cap)
{
    switch (e->kind) {
    case C_INT: snprintf(out, cap, "%d", *(int *)e->ptr); break;
    case C_LL:
    case C_MEM:
        if (!strcmp(e->name, "write-buffer-size")) snprintf(out, cap, "%zu", server.write_buffer_size);
        else if (!strcmp(e->name, "cache-size")) snprintf(out, cap, "%zu", server.cache_size);
        else snprintf(out, cap, "%lld", *(long long *)e->ptr);
        break;
    case C_OBL: snprintf(out, cap, "normal %lld 0 0", *(long long *)e->ptr); break;
    case C_BOOL: snprintf(out, cap, "%s", *(int *)e->ptr ? "yes" : "no"); break;
    case C_STR: snprintf(out, cap, "%s", *(char **)e->ptr ? *(char **)e->ptr : ""); break;
    case C_SYNC:
        snprintf(out, cap, "%s", server.sync_mode == SYNC_ALWAYS ? "always" : server.sync_mode == SYNC_EVERYSEC ? "everysec" : "no");
        break;
    case C_BIND: {
        size_t o = 0;
        out[0] = 0;
        for (int i = 0; i < server.nbind && o < cap; i++)
            o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? " " : "", server.bind[i]);
        break;
    }
    case C_LOGLEVEL:
        snprintf(out, cap, "%s", server.verbosity == LL_WARNING ? "warning" : server.verbosity == LL_NOTICE ? "notice" : "verbose");
        break;
    case C_CONST: snprintf(out, cap, "%s", e->constval); break;
    }
}

/* Split a config-file line into words (quotes as in inline requests). */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) break;
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            words[n++] = p;
            while (*p && *p != q) p++;
            if (*p) *p++ = 0;
        } else {
            words[n++] = p;
            while (*p && !isspace((unsigned char)*p)) p++;
            if (*p) *p++ = 0;
        }
    }
    return n;
}

int config_load_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "omendb-server: cannot open config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *words[32];
        char *h = strchr(line, '#');
        if (h && (h == line || isspace((unsigned char)h[-1]))) *h = 0;
        int n = split_words(line, words, 32);
        if (n == 0) continue;
        const char *err = NULL;
        if (config_apply(words[0], n - 1, words + 1, 1, &err)) {
            fprintf(stderr, "omendb-server: %s:%d: '%s': %s\n", path, lineno, words[0], err);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

int config_parse_args(int argc, char **argv)
{
    int i = 1;
    if (i < argc && argv[i][0] != '-') {
        free(server.config_file);
        server.config_file = strdup(argv[i]);
        if (config_load_file(argv[i])) return -1;
        i++;
    }
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "omendb-server: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
        const char *name = argv[i] + 2;
        int j = i + 1;
        while (j < argc && strncmp(argv[j], "--", 2) != 0) j++;
        if (!strcmp(name, "config")) {
            if (j - i - 1 != 1) {
                fprintf(stderr, "omendb-server: --config takes one file\n");
                return -1;
            }
            free(server.config_file);
            server.config_file = strdup(argv[i + 1]);
            if (config_load_file(argv[i + 1])) return -1;
        } else {
            const char *err = NULL;
            if (config_apply(name, j - i - 1, argv + i + 1, 1, &err)) {
                fprintf(stderr, "omendb-server: --%s: %s\n", name, err);
                return -1;
            }
        }
        i = j;
    }
    return 0;
}

/* CONFIG SET's pair at argv[j]: its entry's value parsed into *e from
 * the argument (words split for client-output-buffer-limit). */
static int config_set_pair(client *c, int j, config_entry *e, int check_only, const char **err)
{
    const sarg *a = &c->argv[j + 1];
    /* Values are C strings from here on (as from the command line): one
     * with a NUL would be cut short, so it is refused. */
    if (memchr(a->p, 0, a->len)) {
        *err = "argument must not contain a NUL byte";
        return -1;
    }
    char *val = malloc(a->len + 1);
    if (!val) {
        *err = "out of memory";
        return -1;
    }
    memcpy(val, a->p, a->len);
    val[a->len] = 0;
    char *vp = val, *words[16];
    int rc;
    if (e->kind == C_OBL) {
        int nargs = split_words(val, words, 16);
        rc = config_value(e, nargs, words, 0, check_only, err);
    } else {
        rc = config_value(e, 1, &vp, 0, check_only, err);
    }
    free(val);
    return rc;
}

/* As Redis: names and duplicates first, then every value, and only then
 * is anything changed, so a failed CONFIG SET changes nothing. */
static void config_set(client *c)
{
    if (c->argc % 2) {
        addReplyErrorSyntax(c);
        return;
    }
    int npairs = (c->argc - 2) / 2;
    config_entry **es = calloc((size_t)npairs, sizeof *es);
    if (!es) {
        addReplyError(c, "ERR out of memory");
        return;
    }
    const char *err = NULL;
    int bad = -1;
    for (int i = 0; i < npairs && bad < 0; i++) {
        const sarg *a = &c->argv[2 + 2 * i];
        config_entry *e = find_arg(a);
        if (!e) {
            addReplyErrorFormat(c, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                                (int)(a->len > 127 ? 127 : a->len), a->p);
            free(es);
            return;
        }
        es[i] = e;
        if (!e->mutable_) err = "can't set immutable config", bad = i;
        for (int k = 0; k < i && bad < 0; k++)
            if (es[k] == e || (e->ptr && es[k]->ptr == e->ptr)) err = "duplicate parameter", bad = i;
    }
    for (int i = 0; i < npairs && bad < 0; i++)
        if (config_set_pair(c, 2 + 2 * i, es[i], 1, &err)) bad = i;
    for (int i = 0; i < npairs && bad < 0; i++)
        if (config_set_pair(c, 2 + 2 * i, es[i], 0, &err)) bad = i; /* checked above: cannot fail */
    free(es);
    if (bad >= 0) {
        const sarg *a = &c->argv[2 + 2 * bad];
        addReplyErrorFormat(c, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                            (int)(a->len > 128 ? 128 : a->len), a->p, err);
        return;
    }
    addReplyOK(c);
}

/* A pattern without glob characters names one setting and is answered
 * under the name as given (Redis does so); patterns match names
 * case-insensitively, and each setting is answered once. */
static void config_get(client *c)
{
    size_t nent = 0;
    while (table[nent].name) nent++;
    char *seen = calloc(nent, 1);
    if (!seen) {
        addReplyError(c, "ERR out of memory");
        return;
    }
    size_t h = addReplyDeferredLen(c);
    long long n = 0;
    char v[1024];
    for (int j = 2; j < c->argc; j++) {
        const sarg *p = &c->argv[j];
        if (!memchr(p->p, '*', p->len) && !memchr(p->p, '?', p->len) && !memchr(p->p, '[', p->len)) {
            config_entry *e = find_arg(p);
            if (!e || seen[e - table]) continue;
            seen[e - table] = 1;
            value_of(e, v, sizeof v);
            addReplyBulk(c, p->p, p->len);
            addReplyBulkCString(c, v);
            n++;
            continue;
        }
        for (size_t i = 0; i < nent; i++) {
            config_entry *e = &table[i];
            if (seen[i] || !glob_match(p->p, p->len, e->name, strlen(e->name), 1)) continue;
            seen[i] = 1;
            value_of(e, v, sizeof v);
            addReplyBulkCString(c, e->name);
            addReplyBulkCString(c, v);
            n++;
        }
    }
    free(seen);
    setDeferredMapLen(c, h, n);
}

static void configCommand(client *c)
{
    sarg *sub = &c->argv[1];
    if (arg_is(sub, "get")) {
        config_get(c);
    } else if (arg_is(sub, "set")) {
        config_set(c);
    } else if (arg_is(sub, "resetstat") && c->argc == 2) {
        server.stat_conns = server.stat_cmds = server.stat_rejected_conns = server.stat_expired = 0;
        server.stat_keyspace_hits = server.stat_keyspace_misses = server.stat_net_in = server.stat_net_out = 0;
        server.stat_errors = server.stat_output_limit_drops = 0;
        addReplyOK(c);
    } else if (arg_is(sub, "rewrite") && c->argc == 2) {
        addReplyError(c, "ERR CONFIG REWRITE is not supported: edit the config file");
    } else if (arg_is(sub, "help")) {
        addReplyArrayLen(c, 4);
        addReplyStatus(c, "CONFIG <subcommand> [<arg> ...]. Subcommands are:");
        addReplyStatus(c, "GET <pattern> [<pattern> ...]");
        addReplyStatus(c, "SET <directive> <value> [<directive> <value> ...]");
        addReplyStatus(c, "RESETSTAT");
    } else {
        addReplyErrorFormat(c, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
                            (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    }
}

const subcommand config_subcommands[] = {
    {"get", -3}, {"set", -4}, {"resetstat", 2}, {"rewrite", 2}, {"help", 2}, {NULL, 0},
};

command config_commands[] = {
    {"config", configCommand, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "A container for server configuration commands", "2.0.0", 0},
    {0},
};
