/*
 * gate.c -- the gate of every object that owns an engine handle (DB,
 * Snapshot, Transaction, Iterator): calls enter and leave it, close() shuts
 * it, waits until no call is inside, invalidates the dependants and frees
 * the handle.  See omendb_py.h for the invariants.
 *
 * One process-wide mutex/condvar pair serves every gate: closers are rare,
 * so a broadcast that wakes unrelated closers costs nothing measurable, and
 * it keeps per-object state to two words.
 */
#include <stdio.h>

#include "omendb_py.h"

pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;

PyObject *raise_closed(Res *r)
{
    char buf[96];
    snprintf(buf, sizeof buf, "the %s is closed", r->what);
    return raise_code(OMEN_CLOSED, buf);
}

void res_link(Res *owner, Res *r)
{
    Py_INCREF(owner);
    r->owner = owner;
    r->prev = NULL;
    r->next = owner->kids;
    if (owner->kids)
        owner->kids->prev = r;
    owner->kids = r;
}

void res_unlink(Res *r)
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
void res_invalidate(Res *r)
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
    res_invalidate_kids(r);
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
PyObject *res_close_method(PyObject *o, PyObject *unused)
{
    (void)unused;
    res_invalidate((Res *)o);
    Py_RETURN_NONE;
}

PyObject *res_exit_method(PyObject *o, PyObject *args)
{
    (void)args;
    res_invalidate((Res *)o);
    Py_RETURN_FALSE;
}

void res_init(Res *r, DBObject *db, const char *what, void (*drop)(Res *))
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
void res_dealloc(Res *r)
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

int take_busy(Res *r, const char *what)
{
    if (r->busy) {
        PyErr_Format(PyExc_RuntimeError, "%s is being used by another thread", what);
        return -1;
    }
    r->busy = 1;
    return 0;
}

void res_invalidate_kids(Res *r)
{
    while (r->kids) {
        Res *k = r->kids;
        Py_INCREF(k);
        res_invalidate(k);
        res_unlink(k); /* normally done already; guarantees progress */
        Py_DECREF(k);
    }
}

PyObject *return_self(PyObject *o, PyObject *unused)
{
    (void)unused;
    Py_INCREF(o);
    return o;
}
