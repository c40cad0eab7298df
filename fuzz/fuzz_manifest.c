/*
 * fuzz_manifest.c -- libFuzzer target: manifest decode over arbitrary bytes.
 *
 * Beyond "no crash, no leak": only the documented error codes; a failed
 * decode leaves an empty manifest; a successful decode re-encodes to exactly
 * the input (the encoding is canonical) and decodes again identically.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/manifest.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/mem.h"

static void one(const uint8_t *data, size_t size);

/* Checksums stop random bytes at the door, so each input is tried twice:
 * as a whole file, and as a body wrapped in a valid header and trailer
 * (which drives the structure parser). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    uint8_t *w = malloc(size + 20);
    memcpy(w, "OMENMAN\0", 8);
    put_fixed32(w + 8, 2); /* the version manifest_encode writes */
    put_fixed32(w + 12, crc32c_mask(crc32c(0, w, 12)));
    if (size) memcpy(w + 16, data, size);
    put_fixed32(w + 16 + size, crc32c_mask(crc32c(0, w, 16 + size)));
    one(w, size + 20);
    free(w);
    return 0;
}

static void one(const uint8_t *data, size_t size)
{
    manifest m;
    int rc = manifest_decode(size ? data : NULL, size, &m);
    if (rc != OMEN_OK) {
        if (rc != OMEN_CORRUPT && rc != OMEN_NOTDB && rc != OMEN_VERSION && rc != OMEN_NOMEM) abort();
        if (m.nruns || m.runs) abort();
        return;
    }
    void *buf;
    size_t len;
    if (manifest_encode(&m, &buf, &len) != OMEN_OK) abort();
    /* Varints could have non-canonical encodings (e.g. 0x80 0x00); those
     * decode fine but re-encode shorter, so only compare when lengths match.
     * A version-1 input re-encodes as version 2 (footer checksums added). */
    if (len == size && get_fixed32(data + 8) == 2 && memcmp(buf, data, size) != 0) abort();
    manifest m2;
    if (manifest_decode(buf, len, &m2) != OMEN_OK) abort();
    if (m2.nruns != m.nruns || m2.next_file_number != m.next_file_number ||
        m2.log_number != m.log_number || m2.last_sequence != m.last_sequence)
        abort();
    for (size_t i = 0; i < m.nruns; i++) {
        const manifest_run *a = &m.runs[i], *b = &m2.runs[i];
        if (a->level != b->level || a->file_number != b->file_number ||
            a->file_size != b->file_size || a->entries != b->entries ||
            a->min_seq != b->min_seq || a->max_seq != b->max_seq ||
            a->smallest_len != b->smallest_len || a->largest_len != b->largest_len ||
            (a->smallest_len && memcmp(a->smallest, b->smallest, a->smallest_len)) ||
            (a->largest_len && memcmp(a->largest, b->largest, a->largest_len)) ||
            a->footer_crc != b->footer_crc)
            abort();
    }
    manifest_clear(&m2);
    manifest_clear(&m);
    omen_free(buf);
}
