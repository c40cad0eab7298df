// absl_shim.cc -- extern "C" access to abseil's B-tree for index_bench.
//
// The comparison B-tree is absl::btree_multiset (a multiset so duplicate
// keys keep n entries, as the sorted array does).  Its memory is measured
// with a counting allocator, so "index bytes" for the B-tree is everything
// it allocates (it holds the keys themselves; the sorted array methods do
// not count the array).  Lookups return the key found at lower_bound (the
// B-tree has no positions); index_bench --check compares that key with the
// key at the position binary search found.
#include <absl/container/btree_set.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

namespace {

std::size_t g_bytes;  // allocated by the current tree's allocator

template <class T>
struct CountingAlloc {
    using value_type = T;
    CountingAlloc() = default;
    template <class U>
    CountingAlloc(const CountingAlloc<U> &) noexcept
    {
    }
    T *allocate(std::size_t n)
    {
        g_bytes += n * sizeof(T);
        return static_cast<T *>(::operator new(n * sizeof(T)));
    }
    void deallocate(T *p, std::size_t n) noexcept
    {
        g_bytes -= n * sizeof(T);
        ::operator delete(p);
    }
    template <class U>
    bool operator==(const CountingAlloc<U> &) const noexcept
    {
        return true;
    }
    template <class U>
    bool operator!=(const CountingAlloc<U> &) const noexcept
    {
        return false;
    }
};

using U64Tree = absl::btree_multiset<std::uint64_t, std::less<std::uint64_t>,
                                     CountingAlloc<std::uint64_t>>;
// String keys are views into the benchmark's key blob (which outlives the
// tree), so the tree holds 16-byte views, not copies.
using StrTree = absl::btree_multiset<std::string_view, std::less<std::string_view>,
                                     CountingAlloc<std::string_view>>;

struct U64Box {
    U64Tree t;
    std::size_t bytes;
};
struct StrBox {
    StrTree t;
    std::size_t bytes;
};

}  // namespace

extern "C" {

void *absl_u64_build(const std::uint64_t *keys, std::size_t n)
{
    g_bytes = 0;
    U64Box *b = new (std::nothrow) U64Box();
    if (!b) return nullptr;
    for (std::size_t i = 0; i < n; i++) b->t.insert(b->t.end(), keys[i]);
    b->bytes = g_bytes + sizeof *b;
    return b;
}

// Key at lower_bound(q); *found = 0 when it is end().
std::uint64_t absl_u64_lower_bound(const void *tree, std::uint64_t q, int *found)
{
    const U64Tree &t = static_cast<const U64Box *>(tree)->t;
    auto it = t.lower_bound(q);
    *found = it != t.end();
    return *found ? *it : 0;
}

std::size_t absl_u64_bytes(const void *tree)
{
    return static_cast<const U64Box *>(tree)->bytes;
}

void absl_u64_free(void *tree)
{
    delete static_cast<U64Box *>(tree);
}

void *absl_str_build(const unsigned char *const *keys, const std::size_t *lens, std::size_t n)
{
    g_bytes = 0;
    StrBox *b = new (std::nothrow) StrBox();
    if (!b) return nullptr;
    for (std::size_t i = 0; i < n; i++)
        b->t.insert(b->t.end(),
                    std::string_view(reinterpret_cast<const char *>(keys[i]), lens[i]));
    b->bytes = g_bytes + sizeof *b;
    return b;
}

// Pointer to the key at lower_bound(q) (NULL at end), its length in *len.
const unsigned char *absl_str_lower_bound(const void *tree, const unsigned char *q,
                                          std::size_t qlen, std::size_t *len)
{
    const StrTree &t = static_cast<const StrBox *>(tree)->t;
    auto it = t.lower_bound(std::string_view(reinterpret_cast<const char *>(q), qlen));
    if (it == t.end()) {
        *len = 0;
        return nullptr;
    }
    *len = it->size();
    return reinterpret_cast<const unsigned char *>(it->data());
}

std::size_t absl_str_bytes(const void *tree)
{
    return static_cast<const StrBox *>(tree)->bytes;
}

void absl_str_free(void *tree)
{
    delete static_cast<StrBox *>(tree);
}

}  // extern "C"
