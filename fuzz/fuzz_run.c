/*
 * fuzz_run.c -- libFuzzer target: the input is a sorted-run file.
 *
 * The first byte selects the mode; the rest is written to a temporary file
 * that goes through run_open, a full forward and backward iteration with
 * values, point reads of every key found (and of keys taken from the
 * input), seeks, and run_verify.  Odd mode bytes switch checksums off
 * (run_test_skip_checksums) so mutations reach the structural checks that
 * must keep every read inside the map even for a file whose checksums were
 * forged.  Nothing may crash, leak or read out of bounds; every call must
 * return a defined code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "omendb.h"
#include "storage/cache.h"
#include "storage/run.h"

static void sink(void *ctx, const char *line)
{
    (void)line;
    (*(int *)ctx)++;
}

static void probe(run *r, const void *k, size_t kl)
{
    uint64_t seq;
    int type;
    void *v = NULL;
    size_t vl;
    int rc = run_get(r, k, kl, RUN_MAX_SEQ, &seq, &type, &v, &vl);
    if (rc != OMEN_OK && rc != OMEN_NOTFOUND && rc != OMEN_CORRUPT && rc != OMEN_NOMEM) abort();
    omen_free(v);
    rc = run_get(r, k, kl, 1, &seq, &type, &v, &vl);
    omen_free(v);
    run_latest_seq(r, k, kl, &seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char path[128];
    snprintf(path, sizeof path, "/tmp/fuzz_run_%d.run", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    run_test_skip_checksums = data[0] & 1;

    block_cache *cache = NULL;
    if (data[0] & 2) cache_new(1 << 16, &cache);
    run *r;
    if (run_open(path, 1, cache, &r) == OMEN_OK) {
        run_iter *it;
        if (run_iter_new(r, &it) == OMEN_OK) {
            uint64_t count = 0;
            for (run_iter_seek_first(it); run_iter_valid(it) && count < 5000; run_iter_next(it), count++) {
                size_t kl, vl;
                const void *k = run_iter_key(it, &kl);
                const void *v;
                if (run_iter_value(it, &v, &vl) == OMEN_OK && vl) {
                    volatile uint8_t x = ((const uint8_t *)v)[vl - 1];
                    (void)x;
                }
                if (count < 200) probe(r, k, kl);
            }
            for (run_iter_seek_last(it); run_iter_valid(it) && count < 10000; run_iter_prev(it), count++)
                (void)run_iter_seq(it);
            /* Keys taken from the input itself. */
            for (size_t at = 1; at + 8 <= size && at < 200; at += 7) {
                size_t kl = data[at] % 24;
                if (at + 1 + kl > size) break;
                probe(r, data + at + 1, kl);
                run_iter_seek(it, data + at + 1, kl);
                if (run_iter_valid(it)) run_iter_prev(it);
            }
            run_iter_free(it);
        }
        run_close(r);
    }
    int lines = 0;
    run_verify(path, sink, &lines);
    cache_free(cache);
    run_test_skip_checksums = 0;
    unlink(path);
    return 0;
}
