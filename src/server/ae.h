/*
 * ae.h -- the event loop: epoll readiness for file descriptors plus
 * millisecond timers, single-threaded (after Redis's ae).
 *
 * Invariants: a registered fd has at most one handler per direction; a
 * handler may delete its own or any other registration while events are
 * being dispatched (the loop re-checks the mask before each call).
 */
#ifndef OMEN_SERVER_AE_H
#define OMEN_SERVER_AE_H

#include <stdint.h>

#define AE_READABLE 1
#define AE_WRITABLE 2

typedef struct ae_loop ae_loop;
typedef void ae_file_fn(ae_loop *el, int fd, void *data, int mask);
/* Returns the delay in ms before the next run, or -1 to remove the timer. */
typedef long ae_timer_fn(ae_loop *el, long long id, void *data);
/* Runs once per loop pass, after the ready events were dispatched. */
typedef void ae_pass_fn(ae_loop *el);

ae_loop *ae_create(int setsize);
void ae_destroy(ae_loop *el);
int ae_resize(ae_loop *el, int setsize);
int ae_add(ae_loop *el, int fd, int mask, ae_file_fn *fn, void *data);
void ae_del(ae_loop *el, int fd, int mask);
int ae_mask(ae_loop *el, int fd);
long long ae_timer_add(ae_loop *el, long ms, ae_timer_fn *fn, void *data);
void ae_set_after_pass(ae_loop *el, ae_pass_fn *fn);
/* Asked after a pass's events were dispatched, before the after-pass hook:
 * returns how many microseconds more to wait for further events to join
 * this pass (0: end the pass).  The server uses it to let more clients'
 * writes share one fsync under --sync always. */
typedef long ae_gather_fn(ae_loop *el, int64_t pass_start_us);
void ae_set_gather(ae_loop *el, ae_gather_fn *fn);
/* After a pass that served events, poll up to us microseconds for more
 * before sleeping (0: never); see ae.c. */
void ae_set_spin(ae_loop *el, int us);
/* Wall-clock time cached at the start of the current pass. */
int64_t ae_pass_ms(void);
void ae_stop(ae_loop *el);
void ae_main(ae_loop *el);
int64_t ae_now_ms(void);
int64_t ae_now_us(void);

#endif
