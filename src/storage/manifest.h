/*
 * manifest.h -- the list of live sorted runs plus the counters recovery
 * needs, stored in the file MANIFEST of the database directory.
 *
 * The manifest is rewritten whole on each change and replaced atomically
 * (fio_write_file_atomic: MANIFEST.tmp, fsync, rename, fsync dir), so a
 * reader sees either the old or the new list, never a mix, also across
 * power loss.  The file carries a magic, a format version and crc32c
 * checksums (docs/format.md, "MANIFEST"); decoding any byte sequence is
 * safe and returns a clean error.
 *
 * Structural checks only: decode guarantees well-formed fields (lengths in
 * bounds, no trailing bytes); semantic checks (file numbers present on
 * disk, level rules) are the db layer's.
 */
#ifndef OMEN_MANIFEST_H
#define OMEN_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "omendb.h"

#define MANIFEST_FILE "MANIFEST"

typedef struct manifest_run {
    uint32_t level;
    uint64_t file_number, file_size, entries, min_seq, max_seq;
    void *smallest; /* smallest internal key of the run (may be NULL iff len 0) */
    size_t smallest_len;
    void *largest; /* largest internal key */
    size_t largest_len;
} manifest_run;

typedef struct manifest {
    uint64_t next_file_number; /* every file number in use is below this     */
    uint64_t log_number;       /* WAL files numbered >= this are replayed      */
    uint64_t last_sequence;    /* highest sequence number stored in the runs   */
    size_t nruns;
    manifest_run *runs; /* nruns entries, in the order they were encoded */
} manifest;

/* Serialize m into a new buffer *buf (util_malloc; caller frees with
 * omen_free) of *len bytes.  OMEN_INVALID for NULL key pointers with
 * non-zero length, OMEN_NOMEM. */
int manifest_encode(const manifest *m, void **buf, size_t *len);

/* Parse buf into *out (which it overwrites; on success the caller owns the
 * run array and keys: release with manifest_clear; on failure *out is
 * zeroed and owns nothing).
 * OMEN_NOTDB (bad magic), OMEN_CORRUPT (checksum/structure, truncation),
 * OMEN_VERSION (unknown version), OMEN_NOMEM. */
int manifest_decode(const void *buf, size_t len, manifest *out);

/* Encode m and replace dir/MANIFEST atomically and durably. */
int manifest_write(const char *dir, const manifest *m);

/* Read and decode dir/MANIFEST.  OMEN_NOTFOUND if there is none; otherwise
 * as manifest_decode, or OMEN_IO. */
int manifest_read(const char *dir, manifest *out);

/* Free the runs and their keys of a manifest filled by manifest_decode /
 * manifest_read, and zero it.  NULL is OK. */
void manifest_clear(manifest *m);

#endif
