/*
 * iterator.c -- omendb.Iterator: range scans over a DB, snapshot or
 * transaction.  Entries are fetched in growing chunks with the GIL
 * released (one engine step per entry, copied into the object's buffer)
 * and handed out as Python objects afterwards, so the per-entry cost in
 * Python is one object allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "omendb_py.h"

/* Entries are prefetched in chunks with the GIL released and copied into
 * `buf` as [hdr][key][value] records, 8-byte aligned. */
typedef struct {
    size_t klen, vlen;
} EntHdr;

static void iter_drop(Res *r)
{
    IterObject *it = (IterObject *)r;
    if (it->it) {
        omen_iter_destroy(it->it);
        it->it = NULL;
    }
    free(it->buf);
    it->buf = NULL;
    it->cap = it->used = it->pos = 0;
    free(it->lower);
    free(it->upper);
    it->lower = it->upper = NULL;
}

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)
#define FILL_BYTES (1u << 20)
#define FILL_MAX 1024

/* Without the GIL: position on first use, then copy up to `chunk` entries. */
static void iter_fill(IterObject *o)
{
    omen_iter *it = o->it;
    o->used = o->pos = 0;
    if (!o->positioned) {
        o->positioned = 1;
        if (!o->reverse) {
            if (o->has_lower)
                omen_iter_seek(it, o->lower, o->lower_len);
            else
                omen_iter_seek_first(it);
        } else if (o->has_upper) {
            omen_iter_seek_for_prev(it, o->upper, o->upper_len);
            if (omen_iter_valid(it)) {
                size_t kl;
                const void *k = omen_iter_key(it, &kl);
                if (key_order(k, kl, o->upper, o->upper_len) >= 0)
                    omen_iter_prev(it);
            }
        } else {
            omen_iter_seek_last(it);
        }
    }
    size_t n = 0;
    while (n < o->chunk && o->used < FILL_BYTES && o->remaining != 0) {
        if (!omen_iter_valid(it)) {
            o->done = 1;
            int st = omen_iter_status(it);
            if (st != OMEN_OK)
                err_capture(&o->err, st);
            return;
        }
        size_t kl, vl = 0;
        const void *k = omen_iter_key(it, &kl);
        if (!o->reverse && o->has_upper && key_order(k, kl, o->upper, o->upper_len) >= 0) {
            o->done = 1;
            return;
        }
        if (o->reverse && o->has_lower && key_order(k, kl, o->lower, o->lower_len) < 0) {
            o->done = 1;
            return;
        }
        const void *v = NULL;
        if (o->mode != MODE_KEYS)
            v = omen_iter_value(it, &vl);
        size_t need = sizeof(EntHdr) + ALIGN8(kl + vl);
        if (o->used + need > o->cap) {
            size_t nc = o->cap ? o->cap : 4096;
            while (nc < o->used + need)
                nc *= 2;
            char *nb = realloc(o->buf, nc);
            if (!nb) {
                o->done = 1;
                o->err.rc = OMEN_NOMEM;
                snprintf(o->err.msg, sizeof o->err.msg, "iterator buffer of %zu bytes", nc);
                return;
            }
            o->buf = nb;
            o->cap = nc;
        }
        EntHdr h = {kl, vl};
        memcpy(o->buf + o->used, &h, sizeof h);
        memcpy(o->buf + o->used + sizeof h, k, kl);
        if (vl)
            memcpy(o->buf + o->used + sizeof h + kl, v, vl);
        o->used += need;
        n++;
        if (o->remaining > 0)
            o->remaining--;
        if (o->reverse)
            omen_iter_prev(it);
        else
            omen_iter_next(it);
    }
    if (o->remaining == 0)
        o->done = 1;
    if (o->chunk < FILL_MAX)
        o->chunk *= 4;
}

/* Exhausted: release the engine iterator (and the view it pins) at once
 * rather than at garbage collection; report a deferred error if any. */
static PyObject *iter_finish(IterObject *o)
{
    o->finished = 1;
    res_invalidate((Res *)o);
    if (o->err.rc != OMEN_OK) {
        ErrCap e = o->err;
        o->err.rc = OMEN_OK;
        return raise_cap(&e);
    }
    return NULL;
}

static PyObject *iter_next(IterObject *o)
{
    /* Another thread may be refilling the buffer with the GIL released:
     * refuse before touching buf/pos/used. */
    if (o->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the iterator is being used by another thread");
        return NULL;
    }
    if (o->finished)
        return NULL;
    if (o->closing)
        return raise_closed((Res *)o);
    if (o->pos >= o->used) {
        if (o->done || !o->it)
            return iter_finish(o);
        if (res_enter((Res *)o) < 0)
            return NULL;
        o->busy = 1;
        if (o->excl && take_busy(o->excl, "the transaction") < 0) {
            o->busy = 0;
            res_leave((Res *)o);
            return NULL;
        }
        Py_BEGIN_ALLOW_THREADS iter_fill(o);
        Py_END_ALLOW_THREADS
        if (o->excl)
            o->excl->busy = 0;
        o->busy = 0;
        res_leave((Res *)o);
        if (o->pos >= o->used)
            return iter_finish(o);
    }
    EntHdr h;
    memcpy(&h, o->buf + o->pos, sizeof h);
    const char *k = o->buf + o->pos + sizeof h;
    const char *v = k + h.klen;
    o->pos += sizeof h + ALIGN8(h.klen + h.vlen);
    if (o->mode == MODE_KEYS)
        return key_to_py(o->int_keys, k, h.klen);
    if (o->mode == MODE_VALUES)
        return PyBytes_FromStringAndSize(v, (Py_ssize_t)h.vlen);
    PyObject *ko = key_to_py(o->int_keys, k, h.klen);
    if (!ko)
        return NULL;
    PyObject *vo = PyBytes_FromStringAndSize(v, (Py_ssize_t)h.vlen);
    if (!vo) {
        Py_DECREF(ko);
        return NULL;
    }
    PyObject *t = PyTuple_New(2);
    if (!t) {
        Py_DECREF(ko);
        Py_DECREF(vo);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, ko);
    PyTuple_SET_ITEM(t, 1, vo);
    return t;
}

static PyObject *iter_self(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

static void iter_dealloc(IterObject *o)
{
    res_dealloc((Res *)o);
}

PyDoc_STRVAR(iter_close_doc, "close($self, /)\n--\n\n"
                             "Release the iterator's engine resources (its pinned view of the\n"
                             "data) now instead of at garbage collection.  Idempotent; next()\n"
                             "afterwards raises omendb.Closed.");

static PyObject *iter_close(IterObject *o, PyObject *unused)
{
    (void)unused;
    if (o->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the iterator is being used by another thread");
        return NULL;
    }
    res_invalidate((Res *)o);
    Py_RETURN_NONE;
}

static PyMethodDef iter_methods[] = {
    {"close", (PyCFunction)iter_close, METH_NOARGS, iter_close_doc},
    {"__enter__", (PyCFunction)return_self, METH_NOARGS, "Return the iterator itself."},
    {"__exit__", (PyCFunction)res_exit_method, METH_VARARGS, "Close the iterator."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(iter_doc, "Iterator over a key range of an OmenDB database, snapshot or transaction.\n\n"
                       "Created by range(), items(), keys(), values() or iter(db).  It reads a\n"
                       "consistent view (the state when it was created, or its snapshot) and\n"
                       "fetches entries in chunks with the GIL released.  It keeps its database\n"
                       "alive; closing the database (or releasing the snapshot, or ending the\n"
                       "transaction) invalidates it, after which next() raises omendb.Closed.");

PyTypeObject IterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.Iterator",
    .tp_basicsize = sizeof(IterObject),
    .tp_dealloc = (destructor)iter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = iter_doc,
    .tp_iter = iter_self,
    .tp_iternext = (iternextfunc)iter_next,
    .tp_methods = iter_methods,
};

static int bound_copy(DBObject *db, PyObject *o, unsigned char **out, size_t *len, int *has)
{
    *has = 0;
    if (!o || o == Py_None)
        return 0;
    Arg a;
    if (arg_key(db->int_keys, o, &a) < 0)
        return -1;
    *out = malloc(a.n ? (size_t)a.n : 1);
    if (!*out) {
        arg_release(&a);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(*out, a.p, (size_t)a.n);
    *len = (size_t)a.n;
    *has = 1;
    arg_release(&a);
    return 0;
}

/* Smallest key greater than every key with this prefix; 0 if none exists. */
static int prefix_successor(unsigned char *p, size_t *len)
{
    while (*len > 0 && p[*len - 1] == 0xff)
        (*len)--;
    if (*len == 0)
        return 0;
    p[*len - 1]++;
    return 1;
}

/* Build an iterator over r (DB, Snapshot or Transaction). */
PyObject *make_iter(const Reader *r, int mode, PyObject *args, PyObject *kw)
{
    DBObject *db = r->db;
    Res *owner = r->gate;
    int kind = r->kind;
    static char *kwlist[] = {"start", "stop", "reverse", "limit", "prefix", NULL};
    PyObject *start = Py_None, *stop = Py_None, *limit = Py_None, *prefix = Py_None;
    int reverse = 0;
    if (args && !PyArg_ParseTupleAndKeywords(args, kw, "|OOpOO:range", kwlist, &start, &stop,
                                             &reverse, &limit, &prefix))
        return NULL;
    Py_ssize_t lim = -1;
    if (limit != Py_None) {
        lim = PyNumber_AsSsize_t(limit, PyExc_OverflowError);
        if (lim == -1 && PyErr_Occurred())
            return NULL;
        if (lim < 0) {
            PyErr_SetString(PyExc_ValueError, "limit must be >= 0 or None");
            return NULL;
        }
    }
    if (prefix != Py_None && (start != Py_None || stop != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "give either prefix or start/stop, not both");
        return NULL;
    }
    if (prefix != Py_None && db->int_keys) {
        PyErr_SetString(PyExc_TypeError, "prefix is not supported with int_keys");
        return NULL;
    }
    IterObject *o = PyObject_New(IterObject, &IterType);
    if (!o)
        return NULL;
    res_init((Res *)o, db, "iterator", iter_drop);
    o->it = NULL;
    o->excl = kind == KIND_TXN ? owner : NULL;
    o->finished = 0;
    o->mode = mode;
    o->reverse = reverse;
    o->int_keys = db->int_keys;
    o->positioned = o->done = 0;
    o->remaining = lim;
    o->lower = o->upper = NULL;
    o->lower_len = o->upper_len = 0;
    o->has_lower = o->has_upper = 0;
    o->buf = NULL;
    o->cap = o->used = o->pos = 0;
    o->chunk = 16;
    o->err.rc = OMEN_OK;
    o->err.msg[0] = 0;
    if (prefix != Py_None) {
        if (bound_copy(db, prefix, &o->lower, &o->lower_len, &o->has_lower) < 0)
            goto fail;
        o->upper = malloc(o->lower_len ? o->lower_len : 1);
        if (!o->upper) {
            PyErr_NoMemory();
            goto fail;
        }
        memcpy(o->upper, o->lower, o->lower_len);
        o->upper_len = o->lower_len;
        o->has_upper = prefix_successor(o->upper, &o->upper_len);
    } else if (bound_copy(db, start, &o->lower, &o->lower_len, &o->has_lower) < 0 ||
               bound_copy(db, stop, &o->upper, &o->upper_len, &o->has_upper) < 0) {
        goto fail;
    }
    if (res_enter(owner) < 0)
        goto fail;
    if (kind == KIND_TXN && take_busy(owner, "the transaction") < 0) {
        res_leave(owner);
        goto fail;
    }
    omen_txn *txn = kind == KIND_TXN ? ((TxnObject *)owner)->t : NULL;
    if (kind == KIND_TXN && !txn) {
        owner->busy = 0;
        res_leave(owner);
        pytxn_not_active((TxnObject *)owner);
        goto fail;
    }
    omen_iter_options io;
    memset(&io, 0, sizeof io);
    io.snapshot = kind == KIND_SNAP ? ((SnapObject *)owner)->s : NULL;
    if (o->has_lower) {
        io.lower = o->lower;
        io.lower_len = o->lower_len;
    }
    if (o->has_upper) {
        io.upper = o->upper;
        io.upper_len = o->upper_len;
    }
    int rc;
    ErrCap e;
    omen_iter *it = NULL;
    Py_BEGIN_ALLOW_THREADS
    if (txn)
        rc = omen_txn_iter_create(txn, &io, &it);
    else
        rc = omen_iter_create(db->h, &io, &it);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    if (rc == OMEN_OK) {
        o->it = it;
        res_link(owner, (Res *)o); /* inside the gate: the owner cannot close meanwhile */
    }
    if (txn)
        owner->busy = 0;
    res_leave(owner);
    if (rc != OMEN_OK) {
        raise_cap(&e);
        goto fail;
    }
    return (PyObject *)o;
fail:
    Py_DECREF(o);
    return NULL;
}
