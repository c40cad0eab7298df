/*
 * batch.c -- omendb.WriteBatch: puts and deletes collected in an engine
 * batch (copied at once, GIL held) and applied atomically with the GIL
 * released.  A batch from DB.batch() is bound to its DB and applied by
 * write() or at the end of a `with` block; a free-standing one by
 * DB.write(batch).
 */
#include "omendb_py.h"

static int batch_check(BatchObject *b)
{
    if (b->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the batch is being written by another thread");
        return -1;
    }
    return 0;
}

static int batch_op(BatchObject *b, PyObject *key, PyObject *val)
{
    if (batch_check(b) < 0)
        return -1;
    Arg k, v;
    if (arg_key(b->int_keys, key, &k) < 0)
        return -1;
    if (val && arg_bytes(val, &v, "value") < 0) {
        arg_release(&k);
        return -1;
    }
    int rc = val ? omen_batch_put(b->b, k.p, (size_t)k.n, v.p, (size_t)v.n)
                 : omen_batch_delete(b->b, k.p, (size_t)k.n);
    if (rc != OMEN_OK)
        raise_code(rc, omen_last_error());
    arg_release(&k);
    if (val)
        arg_release(&v);
    return rc == OMEN_OK ? 0 : -1;
}

static PyObject *batch_put(BatchObject *b, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "put() takes exactly 2 arguments (key, value)");
        return NULL;
    }
    if (batch_op(b, args[0], args[1]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *batch_delete(BatchObject *b, PyObject *key)
{
    if (batch_op(b, key, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int batch_ass_subscript(BatchObject *b, PyObject *key, PyObject *val)
{
    return batch_op(b, key, val);
}

static Py_ssize_t batch_len(BatchObject *b)
{
    return (Py_ssize_t)omen_batch_count(b->b);
}

static PyObject *batch_clear(BatchObject *b, PyObject *unused)
{
    (void)unused;
    if (batch_check(b) < 0)
        return NULL;
    omen_batch_clear(b->b);
    Py_RETURN_NONE;
}

/* Apply batch to db atomically (GIL released during the write). */
PyObject *pybatch_apply(DBObject *db, BatchObject *b, int sync)
{
    if (batch_check(b) < 0)
        return NULL;
    if (res_enter((Res *)db) < 0)
        return NULL;
    b->busy = 1;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS rc = omen_write(db->h, b->b, sync);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    b->busy = 0;
    res_leave((Res *)db);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(batch_write_doc,
             "write($self, /, sync=None)\n--\n\n"
             "Apply the batch atomically to its database (a batch made by DB.batch())\n"
             "and clear it.  For a free-standing WriteBatch use DB.write(batch).");

static PyObject *batch_write(BatchObject *b, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sync", NULL};
    PyObject *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:write", kwlist, &so) || sync_from(so, &sync) < 0)
        return NULL;
    if (!b->db) {
        PyErr_SetString(PyExc_ValueError, "this batch is not bound to a database; use db.write(batch)");
        return NULL;
    }
    if (sync == OMEN_SYNC_DEFAULT)
        sync = b->sync;
    PyObject *r = pybatch_apply(b->db, b, sync);
    if (r)
        omen_batch_clear(b->b);
    return r;
}

static PyObject *batch_exit(BatchObject *b, PyObject *args)
{
    PyObject *et = Py_None, *ev = Py_None, *tb = Py_None;
    if (!PyArg_UnpackTuple(args, "__exit__", 0, 3, &et, &ev, &tb))
        return NULL;
    if (et != Py_None || !b->db) {
        if (b->busy == 0)
            omen_batch_clear(b->b);
        Py_RETURN_FALSE;
    }
    PyObject *r = pybatch_apply(b->db, b, b->sync);
    if (!r)
        return NULL;
    Py_DECREF(r);
    omen_batch_clear(b->b);
    Py_RETURN_FALSE;
}

static void batch_dealloc(BatchObject *b)
{
    omen_batch_destroy(b->b);
    Py_XDECREF(b->db);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

BatchObject *pybatch_make(DBObject *db, int int_keys, int sync)
{
    omen_batch *h;
    int rc = omen_batch_create(&h);
    if (rc != OMEN_OK) {
        raise_code(rc, omen_last_error());
        return NULL;
    }
    BatchObject *b = PyObject_New(BatchObject, &BatchType);
    if (!b) {
        omen_batch_destroy(h);
        return NULL;
    }
    b->b = h;
    b->db = db;
    Py_XINCREF(db);
    b->int_keys = int_keys;
    b->sync = sync;
    b->busy = 0;
    return b;
}

static PyObject *batch_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)type;
    static char *kwlist[] = {"int_keys", NULL};
    int int_keys = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$p:WriteBatch", kwlist, &int_keys))
        return NULL;
    return (PyObject *)pybatch_make(NULL, int_keys, OMEN_SYNC_DEFAULT);
}

static PyMethodDef batch_methods[] = {
    {"put", (PyCFunction)(void (*)(void))batch_put, METH_FASTCALL,
     "put($self, key, value, /)\n--\n\nAdd a put to the batch (copied now)."},
    {"delete", (PyCFunction)batch_delete, METH_O,
     "delete($self, key, /)\n--\n\nAdd a delete to the batch."},
    {"vadd", (PyCFunction)(void (*)(void))pyvset_batch_vadd, METH_VARARGS | METH_KEYWORDS,
     VSET_WRITE_DOC},
    {"vdelete", (PyCFunction)pyvset_batch_vdelete, METH_VARARGS, VSET_DEL_DOC},
    {"clear", (PyCFunction)batch_clear, METH_NOARGS,
     "clear($self, /)\n--\n\nDrop every operation of the batch."},
    {"write", (PyCFunction)(void (*)(void))batch_write, METH_VARARGS | METH_KEYWORDS, batch_write_doc},
    {"__enter__", (PyCFunction)return_self, METH_NOARGS, "Return the batch itself."},
    {"__exit__", (PyCFunction)batch_exit, METH_VARARGS,
     "Apply the batch atomically if the block ended normally; discard it if the\n"
     "block raised."},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods batch_as_mapping = {
    .mp_length = (lenfunc)batch_len,
    .mp_ass_subscript = (objobjargproc)batch_ass_subscript,
};

PyDoc_STRVAR(batch_doc,
             "WriteBatch(*, int_keys=False)\n--\n\n"
             "A list of puts and deletes applied atomically: all or nothing, also across\n"
             "a crash.  DB.batch() returns one bound to the database, for use as\n"
             "`with db.batch() as b: ...` (applied when the block ends normally,\n"
             "discarded if it raises).  A free-standing WriteBatch is applied with\n"
             "DB.write(batch).  b[key] = value and del b[key] also work; len(b) is the\n"
             "number of operations.");

PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.WriteBatch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_dealloc = (destructor)batch_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = batch_doc,
    .tp_methods = batch_methods,
    .tp_as_mapping = &batch_as_mapping,
    .tp_new = batch_new,
};
