/*
 * commands.c -- command lookup, checks before a command runs (arity,
 * authentication, MULTI queueing, a read-only engine), and COMMAND.
 *
 * Checks run in Redis's order, so that clients see the same error for the
 * same mistake: unknown command, arity, NOAUTH, then MULTI queueing.
 */
#include "server/commands.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ae.h"
#include "server/config.h"
#include "server/connection.h"
#include "server/expire.h"
#include "server/keys.h"
#include "server/multi.h"
#include "server/networking.h"
#include "server/t_hash.h"
#include "server/t_list.h"
#include "server/t_set.h"
#include "server/t_string.h"
#include "server/t_vset.h"
#include "server/t_zset.h"
#include "server/util.h"

/* Every family's table. */
static command *tables[] = {
    connection_commands,
    server_commands,
    command_family,
    config_commands,
    keys_commands,
    expire_commands,
    multi_commands,
    string_commands,
    hash_commands,
    list_commands,
    set_commands,
    zset_commands,
    zsetrange_commands,
    zsetops_commands,
    vset_commands,
    vsetread_commands,
};

#define NTABLES (sizeof tables / sizeof tables[0])

/* Container commands (rows of the tables above), found by commands_init. */
static struct container {
    const char *name;
    const subcommand *subs;
    command *cmd;
} containers[] = {
    {"client", client_subcommands, NULL},
    {"config", config_subcommands, NULL},
    {"command", command_subcommands, NULL},
};

#define NCONTAINERS (sizeof containers / sizeof containers[0])

static command **htab;
static size_t hcap, ncommands;

/* Per-command error counters, beside the table rows (which family files
 * write positionally, so the row layout stays as it is). */
typedef struct cmd_counters {
    const command *cmd;
    long long rejected, failed;
} cmd_counters;
static cmd_counters *counters; /* hcap slots, same hashing as htab */

static cmd_counters *counters_of(const command *cmd)
{
    size_t i = ((uintptr_t)cmd >> 4) & (hcap - 1);
    while (counters[i].cmd && counters[i].cmd != cmd) i = (i + 1) & (hcap - 1);
    counters[i].cmd = cmd;
    return &counters[i];
}

void commands_stats(const command *cmd, long long *rejected, long long *failed)
{
    cmd_counters *k = counters_of(cmd);
    *rejected = k->rejected;
    *failed = k->failed;
}

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 5381;
    for (size_t i = 0; i < n; i++) h = h * 33 + (unsigned char)tolower((unsigned char)s[i]);
    return h;
}

int commands_init(void)
{
    ncommands = 0;
    for (size_t t = 0; t < NTABLES; t++)
        for (command *c = tables[t]; c->name; c++) ncommands++;
    hcap = 16;
    while (hcap < ncommands * 3) hcap *= 2;
    htab = calloc(hcap, sizeof *htab);
    counters = calloc(hcap, sizeof *counters);
    if (!htab || !counters) return -1;
    for (size_t t = 0; t < NTABLES; t++)
        for (command *c = tables[t]; c->name; c++) {
            size_t i = name_hash(c->name, strlen(c->name)) & (hcap - 1);
            while (htab[i]) i = (i + 1) & (hcap - 1);
            htab[i] = c;
        }
    for (size_t i = 0; i < NCONTAINERS; i++) containers[i].cmd = command_lookup(containers[i].name, strlen(containers[i].name));
    return 0;
}

void commands_foreach(void (*fn)(command *cmd, void *ctx), void *ctx)
{
    for (size_t t = 0; t < NTABLES; t++)
        for (command *c = tables[t]; c->name; c++) fn(c, ctx);
}

command *command_lookup(const char *name, size_t len)
{
    if (len == 0 || len > 64) return NULL;
    size_t i = name_hash(name, len) & (hcap - 1);
    for (; htab[i]; i = (i + 1) & (hcap - 1))
        if (strlen(htab[i]->name) == len && strncasecmp(htab[i]->name, name, len) == 0)
            return htab[i];
    return NULL;
}

int arg_is(const sarg *a, const char *s)
{
    size_t n = strlen(s);
    return a->len == n && strncasecmp(a->p, s, n) == 0;
}

/* err is "CODE message".  A refused EXEC discards the transaction (even
 * outside MULTI it unwatches) and says why, as Redis does. */
static void reject(client *c, const char *err)
{
    if (c->cmd) counters_of(c->cmd)->rejected++;
    if (c->cmd && c->cmd->fn == execCommand) {
        multi_discard_state(c);
        watch_unwatch_all(c);
        if (strncmp(err, "ERR ", 4) == 0) err += 4;
        addReplyErrorFormat(c, "EXECABORT Transaction discarded because of: %s", err);
        return;
    }
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    addReplyError(c, err);
}

void call_command(client *c)
{
    command *cmd = c->cmd;
    long long errors = server.stat_errors;
    cmd->fn(c);
    cmd->calls++;
    if (server.stat_errors != errors) counters_of(cmd)->failed++;
    server.stat_cmds++;
    if (cmd->flags & CMD_WRITE) c->flags |= CLIENT_WROTE;
}

void process_command(client *c)
{
    /* CLIENT LIST's cmd= is the command last received, as in Redis (an
     * EXEC, not what it ran; NULL if unknown). */
    c->cmd = c->lastcmd = command_lookup(c->argv[0].p, c->argv[0].len);
    c->lastsub = NULL;
    if (!c->cmd) {
        /* Redis's text: arguments quoted until 128 characters are shown,
         * the last one cut to what is left of those 128. */
        char args[256];
        size_t off = 0;
        args[0] = 0;
        for (int i = 1; i < c->argc && off < 128; i++) {
            size_t room = 128 - off;
            int n = snprintf(args + off, sizeof args - off, "'%.*s' ",
                             (int)(c->argv[i].len > room ? room : c->argv[i].len), c->argv[i].p);
            if (n < 0) break;
            off += (size_t)n;
            if (off >= sizeof args) off = sizeof args - 1;
        }
        char msg[512];
        snprintf(msg, sizeof msg, "ERR unknown command '%.*s', with args beginning with: %s",
                 (int)(c->argv[0].len > 128 ? 128 : c->argv[0].len), c->argv[0].p, args);
        reject(c, msg);
        return;
    }
    command *cmd = c->cmd;
    if ((cmd->arity > 0 && c->argc != cmd->arity) || (c->argc < -cmd->arity)) {
        char msg[128];
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command", cmd->name);
        reject(c, msg);
        return;
    }
    const subcommand *subs = NULL;
    for (size_t i = 0; i < NCONTAINERS && c->argc >= 2; i++)
        if (cmd == containers[i].cmd) subs = containers[i].subs;
    if (subs) {
        const subcommand *sc = subs;
        while (sc->name && !arg_is(&c->argv[1], sc->name)) sc++;
        char msg[256];
        c->lastsub = sc->name;
        if (!sc->name) {
            c->lastcmd = NULL;
            char up[32];
            size_t i = 0;
            for (; cmd->name[i] && i < sizeof up - 1; i++) up[i] = (char)toupper((unsigned char)cmd->name[i]);
            up[i] = 0;
            snprintf(msg, sizeof msg, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                     (int)(c->argv[1].len > 128 ? 128 : c->argv[1].len), c->argv[1].p, up);
            reject(c, msg);
            return;
        }
        if ((sc->arity > 0 && c->argc != sc->arity) || c->argc < -sc->arity) {
            snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s|%s' command", cmd->name, sc->name);
            reject(c, msg);
            return;
        }
    }
    if (!c->authenticated && !(cmd->flags & CMD_NOAUTH)) {
        reject(c, "NOAUTH Authentication required.");
        return;
    }
    if ((c->flags & CLIENT_MULTI) && (cmd->flags & CMD_NOTXN)) {
        c->flags |= CLIENT_DIRTY_EXEC;
        addReplyErrorFormat(c, "ERR %s is not allowed inside MULTI (vector set commands run outside transactions)",
                            cmd->name);
        return;
    }
    if ((c->flags & CLIENT_MULTI) && (cmd->flags & CMD_DENYMULTI)) {
        reject(c, "ERR Command not allowed inside a transaction");
        return;
    }
    if ((c->flags & CLIENT_MULTI) && !(cmd->flags & CMD_NOMULTI)) {
        multi_queue(c);
        return;
    }
    if ((cmd->flags & CMD_WRITE) && server.read_only_err) {
        reject(c, "MISCONF the storage engine turned read-only after a failed write or fsync; "
                  "writes are refused (see the server log)");
        return;
    }
    call_command(c);
}

/* ---- COMMAND ------------------------------------------------------------- */

static void reply_flags(client *c, command *cmd)
{
    const char *names[12];
    int n = 0;
    if (cmd->flags & CMD_WRITE) names[n++] = "write";
    if (cmd->flags & CMD_READONLY) names[n++] = "readonly";
    if (cmd->flags & CMD_DENYOOM) names[n++] = "denyoom";
    if (cmd->flags & CMD_ADMIN) names[n++] = "admin";
    if (cmd->flags & CMD_NOSCRIPT) names[n++] = "noscript";
    if (cmd->flags & CMD_LOADING) names[n++] = "loading";
    if (cmd->flags & CMD_STALE) names[n++] = "stale";
    if (cmd->flags & CMD_NOAUTH) names[n++] = "no_auth";
    if (cmd->flags & CMD_FAST) names[n++] = "fast";
    if (cmd->flags & CMD_DENYMULTI) names[n++] = "no_multi";
    addReplySetLen(c, n);
    for (int i = 0; i < n; i++) addReplyStatus(c, names[i]);
}

static void reply_info(client *c, command *cmd)
{
    if (!cmd) {
        addReplyNull(c);
        return;
    }
    addReplyArrayLen(c, 10);
    addReplyBulkCString(c, cmd->name);
    addReplyLongLong(c, cmd->arity);
    reply_flags(c, cmd);
    addReplyLongLong(c, cmd->first_key);
    addReplyLongLong(c, cmd->last_key);
    addReplyLongLong(c, cmd->key_step);
    addReplySetLen(c, 0);   /* ACL categories */
    addReplySetLen(c, 0);   /* tips */
    addReplyArrayLen(c, 0); /* key specs */
    addReplyArrayLen(c, 0); /* subcommands */
}

static void reply_docs(client *c, command *cmd)
{
    addReplyBulkCString(c, cmd->name);
    addReplyMapLen(c, 3);
    addReplyBulkCString(c, "summary");
    addReplyBulkCString(c, cmd->summary ? cmd->summary : "");
    addReplyBulkCString(c, "since");
    addReplyBulkCString(c, cmd->since ? cmd->since : "1.0.0");
    addReplyBulkCString(c, "group");
    addReplyBulkCString(c, cmd->group ? cmd->group : "generic");
}

void commandCommand(client *c)
{
    if (c->argc == 1) {
        addReplyArrayLen(c, (long long)ncommands);
        for (size_t t = 0; t < NTABLES; t++)
            for (command *cmd = tables[t]; cmd->name; cmd++) reply_info(c, cmd);
        return;
    }
    sarg *sub = &c->argv[1];
    if (arg_is(sub, "count") && c->argc == 2) {
        addReplyLongLong(c, (long long)ncommands);
    } else if (arg_is(sub, "info")) {
        if (c->argc == 2) {
            addReplyArrayLen(c, (long long)ncommands);
            for (size_t t = 0; t < NTABLES; t++)
                for (command *cmd = tables[t]; cmd->name; cmd++) reply_info(c, cmd);
            return;
        }
        addReplyArrayLen(c, c->argc - 2);
        for (int i = 2; i < c->argc; i++)
            reply_info(c, command_lookup(c->argv[i].p, c->argv[i].len));
    } else if (arg_is(sub, "docs")) {
        if (c->argc == 2) {
            addReplyMapLen(c, (long long)ncommands);
            for (size_t t = 0; t < NTABLES; t++)
                for (command *cmd = tables[t]; cmd->name; cmd++) reply_docs(c, cmd);
            return;
        }
        size_t h = addReplyDeferredLen(c);
        long long n = 0;
        for (int i = 2; i < c->argc; i++) {
            command *cmd = command_lookup(c->argv[i].p, c->argv[i].len);
            if (!cmd) continue;
            reply_docs(c, cmd);
            n++;
        }
        setDeferredMapLen(c, h, n);
    } else if (arg_is(sub, "list")) {
        /* FILTERBY MODULE and ACLCAT match nothing: there are no modules,
         * and COMMAND INFO lists no ACL categories. */
        const sarg *pat = NULL;
        int none = 0;
        if (c->argc == 5 && arg_is(&c->argv[2], "filterby") && arg_is(&c->argv[3], "pattern")) {
            pat = &c->argv[4];
        } else if (c->argc == 5 && arg_is(&c->argv[2], "filterby") &&
                   (arg_is(&c->argv[3], "module") || arg_is(&c->argv[3], "aclcat"))) {
            none = 1;
        } else if (c->argc != 2) {
            addReplyErrorSyntax(c);
            return;
        }
        size_t h = addReplyDeferredLen(c);
        long long n = 0;
        for (size_t t = 0; t < NTABLES && !none; t++)
            for (command *cmd = tables[t]; cmd->name; cmd++) {
                if (pat && !glob_match(pat->p, pat->len, cmd->name, strlen(cmd->name), 1)) continue;
                addReplyBulkCString(c, cmd->name);
                n++;
            }
        setDeferredArrayLen(c, h, n);
    } else if (arg_is(sub, "getkeys")) {
        command *cmd = command_lookup(c->argv[2].p, c->argv[2].len);
        if (!cmd) {
            addReplyError(c, "ERR Invalid command specified");
            return;
        }
        int argc = c->argc - 2;
        if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
            addReplyError(c, "ERR Invalid number of arguments specified for command");
            return;
        }
        if (cmd->first_key == 0) {
            addReplyError(c, "ERR The command has no key arguments");
            return;
        }
        int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
        long long n = 0;
        size_t h = addReplyDeferredLen(c);
        for (int i = cmd->first_key; i <= last && i < argc; i += cmd->key_step ? cmd->key_step : 1) {
            addReplyBulk(c, c->argv[i + 2].p, c->argv[i + 2].len);
            n++;
        }
        setDeferredArrayLen(c, h, n);
    } else if (arg_is(sub, "help")) {
        addReplyArrayLen(c, 5);
        addReplyStatus(c, "COMMAND [<subcommand> [<arg> ...]]. Subcommands are:");
        addReplyStatus(c, "COUNT, INFO [<command-name> ...], DOCS [<command-name> ...],");
        addReplyStatus(c, "LIST, GETKEYS <full-command>");
        addReplyStatus(c, "(no subcommand) returns COMMAND INFO of every command.");
        addReplyStatus(c, "HELP");
    } else {
        addReplyErrorFormat(c, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                            (int)(sub->len > 128 ? 128 : sub->len), sub->p);
    }
}

const subcommand command_subcommands[] = {
    {"count", 2}, {"info", -2}, {"docs", -2}, {"list", -2}, {"getkeys", -4}, {"help", 2}, {NULL, 0},
};

command command_family[] = {
    {"command", commandCommand, -1, CMD_LOADING | CMD_STALE, 0, 0, 0, "server",
     "Returns details about commands", "2.8.13", 0},
    {0},
};
