/*
 * fuzz_wal.c -- libFuzzer target: WAL replay over arbitrary bytes.
 *
 * Invariants checked beyond "no crash": replay returns OMEN_OK, OMEN_CORRUPT
 * or OMEN_VERSION only; every record handed out lies inside the input; the
 * reported valid length covers exactly the records delivered; and a log
 * rewritten from the delivered records replays to the same records with a
 * clean tail (the writer and the reader agree on the format).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/wal.h"
#include "util/coding.h"
#include "util/crc32c.h"

typedef struct {
    const uint8_t *lo, *hi;
    uint64_t bytes;
    size_t n;
    /* Rebuilt log image. */
    uint8_t *img;
    size_t img_len;
} ctx_t;

static int on_record(void *vctx, const void *rec, size_t len)
{
    ctx_t *c = vctx;
    const uint8_t *r = rec;
    if (len && (r < c->lo || r + len > c->hi)) abort();
    c->bytes += WAL_RECORD_HEADER_SIZE + len;
    c->n++;
    /* Re-encode the record the way the writer does (keeping its type: the
     * header's last byte, just before the payload). */
    uint8_t *p = c->img + c->img_len;
    put_fixed32(p + 4, (uint32_t)len);
    p[8] = r[-1];
    uint32_t crc = crc32c(crc32c(0, p + 4, 5), rec, len);
    put_fixed32(p, crc32c_mask(crc));
    memcpy(p + WAL_RECORD_HEADER_SIZE, rec, len);
    c->img_len += WAL_RECORD_HEADER_SIZE + len;
    return 0;
}

static int count(void *vctx, const void *rec, size_t len)
{
    (void)rec;
    (void)len;
    ((ctx_t *)vctx)->n++;
    return 0;
}

static void one(const uint8_t *data, size_t size);

/* Checksums stop random bytes at the first record, so each input is tried
 * twice: as is, and with a valid file header and every record checksum
 * that fits recomputed (which drives the multi-record path). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    uint8_t *w = malloc(size + WAL_FILE_HEADER_SIZE);
    memcpy(w, "OMENWAL\0", 8);
    put_fixed32(w + 8, 1);
    put_fixed32(w + 12, crc32c_mask(crc32c(0, w, 12)));
    if (size) memcpy(w + WAL_FILE_HEADER_SIZE, data, size);
    size_t len = size + WAL_FILE_HEADER_SIZE, off = WAL_FILE_HEADER_SIZE;
    while (len - off >= WAL_RECORD_HEADER_SIZE) {
        uint32_t n = get_fixed32(w + off + 4);
        if (n > len - off - WAL_RECORD_HEADER_SIZE) break;
        put_fixed32(w + off, crc32c_mask(crc32c(0, w + off + 4, 5 + (size_t)n)));
        off += WAL_RECORD_HEADER_SIZE + n;
    }
    one(w, len);
    free(w);
    return 0;
}

static void one(const uint8_t *data, size_t size)
{
    ctx_t c = {data, data + size, 0, 0, malloc(size + WAL_FILE_HEADER_SIZE + 1), 0};
    uint64_t valid = 0;
    int tail = -1;
    int rc = wal_replay_buf(size ? data : NULL, size, on_record, &c, &valid, &tail);
    if (rc != OMEN_OK && rc != OMEN_CORRUPT && rc != OMEN_VERSION) abort();
    if (rc == OMEN_OK) {
        if (tail < WAL_TAIL_CLEAN || tail > WAL_TAIL_CORRUPT) abort();
        if (valid > size) abort();
        if (valid >= WAL_FILE_HEADER_SIZE) {
            if (valid != WAL_FILE_HEADER_SIZE + c.bytes) abort();
            /* Clean: the records end the file, or only zeros (the
             * writer's reserved space) follow them. */
            int zero_rest = 1;
            for (size_t i = (size_t)valid; i < size; i++)
                if (data[i]) zero_rest = 0;
            if ((tail == WAL_TAIL_CLEAN) != zero_rest) abort();
            /* The accepted prefix, rebuilt, replays identically. */
            memmove(c.img + WAL_FILE_HEADER_SIZE, c.img, c.img_len);
            memcpy(c.img, data, WAL_FILE_HEADER_SIZE);
            ctx_t c2 = {0};
            uint64_t v2;
            int t2;
            if (wal_replay_buf(c.img, WAL_FILE_HEADER_SIZE + c.img_len, count, &c2, &v2, &t2) != OMEN_OK ||
                c2.n != c.n || t2 != WAL_TAIL_CLEAN || v2 != valid ||
                memcmp(c.img, data, (size_t)valid) != 0)
                abort();
        } else if (valid != 0 || c.n != 0 || tail != WAL_TAIL_TORN) {
            abort();
        }
    } else if (c.n != 0) {
        abort();
    }
    free(c.img);
}
