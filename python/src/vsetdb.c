/*
 * vsetdb.c -- the vector-set entry points of the other types: DB.vector_set
 * (open or create), DB.vector_sets, DB.drop_vector_set, and the vector
 * writes recorded in a WriteBatch or a Transaction (vadd, vdelete), which
 * commit atomically with their key-value writes.
 */
#include <stdio.h>
#include <string.h>

#include "omendb_py.h"

/* ---- DB methods -------------------------------------------------------------- */

/* An option given to vector_set() for an existing set must match it. */
static int check_same(const char *set, const char *what, PyObject *given, unsigned long have,
                      const char *have_s)
{
    if (!given || given == Py_None)
        return 0;
    char msg[OMEN_VSET_MAX_NAME + 160];
    if (have_s)
        snprintf(msg, sizeof msg, "vector set '%s' exists with %s=%s", set, what, have_s);
    else
        snprintf(msg, sizeof msg, "vector set '%s' exists with %s=%lu", set, what, have);
    raise_code(OMEN_INVALID, msg);
    return -1;
}

const char pyvset_open_doc[] =
             "vector_set($self, name, /, dim=None, metric=None, precision=None, m=None,\n"
             "           ef_construction=None, ef_search=None, create=True, ids=None)\n--\n\n"
             "Open the vector set `name` (str), creating it when it does not exist and\n"
             "dim is given.  metric: 'l2' (squared Euclidean, default), 'cosine' or 'ip'\n"
             "(inner product); precision: 'int8' (default: one byte per component in\n"
             "RAM, exact re-ranking) or 'float32'; m: graph degree (default 16);\n"
             "ef_construction (default 200); ef_search: default ef of searches (64).\n"
             "For an existing set, options that are given must match it\n"
             "(omendb.InvalidArgument otherwise).  ids: how element ids come back:\n"
             "'bytes' (default), 'str' (UTF-8) or 'int' (8-byte big-endian, the default\n"
             "of an int_keys DB); not stored, pass it on every open.  Raises\n"
             "omendb.NotFoundError if the set does not exist and dim is None (or\n"
             "create=False).";

PyObject *pyvset_open(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "dim",       "metric", "precision", "m",
                             "ef_construction", "ef_search", "create", "ids", NULL};
    PyObject *nameo, *dimo = NULL, *mo = NULL, *po = NULL, *Mo = NULL, *efco = NULL, *efso = NULL,
             *ido = NULL;
    int create = 1, idmode;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOOOOOpO:vector_set", kwlist, &nameo, &dimo, &mo,
                                     &po, &Mo, &efco, &efso, &create, &ido))
        return NULL;
    if (!db->h)
        return raise_closed((Res *)db);
    omen_vset_options o;
    omen_vset_options_init(&o);
    if (u32_arg(dimo, "dim", 1, OMEN_VSET_MAX_DIM, &o.dim) < 0 ||
        choice_arg(mo, "metric", metric_names, metric_vals, 3, &o.metric) < 0 ||
        choice_arg(po, "precision", prec_names, prec_vals, 2, &o.precision) < 0 ||
        u32_arg(Mo, "m", 4, 64, &o.M) < 0 ||
        u32_arg(efco, "ef_construction", 1, UINT32_MAX, &o.ef_construction) < 0 ||
        u32_arg(efso, "ef_search", 1, UINT32_MAX, &o.ef_search) < 0 ||
        ids_mode_arg(ido, db->int_keys, &idmode) < 0)
        return NULL;
    PyObject *nb;
    if (name_arg(nameo, &nb) < 0)
        return NULL;
    PyObject *name = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(nb), PyBytes_GET_SIZE(nb), "replace");
    VSetObject *v = name ? PyObject_New(VSetObject, &VSetType) : NULL;
    if (!v) {
        Py_XDECREF(name);
        Py_DECREF(nb);
        return NULL;
    }
    res_init((Res *)v, db, "vector set", pyvset_drop_handle);
    v->vs = NULL;
    v->name = name;
    v->id_mode = idmode;
    if (res_enter((Res *)db) < 0) {
        atomic_store(&v->dead, 1);
        Py_DECREF(v);
        Py_DECREF(nb);
        return NULL;
    }
    const char *cname = PyBytes_AS_STRING(nb);
    int want_create = create && dimo && dimo != Py_None;
    omen_vset *h = NULL;
    omen_vset_info inf;
    int rc, created = 0;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS
    /* open first; create on NOTFOUND; a racing creator makes create say
     * EXISTS, after which the open succeeds */
    for (int tries = 0; tries < 3; tries++) {
        rc = omen_vset_open(db->h, cname, &h);
        if (rc != OMEN_NOTFOUND || !want_create)
            break;
        rc = omen_vset_create(db->h, cname, &o, &h);
        if (rc != OMEN_EXISTS) {
            created = rc == OMEN_OK;
            break;
        }
    }
    if (rc == OMEN_OK) {
        rc = omen_vset_info_get(h, &inf);
        if (rc != OMEN_OK) {
            omen_vset_close(h);
            h = NULL;
        }
    }
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)db);
    if (rc != OMEN_OK) {
        atomic_store(&v->dead, 1);
        Py_DECREF(v);
        if (rc == OMEN_NOTFOUND) {
            PyErr_Clear();
            char msg[OMEN_VSET_MAX_NAME + 80];
            snprintf(msg, sizeof msg, "no vector set named '%s'%s", cname,
                     create ? " (pass dim= to create it)" : "");
            Py_DECREF(nb);
            return raise_code(OMEN_NOTFOUND, msg);
        }
        Py_DECREF(nb);
        return raise_cap(&e);
    }
    v->vs = h;
    v->dim = inf.dim;
    v->metric = inf.metric;
    v->precision = inf.precision;
    res_link((Res *)db, (Res *)v);
    if (!created &&
        ((o.dim != inf.dim && check_same(cname, "dim", dimo, inf.dim, NULL) < 0) ||
         (o.metric != inf.metric && check_same(cname, "metric", mo, 0, metric_name(inf.metric)) < 0) ||
         (o.precision != inf.precision &&
          check_same(cname, "precision", po, 0, prec_name(inf.precision)) < 0) ||
         (o.M != inf.M && check_same(cname, "m", Mo, inf.M, NULL) < 0) ||
         (o.ef_construction != inf.ef_construction &&
          check_same(cname, "ef_construction", efco, inf.ef_construction, NULL) < 0) ||
         (o.ef_search != inf.ef_search && check_same(cname, "ef_search", efso, inf.ef_search, NULL) < 0))) {
        Py_DECREF(nb);
        res_invalidate((Res *)v);
        Py_DECREF(v);
        return NULL;
    }
    Py_DECREF(nb);
    return (PyObject *)v;
}

const char pyvset_list_doc[] = "vector_sets($self, /)\n--\n\n"
                              "Names of the database's vector sets (sorted list of str).";

PyObject *pyvset_list(DBObject *db, PyObject *unused)
{
    (void)unused;
    if (!db->h)
        return raise_closed((Res *)db);
    if (res_enter((Res *)db) < 0)
        return NULL;
    char **names = NULL;
    size_t n = 0;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS
    rc = omen_vset_list(db->h, &names, &n);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)db);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(names[i], (Py_ssize_t)strlen(names[i]), "replace");
        if (!s) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    omen_free(names);
    return l;
}

const char pyvset_drop_doc[] =
             "drop_vector_set($self, name, /)\n--\n\n"
             "Delete the vector set `name` with all its elements and its graph file.\n"
             "Open VectorSet handles of it raise omendb.NotFoundError afterwards.\n"
             "omendb.NotFoundError if there is no such set.";

PyObject *pyvset_drop(DBObject *db, PyObject *nameo)
{
    if (!db->h)
        return raise_closed((Res *)db);
    PyObject *nb;
    if (name_arg(nameo, &nb) < 0)
        return NULL;
    if (res_enter((Res *)db) < 0) {
        Py_DECREF(nb);
        return NULL;
    }
    int rc;
    ErrCap e;
    const char *cname = PyBytes_AS_STRING(nb);
    Py_BEGIN_ALLOW_THREADS
    rc = omen_vset_drop(db->h, cname);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)db);
    if (rc == OMEN_NOTFOUND) {
        char msg[OMEN_VSET_MAX_NAME + 40];
        snprintf(msg, sizeof msg, "no vector set named '%s'", cname);
        Py_DECREF(nb);
        return raise_code(OMEN_NOTFOUND, msg);
    }
    Py_DECREF(nb);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    Py_RETURN_NONE;
}

/* ---- WriteBatch and Transaction methods ----------------------------------------- */

static VSetObject *vset_of(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &VSetType)) {
        PyErr_Format(PyExc_TypeError, "expected an omendb.VectorSet, not %.50s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    return (VSetObject *)o;
}

/* A vector write recorded in a batch (t == NULL) or a transaction.  Memory
 * only, so the GIL stays held; the set's gate is entered so that its handle
 * cannot be closed meanwhile. */
static PyObject *rec_vwrite(BatchObject *b, TxnObject *t, PyObject *vso, PyObject *id,
                            PyObject *vec, PyObject *attrs)
{
    VSetObject *v = vset_of(vso);
    if (!v)
        return NULL;
    if (b && b->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the batch is being written by another thread");
        return NULL;
    }
    if (t && !t->t)
        return pytxn_not_active(t);
    Arg a;
    VecArg va;
    PyObject *keep = NULL;
    const char *ap = NULL;
    Py_ssize_t an = 0;
    if (id_arg(v->id_mode, id, &a) < 0)
        return NULL;
    if (vec) {
        if (vec_arg(vec, v->dim, 0, &va, "vector") < 0) {
            arg_release(&a);
            return NULL;
        }
        if (attrs_arg(attrs, &keep, &ap, &an) < 0) {
            vec_release(&va);
            arg_release(&a);
            return NULL;
        }
    }
    int rc = -1;
    if (res_enter((Res *)v) == 0) {
        if (b) {
            rc = vec ? omen_batch_vadd(b->b, v->vs, a.p, (size_t)a.n, va.p, v->dim, ap, (size_t)an)
                     : omen_batch_vdel(b->b, v->vs, a.p, (size_t)a.n);
            if (rc != OMEN_OK)
                raise_code(rc, omen_last_error());
        } else if (res_enter((Res *)t) == 0) {
            if (take_busy((Res *)t, "the transaction") == 0) {
                if (!t->t) {
                    pytxn_not_active(t);
                } else {
                    rc = vec ? omen_txn_vadd(t->t, v->vs, a.p, (size_t)a.n, va.p, v->dim, ap,
                                             (size_t)an)
                             : omen_txn_vdel(t->t, v->vs, a.p, (size_t)a.n);
                    if (rc != OMEN_OK)
                        raise_code(rc, omen_last_error());
                }
                t->busy = 0;
            }
            res_leave((Res *)t);
        }
        res_leave((Res *)v);
    }
    Py_XDECREF(keep);
    if (vec)
        vec_release(&va);
    arg_release(&a);
    if (rc != OMEN_OK)
        return NULL;
    Py_RETURN_NONE;
}

static int vadd_args(const char *fname, PyObject *args, PyObject *kw, PyObject **vso, PyObject **id,
                     PyObject **vec, PyObject **attrs)
{
    static char *kwlist[] = {"vset", "id", "vector", "attrs", NULL};
    char fmt[40];
    snprintf(fmt, sizeof fmt, "OOO|O:%s", fname);
    *attrs = Py_None;
    return PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, vso, id, vec, attrs) ? 0 : -1;
}

PyObject *pyvset_batch_vadd(BatchObject *b, PyObject *args, PyObject *kw)
{
    PyObject *vso, *id, *vec, *attrs;
    if (vadd_args("vadd", args, kw, &vso, &id, &vec, &attrs) < 0)
        return NULL;
    return rec_vwrite(b, NULL, vso, id, vec, attrs);
}

PyObject *pyvset_batch_vdelete(BatchObject *b, PyObject *args)
{
    PyObject *vso, *id;
    if (!PyArg_ParseTuple(args, "OO:vdelete", &vso, &id))
        return NULL;
    return rec_vwrite(b, NULL, vso, id, NULL, NULL);
}

PyObject *pyvset_txn_vadd(TxnObject *t, PyObject *args, PyObject *kw)
{
    PyObject *vso, *id, *vec, *attrs;
    if (vadd_args("vadd", args, kw, &vso, &id, &vec, &attrs) < 0)
        return NULL;
    return rec_vwrite(NULL, t, vso, id, vec, attrs);
}

PyObject *pyvset_txn_vdelete(TxnObject *t, PyObject *args)
{
    PyObject *vso, *id;
    if (!PyArg_ParseTuple(args, "OO:vdelete", &vso, &id))
        return NULL;
    return rec_vwrite(NULL, t, vso, id, NULL, NULL);
}
