/*
 * manifest.c -- encode/decode of the MANIFEST file (docs/format.md) and its
 * atomic replacement.
 *
 * Decode checks, in order: magic (OMEN_NOTDB), header checksum (OMEN_CORRUPT),
 * version (OMEN_VERSION), whole-file checksum, then structure.  The header
 * has its own checksum so that a flipped bit in the version field reads as
 * corruption, not as a file from another version.  Counts and lengths are
 * bounded by the bytes that remain before anything is allocated.
 */
#include "storage/manifest.h"

#include <stdio.h>
#include <string.h>

#include "storage/fio.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/mem.h"

#define MAN_MAGIC "OMENMAN\0"
#define MAN_VERSION 1u
#define MAN_HEADER 16
#define MAN_TRAILER 4
/* Smallest encoding of one run: 6 one-byte varints + 2 one-byte lengths. */
#define MAN_MIN_RUN 8
/* A manifest larger than this is not something OmenDB wrote. */
#define MAN_MAX_FILE (256u * 1024u * 1024u)

static void make_header(uint8_t h[MAN_HEADER])
{
    memcpy(h, MAN_MAGIC, 8);
    put_fixed32(h + 8, MAN_VERSION);
    put_fixed32(h + 12, crc32c_mask(crc32c(0, h, 12)));
}

int manifest_encode(const manifest *m, void **buf, size_t *len)
{
    if (buf) *buf = NULL;
    if (len) *len = 0;
    if (!m || !buf || !len || (!m->runs && m->nruns))
        return util_seterr(OMEN_INVALID, "manifest_encode: bad argument");
    size_t cap = MAN_HEADER + 4 * VARINT64_MAX_LEN + MAN_TRAILER;
    for (size_t i = 0; i < m->nruns; i++) {
        const manifest_run *r = &m->runs[i];
        if ((!r->smallest && r->smallest_len) || (!r->largest && r->largest_len) ||
            r->smallest_len > UINT32_MAX || r->largest_len > UINT32_MAX)
            return util_seterr(OMEN_INVALID, "manifest_encode: run %zu has a bad key", i);
        cap += VARINT32_MAX_LEN * 3 + VARINT64_MAX_LEN * 5 + r->smallest_len + r->largest_len;
    }
    uint8_t *out = util_malloc(cap);
    if (!out) return util_seterr(OMEN_NOMEM, "manifest: out of memory encoding %zu runs", m->nruns);
    make_header(out);
    uint8_t *p = out + MAN_HEADER;
    p = put_varint64(p, m->next_file_number);
    p = put_varint64(p, m->log_number);
    p = put_varint64(p, m->last_sequence);
    p = put_varint64(p, m->nruns);
    for (size_t i = 0; i < m->nruns; i++) {
        const manifest_run *r = &m->runs[i];
        p = put_varint32(p, r->level);
        p = put_varint64(p, r->file_number);
        p = put_varint64(p, r->file_size);
        p = put_varint64(p, r->entries);
        p = put_varint64(p, r->min_seq);
        p = put_varint64(p, r->max_seq);
        p = put_varint32(p, (uint32_t)r->smallest_len);
        if (r->smallest_len) memcpy(p, r->smallest, r->smallest_len);
        p += r->smallest_len;
        p = put_varint32(p, (uint32_t)r->largest_len);
        if (r->largest_len) memcpy(p, r->largest, r->largest_len);
        p += r->largest_len;
    }
    put_fixed32(p, crc32c_mask(crc32c(0, out, (size_t)(p - out))));
    p += MAN_TRAILER;
    *buf = out;
    *len = (size_t)(p - out);
    return OMEN_OK;
}

void manifest_clear(manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nruns && m->runs; i++) {
        omen_free(m->runs[i].smallest);
        omen_free(m->runs[i].largest);
    }
    omen_free(m->runs);
    memset(m, 0, sizeof *m);
}

static int corrupt(const char *what)
{
    return util_seterr(OMEN_CORRUPT, "manifest: %s", what);
}

/* Decode a length-prefixed key at *pp, advancing it.  OMEN_CORRUPT on
 * truncation, OMEN_NOMEM if the copy cannot be allocated. */
static int get_key(const uint8_t **pp, const uint8_t *end, void **key, size_t *klen)
{
    uint32_t n;
    const uint8_t *p = get_varint32(*pp, end, &n);
    if (!p || n > (size_t)(end - p)) return corrupt("truncated run key");
    if (n) {
        *key = util_memdup(p, n);
        if (!*key) return util_seterr(OMEN_NOMEM, "manifest: out of memory for run keys");
    }
    *klen = n;
    *pp = p + n;
    return OMEN_OK;
}

int manifest_decode(const void *buf, size_t len, manifest *out)
{
    if (!out) return util_seterr(OMEN_INVALID, "manifest_decode: NULL output");
    memset(out, 0, sizeof *out);
    if (!buf && len) return util_seterr(OMEN_INVALID, "manifest_decode: NULL buffer");
    const uint8_t *b = buf;
    size_t mlen = len < 8 ? len : 8;
    if (mlen && memcmp(b, MAN_MAGIC, mlen) != 0)
        return util_seterr(OMEN_NOTDB, "manifest: bad magic: not an OmenDB manifest");
    if (len < MAN_HEADER + MAN_TRAILER) return corrupt("truncated");
    if (crc32c_mask(crc32c(0, b, 12)) != get_fixed32(b + 12))
        return corrupt("header checksum mismatch");
    uint32_t version = get_fixed32(b + 8);
    if (version != MAN_VERSION)
        return util_seterr(OMEN_VERSION, "manifest: format version %u unsupported (this build reads %u)",
                           version, MAN_VERSION);
    const uint8_t *end = b + len - MAN_TRAILER;
    if (crc32c_mask(crc32c(0, b, len - MAN_TRAILER)) != get_fixed32(end))
        return corrupt("checksum mismatch");

    const uint8_t *p = b + MAN_HEADER;
    uint64_t nruns;
    if (!(p = get_varint64(p, end, &out->next_file_number)) ||
        !(p = get_varint64(p, end, &out->log_number)) ||
        !(p = get_varint64(p, end, &out->last_sequence)) || !(p = get_varint64(p, end, &nruns)))
        return corrupt("truncated counters");
    if (nruns > (uint64_t)(end - p) / MAN_MIN_RUN) return corrupt("run count exceeds file size");
    manifest m = *out;
    if (nruns) {
        m.runs = util_calloc((size_t)nruns, sizeof *m.runs);
        if (!m.runs) {
            memset(out, 0, sizeof *out);
            return util_seterr(OMEN_NOMEM, "manifest: out of memory for %llu runs",
                               (unsigned long long)nruns);
        }
    }
    int rc = OMEN_OK;
    for (uint64_t i = 0; i < nruns; i++) {
        manifest_run *r = &m.runs[i];
        m.nruns = (size_t)i + 1; /* so manifest_clear frees the keys so far */
        if (!(p = get_varint32(p, end, &r->level)) || !(p = get_varint64(p, end, &r->file_number)) ||
            !(p = get_varint64(p, end, &r->file_size)) || !(p = get_varint64(p, end, &r->entries)) ||
            !(p = get_varint64(p, end, &r->min_seq)) || !(p = get_varint64(p, end, &r->max_seq))) {
            rc = corrupt("truncated run");
            break;
        }
        rc = get_key(&p, end, &r->smallest, &r->smallest_len);
        if (!rc) rc = get_key(&p, end, &r->largest, &r->largest_len);
        if (rc) break;
    }
    if (!rc && p != end) rc = corrupt("trailing bytes after the run list");
    if (rc) {
        manifest_clear(&m);
        memset(out, 0, sizeof *out);
        return rc;
    }
    m.nruns = (size_t)nruns;
    *out = m;
    return OMEN_OK;
}

int manifest_write(const char *dir, const manifest *m)
{
    if (!dir || !m) return util_seterr(OMEN_INVALID, "manifest_write: NULL argument");
    void *buf;
    size_t len;
    int rc = manifest_encode(m, &buf, &len);
    if (rc) return rc;
    rc = fio_write_file_atomic(dir, MANIFEST_FILE, buf, len);
    omen_free(buf);
    return rc;
}

int manifest_read(const char *dir, manifest *out)
{
    if (!out) return util_seterr(OMEN_INVALID, "manifest_read: NULL output");
    memset(out, 0, sizeof *out);
    if (!dir) return util_seterr(OMEN_INVALID, "manifest_read: NULL directory");
    size_t plen = strlen(dir) + sizeof(MANIFEST_FILE) + 1;
    char *path = util_malloc(plen);
    if (!path) return util_seterr(OMEN_NOMEM, "manifest: out of memory");
    snprintf(path, plen, "%s/%s", dir, MANIFEST_FILE);
    fio_file *f = NULL;
    void *buf = NULL;
    uint64_t size = 0;
    int rc = fio_open(path, FIO_READ, &f);
    if (rc) goto out;
    rc = fio_size(f, &size);
    if (rc) goto out;
    if (size > MAN_MAX_FILE) {
        rc = util_seterr(OMEN_CORRUPT, "manifest: %s is implausibly large (%llu bytes)", path,
                         (unsigned long long)size);
        goto out;
    }
    buf = util_malloc((size_t)size);
    if (!buf) {
        rc = util_seterr(OMEN_NOMEM, "manifest: out of memory reading %s", path);
        goto out;
    }
    size_t got;
    rc = fio_pread(f, buf, (size_t)size, 0, &got);
    if (rc) goto out;
    rc = manifest_decode(buf, got, out);
    if (rc && rc != OMEN_NOMEM) {
        char saved[400];
        snprintf(saved, sizeof saved, "%s", omen_last_error());
        util_seterr(rc, "%s: %s", path, saved);
    }
out:
    omen_free(buf);
    fio_close(f);
    omen_free(path);
    return rc;
}
