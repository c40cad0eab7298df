/*
 * fuzz_vgraph.c -- libFuzzer target: the vector graph file decoder over
 * arbitrary bytes.
 *
 * Each input is tried as a whole file, and again with a valid header for
 * a small set (dim 4, M 4) and a valid CRC trailer, so the structure parser
 * (counts, links, ids, entry point) sees the bytes.  A successful decode
 * must re-encode and decode again; a graph it yields must answer a search.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "omendb.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "vector/vgraph.h"

static void check(const uint8_t *buf, size_t len, const vgraph_params *p)
{
    hnsw *g = NULL;
    int rc = vgraph_decode(buf, len, p, &g);
    if (rc != OMEN_OK) {
        if (g) abort();
        if (rc != OMEN_CORRUPT && rc != OMEN_VERSION && rc != OMEN_NOMEM) abort();
        return;
    }
    float q[4] = {0.5f, -1, 2, 0};
    int8_t q8[4];
    hn_query hq;
    hnsw_prepare_query(g, q, q8, &hq);
    hn_cand out[8];
    int rs = hnsw_read_begin(g);
    hnsw_search(g, &hq, 8, NULL, out, NULL);
    hnsw_read_end(g, rs);
    void *enc;
    size_t elen;
    if (vgraph_encode(g, p->set_id, &enc, &elen) == OMEN_OK) {
        hnsw *g2 = NULL;
        if (vgraph_decode(enc, elen, p, &g2) != OMEN_OK) abort();
        hnsw_free(g2);
        free(enc);
    }
    hnsw_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* As a whole file: the parameters its own header claims (4 dims, M 4). */
    vgraph_params p = {1, 4, 4, 8, size > 21 ? data[20] % 3 : 0, size > 21 ? data[21] & 1 : 1};
    check(data, size, &p);
    p.metric = size ? data[0] % 3 : 0;
    p.precision = size > 1 ? data[1] & 1 : 1;
    /* header (64 bytes) + body + crc */
    size_t len = 64 + size + 4;
    uint8_t *w = calloc(1, len);
    memcpy(w, VGRAPH_MAGIC, 8);
    put_fixed32(w + 8, VGRAPH_VERSION);
    put_fixed32(w + 12, p.set_id);
    put_fixed32(w + 16, p.dim);
    w[20] = (uint8_t)p.metric;
    w[21] = (uint8_t)p.precision;
    w[22] = (uint8_t)p.M;
    put_fixed32(w + 24, p.efc);
    float sc = 0.05f, off = 0;
    memcpy(w + 28, &sc, 4);
    memcpy(w + 32, &off, 4);
    put_fixed32(w + 36, 1);
    /* slot count, entry and live count come from the input's first bytes */
    put_fixed32(w + 40, size > 2 ? data[2] % 16 : 0);
    put_fixed32(w + 44, size > 3 ? (data[3] == 0xff ? UINT32_MAX : data[3] % 16u) : UINT32_MAX);
    put_fixed32(w + 48, size > 4 ? data[4] % 3 : 0);
    put_fixed64(w + 52, size > 5 ? data[5] % 16 : 0);
    if (size > 6) memcpy(w + 64, data + 6, size - 6);
    len = 64 + (size > 6 ? size - 6 : 0) + 4;
    put_fixed32(w + len - 4, crc32c_mask(crc32c(0, w, len - 4)));
    check(w, len, &p);
    free(w);
    return 0;
}
