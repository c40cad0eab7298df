/*
 * convert.c -- Python arguments to C: keys (bytes-likes, or ints in
 * int_keys mode), values, sync flags, the fast-call argument parser, and
 * whole key/value arrays for the bulk calls (sequences or buffers such as
 * numpy arrays), copied into one arena so the GIL can be released.
 */
#include <stdlib.h>
#include <string.h>

#include "omendb_py.h"

void arg_release(Arg *a)
{
    if (a->view) {
        PyBuffer_Release(&a->buf);
        a->view = 0;
    }
}

int arg_bytes(PyObject *o, Arg *a, const char *what)
{
    a->view = 0;
    if (PyBytes_Check(o)) {
        a->p = PyBytes_AS_STRING(o);
        a->n = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyUnicode_Check(o)) {
        a->p = PyUnicode_AsUTF8AndSize(o, &a->n);
        return a->p ? 0 : -1;
    }
    if (PyObject_CheckBuffer(o)) {
        if (PyObject_GetBuffer(o, &a->buf, PyBUF_SIMPLE) < 0)
            return -1;
        a->view = 1;
        a->p = a->buf.buf;
        a->n = a->buf.len;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be bytes, str or a bytes-like object, not %.100s", what,
                 Py_TYPE(o)->tp_name);
    return -1;
}

static int u64_from(PyObject *o, uint64_t *out)
{
    if (PyBool_Check(o) || !(PyLong_Check(o) || PyIndex_Check(o))) {
        PyErr_Format(PyExc_TypeError, "integer keys must be int, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    PyObject *i = PyNumber_Index(o);
    if (!i)
        return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(i);
    Py_DECREF(i);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_OverflowError, "integer keys must be in 0..2**64-1");
        }
        return -1;
    }
    *out = v;
    return 0;
}

int arg_key(int int_keys, PyObject *o, Arg *a)
{
    if (!int_keys) {
        if (PyLong_Check(o)) {
            PyErr_SetString(PyExc_TypeError,
                            "key must be bytes, str or a bytes-like object, not int "
                            "(open the database with int_keys=True for integer keys)");
            return -1;
        }
        return arg_bytes(o, a, "key");
    }
    uint64_t v;
    a->view = 0;
    if (PyLong_CheckExact(o)) {
        v = PyLong_AsUnsignedLongLong(o);
        if (v == (uint64_t)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_SetString(PyExc_OverflowError, "integer keys must be in 0..2**64-1");
            return -1;
        }
    } else if (u64_from(o, &v) < 0) {
        return -1;
    }
    omen_key_u64(v, a->num);
    a->p = (const char *)a->num;
    a->n = 8;
    return 0;
}

PyObject *key_to_py(int int_keys, const void *k, size_t n)
{
    if (int_keys && n == 8)
        return PyLong_FromUnsignedLongLong(omen_key_to_u64(k, n));
    return PyBytes_FromStringAndSize(k, (Py_ssize_t)n);
}

/* None -> default, truthy -> full, falsy -> relaxed. */
int sync_from(PyObject *o, int *out)
{
    if (!o || o == Py_None) {
        *out = OMEN_SYNC_DEFAULT;
        return 0;
    }
    int t = PyObject_IsTrue(o);
    if (t < 0)
        return -1;
    *out = t ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED;
    return 0;
}

/* Minimal METH_FASTCALL|METH_KEYWORDS parser: `npos` leading positional-only
 * names are required up to `nreq`; the rest may come by position or keyword.
 * out[] entries not given stay NULL.  No allocation on the common path. */
int fast_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      const char *const *names, int nnames, int nreq, PyObject **out)
{
    for (int i = 0; i < nnames; i++)
        out[i] = NULL;
    if (nargs > nnames) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fname, nnames,
                     nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    if (kwnames) {
        Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t j = 0; j < nk; j++) {
            PyObject *kn = PyTuple_GET_ITEM(kwnames, j);
            int found = 0;
            for (int i = nreq; i < nnames; i++) {
                if (PyUnicode_CompareWithASCIIString(kn, names[i]) == 0) {
                    if (out[i]) {
                        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                                     fname, names[i]);
                        return -1;
                    }
                    out[i] = args[nargs + j];
                    found = 1;
                    break;
                }
            }
            if (!found) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname,
                             kn);
                return -1;
            }
        }
    }
    for (int i = 0; i < nreq; i++)
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    return 0;
}

int key_order(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* ---- bulk arrays (get_many / put_many) ----------------------------------- */

void pack_free(Pack *p)
{
    PyMem_Free(p->off);
    PyMem_Free(p->data);
    memset(p, 0, sizeof *p);
}

static int pack_init(Pack *p, size_t n, size_t bytes_hint)
{
    memset(p, 0, sizeof *p);
    p->n = 0;
    p->off = PyMem_Malloc((n + 1) * sizeof(size_t));
    p->cap = bytes_hint ? bytes_hint : 64;
    p->data = PyMem_Malloc(p->cap);
    if (!p->off || !p->data) {
        pack_free(p);
        PyErr_NoMemory();
        return -1;
    }
    p->off[0] = 0;
    return 0;
}

static int pack_add(Pack *p, const void *b, size_t len)
{
    if (p->used + len > p->cap) {
        size_t nc = p->cap * 2;
        while (nc < p->used + len)
            nc *= 2;
        char *d = PyMem_Realloc(p->data, nc);
        if (!d) {
            PyErr_NoMemory();
            return -1;
        }
        p->data = d;
        p->cap = nc;
    }
    if (len)
        memcpy(p->data + p->used, b, len);
    p->used += len;
    p->n++;
    p->off[p->n] = p->used;
    return 0;
}

/* An n-dimensional buffer (numpy array, 2-D memoryview...) whose first axis
 * enumerates the items; each item is a fixed number of bytes. */
static int buffer_items(PyObject *o, Py_buffer *view, Py_ssize_t *count, Py_ssize_t *itemsize)
{
    if (PyObject_GetBuffer(o, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->ndim < 1 || view->shape[0] < 0) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "array must have at least one dimension");
        return -1;
    }
    /* Object arrays export pointers, not data. */
    if (view->format && strchr(view->format, 'O')) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "arrays of Python objects are not accepted; use a list");
        return -1;
    }
    *count = view->shape[0];
    *itemsize = *count ? view->len / *count : 0;
    return 0;
}

/* Integer-key buffer formats: 8-byte integers, any byte order. */
static int int_format(const char *fmt, int *is_signed, int *big)
{
    if (!fmt)
        return 0;
    *big = 0;
    if (*fmt == '<' || *fmt == '=' || *fmt == '@')
        fmt++;
    else if (*fmt == '>' || *fmt == '!') {
        *big = 1;
        fmt++;
    }
    if (fmt[1] != '\0')
        return 0;
    switch (fmt[0]) {
    case 'Q': case 'L': *is_signed = 0; return 1;
    case 'q': case 'l': *is_signed = 1; return 1;
    default: return 0;
    }
}

static int is_plain_bytes(PyObject *o)
{
    return PyBytes_Check(o) || PyByteArray_Check(o) || PyUnicode_Check(o);
}

/* Collect keys: a sequence of keys, or (int mode) a buffer of 8-byte ints,
 * or (bytes mode) an array whose rows are fixed-width keys. */
int pack_keys(int int_keys, PyObject *keys, Pack *p)
{
    if (!is_plain_bytes(keys) && PyObject_CheckBuffer(keys) && !PyList_Check(keys) &&
        !PyTuple_Check(keys)) {
        Py_buffer v;
        Py_ssize_t n, isz;
        if (buffer_items(keys, &v, &n, &isz) < 0)
            return -1;
        int sgn = 0, big = 0;
        if (int_keys && !(v.ndim == 1 && v.itemsize == 8 && int_format(v.format, &sgn, &big))) {
            PyBuffer_Release(&v);
            PyErr_SetString(PyExc_TypeError,
                            "integer keys must be a sequence of ints or a 1-D array of 8-byte "
                            "integers (numpy uint64)");
            return -1;
        }
        if (pack_init(p, (size_t)n, (size_t)v.len + 8) < 0) {
            PyBuffer_Release(&v);
            return -1;
        }
        const unsigned char *b = v.buf;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (int_keys) {
                uint64_t x = 0;
                for (int j = 0; j < 8; j++)
                    x |= (uint64_t)b[i * 8 + (big ? 7 - j : j)] << (8 * j);
                if (sgn && (int64_t)x < 0) {
                    PyBuffer_Release(&v);
                    pack_free(p);
                    PyErr_SetString(PyExc_OverflowError, "integer keys must be in 0..2**64-1");
                    return -1;
                }
                unsigned char k[8];
                omen_key_u64(x, k);
                pack_add(p, k, 8); /* capacity reserved above: cannot fail */
            } else {
                pack_add(p, b + i * isz, (size_t)isz);
            }
        }
        PyBuffer_Release(&v);
        return 0;
    }
    PyObject *seq = PySequence_Fast(keys, "keys must be a sequence or an array");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (pack_init(p, (size_t)n, (size_t)n * 16 + 64) < 0) {
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Arg a;
        if (arg_key(int_keys, PySequence_Fast_GET_ITEM(seq, i), &a) < 0)
            goto fail;
        int r = pack_add(p, a.p, (size_t)a.n);
        arg_release(&a);
        if (r < 0)
            goto fail;
    }
    Py_DECREF(seq);
    return 0;
fail:
    Py_DECREF(seq);
    pack_free(p);
    return -1;
}

int pack_values(PyObject *vals, Pack *p)
{
    if (is_plain_bytes(vals)) {
        PyErr_SetString(PyExc_TypeError, "values must be a sequence or an array, not a single value");
        return -1;
    }
    if (PyObject_CheckBuffer(vals) && !PyList_Check(vals) && !PyTuple_Check(vals)) {
        Py_buffer v;
        Py_ssize_t n, isz;
        if (buffer_items(vals, &v, &n, &isz) < 0)
            return -1;
        if (pack_init(p, (size_t)n, (size_t)v.len + 8) < 0) {
            PyBuffer_Release(&v);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            pack_add(p, (const char *)v.buf + i * isz, (size_t)isz);
        PyBuffer_Release(&v);
        return 0;
    }
    PyObject *seq = PySequence_Fast(vals, "values must be a sequence or an array");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (pack_init(p, (size_t)n, (size_t)n * 64 + 64) < 0) {
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Arg a;
        if (arg_bytes(PySequence_Fast_GET_ITEM(seq, i), &a, "value") < 0)
            goto fail;
        int r = pack_add(p, a.p, (size_t)a.n);
        arg_release(&a);
        if (r < 0)
            goto fail;
    }
    Py_DECREF(seq);
    return 0;
fail:
    Py_DECREF(seq);
    pack_free(p);
    return -1;
}
