// hnswlib_shim.cc -- a C interface to hnswlib 0.6.2 (Debian libhnswlib-dev,
// header-only) for vec_bench.  Compiled with -march=native (mk/vector.mk) so
// hnswlib's own AVX distance code is used, as hnswlib users build it.
#include <hnswlib/hnswlib.h>

#include <cstddef>

extern "C" {

struct hnsw_shim {
    hnswlib::SpaceInterface<float> *space;
    hnswlib::HierarchicalNSW<float> *index;
};

void *hnswlib_shim_new(int dim, int ip, size_t max_elements, int M, int efc)
{
    hnsw_shim *s = new hnsw_shim;
    if (ip) s->space = new hnswlib::InnerProductSpace(dim);
    else s->space = new hnswlib::L2Space(dim);
    s->index = new hnswlib::HierarchicalNSW<float>(s->space, max_elements, M, efc, 100);
    return s;
}

void hnswlib_shim_add(void *h, const float *v, size_t label)
{
    static_cast<hnsw_shim *>(h)->index->addPoint(v, label);
}

void hnswlib_shim_set_ef(void *h, int ef)
{
    static_cast<hnsw_shim *>(h)->index->setEf(ef);
}

// Labels of the k nearest, closest first; returns how many.
int hnswlib_shim_search(void *h, const float *q, int k, size_t *labels)
{
    auto r = static_cast<hnsw_shim *>(h)->index->searchKnn(q, k);
    int n = (int)r.size();
    for (int i = n - 1; i >= 0; i--) {
        labels[i] = r.top().second;
        r.pop();
    }
    return n;
}

// RAM the index keeps to search, counted from its own structures: the
// level-0 block (links + vector + label per element), upper-level link
// lists, the per-element pointer/level/lock arrays and the label map.
size_t hnswlib_shim_bytes(void *h)
{
    auto *ix = static_cast<hnsw_shim *>(h)->index;
    size_t n = ix->cur_element_count;
    size_t b = ix->max_elements_ * ix->size_data_per_element_;
    for (size_t i = 0; i < n; i++)
        if (ix->element_levels_[i] > 0) b += ix->size_links_per_element_ * ix->element_levels_[i];
    b += ix->max_elements_ * (sizeof(char *) + sizeof(int) + sizeof(std::mutex));
    b += n * (sizeof(size_t) + sizeof(unsigned) + 2 * sizeof(void *)); // label map nodes
    return b;
}

void hnswlib_shim_free(void *h)
{
    hnsw_shim *s = static_cast<hnsw_shim *>(h);
    delete s->index;
    delete s->space;
    delete s;
}
}

extern "C" long hnswlib_shim_dists(void *h)
{
    return static_cast<hnsw_shim *>(h)->index->metric_distance_computations;
}
