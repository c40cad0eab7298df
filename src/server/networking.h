/*
 * networking.h -- clients and their buffers: accepting connections, reading
 * and parsing requests, the reply API every command uses, and sending the
 * replies of a pass once its writes are committed.
 *
 * Reply API: each addReply* appends one RESP element to the client's reply
 * buffer, in RESP2 or RESP3 form according to c->resp (maps, sets, doubles,
 * nulls and booleans differ; the functions choose).  Nothing is sent from a
 * command handler: bytes leave only after the pass's commit (see
 * net_after_pass), so a client never sees an acknowledgement of a write
 * that is not yet as durable as --sync promises.
 */
#ifndef OMEN_SERVER_NETWORKING_H
#define OMEN_SERVER_NETWORKING_H

#include <stdarg.h>

#include "server/server.h"

void net_accept_handler(ae_loop *el, int fd, void *data, int mask);
/* Listen again after running out of descriptors paused accepting (cron). */
void net_resume_accept(void);

/* Descriptors kept for the engine's own files, beyond one per client. */
#define NET_RESERVED_FDS 128
/* How many of `want` clients fit the open-file limit beside the engine's
 * files (want, or fewer), raising the limit as far as the hard limit
 * allows when `apply` (else only answering what raising it would give, so
 * a CONFIG SET that fails later has changed nothing).  Clients beyond that
 * would take the descriptors the engine needs to roll its log or write a
 * run, and its writes would fail. */
int net_fit_maxclients(int want, int apply);
client *client_create(int fd);
void client_free(client *c);
/* Drop the client at the end of the pass, without sending what is queued. */
void client_close_async(client *c);
/* The after-pass hook: commit the pass's writes, then send replies. */
void net_after_pass(ae_loop *el);
/* Close clients idle for longer than server.timeout_s (cron). */
void net_close_idle(void);
/* The event loop's gather hook (group commit under --sync always). */
long net_gather(ae_loop *el, int64_t pass_start_us);

void addReplyRaw(client *c, const void *p, size_t len);
void addReplyStatus(client *c, const char *s);        /* +s          */
void addReplyOK(client *c);
void addReplyError(client *c, const char *err);       /* -ERR err, or err verbatim if it starts with an uppercase code */
void addReplyErrorFormat(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void addReplyErrorArity(client *c);
void addReplyErrorSyntax(client *c);
void addReplyErrorNotInt(client *c);
void addReplyErrorNotFloat(client *c);
void addReplyErrorWrongType(client *c);
void addReplyBulk(client *c, const void *p, size_t len);
void addReplyBulkCString(client *c, const char *s);
void addReplyBulkLongLong(client *c, long long v);
void addReplyLongLong(client *c, long long v);        /* :v          */
void addReplyDouble(client *c, double d);             /* RESP3 ,d ; RESP2 bulk */
void addReplyNull(client *c);                         /* RESP3 _ ; RESP2 $-1 */
void addReplyNullArray(client *c);                    /* RESP3 _ ; RESP2 *-1 */
void addReplyBool(client *c, int b);                  /* RESP3 #t ; RESP2 :1 */
void addReplyArrayLen(client *c, long long n);
void addReplyMapLen(client *c, long long n);          /* RESP3 %n ; RESP2 *2n */
void addReplySetLen(client *c, long long n);          /* RESP3 ~n ; RESP2 *n */
void addReplyVerbatim(client *c, const char *s, size_t len, const char *ext); /* RESP3 = ; RESP2 bulk */
void addReplyHumanLongDouble(client *c, long double d); /* INCRBYFLOAT style bulk */

/* A length not known yet (e.g. SCAN's filtered batch): reserve, append the
 * elements, then fill it in.  Costs one memmove of the elements. */
size_t addReplyDeferredLen(client *c);
void setDeferredArrayLen(client *c, size_t handle, long long n);
void setDeferredMapLen(client *c, size_t handle, long long n);
void setDeferredSetLen(client *c, size_t handle, long long n);

/* CLIENT LIST / CLIENT INFO line for c (static buffer). */
const char *client_info_line(client *c);
client *client_by_id(uint64_t id);

#endif
