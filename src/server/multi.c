/*
 * multi.c -- transactions (see multi.h).
 *
 * Watched keys live in a chained hash table of (key, client) nodes; a
 * client also lists its own keys (c->watched) so UNWATCH and disconnect
 * remove exactly its nodes.  touch is O(1) when nobody watches anything.
 */
#include "server/multi.h"

#include <stdlib.h>
#include <string.h>

#include "server/commands.h"
#include "server/keyspace.h"
#include "server/networking.h"
#include "server/t_string.h"

#define WATCH_BUCKETS 4096

typedef struct wnode {
    char *key;
    size_t klen;
    client *c;
    struct wnode *next;
} wnode;

static wnode *wtab[WATCH_BUCKETS];
static size_t nwatch;

static size_t wbucket(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++) h = (h ^ p[i]) * 1099511628211ull;
    return (size_t)(h % WATCH_BUCKETS);
}

void multi_init(void) { ks_set_touch_hook(watch_touch); }

void watch_touch(const void *key, size_t klen)
{
    if (!nwatch) return;
    if (!key) {
        /* FLUSHALL changes only the watched keys that exist (Redis: a
         * watched missing key stays untouched).  A lookup that finds a key
         * expired deletes it, which flags its watchers as well. */
        for (size_t b = 0; b < WATCH_BUCKETS; b++)
            for (wnode *n = wtab[b]; n; n = n->next) {
                ks_meta m;
                if (ks_lookup(n->key, n->klen, &m) != OMEN_NOTFOUND) n->c->flags |= CLIENT_DIRTY_CAS;
            }
        return;
    }
    for (wnode *n = wtab[wbucket(key, klen)]; n; n = n->next)
        if (n->klen == klen && memcmp(n->key, key, klen) == 0) n->c->flags |= CLIENT_DIRTY_CAS;
}

static void watch_key(client *c, const sarg *k)
{
    for (int i = 0; i < c->nwatched; i++)
        if (c->watched[i].len == k->len && memcmp(c->watched[i].p, k->p, k->len) == 0) return;
    /* A key already expired is deleted now, before we watch it: Redis
     * does not count the later removal of a key that was expired at WATCH
     * as a change. */
    ks_meta m;
    (void)ks_lookup(k->p, k->len, &m);
    sarg *nw = realloc(c->watched, (size_t)(c->nwatched + 1) * sizeof *nw);
    wnode *n = malloc(sizeof *n);
    char *copy = malloc(k->len + 1);
    if (!nw || !n || !copy) {
        if (nw) c->watched = nw;
        free(n);
        free(copy);
        return;
    }
    c->watched = nw;
    memcpy(copy, k->p, k->len);
    c->watched[c->nwatched].p = copy;
    c->watched[c->nwatched].len = k->len;
    c->nwatched++;
    size_t b = wbucket(k->p, k->len);
    n->key = copy;
    n->klen = k->len;
    n->c = c;
    n->next = wtab[b];
    wtab[b] = n;
    nwatch++;
}

void watch_unwatch_all(client *c)
{
    for (int i = 0; i < c->nwatched; i++) {
        size_t b = wbucket(c->watched[i].p, c->watched[i].len);
        for (wnode **pp = &wtab[b]; *pp; pp = &(*pp)->next) {
            if ((*pp)->c == c && (*pp)->key == c->watched[i].p) {
                wnode *n = *pp;
                *pp = n->next;
                free(n);
                nwatch--;
                break;
            }
        }
        free(c->watched[i].p);
    }
    free(c->watched);
    c->watched = NULL;
    c->nwatched = 0;
    c->flags &= ~CLIENT_DIRTY_CAS;
}

void multi_discard_state(client *c)
{
    for (int i = 0; i < c->mq_len; i++) {
        for (int j = 0; j < c->mq[i].argc; j++) free(c->mq[i].argv[j].p);
        free(c->mq[i].argv);
    }
    free(c->mq);
    c->mq = NULL;
    c->mq_len = c->mq_cap = 0;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
}

void multi_queue(client *c)
{
    if (c->mq_len == c->mq_cap) {
        int nc = c->mq_cap ? c->mq_cap * 2 : 8;
        multi_cmd *nq = realloc(c->mq, (size_t)nc * sizeof *nq);
        if (!nq) {
            addReplyError(c, "ERR out of memory queueing the command");
            c->flags |= CLIENT_DIRTY_EXEC;
            return;
        }
        c->mq = nq;
        c->mq_cap = nc;
    }
    multi_cmd *q = &c->mq[c->mq_len];
    q->argc = c->argc;
    q->cmd = c->cmd;
    q->argv = calloc((size_t)c->argc, sizeof *q->argv);
    if (!q->argv) goto oom;
    for (int j = 0; j < c->argc; j++) {
        q->argv[j].p = malloc(c->argv[j].len + 1);
        if (!q->argv[j].p) {
            for (int i = 0; i < j; i++) free(q->argv[i].p);
            free(q->argv);
            goto oom;
        }
        memcpy(q->argv[j].p, c->argv[j].p, c->argv[j].len);
        q->argv[j].len = c->argv[j].len;
    }
    c->mq_len++;
    addReplyStatus(c, "QUEUED");
    return;
oom:
    addReplyError(c, "ERR out of memory queueing the command");
    c->flags |= CLIENT_DIRTY_EXEC;
}

static void multiCommand(client *c)
{
    if (c->flags & CLIENT_MULTI) {
        addReplyError(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    addReplyOK(c);
}

static void discardCommand(client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        addReplyError(c, "ERR DISCARD without MULTI");
        return;
    }
    multi_discard_state(c);
    watch_unwatch_all(c);
    addReplyOK(c);
}

void execCommand(client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        addReplyError(c, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        addReplyError(c, "EXECABORT Transaction discarded because of previous errors.");
        multi_discard_state(c);
        watch_unwatch_all(c);
        return;
    }
    /* A watched key that expired since WATCH fails the EXEC, as in Redis:
     * looking it up deletes it, which flags us. */
    for (int i = 0; i < c->nwatched && !(c->flags & CLIENT_DIRTY_CAS); i++) {
        ks_meta m;
        (void)ks_lookup(c->watched[i].p, c->watched[i].len, &m);
    }
    if (c->flags & CLIENT_DIRTY_CAS) {
        addReplyNullArray(c);
        multi_discard_state(c);
        watch_unwatch_all(c);
        return;
    }
    /* Unwatch first: our own writes must not flag us. */
    watch_unwatch_all(c);
    multi_cmd *q = c->mq;
    int n = c->mq_len;
    c->mq = NULL;
    c->mq_len = c->mq_cap = 0;
    c->flags &= ~CLIENT_MULTI;
    int any_write = 0;
    for (int i = 0; i < n; i++) any_write |= (q[i].cmd->flags & CMD_WRITE) != 0;
    if (any_write && server.read_only_err) {
        addReplyError(c, "EXECABORT Transaction discarded because of: MISCONF the storage engine "
                         "turned read-only after a failed write or fsync");
        any_write = -1;
    }
    int txn = 0;
    if (any_write > 0) {
        int rc = ks_txn_begin();
        if (rc) {
            reply_storage_error(c, rc);
            any_write = -1;
        } else {
            txn = 1;
        }
    }
    if (any_write >= 0) {
        addReplyArrayLen(c, n);
        sarg *saved_argv = c->argv;
        int saved_argc = c->argc;
        command *saved_cmd = c->cmd;
        for (int i = 0; i < n; i++) {
            c->argv = q[i].argv;
            c->argc = q[i].argc;
            c->cmd = q[i].cmd;
            call_command(c);
        }
        c->argv = saved_argv;
        c->argc = saved_argc;
        c->cmd = saved_cmd;
        if (txn && ks_txn_end()) {
            /* The replies already queued claim success: drop the client
             * rather than let it believe a write that is not in the log. */
            client_close_async(c);
            c->flags |= CLIENT_WROTE;
        }
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < q[i].argc; j++) free(q[i].argv[j].p);
        free(q[i].argv);
    }
    free(q);
}

static void watchCommand(client *c)
{
    if (c->flags & CLIENT_MULTI) {
        addReplyError(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int j = 1; j < c->argc; j++) watch_key(c, &c->argv[j]);
    addReplyOK(c);
}

static void unwatchCommand(client *c)
{
    watch_unwatch_all(c);
    addReplyOK(c);
}

#define F (CMD_NOMULTI | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST)
command multi_commands[] = {
    {"multi", multiCommand, 1, F, 0, 0, 0, "transactions", "Starts a transaction", "1.2.0", 0},
    {"exec", execCommand, 1, CMD_NOMULTI | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "transactions", "Executes all commands in a transaction", "1.2.0", 0},
    {"discard", discardCommand, 1, F, 0, 0, 0, "transactions", "Discards a transaction", "2.0.0", 0},
    {"watch", watchCommand, -2, F, 1, -1, 1, "transactions", "Monitors changes to keys to determine the execution of a transaction", "2.2.0", 0},
    {"unwatch", unwatchCommand, 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, "transactions", "Forgets about watched keys of a transaction", "2.2.0", 0},
    {0},
};
