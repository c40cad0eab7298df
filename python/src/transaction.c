/*
 * transaction.c -- omendb.Transaction: an optimistic serializable
 * transaction.  Reads are the shared reader methods (reader.c, through
 * omen_txn_get / omen_txn_iter_create); writes are buffered in the engine
 * transaction with the GIL held (memory only); commit validates and applies
 * with the GIL released.  A transaction is used by one thread at a time:
 * the busy flag turns concurrent use into RuntimeError.
 */
#include "omendb_py.h"

static void txn_drop(Res *r)
{
    TxnObject *t = (TxnObject *)r;
    if (t->t) {
        omen_txn_rollback(t->t);
        t->t = NULL;
        t->ended = 2;
    }
}

TxnObject *pytxn_alloc(DBObject *db, int sync)
{
    TxnObject *t = PyObject_New(TxnObject, &TxnType);
    if (!t)
        return NULL;
    res_init((Res *)t, db, "transaction", txn_drop);
    t->t = NULL;
    t->sync = sync;
    t->ended = 0;
    return t;
}

static void txn_dealloc(TxnObject *t)
{
    res_dealloc((Res *)t);
}

PyObject *pytxn_not_active(TxnObject *t)
{
    if (t->ended == 1)
        return raise_code(OMEN_CLOSED, "the transaction was committed");
    if (t->ended == 2 && !t->closing)
        return raise_code(OMEN_CLOSED, "the transaction was rolled back");
    return raise_closed((Res *)t);
}

#define TXN_OK(t)                                                                                \
    do {                                                                                         \
        if (!(t)->t)                                                                             \
            return pytxn_not_active(t);                                                            \
    } while (0)

PyDoc_STRVAR(txn_get_doc, "get($self, key, default=None, /)\n--\n\n"
                          "Read key through the transaction (its own writes first, then its\n"
                          "snapshot); default if absent.  The read is validated at commit.");

/* Buffered writes: memory only, so the GIL stays held. */
static int txn_write(TxnObject *t, PyObject *key, PyObject *val)
{
    if (!t->t) {
        pytxn_not_active(t);
        return -1;
    }
    Arg k, v;
    if (arg_key(t->db->int_keys, key, &k) < 0)
        return -1;
    if (val && arg_bytes(val, &v, "value") < 0) {
        arg_release(&k);
        return -1;
    }
    int rc = -1;
    if (res_enter((Res *)t) == 0) {
        if (take_busy((Res *)t, "the transaction") == 0) {
            if (!t->t) { /* ended while the arguments were converted */
                pytxn_not_active(t);
            } else {
                rc = val ? omen_txn_put(t->t, k.p, (size_t)k.n, v.p, (size_t)v.n)
                         : omen_txn_delete(t->t, k.p, (size_t)k.n);
                if (rc != OMEN_OK)
                    raise_code(rc, omen_last_error());
            }
            t->busy = 0;
        }
        res_leave((Res *)t);
    }
    arg_release(&k);
    if (val)
        arg_release(&v);
    return rc == OMEN_OK ? 0 : -1;
}

static int txn_ass_subscript(TxnObject *t, PyObject *key, PyObject *val)
{
    return txn_write(t, key, val);
}

PyDoc_STRVAR(txn_put_doc, "put($self, key, value, /)\n--\n\nBuffer a write in the transaction.");

static PyObject *txn_put(TxnObject *t, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "put() takes exactly 2 arguments (key, value)");
        return NULL;
    }
    if (txn_write(t, args[0], args[1]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(txn_delete_doc, "delete($self, key, /)\n--\n\n"
                             "Buffer a delete in the transaction (absent keys are fine).");

static PyObject *txn_delete(TxnObject *t, PyObject *key)
{
    if (txn_write(t, key, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(txn_range_doc,
             "range($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
             "Iterate (key, value) pairs through the transaction: its own writes merged\n"
             "over its snapshot.  The scanned range is validated at commit; the\n"
             "iterator is invalidated when the transaction ends.\n" RANGE_DOC_BODY);

/* End the transaction: invalidate its iterators, then commit or roll back.
 * Runs inside the gate with busy held, so neither a concurrent op nor a
 * closing DB can free the handle underneath. */
static PyObject *txn_end(TxnObject *t, int commit, int sync)
{
    TXN_OK(t);
    if (res_enter((Res *)t) < 0)
        return NULL;
    if (take_busy((Res *)t, "the transaction") < 0) {
        res_leave((Res *)t);
        return NULL;
    }
    res_invalidate_kids((Res *)t);
    omen_txn *h = t->t;
    t->t = NULL;
    int rc = OMEN_OK;
    ErrCap e;
    if (commit) {
        Py_BEGIN_ALLOW_THREADS rc = omen_txn_commit(h, sync);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        Py_END_ALLOW_THREADS
    } else {
        omen_txn_rollback(h);
    }
    t->ended = commit ? 1 : 2;
    t->busy = 0;
    res_leave((Res *)t);
    res_unlink((Res *)t); /* the DB no longer needs to end us at close */
    if (rc != OMEN_OK)
        return raise_cap(&e);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(txn_commit_doc,
             "commit($self, /, sync=None)\n--\n\n"
             "Validate and apply the transaction atomically.  Raises omendb.Conflict\n"
             "if a key it read or wrote, or a range it scanned, was changed by another\n"
             "commit after it began (retry the whole transaction).  The transaction is\n"
             "over afterwards either way.  sync: None (the DB's default), True (fdatasync)\n"
             "or False.");

static PyObject *txn_commit(TxnObject *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sync", NULL};
    PyObject *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:commit", kwlist, &so) || sync_from(so, &sync) < 0)
        return NULL;
    if (sync == OMEN_SYNC_DEFAULT)
        sync = t->sync;
    return txn_end(t, 1, sync);
}

PyDoc_STRVAR(txn_rollback_doc, "rollback($self, /)\n--\n\n"
                               "Discard the transaction's writes and end it.");

static PyObject *txn_rollback(TxnObject *t, PyObject *unused)
{
    (void)unused;
    return txn_end(t, 0, 0);
}

static PyObject *txn_exit(TxnObject *t, PyObject *args)
{
    PyObject *et = Py_None, *ev = Py_None, *tb = Py_None;
    if (!PyArg_UnpackTuple(args, "__exit__", 0, 3, &et, &ev, &tb))
        return NULL;
    if (!t->t) /* ended inside the block */
        Py_RETURN_FALSE;
    PyObject *r = txn_end(t, et == Py_None, t->sync);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *txn_active(TxnObject *t, void *unused)
{
    (void)unused;
    return PyBool_FromLong(t->t != NULL);
}

static PyMethodDef txn_methods[] = {
    {"get", (PyCFunction)(void (*)(void))reader_get, METH_FASTCALL | METH_KEYWORDS, txn_get_doc},
    {"put", (PyCFunction)(void (*)(void))txn_put, METH_FASTCALL, txn_put_doc},
    {"delete", (PyCFunction)txn_delete, METH_O, txn_delete_doc},
    {"vadd", (PyCFunction)(void (*)(void))pyvset_txn_vadd, METH_VARARGS | METH_KEYWORDS,
     VSET_WRITE_DOC},
    {"vdelete", (PyCFunction)pyvset_txn_vdelete, METH_VARARGS, VSET_DEL_DOC},
    {"range", (PyCFunction)(void (*)(void))reader_range, METH_VARARGS | METH_KEYWORDS, txn_range_doc},
    {"items", (PyCFunction)(void (*)(void))reader_range, METH_VARARGS | METH_KEYWORDS,
     "items($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Same as range()."},
    {"keys", (PyCFunction)(void (*)(void))reader_keys, METH_VARARGS | METH_KEYWORDS,
     "keys($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate keys through the transaction."},
    {"values", (PyCFunction)(void (*)(void))reader_values, METH_VARARGS | METH_KEYWORDS,
     "values($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate values through the transaction."},
    {"commit", (PyCFunction)(void (*)(void))txn_commit, METH_VARARGS | METH_KEYWORDS, txn_commit_doc},
    {"rollback", (PyCFunction)txn_rollback, METH_NOARGS, txn_rollback_doc},
    {"__enter__", (PyCFunction)return_self, METH_NOARGS, "Return the transaction itself."},
    {"__exit__", (PyCFunction)txn_exit, METH_VARARGS,
     "Commit if the block ended normally (raising omendb.Conflict on conflict),\n"
     "roll back if it raised."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef txn_getset[] = {
    {"active", (getter)txn_active, NULL, "True until commit or rollback.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods txn_as_mapping = {
    .mp_subscript = (binaryfunc)reader_subscript,
    .mp_ass_subscript = (objobjargproc)txn_ass_subscript,
};
static PySequenceMethods txn_as_sequence = {.sq_contains = (objobjproc)reader_contains};

PyDoc_STRVAR(txn_doc,
             "An optimistic, serializable transaction.\n\n"
             "Created by DB.transaction().  Reads see the transaction's own writes over a\n"
             "snapshot taken at its start; writes are buffered until commit(), which\n"
             "validates every read key, written key and scanned range and raises\n"
             "omendb.Conflict if another commit changed one.  As a context manager it\n"
             "commits when the block ends normally and rolls back when it raises.\n"
             "A transaction is used by one thread at a time.");

PyTypeObject TxnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.Transaction",
    .tp_basicsize = sizeof(TxnObject),
    .tp_dealloc = (destructor)txn_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = txn_doc,
    .tp_iter = (getiterfunc)reader_iter,
    .tp_methods = txn_methods,
    .tp_getset = txn_getset,
    .tp_as_mapping = &txn_as_mapping,
    .tp_as_sequence = &txn_as_sequence,
};
