/*
 * vgraph.h -- the graph file: a checkpoint of one vector set's search graph.
 *
 * The file is written whole (fio_write_file_atomic: temp file, fsync,
 * rename) and read whole; its layout is in docs/format.md ("Vector graph
 * files").  A CRC32C over every byte before the trailer is checked before
 * anything is parsed, and parsing then bounds-checks every count, length
 * and link, so a damaged or foreign file is OMEN_CORRUPT (the caller then
 * rebuilds the graph from the stored elements), never a crash.
 */
#ifndef OMEN_VGRAPH_H
#define OMEN_VGRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "vector/hnsw.h"

#define VGRAPH_MAGIC "OMENVGF1"
/* 2: slot state 2 = live, lossless int8 codes.  3: int8 cosine and inner
 * product nodes carry their own map.  1 and 2 are still read. */
#define VGRAPH_VERSION 3u

typedef struct vgraph_params {
    uint32_t set_id, dim, M, efc;
    int metric, precision;
} vgraph_params;

/* Serialize g (which must hold no DELETED nodes: consolidate first) into a
 * malloc'd buffer *out of *len bytes. */
int vgraph_encode(const hnsw *g, uint32_t set_id, void **out, size_t *len);

/* Build a graph from a file image.  The parameters must match p (else
 * OMEN_CORRUPT: the file belongs to another set or configuration).  On
 * OMEN_OK *out is a new graph owned by the caller. */
int vgraph_decode(const void *buf, size_t len, const vgraph_params *p, hnsw **out);

#endif
