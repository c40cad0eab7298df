/*
 * reader.c -- the read methods shared by every readable handle: DB,
 * Snapshot and Transaction.  One implementation per method; reader_of()
 * turns the object into a Reader (its DB, its gate, which engine call reads
 * through it) and checks it is usable, so the types differ only in their
 * method tables and doc strings.
 */
#include <string.h>

#include "omendb_py.h"

int reader_of(PyObject *o, Reader *r)
{
    r->gate = (Res *)o;
    if (Py_TYPE(o) == &DBType) {
        r->db = (DBObject *)o;
        r->kind = KIND_DB;
        if (!r->db->h) {
            raise_closed(r->gate);
            return -1;
        }
        return 0;
    }
    r->db = r->gate->db;
    if (Py_TYPE(o) == &SnapType) {
        r->kind = KIND_SNAP;
        if (!((SnapObject *)o)->s) {
            raise_closed(r->gate);
            return -1;
        }
        return 0;
    }
    r->kind = KIND_TXN;
    if (!((TxnObject *)o)->t) {
        pytxn_not_active((TxnObject *)o);
        return -1;
    }
    return 0;
}

/* Read key through `gate` (DB, Snapshot or Transaction).  Returns 1 and a new
 * bytes object in *out when found, 0 when absent, -1 with an exception. */
static int read_one(const Reader *r, PyObject *key, PyObject **out)
{
    DBObject *db = r->db;
    Res *gate = r->gate;
    int kind = r->kind;
    Arg k;
    if (arg_key(db->int_keys, key, &k) < 0)
        return -1;
    if (res_enter(gate) < 0) {
        arg_release(&k);
        return -1;
    }
    if (kind == KIND_TXN && take_busy(gate, "the transaction") < 0) {
        res_leave(gate);
        arg_release(&k);
        return -1;
    }
    /* Handles are read only now: converting the key may have run Python
     * code, during which another thread could have ended the owner. */
    const omen_snapshot *snap = kind == KIND_SNAP ? ((SnapObject *)gate)->s : NULL;
    omen_txn *txn = kind == KIND_TXN ? ((TxnObject *)gate)->t : NULL;
    if (kind == KIND_TXN && !txn) {
        gate->busy = 0;
        res_leave(gate);
        arg_release(&k);
        pytxn_not_active((TxnObject *)gate);
        return -1;
    }
    void *v = NULL;
    size_t vl = 0;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS
    if (txn)
        rc = omen_txn_get(txn, k.p, (size_t)k.n, &v, &vl);
    else
        rc = omen_get(db->h, snap, k.p, (size_t)k.n, &v, &vl);
    if (rc != OMEN_OK && rc != OMEN_NOTFOUND)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    if (txn)
        gate->busy = 0;
    res_leave(gate);
    arg_release(&k);
    if (rc == OMEN_NOTFOUND)
        return 0;
    if (rc != OMEN_OK) {
        raise_cap(&e);
        return -1;
    }
    *out = PyBytes_FromStringAndSize(v, (Py_ssize_t)vl);
    omen_free(v);
    return *out ? 1 : -1;
}

static const char *const get_names[] = {"key", "default"};

PyObject *reader_get(PyObject *o, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    Reader r;
    if (reader_of(o, &r) < 0)
        return NULL;
    PyObject *a[2];
    if (nargs == 1 && !kwnames) {
        a[0] = args[0];
        a[1] = NULL;
    } else if (fast_parse("get", args, nargs, kwnames, get_names, 2, 1, a) < 0) {
        return NULL;
    }
    PyObject *v;
    int f = read_one(&r, a[0], &v);
    if (f < 0)
        return NULL;
    if (f == 0) {
        v = a[1] ? a[1] : Py_None;
        Py_INCREF(v);
    }
    return v;
}

PyObject *reader_subscript(PyObject *o, PyObject *key)
{
    Reader r;
    if (reader_of(o, &r) < 0)
        return NULL;
    PyObject *v;
    int f = read_one(&r, key, &v);
    if (f < 0)
        return NULL;
    if (f == 0) {
        PyObject *t = PyTuple_Pack(1, key);
        if (t) {
            PyErr_SetObject(PyExc_KeyError, t);
            Py_DECREF(t);
        }
        return NULL;
    }
    return v;
}

int reader_contains(PyObject *o, PyObject *key)
{
    Reader r;
    if (reader_of(o, &r) < 0)
        return -1;
    PyObject *v;
    int f = read_one(&r, key, &v);
    if (f == 1)
        Py_DECREF(v);
    return f;
}

/* get_many: the keys are read through omen_get_many (sorted, and each run
 * searched for all of them in one batch) in chunks, with the GIL released;
 * each chunk's values are turned into bytes and freed before the next.
 * Chunks bound the memory held in C copies; they are large because every
 * GIL re-acquisition can wait a whole switch interval behind a CPU-bound
 * Python thread.  Each chunk reads one consistent state (the snapshot's,
 * for a Snapshot). */
#define GET_MANY_CHUNK 16384

static PyObject *get_many_impl(const Reader *r, PyObject *keys, PyObject *dflt)
{
    DBObject *db = r->db;
    Res *gate = r->gate;
    if (r->kind == KIND_TXN) /* reads in a transaction are recorded one by one */
        return PyErr_Format(PyExc_TypeError, "get_many() is not available on a transaction");
    Pack p;
    if (pack_keys(db->int_keys, keys, &p) < 0)
        return NULL;
    size_t n = p.n;
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) {
        pack_free(&p);
        return NULL;
    }
    size_t cap = n < GET_MANY_CHUNK ? (n ? n : 1) : GET_MANY_CHUNK;
    void **vals = PyMem_Malloc(cap * sizeof(void *));
    size_t *lens = PyMem_Malloc(cap * sizeof(size_t));
    const void **kp = PyMem_Malloc(cap * sizeof(void *));
    size_t *kl = PyMem_Malloc(cap * sizeof(size_t));
    if (!vals || !lens || !kp || !kl) {
        PyErr_NoMemory();
        goto fail;
    }
    for (size_t base = 0; base < n; base += GET_MANY_CHUNK) {
        size_t m = n - base < GET_MANY_CHUNK ? n - base : GET_MANY_CHUNK;
        for (size_t j = 0; j < m; j++) {
            kp[j] = PACK_PTR(&p, base + j);
            kl[j] = PACK_LEN(&p, base + j);
        }
        if (res_enter(gate) < 0)
            goto fail;
        int rc;
        ErrCap e;
        /* read only inside the gate: the snapshot may have been released */
        const omen_snapshot *snap = r->kind == KIND_SNAP ? ((SnapObject *)gate)->s : NULL;
        Py_BEGIN_ALLOW_THREADS
        rc = omen_get_many(db->h, snap, m, kp, kl, vals, lens);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        Py_END_ALLOW_THREADS
        res_leave(gate);
        if (rc != OMEN_OK) {
            raise_cap(&e);
            goto fail;
        }
        int oom = 0;
        for (size_t j = 0; j < m; j++) {
            PyObject *o;
            if (vals[j] && !oom) {
                o = PyBytes_FromStringAndSize(vals[j], (Py_ssize_t)lens[j]);
                if (!o)
                    oom = 1;
            } else {
                o = dflt;
                Py_INCREF(o);
            }
            omen_free(vals[j]);
            PyList_SET_ITEM(list, (Py_ssize_t)(base + j), o ? o : (Py_INCREF(Py_None), Py_None));
        }
        if (oom)
            goto fail;
    }
    PyMem_Free(vals);
    PyMem_Free(lens);
    PyMem_Free(kp);
    PyMem_Free(kl);
    pack_free(&p);
    return list;
fail:
    /* unfilled slots are NULL, which list dealloc tolerates */
    PyMem_Free(vals);
    PyMem_Free(lens);
    PyMem_Free(kp);
    PyMem_Free(kl);
    Py_DECREF(list);
    pack_free(&p);
    return NULL;
}

PyObject *reader_get_many(PyObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"keys", "default", NULL};
    PyObject *keys, *dflt = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:get_many", kwlist, &keys, &dflt))
        return NULL;
    Reader r;
    if (reader_of(o, &r) < 0)
        return NULL;
    return get_many_impl(&r, keys, dflt);
}

static PyObject *range_mode(PyObject *o, int mode, PyObject *args, PyObject *kw)
{
    Reader r;
    if (reader_of(o, &r) < 0)
        return NULL;
    return make_iter(&r, mode, args, kw);
}

PyObject *reader_range(PyObject *o, PyObject *args, PyObject *kw)
{
    return range_mode(o, MODE_ITEMS, args, kw);
}

PyObject *reader_keys(PyObject *o, PyObject *args, PyObject *kw)
{
    return range_mode(o, MODE_KEYS, args, kw);
}

PyObject *reader_values(PyObject *o, PyObject *args, PyObject *kw)
{
    return range_mode(o, MODE_VALUES, args, kw);
}

PyObject *reader_iter(PyObject *o)
{
    return range_mode(o, MODE_KEYS, NULL, NULL);
}
