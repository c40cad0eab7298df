/*
 * progress.c -- the progress line of long work (import, export, check,
 * compact), drawn on stderr in place with a carriage return:
 *
 *   import  [##########..........]  50%  8.2 MiB  4.1 MiB/s  91000 rec  ETA 0:02
 *
 * With an unknown total there is no bar, percentage or ETA.  The rate is
 * the average since the start (steadier than an instantaneous one, as
 * rsync's); the ETA is the remaining amount at that rate.  The line is fit
 * to the terminal's width and redrawn at most 10 times a second, so the
 * cost to the work is nil.  A percentage never reaches 100 before the end:
 * totals are estimates for export and compact.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

#define PROGRESS_INTERVAL 0.1
#define PROGRESS_TAIL 48 /* room kept for the numbers after the bar */

int progress_wanted(void)
{
    return !g_opt.quiet && isatty(STDERR_FILENO);
}

void progress_start(progress *p, const char *what, uint64_t total, int bytes, int on)
{
    memset(p, 0, sizeof *p);
    p->on = on;
    p->what = what;
    p->total = total;
    p->bytes = bytes;
    p->t0 = p->last = now_sec();
}

/* "12.3 MiB" or "512 B" */
static void fmt_bytes(char *out, size_t n, double b)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%.0f B", b);
    else
        snprintf(out, n, "%.1f %s", b, unit[u]);
}

static void fmt_eta(char *out, size_t n, double s)
{
    if (s > 99 * 3600.0) {
        snprintf(out, n, "ETA --:--");
        return;
    }
    unsigned t = (unsigned)(s + 0.5); /* < 100 hours */
    if (t >= 3600)
        snprintf(out, n, "ETA %u:%02u:%02u", t / 3600 % 100, t / 60 % 60, t % 60);
    else
        snprintf(out, n, "ETA %u:%02u", t / 60 % 60, t % 60);
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    return 80;
}

static void draw(progress *p, int final)
{
    double dt = now_sec() - p->t0;
    char tail[200], amount[32], rate[40], recs[64] = "", eta[48] = "";
    double r = dt > 0 ? (double)p->done / dt : 0;
    if (p->bytes) {
        char a[24], b[24];
        fmt_bytes(a, sizeof a, (double)p->done);
        fmt_bytes(b, sizeof b, r);
        snprintf(amount, sizeof amount, "%s", a);
        snprintf(rate, sizeof rate, "%s/s", b);
        if (p->recs) snprintf(recs, sizeof recs, "  %llu rec", (unsigned long long)p->recs);
    } else {
        snprintf(amount, sizeof amount, "%llu rec", (unsigned long long)p->done);
        snprintf(rate, sizeof rate, "%.0f rec/s", r);
    }
    int pct = -1;
    if (p->total) {
        pct = final ? 100 : (int)((double)p->done * 100.0 / (double)p->total);
        if (pct > 99 && !final) pct = 99;
        if (!final && r > 0 && p->done < p->total) fmt_eta(eta, sizeof eta, (double)(p->total - p->done) / r);
        else if (!final) snprintf(eta, sizeof eta, "ETA --:--");
    }
    if (pct >= 0)
        snprintf(tail, sizeof tail, " %3d%%  %s  %s%s%s%s", pct, amount, rate, recs, eta[0] ? "  " : "", eta);
    else
        snprintf(tail, sizeof tail, "  %s  %s%s", amount, rate, recs);
    /* The bar's width depends on the terminal only, so it does not jump
     * as the numbers change length; a terminal too narrow loses the bar. */
    int width = term_width() - 1; /* never touch the last column: no wrap */
    int barw = width - (int)strlen(p->what) - 2 - PROGRESS_TAIL - 2;
    if (barw > 40) barw = 40;
    fprintf(stderr, "\r%s  ", p->what);
    if (pct >= 0 && barw >= 10) {
        int fill = pct * barw / 100;
        fputc('[', stderr);
        for (int i = 0; i < barw; i++) fputc(i < fill ? '#' : '.', stderr);
        fputc(']', stderr);
    }
    fputs(tail, stderr);
    fputs("\033[K", stderr); /* clear what a longer previous line left */
    fflush(stderr);
    p->drawn = 1;
}

void progress_update(progress *p, uint64_t done, uint64_t recs)
{
    p->done = done;
    p->recs = recs;
    if (!p->on) return;
    double t = now_sec();
    if (p->drawn && t - p->last < PROGRESS_INTERVAL) return;
    p->last = t;
    draw(p, 0);
}

void progress_hide(progress *p)
{
    if (!p->on || !p->drawn) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
}

void progress_end(progress *p)
{
    if (!p->on) return;
    draw(p, 1);
    progress_hide(p);
}
