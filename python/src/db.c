/*
 * db.c -- omendb.DB, an open database: open options, writes (single, bulk,
 * batches), snapshots and transactions it hands out, maintenance (flush,
 * compact, stats), close.  Its reads are the shared reader methods
 * (reader.c).  Closing invalidates every dependant first (gate.c).
 */
#include <stdio.h>
#include <string.h>

#include "omendb_py.h"

static void db_drop(Res *r)
{
    DBObject *db = (DBObject *)r;
    omen_db *h = db->h;
    db->h = NULL;
    if (h) {
        Py_BEGIN_ALLOW_THREADS omen_close(h);
        Py_END_ALLOW_THREADS
    }
}

static void db_dealloc(DBObject *db)
{
    Py_CLEAR(db->path);
    res_dealloc((Res *)db);
}

#define DB_OK(db)                                                                                \
    do {                                                                                         \
        if (!(db)->h)                                                                            \
            return raise_closed((Res *)(db));                                                    \
    } while (0)

static const struct {
    const char *name;
    int code;
} compressions[] = {
    {"none", OMEN_COMPRESS_NONE},
    {"lz4", OMEN_COMPRESS_LZ4},
    {"zstd", OMEN_COMPRESS_ZSTD},
    {"snappy", OMEN_COMPRESS_SNAPPY},
};

/* A name the engine does not support gives InvalidArgument at open. */
static int compression_from(PyObject *o, int *out)
{
    if (o == Py_None || o == Py_False) {
        *out = OMEN_COMPRESS_NONE;
        return 0;
    }
    if (PyUnicode_Check(o)) {
        const char *s = PyUnicode_AsUTF8(o);
        if (!s)
            return -1;
        for (size_t i = 0; i < sizeof compressions / sizeof compressions[0]; i++)
            if (!strcmp(s, compressions[i].name)) {
                *out = compressions[i].code;
                return 0;
            }
    }
    PyErr_SetString(PyExc_ValueError, "compression must be None, 'none', 'lz4', 'zstd' or 'snappy'");
    return -1;
}

static int size_opt(PyObject *o, size_t *out)
{
    if (o == Py_None)
        return 0;
    size_t v = PyLong_AsSize_t(o);
    if (v == (size_t)-1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

static int int_opt(PyObject *o, int *out)
{
    if (o == Py_None)
        return 0;
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "option out of range");
        return -1;
    }
    *out = (int)v;
    return 0;
}

PyObject *pydb_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path",       "create",      "error_if_exists",   "sync",
                             "compression", "write_buffer_size", "cache_size", "bloom_bits_per_key",
                             "index_epsilon", "read_only", "int_keys",  "wal_recovery", NULL};
    PyObject *pathobj = NULL, *comp = Py_None, *wbs = Py_None, *cs = Py_None, *bloom = Py_None,
             *eps = Py_None;
    int create = 1, eie = 0, sync = 0, ro = 0, ik = 0;
    const char *walrec = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$pppOOOOOppz:open", kwlist, PyUnicode_FSDecoder,
                                     &pathobj, &create, &eie, &sync, &comp, &wbs, &cs, &bloom, &eps,
                                     &ro, &ik, &walrec))
        return NULL;
    omen_options o;
    omen_options_init(&o);
    o.create_if_missing = create;
    o.error_if_exists = eie;
    o.sync = sync ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED;
    o.read_only = ro;
    /* wal_recovery: what open does with a damaged write-ahead log. */
    static const char *const walmodes[] = {"tolerate-torn-tail", "absolute", "point-in-time", "skip"};
    if (walrec) {
        o.wal_recovery = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(walrec, walmodes[i]))
                o.wal_recovery = i; /* OMEN_WAL_RECOVER_* in this order */
        if (o.wal_recovery < 0) {
            Py_DECREF(pathobj);
            PyErr_Format(PyExc_ValueError,
                         "wal_recovery must be 'tolerate-torn-tail', 'absolute', 'point-in-time' "
                         "or 'skip', not '%s'",
                         walrec);
            return NULL;
        }
    }
    if (compression_from(comp, &o.compression) < 0 || size_opt(wbs, &o.write_buffer_size) < 0 ||
        size_opt(cs, &o.cache_size) < 0 || int_opt(bloom, &o.bloom_bits_per_key) < 0 ||
        int_opt(eps, &o.index_epsilon) < 0) {
        Py_DECREF(pathobj);
        return NULL;
    }
    PyObject *pathb = PyUnicode_EncodeFSDefault(pathobj);
    if (!pathb) {
        Py_DECREF(pathobj);
        return NULL;
    }
    DBObject *db = (DBObject *)type->tp_alloc(type, 0);
    if (!db) {
        Py_DECREF(pathb);
        Py_DECREF(pathobj);
        return NULL;
    }
    res_init((Res *)db, NULL, "database", db_drop);
    db->h = NULL;
    db->int_keys = ik;
    db->path = pathobj;
    omen_db *h = NULL;
    int rc;
    ErrCap e;
    const char *p = PyBytes_AS_STRING(pathb);
    Py_BEGIN_ALLOW_THREADS rc = omen_open(p, &o, &h);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    Py_DECREF(pathb);
    if (rc != OMEN_OK) {
        atomic_store(&db->dead, 1);
        Py_DECREF(db);
        return raise_cap(&e);
    }
    db->h = h;
    return (PyObject *)db;
}

PyDoc_STRVAR(db_get_doc, "get($self, key, default=None, /)\n--\n\n"
                         "Return the value of key (bytes), or default if it is absent.\n"
                         "key: bytes, str (UTF-8) or any bytes-like object; an int in\n"
                         "int_keys mode.  The GIL is released during the lookup.");

/* Single put/delete with the GIL released. */
static int db_write1(DBObject *db, PyObject *key, PyObject *val, int sync)
{
    if (!db->h) {
        raise_closed((Res *)db);
        return -1;
    }
    Arg k, v;
    if (arg_key(db->int_keys, key, &k) < 0)
        return -1;
    if (val && arg_bytes(val, &v, "value") < 0) {
        arg_release(&k);
        return -1;
    }
    int rc = -1;
    ErrCap e;
    if (res_enter((Res *)db) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = val ? omen_put(db->h, k.p, (size_t)k.n, v.p, (size_t)v.n, sync)
                 : omen_delete(db->h, k.p, (size_t)k.n, sync);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        Py_END_ALLOW_THREADS
        res_leave((Res *)db);
        if (rc != OMEN_OK)
            raise_cap(&e);
    }
    arg_release(&k);
    if (val)
        arg_release(&v);
    return rc == OMEN_OK ? 0 : -1;
}

static int db_ass_subscript(DBObject *db, PyObject *key, PyObject *val)
{
    return db_write1(db, key, val, OMEN_SYNC_DEFAULT);
}

static const char *const put_names[] = {"key", "value", "sync"};
static const char *const del_names[] = {"key", "sync"};

PyDoc_STRVAR(db_put_doc, "put($self, key, value, /, sync=None)\n--\n\n"
                         "Insert or overwrite key.  value: bytes, str (stored as UTF-8) or any\n"
                         "bytes-like object.  sync: None uses the database's default, True waits\n"
                         "for fdatasync, False returns once the write is in the OS.");

static PyObject *db_put(DBObject *db, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)
{
    PyObject *a[3];
    int sync = OMEN_SYNC_DEFAULT;
    if (nargs == 2 && !kw) {
        a[0] = args[0];
        a[1] = args[1];
    } else if (fast_parse("put", args, nargs, kw, put_names, 3, 2, a) < 0 || sync_from(a[2], &sync) < 0) {
        return NULL;
    }
    if (db_write1(db, a[0], a[1], sync) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(db_delete_doc, "delete($self, key, /, sync=None)\n--\n\n"
                            "Delete key.  Deleting an absent key is not an error (del db[key]\n"
                            "behaves the same way and does not raise KeyError).");

static PyObject *db_delete(DBObject *db, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)
{
    PyObject *a[2];
    int sync = OMEN_SYNC_DEFAULT;
    if (fast_parse("delete", args, nargs, kw, del_names, 2, 1, a) < 0 || sync_from(a[1], &sync) < 0)
        return NULL;
    if (db_write1(db, a[0], NULL, sync) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(db_get_many_doc,
             "get_many($self, keys, /, default=None)\n--\n\n"
             "Values of many keys as a list, default for absent ones.  keys: a\n"
             "sequence of keys, or in int_keys mode a 1-D array of 8-byte integers\n"
             "(numpy uint64), or in bytes mode an array whose rows are fixed-width\n"
             "keys.  One batched engine lookup (omen_get_many: keys sorted, each\n"
             "sorted run searched for all of them at once) with the GIL released;\n"
             "the same answers as get() per key, read at one moment per 16384 keys.");

PyDoc_STRVAR(db_put_many_doc,
             "put_many($self, keys, values, /, sync=None)\n--\n\n"
             "Write many pairs as one atomic batch.  keys as for get_many(); values: a\n"
             "sequence of bytes/str, or an array whose rows (first axis) are the\n"
             "values, e.g. a numpy array of shape (n, 100) and dtype uint8, or of\n"
             "dtype 'S100'.  Conversion happens once, the write with the GIL released.");

static PyObject *db_put_many(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"keys", "values", "sync", NULL};
    PyObject *keys, *vals, *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:put_many", kwlist, &keys, &vals, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    DB_OK(db);
    Pack pk, pv;
    if (pack_keys(db->int_keys, keys, &pk) < 0)
        return NULL;
    if (pack_values(vals, &pv) < 0) {
        pack_free(&pk);
        return NULL;
    }
    if (pk.n != pv.n) {
        PyErr_Format(PyExc_ValueError, "put_many: %zu keys but %zu values", pk.n, pv.n);
        pack_free(&pk);
        pack_free(&pv);
        return NULL;
    }
    omen_batch *b = NULL;
    int rc = omen_batch_create(&b);
    ErrCap e;
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    if (rc == OMEN_OK && res_enter((Res *)db) == 0) {
        Py_BEGIN_ALLOW_THREADS
        for (size_t i = 0; i < pk.n && rc == OMEN_OK; i++) {
            rc = omen_batch_put(b, PACK_PTR(&pk, i), PACK_LEN(&pk, i), PACK_PTR(&pv, i),
                                PACK_LEN(&pv, i));
            if (rc != OMEN_OK)
                err_capture(&e, rc);
        }
        if (rc == OMEN_OK) {
            rc = omen_write(db->h, b, sync);
            if (rc != OMEN_OK)
                err_capture(&e, rc);
        }
        Py_END_ALLOW_THREADS
        res_leave((Res *)db);
    } else if (rc == OMEN_OK) {
        rc = -1; /* Closed already raised */
    }
    omen_batch_destroy(b);
    pack_free(&pk);
    pack_free(&pv);
    if (rc > 0)
        return raise_cap(&e);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(db_range_doc,
             "range($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
             "Iterate (key, value) pairs in key order over a consistent view taken now.\n" RANGE_DOC_BODY);

PyDoc_STRVAR(db_count_doc,
             "count($self, /, start=None, stop=None)\n--\n\n"
             "Number of keys in [start, stop).  Cost: a full scan of the range (O(n),\n"
             "GIL released, nothing copied to Python).  len(db) is count().");

static Py_ssize_t count_range(DBObject *db, PyObject *start, PyObject *stop)
{
    if (!db->h) {
        raise_closed((Res *)db);
        return -1;
    }
    PyObject *args = PyTuple_Pack(2, start, stop);
    if (!args)
        return -1;
    Reader r = {db, (Res *)db, KIND_DB};
    IterObject *o = (IterObject *)make_iter(&r, MODE_KEYS, args, NULL);
    Py_DECREF(args);
    if (!o)
        return -1;
    Py_ssize_t n = 0;
    int st = OMEN_OK;
    ErrCap e;
    if (res_enter((Res *)o) < 0) {
        Py_DECREF(o);
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    omen_iter *it = o->it;
    if (o->has_lower)
        omen_iter_seek(it, o->lower, o->lower_len);
    else
        omen_iter_seek_first(it);
    for (; omen_iter_valid(it); omen_iter_next(it)) {
        if (o->has_upper) {
            size_t kl;
            const void *k = omen_iter_key(it, &kl);
            if (key_order(k, kl, o->upper, o->upper_len) >= 0)
                break;
        }
        n++;
    }
    st = omen_iter_status(it);
    if (st != OMEN_OK)
        err_capture(&e, st);
    Py_END_ALLOW_THREADS
    res_leave((Res *)o);
    res_invalidate((Res *)o);
    Py_DECREF(o);
    if (st != OMEN_OK) {
        raise_cap(&e);
        return -1;
    }
    return n;
}

static PyObject *db_count(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"start", "stop", NULL};
    PyObject *start = Py_None, *stop = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:count", kwlist, &start, &stop))
        return NULL;
    Py_ssize_t n = count_range(db, start, stop);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static Py_ssize_t db_len(DBObject *db)
{
    return count_range(db, Py_None, Py_None);
}

PyDoc_STRVAR(db_batch_doc, "batch($self, /, sync=None)\n--\n\n"
                           "Return a WriteBatch bound to this database.  Use it as\n"
                           "`with db.batch() as b:`; it is applied atomically when the block\n"
                           "ends normally and discarded if the block raises.");

static PyObject *db_batch(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sync", NULL};
    PyObject *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:batch", kwlist, &so) || sync_from(so, &sync) < 0)
        return NULL;
    DB_OK(db);
    return (PyObject *)pybatch_make(db, db->int_keys, sync);
}

PyDoc_STRVAR(db_write_doc, "write($self, batch, /, sync=None)\n--\n\n"
                           "Apply a WriteBatch atomically (the batch is left unchanged).");

static PyObject *db_write(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"batch", "sync", NULL};
    PyObject *bo, *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|O:write", kwlist, &BatchType, &bo, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    DB_OK(db);
    return pybatch_apply(db, (BatchObject *)bo, sync);
}

/* Give a fresh Snapshot (kind KIND_SNAP) or Transaction (KIND_TXN) object its
 * engine handle, created inside db's gate with the GIL released, and link it
 * to db so closing db invalidates it.  Consumes the reference to child: it is
 * returned on success, dropped on failure (with the error raised). */
static PyObject *child_open(DBObject *db, Res *child, int kind)
{
    if (res_enter((Res *)db) < 0) {
        Py_DECREF(child);
        return NULL;
    }
    omen_snapshot *sh = NULL;
    omen_txn *th = NULL;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS
    rc = kind == KIND_SNAP ? omen_snapshot_create(db->h, &sh) : omen_txn_begin(db->h, &th);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    if (rc == OMEN_OK) {
        if (kind == KIND_SNAP)
            ((SnapObject *)child)->s = sh;
        else
            ((TxnObject *)child)->t = th;
        res_link((Res *)db, child);
    }
    res_leave((Res *)db);
    if (rc != OMEN_OK) {
        Py_DECREF(child);
        return raise_cap(&e);
    }
    return (PyObject *)child;
}

PyDoc_STRVAR(db_snapshot_doc, "snapshot($self, /)\n--\n\n"
                              "Pin the current state and return it as a Snapshot (a context\n"
                              "manager; release() frees it).");

static PyObject *db_snapshot(DBObject *db, PyObject *unused)
{
    (void)unused;
    DB_OK(db);
    SnapObject *s = pysnap_alloc(db);
    if (!s)
        return NULL;
    return child_open(db, (Res *)s, KIND_SNAP);
}

PyDoc_STRVAR(db_transaction_doc,
             "transaction($self, /, sync=None)\n--\n\n"
             "Begin an optimistic serializable Transaction reading at a snapshot taken\n"
             "now.  As a context manager it commits at the end of the block (raising\n"
             "omendb.Conflict if it lost a conflict) and rolls back if the block raises.");

static PyObject *db_transaction(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sync", NULL};
    PyObject *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:transaction", kwlist, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    DB_OK(db);
    TxnObject *t = pytxn_alloc(db, sync);
    if (!t)
        return NULL;
    return child_open(db, (Res *)t, KIND_TXN);
}

/* Run a no-argument engine maintenance call inside the gate, GIL released. */
static PyObject *db_simple(DBObject *db, int (*fn)(omen_db *))
{
    DB_OK(db);
    if (res_enter((Res *)db) < 0)
        return NULL;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS rc = fn(db->h);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)db);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(db_flush_doc, "flush($self, /)\n--\n\n"
                           "Write the in-memory table to a sorted run and wait for it.");

static PyObject *db_flush(DBObject *db, PyObject *unused)
{
    (void)unused;
    return db_simple(db, omen_flush);
}

PyDoc_STRVAR(db_compact_doc, "compact($self, /, start=None, stop=None)\n--\n\n"
                             "Compact every run overlapping [start, stop] (None: unbounded) into\n"
                             "the bottom level and wait for it.");

static PyObject *db_compact(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"start", "stop", NULL};
    PyObject *start = Py_None, *stop = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:compact", kwlist, &start, &stop))
        return NULL;
    DB_OK(db);
    Arg a, b;
    int ha = start != Py_None, hb = stop != Py_None;
    if (ha && arg_key(db->int_keys, start, &a) < 0)
        return NULL;
    if (hb && arg_key(db->int_keys, stop, &b) < 0) {
        if (ha)
            arg_release(&a);
        return NULL;
    }
    int rc = -1;
    ErrCap e;
    if (res_enter((Res *)db) == 0) {
        Py_BEGIN_ALLOW_THREADS rc = omen_compact_range(db->h, ha ? a.p : NULL, ha ? (size_t)a.n : 0,
                                                       hb ? b.p : NULL, hb ? (size_t)b.n : 0);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        Py_END_ALLOW_THREADS
        res_leave((Res *)db);
        if (rc != OMEN_OK)
            raise_cap(&e);
    }
    if (ha)
        arg_release(&a);
    if (hb)
        arg_release(&b);
    if (rc != OMEN_OK)
        return NULL;
    Py_RETURN_NONE;
}

static int dict_u64(PyObject *d, const char *k, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    if (!o)
        return -1;
    int r = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return r;
}

static int dict_list(PyObject *d, const char *k, const uint64_t *v, int n)
{
    PyObject *l = PyList_New(n);
    if (!l)
        return -1;
    for (int i = 0; i < n; i++) {
        PyObject *o = PyLong_FromUnsignedLongLong(v[i]);
        if (!o) {
            Py_DECREF(l);
            return -1;
        }
        PyList_SET_ITEM(l, i, o);
    }
    int r = PyDict_SetItemString(d, k, l);
    Py_DECREF(l);
    return r;
}

PyDoc_STRVAR(db_stats_doc,
             "stats($self, /)\n--\n\n"
             "Engine statistics as a dict: sequence, runs_per_level and\n"
             "entries_per_level (lists, one item per level), run_entries,\n"
             "memtable_entries, memtable_bytes, file_bytes, index_bytes, filter_bytes,\n"
             "wal_bytes, cache_hits, cache_misses, flushes, compactions,\n"
             "compaction_bytes_written, write_stalls_us, read_only (bool),\n"
             "fatal_error (the message of the error that made the handle read-only,\n"
             "or None), wal_records_skipped and wal_bytes_skipped (left behind by\n"
             "the wal_recovery mode at open).");

static PyObject *db_stats(DBObject *db, PyObject *unused)
{
    (void)unused;
    DB_OK(db);
    omen_stats s;
    memset(&s, 0, sizeof s);
    if (res_enter((Res *)db) < 0)
        return NULL;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS rc = omen_get_stats(db->h, &s);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)db);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (dict_u64(d, "sequence", s.sequence) < 0 ||
        dict_list(d, "runs_per_level", s.runs_per_level, OMEN_MAX_LEVELS) < 0 ||
        dict_list(d, "entries_per_level", s.entries_per_level, OMEN_MAX_LEVELS) < 0 ||
        dict_u64(d, "run_entries", s.run_entries) < 0 ||
        dict_u64(d, "memtable_entries", s.memtable_entries) < 0 ||
        dict_u64(d, "memtable_bytes", s.memtable_bytes) < 0 ||
        dict_u64(d, "file_bytes", s.file_bytes) < 0 || dict_u64(d, "index_bytes", s.index_bytes) < 0 ||
        dict_u64(d, "filter_bytes", s.filter_bytes) < 0 || dict_u64(d, "wal_bytes", s.wal_bytes) < 0 ||
        dict_u64(d, "cache_hits", s.cache_hits) < 0 || dict_u64(d, "cache_misses", s.cache_misses) < 0 ||
        dict_u64(d, "flushes", s.flushes) < 0 || dict_u64(d, "compactions", s.compactions) < 0 ||
        dict_u64(d, "compaction_bytes_written", s.compaction_bytes_written) < 0 ||
        dict_u64(d, "write_stalls_us", s.write_stalls_us) < 0 ||
        PyDict_SetItemString(d, "read_only", s.read_only ? Py_True : Py_False) < 0 ||
        dict_u64(d, "wal_records_skipped", s.wal_records_skipped) < 0 ||
        dict_u64(d, "wal_bytes_skipped", s.wal_bytes_skipped) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    /* The first fatal error's message (None if there was none). */
    const char *fatal = NULL;
    PyObject *fo = Py_None;
    Py_INCREF(fo);
    if (omen_fatal_error(db->h, &fatal) != OMEN_OK && fatal) {
        Py_DECREF(fo);
        fo = PyUnicode_DecodeUTF8(fatal, (Py_ssize_t)strlen(fatal), "replace");
    }
    if (!fo || PyDict_SetItemString(d, "fatal_error", fo) < 0) {
        Py_XDECREF(fo);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(fo);
    return d;
}

PyDoc_STRVAR(db_close_doc,
             "close($self, /)\n--\n\n"
             "Close the database.  Waits for calls running in other threads, then\n"
             "invalidates its iterators, snapshots and open transactions (rolled back)\n"
             "and releases the directory lock.  Idempotent; any later call raises\n"
             "omendb.Closed.  Writes already acknowledged are recovered by the next open.");

static PyObject *db_closed(DBObject *db, void *unused)
{
    (void)unused;
    return PyBool_FromLong(db->h == NULL);
}

static PyObject *db_path(DBObject *db, void *unused)
{
    (void)unused;
    Py_INCREF(db->path);
    return db->path;
}

static PyObject *db_int_keys(DBObject *db, void *unused)
{
    (void)unused;
    return PyBool_FromLong(db->int_keys);
}

static PyObject *db_repr(DBObject *db)
{
    return PyUnicode_FromFormat("<omendb.DB %R%s%s>", db->path, db->int_keys ? " int_keys" : "",
                                db->h ? "" : " closed");
}

static PyMethodDef db_methods[] = {
    {"get", (PyCFunction)(void (*)(void))reader_get, METH_FASTCALL | METH_KEYWORDS, db_get_doc},
    {"put", (PyCFunction)(void (*)(void))db_put, METH_FASTCALL | METH_KEYWORDS, db_put_doc},
    {"delete", (PyCFunction)(void (*)(void))db_delete, METH_FASTCALL | METH_KEYWORDS, db_delete_doc},
    {"get_many", (PyCFunction)(void (*)(void))reader_get_many, METH_VARARGS | METH_KEYWORDS,
     db_get_many_doc},
    {"put_many", (PyCFunction)(void (*)(void))db_put_many, METH_VARARGS | METH_KEYWORDS,
     db_put_many_doc},
    {"range", (PyCFunction)(void (*)(void))reader_range, METH_VARARGS | METH_KEYWORDS, db_range_doc},
    {"items", (PyCFunction)(void (*)(void))reader_range, METH_VARARGS | METH_KEYWORDS,
     "items($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Same as range()."},
    {"keys", (PyCFunction)(void (*)(void))reader_keys, METH_VARARGS | METH_KEYWORDS,
     "keys($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate keys only (values are not read).  iter(db) is keys()."},
    {"values", (PyCFunction)(void (*)(void))reader_values, METH_VARARGS | METH_KEYWORDS,
     "values($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate values only."},
    {"count", (PyCFunction)(void (*)(void))db_count, METH_VARARGS | METH_KEYWORDS, db_count_doc},
    {"batch", (PyCFunction)(void (*)(void))db_batch, METH_VARARGS | METH_KEYWORDS, db_batch_doc},
    {"write", (PyCFunction)(void (*)(void))db_write, METH_VARARGS | METH_KEYWORDS, db_write_doc},
    {"snapshot", (PyCFunction)db_snapshot, METH_NOARGS, db_snapshot_doc},
    {"transaction", (PyCFunction)(void (*)(void))db_transaction, METH_VARARGS | METH_KEYWORDS,
     db_transaction_doc},
    {"flush", (PyCFunction)db_flush, METH_NOARGS, db_flush_doc},
    {"compact", (PyCFunction)(void (*)(void))db_compact, METH_VARARGS | METH_KEYWORDS, db_compact_doc},
    {"stats", (PyCFunction)db_stats, METH_NOARGS, db_stats_doc},
    VSET_DB_METHODS
    {"close", (PyCFunction)res_close_method, METH_NOARGS, db_close_doc},
    {"__enter__", (PyCFunction)return_self, METH_NOARGS, "Return the database itself."},
    {"__exit__", (PyCFunction)res_exit_method, METH_VARARGS, "Close the database."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef db_getset[] = {
    {"closed", (getter)db_closed, NULL, "True once close() was called.", NULL},
    {"path", (getter)db_path, NULL, "The database directory (str).", NULL},
    {"int_keys", (getter)db_int_keys, NULL, "True if keys are Python ints (big-endian u64).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods db_as_mapping = {
    .mp_length = (lenfunc)db_len,
    .mp_subscript = (binaryfunc)reader_subscript,
    .mp_ass_subscript = (objobjargproc)db_ass_subscript,
};
static PySequenceMethods db_as_sequence = {.sq_contains = (objobjproc)reader_contains};

#define OPEN_SIG                                                                                   \
    "(path, *, create=True, error_if_exists=False, sync=False, compression=None,\n"              \
    "     write_buffer_size=None, cache_size=None, bloom_bits_per_key=None,\n"                    \
    "     index_epsilon=None, read_only=False, int_keys=False, wal_recovery=None)\n--\n\n"

#define OPEN_BODY                                                                                  \
    "Open (or create) the OmenDB database in directory `path` (str, bytes or\n"                    \
    "os.PathLike).\n\n"                                                                            \
    "create: create it if absent (else omendb.NotFoundError).\n"                                 \
    "error_if_exists: raise omendb.Exists if it already exists.\n"                               \
    "sync: default durability of writes; True = fdatasync before a write returns,\n"             \
    "      False = the write is in the OS (survives a process crash).\n"                         \
    "compression: None/'none', 'lz4', 'zstd' or 'snappy' for new sorted runs.\n"                            \
    "write_buffer_size, cache_size: bytes (None: engine defaults, 64 MiB each).\n"              \
    "bloom_bits_per_key: filter bits per key (0 disables; None: 10).\n"                          \
    "index_epsilon: learned-index error bound (None: engine default).\n"                          \
    "read_only: open without writing anything.\n"                                                 \
    "wal_recovery: what open does with a damaged write-ahead log: 'tolerate-torn-tail'\n"         \
    "(default: refuse corruption), 'absolute', 'point-in-time' or 'skip' (docs/design.md).\n"     \
    "int_keys: keys are Python ints in 0..2**64-1, stored big-endian so that the\n"              \
    "      order is numeric; iteration yields ints.  (Not stored in the database:\n"             \
    "      pass it on every open.)\n\n"                                                           \
    "Raises omendb.Locked if another process has it open, omendb.NotADatabase if\n"              \
    "the directory holds something else, omendb.Corruption, omendb.DiskError...\n"               \
    "The DB is a context manager (closed on exit) and a mapping: db[key],\n"                     \
    "db[key] = value, del db[key], key in db, len(db), iter(db)."

PyDoc_STRVAR(db_doc, "DB" OPEN_SIG "An open OmenDB database.  Create with omendb.open().\n\n" OPEN_BODY);

PyTypeObject DBType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.DB",
    .tp_basicsize = sizeof(DBObject),
    .tp_dealloc = (destructor)db_dealloc,
    .tp_repr = (reprfunc)db_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = db_doc,
    .tp_iter = (getiterfunc)reader_iter,
    .tp_methods = db_methods,
    .tp_getset = db_getset,
    .tp_as_mapping = &db_as_mapping,
    .tp_as_sequence = &db_as_sequence,
    .tp_new = pydb_new,
};

const char pydb_open_doc[] = "open" OPEN_SIG OPEN_BODY;
