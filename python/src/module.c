/*
 * module.c -- the module omendb._omendb: open, destroy, check, strerror,
 * the constants, and PyInit__omendb, which readies the types (db.c,
 * snapshot.c, transaction.c, iterator.c, batch.c, vset.c) and the exceptions
 * (errors.c).
 */
#include <stdlib.h>
#include <string.h>

#include "omendb_py.h"

/* ---- module functions ---------------------------------------------------- */

static PyObject *mod_open(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    return pydb_new(&DBType, args, kw);
}

PyDoc_STRVAR(mod_destroy_doc, "destroy(path)\n--\n\n"
                              "Delete the database in `path` (its files, and the directory if it\n"
                              "becomes empty).  Raises omendb.Busy if a process has it open.");

static PyObject *mod_destroy(PyObject *m, PyObject *arg)
{
    (void)m;
    PyObject *b;
    if (!PyUnicode_FSConverter(arg, &b))
        return NULL;
    int rc;
    ErrCap e;
    const char *p = PyBytes_AS_STRING(b);
    Py_BEGIN_ALLOW_THREADS rc = omen_destroy(p);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    Py_DECREF(b);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    Py_RETURN_NONE;
}

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} LineBuf;

static void check_report(void *ctx, const char *line)
{
    LineBuf *lb = ctx;
    size_t n = strlen(line) + 1;
    if (lb->oom)
        return;
    if (lb->len + n > lb->cap) {
        size_t nc = lb->cap ? lb->cap * 2 : 1024;
        while (nc < lb->len + n)
            nc *= 2;
        char *nb = realloc(lb->buf, nc);
        if (!nb) {
            lb->oom = 1;
            return;
        }
        lb->buf = nb;
        lb->cap = nc;
    }
    memcpy(lb->buf + lb->len, line, n);
    lb->len += n;
}

PyDoc_STRVAR(mod_check_doc,
             "check(path)\n--\n\n"
             "Verify every checksum and learned model of the (closed) database in\n"
             "`path`.  Returns the report as a list of lines when everything checks\n"
             "out; raises omendb.Corruption (its .report attribute holds the lines)\n"
             "otherwise.");

static PyObject *mod_check(PyObject *m, PyObject *arg)
{
    (void)m;
    PyObject *b;
    if (!PyUnicode_FSConverter(arg, &b))
        return NULL;
    LineBuf lb = {NULL, 0, 0, 0};
    int rc;
    ErrCap e;
    const char *p = PyBytes_AS_STRING(b);
    Py_BEGIN_ALLOW_THREADS rc = omen_check(p, check_report, &lb);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    Py_DECREF(b);
    PyObject *lines = PyList_New(0);
    for (size_t off = 0; lines && off < lb.len;) {
        size_t n = strlen(lb.buf + off);
        PyObject *s = PyUnicode_DecodeUTF8(lb.buf + off, (Py_ssize_t)n, "replace");
        if (!s || PyList_Append(lines, s) < 0) {
            Py_XDECREF(s);
            Py_CLEAR(lines);
            break;
        }
        Py_DECREF(s);
        off += n + 1;
    }
    free(lb.buf);
    if (!lines)
        return NULL;
    if (rc == OMEN_OK)
        return lines;
    raise_cap(&e);
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyErr_NormalizeException(&et, &ev, &tb);
    if (ev)
        PyObject_SetAttrString(ev, "report", lines);
    Py_DECREF(lines);
    PyErr_Restore(et, ev, tb);
    return NULL;
}

PyDoc_STRVAR(mod_strerror_doc, "strerror(code)\n--\n\nName of an engine error code.");

static PyObject *mod_strerror(PyObject *m, PyObject *arg)
{
    (void)m;
    long c = PyLong_AsLong(arg);
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(omen_strerror((int)c));
}

static PyMethodDef mod_methods[] = {
    {"open", (PyCFunction)(void (*)(void))mod_open, METH_VARARGS | METH_KEYWORDS, pydb_open_doc},
    {"destroy", (PyCFunction)mod_destroy, METH_O, mod_destroy_doc},
    {"check", (PyCFunction)mod_check, METH_O, mod_check_doc},
    {"strerror", (PyCFunction)mod_strerror, METH_O, mod_strerror_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "omendb._omendb",
    .m_doc = "C extension behind the omendb package (see help(omendb)).",
    .m_size = -1,
    .m_methods = mod_methods,
};

PyMODINIT_FUNC PyInit__omendb(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    if (PyType_Ready(&DBType) < 0 || PyType_Ready(&SnapType) < 0 || PyType_Ready(&TxnType) < 0 ||
        PyType_Ready(&IterType) < 0 || PyType_Ready(&BatchType) < 0 || PyType_Ready(&VSetType) < 0)
        goto fail;
    struct {
        const char *name;
        PyTypeObject *t;
    } types[] = {{"DB", &DBType},
                 {"Snapshot", &SnapType},
                 {"Transaction", &TxnType},
                 {"Iterator", &IterType},
                 {"WriteBatch", &BatchType},
                 {"VectorSet", &VSetType}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        Py_INCREF(types[i].t);
        if (PyModule_AddObject(m, types[i].name, (PyObject *)types[i].t) < 0) {
            Py_DECREF(types[i].t);
            goto fail;
        }
    }
    if (errors_init(m) < 0)
        goto fail;
    if (PyModule_AddStringConstant(m, "ENGINE_VERSION", OMEN_VERSION_STRING) < 0 ||
        PyModule_AddIntConstant(m, "MAX_KEY_LEN", OMEN_MAX_KEY_LEN) < 0 ||
        PyModule_AddIntConstant(m, "MAX_VALUE_LEN", OMEN_MAX_VALUE_LEN) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
