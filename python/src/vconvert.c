/*
 * vconvert.c -- Python arguments and results of the vector-set calls:
 * element ids, vectors (read in place from C-contiguous float32 buffers,
 * converted once otherwise), attributes (dict or JSON text), search
 * options, and the numpy arrays the engine fills.  numpy and json are
 * imported on first use, so the key-value part of the package does not
 * need numpy.
 */
#include <stdio.h>
#include <string.h>

#include "omendb_py.h"

/* ---- lazily imported helpers (numpy, json) -------------------------------- */

static PyObject *np_mod, *json_dumps;
PyObject *json_loads;

PyObject *numpy_module(void)
{
    if (!np_mod) {
        np_mod = PyImport_ImportModule("numpy");
        if (!np_mod && PyErr_ExceptionMatches(PyExc_ImportError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ImportError,
                            "omendb vector sets return numpy arrays: install python3-numpy");
        }
    }
    return np_mod;
}

int json_ready(void)
{
    if (json_dumps)
        return 0;
    PyObject *m = PyImport_ImportModule("json");
    if (!m)
        return -1;
    json_dumps = PyObject_GetAttrString(m, "dumps");
    json_loads = PyObject_GetAttrString(m, "loads");
    Py_DECREF(m);
    if (!json_dumps || !json_loads) {
        Py_CLEAR(json_dumps);
        Py_CLEAR(json_loads);
        return -1;
    }
    return 0;
}

/* numpy.empty(shape, dtype) and a writable view of its data.  The view is
 * released by the caller; the array outlives it. */
PyObject *new_array(int ndim, const Py_ssize_t *shape, const char *dtype, Py_buffer *view)
{
    PyObject *np = numpy_module();
    if (!np)
        return NULL;
    PyObject *sh = PyTuple_New(ndim);
    if (!sh)
        return NULL;
    for (int i = 0; i < ndim; i++) {
        PyObject *d = PyLong_FromSsize_t(shape[i]);
        if (!d) {
            Py_DECREF(sh);
            return NULL;
        }
        PyTuple_SET_ITEM(sh, i, d);
    }
    PyObject *arr = PyObject_CallMethod(np, "empty", "Os", sh, dtype);
    Py_DECREF(sh);
    if (!arr)
        return NULL;
    if (PyObject_GetBuffer(arr, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* ---- arguments ------------------------------------------------------------ */

int id_arg(int mode, PyObject *o, Arg *a)
{
    if (mode == ID_INT)
        return arg_key(1, o, a);
    if (PyLong_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "element ids of this vector set are bytes or str, not int "
                                         "(open it with ids='int' for integer ids)");
        return -1;
    }
    return arg_bytes(o, a, "element id");
}

PyObject *id_to_py(int mode, const void *p, size_t n)
{
    if (mode == ID_INT && n == 8)
        return PyLong_FromUnsignedLongLong(omen_key_to_u64(p, n));
    if (mode == ID_STR)
        return PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "surrogateescape");
    return PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
}

void vec_release(VecArg *va)
{
    if (va->has_view)
        PyBuffer_Release(&va->view);
    va->has_view = 0;
    Py_CLEAR(va->tmp);
}

static int is_f32(const char *fmt)
{
    if (!fmt)
        return 0;
    if (*fmt == '<' || *fmt == '=' || *fmt == '@')
        fmt++;
    return fmt[0] == 'f' && fmt[1] == '\0';
}

/* Without numpy: a sequence of numbers (1-D) or of such sequences (2-D),
 * packed into a bytes object of float32. */
static PyObject *floats_from_seq(PyObject *o, int two_d)
{
    PyObject *seq = PySequence_Fast(o, "a vector must be a sequence of numbers or a float32 array");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), w = -1;
    PyObject *out = NULL, *rows = NULL;
    if (two_d) {
        rows = PyList_New(n);
        if (!rows)
            goto done;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *r = floats_from_seq(PySequence_Fast_GET_ITEM(seq, i), 0);
            if (!r)
                goto done;
            PyList_SET_ITEM(rows, i, r);
            Py_ssize_t rw = PyBytes_GET_SIZE(r) / 4;
            if (w >= 0 && rw != w) {
                PyErr_SetString(PyExc_ValueError, "the rows of a vector batch differ in length");
                goto done;
            }
            w = rw;
        }
        PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
        if (!empty)
            goto done;
        out = PyObject_CallMethod(empty, "join", "O", rows);
        Py_DECREF(empty);
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, n * 4);
    if (!out)
        goto done;
    float *f = (float *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        double d = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (d == -1.0 && PyErr_Occurred()) {
            Py_CLEAR(out);
            goto done;
        }
        f[i] = (float)d;
    }
done:
    Py_XDECREF(rows);
    Py_DECREF(seq);
    return out;
}

static int bad_shape(const Py_buffer *v, uint32_t dim, int two_d, const char *what)
{
    char shape[64] = "";
    size_t off = 0;
    for (int i = 0; i < v->ndim && off < sizeof shape - 24; i++)
        off += (size_t)snprintf(shape + off, sizeof shape - off, i ? ", %zd" : "%zd", v->shape[i]);
    char msg[200];
    if (two_d)
        snprintf(msg, sizeof msg,
                 "%s must be a 2-D array of shape (n, %u) (the set's dimension), got shape (%s)",
                 what, dim, shape);
    else
        snprintf(msg, sizeof msg,
                 "%s must have %u components (the set's dimension), got shape (%s)", what, dim,
                 shape);
    raise_code(OMEN_INVALID, msg);
    return -1;
}

/* Pin o as `rows` float32 vectors of dim components: in place when it is a
 * C-contiguous float32 buffer, otherwise converted once. */
int vec_arg(PyObject *o, uint32_t dim, int two_d, VecArg *va, const char *what)
{
    memset(va, 0, sizeof *va);
    if (PyBytes_Check(o) || PyByteArray_Check(o) || PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an array or a sequence of numbers, not %.50s", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    PyObject *src = o;
    if (PyObject_CheckBuffer(o)) {
        if (PyObject_GetBuffer(o, &va->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0) {
            if (is_f32(va->view.format) && va->view.itemsize == 4)
                va->has_view = 1;
            else
                PyBuffer_Release(&va->view);
        } else {
            PyErr_Clear(); /* strided: convert below */
        }
    }
    if (!va->has_view) {
        PyObject *np = numpy_module();
        if (np) {
            va->tmp = PyObject_CallMethod(np, "ascontiguousarray", "Os", o, "float32");
        } else {
            PyErr_Clear();
            va->tmp = floats_from_seq(o, two_d);
        }
        if (!va->tmp) {
            if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError,
                             "%s must be a float32 array or a sequence of numbers (%s)", what,
                             two_d ? "2-D: one row per vector" : "1-D");
            }
            return -1;
        }
        src = va->tmp;
        if (PyObject_GetBuffer(src, &va->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            Py_CLEAR(va->tmp);
            return -1;
        }
        va->has_view = 1;
        if (PyBytes_Check(src)) { /* no-numpy path: shape from the length */
            Py_ssize_t n = va->view.len / 4;
            va->p = va->view.buf;
            if (two_d) {
                if (n % dim || (n == 0 && PySequence_Size(o) > 0)) {
                    vec_release(va);
                    raise_code(OMEN_INVALID, "vector rows do not match the set's dimension");
                    return -1;
                }
                va->rows = n / dim;
            } else {
                if (n != (Py_ssize_t)dim) {
                    char msg[160];
                    snprintf(msg, sizeof msg, "%s must have %u components, got %zd", what, dim, n);
                    vec_release(va);
                    raise_code(OMEN_INVALID, msg);
                    return -1;
                }
                va->rows = 1;
            }
            return 0;
        }
    }
    Py_buffer *v = &va->view;
    if (two_d) {
        if (v->ndim == 2 && v->shape[1] == (Py_ssize_t)dim) {
            va->rows = v->shape[0];
        } else if (v->ndim == 1 && v->shape[0] == 0) {
            va->rows = 0; /* an empty list */
        } else {
            bad_shape(v, dim, 1, what);
            vec_release(va);
            return -1;
        }
    } else {
        if (v->ndim == 1 && v->shape[0] == (Py_ssize_t)dim) {
            va->rows = 1;
        } else {
            bad_shape(v, dim, 0, what);
            vec_release(va);
            return -1;
        }
    }
    va->p = v->buf;
    return 0;
}

/* Attributes: None (no change / no attributes), a str of JSON text, bytes,
 * or any other object serialised with json.dumps (a dict, typically).
 * *keep owns what *p points into. */
int attrs_arg(PyObject *o, PyObject **keep, const char **p, Py_ssize_t *n)
{
    *keep = NULL;
    *p = NULL;
    *n = 0;
    if (!o || o == Py_None)
        return 0;
    if (PyUnicode_Check(o)) {
        Py_INCREF(o);
        *keep = o;
    } else if (PyBytes_Check(o)) {
        Py_INCREF(o);
        *keep = o;
        *p = PyBytes_AS_STRING(o);
        *n = PyBytes_GET_SIZE(o);
        return 0;
    } else {
        if (!PyDict_Check(o) && !PyMapping_Check(o)) {
            PyErr_Format(PyExc_TypeError, "attributes must be a dict, JSON text or None, not %.50s",
                         Py_TYPE(o)->tp_name);
            return -1;
        }
        if (json_ready() < 0)
            return -1;
        *keep = PyObject_CallOneArg(json_dumps, o);
        if (!*keep) {
            if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyObject *et, *ev, *tb;
                PyErr_Fetch(&et, &ev, &tb);
                PyErr_NormalizeException(&et, &ev, &tb);
                PyErr_Format(PyExc_TypeError, "attributes are not JSON-serialisable: %S", ev);
                Py_XDECREF(et);
                Py_XDECREF(ev);
                Py_XDECREF(tb);
            }
            return -1;
        }
    }
    *p = PyUnicode_AsUTF8AndSize(*keep, n);
    if (!*p) {
        Py_CLEAR(*keep);
        return -1;
    }
    return 0;
}

int name_arg(PyObject *o, PyObject **bytes_out)
{
    if (PyUnicode_Check(o)) {
        *bytes_out = PyUnicode_AsUTF8String(o);
    } else if (PyBytes_Check(o)) {
        Py_INCREF(o);
        *bytes_out = o;
    } else {
        PyErr_Format(PyExc_TypeError, "a vector set name must be str or bytes, not %.50s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    if (!*bytes_out)
        return -1;
    if ((size_t)PyBytes_GET_SIZE(*bytes_out) != strlen(PyBytes_AS_STRING(*bytes_out))) {
        Py_CLEAR(*bytes_out);
        raise_code(OMEN_INVALID, "a vector set name must not contain NUL");
        return -1;
    }
    return 0;
}

const char *metric_name(int m)
{
    return m == OMEN_METRIC_L2 ? "l2" : m == OMEN_METRIC_COSINE ? "cosine" : m == OMEN_METRIC_IP ? "ip" : "?";
}

const char *prec_name(int p)
{
    return p == OMEN_PREC_FLOAT32 ? "float32" : p == OMEN_PREC_INT8 ? "int8" : "?";
}

int choice_arg(PyObject *o, const char *what, const char *const *names, const int *vals,
                      int n, int *out)
{
    if (!o || o == Py_None)
        return 0;
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (s)
        for (int i = 0; i < n; i++)
            if (!strcmp(s, names[i])) {
                *out = vals[i];
                return 0;
            }
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "%s must be one of %s, got %R", what,
                 n == 3 ? "'l2', 'cosine', 'ip'" : "'float32', 'int8'", o);
    return -1;
}

int u32_arg(PyObject *o, const char *what, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (!o || o == Py_None)
        return 0;
    if (PyBool_Check(o) || !PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int", what);
        return -1;
    }
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < (long long)lo || v > (long long)hi) {
        char msg[120];
        snprintf(msg, sizeof msg, "%s must be in %u..%u, got %lld", what, lo, hi, v);
        raise_code(OMEN_INVALID, msg);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* k, ef, filter, exact of a search; *fkeep owns the filter text. */
int query_args(PyObject *ko, PyObject *efo, PyObject *fo, PyObject *exo, omen_vset_query *q,
                      PyObject **fkeep)
{
    memset(q, 0, sizeof *q);
    *fkeep = NULL;
    q->k = 10;
    if (ko && ko != Py_None) {
        if (PyBool_Check(ko) || !PyLong_Check(ko)) {
            PyErr_SetString(PyExc_TypeError, "k must be an int");
            return -1;
        }
        long long k = PyLong_AsLongLong(ko);
        if (k == -1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
            k = (long long)UINT32_MAX + 1;
        }
        if (k < 1 || k > (long long)OMEN_VSET_MAX_K) {
            char msg[120];
            snprintf(msg, sizeof msg, "k must be in 1..%u, got %lld", OMEN_VSET_MAX_K, k);
            raise_code(OMEN_INVALID, msg);
            return -1;
        }
        q->k = (uint32_t)k;
    }
    if (u32_arg(efo, "ef", 1, UINT32_MAX, &q->ef) < 0)
        return -1;
    if (fo && fo != Py_None) {
        if (!PyUnicode_Check(fo)) {
            PyErr_Format(PyExc_TypeError, "filter must be a str, not %.50s", Py_TYPE(fo)->tp_name);
            return -1;
        }
        Py_ssize_t n;
        q->filter = PyUnicode_AsUTF8AndSize(fo, &n);
        if (!q->filter)
            return -1;
        if ((size_t)n != strlen(q->filter)) {
            raise_code(OMEN_INVALID, "filter must not contain NUL");
            return -1;
        }
        Py_INCREF(fo);
        *fkeep = fo;
    }
    if (exo) {
        int t = PyObject_IsTrue(exo);
        if (t < 0) {
            Py_CLEAR(*fkeep);
            return -1;
        }
        q->exact = t;
    }
    return 0;
}

int ids_mode_arg(PyObject *o, int int_keys, int *out)
{
    *out = int_keys ? ID_INT : ID_BYTES;
    if (!o || o == Py_None)
        return 0;
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (s && !strcmp(s, "bytes"))
        *out = ID_BYTES;
    else if (s && !strcmp(s, "str"))
        *out = ID_STR;
    else if (s && !strcmp(s, "int"))
        *out = ID_INT;
    else {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "ids must be 'bytes', 'str' or 'int', got %R", o);
        return -1;
    }
    return 0;
}

const char *const metric_names[] = {"l2", "cosine", "ip"};
const int metric_vals[] = {OMEN_METRIC_L2, OMEN_METRIC_COSINE, OMEN_METRIC_IP};
const char *const prec_names[] = {"float32", "int8"};
const int prec_vals[] = {OMEN_PREC_FLOAT32, OMEN_PREC_INT8};
