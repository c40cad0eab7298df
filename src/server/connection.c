/*
 * connection.c -- commands about the connection itself (see
 * connection.h).  Only the "default" user exists: AUTH with a user name
 * accepts "default" alone, as Redis without ACL rules does.
 */
#include "server/connection.h"

#include <stdlib.h>
#include <string.h>

#include "server/commands.h"
#include "server/multi.h"
#include "server/networking.h"
#include "server/util.h"

static void pingCommand(client *c)
{
    if (c->argc > 2) {
        addReplyErrorArity(c);
        return;
    }
    if (c->argc == 2)
        addReplyBulk(c, c->argv[1].p, c->argv[1].len);
    else
        addReplyStatus(c, "PONG");
}

static void echoCommand(client *c) { addReplyBulk(c, c->argv[1].p, c->argv[1].len); }

static void selectCommand(client *c)
{
    long long db;
    if (arg_ll(&c->argv[1], &db)) {
        addReplyError(c, "ERR value is not an integer or out of range");
        return;
    }
    if (db != 0) {
        addReplyError(c, "ERR DB index is out of range");
        return;
    }
    addReplyOK(c);
}

int auth_check(const char *p, size_t len)
{
    if (!server.requirepass) return 0;
    size_t n = strlen(server.requirepass);
    unsigned diff = (unsigned)(n ^ len);
    for (size_t i = 0; i < len; i++) diff |= (unsigned char)p[i] ^ (unsigned char)server.requirepass[i % (n ? n : 1)];
    return diff == 0;
}

/* 1 authenticated, 0 a WRONGPASS/other error was replied. */
static int do_auth(client *c, const sarg *user, const sarg *pass)
{
    if (user && !arg_is(user, "default")) {
        addReplyError(c, "WRONGPASS invalid username-password pair or user is disabled.");
        return 0;
    }
    if (!server.requirepass) {
        if (user) { /* the default user has no password: any password works */
            c->authenticated = 1;
            return 1;
        }
        addReplyError(c, "ERR AUTH <password> called without any password configured for the "
                         "default user. Are you sure your configuration is correct?");
        return 0;
    }
    if (!auth_check(pass->p, pass->len)) {
        addReplyError(c, "WRONGPASS invalid username-password pair or user is disabled.");
        return 0;
    }
    c->authenticated = 1;
    return 1;
}

static void authCommand(client *c)
{
    if (c->argc > 3) {
        addReplyErrorSyntax(c);
        return;
    }
    if (do_auth(c, c->argc == 3 ? &c->argv[1] : NULL, &c->argv[c->argc - 1])) addReplyOK(c);
}

static int valid_name(const sarg *a)
{
    for (size_t i = 0; i < a->len; i++)
        if (a->p[i] < '!' || a->p[i] > '~') return 0;
    return 1;
}

static void set_name(client *c, const sarg *a)
{
    free(c->name);
    c->name = NULL;
    if (a->len) {
        c->name = malloc(a->len + 1);
        if (c->name) {
            memcpy(c->name, a->p, a->len);
            c->name[a->len] = 0;
        }
    }
}

static void helloCommand(client *c)
{
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (arg_ll(&c->argv[1], &ver)) {
            addReplyError(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            addReplyError(c, "NOPROTO unsupported protocol version");
            return;
        }
        next = 2;
    }
    const sarg *user = NULL, *pass = NULL, *name = NULL;
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_is(&c->argv[j], "AUTH") && more >= 2) {
            user = &c->argv[j + 1];
            pass = &c->argv[j + 2];
            j += 2;
        } else if (arg_is(&c->argv[j], "SETNAME") && more >= 1) {
            name = &c->argv[j + 1];
            if (!valid_name(name)) {
                addReplyError(c, "ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            j++;
        } else {
            addReplyErrorFormat(c, "ERR Syntax error in HELLO option '%.*s'",
                                (int)(c->argv[j].len > 64 ? 64 : c->argv[j].len), c->argv[j].p);
            return;
        }
    }
    if (user && !do_auth(c, user, pass)) return;
    if (!c->authenticated) {
        addReplyError(c, "NOAUTH HELLO must be called with the client already authenticated, "
                         "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                         "authenticate the client and select the RESP protocol version at the "
                         "same time");
        return;
    }
    if (name) set_name(c, name);
    if (ver) c->resp = (int)ver;
    addReplyMapLen(c, 7);
    addReplyBulkCString(c, "server");
    addReplyBulkCString(c, "redis");
    addReplyBulkCString(c, "version");
    addReplyBulkCString(c, OMEN_SERVER_VERSION);
    addReplyBulkCString(c, "proto");
    addReplyLongLong(c, c->resp);
    addReplyBulkCString(c, "id");
    addReplyLongLong(c, (long long)c->id);
    addReplyBulkCString(c, "mode");
    addReplyBulkCString(c, "standalone");
    addReplyBulkCString(c, "role");
    addReplyBulkCString(c, "master");
    addReplyBulkCString(c, "modules");
    addReplyArrayLen(c, 0);
}

static void quitCommand(client *c)
{
    addReplyOK(c);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

static void resetCommand(client *c)
{
    multi_discard_state(c);
    watch_unwatch_all(c);
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC);
    c->resp = 2;
    free(c->name);
    c->name = NULL;
    c->authenticated = server.requirepass == NULL;
    addReplyStatus(c, "RESET");
}

static void client_list(client *c, uint64_t *ids, int nids)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    for (client *x = server.clients; x; x = x->next) {
        if (x->fd < 0) continue;
        if (nids) {
            int hit = 0;
            for (int i = 0; i < nids; i++) hit |= ids[i] == x->id;
            if (!hit) continue;
        }
        const char *line = client_info_line(x);
        size_t n = strlen(line);
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *no = realloc(out, cap);
            if (!no) break;
            out = no;
        }
        memcpy(out + len, line, n);
        out[len + n] = '\n';
        len += n + 1;
    }
    addReplyVerbatim(c, out ? out : "", len, "txt");
    free(out);
}

static void clientCommand(client *c)
{
    sarg *sub = &c->argv[1];
    if (arg_is(sub, "id") && c->argc == 2) {
        addReplyLongLong(c, (long long)c->id);
    } else if (arg_is(sub, "setname") && c->argc == 3) {
        if (!valid_name(&c->argv[2])) {
            addReplyError(c, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_name(c, &c->argv[2]);
        addReplyOK(c);
    } else if (arg_is(sub, "getname") && c->argc == 2) {
        if (c->name)
            addReplyBulkCString(c, c->name);
        else
            addReplyNull(c);
    } else if (arg_is(sub, "info") && c->argc == 2) {
        const char *l = client_info_line(c);
        char b[1100];
        size_t n = strlen(l);
        memcpy(b, l, n);
        b[n] = '\n';
        addReplyVerbatim(c, b, n + 1, "txt");
    } else if (arg_is(sub, "list")) {
        uint64_t ids[64];
        int nids = 0;
        if (c->argc == 4 && arg_is(&c->argv[2], "type")) {
            if (!arg_is(&c->argv[3], "normal") && !arg_is(&c->argv[3], "master") &&
                !arg_is(&c->argv[3], "replica") && !arg_is(&c->argv[3], "pubsub")) {
                addReplyErrorFormat(c, "ERR Unknown client type '%.*s'", (int)(c->argv[3].len > 32 ? 32 : c->argv[3].len), c->argv[3].p);
                return;
            }
            if (!arg_is(&c->argv[3], "normal")) {
                addReplyVerbatim(c, "", 0, "txt");
                return;
            }
        } else if (c->argc >= 4 && arg_is(&c->argv[2], "id")) {
            for (int i = 3; i < c->argc && nids < 64; i++) {
                long long v;
                if (arg_ll(&c->argv[i], &v) || v <= 0) {
                    addReplyError(c, "ERR Invalid client ID");
                    return;
                }
                ids[nids++] = (uint64_t)v;
            }
        } else if (c->argc != 2) {
            addReplyErrorSyntax(c);
            return;
        }
        client_list(c, ids, nids);
    } else if (arg_is(sub, "kill")) {
        if (c->argc == 3) { /* old form: CLIENT KILL addr:port */
            for (client *x = server.clients; x; x = x->next)
                if (strlen(x->addr) == c->argv[2].len && memcmp(x->addr, c->argv[2].p, c->argv[2].len) == 0) {
                    client_close_async(x);
                    addReplyOK(c);
                    return;
                }
            addReplyError(c, "ERR No such client");
            return;
        }
        if (c->argc < 4 || (c->argc - 2) % 2) {
            addReplyErrorSyntax(c);
            return;
        }
        long long id = -1;
        const sarg *addr = NULL, *laddr = NULL;
        int skipme = 1;
        for (int i = 2; i < c->argc; i += 2) {
            sarg *k = &c->argv[i], *v = &c->argv[i + 1];
            if (arg_is(k, "id")) {
                if (arg_ll(v, &id) || id <= 0) {
                    addReplyError(c, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (arg_is(k, "addr")) {
                addr = v;
            } else if (arg_is(k, "laddr")) {
                laddr = v;
            } else if (arg_is(k, "skipme")) {
                if (arg_is(v, "yes"))
                    skipme = 1;
                else if (arg_is(v, "no"))
                    skipme = 0;
                else {
                    addReplyErrorSyntax(c);
                    return;
                }
            } else if (arg_is(k, "type") || arg_is(k, "user") || arg_is(k, "maxage")) {
                /* accepted; every client is a normal client of the default user */
            } else {
                addReplyErrorSyntax(c);
                return;
            }
        }
        long long killed = 0;
        for (client *x = server.clients; x; x = x->next) {
            if (x == c && skipme) continue;
            if (id > 0 && x->id != (uint64_t)id) continue;
            if (addr && (strlen(x->addr) != addr->len || memcmp(x->addr, addr->p, addr->len))) continue;
            if (laddr && (strlen(x->laddr) != laddr->len || memcmp(x->laddr, laddr->p, laddr->len))) continue;
            if (x == c)
                c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            else
                client_close_async(x);
            killed++;
        }
        addReplyLongLong(c, killed);
    } else if (arg_is(sub, "setinfo") && c->argc == 4) {
        addReplyOK(c);
    } else if ((arg_is(sub, "no-evict") || arg_is(sub, "no-touch")) && c->argc == 3) {
        addReplyOK(c);
    } else if (arg_is(sub, "help")) {
        static const char *h[] = {
            "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
            "ID", "SETNAME <name>", "GETNAME", "INFO", "LIST [TYPE normal|ID <id> ...]",
            "KILL <ip:port> | KILL [ID <id>] [ADDR <ip:port>] [LADDR <ip:port>] [SKIPME yes|no]",
            "HELP"};
        addReplyArrayLen(c, (long long)(sizeof h / sizeof h[0]));
        for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) addReplyStatus(c, h[i]);
    } else {
        addReplyErrorFormat(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try CLIENT HELP.",
                            (int)(sub->len > 64 ? 64 : sub->len), sub->p);
    }
}

command connection_commands[] = {
    {"ping", pingCommand, -1, CMD_FAST, 0, 0, 0, "connection", "Returns the server's liveliness response", "1.0.0", 0},
    {"echo", echoCommand, 2, CMD_FAST, 0, 0, 0, "connection", "Returns the given string", "1.0.0", 0},
    {"select", selectCommand, 2, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Changes the selected database (only 0 exists)", "1.0.0", 0},
    {"auth", authCommand, -2, CMD_NOAUTH | CMD_NOMULTI | CMD_FAST | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Authenticates the connection", "1.0.0", 0},
    {"hello", helloCommand, -1, CMD_NOAUTH | CMD_NOMULTI | CMD_FAST | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Handshakes with the server (RESP2 or RESP3)", "6.0.0", 0},
    {"quit", quitCommand, -1, CMD_NOAUTH | CMD_NOMULTI | CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Closes the connection", "1.0.0", 0},
    {"reset", resetCommand, 1, CMD_NOAUTH | CMD_NOMULTI | CMD_FAST | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Resets the connection", "6.2.0", 0},
    {"client", clientCommand, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "A container for client connection commands", "2.4.0", 0},
    {0},
};
