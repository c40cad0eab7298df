/*
 * errors.c -- the exception classes of omendb and the mapping from engine
 * codes to them.  Every exception carries .code (the OMEN_* code) and
 * .detail (the engine's message, copied right after the failing call).
 */
#include <stdio.h>
#include <string.h>

#include "omendb_py.h"

static PyObject *Error, *NotFoundError, *InvalidArgument, *Corruption, *DiskError, *OutOfMemory,
    *Locked, *Exists, *NotADatabase, *Closed, *ReadOnly, *Conflict, *TooBig, *VersionError, *Busy;

/* Copy the engine's thread-local message now, before another call of this
 * thread overwrites it.  Safe without the GIL. */
void err_capture(ErrCap *e, int rc)
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
PyObject *raise_code(int rc, const char *detail)
{
    PyObject *cls = exc_class(rc);
    const char *name = omen_strerror(rc);
    PyObject *det = PyUnicode_DecodeUTF8(detail ? detail : "", detail ? (Py_ssize_t)strlen(detail) : 0,
                                         "replace");
    if (!det)
        return NULL;
    /* The message is "<code name>: <detail>", unless the detail already
     * starts with the name (the engine's conflict messages do). */
    size_t nl = strlen(name);
    int named = detail && strncmp(detail, name, nl) == 0 && detail[nl] == ':';
    PyObject *msg = named                     ? (Py_INCREF(det), det)
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

PyObject *raise_cap(const ErrCap *e)
{
    return raise_code(e->rc, e->msg);
}

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

int errors_init(PyObject *m)
{
    Error = new_exc(m, "Error", PyExc_Exception, NULL,
                    "Base class of every OmenDB error.  .code is the engine's OMEN_* code,\n"
                    ".detail the engine's detailed message.");
    if (!Error)
        return -1;
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
        return -1;
    return 0;
}
