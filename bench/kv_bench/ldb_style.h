/*
 * ldb_style.h -- the methods RocksDB's and LevelDB's adapters share.
 */
#ifndef KV_LDB_STYLE_H
#define KV_LDB_STYLE_H

/* RocksDB's C API copies LevelDB's for everything below: the same calls under
 * another prefix, errors as malloc'd strings the caller frees.  One body,
 * instantiated per engine with its prefix (`api`) and handle types. */
#define LDB_STYLE_METHODS(pfx, api, Db, Thr)                                                   \
    static int pfx##_err(const char *what, char *err)                                          \
    {                                                                                          \
        seterr("%s: %s", what, err);                                                           \
        api##_free(err);                                                                       \
        return -1;                                                                             \
    }                                                                                          \
    static int pfx##_settle(void *db)                                                          \
    {                                                                                          \
        Db *d = db;                                                                            \
        api##_compact_range(d->db, NULL, 0, NULL, 0);                                          \
        return 0;                                                                              \
    }                                                                                          \
    static int pfx##_put(void *p, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)    \
    {                                                                                          \
        Thr *t = p;                                                                            \
        char *err = NULL;                                                                      \
        api##_put(t->d->db, t->d->wo, (const char *)k, kl, (const char *)v, vl, &err);         \
        return err ? pfx##_err(#api "_put", err) : 0;                                          \
    }                                                                                          \
    static int pfx##_it_begin(void *p)                                                         \
    {                                                                                          \
        Thr *t = p;                                                                            \
        t->it = api##_create_iterator(t->d->db, t->d->ro);                                     \
        return 0;                                                                              \
    }                                                                                          \
    static int pfx##_it_state(Thr *t)                                                          \
    {                                                                                          \
        if (api##_iter_valid(t->it))                                                           \
            return 1;                                                                          \
        char *err = NULL;                                                                      \
        api##_iter_get_error(t->it, &err);                                                     \
        return err ? pfx##_err(#api "_iter", err) : 0;                                         \
    }                                                                                          \
    static int pfx##_it_first(void *p)                                                         \
    {                                                                                          \
        Thr *t = p;                                                                            \
        api##_iter_seek_to_first(t->it);                                                       \
        return pfx##_it_state(t);                                                              \
    }                                                                                          \
    static int pfx##_it_seek(void *p, const uint8_t *k, size_t kl)                             \
    {                                                                                          \
        Thr *t = p;                                                                            \
        api##_iter_seek(t->it, (const char *)k, kl);                                           \
        return pfx##_it_state(t);                                                              \
    }                                                                                          \
    static int pfx##_it_next(void *p)                                                          \
    {                                                                                          \
        Thr *t = p;                                                                            \
        api##_iter_next(t->it);                                                                \
        return pfx##_it_state(t);                                                              \
    }                                                                                          \
    static void pfx##_it_cur(void *p, const uint8_t **k, size_t *kl, const uint8_t **v,        \
                             size_t *vl)                                                       \
    {                                                                                          \
        Thr *t = p;                                                                            \
        *k = (const uint8_t *)api##_iter_key(t->it, kl);                                       \
        *v = (const uint8_t *)api##_iter_value(t->it, vl);                                     \
    }                                                                                          \
    static void pfx##_it_end(void *p)                                                          \
    {                                                                                          \
        Thr *t = p;                                                                            \
        api##_iter_destroy(t->it);                                                             \
        t->it = NULL;                                                                          \
    }

#endif
