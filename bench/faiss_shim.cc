// faiss_shim.cc -- a C interface to FAISS 1.7.3 IndexHNSWFlat (Debian
// libfaiss-dev) for vec_bench.  Threads are set to 1 for the main sweep.
#include <faiss/IndexHNSW.h>
#include <omp.h>

#include <vector>

extern "C" {

void *faiss_shim_new(int dim, int ip, int M, int efc)
{
    auto *ix = new faiss::IndexHNSWFlat(dim, M, ip ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2);
    ix->hnsw.efConstruction = efc;
    return ix;
}

void faiss_shim_threads(int n)
{
    omp_set_num_threads(n);
}

void faiss_shim_add(void *h, size_t n, const float *v)
{
    static_cast<faiss::IndexHNSWFlat *>(h)->add((faiss::Index::idx_t)n, v);
}

void faiss_shim_set_ef(void *h, int ef)
{
    static_cast<faiss::IndexHNSWFlat *>(h)->hnsw.efSearch = ef;
}

int faiss_shim_search(void *h, const float *q, int k, size_t *labels)
{
    std::vector<float> d(k);
    std::vector<faiss::Index::idx_t> l(k);
    static_cast<faiss::IndexHNSWFlat *>(h)->search(1, q, k, d.data(), l.data());
    int n = 0;
    for (int i = 0; i < k; i++)
        if (l[i] >= 0) labels[n++] = (size_t)l[i];
    return n;
}

// Vectors (flat storage) + neighbour table + offsets + levels.
size_t faiss_shim_bytes(void *h)
{
    auto *ix = static_cast<faiss::IndexHNSWFlat *>(h);
    size_t b = (size_t)ix->ntotal * ix->d * sizeof(float);
    b += ix->hnsw.neighbors.size() * sizeof(ix->hnsw.neighbors[0]);
    b += ix->hnsw.offsets.size() * sizeof(ix->hnsw.offsets[0]);
    b += ix->hnsw.levels.size() * sizeof(ix->hnsw.levels[0]);
    return b;
}

void faiss_shim_free(void *h)
{
    delete static_cast<faiss::IndexHNSWFlat *>(h);
}
}
