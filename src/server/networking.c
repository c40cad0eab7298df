/*
 * networking.c -- connections, request input, the reply API, reply output
 * (see networking.h).
 *
 * Reply bytes of a client are split in two by c->bsafe: bytes below it
 * were produced in an earlier pass whose writes are committed and may be
 * sent; bytes above were produced in the current pass and wait for
 * net_after_pass.  A client whose unsent replies exceed
 * client-output-buffer-limit (a reader too slow for what it asks) is
 * dropped; the server lives on.
 */
#include "server/networking.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/commands.h"
#include "server/keyspace.h"
#include "server/multi.h"
#include "server/util.h"

#define IOBUF_LEN (64 * 1024)

static size_t bsafe_of(client *c);

/* ---- reply buffer ------------------------------------------------------- */

static void mark_pending(client *c)
{
    if (!(c->flags & CLIENT_PENDING_WRITE)) {
        c->flags |= CLIENT_PENDING_WRITE;
        c->pw_next = server.pending_write;
        server.pending_write = c;
        server.npending++;
    }
}

static int reserve(client *c, size_t n)
{
    if (c->flags & CLIENT_CLOSE_ASAP) return -1;
    if (c->blen + n > c->bcap) {
        /* Reclaim sent bytes first. */
        if (c->bsent) {
            memmove(c->buf, c->buf + c->bsent, c->blen - c->bsent);
            c->blen -= c->bsent;
            c->bsafe -= c->bsent;
            c->bsent = 0;
        }
        if (c->blen + n > c->bcap) {
            size_t nc = c->bcap ? c->bcap : 16384;
            while (nc < c->blen + n) nc *= 2;
            char *nb = realloc(c->buf, nc);
            if (!nb) {
                client_close_async(c);
                return -1;
            }
            c->buf = nb;
            c->bcap = nc;
        }
    }
    if (server.client_output_buffer_limit > 0 &&
        (long long)(c->blen + n - c->bsent) > server.client_output_buffer_limit) {
        server_log(LL_NOTICE, "client id=%llu addr=%s dropped: output buffer over %lld bytes",
                   (unsigned long long)c->id, c->addr, server.client_output_buffer_limit);
        server.stat_output_limit_drops++;
        client_close_async(c);
        return -1;
    }
    return 0;
}

void addReplyRaw(client *c, const void *p, size_t len)
{
    if (reserve(c, len)) return;
    memcpy(c->buf + c->blen, p, len);
    c->blen += len;
    mark_pending(c);
}

/* "<prefix><n>\r\n" into b (>= 24 bytes); returns its length.  Replies
 * are mostly headers, so this avoids snprintf on the hot path. */
static size_t fmt_header(char *b, char prefix, long long n)
{
    char tmp[24];
    size_t t = 0;
    unsigned long long u = n < 0 ? 0ull - (unsigned long long)n : (unsigned long long)n;
    do {
        tmp[t++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t o = 0;
    b[o++] = prefix;
    if (n < 0) b[o++] = '-';
    while (t) b[o++] = tmp[--t];
    b[o++] = '\r';
    b[o++] = '\n';
    return o;
}

static void add_prefix_len(client *c, char prefix, long long n)
{
    char b[32];
    addReplyRaw(c, b, fmt_header(b, prefix, n));
}

void addReplyStatus(client *c, const char *s)
{
    size_t n = strlen(s);
    if (reserve(c, n + 3)) return;
    char *p = c->buf + c->blen;
    p[0] = '+';
    memcpy(p + 1, s, n);
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    c->blen += n + 3;
    mark_pending(c);
}

void addReplyOK(client *c) { addReplyRaw(c, "+OK\r\n", 5); }

void addReplyError(client *c, const char *err)
{
    /* An error code ("WRONGTYPE ...", "ERR ...") is kept; plain text gets ERR. */
    int coded = 0;
    for (const char *p = err; *p && *p != ' '; p++) coded = (*p >= 'A' && *p <= 'Z');
    size_t n = strlen(err);
    addReplyRaw(c, "-", 1);
    if (!coded) addReplyRaw(c, "ERR ", 4);
    /* Newlines would break the protocol: replace them like Redis does. */
    for (size_t i = 0; i < n; i++) {
        char ch = err[i] == '\r' || err[i] == '\n' ? ' ' : err[i];
        addReplyRaw(c, &ch, 1);
    }
    addReplyRaw(c, "\r\n", 2);
    server.stat_errors++;
}

void addReplyErrorFormat(client *c, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    addReplyError(c, b);
}

void addReplyErrorArity(client *c)
{
    if (c->cmd) {
        addReplyErrorFormat(c, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    addReplyErrorFormat(c, "ERR wrong number of arguments for '%.*s' command",
                        (int)(c->argv[0].len > 64 ? 64 : c->argv[0].len), c->argv[0].p);
}

void addReplyErrorSyntax(client *c) { addReplyError(c, "ERR syntax error"); }
void addReplyErrorNotInt(client *c) { addReplyError(c, "ERR value is not an integer or out of range"); }
void addReplyErrorNotFloat(client *c) { addReplyError(c, "ERR value is not a valid float"); }
void addReplyErrorWrongType(client *c)
{
    addReplyError(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void addReplyBulk(client *c, const void *p, size_t len)
{
    char hdr[32];
    size_t hl = fmt_header(hdr, '$', (long long)len);
    if (reserve(c, hl + len + 2)) return;
    char *o = c->buf + c->blen;
    memcpy(o, hdr, hl);
    if (len) memcpy(o + hl, p, len);
    o[hl + len] = '\r';
    o[hl + len + 1] = '\n';
    c->blen += hl + len + 2;
    mark_pending(c);
}

void addReplyBulkCString(client *c, const char *s)
{
    if (!s)
        addReplyNull(c);
    else
        addReplyBulk(c, s, strlen(s));
}

void addReplyBulkLongLong(client *c, long long v)
{
    char b[32];
    int l = snprintf(b, sizeof b, "%lld", v);
    addReplyBulk(c, b, (size_t)l);
}

void addReplyLongLong(client *c, long long v)
{
    if (v == 0) return addReplyRaw(c, ":0\r\n", 4);
    if (v == 1) return addReplyRaw(c, ":1\r\n", 4);
    add_prefix_len(c, ':', v);
}

static int fmt_double(char *b, size_t cap, double d)
{
    if (isinf(d)) return snprintf(b, cap, "%s", d > 0 ? "inf" : "-inf");
    if (isnan(d)) return snprintf(b, cap, "nan");
    return snprintf(b, cap, "%.17g", d);
}

void addReplyDouble(client *c, double d)
{
    char b[64];
    int l = fmt_double(b, sizeof b, d);
    if (c->resp >= 3) {
        char o[80];
        int ol = snprintf(o, sizeof o, ",%.*s\r\n", l, b);
        addReplyRaw(c, o, (size_t)ol);
    } else {
        addReplyBulk(c, b, (size_t)l);
    }
}

void addReplyHumanLongDouble(client *c, long double d)
{
    char b[LD_HUMAN_MAX];
    int l;
    if (isinf(d))
        l = snprintf(b, sizeof b, "%s", d > 0 ? "inf" : "-inf");
    else
        l = ld_fmt_human(b, sizeof b, d);
    if (l < 0) l = 0;
    addReplyBulk(c, b, (size_t)l);
}

void addReplyNull(client *c)
{
    if (c->resp >= 3)
        addReplyRaw(c, "_\r\n", 3);
    else
        addReplyRaw(c, "$-1\r\n", 5);
}

void addReplyNullArray(client *c)
{
    if (c->resp >= 3)
        addReplyRaw(c, "_\r\n", 3);
    else
        addReplyRaw(c, "*-1\r\n", 5);
}

void addReplyBool(client *c, int b)
{
    if (c->resp >= 3)
        addReplyRaw(c, b ? "#t\r\n" : "#f\r\n", 4);
    else
        addReplyRaw(c, b ? ":1\r\n" : ":0\r\n", 4);
}

void addReplyArrayLen(client *c, long long n) { add_prefix_len(c, '*', n); }
void addReplyMapLen(client *c, long long n)
{
    if (c->resp >= 3)
        add_prefix_len(c, '%', n);
    else
        add_prefix_len(c, '*', n * 2);
}
void addReplySetLen(client *c, long long n) { add_prefix_len(c, c->resp >= 3 ? '~' : '*', n); }

void addReplyVerbatim(client *c, const char *s, size_t len, const char *ext)
{
    if (c->resp < 3) return addReplyBulk(c, s, len);
    char hdr[32];
    int hl = snprintf(hdr, sizeof hdr, "=%zu\r\n%.3s:", len + 4, ext);
    addReplyRaw(c, hdr, (size_t)hl);
    addReplyRaw(c, s, len);
    addReplyRaw(c, "\r\n", 2);
}

/* Deferred lengths: a fixed-width placeholder is reserved; the final
 * header replaces it and the elements move by the width difference. */
#define DEFER_WIDTH 24
size_t addReplyDeferredLen(client *c)
{
    if (reserve(c, DEFER_WIDTH)) return (size_t)-1;
    size_t h = c->blen - c->bsent;
    memset(c->buf + c->blen, 0, DEFER_WIDTH);
    c->blen += DEFER_WIDTH;
    mark_pending(c);
    return h;
}

static void set_deferred(client *c, size_t h, char prefix, long long n)
{
    if (h == (size_t)-1 || (c->flags & CLIENT_CLOSE_ASAP)) return;
    size_t at = c->bsent + h;
    if (at + DEFER_WIDTH > c->blen) return;
    char b[32];
    int l = snprintf(b, sizeof b, "%c%lld\r\n", prefix, n);
    memcpy(c->buf + at, b, (size_t)l);
    memmove(c->buf + at + l, c->buf + at + DEFER_WIDTH, c->blen - at - DEFER_WIDTH);
    c->blen -= DEFER_WIDTH - (size_t)l;
}

void setDeferredArrayLen(client *c, size_t h, long long n) { set_deferred(c, h, '*', n); }
void setDeferredMapLen(client *c, size_t h, long long n)
{
    if (c->resp >= 3)
        set_deferred(c, h, '%', n);
    else
        set_deferred(c, h, '*', n * 2);
}
void setDeferredSetLen(client *c, size_t h, long long n)
{
    set_deferred(c, h, c->resp >= 3 ? '~' : '*', n);
}

/* ---- clients ---------------------------------------------------------------- */

static void read_handler(ae_loop *el, int fd, void *data, int mask);
static void write_handler(ae_loop *el, int fd, void *data, int mask);

static void fmt_addr(const struct sockaddr_storage *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
        port = ntohs(s->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
        port = ntohs(s->sin6_port);
    }
    snprintf(out, cap, "%s:%d", host, port);
}

static int is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&s->sin6_addr)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) return s->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

client *client_create(int fd)
{
    client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->id = ++server.next_client_id;
    c->fd = fd;
    c->resp = 2;
    c->authenticated = server.requirepass == NULL;
    c->ctime_ms = c->last_ms = ae_now_ms();
    proto_init(&c->ps);
    if (fd >= 0) {
        if (ae_add(server.el, fd, AE_READABLE, read_handler, c)) {
            free(c);
            return NULL;
        }
    }
    c->next = server.clients;
    if (server.clients) server.clients->prev = c;
    server.clients = c;
    server.nclients++;
    return c;
}

void client_free(client *c)
{
    if (c->fd >= 0) {
        ae_del(server.el, c->fd, AE_READABLE | AE_WRITABLE);
        close(c->fd);
    }
    if (c->prev)
        c->prev->next = c->next;
    else if (server.clients == c)
        server.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->flags & CLIENT_PENDING_WRITE) {
        for (client **pp = &server.pending_write; *pp; pp = &(*pp)->pw_next)
            if (*pp == c) {
                *pp = c->pw_next;
                server.npending--;
                break;
            }
    }
    multi_discard_state(c);
    watch_unwatch_all(c);
    server.nclients--;
    proto_free(&c->ps);
    free(c->qbuf);
    free(c->buf);
    free(c->argv);
    free(c->name);
    free(c);
}

void client_close_async(client *c)
{
    c->flags |= CLIENT_CLOSE_ASAP;
    mark_pending(c);
}

client *client_by_id(uint64_t id)
{
    for (client *c = server.clients; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

int net_fit_maxclients(int want, int apply)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) return want;
    rlim_t need = (rlim_t)want + NET_RESERVED_FDS;
    if (!apply) rl.rlim_cur = rl.rlim_max; /* what raising it could reach */
    if (rl.rlim_cur < need) {
        struct rlimit up = rl;
        up.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
    }
    if (rl.rlim_cur >= need) return want;
    return rl.rlim_cur > (rlim_t)NET_RESERVED_FDS + 1 ? (int)(rl.rlim_cur - NET_RESERVED_FDS) : 1;
}

/* Set while the listening sockets are off the loop (out of descriptors). */
static int accept_paused;

void net_resume_accept(void)
{
    if (!accept_paused) return;
    accept_paused = 0;
    for (int i = 0; i < server.nlisten; i++)
        ae_add(server.el, server.listen_fd[i], AE_READABLE, net_accept_handler, NULL);
}

void net_accept_handler(ae_loop *el, int lfd, void *data, int mask)
{
    (void)el, (void)data, (void)mask;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            /* The connection stays pending, so the listening socket stays
             * readable: the level-triggered loop would spin on it until a
             * descriptor is freed.  Stop listening instead; the cron
             * listens again (net_resume_accept) a tick later. */
            static int64_t logged_ms;
            int64_t now = ae_now_ms();
            if (now - logged_ms >= 10000) {
                server_log(LL_WARNING, "out of file descriptors: not accepting connections for now");
                logged_ms = now;
            }
            ae_del(server.el, lfd, AE_READABLE);
            accept_paused = 1;
            return;
        }
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const char *refuse = NULL;
        if (server.protected_mode && !server.requirepass && !is_loopback(&sa))
            refuse = "-DENIED Running in protected mode because protected mode is enabled and "
                     "no password is set for the default user. In this mode connections are "
                     "only accepted from the loopback interface. Set a password with "
                     "requirepass or disable protected mode with --protected-mode no.\r\n";
        else if (server.nclients >= server.maxclients)
            refuse = "-ERR max number of clients reached\r\n";
        if (refuse) {
            ssize_t w = write(fd, refuse, strlen(refuse));
            (void)w;
            close(fd);
            server.stat_rejected_conns++;
            continue;
        }
        client *c = client_create(fd);
        if (!c) {
            close(fd);
            continue;
        }
        fmt_addr(&sa, c->addr, sizeof c->addr);
        struct sockaddr_storage la;
        socklen_t ll = sizeof la;
        if (getsockname(fd, (struct sockaddr *)&la, &ll) == 0) fmt_addr(&la, c->laddr, sizeof c->laddr);
        server.stat_conns++;
    }
}

/* ---- input ------------------------------------------------------------------ */

/* Reads a "<prefix><digits>\r\n" header at *p (< end); returns the number,
 * or -1 (and *p unchanged) if it is not complete and well formed. */
static long long peek_header(const char **p, const char *end, char prefix)
{
    const char *s = *p;
    if (s >= end || *s != prefix) return -1;
    long long v = 0;
    for (s++; s < end && *s >= '0' && *s <= '9' && v < (1LL << 40); s++) v = v * 10 + (*s - '0');
    if (end - s < 2 || s[0] != '\r' || s[1] != '\n' || s == *p + 1) return -1;
    *p = s + 2;
    return v;
}

/* Before a client's pipelined requests run, start loading the key filter
 * line of each one's first argument (most commands' key), so that their
 * misses overlap instead of each stalling its own command (the probe was
 * ~9% of a pass of 16-deep pipelined SETs).  Only a hint: it reads the
 * buffer without changing anything and stops at the first request it
 * cannot follow (inline, incomplete, malformed); the parser decides. */
static void prefetch_keys(const char *p, const char *end)
{
    for (int n = 0; n < 64 && p < end; n++) {
        long long argc = peek_header(&p, end, '*');
        if (argc < 1 || argc > 1024) return;
        const char *first = NULL;
        size_t flen = 0;
        for (long long i = 0; i < argc; i++) {
            long long l = peek_header(&p, end, '$');
            if (l < 0 || end - p < l + 2) return;
            if (i == 1) {
                first = p;
                flen = (size_t)l;
            }
            p += l + 2;
        }
        if (first) ks_prefetch_key(first, flen);
    }
}

static void process_input(client *c)
{
    while (c->qpos < c->qlen && !(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP))) {
        proto_limits lim = {server.proto_max_bulk_len, server.max_multibulk, c->authenticated};
        size_t used = 0;
        const char *err = NULL;
        int rc = proto_parse(&c->ps, c->qbuf + c->qpos, c->qlen - c->qpos, &lim, &used, &err);
        if (rc == PROTO_NEED_MORE) break;
        if (rc != PROTO_DONE) {
            if (rc == PROTO_NOMEM) err = "ERR out of memory parsing the request";
            addReplyError(c, err);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            break;
        }
        if (c->ps.argc > 0) {
            if (c->ps.argc > c->argv_cap) {
                sarg *na = realloc(c->argv, (size_t)c->ps.argc * sizeof *na);
                if (!na) {
                    client_close_async(c);
                    break;
                }
                c->argv = na;
                c->argv_cap = c->ps.argc;
            }
            char *base = c->qbuf + c->qpos;
            for (int i = 0; i < c->ps.argc; i++) {
                c->argv[i].p = base + c->ps.argv[i].off;
                c->argv[i].len = c->ps.argv[i].len;
            }
            c->argc = c->ps.argc;
            process_command(c);
            c->argc = 0;
        }
        c->qpos += used;
        proto_reset(&c->ps);
    }
    if (c->qpos == c->qlen) {
        c->qpos = c->qlen = 0;
        if (c->qcap > 4 * IOBUF_LEN) { /* give a big request's memory back */
            free(c->qbuf);
            c->qbuf = NULL;
            c->qcap = 0;
        }
    } else if (c->qpos > 0 && c->ps.type == 0) {
        memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
        c->qlen -= c->qpos;
        c->qpos = 0;
    } else if (c->qpos > 0 && c->qpos >= c->qlen / 2) {
        /* Partial request: the parser keeps offsets, so moving is safe. */
        memmove(c->qbuf, c->qbuf + c->qpos, c->qlen - c->qpos);
        c->qlen -= c->qpos;
        c->qpos = 0;
    }
}

static void read_handler(ae_loop *el, int fd, void *data, int mask)
{
    (void)el, (void)fd, (void)mask;
    client *c = data;
    if (c->flags & CLIENT_CLOSE_ASAP) return; /* freed at the end of this pass */
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
        /* Nothing it sends now is used, but it is read and dropped: left
         * unread, it would wake the level-triggered loop on every pass (a
         * busy loop for as long as the last reply waits for the client to
         * read it), and closing a socket with unread input resets the
         * connection, which can destroy that reply before the client reads
         * it.  After EOF the client may still be reading: keep it. */
        char sink[16384];
        ssize_t n = read(c->fd, sink, sizeof sink);
        if (n == 0)
            ae_del(server.el, c->fd, AE_READABLE);
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            client_close_async(c);
        return;
    }
    size_t want = IOBUF_LEN;
    /* A big bulk in progress: read it in larger pieces. */
    if (c->ps.bulk >= IOBUF_LEN) {
        size_t need = c->qpos + c->ps.pos + (size_t)c->ps.bulk + 2;
        if (need > c->qlen) want = need - c->qlen;
    }
    if (c->qcap - c->qlen < want) {
        size_t nc = c->qcap ? c->qcap : IOBUF_LEN;
        while (nc - c->qlen < want) nc *= 2;
        if (want > IOBUF_LEN) nc = c->qlen + want; /* a big bulk: exactly what it needs */
        char *nb = realloc(c->qbuf, nc);
        if (!nb) {
            client_close_async(c);
            return;
        }
        c->qbuf = nb;
        c->qcap = nc;
    }
    ssize_t n = read(c->fd, c->qbuf + c->qlen, want);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        client_close_async(c);
        return;
    }
    if (n == 0) {
        client_close_async(c);
        return;
    }
    c->qlen += (size_t)n;
    server.stat_net_in += n;
    c->last_ms = ae_pass_ms();
    if ((long long)(c->qlen - c->qpos) > server.client_query_buffer_limit) {
        server_log(LL_NOTICE, "client id=%llu addr=%s closed: query buffer over %lld bytes",
                   (unsigned long long)c->id, c->addr, server.client_query_buffer_limit);
        client_close_async(c);
        return;
    }
    if (c->ps.type == 0) prefetch_keys(c->qbuf + c->qpos, c->qbuf + c->qlen);
    process_input(c);
}

/* ---- output ------------------------------------------------------------------ */

static size_t bsafe_of(client *c) { return c->bsafe; }

/* Send committed bytes; 0 if everything committed was sent, 1 if the
 * socket is full, -1 if the client must go. */
static int send_replies(client *c)
{
    size_t safe = bsafe_of(c);
    while (c->bsent < safe) {
        ssize_t n = write(c->fd, c->buf + c->bsent, safe - c->bsent);
        if (n < 0) {
            if (errno == EAGAIN) return 1;
            if (errno == EINTR) continue;
            return -1;
        }
        c->bsent += (size_t)n;
        server.stat_net_out += n;
        /* A client reading a long reply is busy, not idle (timeout). */
        c->last_ms = ae_pass_ms();
    }
    if (c->bsent == c->blen) {
        c->bsent = c->blen = c->bsafe = 0;
        if (c->bcap > 4 * IOBUF_LEN) {
            free(c->buf);
            c->buf = NULL;
            c->bcap = 0;
        }
    }
    return 0;
}

static void write_handler(ae_loop *el, int fd, void *data, int mask)
{
    (void)el, (void)fd, (void)mask;
    client *c = data;
    int rc = send_replies(c);
    if (rc < 0) {
        client_close_async(c);
        return;
    }
    if (rc == 0 && c->bsent == c->bsafe) {
        ae_del(server.el, c->fd, AE_WRITABLE);
        if (c->blen == 0 && (c->flags & CLIENT_CLOSE_AFTER_REPLY)) client_close_async(c);
    }
}

void net_after_pass(ae_loop *el)
{
    ae_set_spin(el, server.loop_spin_us); /* CONFIG SET may have changed it */
    int sync = server.sync_mode == SYNC_ALWAYS ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED;
    ks_set_commit_sync(sync); /* CONFIG SET sync may have changed it */
    int wrote = ks_pending() > 0;
    int timed = sync == OMEN_SYNC_FULL && wrote;
    int64_t t0 = timed ? ae_now_us() : 0;
    int rc = ks_commit(sync);
    if (timed) {
        int64_t d = ae_now_us() - t0;
        server.avg_commit_us = server.avg_commit_us ? (server.avg_commit_us * 7 + d) / 8 : d;
    }
    if (rc) {
        server_log(LL_WARNING, "commit failed: %s (%s); unacknowledged writes are dropped",
                   omen_strerror(rc), omen_last_error());
        /* Only a failed log write or sync is fatal (the engine then turns
         * read-only); e.g. an oversize transaction just fails. */
        omen_stats st;
        if (omen_get_stats(server.db, &st) != OMEN_OK || st.read_only) server.read_only_err = 1;
    }
    if (!rc && wrote) {
        server.stat_commits++;
    }
    client *list = server.pending_write;
    server.pending_write = NULL;
    server.npending = 0;
    while (list) {
        client *c = list;
        list = c->pw_next;
        c->pw_next = NULL;
        c->flags &= ~CLIENT_PENDING_WRITE;
        if (rc && (c->flags & CLIENT_WROTE)) c->flags |= CLIENT_CLOSE_ASAP;
        c->flags &= ~CLIENT_WROTE;
        if (c->flags & CLIENT_CLOSE_ASAP) {
            client_free(c);
            continue;
        }
        c->bsafe = c->blen;
        int s = send_replies(c);
        if (s < 0) {
            client_free(c);
            continue;
        }
        if (s == 1) {
            if (!(ae_mask(server.el, c->fd) & AE_WRITABLE))
                ae_add(server.el, c->fd, AE_WRITABLE, write_handler, c);
        } else if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
            client_free(c);
        }
    }
}

/* Group commit under --sync always: a pass that has writes waits up to
 * half a recent commit's time for more clients' requests, so that one
 * fsync covers them too.  Without it, clients fall into two alternating
 * halves (one half's requests arrive while the other half's fsync runs),
 * each paying a whole fsync.  The wait ends early once every connected
 * client has something pending in the pass (nobody else can send). */
long net_gather(ae_loop *el, int64_t pass_start_us)
{
    (void)el;
    if (server.sync_mode != SYNC_ALWAYS || !ks_pending()) return 0;
    if (server.npending >= server.nclients) return 0;
    int64_t window = server.avg_commit_us / 2;
    if (window > 2000) window = 2000;
    int64_t spent = ae_now_us() - pass_start_us;
    if (spent >= window) return 0;
    int64_t left = window - spent;
    return (long)(left < 200 ? left : 200);
}

void net_close_idle(void)
{
    if (server.timeout_s <= 0) return;
    int64_t now = ae_now_ms();
    for (client *c = server.clients; c; c = c->next) {
        if (now - c->last_ms > (int64_t)server.timeout_s * 1000) client_close_async(c);
    }
}

/* ---- CLIENT LIST lines ------------------------------------------------------- */

const char *client_info_line(client *c)
{
    static char b[1024];
    int64_t now = ae_now_ms();
    char flags[8] = "N";
    int fl = 0;
    if (c->flags & CLIENT_MULTI) flags[fl++] = 'x';
    if (c->flags & CLIENT_DIRTY_CAS) flags[fl++] = 'd';
    if (c->flags & CLIENT_CLOSE_ASAP) flags[fl++] = 'A';
    if (fl) flags[fl] = 0;
    snprintf(b, sizeof b,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 sub=0 "
             "psub=0 ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu "
             "rbp=0 obl=0 oll=0 omem=%zu tot-mem=%zu events=r cmd=%s%s%s user=default redir=-1 "
             "resp=%d",
             (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
             (long long)(now - c->ctime_ms) / 1000, (long long)(now - c->last_ms) / 1000, flags,
             (c->flags & CLIENT_MULTI) ? c->mq_len : -1, c->qlen - c->qpos, c->qcap - c->qlen,
             c->bcap, c->blen - c->bsent, c->qcap + c->bcap + sizeof *c,
             c->lastcmd ? c->lastcmd->name : "NULL", c->lastcmd && c->lastsub ? "|" : "",
             c->lastcmd && c->lastsub ? c->lastsub : "", c->resp);
    return b;
}
