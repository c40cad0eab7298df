/*
 * snapshot.c -- omendb.Snapshot: a pinned, read-only view of a DB.  Its
 * reads are the shared reader methods (reader.c); it adds release, the
 * sequence number and the context manager.
 */
#include "omendb_py.h"

static void snap_drop(Res *r)
{
    SnapObject *s = (SnapObject *)r;
    if (s->s) {
        omen_snapshot_release(s->db->h, s->s);
        s->s = NULL;
    }
}

SnapObject *pysnap_alloc(DBObject *db)
{
    SnapObject *s = PyObject_New(SnapObject, &SnapType);
    if (!s)
        return NULL;
    res_init((Res *)s, db, "snapshot", snap_drop);
    s->s = NULL;
    return s;
}

static void snap_dealloc(SnapObject *s)
{
    res_dealloc((Res *)s);
}

#define SNAP_OK(s)                                                                               \
    do {                                                                                         \
        if (!(s)->s) {                                                                           \
            raise_closed((Res *)(s));                                                            \
            return NULL;                                                                         \
        }                                                                                        \
    } while (0)

PyDoc_STRVAR(snap_get_doc, "get($self, key, default=None, /)\n--\n\n"
                           "Value of key as of the snapshot (bytes), or default if absent.");

PyDoc_STRVAR(snap_get_many_doc, "get_many($self, keys, /, default=None)\n--\n\n"
                                "Values of many keys as of the snapshot, as a list (default for\n"
                                "absent keys).  keys: a sequence, or a numpy uint64 array in\n"
                                "int_keys mode.  One batched engine lookup, GIL released.");

PyDoc_STRVAR(snap_range_doc,
             "range($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
             "Iterate (key, value) pairs of the snapshot in key order.\n" RANGE_DOC_BODY);

PyDoc_STRVAR(snap_release_doc, "release($self, /)\n--\n\n"
                               "Release the snapshot now (its iterators are invalidated).\n"
                               "Idempotent; also done by `with` and at garbage collection.");

static PyObject *snap_sequence(SnapObject *s, void *unused)
{
    (void)unused;
    SNAP_OK(s);
    return PyLong_FromUnsignedLongLong(omen_snapshot_sequence(s->s));
}

static PyObject *snap_released(SnapObject *s, void *unused)
{
    (void)unused;
    return PyBool_FromLong(s->s == NULL);
}

static PyMethodDef snap_methods[] = {
    {"get", (PyCFunction)(void (*)(void))reader_get, METH_FASTCALL | METH_KEYWORDS, snap_get_doc},
    {"get_many", (PyCFunction)(void (*)(void))reader_get_many, METH_VARARGS | METH_KEYWORDS,
     snap_get_many_doc},
    {"range", (PyCFunction)(void (*)(void))reader_range, METH_VARARGS | METH_KEYWORDS, snap_range_doc},
    {"items", (PyCFunction)(void (*)(void))reader_range, METH_VARARGS | METH_KEYWORDS,
     "items($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Same as range()."},
    {"keys", (PyCFunction)(void (*)(void))reader_keys, METH_VARARGS | METH_KEYWORDS,
     "keys($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate the keys only (values are not read)."},
    {"values", (PyCFunction)(void (*)(void))reader_values, METH_VARARGS | METH_KEYWORDS,
     "values($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate the values only."},
    {"release", (PyCFunction)res_close_method, METH_NOARGS, snap_release_doc},
    {"close", (PyCFunction)res_close_method, METH_NOARGS, "close($self, /)\n--\n\nSame as release()."},
    {"__enter__", (PyCFunction)return_self, METH_NOARGS, "Return the snapshot itself."},
    {"__exit__", (PyCFunction)res_exit_method, METH_VARARGS, "Release the snapshot."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef snap_getset[] = {
    {"sequence", (getter)snap_sequence, NULL, "Sequence number the snapshot sees.", NULL},
    {"released", (getter)snap_released, NULL, "True once the snapshot was released.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods snap_as_mapping = {.mp_subscript = (binaryfunc)reader_subscript};
static PySequenceMethods snap_as_sequence = {.sq_contains = (objobjproc)reader_contains};

PyDoc_STRVAR(snap_doc, "A consistent, read-only view of the database at one moment.\n\n"
                       "Created by DB.snapshot().  Reads see exactly the writes committed before\n"
                       "it.  snap[key] raises KeyError when absent; `key in snap`, get(),\n"
                       "get_many(), range()/items()/keys()/values() and iter(snap) work as on\n"
                       "the DB.  Release it with release() or a `with` block; it keeps its DB\n"
                       "alive, and closing the DB releases it.");

PyTypeObject SnapType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.Snapshot",
    .tp_basicsize = sizeof(SnapObject),
    .tp_dealloc = (destructor)snap_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = snap_doc,
    .tp_iter = (getiterfunc)reader_iter,
    .tp_methods = snap_methods,
    .tp_getset = snap_getset,
    .tp_as_mapping = &snap_as_mapping,
    .tp_as_sequence = &snap_as_sequence,
};
