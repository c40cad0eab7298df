/*
 * vset.c -- omendb.VectorSet, a handle on one vector set of a DB (the
 * omen_vset_* API): writes, element reads, search.  Arguments are
 * converted by vconvert.c; vectors go out as numpy arrays that the engine
 * fills directly, allocated before the GIL is released.
 *
 * Invariants beyond those of omendb_py.h:
 *  - A VectorSet is a dependant of its DB (res_link): closing the DB first
 *    closes every set handle, as the C API requires before omen_close.
 *  - The C handle may be used by many threads at once, so there is no busy
 *    flag: every call only enters the gate.
 *  - OMEN_NOTFOUND from an element call means "no such element" unless the
 *    set itself was dropped; set_gone() tells the two apart so that a get on
 *    a dropped set raises instead of returning the default.
 */
#include <math.h>
#include <string.h>

#include "omendb_py.h"

void pyvset_drop_handle(Res *r)
{
    VSetObject *v = (VSetObject *)r;
    omen_vset *h = v->vs;
    v->vs = NULL;
    if (h) {
        Py_BEGIN_ALLOW_THREADS omen_vset_close(h);
        Py_END_ALLOW_THREADS
    }
}

static void vset_dealloc(VSetObject *v)
{
    Py_CLEAR(v->name);
    res_dealloc((Res *)v);
}

/* ---- calls into the engine ------------------------------------------------ */

#define VS_ENTER(v)                                                                              \
    do {                                                                                         \
        if (res_enter((Res *)(v)) < 0)                                                           \
            return NULL;                                                                         \
    } while (0)

/* GIL released.  After an OMEN_NOTFOUND from an element call: 1 if the set
 * itself is gone (dropped), with its error captured in *e. */
static int set_gone(omen_vset *vs, ErrCap *e)
{
    omen_vset_info inf;
    int rc = omen_vset_info_get(vs, &inf);
    if (rc == OMEN_OK)
        return 0;
    err_capture(e, rc);
    return 1;
}

static PyObject *key_error(PyObject *id)
{
    PyErr_SetObject(PyExc_KeyError, id);
    return NULL;
}

/* ---- writes ---------------------------------------------------------------- */

static int vs_add1(VSetObject *v, PyObject *id, PyObject *vec, PyObject *attrs, int sync)
{
    Arg a;
    VecArg va;
    PyObject *keep;
    const char *ap;
    Py_ssize_t an;
    if (id_arg(v->id_mode, id, &a) < 0)
        return -1;
    if (vec_arg(vec, v->dim, 0, &va, "vector") < 0) {
        arg_release(&a);
        return -1;
    }
    if (attrs_arg(attrs, &keep, &ap, &an) < 0) {
        vec_release(&va);
        arg_release(&a);
        return -1;
    }
    int rc = -1;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = omen_vset_add(v->vs, a.p, (size_t)a.n, va.p, v->dim, ap, (size_t)an, sync);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
        if (rc != OMEN_OK)
            raise_cap(&e);
    }
    Py_XDECREF(keep);
    vec_release(&va);
    arg_release(&a);
    return rc == OMEN_OK ? 0 : -1;
}

PyDoc_STRVAR(vs_add_doc,
             "add($self, id, vector, /, attrs=None, sync=None)\n--\n\n"
             "Add the element `id` with `vector` (dim numbers: a float32 array is read\n"
             "in place, anything else converted once) and optional attributes (a dict,\n"
             "or JSON text of an object).  An existing id is replaced: its vector, and\n"
             "its attributes when attrs is given (attrs=None keeps them).  The write\n"
             "goes through the log like DB.put; the GIL is released while the graph is\n"
             "updated.  Raises InvalidArgument for a wrong dimension, NaN/inf, or\n"
             "attributes that are not a JSON object.");

static PyObject *vs_add(VSetObject *v, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", "vector", "attrs", "sync", NULL};
    PyObject *id, *vec, *attrs = Py_None, *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:add", kwlist, &id, &vec, &attrs, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    if (vs_add1(v, id, vec, attrs, sync) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(vs_add_many_doc,
             "add_many($self, ids, vectors, /, attrs=None, sync=None)\n--\n\n"
             "Add n elements as one atomic write.  ids: a sequence of n ids (or, for\n"
             "integer ids, a 1-D uint64 array); vectors: an (n, dim) array, read in\n"
             "place when it is C-contiguous float32; attrs: None or a sequence of n\n"
             "entries (dict, JSON text or None = unchanged).  Everything is validated\n"
             "before anything is written.  The GIL is released for the whole build.");

static PyObject *vs_add_many(VSetObject *v, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", "vectors", "attrs", "sync", NULL};
    PyObject *ids, *vecs, *attrs = Py_None, *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:add_many", kwlist, &ids, &vecs, &attrs, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    if (PyBytes_Check(ids) || PyUnicode_Check(ids)) {
        PyErr_SetString(PyExc_TypeError, "ids must be a sequence of ids, not a single id");
        return NULL;
    }
    Pack pk;
    VecArg va;
    PyObject *akeep = NULL;
    const void **idp = NULL;
    size_t *idl = NULL;
    const char **ap = NULL;
    size_t *al = NULL;
    PyObject *ret = NULL;
    if (pack_keys(v->id_mode == ID_INT, ids, &pk) < 0)
        return NULL;
    if (vec_arg(vecs, v->dim, 1, &va, "vectors") < 0) {
        pack_free(&pk);
        return NULL;
    }
    size_t n = pk.n;
    if ((size_t)va.rows != n) {
        PyErr_Format(PyExc_ValueError, "add_many: %zu ids but %zd vectors", n, va.rows);
        goto out;
    }
    idp = PyMem_Malloc((n ? n : 1) * sizeof *idp);
    idl = PyMem_Malloc((n ? n : 1) * sizeof *idl);
    if (!idp || !idl) {
        PyErr_NoMemory();
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        idp[i] = PACK_PTR(&pk, i);
        idl[i] = PACK_LEN(&pk, i);
    }
    if (attrs != Py_None) {
        PyObject *seq = PySequence_Fast(attrs, "attrs must be None or a sequence (one per element)");
        if (!seq)
            goto out;
        if ((size_t)PySequence_Fast_GET_SIZE(seq) != n) {
            PyErr_Format(PyExc_ValueError, "add_many: %zu ids but %zd attrs", n,
                         PySequence_Fast_GET_SIZE(seq));
            Py_DECREF(seq);
            goto out;
        }
        akeep = PyList_New((Py_ssize_t)n);
        ap = PyMem_Malloc((n ? n : 1) * sizeof *ap);
        al = PyMem_Malloc((n ? n : 1) * sizeof *al);
        if (!akeep || !ap || !al) {
            Py_DECREF(seq);
            if (akeep)
                PyErr_NoMemory();
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            PyObject *k;
            Py_ssize_t ln;
            if (attrs_arg(PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i), &k, &ap[i], &ln) < 0) {
                Py_DECREF(seq);
                goto out;
            }
            al[i] = (size_t)ln;
            if (!k) {
                Py_INCREF(Py_None);
                k = Py_None;
            }
            PyList_SET_ITEM(akeep, (Py_ssize_t)i, k);
        }
        Py_DECREF(seq);
    }
    if (res_enter((Res *)v) < 0)
        goto out;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS
    rc = n ? omen_vset_add_many(v->vs, n, idp, idl, va.p, v->dim, ap, al, sync) : OMEN_OK;
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)v);
    if (rc != OMEN_OK) {
        raise_cap(&e);
        goto out;
    }
    Py_INCREF(Py_None);
    ret = Py_None;
out:
    PyMem_Free(idp);
    PyMem_Free(idl);
    PyMem_Free(ap);
    PyMem_Free(al);
    Py_XDECREF(akeep);
    vec_release(&va);
    pack_free(&pk);
    return ret;
}

/* Delete: 1 deleted, 0 absent, -1 error raised. */
static int vs_del1(VSetObject *v, PyObject *id, int sync)
{
    Arg a;
    if (id_arg(v->id_mode, id, &a) < 0)
        return -1;
    int rc = -1, gone = 0;
    ErrCap e;
    if (res_enter((Res *)v) < 0) {
        arg_release(&a);
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = omen_vset_delete(v->vs, a.p, (size_t)a.n, sync);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    if (rc == OMEN_NOTFOUND)
        gone = set_gone(v->vs, &e);
    Py_END_ALLOW_THREADS
    res_leave((Res *)v);
    arg_release(&a);
    if (rc == OMEN_OK)
        return 1;
    if (rc == OMEN_NOTFOUND && !gone)
        return 0;
    raise_cap(&e);
    return -1;
}

PyDoc_STRVAR(vs_delete_doc,
             "delete($self, id, /, sync=None)\n--\n\n"
             "Delete the element; True if it existed, False if not.  It leaves search\n"
             "results at once.  `del vs[id]` raises KeyError for an absent id instead.");

static PyObject *vs_delete(VSetObject *v, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", "sync", NULL};
    PyObject *id, *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:delete", kwlist, &id, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    int r = vs_del1(v, id, sync);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

PyDoc_STRVAR(vs_set_attrs_doc,
             "set_attrs($self, id, attrs, /, sync=None)\n--\n\n"
             "Replace the element's attributes (a dict or JSON text of an object), or\n"
             "remove them (attrs=None).  KeyError if the element does not exist.");

static PyObject *vs_set_attrs(VSetObject *v, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", "attrs", "sync", NULL};
    PyObject *id, *attrs, *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:set_attrs", kwlist, &id, &attrs, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    Arg a;
    PyObject *keep;
    const char *ap;
    Py_ssize_t an;
    if (id_arg(v->id_mode, id, &a) < 0)
        return NULL;
    if (attrs_arg(attrs, &keep, &ap, &an) < 0) {
        arg_release(&a);
        return NULL;
    }
    if (!ap)
        ap = ""; /* None: remove */
    int rc = -1, gone = 0;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = omen_vset_set_attrs(v->vs, a.p, (size_t)a.n, ap, (size_t)an, sync);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        if (rc == OMEN_NOTFOUND)
            gone = set_gone(v->vs, &e);
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
    }
    Py_XDECREF(keep);
    arg_release(&a);
    if (rc == OMEN_OK)
        Py_RETURN_NONE;
    if (rc == OMEN_NOTFOUND && !gone)
        return key_error(id);
    if (rc > 0)
        raise_cap(&e);
    return NULL;
}

/* ---- element reads ----------------------------------------------------------- */

/* Fill a new float32 array with the element's vector.  Returns the array,
 * Py_None (borrowed, not increfed) for an absent element, NULL on error. */
static PyObject *vs_get1(VSetObject *v, PyObject *id)
{
    Arg a;
    if (id_arg(v->id_mode, id, &a) < 0)
        return NULL;
    Py_buffer view;
    Py_ssize_t shape[1] = {(Py_ssize_t)v->dim};
    PyObject *arr = new_array(1, shape, "float32", &view);
    if (!arr) {
        arg_release(&a);
        return NULL;
    }
    int rc = -1, gone = 0;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = omen_vset_get(v->vs, a.p, (size_t)a.n, view.buf, v->dim);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        if (rc == OMEN_NOTFOUND)
            gone = set_gone(v->vs, &e);
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
    }
    PyBuffer_Release(&view);
    arg_release(&a);
    if (rc == OMEN_OK)
        return arr;
    Py_DECREF(arr);
    if (rc == OMEN_NOTFOUND && !gone)
        return Py_None;
    if (rc > 0)
        raise_cap(&e);
    return NULL;
}

PyDoc_STRVAR(vs_get_doc,
             "get($self, id, default=None, /)\n--\n\n"
             "The element's vector as a numpy float32 array of shape (dim,) (for a\n"
             "cosine set, the unit-length vector that was stored), or default if the\n"
             "element does not exist.  vs[id] raises KeyError instead.");

static PyObject *vs_get(VSetObject *v, PyObject *args)
{
    PyObject *id, *dflt = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:get", &id, &dflt))
        return NULL;
    PyObject *r = vs_get1(v, id);
    if (r == Py_None) {
        Py_INCREF(dflt);
        return dflt;
    }
    return r;
}

static PyObject *vs_subscript(VSetObject *v, PyObject *id)
{
    PyObject *r = vs_get1(v, id);
    if (r == Py_None)
        return key_error(id);
    return r;
}

static int vs_ass_subscript(VSetObject *v, PyObject *id, PyObject *vec)
{
    if (vec)
        return vs_add1(v, id, vec, NULL, OMEN_SYNC_DEFAULT);
    int r = vs_del1(v, id, OMEN_SYNC_DEFAULT);
    if (r == 0)
        key_error(id);
    return r == 1 ? 0 : -1;
}

PyDoc_STRVAR(vs_get_quantized_doc,
             "get_quantized($self, id, /)\n--\n\n"
             "The element's vector as the graph stores it in an int8 set: a tuple\n"
             "(codes, scale, offset) where codes is a numpy int8 array of shape (dim,)\n"
             "and codes * scale + offset approximates the float32 vector.  KeyError if\n"
             "absent; InvalidArgument for a float32 set (use get()).");

static PyObject *vs_get_quantized(VSetObject *v, PyObject *id)
{
    Arg a;
    if (id_arg(v->id_mode, id, &a) < 0)
        return NULL;
    Py_buffer view;
    Py_ssize_t shape[1] = {(Py_ssize_t)v->dim};
    PyObject *arr = new_array(1, shape, "int8", &view);
    if (!arr) {
        arg_release(&a);
        return NULL;
    }
    float scale = 0, offset = 0;
    int rc = -1, gone = 0;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = omen_vset_get_int8(v->vs, a.p, (size_t)a.n, view.buf, v->dim, &scale, &offset);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        if (rc == OMEN_NOTFOUND)
            gone = set_gone(v->vs, &e);
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
    }
    PyBuffer_Release(&view);
    arg_release(&a);
    if (rc == OMEN_OK) {
        PyObject *t = Py_BuildValue("(Odd)", arr, (double)scale, (double)offset);
        Py_DECREF(arr);
        return t;
    }
    Py_DECREF(arr);
    if (rc == OMEN_NOTFOUND && !gone)
        return key_error(id);
    if (rc > 0)
        raise_cap(&e);
    return NULL;
}

PyDoc_STRVAR(vs_get_attrs_doc,
             "get_attrs($self, id, /, raw=False)\n--\n\n"
             "The element's attributes: a dict (raw=True: the JSON text as str), or\n"
             "None when it has none.  KeyError if the element does not exist.");

static PyObject *vs_get_attrs(VSetObject *v, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"id", "raw", NULL};
    PyObject *id;
    int raw = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:get_attrs", kwlist, &id, &raw))
        return NULL;
    if (!raw && json_ready() < 0)
        return NULL;
    Arg a;
    if (id_arg(v->id_mode, id, &a) < 0)
        return NULL;
    char *json = NULL;
    size_t len = 0;
    int rc = -1, gone = 0;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = omen_vset_get_attrs(v->vs, a.p, (size_t)a.n, &json, &len);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        if (rc == OMEN_NOTFOUND)
            gone = set_gone(v->vs, &e);
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
    }
    arg_release(&a);
    if (rc != OMEN_OK) {
        if (rc == OMEN_NOTFOUND && !gone)
            return key_error(id);
        if (rc > 0)
            raise_cap(&e);
        return NULL;
    }
    if (!json)
        Py_RETURN_NONE;
    PyObject *s = PyUnicode_DecodeUTF8(json, (Py_ssize_t)len, "replace");
    omen_free(json);
    if (!s || raw)
        return s;
    PyObject *d = PyObject_CallOneArg(json_loads, s);
    Py_DECREF(s);
    return d;
}

static int vs_contains(VSetObject *v, PyObject *id)
{
    Arg a;
    if (id_arg(v->id_mode, id, &a) < 0)
        return -1;
    int rc = -1, gone = 0;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = omen_vset_contains(v->vs, a.p, (size_t)a.n);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        if (rc == OMEN_NOTFOUND)
            gone = set_gone(v->vs, &e);
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
    }
    arg_release(&a);
    if (rc == OMEN_OK)
        return 1;
    if (rc == OMEN_NOTFOUND && !gone)
        return 0;
    if (rc > 0)
        raise_cap(&e);
    return -1;
}

PyDoc_STRVAR(vs_random_doc, "random($self, /)\n--\n\n"
                            "A uniformly chosen element's id, or None if the set is empty.");

static PyObject *vs_random(VSetObject *v, PyObject *unused)
{
    (void)unused;
    VS_ENTER(v);
    void *id = NULL;
    size_t len = 0;
    int rc, gone = 0;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS
    rc = omen_vset_random(v->vs, &id, &len);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    if (rc == OMEN_NOTFOUND)
        gone = set_gone(v->vs, &e);
    Py_END_ALLOW_THREADS
    res_leave((Res *)v);
    if (rc == OMEN_OK) {
        PyObject *r = id_to_py(v->id_mode, id, len);
        omen_free(id);
        return r;
    }
    if (rc == OMEN_NOTFOUND && !gone)
        Py_RETURN_NONE;
    return raise_cap(&e);
}

static int vs_info_raw(VSetObject *v, omen_vset_info *inf)
{
    if (res_enter((Res *)v) < 0)
        return -1;
    int rc;
    ErrCap e;
    memset(inf, 0, sizeof *inf);
    Py_BEGIN_ALLOW_THREADS
    rc = omen_vset_info_get(v->vs, inf);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)v);
    if (rc != OMEN_OK) {
        raise_cap(&e);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(vs_info_doc,
             "info($self, /)\n--\n\n"
             "The set's description as a dict: name, dim, metric ('l2', 'cosine',\n"
             "'ip'), precision ('float32', 'int8'), m, ef_construction, ef_search,\n"
             "count (live elements), deleted (nodes not yet unlinked), levels,\n"
             "memory_bytes (RAM of graph, traversal vectors, ids and attributes) and\n"
             "log_tail (writes the graph file does not cover yet).");

static PyObject *vs_info(VSetObject *v, PyObject *unused)
{
    (void)unused;
    omen_vset_info inf;
    if (vs_info_raw(v, &inf) < 0)
        return NULL;
    return Py_BuildValue("{sO sI ss ss sI sI sI sK sK sI sK sK}", "name", v->name, "dim", inf.dim,
                         "metric", metric_name(inf.metric), "precision", prec_name(inf.precision),
                         "m", inf.M, "ef_construction", inf.ef_construction, "ef_search",
                         inf.ef_search, "count", (unsigned long long)inf.count, "deleted",
                         (unsigned long long)inf.deleted, "levels", inf.levels, "memory_bytes",
                         (unsigned long long)inf.memory_bytes, "log_tail",
                         (unsigned long long)inf.log_tail);
}

static Py_ssize_t vs_len(VSetObject *v)
{
    omen_vset_info inf;
    if (vs_info_raw(v, &inf) < 0)
        return -1;
    return (Py_ssize_t)inf.count;
}

PyDoc_STRVAR(vs_checkpoint_doc,
             "checkpoint($self, /)\n--\n\n"
             "Write the graph file now (closing the last handle also does), so that\n"
             "the next open replays fewer writes.");

static PyObject *vs_checkpoint(VSetObject *v, PyObject *unused)
{
    (void)unused;
    VS_ENTER(v);
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS
    rc = omen_vset_checkpoint(v->vs);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)v);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    Py_RETURN_NONE;
}

/* ---- search ------------------------------------------------------------------ */

static PyObject *hits_to_list(int mode, const omen_vset_result *r)
{
    PyObject *l = PyList_New((Py_ssize_t)r->n);
    if (!l)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        PyObject *id = id_to_py(mode, r->hits[i].id, r->hits[i].id_len);
        PyObject *t = id ? Py_BuildValue("(Nd)", id, (double)r->hits[i].score) : NULL;
        if (!t) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

static const char *const search_names[] = {"query", "k", "ef", "filter", "exact"};

PyDoc_STRVAR(vs_search_doc,
             "search($self, query, /, k=10, ef=None, filter=None, exact=False)\n--\n\n"
             "The k nearest elements of `query` (dim numbers) as a list of (id, score)\n"
             "pairs, closest first.  Scores are distances, smaller is closer: squared L2,\n"
             "1 - cosine similarity, or the negated inner product.  ef: candidate list\n"
             "size (None: the set's ef_search; raised to k).  filter: an expression over\n"
             "the attributes, e.g. '.year > 1990 and .genre in [\"drama\", \"noir\"]';\n"
             "elements that lack a field or whose types do not fit do not match, and a\n"
             "selective filter falls back to an exact scan, so a filtered search returns\n"
             "min(k, matches) hits.  exact=True scans every element (ground truth).\n"
             "The GIL is released during the search.");

static PyObject *vs_search(VSetObject *v, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)
{
    PyObject *a[5];
    if (fast_parse("search", args, nargs, kw, search_names, 5, 1, a) < 0)
        return NULL;
    omen_vset_query q;
    PyObject *fkeep;
    if (query_args(a[1], a[2], a[3], a[4], &q, &fkeep) < 0)
        return NULL;
    VecArg va;
    if (vec_arg(a[0], v->dim, 0, &va, "query") < 0) {
        Py_XDECREF(fkeep);
        return NULL;
    }
    omen_vset_result *res = NULL;
    int rc = -1;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = omen_vset_search(v->vs, va.p, v->dim, &q, &res);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
    }
    vec_release(&va);
    Py_XDECREF(fkeep);
    if (rc != OMEN_OK)
        return rc > 0 ? raise_cap(&e) : NULL;
    PyObject *l = hits_to_list(v->id_mode, res);
    omen_free(res);
    return l;
}

static const char *const search_id_names[] = {"id", "k", "ef", "filter", "exact"};

PyDoc_STRVAR(vs_search_by_id_doc,
             "search_by_id($self, id, /, k=10, ef=None, filter=None, exact=False)\n--\n\n"
             "As search() with the stored vector of element `id` as the query (the\n"
             "element itself is among the results).  KeyError if it does not exist.");

static PyObject *vs_search_by_id(VSetObject *v, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kw)
{
    PyObject *a[5];
    if (fast_parse("search_by_id", args, nargs, kw, search_id_names, 5, 1, a) < 0)
        return NULL;
    omen_vset_query q;
    PyObject *fkeep;
    if (query_args(a[1], a[2], a[3], a[4], &q, &fkeep) < 0)
        return NULL;
    Arg ida;
    if (id_arg(v->id_mode, a[0], &ida) < 0) {
        Py_XDECREF(fkeep);
        return NULL;
    }
    omen_vset_result *res = NULL;
    int rc = -1, gone = 0;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = omen_vset_search_id(v->vs, ida.p, (size_t)ida.n, &q, &res);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        if (rc == OMEN_NOTFOUND)
            gone = set_gone(v->vs, &e);
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
    }
    arg_release(&ida);
    Py_XDECREF(fkeep);
    if (rc != OMEN_OK) {
        if (rc == OMEN_NOTFOUND && !gone)
            return key_error(a[0]);
        return rc > 0 ? raise_cap(&e) : NULL;
    }
    PyObject *l = hits_to_list(v->id_mode, res);
    omen_free(res);
    return l;
}

PyDoc_STRVAR(vs_search_many_doc,
             "search_many($self, queries, /, k=10, ef=None, filter=None, exact=False,\n"
             "            threads=0)\n--\n\n"
             "Search every row of `queries` (an (nq, dim) array, read in place when\n"
             "C-contiguous float32) with `threads` threads (0: one per core), the GIL\n"
             "released.  Returns (ids, scores): ids is a list of nq lists (row i holds\n"
             "the hits of query i, closest first, at most k), scores a float32 array of\n"
             "shape (nq, k) whose row i starts with those hits' scores and is padded\n"
             "with +inf where fewer than k elements were found.");

static PyObject *vs_search_many(VSetObject *v, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"queries", "k", "ef", "filter", "exact", "threads", NULL};
    PyObject *qo, *ko = NULL, *efo = NULL, *fo = NULL, *exo = NULL;
    int threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOOOi:search_many", kwlist, &qo, &ko, &efo, &fo,
                                     &exo, &threads))
        return NULL;
    if (threads < 0) {
        raise_code(OMEN_INVALID, "threads must be >= 0 (0: one per core)");
        return NULL;
    }
    omen_vset_query q;
    PyObject *fkeep;
    if (query_args(ko, efo, fo, exo, &q, &fkeep) < 0)
        return NULL;
    VecArg va;
    if (vec_arg(qo, v->dim, 1, &va, "queries") < 0) {
        Py_XDECREF(fkeep);
        return NULL;
    }
    size_t nq = (size_t)va.rows;
    Py_buffer view;
    Py_ssize_t shape[2] = {(Py_ssize_t)nq, (Py_ssize_t)q.k};
    PyObject *scores = new_array(2, shape, "float32", &view);
    PyObject *ids = scores ? PyList_New((Py_ssize_t)nq) : NULL;
    if (!ids) {
        if (scores) {
            PyBuffer_Release(&view);
            Py_DECREF(scores);
        }
        vec_release(&va);
        Py_XDECREF(fkeep);
        return NULL;
    }
    omen_vset_result **res = NULL;
    int rc = -1;
    ErrCap e;
    if (res_enter((Res *)v) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = nq ? omen_vset_search_many(v->vs, nq, va.p, v->dim, &q, threads, &res) : OMEN_OK;
        if (rc != OMEN_OK) {
            err_capture(&e, rc);
        } else {
            float *s = view.buf;
            for (size_t i = 0; i < nq; i++) {
                size_t j = 0;
                for (; j < res[i]->n && j < q.k; j++)
                    s[i * q.k + j] = res[i]->hits[j].score;
                for (; j < q.k; j++)
                    s[i * q.k + j] = INFINITY;
            }
        }
        Py_END_ALLOW_THREADS
        res_leave((Res *)v);
    }
    PyBuffer_Release(&view);
    vec_release(&va);
    Py_XDECREF(fkeep);
    if (rc == OMEN_OK) {
        for (size_t i = 0; i < nq; i++) {
            PyObject *row = PyList_New((Py_ssize_t)res[i]->n);
            if (!row) {
                rc = -1;
                break;
            }
            PyList_SET_ITEM(ids, (Py_ssize_t)i, row);
            for (size_t j = 0; j < res[i]->n; j++) {
                PyObject *id = id_to_py(v->id_mode, res[i]->hits[j].id, res[i]->hits[j].id_len);
                if (!id) {
                    rc = -1;
                    break;
                }
                PyList_SET_ITEM(row, (Py_ssize_t)j, id);
            }
            if (rc != OMEN_OK)
                break;
        }
        if (res)
            omen_vset_results_free(res, nq);
    } else if (rc > 0) {
        raise_cap(&e);
    }
    if (rc != OMEN_OK) {
        Py_DECREF(ids);
        Py_DECREF(scores);
        return NULL;
    }
    return Py_BuildValue("(NN)", ids, scores);
}

/* ---- attributes of the object --------------------------------------------------- */

static PyObject *vs_get_name(VSetObject *v, void *unused)
{
    (void)unused;
    Py_INCREF(v->name);
    return v->name;
}

static PyObject *vs_get_dim(VSetObject *v, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLong(v->dim);
}

static PyObject *vs_get_metric(VSetObject *v, void *unused)
{
    (void)unused;
    return PyUnicode_FromString(metric_name(v->metric));
}

static PyObject *vs_get_precision(VSetObject *v, void *unused)
{
    (void)unused;
    return PyUnicode_FromString(prec_name(v->precision));
}

static PyObject *vs_get_closed(VSetObject *v, void *unused)
{
    (void)unused;
    return PyBool_FromLong(v->vs == NULL);
}

static PyObject *vs_repr(VSetObject *v)
{
    return PyUnicode_FromFormat("<omendb.VectorSet %R dim=%u %s %s%s>", v->name, (unsigned)v->dim,
                                metric_name(v->metric), prec_name(v->precision),
                                v->vs ? "" : " closed");
}

static PyMethodDef vs_methods[] = {
    {"add", (PyCFunction)(void (*)(void))vs_add, METH_VARARGS | METH_KEYWORDS, vs_add_doc},
    {"add_many", (PyCFunction)(void (*)(void))vs_add_many, METH_VARARGS | METH_KEYWORDS,
     vs_add_many_doc},
    {"delete", (PyCFunction)(void (*)(void))vs_delete, METH_VARARGS | METH_KEYWORDS, vs_delete_doc},
    {"get", (PyCFunction)vs_get, METH_VARARGS, vs_get_doc},
    {"get_quantized", (PyCFunction)vs_get_quantized, METH_O, vs_get_quantized_doc},
    {"get_attrs", (PyCFunction)(void (*)(void))vs_get_attrs, METH_VARARGS | METH_KEYWORDS,
     vs_get_attrs_doc},
    {"set_attrs", (PyCFunction)(void (*)(void))vs_set_attrs, METH_VARARGS | METH_KEYWORDS,
     vs_set_attrs_doc},
    {"random", (PyCFunction)vs_random, METH_NOARGS, vs_random_doc},
    {"info", (PyCFunction)vs_info, METH_NOARGS, vs_info_doc},
    {"search", (PyCFunction)(void (*)(void))vs_search, METH_FASTCALL | METH_KEYWORDS, vs_search_doc},
    {"search_by_id", (PyCFunction)(void (*)(void))vs_search_by_id, METH_FASTCALL | METH_KEYWORDS,
     vs_search_by_id_doc},
    {"search_many", (PyCFunction)(void (*)(void))vs_search_many, METH_VARARGS | METH_KEYWORDS,
     vs_search_many_doc},
    {"checkpoint", (PyCFunction)vs_checkpoint, METH_NOARGS, vs_checkpoint_doc},
    {"close", (PyCFunction)res_close_method, METH_NOARGS,
     "close($self, /)\n--\n\nRelease the handle (the last one of a set checkpoints its graph).\n"
     "Waits for calls in other threads; idempotent.  Closing the DB closes it too."},
    {"__enter__", (PyCFunction)return_self, METH_NOARGS, "Return the set itself."},
    {"__exit__", (PyCFunction)res_exit_method, METH_VARARGS, "Close the handle."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef vs_getset[] = {
    {"name", (getter)vs_get_name, NULL, "The set's name (str).", NULL},
    {"dim", (getter)vs_get_dim, NULL, "Number of components of every vector.", NULL},
    {"metric", (getter)vs_get_metric, NULL, "'l2', 'cosine' or 'ip'.", NULL},
    {"precision", (getter)vs_get_precision, NULL, "'float32' or 'int8' (graph traversal).", NULL},
    {"closed", (getter)vs_get_closed, NULL, "True once the handle is closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods vs_as_mapping = {
    .mp_length = (lenfunc)vs_len,
    .mp_subscript = (binaryfunc)vs_subscript,
    .mp_ass_subscript = (objobjargproc)vs_ass_subscript,
};
static PySequenceMethods vs_as_sequence = {.sq_contains = (objobjproc)vs_contains};

PyDoc_STRVAR(vs_doc,
             "A vector set of a DB: named elements, each with a vector and optional\n"
             "attributes, searched by approximate nearest neighbour.  Get one with\n"
             "DB.vector_set().  len(vs) is the number of elements; `id in vs`,\n"
             "vs[id] (the vector, KeyError if absent), vs[id] = vector and del vs[id]\n"
             "work as for a dict.  A VectorSet may be used by many threads at once.\n"
             "Element ids are bytes (str accepted, stored UTF-8), str (ids='str') or\n"
             "ints in 0..2**64-1 (ids='int', the default in an int_keys database).");

PyTypeObject VSetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.VectorSet",
    .tp_basicsize = sizeof(VSetObject),
    .tp_dealloc = (destructor)vset_dealloc,
    .tp_repr = (reprfunc)vs_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = vs_doc,
    .tp_methods = vs_methods,
    .tp_getset = vs_getset,
    .tp_as_mapping = &vs_as_mapping,
    .tp_as_sequence = &vs_as_sequence,
};
