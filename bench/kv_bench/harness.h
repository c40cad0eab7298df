/*
 * harness.h -- kv_bench's workloads, the results they record, and the
 * data every engine is given (shared by harness.c, data.c and main.c).
 *
 * Invariants that make the numbers comparable (docs/bench-kv.md):
 *  - The same key sequence for every engine: keys, values and read
 *    sequences come from fixed seeds, and the per-thread random streams are
 *    seeded from (seed, workload, thread), never from the engine.
 *  - Stored keys are the even numbers 0, 2, .., 2(n-1); readmissing asks
 *    for odd numbers, which sit between stored keys (no range shortcut).
 *  - Per (engine, result) the median over --reps repetitions is reported;
 *    repetitions interleave engines so machine noise is shared.
 */
#ifndef KV_HARNESS_H
#define KV_HARNESS_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"
#include "hist.h"

#define SEEK_NEXTS 10               /* nexts after each seek in seekrandom  */
#define VBUF_SPAN (1u << 20)        /* value pool: offsets range over 1 MiB */
#define MAX_REPS 32
#define VERIFY_SAMPLES 1000

enum { ENG_OM, ENG_RK, ENG_LV, ENG_LM, ENG_SQ, NENG };
extern const eng_vt *const ENGINES[NENG];

/* Selectable workloads (--workloads). */
enum {
    WL_FILLSEQ,
    WL_FILLRANDOM,
    WL_READRANDOM,
    WL_READMISSING,
    WL_READSEQ,
    WL_SEEKRANDOM,
    WL_RWW,
    WL_OVERWRITE,
    WL_TXN,
    WL_FILLSYNC,
    WL_COMPRESS, /* not in the default set: --workloads compression or all */
    NWL
};
extern const char *const WL_NAMES[NWL];

/* Reported results (one table each). */
enum {
    R_FILLSEQ,
    R_FILLRANDOM,
    R_READRANDOM,
    R_READMISSING,
    R_READSEQ,
    R_SEEKRANDOM,
    R_RWW1,
    R_RWW2,
    R_OVERWRITE,
    R_TXN,
    R_SYNC1,
    R_SYNC4,
    R_SYNC16,
    R_CFILL,                    /* fillrandom per codec: R_CFILL + KV_CODEC_*  */
    R_CREAD = R_CFILL + KV_NCODEC, /* readrandom per codec                   */
    NRES = R_CREAD + KV_NCODEC
};
extern const char *const R_NAMES[NRES];
extern const int SYNC_WRITERS[3];

/* Results, filled by bench_engine, read by the report. */
extern double g_res[NENG][NRES][MAX_REPS]; /* ops/s of each repetition */
extern int g_nres[NENG][NRES];
extern int g_failed[NENG][NRES];
extern char g_note[NENG][NRES][200];
/* Per-operation latency in ns, all threads and repetitions pooled; NULL
 * for results that record none. */
extern hist_t *g_lat[NENG][NRES];
extern volatile uint64_t g_sink;
/* Bytes of the database directory after fill and settle (R_CFILL rows). */
extern uint64_t g_bytes[NENG][NRES];           /* values touched end up here */

/* One repetition of every wanted workload on engine e. */
void bench_engine(int e, int rep);

/* ---- data (data.c) ---------------------------------------------------------- */

extern uint8_t *g_vpool;  /* VBUF_SPAN + vsize bytes              */
extern uint32_t *g_perm;  /* fillrandom order: permutation of n   */

int make_data(void);
void free_data(void);
/* Key number -> key bytes.  Both encodings keep byte order == numeric order. */
void key_encode(uint64_t num, uint8_t *out);
/* The value of key id `id` written at version `ver`. */
const uint8_t *value_for(uint64_t id, uint64_t ver);

/* ---- clock and random numbers ---------------------------------------------- */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* splitmix64: a full-period generator and a good 64-bit mixer. */
static inline uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t s;
} rng_t;

static inline uint64_t rng_next(rng_t *r)
{
    r->s += 0x9E3779B97F4A7C15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias worth mentioning (Lemire). */
static inline uint64_t rng_below(rng_t *r, uint64_t bound)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * bound) >> 64);
}

#endif
