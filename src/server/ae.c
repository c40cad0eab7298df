/*
 * ae.c -- epoll event loop with timers (see ae.h).
 *
 * One pass: wait for readiness (no longer than the nearest timer), run the
 * read/write handlers of the ready fds, run the after-pass hook (where the
 * server commits the pass's writes and sends replies), then due timers.
 * Timers are few (cron, sync), so a linked list is enough.
 *
 * Polling before sleeping (ae_set_spin): on a virtual machine, falling
 * asleep in epoll_wait and being woken costs the loop a context switch
 * and the client whose request wakes it an inter-processor wake-up, and
 * under steady load of one-request-at-a-time clients that happened after
 * nearly every short pass.  So after a pass that served events the loop
 * polls (epoll_wait with no timeout) for up to spin_us before it blocks.
 * Adaptive: once several polls in a row find nothing (light load, where
 * polling would only burn CPU) it stops polling, and starts again when a
 * blocking wait ends sooner than a poll would have lasted.  Between polls
 * it yields, so a runnable thread on its CPU (the engine's flush, another
 * process) is not kept waiting by the polling.
 */
#include "server/ae.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct ae_file {
    int mask;
    ae_file_fn *rfn, *wfn;
    void *data;
} ae_file;

typedef struct ae_timer {
    long long id;
    int64_t when_ms;
    ae_timer_fn *fn;
    void *data;
    struct ae_timer *next;
} ae_timer;

struct ae_loop {
    int epfd, setsize, stop;
    ae_file *files;
    struct epoll_event *events;
    ae_timer *timers;
    long long next_timer_id;
    ae_pass_fn *after_pass;
    ae_gather_fn *gather;
    int spin_us;     /* 0: never poll before sleeping        */
    int spin_off;    /* polls came up empty: sleep directly  */
    int spin_misses; /* empty polls in a row                 */
    int busy;        /* the last pass served events          */
};

#define AE_SPIN_MAX_MISSES 8

static int64_t pass_ms;
int64_t ae_pass_ms(void) { return pass_ms; }
void ae_set_gather(ae_loop *el, ae_gather_fn *fn) { el->gather = fn; }

int64_t ae_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ae_now_ms(void) { return ae_now_us() / 1000; }

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void) { return mono_us() / 1000; }

void ae_set_spin(ae_loop *el, int us) { el->spin_us = us > 0 ? us : 0; }

/* Wait for events up to wait_ms, polling first after a busy pass (see the
 * file comment). */
static int wait_events(ae_loop *el, int64_t wait_ms)
{
    int n = 0;
    if (el->spin_us > 0 && el->busy && !el->spin_off && wait_ms > 0) {
        int64_t until = mono_us() + el->spin_us;
        while ((n = epoll_wait(el->epfd, el->events, el->setsize, 0)) == 0 && mono_us() < until)
            sched_yield();
        if (n > 0)
            el->spin_misses = 0;
        else if (n == 0 && ++el->spin_misses >= AE_SPIN_MAX_MISSES)
            el->spin_off = 1;
    }
    if (n == 0) {
        int64_t t0 = el->spin_us > 0 ? mono_us() : 0;
        n = epoll_wait(el->epfd, el->events, el->setsize, (int)wait_ms);
        if (n > 0 && el->spin_us > 0 && mono_us() - t0 < el->spin_us) el->spin_off = el->spin_misses = 0;
    }
    el->busy = n > 0;
    return n;
}

ae_loop *ae_create(int setsize)
{
    ae_loop *el = calloc(1, sizeof *el);
    if (!el) return NULL;
    el->epfd = epoll_create1(EPOLL_CLOEXEC);
    el->setsize = setsize;
    el->files = calloc((size_t)setsize, sizeof *el->files);
    el->events = calloc((size_t)setsize, sizeof *el->events);
    if (el->epfd < 0 || !el->files || !el->events) {
        ae_destroy(el);
        return NULL;
    }
    return el;
}

void ae_destroy(ae_loop *el)
{
    if (!el) return;
    if (el->epfd >= 0) close(el->epfd);
    free(el->files);
    free(el->events);
    while (el->timers) {
        ae_timer *t = el->timers;
        el->timers = t->next;
        free(t);
    }
    free(el);
}

int ae_resize(ae_loop *el, int setsize)
{
    if (setsize <= el->setsize) return 0;
    ae_file *f = realloc(el->files, (size_t)setsize * sizeof *f);
    if (!f) return -1;
    el->files = f;
    for (int i = el->setsize; i < setsize; i++) f[i] = (ae_file){0};
    struct epoll_event *ev = realloc(el->events, (size_t)setsize * sizeof *ev);
    if (!ev) return -1;
    el->events = ev;
    el->setsize = setsize;
    return 0;
}

int ae_add(ae_loop *el, int fd, int mask, ae_file_fn *fn, void *data)
{
    if (fd < 0) return -1;
    if (fd >= el->setsize && ae_resize(el, fd * 2 + 16)) return -1;
    ae_file *f = &el->files[fd];
    struct epoll_event ee = {0};
    int op = f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int m = f->mask | mask;
    ee.events = (m & AE_READABLE ? EPOLLIN : 0) | (m & AE_WRITABLE ? EPOLLOUT : 0);
    ee.data.fd = fd;
    if (epoll_ctl(el->epfd, op, fd, &ee) < 0) return -1;
    f->mask = m;
    if (mask & AE_READABLE) f->rfn = fn;
    if (mask & AE_WRITABLE) f->wfn = fn;
    f->data = data;
    return 0;
}

void ae_del(ae_loop *el, int fd, int mask)
{
    if (fd < 0 || fd >= el->setsize) return;
    ae_file *f = &el->files[fd];
    if (!(f->mask & mask)) return;
    int m = f->mask & ~mask;
    struct epoll_event ee = {0};
    ee.events = (m & AE_READABLE ? EPOLLIN : 0) | (m & AE_WRITABLE ? EPOLLOUT : 0);
    ee.data.fd = fd;
    epoll_ctl(el->epfd, m ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &ee);
    f->mask = m;
}

int ae_mask(ae_loop *el, int fd)
{
    if (fd < 0 || fd >= el->setsize) return 0;
    return el->files[fd].mask;
}

long long ae_timer_add(ae_loop *el, long ms, ae_timer_fn *fn, void *data)
{
    ae_timer *t = calloc(1, sizeof *t);
    if (!t) return -1;
    t->id = ++el->next_timer_id;
    t->when_ms = mono_ms() + ms;
    t->fn = fn;
    t->data = data;
    t->next = el->timers;
    el->timers = t;
    return t->id;
}

void ae_set_after_pass(ae_loop *el, ae_pass_fn *fn) { el->after_pass = fn; }
void ae_stop(ae_loop *el) { el->stop = 1; }

static void run_timers(ae_loop *el)
{
    int64_t now = mono_ms();
    for (ae_timer **pp = &el->timers; *pp;) {
        ae_timer *t = *pp;
        if (t->when_ms > now) {
            pp = &t->next;
            continue;
        }
        long next = t->fn(el, t->id, t->data);
        if (next < 0) {
            *pp = t->next;
            free(t);
            continue;
        }
        t->when_ms = mono_ms() + next;
        pp = &t->next;
    }
}

static void dispatch(ae_loop *el, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = el->events[i].data.fd;
        uint32_t ev = el->events[i].events;
        ae_file *f = &el->files[fd];
        if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && (f->mask & AE_READABLE))
            f->rfn(el, fd, f->data, AE_READABLE);
        f = &el->files[fd];
        if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && (f->mask & AE_WRITABLE))
            f->wfn(el, fd, f->data, AE_WRITABLE);
    }
}

void ae_main(ae_loop *el)
{
    pass_ms = ae_now_ms();
    while (!el->stop) {
        int64_t wait = 1000, now = mono_ms();
        for (ae_timer *t = el->timers; t; t = t->next) {
            int64_t d = t->when_ms - now;
            if (d < wait) wait = d < 0 ? 0 : d;
        }
        int n = wait_events(el, wait);
        if (n < 0 && errno != EINTR) break;
        int64_t start_us = ae_now_us();
        pass_ms = start_us / 1000;
        dispatch(el, n);
        while (el->gather && n > 0) {
            long more = el->gather(el, start_us);
            if (more <= 0) break;
            struct timespec ts = {0, more * 1000};
            n = epoll_pwait2(el->epfd, el->events, el->setsize, &ts, NULL);
            if (n <= 0) break;
            pass_ms = ae_now_ms();
            dispatch(el, n);
        }
        if (el->after_pass) el->after_pass(el);
        pass_ms = ae_now_ms();
        run_timers(el);
    }
}
