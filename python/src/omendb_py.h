/*
 * omendb_py.h -- what the files of the CPython extension `omendb._omendb`
 * share: the object layouts, the gate every handle-owning object has, the
 * argument converters and the reader context.  The extension is a thin C
 * layer over libomendb's public API (include/omendb.h only).
 *
 * Files, in dependency order (each uses only those above it):
 *   errors.c       exception classes, engine code -> exception
 *   gate.c         gates: close() waits for calls in flight (Res)
 *   convert.c      Python arguments -> C (keys, values, options, key arrays)
 *   iterator.c     omendb.Iterator and its construction over any reader
 *   reader.c       the read methods DB, Snapshot and Transaction share
 *   snapshot.c     omendb.Snapshot
 *   transaction.c  omendb.Transaction
 *   batch.c        omendb.WriteBatch
 *   vconvert.c     vector-set arguments and numpy results (ids, vectors,
 *                  attributes, search options)
 *   vset.c         omendb.VectorSet
 *   vsetdb.c       DB.vector_set/vector_sets/drop_vector_set and the vector
 *                  writes of WriteBatch and Transaction
 *   db.c           omendb.DB
 *   module.c       module functions and PyInit__omendb
 *
 * Invariants every file keeps:
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
 *    call, so it is copied right after the failing call (ErrCap).
 */
#ifndef OMENDB_PY_H
#define OMENDB_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "omendb.h"

/* ---- errors.c ------------------------------------------------------------ */

typedef struct {
    int rc;
    char msg[512];
} ErrCap;

/* Copy the engine's thread-local message now.  Safe without the GIL. */
void err_capture(ErrCap *e, int rc);
/* Raise the exception for engine code rc with the engine's detail text
 * (.code and .detail set on it).  Return NULL. */
PyObject *raise_code(int rc, const char *detail);
PyObject *raise_cap(const ErrCap *e);
/* Create the exception classes and add them to module m.  0 or -1. */
int errors_init(PyObject *m);

/* ---- gate.c -------------------------------------------------------------- */

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

/* One process-wide mutex/condvar pair for every gate (gate.c says why). */
extern pthread_mutex_t gate_mu;
extern pthread_cond_t gate_cv;

/* Raise omendb.Closed naming r; returns NULL. */
PyObject *raise_closed(Res *r);

/* Enter r's gate (GIL held): 0, or -1 with Closed raised. */
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

void res_init(Res *r, DBObject *db, const char *what, void (*drop)(Res *));
/* Make r a dependant of owner (takes a reference to owner). */
void res_link(Res *owner, Res *r);
void res_unlink(Res *r);
/* Shut r's gate, wait for calls in flight, invalidate dependants, free the
 * handle.  GIL held; idempotent. */
void res_invalidate(Res *r);
/* Invalidate every dependant of r (its iterators), leaving r open. */
void res_invalidate_kids(Res *r);
void res_dealloc(Res *r);
/* Set r->busy or raise RuntimeError naming `what`: 0 or -1. */
int take_busy(Res *r, const char *what);
/* Methods: close()/release(), __exit__ (never suppresses), __enter__. */
PyObject *res_close_method(PyObject *o, PyObject *unused);
PyObject *res_exit_method(PyObject *o, PyObject *args);
PyObject *return_self(PyObject *o, PyObject *unused);

/* ---- object layouts ------------------------------------------------------ */

struct DBObject {
    RES_HEAD
    omen_db *h;
    int int_keys;
    PyObject *path; /* str */
};

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

typedef struct {
    PyObject_HEAD omen_batch *b;
    DBObject *db; /* bound DB for `with db.batch()`, or NULL */
    int int_keys;
    int sync;
    int busy; /* omen_write is reading the batch with the GIL released */
} BatchObject;

typedef struct {
    RES_HEAD
    omen_vset *vs;
    uint32_t dim;
    int metric, precision;
    int id_mode;    /* how ids come back: bytes, str or int (vset.c) */
    PyObject *name; /* str */
} VSetObject;

extern PyTypeObject DBType, SnapType, TxnType, IterType, BatchType, VSetType;

/* ---- convert.c ----------------------------------------------------------- */

/* A key or value argument pinned for the duration of a call. */
typedef struct {
    const char *p;
    Py_ssize_t n;
    int view;
    Py_buffer buf;
    unsigned char num[8]; /* int keys: p points here; never copy an Arg */
} Arg;

int arg_bytes(PyObject *o, Arg *a, const char *what);
int arg_key(int int_keys, PyObject *o, Arg *a);
void arg_release(Arg *a);
PyObject *key_to_py(int int_keys, const void *k, size_t n);
/* None -> OMEN_SYNC_DEFAULT, truthy -> FULL, falsy -> RELAXED. */
int sync_from(PyObject *o, int *out);
/* Minimal METH_FASTCALL|METH_KEYWORDS parser: the first nreq names are
 * required positionals, the rest positional or keyword; out[] entries not
 * given stay NULL. */
int fast_parse(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               const char *const *names, int nnames, int nreq, PyObject **out);
int key_order(const void *a, size_t al, const void *b, size_t bl);

/* Keys or values copied into one C arena so the GIL can be released for a
 * whole bulk call without holding Python objects. */
typedef struct {
    size_t n;
    size_t *off; /* n + 1 offsets into data */
    char *data;
    size_t cap, used;
} Pack;

#define PACK_PTR(p, i) ((p)->data + (p)->off[i])
#define PACK_LEN(p, i) ((p)->off[(i) + 1] - (p)->off[i])

/* A sequence of keys, or (int_keys) a buffer of 8-byte ints, or (bytes
 * keys) an array whose rows are fixed-width keys. */
int pack_keys(int int_keys, PyObject *keys, Pack *p);
/* A sequence of bytes-likes, or an array whose rows are the values. */
int pack_values(PyObject *vals, Pack *p);
void pack_free(Pack *p);

/* ---- iterator.c ---------------------------------------------------------- */

enum { MODE_ITEMS = 0, MODE_KEYS = 1, MODE_VALUES = 2 };

typedef struct {
    RES_HEAD
    omen_iter *it;
    Res *excl;    /* transaction whose busy flag we take while stepping, or NULL */
    int finished; /* exhausted and released: next() keeps raising StopIteration */
    int mode, reverse, int_keys;
    int positioned, done;
    Py_ssize_t remaining; /* -1: unlimited */
    unsigned char *lower, *upper;
    size_t lower_len, upper_len;
    int has_lower, has_upper;
    char *buf; /* prefetched entries, see iterator.c */
    size_t cap, used, pos;
    size_t chunk;
    ErrCap err; /* err.rc != OK: raise once the buffer is drained */
} IterObject;

/* ---- reader.c ------------------------------------------------------------ */

/* What a read goes through: the DB itself, a snapshot of it, or a
 * transaction on it.  Filled by reader_of, which also checks that the
 * handle is still usable; the engine handle itself is read only inside the
 * gate (converting arguments may run Python code that ends it). */
enum { KIND_DB = 0, KIND_SNAP = 1, KIND_TXN = 2 };
typedef struct {
    DBObject *db;
    Res *gate;
    int kind;
} Reader;

/* 0, or -1 with the "closed"/"not active" exception raised. */
int reader_of(PyObject *o, Reader *r);

/* New iterator over r (mode MODE_*), parsing range()'s arguments (args may
 * be NULL: the whole range). */
PyObject *make_iter(const Reader *r, int mode, PyObject *args, PyObject *kw);

/* The shared methods; each type's method table points at these. */
PyObject *reader_get(PyObject *o, PyObject *const *args, Py_ssize_t nargs, PyObject *kw);
PyObject *reader_get_many(PyObject *o, PyObject *args, PyObject *kw);
PyObject *reader_range(PyObject *o, PyObject *args, PyObject *kw);
PyObject *reader_keys(PyObject *o, PyObject *args, PyObject *kw);
PyObject *reader_values(PyObject *o, PyObject *args, PyObject *kw);
PyObject *reader_iter(PyObject *o);
PyObject *reader_subscript(PyObject *o, PyObject *key);
int reader_contains(PyObject *o, PyObject *key);

#define RANGE_SIG "($self, /, start=None, stop=None, reverse=False, limit=None, prefix=None)\n--\n\n"
#define RANGE_DOC_BODY                                                                           \
    "start: inclusive lower bound, stop: exclusive upper bound (None: unbounded);\n"            \
    "reverse: iterate from high keys to low; limit: at most this many entries;\n"               \
    "prefix: only keys starting with these bytes (instead of start/stop).\n"                    \
    "Keys are ints in int_keys mode, otherwise bytes; values are bytes."

/* ---- snapshot.c, transaction.c, batch.c, db.c ----------------------------- */

/* New objects without an engine handle yet (db.c's child_open gives it). */
SnapObject *pysnap_alloc(DBObject *db);
TxnObject *pytxn_alloc(DBObject *db, int sync);

/* Raise Closed saying how the transaction ended; returns NULL. */
PyObject *pytxn_not_active(TxnObject *t);
BatchObject *pybatch_make(DBObject *db, int int_keys, int sync);
/* Apply b to db atomically (GIL released during the write). */
PyObject *pybatch_apply(DBObject *db, BatchObject *b, int sync);
PyObject *pydb_new(PyTypeObject *type, PyObject *args, PyObject *kw);

/* ---- vconvert.c, vset.c, vsetdb.c (vector sets) ----------------------------- */

enum { ID_BYTES = 0, ID_STR = 1, ID_INT = 2 }; /* VSetObject.id_mode */

/* Vectors pinned for a call: rows * dim float32 at p (a view of the
 * caller's C-contiguous float32 buffer, or of the converted copy tmp). */
typedef struct {
    const float *p;
    Py_ssize_t rows;
    Py_buffer view;
    int has_view;
    PyObject *tmp;
} VecArg;

extern PyObject *json_loads; /* json.loads once json_ready() succeeded */
PyObject *numpy_module(void);  /* borrowed; NULL with ImportError raised */
int json_ready(void);
/* numpy.empty(shape, dtype) and a writable view of it (release the view). */
PyObject *new_array(int ndim, const Py_ssize_t *shape, const char *dtype, Py_buffer *view);
int id_arg(int mode, PyObject *o, Arg *a);
PyObject *id_to_py(int mode, const void *p, size_t n);
/* One vector (two_d = 0: shape (dim,)) or rows of them (shape (n, dim)). */
int vec_arg(PyObject *o, uint32_t dim, int two_d, VecArg *va, const char *what);
void vec_release(VecArg *va);
/* None -> *p = NULL; dict -> json.dumps; str/bytes as JSON text.  *keep owns *p. */
int attrs_arg(PyObject *o, PyObject **keep, const char **p, Py_ssize_t *n);
int name_arg(PyObject *o, PyObject **bytes_out);
const char *metric_name(int m);
const char *prec_name(int p);
extern const char *const metric_names[], *const prec_names[];
extern const int metric_vals[], prec_vals[];
int choice_arg(PyObject *o, const char *what, const char *const *names, const int *vals, int n,
               int *out);
int u32_arg(PyObject *o, const char *what, uint32_t lo, uint32_t hi, uint32_t *out);
int query_args(PyObject *ko, PyObject *efo, PyObject *fo, PyObject *exo, omen_vset_query *q,
               PyObject **fkeep);
int ids_mode_arg(PyObject *o, int int_keys, int *out);

/* vset.c: closes the engine handle (the Res drop of a VectorSet). */
void pyvset_drop_handle(Res *r);

/* vsetdb.c: the method tables of DB, WriteBatch and Transaction point here. */
PyObject *pyvset_open(DBObject *db, PyObject *args, PyObject *kw);
PyObject *pyvset_list(DBObject *db, PyObject *unused);
PyObject *pyvset_drop(DBObject *db, PyObject *name);
PyObject *pyvset_batch_vadd(BatchObject *b, PyObject *args, PyObject *kw);
PyObject *pyvset_batch_vdelete(BatchObject *b, PyObject *args);
PyObject *pyvset_txn_vadd(TxnObject *t, PyObject *args, PyObject *kw);
PyObject *pyvset_txn_vdelete(TxnObject *t, PyObject *args);
extern const char pyvset_open_doc[], pyvset_list_doc[], pyvset_drop_doc[];
#define VSET_DB_METHODS                                                                          \
    {"vector_set", (PyCFunction)(void (*)(void))pyvset_open, METH_VARARGS | METH_KEYWORDS,      \
     pyvset_open_doc},                                                                           \
        {"vector_sets", (PyCFunction)pyvset_list, METH_NOARGS, pyvset_list_doc},                 \
        {"drop_vector_set", (PyCFunction)pyvset_drop, METH_O, pyvset_drop_doc},
#define VSET_WRITE_DOC                                                                           \
    "vadd($self, vset, id, vector, /, attrs=None)\n--\n\n"                                      \
    "Record an add of element id to VectorSet vset (as VectorSet.add); it\n"                    \
    "commits atomically with the other writes here, and the graph follows once\n"               \
    "the commit succeeds."
#define VSET_DEL_DOC                                                                             \
    "vdelete($self, vset, id, /)\n--\n\n"                                                       \
    "Record a delete of element id from VectorSet vset (absent ids are fine)."
extern const char pydb_open_doc[];

#endif /* OMENDB_PY_H */
