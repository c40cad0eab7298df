/*
 * omendbmodule.c -- the CPython extension `omendb._omendb`, a thin C layer
 * over libomendb's public API (include/omendb.h only).
 *
 * Invariants this file keeps:
 *
 *  - Every engine call that may wait (I/O, locks, long loops) runs with the
 *    GIL released.  Arguments are converted first and stay pinned for the
 *    call: bytes and str are immutable and owned by the caller's frame; any
 *    other bytes-like object is held through a buffer view (which also stops
 *    a bytearray from being resized meanwhile).
 *  - close() never races a call.  Every object that owns an engine handle
 *    (DB, Snapshot, Transaction, Iterator) has a gate: a call enters the gate
 *    (GIL held) before touching the handle and leaves it after; closing
 *    marks the gate, waits (GIL released) until no call is inside, then
 *    frees the handle.  Later calls raise omendb.Closed.
 *  - Dependent objects hold a strong reference to their DB (and owner), and
 *    every owner keeps a borrowed list of its dependants, so closing a DB
 *    first invalidates its transactions, snapshots and iterators (the C API
 *    requires them to be released before omen_close), and releasing a
 *    snapshot or ending a transaction first invalidates its iterators.
 *  - No Python code runs while a gate is held: objects are allocated before
 *    entering and results are built after leaving, so a finalizer that
 *    closes the database can never wait on its own thread.
 *  - Iterators, transactions and batches are single-threaded in the C API;
 *    a `busy` flag (tested and set under the GIL) turns concurrent use from
 *    two Python threads into RuntimeError instead of a data race.
 *  - omen_last_error() is thread-local and overwritten by the next engine
 *    call, so it is copied right after the failing call.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omendb.h"

/* ---- exceptions ---------------------------------------------------------- */

static PyObject *Error, *NotFoundError, *InvalidArgument, *Corruption, *DiskError, *OutOfMemory,
    *Locked, *Exists, *NotADatabase, *Closed, *ReadOnly, *Conflict, *TooBig, *VersionError, *Busy;

typedef struct {
    int rc;
    char msg[512];
} ErrCap;

/* Copy the engine's thread-local message now, before another call of this
 * thread overwrites it.  Safe without the GIL. */
static void err_capture(ErrCap *e, int rc)
{
    e->rc = rc;
    snprintf(e->msg, sizeof e->msg, "%s", omen_last_error());
}

static PyObject *exc_class(int rc)
{
    switch (rc) {
    case OMEN_NOTFOUND: return NotFoundError;
    case OMEN_INVALID: return InvalidArgument;
    case OMEN_CORRUPT: return Corruption;
    case OMEN_IO: return DiskError;
    case OMEN_NOMEM: return OutOfMemory;
    case OMEN_LOCKED: return Locked;
    case OMEN_EXISTS: return Exists;
    case OMEN_NOTDB: return NotADatabase;
    case OMEN_CLOSED: return Closed;
    case OMEN_READONLY: return ReadOnly;
    case OMEN_CONFLICT: return Conflict;
    case OMEN_TOOBIG: return TooBig;
    case OMEN_VERSION: return VersionError;
    case OMEN_BUSY: return Busy;
    default: return Error;
    }
}

/* Raise the exception for engine code rc with the engine's detail text.
 * The exception carries .code (int) and .detail (str).  Returns NULL. */
static PyObject *raise_code(int rc, const char *detail)
{
    PyObject *cls = exc_class(rc);
    const char *name = omen_strerror(rc);
    PyObject *det = PyUnicode_DecodeUTF8(detail ? detail : "", detail ? (Py_ssize_t)strlen(detail) : 0,
                                         "replace");
    if (!det)
        return NULL;
    /* A detail that already starts with the code's name ("transaction
     * conflict: ...") is the whole message: don't say it twice. */
    size_t nl = strlen(name);
    int named = detail && !strncmp(detail, name, nl) && detail[nl] == ':';
    PyObject *msg = named ? (Py_INCREF(det), det)
                          : PyUnicode_GET_LENGTH(det) ? PyUnicode_FromFormat("%s: %U", name, det)
                                                      : PyUnicode_FromString(name);
    if (!msg) {
        Py_DECREF(det);
        return NULL;
    }
    PyObject *exc = PyObject_CallOneArg(cls, msg);
    Py_DECREF(msg);
    if (!exc) {
        Py_DECREF(det);
        return NULL;
    }
    PyObject *code = PyLong_FromLong(rc);
    if (!code || PyObject_SetAttrString(exc, "code", code) < 0 ||
        PyObject_SetAttrString(exc, "detail", det) < 0) {
        Py_XDECREF(code);
        Py_DECREF(det);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(code);
    Py_DECREF(det);
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *raise_cap(const ErrCap *e)
{
    return raise_code(e->rc, e->msg);
}

/* ---- gates: close waits for calls in flight ----------------------------- */

/* One process-wide mutex/condvar pair: closers are rare, so a broadcast that
 * wakes unrelated closers costs nothing measurable, and it keeps per-object
 * state to two words. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;

typedef struct Res Res;
typedef struct DBObject DBObject;

/* Header shared by every object that owns an engine handle. */
#define RES_HEAD                                                                                 \
    PyObject_HEAD DBObject *db; /* strong; NULL for the DB itself                */          \
    Res *owner;                 /* strong; whose `kids` list holds us            */          \
    Res *prev, *next;           /* siblings in owner->kids                       */          \
    Res *kids;                  /* dependants that must die before our handle    */          \
    atomic_int inflight;        /* calls inside the gate                         */          \
    int closing;                /* gate shut (GIL-protected)                     */          \
    atomic_int dead;            /* handle freed                                  */          \
    int busy;                   /* a single-threaded operation is running        */          \
    const char *what;           /* "database", "snapshot", ... for messages      */          \
    void (*drop)(Res *);        /* free the engine handle (GIL held)             */

struct Res {
    RES_HEAD
};

static PyObject *raise_closed(Res *r)
{
    char buf[96];
    snprintf(buf, sizeof buf, "the %s is closed", r->what);
    return raise_code(OMEN_CLOSED, buf);
}

static inline int res_enter(Res *r)
{
    if (r->closing) {
        raise_closed(r);
        return -1;
    }
    atomic_fetch_add_explicit(&r->inflight, 1, memory_order_acq_rel);
    return 0;
}

/* GIL held.  A closer checks `inflight` under gate_mu before sleeping, and we
 * broadcast under gate_mu after the decrement, so no wakeup is lost. */
static inline void res_leave(Res *r)
{
    if (atomic_fetch_sub_explicit(&r->inflight, 1, memory_order_acq_rel) == 1 && r->closing) {
        pthread_mutex_lock(&gate_mu);
        pthread_cond_broadcast(&gate_cv);
        pthread_mutex_unlock(&gate_mu);
    }
}

static void res_link(Res *owner, Res *r)
{
    Py_INCREF(owner);
    r->owner = owner;
    r->prev = NULL;
    r->next = owner->kids;
    if (owner->kids)
        owner->kids->prev = r;
    owner->kids = r;
}

static void res_unlink(Res *r)
{
    if (!r->owner)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else if (r->owner->kids == r)
        r->owner->kids = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    /* the owner reference itself is dropped by the dealloc */
}

static void res_wait(Res *r, int until_dead)
{
    Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&gate_mu);
    if (until_dead)
        while (!atomic_load(&r->dead))
            pthread_cond_wait(&gate_cv, &gate_mu);
    else
        while (atomic_load(&r->inflight) > 0)
            pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    Py_END_ALLOW_THREADS
}

/* Shut r's gate, wait for calls in flight, invalidate dependants, free the
 * handle.  GIL held.  Safe to call twice or from two threads: a second
 * caller waits until the first has finished. */
static void res_invalidate(Res *r)
{
    if (atomic_load(&r->dead))
        return;
    if (r->closing) {
        res_wait(r, 1);
        return;
    }
    r->closing = 1;
    if (atomic_load(&r->inflight) > 0)
        res_wait(r, 0);
    while (r->kids) {
        Res *k = r->kids;
        Py_INCREF(k);
        res_invalidate(k);
        res_unlink(k); /* normally done already; guarantees progress */
        Py_DECREF(k);
    }
    if (r->drop)
        r->drop(r);
    res_unlink(r);
    pthread_mutex_lock(&gate_mu);
    atomic_store(&r->dead, 1);
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* close()/release() and __exit__ of the handles whose end is nothing but
 * invalidation (DB, Snapshot; Iterator's __exit__): idempotent, and __exit__
 * never suppresses the block's exception. */
static PyObject *res_close_method(PyObject *o, PyObject *unused)
{
    (void)unused;
    res_invalidate((Res *)o);
    Py_RETURN_NONE;
}

static PyObject *res_exit_method(PyObject *o, PyObject *args)
{
    (void)args;
    res_invalidate((Res *)o);
    Py_RETURN_FALSE;
}

static void res_init(Res *r, DBObject *db, const char *what, void (*drop)(Res *))
{
    r->db = db;
    if (db)
        Py_INCREF(db);
    r->owner = NULL;
    r->prev = r->next = r->kids = NULL;
    atomic_init(&r->inflight, 0);
    r->closing = 0;
    atomic_init(&r->dead, 0);
    r->busy = 0;
    r->what = what;
    r->drop = drop;
}

/* Dealloc helper: nothing can be in flight (calls hold a reference), so the
 * handle is freed directly; the references are dropped last. */
static void res_dealloc(Res *r)
{
    if (!atomic_load(&r->dead)) {
        r->closing = 1;
        while (r->kids) /* kids hold a reference to us, so this is empty */
            res_unlink(r->kids);
        if (r->drop)
            r->drop(r);
        res_unlink(r);
        atomic_store(&r->dead, 1);
    }
    Py_CLEAR(r->owner);
    Py_CLEAR(r->db);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static int take_busy(Res *r, const char *what)
{
    if (r->busy) {
        PyErr_Format(PyExc_RuntimeError, "%s is being used by another thread", what);
        return -1;
    }
    r->busy = 1;
    return 0;
}

/* ---- argument conversion ------------------------------------------------- */

typedef struct {
    const char *p;
    Py_ssize_t n;
    int view;
    Py_buffer buf;
    unsigned char num[8]; /* int keys: p points here; never copy an Arg */
} Arg;

static void arg_release(Arg *a)
{
    if (a->view) {
        PyBuffer_Release(&a->buf);
        a->view = 0;
    }
}

static int arg_bytes(PyObject *o, Arg *a, const char *what)
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

struct DBObject {
    RES_HEAD
    omen_db *h;
    int int_keys;
    PyObject *path; /* str */
};

static int arg_key(int int_keys, PyObject *o, Arg *a)
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

static PyObject *key_to_py(int int_keys, const void *k, size_t n)
{
    if (int_keys && n == 8)
        return PyLong_FromUnsignedLongLong(omen_key_to_u64(k, n));
    return PyBytes_FromStringAndSize(k, (Py_ssize_t)n);
}

/* None -> default, truthy -> full, falsy -> relaxed. */
static int sync_from(PyObject *o, int *out)
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
static int fast_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
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

/* ---- forward declarations ------------------------------------------------ */

static PyTypeObject DBType, SnapType, TxnType, IterType, BatchType;

typedef struct {
    RES_HEAD
    omen_snapshot *s;
} SnapObject;

typedef struct {
    RES_HEAD
    omen_txn *t;
    int sync;
    int ended; /* 1 committed, 2 rolled back */
} TxnObject;

/* ---- point reads shared by DB, Snapshot and Transaction ------------------ */

enum { KIND_DB = 0, KIND_SNAP = 1, KIND_TXN = 2 };

static PyObject *txn_not_active(TxnObject *t);

/* Read key through `gate` (DB, Snapshot or Transaction).  Returns 1 and a new
 * bytes object in *out when found, 0 when absent, -1 with an exception. */
static int read_one(DBObject *db, Res *gate, int kind, PyObject *key, PyObject **out)
{
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
        txn_not_active((TxnObject *)gate);
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

static PyObject *get_impl(DBObject *db, Res *gate, int kind, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    PyObject *a[2];
    if (nargs == 1 && !kwnames) {
        a[0] = args[0];
        a[1] = NULL;
    } else if (fast_parse("get", args, nargs, kwnames, get_names, 2, 1, a) < 0) {
        return NULL;
    }
    PyObject *v;
    int r = read_one(db, gate, kind, a[0], &v);
    if (r < 0)
        return NULL;
    if (r == 0) {
        v = a[1] ? a[1] : Py_None;
        Py_INCREF(v);
    }
    return v;
}

static PyObject *subscript_impl(DBObject *db, Res *gate, int kind, PyObject *key)
{
    PyObject *v;
    int r = read_one(db, gate, kind, key, &v);
    if (r < 0)
        return NULL;
    if (r == 0) {
        PyObject *t = PyTuple_Pack(1, key);
        if (t) {
            PyErr_SetObject(PyExc_KeyError, t);
            Py_DECREF(t);
        }
        return NULL;
    }
    return v;
}

static int contains_impl(DBObject *db, Res *gate, int kind, PyObject *key)
{
    PyObject *v;
    int r = read_one(db, gate, kind, key, &v);
    if (r == 1)
        Py_DECREF(v);
    return r;
}

/* ---- bulk key collection (get_many / put_many) --------------------------- */

/* Keys or values copied into one C arena so the GIL can be released for the
 * whole bulk call without holding Python objects. */
typedef struct {
    size_t n;
    size_t *off; /* n + 1 offsets into data */
    char *data;
    size_t cap, used;
} Pack;

static void pack_free(Pack *p)
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

#define PACK_PTR(p, i) ((p)->data + (p)->off[i])
#define PACK_LEN(p, i) ((p)->off[(i) + 1] - (p)->off[i])

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
static int pack_keys(DBObject *db, PyObject *keys, Pack *p)
{
    if (!is_plain_bytes(keys) && PyObject_CheckBuffer(keys) && !PyList_Check(keys) &&
        !PyTuple_Check(keys)) {
        Py_buffer v;
        Py_ssize_t n, isz;
        if (buffer_items(keys, &v, &n, &isz) < 0)
            return -1;
        int sgn = 0, big = 0;
        if (db->int_keys && !(v.ndim == 1 && v.itemsize == 8 && int_format(v.format, &sgn, &big))) {
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
            if (db->int_keys) {
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
        if (arg_key(db->int_keys, PySequence_Fast_GET_ITEM(seq, i), &a) < 0)
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

static int pack_values(PyObject *vals, Pack *p)
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

/* get_many: lookups run GIL-free in large chunks; each chunk's values are
 * turned into bytes and freed before the next.  Chunks bound the memory held
 * in C copies; they are large because every GIL re-acquisition can wait a
 * whole switch interval behind a CPU-bound Python thread. */
#define GET_MANY_CHUNK 16384

static PyObject *get_many_impl(DBObject *db, Res *gate, int kind, PyObject *keys, PyObject *dflt)
{
    Pack p;
    if (pack_keys(db, keys, &p) < 0)
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
    if (!vals || !lens) {
        PyMem_Free(vals);
        PyMem_Free(lens);
        Py_DECREF(list);
        pack_free(&p);
        return PyErr_NoMemory();
    }
    for (size_t base = 0; base < n; base += GET_MANY_CHUNK) {
        size_t m = n - base < GET_MANY_CHUNK ? n - base : GET_MANY_CHUNK;
        if (res_enter(gate) < 0)
            goto fail;
        int bad = OMEN_OK;
        ErrCap e;
        const omen_snapshot *snap = kind == KIND_SNAP ? ((SnapObject *)gate)->s : NULL;
        size_t got = 0;
        Py_BEGIN_ALLOW_THREADS
        for (; got < m; got++) {
            size_t i = base + got;
            int rc = omen_get(db->h, snap, PACK_PTR(&p, i), PACK_LEN(&p, i), &vals[got], &lens[got]);
            if (rc == OMEN_NOTFOUND) {
                vals[got] = NULL;
            } else if (rc != OMEN_OK) {
                err_capture(&e, rc);
                bad = rc;
                break;
            }
        }
        Py_END_ALLOW_THREADS
        res_leave(gate);
        int oom = 0;
        for (size_t j = 0; j < got; j++) {
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
        if (bad != OMEN_OK) {
            raise_cap(&e);
            goto fail;
        }
        if (oom)
            goto fail;
    }
    PyMem_Free(vals);
    PyMem_Free(lens);
    pack_free(&p);
    return list;
fail:
    /* unfilled slots are NULL, which list dealloc tolerates */
    PyMem_Free(vals);
    PyMem_Free(lens);
    Py_DECREF(list);
    pack_free(&p);
    return NULL;
}

/* ---- iterators ----------------------------------------------------------- */

enum { MODE_ITEMS = 0, MODE_KEYS = 1, MODE_VALUES = 2 };

/* Entries are prefetched in chunks with the GIL released and copied into
 * `buf` as [hdr][key][value] records, 8-byte aligned. */
typedef struct {
    size_t klen, vlen;
} EntHdr;

typedef struct {
    RES_HEAD
    omen_iter *it;
    Res *excl; /* transaction whose busy flag we take while stepping, or NULL */
    int finished; /* exhausted and released: next() keeps raising StopIteration */
    int mode, reverse, int_keys;
    int positioned, done;
    Py_ssize_t remaining; /* -1: unlimited */
    unsigned char *lower, *upper;
    size_t lower_len, upper_len;
    int has_lower, has_upper;
    char *buf;
    size_t cap, used, pos;
    size_t chunk;
    ErrCap err; /* err.rc != OK: raise once the buffer is drained */
} IterObject;

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

static int keycmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
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
                if (keycmp(k, kl, o->upper, o->upper_len) >= 0)
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
        if (!o->reverse && o->has_upper && keycmp(k, kl, o->upper, o->upper_len) >= 0) {
            o->done = 1;
            return;
        }
        if (o->reverse && o->has_lower && keycmp(k, kl, o->lower, o->lower_len) < 0) {
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

static PyObject *iter_enter(PyObject *o, PyObject *unused)
{
    (void)unused;
    Py_INCREF(o);
    return o;
}

static PyMethodDef iter_methods[] = {
    {"close", (PyCFunction)iter_close, METH_NOARGS, iter_close_doc},
    {"__enter__", (PyCFunction)iter_enter, METH_NOARGS, "Return the iterator itself."},
    {"__exit__", (PyCFunction)res_exit_method, METH_VARARGS, "Close the iterator."},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(iter_doc, "Iterator over a key range of an OmenDB database, snapshot or transaction.\n\n"
                       "Created by range(), items(), keys(), values() or iter(db).  It reads a\n"
                       "consistent view (the state when it was created, or its snapshot) and\n"
                       "fetches entries in chunks with the GIL released.  It keeps its database\n"
                       "alive; closing the database (or releasing the snapshot, or ending the\n"
                       "transaction) invalidates it, after which next() raises omendb.Closed.");

static PyTypeObject IterType = {
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

/* Build an iterator over `owner` (DB, Snapshot or Transaction). */
static PyObject *make_iter(DBObject *db, Res *owner, int kind, int mode, PyObject *args, PyObject *kw)
{
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
        txn_not_active((TxnObject *)owner);
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

/* ---- snapshot ------------------------------------------------------------ */

static void snap_drop(Res *r)
{
    SnapObject *s = (SnapObject *)r;
    if (s->s) {
        omen_snapshot_release(s->db->h, s->s);
        s->s = NULL;
    }
}

static void snap_dealloc(SnapObject *s)
{
    res_dealloc((Res *)s);
}

/* The read methods shared by every readable handle (DB, Snapshot, Transaction):
 * identical but for the handle type, the test that it is still open, the
 * exception raised when it is not, and the read kind passed to the shared
 * implementations.  `live` and `dead` are expressions in `o`, the handle. */
#define READ_METHODS(pfx, Type, live, dead, dbof, kind)                                          \
    static PyObject *pfx##_get(Type *o, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)   \
    {                                                                                            \
        if (!(live))                                                                             \
            return dead;                                                                         \
        return get_impl(dbof, (Res *)o, kind, args, nargs, kw);                                  \
    }                                                                                            \
    static PyObject *pfx##_subscript(Type *o, PyObject *key)                                     \
    {                                                                                            \
        if (!(live))                                                                             \
            return dead;                                                                         \
        return subscript_impl(dbof, (Res *)o, kind, key);                                        \
    }                                                                                            \
    static int pfx##_contains(Type *o, PyObject *key)                                            \
    {                                                                                            \
        if (!(live)) {                                                                           \
            (void)(dead);                                                                        \
            return -1;                                                                           \
        }                                                                                        \
        return contains_impl(dbof, (Res *)o, kind, key);                                         \
    }                                                                                            \
    static PyObject *pfx##_range_mode(Type *o, int mode, PyObject *args, PyObject *kw)           \
    {                                                                                            \
        if (!(live))                                                                             \
            return dead;                                                                         \
        return make_iter(dbof, (Res *)o, kind, mode, args, kw);                                  \
    }                                                                                            \
    static PyObject *pfx##_range(Type *o, PyObject *args, PyObject *kw)                          \
    {                                                                                            \
        return pfx##_range_mode(o, MODE_ITEMS, args, kw);                                        \
    }                                                                                            \
    static PyObject *pfx##_keys(Type *o, PyObject *args, PyObject *kw)                           \
    {                                                                                            \
        return pfx##_range_mode(o, MODE_KEYS, args, kw);                                         \
    }                                                                                            \
    static PyObject *pfx##_values(Type *o, PyObject *args, PyObject *kw)                         \
    {                                                                                            \
        return pfx##_range_mode(o, MODE_VALUES, args, kw);                                       \
    }                                                                                            \
    static PyObject *pfx##_iter(Type *o)                                                         \
    {                                                                                            \
        return pfx##_range_mode(o, MODE_KEYS, NULL, NULL);                                       \
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

READ_METHODS(snap, SnapObject, o->s, raise_closed((Res *)o), o->db, KIND_SNAP)

PyDoc_STRVAR(snap_get_many_doc, "get_many($self, keys, /, default=None)\n--\n\n"
                                "Values of many keys as of the snapshot, as a list (default for\n"
                                "absent keys).  keys: a sequence, or a numpy uint64 array in\n"
                                "int_keys mode.  One GIL release for the whole call.");

static PyObject *snap_get_many(SnapObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"keys", "default", NULL};
    PyObject *keys, *dflt = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:get_many", kwlist, &keys, &dflt))
        return NULL;
    SNAP_OK(s);
    return get_many_impl(s->db, (Res *)s, KIND_SNAP, keys, dflt);
}

#define RANGE_DOC_BODY                                                                           \
    "start: inclusive lower bound, stop: exclusive upper bound (None: unbounded);\n"            \
    "reverse: iterate from high keys to low; limit: at most this many entries;\n"               \
    "prefix: only keys starting with these bytes (instead of start/stop).\n"                    \
    "Keys are ints in int_keys mode, otherwise bytes; values are bytes."

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
    {"get", (PyCFunction)(void (*)(void))snap_get, METH_FASTCALL | METH_KEYWORDS, snap_get_doc},
    {"get_many", (PyCFunction)(void (*)(void))snap_get_many, METH_VARARGS | METH_KEYWORDS,
     snap_get_many_doc},
    {"range", (PyCFunction)(void (*)(void))snap_range, METH_VARARGS | METH_KEYWORDS, snap_range_doc},
    {"items", (PyCFunction)(void (*)(void))snap_range, METH_VARARGS | METH_KEYWORDS,
     "items($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Same as range()."},
    {"keys", (PyCFunction)(void (*)(void))snap_keys, METH_VARARGS | METH_KEYWORDS,
     "keys($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate the keys only (values are not read)."},
    {"values", (PyCFunction)(void (*)(void))snap_values, METH_VARARGS | METH_KEYWORDS,
     "values($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate the values only."},
    {"release", (PyCFunction)res_close_method, METH_NOARGS, snap_release_doc},
    {"close", (PyCFunction)res_close_method, METH_NOARGS, "close($self, /)\n--\n\nSame as release()."},
    {"__enter__", (PyCFunction)iter_enter, METH_NOARGS, "Return the snapshot itself."},
    {"__exit__", (PyCFunction)res_exit_method, METH_VARARGS, "Release the snapshot."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef snap_getset[] = {
    {"sequence", (getter)snap_sequence, NULL, "Sequence number the snapshot sees.", NULL},
    {"released", (getter)snap_released, NULL, "True once the snapshot was released.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods snap_as_mapping = {.mp_subscript = (binaryfunc)snap_subscript};
static PySequenceMethods snap_as_sequence = {.sq_contains = (objobjproc)snap_contains};

PyDoc_STRVAR(snap_doc, "A consistent, read-only view of the database at one moment.\n\n"
                       "Created by DB.snapshot().  Reads see exactly the writes committed before\n"
                       "it.  snap[key] raises KeyError when absent; `key in snap`, get(),\n"
                       "get_many(), range()/items()/keys()/values() and iter(snap) work as on\n"
                       "the DB.  Release it with release() or a `with` block; it keeps its DB\n"
                       "alive, and closing the DB releases it.");

static PyTypeObject SnapType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.Snapshot",
    .tp_basicsize = sizeof(SnapObject),
    .tp_dealloc = (destructor)snap_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = snap_doc,
    .tp_iter = (getiterfunc)snap_iter,
    .tp_methods = snap_methods,
    .tp_getset = snap_getset,
    .tp_as_mapping = &snap_as_mapping,
    .tp_as_sequence = &snap_as_sequence,
};

/* ---- transaction --------------------------------------------------------- */

static void txn_drop(Res *r)
{
    TxnObject *t = (TxnObject *)r;
    if (t->t) {
        omen_txn_rollback(t->t);
        t->t = NULL;
        t->ended = 2;
    }
}

static void txn_dealloc(TxnObject *t)
{
    res_dealloc((Res *)t);
}

static PyObject *txn_not_active(TxnObject *t)
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
            return txn_not_active(t);                                                            \
    } while (0)

PyDoc_STRVAR(txn_get_doc, "get($self, key, default=None, /)\n--\n\n"
                          "Read key through the transaction (its own writes first, then its\n"
                          "snapshot); default if absent.  The read is validated at commit.");

READ_METHODS(txn, TxnObject, o->t, txn_not_active(o), o->db, KIND_TXN)

/* Buffered writes: memory only, so the GIL stays held. */
static int txn_write(TxnObject *t, PyObject *key, PyObject *val)
{
    if (!t->t) {
        txn_not_active(t);
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
                txn_not_active(t);
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
    while (t->kids) {
        Res *k = t->kids;
        Py_INCREF(k);
        res_invalidate(k);
        res_unlink(k);
        Py_DECREF(k);
    }
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
    {"get", (PyCFunction)(void (*)(void))txn_get, METH_FASTCALL | METH_KEYWORDS, txn_get_doc},
    {"put", (PyCFunction)(void (*)(void))txn_put, METH_FASTCALL, txn_put_doc},
    {"delete", (PyCFunction)txn_delete, METH_O, txn_delete_doc},
    {"range", (PyCFunction)(void (*)(void))txn_range, METH_VARARGS | METH_KEYWORDS, txn_range_doc},
    {"items", (PyCFunction)(void (*)(void))txn_range, METH_VARARGS | METH_KEYWORDS,
     "items($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Same as range()."},
    {"keys", (PyCFunction)(void (*)(void))txn_keys, METH_VARARGS | METH_KEYWORDS,
     "keys($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate keys through the transaction."},
    {"values", (PyCFunction)(void (*)(void))txn_values, METH_VARARGS | METH_KEYWORDS,
     "values($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate values through the transaction."},
    {"commit", (PyCFunction)(void (*)(void))txn_commit, METH_VARARGS | METH_KEYWORDS, txn_commit_doc},
    {"rollback", (PyCFunction)txn_rollback, METH_NOARGS, txn_rollback_doc},
    {"__enter__", (PyCFunction)iter_enter, METH_NOARGS, "Return the transaction itself."},
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
    .mp_subscript = (binaryfunc)txn_subscript,
    .mp_ass_subscript = (objobjargproc)txn_ass_subscript,
};
static PySequenceMethods txn_as_sequence = {.sq_contains = (objobjproc)txn_contains};

PyDoc_STRVAR(txn_doc,
             "An optimistic, serializable transaction.\n\n"
             "Created by DB.transaction().  Reads see the transaction's own writes over a\n"
             "snapshot taken at its start; writes are buffered until commit(), which\n"
             "validates every read key, written key and scanned range and raises\n"
             "omendb.Conflict if another commit changed one.  As a context manager it\n"
             "commits when the block ends normally and rolls back when it raises.\n"
             "A transaction is used by one thread at a time.");

static PyTypeObject TxnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.Transaction",
    .tp_basicsize = sizeof(TxnObject),
    .tp_dealloc = (destructor)txn_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = txn_doc,
    .tp_iter = (getiterfunc)txn_iter,
    .tp_methods = txn_methods,
    .tp_getset = txn_getset,
    .tp_as_mapping = &txn_as_mapping,
    .tp_as_sequence = &txn_as_sequence,
};

/* ---- write batch --------------------------------------------------------- */

typedef struct {
    PyObject_HEAD omen_batch *b;
    DBObject *db; /* bound DB for `with db.batch()`, or NULL */
    int int_keys;
    int sync;
    int busy; /* omen_write is reading the batch with the GIL released */
} BatchObject;

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
static PyObject *batch_apply(DBObject *db, BatchObject *b, int sync)
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
    PyObject *r = batch_apply(b->db, b, sync);
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
    PyObject *r = batch_apply(b->db, b, b->sync);
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

static BatchObject *batch_make(DBObject *db, int int_keys, int sync)
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
    return (PyObject *)batch_make(NULL, int_keys, OMEN_SYNC_DEFAULT);
}

static PyMethodDef batch_methods[] = {
    {"put", (PyCFunction)(void (*)(void))batch_put, METH_FASTCALL,
     "put($self, key, value, /)\n--\n\nAdd a put to the batch (copied now)."},
    {"delete", (PyCFunction)batch_delete, METH_O,
     "delete($self, key, /)\n--\n\nAdd a delete to the batch."},
    {"clear", (PyCFunction)batch_clear, METH_NOARGS,
     "clear($self, /)\n--\n\nDrop every operation of the batch."},
    {"write", (PyCFunction)(void (*)(void))batch_write, METH_VARARGS | METH_KEYWORDS, batch_write_doc},
    {"__enter__", (PyCFunction)iter_enter, METH_NOARGS, "Return the batch itself."},
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

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.WriteBatch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_dealloc = (destructor)batch_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = batch_doc,
    .tp_methods = batch_methods,
    .tp_as_mapping = &batch_as_mapping,
    .tp_new = batch_new,
};

/* ---- database ------------------------------------------------------------ */

static void db_drop(Res *r)
{
    DBObject *db = (DBObject *)r;
    omen_db *h = db->h;
    db->h = NULL;
    if (h) {
        Py_BEGIN_ALLOW_THREADS omen_close(h);
        Py_END_ALLOW_THREADS
    }
}

static void db_dealloc(DBObject *db)
{
    Py_CLEAR(db->path);
    res_dealloc((Res *)db);
}

#define DB_OK(db)                                                                                \
    do {                                                                                         \
        if (!(db)->h)                                                                            \
            return raise_closed((Res *)(db));                                                    \
    } while (0)

static int compression_from(PyObject *o, int *out)
{
    if (o == Py_None || o == Py_False) {
        *out = OMEN_COMPRESS_NONE;
        return 0;
    }
    if (PyUnicode_Check(o)) {
        const char *s = PyUnicode_AsUTF8(o);
        if (!s)
            return -1;
        if (!strcmp(s, "none")) {
            *out = OMEN_COMPRESS_NONE;
            return 0;
        }
        if (!strcmp(s, "lz4")) {
            *out = OMEN_COMPRESS_LZ4;
            return 0;
        }
        if (!strcmp(s, "zstd")) {
            *out = OMEN_COMPRESS_ZSTD;
            return 0;
        }
    }
    PyErr_SetString(PyExc_ValueError, "compression must be None, 'none', 'lz4' or 'zstd'");
    return -1;
}

static int size_opt(PyObject *o, size_t *out)
{
    if (o == Py_None)
        return 0;
    size_t v = PyLong_AsSize_t(o);
    if (v == (size_t)-1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

static int int_opt(PyObject *o, int *out)
{
    if (o == Py_None)
        return 0;
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "option out of range");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static PyObject *db_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path",       "create",      "error_if_exists",   "sync",
                             "compression", "write_buffer_size", "cache_size", "bloom_bits_per_key",
                             "index_epsilon", "read_only", "int_keys",  "wal_recovery", NULL};
    PyObject *pathobj = NULL, *comp = Py_None, *wbs = Py_None, *cs = Py_None, *bloom = Py_None,
             *eps = Py_None;
    int create = 1, eie = 0, sync = 0, ro = 0, ik = 0;
    const char *walrec = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$pppOOOOOppz:open", kwlist, PyUnicode_FSDecoder,
                                     &pathobj, &create, &eie, &sync, &comp, &wbs, &cs, &bloom, &eps,
                                     &ro, &ik, &walrec))
        return NULL;
    omen_options o;
    omen_options_init(&o);
    o.create_if_missing = create;
    o.error_if_exists = eie;
    o.sync = sync ? OMEN_SYNC_FULL : OMEN_SYNC_RELAXED;
    o.read_only = ro;
    /* wal_recovery: what open does with a damaged write-ahead log. */
    static const char *const walmodes[] = {"tolerate-torn-tail", "absolute", "point-in-time", "skip"};
    if (walrec) {
        o.wal_recovery = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(walrec, walmodes[i]))
                o.wal_recovery = i; /* OMEN_WAL_RECOVER_* in this order */
        if (o.wal_recovery < 0) {
            Py_DECREF(pathobj);
            PyErr_Format(PyExc_ValueError,
                         "wal_recovery must be 'tolerate-torn-tail', 'absolute', 'point-in-time' "
                         "or 'skip', not '%s'",
                         walrec);
            return NULL;
        }
    }
    if (compression_from(comp, &o.compression) < 0 || size_opt(wbs, &o.write_buffer_size) < 0 ||
        size_opt(cs, &o.cache_size) < 0 || int_opt(bloom, &o.bloom_bits_per_key) < 0 ||
        int_opt(eps, &o.index_epsilon) < 0) {
        Py_DECREF(pathobj);
        return NULL;
    }
    PyObject *pathb = PyUnicode_EncodeFSDefault(pathobj);
    if (!pathb) {
        Py_DECREF(pathobj);
        return NULL;
    }
    DBObject *db = (DBObject *)type->tp_alloc(type, 0);
    if (!db) {
        Py_DECREF(pathb);
        Py_DECREF(pathobj);
        return NULL;
    }
    res_init((Res *)db, NULL, "database", db_drop);
    db->h = NULL;
    db->int_keys = ik;
    db->path = pathobj;
    omen_db *h = NULL;
    int rc;
    ErrCap e;
    const char *p = PyBytes_AS_STRING(pathb);
    Py_BEGIN_ALLOW_THREADS rc = omen_open(p, &o, &h);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    Py_DECREF(pathb);
    if (rc != OMEN_OK) {
        atomic_store(&db->dead, 1);
        Py_DECREF(db);
        return raise_cap(&e);
    }
    db->h = h;
    return (PyObject *)db;
}

PyDoc_STRVAR(db_get_doc, "get($self, key, default=None, /)\n--\n\n"
                         "Return the value of key (bytes), or default if it is absent.\n"
                         "key: bytes, str (UTF-8) or any bytes-like object; an int in\n"
                         "int_keys mode.  The GIL is released during the lookup.");

READ_METHODS(db, DBObject, o->h, raise_closed((Res *)o), o, KIND_DB)

/* Single put/delete with the GIL released. */
static int db_write1(DBObject *db, PyObject *key, PyObject *val, int sync)
{
    if (!db->h) {
        raise_closed((Res *)db);
        return -1;
    }
    Arg k, v;
    if (arg_key(db->int_keys, key, &k) < 0)
        return -1;
    if (val && arg_bytes(val, &v, "value") < 0) {
        arg_release(&k);
        return -1;
    }
    int rc = -1;
    ErrCap e;
    if (res_enter((Res *)db) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = val ? omen_put(db->h, k.p, (size_t)k.n, v.p, (size_t)v.n, sync)
                 : omen_delete(db->h, k.p, (size_t)k.n, sync);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        Py_END_ALLOW_THREADS
        res_leave((Res *)db);
        if (rc != OMEN_OK)
            raise_cap(&e);
    }
    arg_release(&k);
    if (val)
        arg_release(&v);
    return rc == OMEN_OK ? 0 : -1;
}

static int db_ass_subscript(DBObject *db, PyObject *key, PyObject *val)
{
    return db_write1(db, key, val, OMEN_SYNC_DEFAULT);
}

static const char *const put_names[] = {"key", "value", "sync"};
static const char *const del_names[] = {"key", "sync"};

PyDoc_STRVAR(db_put_doc, "put($self, key, value, /, sync=None)\n--\n\n"
                         "Insert or overwrite key.  value: bytes, str (stored as UTF-8) or any\n"
                         "bytes-like object.  sync: None uses the database's default, True waits\n"
                         "for fdatasync, False returns once the write is in the OS.");

static PyObject *db_put(DBObject *db, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)
{
    PyObject *a[3];
    int sync = OMEN_SYNC_DEFAULT;
    if (nargs == 2 && !kw) {
        a[0] = args[0];
        a[1] = args[1];
    } else if (fast_parse("put", args, nargs, kw, put_names, 3, 2, a) < 0 || sync_from(a[2], &sync) < 0) {
        return NULL;
    }
    if (db_write1(db, a[0], a[1], sync) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(db_delete_doc, "delete($self, key, /, sync=None)\n--\n\n"
                            "Delete key.  Deleting an absent key is not an error (del db[key]\n"
                            "behaves the same way and does not raise KeyError).");

static PyObject *db_delete(DBObject *db, PyObject *const *args, Py_ssize_t nargs, PyObject *kw)
{
    PyObject *a[2];
    int sync = OMEN_SYNC_DEFAULT;
    if (fast_parse("delete", args, nargs, kw, del_names, 2, 1, a) < 0 || sync_from(a[1], &sync) < 0)
        return NULL;
    if (db_write1(db, a[0], NULL, sync) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(db_get_many_doc,
             "get_many($self, keys, /, default=None)\n--\n\n"
             "Values of many keys as a list, default for absent ones.  keys: a\n"
             "sequence of keys, or in int_keys mode a 1-D array of 8-byte integers\n"
             "(numpy uint64), or in bytes mode an array whose rows are fixed-width\n"
             "keys.  All lookups run in one GIL release, so there is no per-key Python\n"
             "call overhead.");

static PyObject *db_get_many(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"keys", "default", NULL};
    PyObject *keys, *dflt = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:get_many", kwlist, &keys, &dflt))
        return NULL;
    DB_OK(db);
    return get_many_impl(db, (Res *)db, KIND_DB, keys, dflt);
}

PyDoc_STRVAR(db_put_many_doc,
             "put_many($self, keys, values, /, sync=None)\n--\n\n"
             "Write many pairs as one atomic batch.  keys as for get_many(); values: a\n"
             "sequence of bytes/str, or an array whose rows (first axis) are the\n"
             "values, e.g. a numpy array of shape (n, 100) and dtype uint8, or of\n"
             "dtype 'S100'.  Conversion happens once, the write with the GIL released.");

static PyObject *db_put_many(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"keys", "values", "sync", NULL};
    PyObject *keys, *vals, *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:put_many", kwlist, &keys, &vals, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    DB_OK(db);
    Pack pk, pv;
    if (pack_keys(db, keys, &pk) < 0)
        return NULL;
    if (pack_values(vals, &pv) < 0) {
        pack_free(&pk);
        return NULL;
    }
    if (pk.n != pv.n) {
        PyErr_Format(PyExc_ValueError, "put_many: %zu keys but %zu values", pk.n, pv.n);
        pack_free(&pk);
        pack_free(&pv);
        return NULL;
    }
    omen_batch *b = NULL;
    int rc = omen_batch_create(&b);
    ErrCap e;
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    if (rc == OMEN_OK && res_enter((Res *)db) == 0) {
        Py_BEGIN_ALLOW_THREADS
        for (size_t i = 0; i < pk.n && rc == OMEN_OK; i++) {
            rc = omen_batch_put(b, PACK_PTR(&pk, i), PACK_LEN(&pk, i), PACK_PTR(&pv, i),
                                PACK_LEN(&pv, i));
            if (rc != OMEN_OK)
                err_capture(&e, rc);
        }
        if (rc == OMEN_OK) {
            rc = omen_write(db->h, b, sync);
            if (rc != OMEN_OK)
                err_capture(&e, rc);
        }
        Py_END_ALLOW_THREADS
        res_leave((Res *)db);
    } else if (rc == OMEN_OK) {
        rc = -1; /* Closed already raised */
    }
    omen_batch_destroy(b);
    pack_free(&pk);
    pack_free(&pv);
    if (rc > 0)
        return raise_cap(&e);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(db_range_doc,
             "range($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
             "Iterate (key, value) pairs in key order over a consistent view taken now.\n" RANGE_DOC_BODY);

PyDoc_STRVAR(db_count_doc,
             "count($self, /, start=None, stop=None)\n--\n\n"
             "Number of keys in [start, stop).  Cost: a full scan of the range (O(n),\n"
             "GIL released, nothing copied to Python).  len(db) is count().");

static Py_ssize_t count_range(DBObject *db, PyObject *start, PyObject *stop)
{
    if (!db->h) {
        raise_closed((Res *)db);
        return -1;
    }
    PyObject *args = PyTuple_Pack(2, start, stop);
    if (!args)
        return -1;
    IterObject *o = (IterObject *)make_iter(db, (Res *)db, KIND_DB, MODE_KEYS, args, NULL);
    Py_DECREF(args);
    if (!o)
        return -1;
    Py_ssize_t n = 0;
    int st = OMEN_OK;
    ErrCap e;
    if (res_enter((Res *)o) < 0) {
        Py_DECREF(o);
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    omen_iter *it = o->it;
    if (o->has_lower)
        omen_iter_seek(it, o->lower, o->lower_len);
    else
        omen_iter_seek_first(it);
    for (; omen_iter_valid(it); omen_iter_next(it)) {
        if (o->has_upper) {
            size_t kl;
            const void *k = omen_iter_key(it, &kl);
            if (keycmp(k, kl, o->upper, o->upper_len) >= 0)
                break;
        }
        n++;
    }
    st = omen_iter_status(it);
    if (st != OMEN_OK)
        err_capture(&e, st);
    Py_END_ALLOW_THREADS
    res_leave((Res *)o);
    res_invalidate((Res *)o);
    Py_DECREF(o);
    if (st != OMEN_OK) {
        raise_cap(&e);
        return -1;
    }
    return n;
}

static PyObject *db_count(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"start", "stop", NULL};
    PyObject *start = Py_None, *stop = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:count", kwlist, &start, &stop))
        return NULL;
    Py_ssize_t n = count_range(db, start, stop);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static Py_ssize_t db_len(DBObject *db)
{
    return count_range(db, Py_None, Py_None);
}

PyDoc_STRVAR(db_batch_doc, "batch($self, /, sync=None)\n--\n\n"
                           "Return a WriteBatch bound to this database.  Use it as\n"
                           "`with db.batch() as b:`; it is applied atomically when the block\n"
                           "ends normally and discarded if the block raises.");

static PyObject *db_batch(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sync", NULL};
    PyObject *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:batch", kwlist, &so) || sync_from(so, &sync) < 0)
        return NULL;
    DB_OK(db);
    return (PyObject *)batch_make(db, db->int_keys, sync);
}

PyDoc_STRVAR(db_write_doc, "write($self, batch, /, sync=None)\n--\n\n"
                           "Apply a WriteBatch atomically (the batch is left unchanged).");

static PyObject *db_write(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"batch", "sync", NULL};
    PyObject *bo, *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|O:write", kwlist, &BatchType, &bo, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    DB_OK(db);
    return batch_apply(db, (BatchObject *)bo, sync);
}

/* Give a fresh Snapshot (kind KIND_SNAP) or Transaction (KIND_TXN) object its
 * engine handle, created inside db's gate with the GIL released, and link it
 * to db so closing db invalidates it.  Consumes the reference to child: it is
 * returned on success, dropped on failure (with the error raised). */
static PyObject *child_open(DBObject *db, Res *child, int kind)
{
    if (res_enter((Res *)db) < 0) {
        Py_DECREF(child);
        return NULL;
    }
    omen_snapshot *sh = NULL;
    omen_txn *th = NULL;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS
    rc = kind == KIND_SNAP ? omen_snapshot_create(db->h, &sh) : omen_txn_begin(db->h, &th);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    if (rc == OMEN_OK) {
        if (kind == KIND_SNAP)
            ((SnapObject *)child)->s = sh;
        else
            ((TxnObject *)child)->t = th;
        res_link((Res *)db, child);
    }
    res_leave((Res *)db);
    if (rc != OMEN_OK) {
        Py_DECREF(child);
        return raise_cap(&e);
    }
    return (PyObject *)child;
}

PyDoc_STRVAR(db_snapshot_doc, "snapshot($self, /)\n--\n\n"
                              "Pin the current state and return it as a Snapshot (a context\n"
                              "manager; release() frees it).");

static PyObject *db_snapshot(DBObject *db, PyObject *unused)
{
    (void)unused;
    DB_OK(db);
    SnapObject *s = PyObject_New(SnapObject, &SnapType);
    if (!s)
        return NULL;
    res_init((Res *)s, db, "snapshot", snap_drop);
    s->s = NULL;
    return child_open(db, (Res *)s, KIND_SNAP);
}

PyDoc_STRVAR(db_transaction_doc,
             "transaction($self, /, sync=None)\n--\n\n"
             "Begin an optimistic serializable Transaction reading at a snapshot taken\n"
             "now.  As a context manager it commits at the end of the block (raising\n"
             "omendb.Conflict if it lost a conflict) and rolls back if the block raises.");

static PyObject *db_transaction(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sync", NULL};
    PyObject *so = Py_None;
    int sync;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:transaction", kwlist, &so) ||
        sync_from(so, &sync) < 0)
        return NULL;
    DB_OK(db);
    TxnObject *t = PyObject_New(TxnObject, &TxnType);
    if (!t)
        return NULL;
    res_init((Res *)t, db, "transaction", txn_drop);
    t->t = NULL;
    t->sync = sync;
    t->ended = 0;
    return child_open(db, (Res *)t, KIND_TXN);
}

/* Run a no-argument engine maintenance call inside the gate, GIL released. */
static PyObject *db_simple(DBObject *db, int (*fn)(omen_db *))
{
    DB_OK(db);
    if (res_enter((Res *)db) < 0)
        return NULL;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS rc = fn(db->h);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)db);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(db_flush_doc, "flush($self, /)\n--\n\n"
                           "Write the in-memory table to a sorted run and wait for it.");

static PyObject *db_flush(DBObject *db, PyObject *unused)
{
    (void)unused;
    return db_simple(db, omen_flush);
}

PyDoc_STRVAR(db_compact_doc, "compact($self, /, start=None, stop=None)\n--\n\n"
                             "Compact every run overlapping [start, stop] (None: unbounded) into\n"
                             "the bottom level and wait for it.");

static PyObject *db_compact(DBObject *db, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"start", "stop", NULL};
    PyObject *start = Py_None, *stop = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:compact", kwlist, &start, &stop))
        return NULL;
    DB_OK(db);
    Arg a, b;
    int ha = start != Py_None, hb = stop != Py_None;
    if (ha && arg_key(db->int_keys, start, &a) < 0)
        return NULL;
    if (hb && arg_key(db->int_keys, stop, &b) < 0) {
        if (ha)
            arg_release(&a);
        return NULL;
    }
    int rc = -1;
    ErrCap e;
    if (res_enter((Res *)db) == 0) {
        Py_BEGIN_ALLOW_THREADS rc = omen_compact_range(db->h, ha ? a.p : NULL, ha ? (size_t)a.n : 0,
                                                       hb ? b.p : NULL, hb ? (size_t)b.n : 0);
        if (rc != OMEN_OK)
            err_capture(&e, rc);
        Py_END_ALLOW_THREADS
        res_leave((Res *)db);
        if (rc != OMEN_OK)
            raise_cap(&e);
    }
    if (ha)
        arg_release(&a);
    if (hb)
        arg_release(&b);
    if (rc != OMEN_OK)
        return NULL;
    Py_RETURN_NONE;
}

static int dict_u64(PyObject *d, const char *k, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    if (!o)
        return -1;
    int r = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return r;
}

static int dict_list(PyObject *d, const char *k, const uint64_t *v, int n)
{
    PyObject *l = PyList_New(n);
    if (!l)
        return -1;
    for (int i = 0; i < n; i++) {
        PyObject *o = PyLong_FromUnsignedLongLong(v[i]);
        if (!o) {
            Py_DECREF(l);
            return -1;
        }
        PyList_SET_ITEM(l, i, o);
    }
    int r = PyDict_SetItemString(d, k, l);
    Py_DECREF(l);
    return r;
}

PyDoc_STRVAR(db_stats_doc,
             "stats($self, /)\n--\n\n"
             "Engine statistics as a dict: sequence, runs_per_level and\n"
             "entries_per_level (lists, one item per level), run_entries,\n"
             "memtable_entries, memtable_bytes, file_bytes, index_bytes, filter_bytes,\n"
             "wal_bytes, cache_hits, cache_misses, flushes, compactions,\n"
             "compaction_bytes_written, write_stalls_us, read_only (bool),\n"
             "fatal_error (the message of the error that made the handle read-only,\n"
             "or None), wal_records_skipped and wal_bytes_skipped (left behind by\n"
             "the wal_recovery mode at open).");

static PyObject *db_stats(DBObject *db, PyObject *unused)
{
    (void)unused;
    DB_OK(db);
    omen_stats s;
    memset(&s, 0, sizeof s);
    if (res_enter((Res *)db) < 0)
        return NULL;
    int rc;
    ErrCap e;
    Py_BEGIN_ALLOW_THREADS rc = omen_get_stats(db->h, &s);
    if (rc != OMEN_OK)
        err_capture(&e, rc);
    Py_END_ALLOW_THREADS
    res_leave((Res *)db);
    if (rc != OMEN_OK)
        return raise_cap(&e);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (dict_u64(d, "sequence", s.sequence) < 0 ||
        dict_list(d, "runs_per_level", s.runs_per_level, OMEN_MAX_LEVELS) < 0 ||
        dict_list(d, "entries_per_level", s.entries_per_level, OMEN_MAX_LEVELS) < 0 ||
        dict_u64(d, "run_entries", s.run_entries) < 0 ||
        dict_u64(d, "memtable_entries", s.memtable_entries) < 0 ||
        dict_u64(d, "memtable_bytes", s.memtable_bytes) < 0 ||
        dict_u64(d, "file_bytes", s.file_bytes) < 0 || dict_u64(d, "index_bytes", s.index_bytes) < 0 ||
        dict_u64(d, "filter_bytes", s.filter_bytes) < 0 || dict_u64(d, "wal_bytes", s.wal_bytes) < 0 ||
        dict_u64(d, "cache_hits", s.cache_hits) < 0 || dict_u64(d, "cache_misses", s.cache_misses) < 0 ||
        dict_u64(d, "flushes", s.flushes) < 0 || dict_u64(d, "compactions", s.compactions) < 0 ||
        dict_u64(d, "compaction_bytes_written", s.compaction_bytes_written) < 0 ||
        dict_u64(d, "write_stalls_us", s.write_stalls_us) < 0 ||
        PyDict_SetItemString(d, "read_only", s.read_only ? Py_True : Py_False) < 0 ||
        dict_u64(d, "wal_records_skipped", s.wal_records_skipped) < 0 ||
        dict_u64(d, "wal_bytes_skipped", s.wal_bytes_skipped) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    /* The first fatal error's message (None if there was none). */
    const char *fatal = NULL;
    PyObject *fo = Py_None;
    Py_INCREF(fo);
    if (omen_fatal_error(db->h, &fatal) != OMEN_OK && fatal) {
        Py_DECREF(fo);
        fo = PyUnicode_DecodeUTF8(fatal, (Py_ssize_t)strlen(fatal), "replace");
    }
    if (!fo || PyDict_SetItemString(d, "fatal_error", fo) < 0) {
        Py_XDECREF(fo);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(fo);
    return d;
}

PyDoc_STRVAR(db_close_doc,
             "close($self, /)\n--\n\n"
             "Close the database.  Waits for calls running in other threads, then\n"
             "invalidates its iterators, snapshots and open transactions (rolled back)\n"
             "and releases the directory lock.  Idempotent; any later call raises\n"
             "omendb.Closed.  Writes already acknowledged are recovered by the next open.");

static PyObject *db_closed(DBObject *db, void *unused)
{
    (void)unused;
    return PyBool_FromLong(db->h == NULL);
}

static PyObject *db_path(DBObject *db, void *unused)
{
    (void)unused;
    Py_INCREF(db->path);
    return db->path;
}

static PyObject *db_int_keys(DBObject *db, void *unused)
{
    (void)unused;
    return PyBool_FromLong(db->int_keys);
}

static PyObject *db_repr(DBObject *db)
{
    return PyUnicode_FromFormat("<omendb.DB %R%s%s>", db->path, db->int_keys ? " int_keys" : "",
                                db->h ? "" : " closed");
}

static PyMethodDef db_methods[] = {
    {"get", (PyCFunction)(void (*)(void))db_get, METH_FASTCALL | METH_KEYWORDS, db_get_doc},
    {"put", (PyCFunction)(void (*)(void))db_put, METH_FASTCALL | METH_KEYWORDS, db_put_doc},
    {"delete", (PyCFunction)(void (*)(void))db_delete, METH_FASTCALL | METH_KEYWORDS, db_delete_doc},
    {"get_many", (PyCFunction)(void (*)(void))db_get_many, METH_VARARGS | METH_KEYWORDS,
     db_get_many_doc},
    {"put_many", (PyCFunction)(void (*)(void))db_put_many, METH_VARARGS | METH_KEYWORDS,
     db_put_many_doc},
    {"range", (PyCFunction)(void (*)(void))db_range, METH_VARARGS | METH_KEYWORDS, db_range_doc},
    {"items", (PyCFunction)(void (*)(void))db_range, METH_VARARGS | METH_KEYWORDS,
     "items($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Same as range()."},
    {"keys", (PyCFunction)(void (*)(void))db_keys, METH_VARARGS | METH_KEYWORDS,
     "keys($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate keys only (values are not read).  iter(db) is keys()."},
    {"values", (PyCFunction)(void (*)(void))db_values, METH_VARARGS | METH_KEYWORDS,
     "values($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
     "Iterate values only."},
    {"count", (PyCFunction)(void (*)(void))db_count, METH_VARARGS | METH_KEYWORDS, db_count_doc},
    {"batch", (PyCFunction)(void (*)(void))db_batch, METH_VARARGS | METH_KEYWORDS, db_batch_doc},
    {"write", (PyCFunction)(void (*)(void))db_write, METH_VARARGS | METH_KEYWORDS, db_write_doc},
    {"snapshot", (PyCFunction)db_snapshot, METH_NOARGS, db_snapshot_doc},
    {"transaction", (PyCFunction)(void (*)(void))db_transaction, METH_VARARGS | METH_KEYWORDS,
     db_transaction_doc},
    {"flush", (PyCFunction)db_flush, METH_NOARGS, db_flush_doc},
    {"compact", (PyCFunction)(void (*)(void))db_compact, METH_VARARGS | METH_KEYWORDS, db_compact_doc},
    {"stats", (PyCFunction)db_stats, METH_NOARGS, db_stats_doc},
    {"close", (PyCFunction)res_close_method, METH_NOARGS, db_close_doc},
    {"__enter__", (PyCFunction)iter_enter, METH_NOARGS, "Return the database itself."},
    {"__exit__", (PyCFunction)res_exit_method, METH_VARARGS, "Close the database."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef db_getset[] = {
    {"closed", (getter)db_closed, NULL, "True once close() was called.", NULL},
    {"path", (getter)db_path, NULL, "The database directory (str).", NULL},
    {"int_keys", (getter)db_int_keys, NULL, "True if keys are Python ints (big-endian u64).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods db_as_mapping = {
    .mp_length = (lenfunc)db_len,
    .mp_subscript = (binaryfunc)db_subscript,
    .mp_ass_subscript = (objobjargproc)db_ass_subscript,
};
static PySequenceMethods db_as_sequence = {.sq_contains = (objobjproc)db_contains};

#define OPEN_SIG                                                                                   \
    "(path, *, create=True, error_if_exists=False, sync=False, compression=None,\n"              \
    "     write_buffer_size=None, cache_size=None, bloom_bits_per_key=None,\n"                    \
    "     index_epsilon=None, read_only=False, int_keys=False, wal_recovery=None)\n--\n\n"

#define OPEN_BODY                                                                                  \
    "Open (or create) the OmenDB database in directory `path` (str, bytes or\n"                    \
    "os.PathLike).\n\n"                                                                            \
    "create: create it if absent (else omendb.NotFoundError).\n"                                 \
    "error_if_exists: raise omendb.Exists if it already exists.\n"                               \
    "sync: default durability of writes; True = fdatasync before a write returns,\n"             \
    "      False = the write is in the OS (survives a process crash).\n"                         \
    "compression: None/'none', 'lz4' or 'zstd' for new sorted runs.\n"                            \
    "write_buffer_size, cache_size: bytes (None: engine defaults, 64 MiB each).\n"              \
    "bloom_bits_per_key: filter bits per key (0 disables; None: 10).\n"                          \
    "index_epsilon: learned-index error bound (None: engine default).\n"                          \
    "read_only: open without writing anything.\n"                                                 \
    "wal_recovery: what open does with a damaged write-ahead log: 'tolerate-torn-tail'\n"         \
    "(default: refuse corruption), 'absolute', 'point-in-time' or 'skip' (docs/design.md).\n"     \
    "int_keys: keys are Python ints in 0..2**64-1, stored big-endian so that the\n"              \
    "      order is numeric; iteration yields ints.  (Not stored in the database:\n"             \
    "      pass it on every open.)\n\n"                                                           \
    "Raises omendb.Locked if another process has it open, omendb.NotADatabase if\n"              \
    "the directory holds something else, omendb.Corruption, omendb.DiskError...\n"               \
    "The DB is a context manager (closed on exit) and a mapping: db[key],\n"                     \
    "db[key] = value, del db[key], key in db, len(db), iter(db)."

PyDoc_STRVAR(db_doc, "DB" OPEN_SIG "An open OmenDB database.  Create with omendb.open().\n\n" OPEN_BODY);

static PyTypeObject DBType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omendb.DB",
    .tp_basicsize = sizeof(DBObject),
    .tp_dealloc = (destructor)db_dealloc,
    .tp_repr = (reprfunc)db_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = db_doc,
    .tp_iter = (getiterfunc)db_iter,
    .tp_methods = db_methods,
    .tp_getset = db_getset,
    .tp_as_mapping = &db_as_mapping,
    .tp_as_sequence = &db_as_sequence,
    .tp_new = db_new,
};

/* ---- module functions ---------------------------------------------------- */

PyDoc_STRVAR(mod_open_doc, "open" OPEN_SIG OPEN_BODY);

static PyObject *mod_open(PyObject *m, PyObject *args, PyObject *kw)
{
    (void)m;
    return db_new(&DBType, args, kw);
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
    {"open", (PyCFunction)(void (*)(void))mod_open, METH_VARARGS | METH_KEYWORDS, mod_open_doc},
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

static PyObject *new_exc(PyObject *m, const char *name, PyObject *base1, PyObject *base2,
                         const char *doc)
{
    char full[64];
    snprintf(full, sizeof full, "omendb.%s", name);
    PyObject *bases = base2 ? PyTuple_Pack(2, base1, base2) : PyTuple_Pack(1, base1);
    if (!bases)
        return NULL;
    PyObject *e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (!e)
        return NULL;
    Py_INCREF(e);
    if (PyModule_AddObject(m, name, e) < 0) {
        Py_DECREF(e);
        Py_DECREF(e);
        return NULL;
    }
    return e;
}

PyMODINIT_FUNC PyInit__omendb(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    if (PyType_Ready(&DBType) < 0 || PyType_Ready(&SnapType) < 0 || PyType_Ready(&TxnType) < 0 ||
        PyType_Ready(&IterType) < 0 || PyType_Ready(&BatchType) < 0)
        goto fail;
    struct {
        const char *name;
        PyTypeObject *t;
    } types[] = {{"DB", &DBType},
                 {"Snapshot", &SnapType},
                 {"Transaction", &TxnType},
                 {"Iterator", &IterType},
                 {"WriteBatch", &BatchType}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        Py_INCREF(types[i].t);
        if (PyModule_AddObject(m, types[i].name, (PyObject *)types[i].t) < 0) {
            Py_DECREF(types[i].t);
            goto fail;
        }
    }
    Error = new_exc(m, "Error", PyExc_Exception, NULL,
                    "Base class of every OmenDB error.  .code is the engine's OMEN_* code,\n"
                    ".detail the engine's detailed message.");
    if (!Error)
        goto fail;
    if (!(NotFoundError = new_exc(m, "NotFoundError", Error, PyExc_FileNotFoundError,
                                  "The database does not exist and create=False.")) ||
        !(InvalidArgument = new_exc(m, "InvalidArgument", Error, PyExc_ValueError,
                                    "The engine rejected an argument or option.")) ||
        !(TooBig = new_exc(m, "TooBig", InvalidArgument, NULL,
                           "A key (16 KiB) or value (256 MiB) exceeds the engine's limits.")) ||
        !(Corruption = new_exc(m, "Corruption", Error, NULL,
                               "A checksum, magic number or structure check failed.")) ||
        !(DiskError = new_exc(m, "DiskError", Error, PyExc_OSError,
                              "The operating system reported an I/O failure.")) ||
        !(OutOfMemory = new_exc(m, "OutOfMemory", Error, PyExc_MemoryError,
                                "The engine could not allocate memory.")) ||
        !(Locked = new_exc(m, "Locked", Error, NULL, "Another process has the database open.")) ||
        !(Exists = new_exc(m, "Exists", Error, PyExc_FileExistsError,
                           "error_if_exists=True and the database exists.")) ||
        !(NotADatabase = new_exc(m, "NotADatabase", Error, NULL,
                                 "The directory holds something that is not an OmenDB database.")) ||
        !(Closed = new_exc(m, "Closed", Error, NULL,
                           "The database, snapshot, transaction or iterator is closed.")) ||
        !(ReadOnly = new_exc(m, "ReadOnly", Error, NULL,
                             "The handle turned read-only after a fatal I/O error, or was\n"
                             "opened with read_only=True.")) ||
        !(Conflict = new_exc(m, "Conflict", Error, NULL,
                             "An optimistic transaction lost a conflict; retry it.")) ||
        !(VersionError = new_exc(m, "VersionError", Error, NULL,
                                 "Files written by an unsupported format version.")) ||
        !(Busy = new_exc(m, "Busy", Error, NULL, "The resource is in use (e.g. destroy of an open database).")))
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
