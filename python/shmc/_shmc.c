/* _shmc.c — the native core of the shmc Python package: the type shmc._shmc.Client, a
 * CPython extension over include/shmc.h only.
 *
 * Every memcached command is a C method that turns its arguments into a key and a value
 * exactly as pymemcache's Client does (check_key_helper, serde, encoding), calls libshmc
 * and maps the result to pymemcache's return values and exceptions.  The pure-Python
 * parts (the constructor's signature, stats(), the context manager) are in __init__.py.
 *
 * A value is read into a stack buffer and copied into a bytes object; a larger one is read
 * straight into a bytes object of the right size.  Copies over GIL_RELEASE_BYTES run
 * without the GIL; small calls keep it (releasing costs more than the call).  A handle that
 * close() retires while such a call runs is closed by the last call that leaves it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <shmc.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030A0000 /* Py_NewRef came with 3.10 */
static inline PyObject *Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#endif

#define GIL_RELEASE_BYTES (64 * 1024)
#define STACK_VALUE 8192

/* pymemcache's exception classes (or shmc's own of the same names), from shmc.exceptions */
static PyObject *exc_client, *exc_illegal, *exc_server, *exc_shmc;

typedef enum { OP_SET, OP_ADD, OP_REPLACE, OP_APPEND, OP_PREPEND, OP_CAS } store_op;

/* One shmc_open(); shared by the calls in flight on it, closed by the last to leave. */
typedef struct handle {
    shmc_t *cache;
    long busy;
    bool retired;
} handle;

typedef struct {
    PyObject_HEAD
    handle *h;
    PyObject *name;      /* bytes (file system encoding) */
    shmc_config cfg;
    PyObject *serde;     /* None: pymemcache's default (bytes as is, else str(value)) */
    PyObject *serialize, *deserialize; /* serde's bound methods, or NULL */
    PyObject *key_prefix; /* bytes */
    PyObject *encoding;  /* str */
    bool encoding_ascii; /* encoding is ascii: str values of ASCII text need no codec call */
    char allow_unicode_keys, default_noreply, ignore_exc;
    PyObject *weakrefs;
} Client;

/* A key after pymemcache's check_key: prefix + encoded key, validated. */
typedef struct {
    char b[SHMC_KEY_MAX];
    size_t n;
} key_t_;

/* ---- errors ---- */

static void set_error_bytes(PyObject *type, const char *msg)
{
    PyObject *arg = PyBytes_FromString(msg);
    if (arg) {
        PyErr_SetObject(type, arg);
        Py_DECREF(arg);
    }
}

/* An error of libshmc outside memcached's vocabulary: the library's own text. */
static void set_shmc_error(shmc_rc rc, const char *what)
{
    /* with libshmc's detail, only the head of the code's text (up to a ':'): the detail
     * says the rest, and the two would repeat each other */
    const char *detail = shmc_last_error(), *text = shmc_strerror(rc);
    const char *colon = *detail ? strchr(text, ':') : NULL;
    char head[128];
    snprintf(head, sizeof head, "%.*s", colon ? (int)(colon - text) : (int)strlen(text), text);
    PyObject *msg = PyUnicode_FromFormat("%s: %s%s%s", what, head, *detail ? ": " : "", detail);
    if (!msg) return;
    PyObject *e = PyObject_CallFunction(exc_shmc, "Oi", msg, (int)rc);
    Py_DECREF(msg);
    if (e) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
}

/* What memcached answers (as pymemcache raises it) for a result that is an error. */
static void set_rc_error(shmc_rc rc)
{
    switch (rc) {
    case SHMC_TOO_LARGE: set_error_bytes(exc_server, "object too large for cache"); break;
    case SHMC_NO_MEMORY: set_error_bytes(exc_server, "out of memory storing object"); break;
    case SHMC_NOT_NUMERIC:
        set_error_bytes(exc_client, "cannot increment or decrement non-numeric value");
        break;
    case SHMC_BAD_KEY: PyErr_SetString(exc_illegal, "Key is not valid for memcached"); break;
    default: set_shmc_error(rc, "libshmc"); break;
    }
}

/* ---- handles ---- */

static handle *client_handle(Client *self)
{
    handle *h = self->h;
    if (h) {
        h->busy++;
        return h;
    }
    if (!self->name) {
        PyErr_SetString(exc_shmc,
                        "this Client was not opened (its __init__ failed or did not run)");
        return NULL;
    }
    h = PyMem_RawCalloc(1, sizeof *h);
    if (!h) {
        PyErr_NoMemory();
        return NULL;
    }
    shmc_rc rc;
    PyObject *owner = Py_NewRef(self->name); /* __init__ in another thread may replace it */
    const char *name = PyBytes_AS_STRING(owner);
    shmc_config cfg = self->cfg;
    Py_BEGIN_ALLOW_THREADS
    rc = shmc_open(&h->cache, name, &cfg);
    Py_END_ALLOW_THREADS
    if (rc == SHMC_OK && self->h) { /* another thread opened it while we were in shmc_open */
        Py_DECREF(owner);
        shmc_close(h->cache);
        PyMem_RawFree(h);
        self->h->busy++;
        return self->h;
    }
    if (rc != SHMC_OK) {
        PyMem_RawFree(h);
        PyObject *msg = PyUnicode_FromFormat("cannot open cache %s", name);
        Py_DECREF(owner);
        if (msg) {
            set_shmc_error(rc, PyUnicode_AsUTF8(msg));
            Py_DECREF(msg);
        }
        return NULL;
    }
    Py_DECREF(owner);
    self->h = h;
    h->busy = 1;
    return h;
}

static void handle_leave(handle *h)
{
    if (--h->busy == 0 && h->retired) {
        shmc_close(h->cache);
        PyMem_RawFree(h);
    }
}

static void client_detach(Client *self)
{
    handle *h = self->h;
    if (!h) return;
    self->h = NULL;
    h->retired = true;
    h->busy++;
    handle_leave(h);
}

/* ---- arguments ---- */

/* Positional-or-keyword arguments of a fastcall method into out[0..n) (borrowed; NULL when
 * not given); the first nreq are required. */
static int parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames, const char *const *names, int n, int nreq,
                      PyObject **out)
{
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional arguments (%zd given)",
                     fname, n, nargs);
        return -1;
    }
    for (int i = 0; i < n; i++) out[i] = i < nargs ? args[i] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t j = 0; j < nkw; j++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, j);
        int i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(kw, names[i]) != 0) i++;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname,
                         kw);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                         names[i]);
            return -1;
        }
        out[i] = args[nargs + j];
    }
    for (int i = 0; i < nreq; i++)
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname, names[i]);
            return -1;
        }
    return 0;
}

/* pymemcache's check_key_helper: str keys as ASCII (UTF-8 with allow_unicode_keys), bytes
 * as given, the prefix in front; too long, whitespace (bytes.split()'s: space, TAB, LF, VT,
 * FF, CR; a key made only of it passes, as in pymemcache) and NUL raise
 * MemcacheIllegalInputError with pymemcache's messages.  Any other key goes to libshmc, which
 * takes any bytes; only an empty one it refuses (MemcacheIllegalInputError at the command). */
static int make_key(Client *self, PyObject *key, key_t_ *k)
{
    const char *p;
    Py_ssize_t n;
    if (PyUnicode_CheckExact(key) && PyUnicode_IS_ASCII(key)) {
        p = (const char *)PyUnicode_DATA(key);
        n = PyUnicode_GET_LENGTH(key);
    } else if (PyBytes_Check(key)) {
        p = PyBytes_AS_STRING(key);
        n = PyBytes_GET_SIZE(key);
    } else if (PyUnicode_Check(key)) {
        if (!self->allow_unicode_keys) {
            if (PyUnicode_IS_ASCII(key)) {
                p = (const char *)PyUnicode_DATA(key);
                n = PyUnicode_GET_LENGTH(key);
            } else {
                PyErr_Format(exc_illegal, "Non-ASCII key: %R", key);
                return -1;
            }
        } else {
            p = PyUnicode_AsUTF8AndSize(key, &n);
            if (!p) return -1;
        }
    } else {
        PyErr_Format(PyExc_TypeError, "can't concat %.100s to bytes", Py_TYPE(key)->tp_name);
        return -1;
    }
    size_t np = (size_t)PyBytes_GET_SIZE(self->key_prefix);
    size_t total = np + (size_t)n;
    const char *why = NULL;
    if (total > SHMC_KEY_MAX) {
        why = "Key is too long: %R";
    } else {
        memcpy(k->b, PyBytes_AS_STRING(self->key_prefix), np);
        memcpy(k->b + np, p, (size_t)n);
        k->n = total;
        bool space = false, other = false, nul = false;
        for (size_t i = 0; i < total; i++) {
            unsigned char c = (unsigned char)k->b[i];
            if (c == ' ' || (c >= '\t' && c <= '\r')) space = true;
            else other = true, nul |= c == 0;
        }
        if (space && other) why = "Key contains whitespace: %R"; /* split() finds a part */
        else if (nul) why = "Key contains null: %R";
        else return 0;
    }
    PyObject *full = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (!full) return -1;
    memcpy(PyBytes_AS_STRING(full), PyBytes_AS_STRING(self->key_prefix), np);
    memcpy(PyBytes_AS_STRING(full) + np, p, (size_t)n);
    PyErr_Format(exc_illegal, why, full);
    Py_DECREF(full);
    return -1;
}

/* pymemcache's _check_integer: an int, else MemcacheIllegalInputError. */
static int check_integer(PyObject *v, const char *name)
{
    if (PyLong_Check(v)) return 0;
    PyErr_Format(exc_illegal, "%s must be integer, got bad value: %R", name, v);
    return -1;
}

/* expire as memcached parses it (a 32-bit signed number, else a client error). */
static int get_expire(PyObject *v, int64_t *out)
{
    if (!v) {
        *out = 0;
        return 0;
    }
    if (check_integer(v, "expire")) return -1;
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || x < INT32_MIN || x > INT32_MAX) {
        set_error_bytes(exc_client, "bad command line format");
        return -1;
    }
    *out = x;
    return 0;
}

/* Whether a noreply call returns as if it succeeded on this result: the outcomes a memcached
 * server reports in its reply, which pymemcache does not read under noreply.  A failure of
 * the cache itself (removed, damaged, a system call) raises, as pymemcache raises when the
 * server is gone, noreply or not. */
static int noreply_absorbs(int rc)
{
    switch (rc) {
    case SHMC_OK: case SHMC_NOT_FOUND: case SHMC_NOT_STORED: case SHMC_EXISTS:
    case SHMC_TOO_LARGE: case SHMC_NO_MEMORY: case SHMC_NOT_NUMERIC:
        return 1;
    default:
        return 0;
    }
}

/* noreply None means the client's default_noreply. */
static int get_noreply(Client *self, PyObject *v, int dflt_from_client, int dflt)
{
    if (!v || v == Py_None) return dflt_from_client ? self->default_noreply : dflt;
    return PyObject_IsTrue(v);
}

/* A value to store: the bytes and the object that owns them. */
typedef struct {
    PyObject *owner;
    const char *p;
    Py_ssize_t n;
    uint32_t flags;
} data_t;

static int flags_from(PyObject *f, uint32_t *out)
{
    if (PyLong_Check(f)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(f, &overflow);
        if (x == -1 && PyErr_Occurred()) return -1;
        if (!overflow && x >= 0 && x <= UINT32_MAX) {
            *out = (uint32_t)x;
            return 0;
        }
    }
    set_error_bytes(exc_client, "bad command line format");
    return -1;
}

/* pymemcache's _store_cmd for one value: serde.serialize(key, value) (or the default: the
 * value as is), flags from the serde unless given, a non-bytes result as str(data) in the
 * client's encoding. */
static int make_data(Client *self, const key_t_ *k, PyObject *value, PyObject *flags,
                     data_t *d)
{
    PyObject *data;
    PyObject *sflags = NULL;
    if (self->serialize) {
        PyObject *kb = PyBytes_FromStringAndSize(k->b, (Py_ssize_t)k->n);
        if (!kb) return -1;
        PyObject *r = PyObject_CallFunctionObjArgs(self->serialize, kb, value, NULL);
        Py_DECREF(kb);
        if (!r) return -1;
        if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) {
            Py_DECREF(r);
            PyErr_SetString(PyExc_TypeError, "serde.serialize() must return (bytes, flags)");
            return -1;
        }
        data = PyTuple_GET_ITEM(r, 0);
        sflags = PyTuple_GET_ITEM(r, 1);
        Py_INCREF(data);
        Py_INCREF(sflags);
        Py_DECREF(r);
    } else {
        data = value;
        Py_INCREF(data);
    }
    d->flags = 0;
    PyObject *f = flags && flags != Py_None ? flags : sflags;
    if (f && flags_from(f, &d->flags)) goto fail;
    Py_CLEAR(sflags);
    if (PyBytes_CheckExact(data)) {
        d->owner = data;
        d->p = PyBytes_AS_STRING(data);
        d->n = PyBytes_GET_SIZE(data);
        return 0;
    }
    if (PyUnicode_CheckExact(data) && PyUnicode_IS_ASCII(data) && self->encoding_ascii) {
        d->owner = data;
        d->p = (const char *)PyUnicode_DATA(data);
        d->n = PyUnicode_GET_LENGTH(data);
        return 0;
    }
    if (PyBytes_Check(data)) {
        d->owner = data;
        d->p = PyBytes_AS_STRING(data);
        d->n = PyBytes_GET_SIZE(data);
        return 0;
    }
    PyObject *s = PyObject_Str(data);
    Py_DECREF(data);
    data = NULL;
    if (!s) return -1;
    PyObject *b = PyUnicode_AsEncodedString(s, PyUnicode_AsUTF8(self->encoding), "strict");
    Py_DECREF(s);
    if (!b) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
#if PY_VERSION_HEX >= 0x030C0000 /* PyErr_Fetch is deprecated from 3.12 */
            PyObject *val = PyErr_GetRaisedException();
#else
            PyObject *type, *val, *tb;
            PyErr_Fetch(&type, &val, &tb);
            PyErr_NormalizeException(&type, &val, &tb);
            Py_XDECREF(type);
            Py_XDECREF(tb);
#endif
            PyErr_Format(exc_illegal, "Data values must be binary-safe: %S", val);
            Py_XDECREF(val);
        }
        return -1;
    }
    if (!PyBytes_Check(b)) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_TypeError, "encoding did not produce bytes");
        return -1;
    }
    d->owner = b;
    d->p = PyBytes_AS_STRING(b);
    d->n = PyBytes_GET_SIZE(b);
    return 0;
fail:
    Py_XDECREF(data);
    Py_XDECREF(sflags);
    return -1;
}

/* ---- reads ---- */

/* Read one key (with exptime: get-and-touch).  1 found (*value a new bytes object),
 * 0 not found, -1 error. */
static int fetch(Client *self, const key_t_ *k, const int64_t *exptime, PyObject **value,
                 uint32_t *flags, uint64_t *cas)
{
    handle *h = client_handle(self);
    if (!h) return -1;
    char stack[STACK_VALUE];
    size_t n;
    shmc_rc rc = exptime
                     ? shmc_gat(h->cache, k->b, k->n, *exptime, stack, sizeof stack, &n, flags, cas)
                     : shmc_get(h->cache, k->b, k->n, stack, sizeof stack, &n, flags, cas);
    if (rc == SHMC_OK) {
        handle_leave(h);
        *value = PyBytes_FromStringAndSize(stack, (Py_ssize_t)n);
        return *value ? 1 : -1;
    }
    PyObject *b = NULL;
    while (rc == SHMC_BUFFER_TOO_SMALL) {
        Py_XDECREF(b);
        size_t cap = n;
        b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
        if (!b) break;
        char *buf = PyBytes_AS_STRING(b);
        if (cap > GIL_RELEASE_BYTES) {
            Py_BEGIN_ALLOW_THREADS
            rc = exptime ? shmc_gat(h->cache, k->b, k->n, *exptime, buf, cap, &n, flags, cas)
                         : shmc_get(h->cache, k->b, k->n, buf, cap, &n, flags, cas);
            Py_END_ALLOW_THREADS
        } else {
            rc = exptime ? shmc_gat(h->cache, k->b, k->n, *exptime, buf, cap, &n, flags, cas)
                         : shmc_get(h->cache, k->b, k->n, buf, cap, &n, flags, cas);
        }
        if (rc == SHMC_OK && n < cap) _PyBytes_Resize(&b, (Py_ssize_t)n);
    }
    handle_leave(h);
    if (!b && rc == SHMC_BUFFER_TOO_SMALL) return -1; /* PyBytes allocation failed */
    if (rc == SHMC_OK) {
        *value = b;
        return b ? 1 : -1;
    }
    Py_XDECREF(b);
    if (rc == SHMC_NOT_FOUND) return 0;
    set_rc_error(rc);
    return -1;
}

/* serde.deserialize(key, value, flags), or the value itself.  Steals value. */
static PyObject *deserialize(Client *self, PyObject *key, PyObject *value, uint32_t flags)
{
    if (!self->deserialize) return value;
    PyObject *f = PyLong_FromUnsignedLong(flags);
    PyObject *r = f ? PyObject_CallFunctionObjArgs(self->deserialize, key, value, f, NULL) : NULL;
    Py_XDECREF(f);
    Py_DECREF(value);
    return r;
}

static PyObject *cas_bytes(uint64_t cas)
{
    char s[24];
    int n = snprintf(s, sizeof s, "%llu", (unsigned long long)cas);
    return PyBytes_FromStringAndSize(s, n);
}

/* ignore_exc: read errors (not bad keys) count as misses, as in pymemcache. */
static bool ignored(Client *self)
{
    if (!self->ignore_exc || !PyErr_ExceptionMatches(PyExc_Exception)) return false;
    PyErr_Clear();
    return true;
}

/* get/gets/gat/gats of one key: a value, (value, cas), or the defaults. */
static PyObject *fetch_one(Client *self, PyObject *key, const int64_t *exptime, bool with_cas,
                           PyObject *dflt, PyObject *cas_dflt)
{
    key_t_ k;
    if (make_key(self, key, &k)) return NULL;
    PyObject *value = NULL;
    uint32_t flags = 0;
    uint64_t cas = 0;
    int found = fetch(self, &k, exptime, &value, &flags, with_cas ? &cas : NULL);
    if (found > 0) {
        value = deserialize(self, key, value, flags);
        if (!value) found = -1;
    }
    if (found < 0) {
        if (!ignored(self)) return NULL;
        found = 0;
    }
    if (!found) {
        if (!with_cas) return Py_NewRef(dflt ? dflt : Py_None);
        return PyTuple_Pack(2, dflt ? dflt : Py_None, cas_dflt ? cas_dflt : Py_None);
    }
    if (!with_cas) return value;
    PyObject *c = cas_bytes(cas);
    if (!c) {
        Py_DECREF(value);
        return NULL;
    }
    PyObject *t = PyTuple_Pack(2, value, c);
    Py_DECREF(value);
    Py_DECREF(c);
    return t;
}

static PyObject *Client_get(Client *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    /* the common call get(key): no parsing */
    if (nargs == 1 && !kwnames) return fetch_one(self, args[0], NULL, false, NULL, NULL);
    static const char *const names[] = {"key", "default"};
    PyObject *a[2];
    if (parse_args("get", args, nargs, kwnames, names, 2, 1, a)) return NULL;
    return fetch_one(self, a[0], NULL, false, a[1], NULL);
}

static PyObject *Client_gets(Client *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"key", "default", "cas_default"};
    PyObject *a[3];
    if (parse_args("gets", args, nargs, kwnames, names, 3, 1, a)) return NULL;
    return fetch_one(self, a[0], NULL, true, a[1], a[2]);
}

static PyObject *Client_gat(Client *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    static const char *const names[] = {"key", "expire", "default"};
    PyObject *a[3];
    int64_t expire;
    if (parse_args("gat", args, nargs, kwnames, names, 3, 1, a)) return NULL;
    key_t_ k;
    if (make_key(self, a[0], &k) || get_expire(a[1], &expire)) return NULL;
    return fetch_one(self, a[0], &expire, false, a[2], NULL);
}

static PyObject *Client_gats(Client *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"key", "expire", "default", "cas_default"};
    PyObject *a[4];
    int64_t expire;
    if (parse_args("gats", args, nargs, kwnames, names, 4, 1, a)) return NULL;
    key_t_ k;
    if (make_key(self, a[0], &k) || get_expire(a[1], &expire)) return NULL;
    return fetch_one(self, a[0], &expire, true, a[2], a[3]);
}

/* Multi-get: the callback runs once per key found, in the order of the keys; it only
 * makes the bytes objects (no Python code runs inside shmc_mget). */
typedef struct {
    const key_t_ *keys;
    Py_ssize_t n, next, nfound;
    Py_ssize_t *index;   /* per found value: which key */
    PyObject **value;    /* new bytes objects */
    uint32_t *flags;
    uint64_t *cas;
    bool failed;
} mget_ctx;

static void mget_cb(void *arg, const char *key, size_t nkey, const void *value, size_t nvalue,
                    uint32_t flags, uint64_t cas)
{
    mget_ctx *m = arg;
    if (m->failed || m->nfound == m->n) return;
    Py_ssize_t i = m->next;
    while (i < m->n && (m->keys[i].n != nkey || memcmp(m->keys[i].b, key, nkey))) i++;
    if (i == m->n) return;
    m->next = i + 1;
    PyObject *v = PyBytes_FromStringAndSize(value, (Py_ssize_t)nvalue);
    if (!v) {
        m->failed = true;
        return;
    }
    Py_ssize_t j = m->nfound++;
    m->index[j] = i;
    m->value[j] = v;
    m->flags[j] = flags;
    m->cas[j] = cas;
}

/* Keys that spell the same cache key ('k' and b'k', or two with a prefix): pymemcache maps
 * the replies back through a dict, so every one of them reports under the last such key.
 * *alias (NULL when there are none) maps each index to that last index. */
static int find_aliases(const key_t_ *k, Py_ssize_t n, Py_ssize_t **alias)
{
    size_t size = 16;
    while (size < 2 * (size_t)n) size *= 2;
    Py_ssize_t *slot = PyMem_Malloc(size * sizeof *slot);
    if (!slot) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t j = 0; j < size; j++) slot[j] = -1;
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        uint64_t hash = 14695981039346656037ull; /* FNV-1a */
        for (size_t b = 0; b < k[i].n; b++)
            hash = (hash ^ (unsigned char)k[i].b[b]) * 1099511628211ull;
        size_t j = (size_t)hash & (size - 1);
        while (slot[j] >= 0 && (k[slot[j]].n != k[i].n || memcmp(k[slot[j]].b, k[i].b, k[i].n)))
            j = (j + 1) & (size - 1);
        if (slot[j] < 0) {
            slot[j] = i;
            continue;
        }
        if (!*alias) {
            *alias = PyMem_Malloc((size_t)n * sizeof **alias);
            if (!*alias) {
                PyMem_Free(slot);
                PyErr_NoMemory();
                return -1;
            }
            for (Py_ssize_t x = 0; x < n; x++) (*alias)[x] = x;
        }
        (*alias)[i] = (*alias)[slot[j]];
    }
    PyMem_Free(slot);
    return 0;
}

static PyObject *fetch_many(Client *self, PyObject *keys, bool with_cas)
{
    int truth = PyObject_IsTrue(keys);
    if (truth <= 0) return truth < 0 ? NULL : PyDict_New();
    PyObject *seq = PySequence_Fast(keys, "keys must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *result = NULL;
    Py_ssize_t *alias = NULL;
    /* one block: keys, their pointers and lengths, and the results */
    size_t per = sizeof(key_t_) + sizeof(char *) + sizeof(size_t) + sizeof(Py_ssize_t) +
                 sizeof(PyObject *) + sizeof(uint64_t) + sizeof(uint32_t);
    char *block = PyMem_Malloc((size_t)n * per);
    if (!block) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    key_t_ *k = (key_t_ *)block;
    const char **kp = (const char **)(k + n);
    size_t *kn = (size_t *)(kp + n);
    mget_ctx m = {.keys = k, .n = n};
    m.index = (Py_ssize_t *)(kn + n);
    m.value = (PyObject **)(m.index + n);
    m.cas = (uint64_t *)(m.value + n);
    m.flags = (uint32_t *)(m.cas + n);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (make_key(self, items[i], &k[i])) goto out;
        kp[i] = k[i].b;
        kn[i] = k[i].n;
    }
    if (find_aliases(k, n, &alias)) goto out;
    handle *h = client_handle(self);
    if (!h) goto read_error;
    shmc_rc rc = shmc_mget(h->cache, kp, kn, (size_t)n, mget_cb, &m);
    handle_leave(h);
    if (m.failed) goto read_error;
    if (rc != SHMC_OK) {
        set_rc_error(rc);
        goto read_error;
    }
    result = PyDict_New();
    if (!result) goto out;
    for (Py_ssize_t j = 0; j < m.nfound; j++) {
        Py_ssize_t i = m.index[j];
        PyObject *key = items[alias ? alias[i] : i];
        PyObject *v = m.value[j];
        m.value[j] = NULL;
        v = deserialize(self, key, v, m.flags[j]);
        if (!v) goto read_error;
        if (with_cas) {
            PyObject *c = cas_bytes(m.cas[j]);
            PyObject *pair = c ? PyTuple_Pack(2, v, c) : NULL;
            Py_XDECREF(c);
            Py_DECREF(v);
            if (!pair) goto read_error;
            v = pair;
        }
        int err = PyDict_SetItem(result, key, v);
        Py_DECREF(v);
        if (err) goto read_error;
    }
    goto out;
read_error:
    Py_CLEAR(result);
    if (ignored(self)) result = PyDict_New();
out:
    for (Py_ssize_t j = 0; j < m.nfound; j++) Py_XDECREF(m.value[j]);
    PyMem_Free(block);
    PyMem_Free(alias);
    Py_DECREF(seq);
    return result;
}

static PyObject *Client_get_many(Client *self, PyObject *keys)
{
    return fetch_many(self, keys, false);
}

static PyObject *Client_gets_many(Client *self, PyObject *keys)
{
    return fetch_many(self, keys, true);
}

/* ---- writes ---- */

static shmc_rc store_call(shmc_t *c, store_op op, const key_t_ *k, const data_t *d,
                          int64_t exptime, uint64_t cas)
{
    switch (op) {
    case OP_SET: return shmc_set(c, k->b, k->n, d->p, (size_t)d->n, d->flags, exptime);
    case OP_ADD: return shmc_add(c, k->b, k->n, d->p, (size_t)d->n, d->flags, exptime);
    case OP_REPLACE: return shmc_replace(c, k->b, k->n, d->p, (size_t)d->n, d->flags, exptime);
    case OP_APPEND: return shmc_append(c, k->b, k->n, d->p, (size_t)d->n, d->flags, exptime);
    case OP_PREPEND: return shmc_prepend(c, k->b, k->n, d->p, (size_t)d->n, d->flags, exptime);
    case OP_CAS: return shmc_cas(c, k->b, k->n, d->p, (size_t)d->n, d->flags, exptime, cas);
    }
    return SHMC_INVALID;
}

/* Store one prepared value: the libshmc result, or -1 (as an shmc_rc) with an exception. */
static int store_one(Client *self, store_op op, const key_t_ *k, const data_t *d,
                     int64_t exptime, uint64_t cas)
{
    handle *h = client_handle(self);
    if (!h) return -1;
    shmc_rc rc;
    if (d->n > GIL_RELEASE_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        rc = store_call(h->cache, op, k, d, exptime, cas);
        Py_END_ALLOW_THREADS
    } else {
        rc = store_call(h->cache, op, k, d, exptime, cas);
    }
    handle_leave(h);
    return (int)rc;
}

/* The reply pymemcache returns for a store's result: True, False, None (cas: not found),
 * or NULL with memcached's error raised. */
static PyObject *store_reply(store_op op, int rc)
{
    switch (rc) {
    case SHMC_OK: Py_RETURN_TRUE;
    case SHMC_NOT_STORED:
    case SHMC_EXISTS: Py_RETURN_FALSE;
    case SHMC_NOT_FOUND:
        if (op == OP_CAS) Py_RETURN_NONE;
        Py_RETURN_FALSE;
    case -1: return NULL;
    default: set_rc_error((shmc_rc)rc); return NULL;
    }
}

static const char *const store_names[] = {"key", "value", "expire", "noreply", "flags"};

static PyObject *store(Client *self, store_op op, const char *fname, PyObject *const *args,
                       Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *a[5];
    int64_t expire;
    key_t_ k;
    data_t d;
    if (parse_args(fname, args, nargs, kwnames, store_names, 5, 2, a)) return NULL;
    int noreply = get_noreply(self, a[3], 1, 0);
    if (noreply < 0 || get_expire(a[2], &expire) || make_key(self, a[0], &k) ||
        make_data(self, &k, a[1], a[4], &d))
        return NULL;
    int rc = store_one(self, op, &k, &d, expire, 0);
    Py_DECREF(d.owner);
    if (noreply && rc != -1 && noreply_absorbs(rc)) Py_RETURN_TRUE; /* no reply awaited */
    return store_reply(op, rc);
}

#define STORE_METHOD(name, op)                                                               \
    static PyObject *Client_##name(Client *self, PyObject *const *args, Py_ssize_t nargs,   \
                                   PyObject *kwnames)                                        \
    {                                                                                        \
        return store(self, op, #name, args, nargs, kwnames);                                 \
    }
STORE_METHOD(set, OP_SET)
STORE_METHOD(add, OP_ADD)
STORE_METHOD(replace, OP_REPLACE)
STORE_METHOD(append, OP_APPEND)
STORE_METHOD(prepend, OP_PREPEND)

/* pymemcache's _check_cas: an int or str of digits, or bytes of digits. */
static int get_cas(Client *self, PyObject *v, uint64_t *out)
{
    PyObject *b;
    if (PyLong_Check(v) || PyUnicode_Check(v)) {
        PyObject *s = PyObject_Str(v);
        if (!s) return -1;
        b = PyUnicode_AsEncodedString(s, PyUnicode_AsUTF8(self->encoding), "strict");
        Py_DECREF(s);
        if (!b) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                PyErr_Clear();
                PyErr_Format(exc_illegal, "non-ASCII cas value: %R", v);
            }
            return -1;
        }
    } else if (PyBytes_Check(v)) {
        b = Py_NewRef(v);
    } else {
        PyErr_Format(exc_illegal, "cas must be integer, string, or bytes, got bad value: %R", v);
        return -1;
    }
    const char *p = PyBytes_AS_STRING(b);
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    bool digits = n > 0;
    unsigned long long x = 0;
    bool overflow = false;
    for (Py_ssize_t i = 0; i < n && digits; i++) {
        if (p[i] < '0' || p[i] > '9') digits = false;
        else if (x > (UINT64_MAX - (unsigned)(p[i] - '0')) / 10) overflow = true;
        else x = x * 10 + (unsigned)(p[i] - '0');
    }
    if (!digits) {
        PyErr_Format(exc_illegal, "cas must only contain values in 0-9, got bad value: %R", b);
        Py_DECREF(b);
        return -1;
    }
    Py_DECREF(b);
    if (overflow) {
        set_error_bytes(exc_client, "bad command line format");
        return -1;
    }
    *out = x;
    return 0;
}

static PyObject *Client_cas(Client *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    static const char *const names[] = {"key", "value", "cas", "expire", "noreply", "flags"};
    PyObject *a[6];
    int64_t expire;
    uint64_t cas;
    key_t_ k;
    data_t d;
    if (parse_args("cas", args, nargs, kwnames, names, 6, 3, a)) return NULL;
    int noreply = get_noreply(self, a[4], 0, 0);
    if (noreply < 0 || get_cas(self, a[2], &cas) || get_expire(a[3], &expire) ||
        make_key(self, a[0], &k) || make_data(self, &k, a[1], a[5], &d))
        return NULL;
    int rc = store_one(self, OP_CAS, &k, &d, expire, cas);
    Py_DECREF(d.owner);
    if (noreply && rc != -1 && noreply_absorbs(rc)) Py_RETURN_TRUE;
    return store_reply(OP_CAS, rc);
}

/* set_many: the values are stored in order; the keys refused are returned.  A server error
 * (a value too large) stops there and is raised, as pymemcache raises at the first error
 * reply and drops the connection (memcached may or may not have run the commands queued
 * after it by then; here they are not run). */
static PyObject *Client_set_many(Client *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    static const char *const names[] = {"values", "expire", "noreply", "flags"};
    PyObject *a[4];
    int64_t expire;
    if (parse_args("set_many", args, nargs, kwnames, names, 4, 1, a)) return NULL;
    int noreply = get_noreply(self, a[2], 1, 0);
    if (noreply < 0 || get_expire(a[1], &expire)) return NULL;
    PyObject *items = PyMapping_Items(a[0]);
    if (!items) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(items);
    key_t_ *k = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *k);
    data_t *d = PyMem_Calloc((size_t)(n ? n : 1), sizeof *d);
    PyObject *failed = NULL;
    Py_ssize_t prepared = 0;
    if (!k || !d) {
        PyErr_NoMemory();
        goto out;
    }
    /* pymemcache checks and serializes every pair before it sends anything */
    for (; prepared < n; prepared++) {
        PyObject *kv = PyList_GET_ITEM(items, prepared);
        PyObject *key = PyTuple_GET_ITEM(kv, 0), *value = PyTuple_GET_ITEM(kv, 1);
        if (make_key(self, key, &k[prepared]) ||
            make_data(self, &k[prepared], value, a[3], &d[prepared]))
            goto out;
    }
    failed = PyList_New(0);
    if (!failed) goto out;
    int first_error = SHMC_OK;
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = store_one(self, OP_SET, &k[i], &d[i], expire, 0);
        if (rc == -1) {
            Py_CLEAR(failed);
            goto out;
        }
        if (rc == SHMC_OK) continue;
        if (rc != SHMC_NOT_STORED) {
            first_error = rc;
            break;
        }
        if (
            PyList_Append(failed, PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0))) {
            Py_CLEAR(failed);
            goto out;
        }
    }
    if (noreply && noreply_absorbs(first_error)) {
        Py_SETREF(failed, PyList_New(0));
    } else if (first_error != SHMC_OK) {
        Py_CLEAR(failed);
        set_rc_error((shmc_rc)first_error);
    }
out:
    for (Py_ssize_t i = 0; d && i < prepared; i++) Py_XDECREF(d[i].owner);
    PyMem_Free(k);
    PyMem_Free(d);
    Py_DECREF(items);
    return failed;
}

/* ---- memcached's meta commands: metadata, invalidation, win tokens ---- */

/* An optional expire-like argument: absent or None leaves *has 0. */
static int get_opt_expire(PyObject *v, int64_t *out, bool *has)
{
    *has = v && v != Py_None;
    return *has ? get_expire(v, out) : 0;
}

static PyObject *meta_dict(const shmc_item_meta *m)
{
    static const char *const win[] = {NULL, "won", "taken"};
    PyObject *w = m->win == SHMC_WIN_WON || m->win == SHMC_WIN_TAKEN
                      ? PyUnicode_FromString(win[m->win]) : Py_NewRef(Py_None);
    if (!w) return NULL;
    return Py_BuildValue("{s:K,s:k,s:K,s:L,s:k,s:O,s:O,s:N,s:O}", "cas",
                         (unsigned long long)m->cas, "flags", (unsigned long)m->flags, "size",
                         (unsigned long long)m->nvalue, "ttl", (long long)m->ttl,
                         "last_access", (unsigned long)m->last_access,
                         "fetched", m->fetched ? Py_True : Py_False,
                         "stale", m->stale ? Py_True : Py_False, "win", w,
                         "created", m->created ? Py_True : Py_False);
}

static PyObject *Client_meta_get(Client *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    static const char *const names[] = {"key", "touch", "vivify", "recache", "peek", "default"};
    PyObject *a[6];
    if (parse_args("meta_get", args, nargs, kwnames, names, 6, 1, a)) return NULL;
    key_t_ k;
    shmc_get_opts o = {0};
    bool has;
    int64_t x;
    if (make_key(self, a[0], &k)) return NULL;
    if (get_opt_expire(a[1], &o.exptime, &has)) return NULL;
    if (has) o.what |= SHMC_GET_TOUCH;
    if (get_opt_expire(a[2], &o.vivify_exptime, &has)) return NULL;
    if (has) o.what |= SHMC_GET_VIVIFY;
    if (get_opt_expire(a[3], &x, &has)) return NULL;
    if (has) {
        o.what |= SHMC_GET_RECACHE;
        o.recache = x > 0 ? (uint32_t)x : 0;
    }
    if (a[4]) {
        int peek = PyObject_IsTrue(a[4]);
        if (peek < 0) return NULL;
        if (peek) o.what |= SHMC_GET_NO_BUMP | SHMC_GET_NO_WIN;
    }
    handle *h = client_handle(self);
    if (!h) return NULL;
    shmc_item_meta m;
    char stack[STACK_VALUE];
    size_t n = 0;
    PyObject *value = NULL;
    shmc_rc rc = shmc_get_meta(h->cache, k.b, k.n, &o, stack, sizeof stack, &n, &m);
    if (rc == SHMC_OK) value = PyBytes_FromStringAndSize(stack, (Py_ssize_t)n);
    while (rc == SHMC_BUFFER_TOO_SMALL) { /* nothing changed: ask again with room */
        Py_XDECREF(value);
        size_t cap = n;
        value = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
        if (!value) break;
        rc = shmc_get_meta(h->cache, k.b, k.n, &o, PyBytes_AS_STRING(value), cap, &n, &m);
        if (rc == SHMC_OK && n < cap) _PyBytes_Resize(&value, (Py_ssize_t)n);
    }
    handle_leave(h);
    if (rc == SHMC_NOT_FOUND) {
        Py_XDECREF(value);
        return PyTuple_Pack(2, a[5] ? a[5] : Py_None, Py_None);
    }
    if (rc != SHMC_OK) {
        Py_XDECREF(value);
        if (rc != SHMC_BUFFER_TOO_SMALL) set_rc_error(rc);
        return NULL;
    }
    if (!value) return NULL;
    /* a vivified stub holds no value of the client's yet: hand back its bytes */
    if (!m.created) {
        value = deserialize(self, a[0], value, m.flags);
        if (!value) return NULL;
    }
    PyObject *md = meta_dict(&m);
    if (!md) {
        Py_DECREF(value);
        return NULL;
    }
    PyObject *t = PyTuple_Pack(2, value, md);
    Py_DECREF(value);
    Py_DECREF(md);
    return t;
}

static PyObject *Client_meta_delete(Client *self, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    static const char *const names[] = {"key", "cas", "invalidate", "expire"};
    PyObject *a[4];
    if (parse_args("meta_delete", args, nargs, kwnames, names, 4, 1, a)) return NULL;
    key_t_ k;
    shmc_delete_opts o = {0};
    bool has;
    if (make_key(self, a[0], &k)) return NULL;
    if (a[1] && a[1] != Py_None) {
        if (get_cas(self, a[1], &o.cas)) return NULL;
        o.what |= SHMC_DELETE_CAS;
    }
    if (a[2]) {
        int inv = PyObject_IsTrue(a[2]);
        if (inv < 0) return NULL;
        if (inv) o.what |= SHMC_DELETE_INVALIDATE;
    }
    if (get_opt_expire(a[3], &o.exptime, &has)) return NULL;
    if (has) o.what |= SHMC_DELETE_TOUCH;
    handle *h = client_handle(self);
    if (!h) return NULL;
    shmc_rc rc = shmc_delete_meta(h->cache, k.b, k.n, &o);
    handle_leave(h);
    if (rc == SHMC_OK) Py_RETURN_TRUE;
    if (rc == SHMC_NOT_FOUND) Py_RETURN_FALSE;
    if (rc == SHMC_EXISTS) Py_RETURN_NONE;
    set_rc_error(rc);
    return NULL;
}

static PyObject *Client_delete(Client *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    static const char *const names[] = {"key", "noreply"};
    PyObject *a[2];
    key_t_ k;
    if (parse_args("delete", args, nargs, kwnames, names, 2, 1, a)) return NULL;
    int noreply = get_noreply(self, a[1], 1, 0);
    if (noreply < 0 || make_key(self, a[0], &k)) return NULL;
    handle *h = client_handle(self);
    if (!h) return NULL;
    shmc_rc rc = shmc_delete(h->cache, k.b, k.n);
    handle_leave(h);
    if ((noreply && noreply_absorbs(rc)) || rc == SHMC_OK) Py_RETURN_TRUE;
    if (rc == SHMC_NOT_FOUND) Py_RETURN_FALSE;
    set_rc_error(rc);
    return NULL;
}

static PyObject *Client_delete_many(Client *self, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    static const char *const names[] = {"keys", "noreply"};
    PyObject *a[2];
    if (parse_args("delete_many", args, nargs, kwnames, names, 2, 1, a)) return NULL;
    int truth = PyObject_IsTrue(a[0]);
    if (truth <= 0) return truth < 0 ? NULL : Py_NewRef(Py_True);
    if (get_noreply(self, a[1], 1, 0) < 0) return NULL;
    PyObject *seq = PySequence_Fast(a[0], "keys must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    key_t_ *k = PyMem_Malloc((size_t)n * sizeof *k);
    PyObject *result = NULL;
    if (!k) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (make_key(self, PySequence_Fast_GET_ITEM(seq, i), &k[i])) goto out;
    handle *h = client_handle(self);
    if (!h) goto out;
    shmc_rc rc = SHMC_OK;
    for (Py_ssize_t i = 0; i < n && noreply_absorbs(rc); i++) rc = shmc_delete(h->cache, k[i].b, k[i].n);
    handle_leave(h);
    if (noreply_absorbs(rc))
        result = Py_NewRef(Py_True);
    else
        set_rc_error(rc);
out:
    PyMem_Free(k);
    Py_DECREF(seq);
    return result;
}

static PyObject *arith(Client *self, bool incr, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    static const char *const names[] = {"key", "value", "noreply"};
    PyObject *a[3];
    key_t_ k;
    if (parse_args(incr ? "incr" : "decr", args, nargs, kwnames, names, 3, 2, a)) return NULL;
    int noreply = get_noreply(self, a[2], 0, 0);
    if (noreply < 0 || make_key(self, a[0], &k) || check_integer(a[1], "value")) return NULL;
    int overflow;
    unsigned long long delta = 0;
    long long sign = PyLong_AsLongLongAndOverflow(a[1], &overflow);
    if (sign == -1 && PyErr_Occurred()) return NULL;
    bool bad = overflow < 0 || (!overflow && sign < 0);
    if (!bad) {
        delta = PyLong_AsUnsignedLongLong(a[1]);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            bad = true;
        }
    }
    if (bad) {
        set_error_bytes(exc_client, "invalid numeric delta argument");
        return NULL;
    }
    handle *h = client_handle(self);
    if (!h) return NULL;
    uint64_t result;
    shmc_rc rc = incr ? shmc_incr(h->cache, k.b, k.n, delta, &result)
                      : shmc_decr(h->cache, k.b, k.n, delta, &result);
    handle_leave(h);
    if ((noreply && noreply_absorbs(rc)) || rc == SHMC_NOT_FOUND) Py_RETURN_NONE;
    if (rc == SHMC_OK) return PyLong_FromUnsignedLongLong(result);
    set_rc_error(rc);
    return NULL;
}

static PyObject *Client_incr(Client *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    return arith(self, true, args, nargs, kwnames);
}

static PyObject *Client_decr(Client *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    return arith(self, false, args, nargs, kwnames);
}

static PyObject *Client_touch(Client *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    static const char *const names[] = {"key", "expire", "noreply"};
    PyObject *a[3];
    int64_t expire;
    key_t_ k;
    if (parse_args("touch", args, nargs, kwnames, names, 3, 1, a)) return NULL;
    int noreply = get_noreply(self, a[2], 1, 0);
    if (noreply < 0 || make_key(self, a[0], &k) || get_expire(a[1], &expire)) return NULL;
    handle *h = client_handle(self);
    if (!h) return NULL;
    shmc_rc rc = shmc_touch(h->cache, k.b, k.n, expire);
    handle_leave(h);
    if ((noreply && noreply_absorbs(rc)) || rc == SHMC_OK) Py_RETURN_TRUE;
    if (rc == SHMC_NOT_FOUND) Py_RETURN_FALSE;
    set_rc_error(rc);
    return NULL;
}

static PyObject *Client_flush_all(Client *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"delay", "noreply"};
    PyObject *a[2];
    if (parse_args("flush_all", args, nargs, kwnames, names, 2, 0, a)) return NULL;
    int noreply = get_noreply(self, a[1], 1, 0);
    if (noreply < 0) return NULL;
    long long delay = 0;
    if (a[0]) {
        if (check_integer(a[0], "delay")) return NULL;
        int overflow;
        delay = PyLong_AsLongLongAndOverflow(a[0], &overflow);
        if (delay == -1 && PyErr_Occurred()) return NULL;
        if (overflow || delay < INT32_MIN || delay > INT32_MAX) {
            set_error_bytes(exc_client, "bad command line format");
            return NULL;
        }
    }
    handle *h = client_handle(self);
    if (!h) return NULL;
    shmc_rc rc = shmc_flush_all(h->cache, delay);
    handle_leave(h);
    if (rc == SHMC_OK || (noreply && noreply_absorbs(rc))) Py_RETURN_TRUE;
    set_rc_error(rc);
    return NULL;
}

/* ---- the handle, stats ---- */

static PyObject *Client_close(Client *self, PyObject *unused)
{
    (void)unused;
    client_detach(self);
    Py_RETURN_NONE;
}

static PyObject *Client_open(Client *self, PyObject *unused)
{
    (void)unused;
    handle *h = client_handle(self);
    if (!h) return NULL;
    handle_leave(h);
    Py_RETURN_NONE;
}

static const struct {
    const char *name;
    size_t offset;
} stat_fields[] = {
#define F(kind, x, wire, reset, meaning) {#x, offsetof(shmc_stats_t, x)},
    SHMC_STATS(F)
#undef F
};

static PyObject *Client_raw_stats(Client *self, PyObject *unused)
{
    (void)unused;
    handle *h = client_handle(self);
    if (!h) return NULL;
    shmc_stats_t st;
    shmc_rc rc = shmc_stats(h->cache, &st);
    handle_leave(h);
    if (rc != SHMC_OK) {
        set_shmc_error(rc, "stats");
        return NULL;
    }
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < sizeof stat_fields / sizeof stat_fields[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&st + stat_fields[i].offset, sizeof v);
        PyObject *o = PyLong_FromUnsignedLongLong(v);
        if (!o || PyDict_SetItemString(d, stat_fields[i].name, o)) Py_CLEAR(d);
        Py_XDECREF(o);
    }
    return d;
}

/* ---- construction and attributes ---- */

static int set_serde(Client *self, PyObject *serde)
{
    PyObject *ser = NULL, *de = NULL;
    if (serde && serde != Py_None) {
        ser = PyObject_GetAttrString(serde, "serialize");
        de = ser ? PyObject_GetAttrString(serde, "deserialize") : NULL;
        if (!de) {
            Py_XDECREF(ser);
            return -1;
        }
    }
    Py_XSETREF(self->serde, Py_NewRef(serde ? serde : Py_None));
    Py_XSETREF(self->serialize, ser);
    Py_XSETREF(self->deserialize, de);
    return 0;
}

static int set_key_prefix(Client *self, PyObject *prefix)
{
    if (PyUnicode_Check(prefix)) {
        prefix = PyUnicode_AsASCIIString(prefix);
        if (!prefix) return -1;
    } else if (PyBytes_Check(prefix)) {
        Py_INCREF(prefix);
    } else {
        PyErr_SetString(PyExc_TypeError, "key_prefix should be bytes.");
        return -1;
    }
    Py_XSETREF(self->key_prefix, prefix);
    return 0;
}

static int set_encoding(Client *self, PyObject *enc)
{
    if (!PyUnicode_Check(enc)) {
        PyErr_SetString(PyExc_TypeError, "encoding must be a str");
        return -1;
    }
    const char *e = PyUnicode_AsUTF8(enc);
    if (!e) return -1;
    /* every ASCII-compatible codec encodes ASCII text as itself */
    self->encoding_ascii = !strcmp(e, "ascii") || !strcmp(e, "utf-8") || !strcmp(e, "utf8") ||
                           !strcmp(e, "latin-1") || !strcmp(e, "latin1");
    Py_XSETREF(self->encoding, Py_NewRef(enc));
    return 0;
}

static int protect_from(PyObject *p, int *out)
{
    if (!p || p == Py_None) {
        *out = SHMC_PROTECT_AUTO;
        return 0;
    }
    if (PyUnicode_Check(p)) {
        static const char *const names[] = {"auto", "none", "pku", "sealed"};
        for (int i = 0; i < 4; i++)
            if (!PyUnicode_CompareWithASCIIString(p, names[i])) {
                *out = i;
                return 0;
            }
    } else if (PyLong_Check(p)) {
        long v = PyLong_AsLong(p);
        if (v >= SHMC_PROTECT_AUTO && v <= SHMC_PROTECT_SEALED) {
            *out = (int)v;
            return 0;
        }
        if (PyErr_Occurred()) return -1;
    }
    PyErr_Format(PyExc_ValueError, "protect must be 'auto', 'none', 'pku' or 'sealed', not %R", p);
    return -1;
}

static int size_from(PyObject *v, const char *name, size_t *out)
{
    if (!v || v == Py_None) return 0;
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name, Py_TYPE(v)->tp_name);
        return -1;
    }
    size_t x = PyLong_AsSize_t(v);
    if (x == (size_t)-1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_ValueError, "%s must be between 0 and %zu", name, (size_t)-1);
        return -1;
    }
    *out = x;
    return 0;
}

static int Client_init(Client *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"name", "memory_limit", "item_size_max", "mode", "protect",
                            "hash_power", NULL};
    PyObject *name = NULL, *mem = NULL, *item = NULL, *mode = NULL, *protect = NULL, *hp = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|OOOOO:Client", names, PyUnicode_FSConverter,
                                     &name, &mem, &item, &mode, &protect, &hp))
        return -1;
    shmc_config cfg;
    shmc_config_init(&cfg);
    cfg.memory_limit = 0; /* 0: any existing cache; created with the default */
    cfg.item_size_max = 0;
    size_t m = cfg.mode, h = 0;
    bool want_mem = mem && mem != Py_None, want_item = item && item != Py_None;
    if (size_from(mem, "memory_limit", &cfg.memory_limit) ||
        size_from(item, "item_size_max", &cfg.item_size_max) || size_from(mode, "mode", &m) ||
        protect_from(protect, &cfg.protect) || size_from(hp, "hash_power", &h)) {
        Py_DECREF(name);
        return -1;
    }
    if ((want_mem && !cfg.memory_limit) || (want_item && !cfg.item_size_max)) {
        Py_DECREF(name);
        PyErr_SetString(PyExc_ValueError, "memory_limit and item_size_max must be positive");
        return -1;
    }
    if (m > 07777 || h > 64) {
        Py_DECREF(name);
        PyErr_SetString(PyExc_ValueError, m > 07777 ? "mode must be a file mode (0..0o7777)"
                                                    : "hash_power must be at most 64");
        return -1;
    }
    cfg.mode = (unsigned)m;
    cfg.hash_power = (unsigned)h;
    client_detach(self);
    Py_XSETREF(self->name, name);
    self->cfg = cfg;
    handle *hd = client_handle(self);
    if (!hd) return -1;
    handle_leave(hd);
    return 0;
}

/* Every field a method reads is valid from here on, so a Client whose __init__ failed or
 * never ran raises instead of crashing. */
static PyObject *Client_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    Client *self = (Client *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->key_prefix = PyBytes_FromStringAndSize("", 0);
    self->encoding = PyUnicode_FromString("ascii");
    self->encoding_ascii = true;
    self->serde = Py_NewRef(Py_None);
    self->default_noreply = 1;
    if (!self->key_prefix || !self->encoding) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int Client_traverse(Client *self, visitproc visit, void *arg)
{
    Py_VISIT(self->serde);
    Py_VISIT(self->serialize);
    Py_VISIT(self->deserialize);
    return 0;
}

static int Client_clear(Client *self)
{
    Py_CLEAR(self->serde);
    Py_CLEAR(self->serialize);
    Py_CLEAR(self->deserialize);
    return 0;
}

static void Client_dealloc(Client *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakrefs) PyObject_ClearWeakRefs((PyObject *)self);
    client_detach(self);
    Client_clear(self);
    Py_CLEAR(self->name);
    Py_CLEAR(self->key_prefix);
    Py_CLEAR(self->encoding);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *get_serde(Client *self, void *c)
{
    (void)c;
    return Py_NewRef(self->serde ? self->serde : Py_None);
}
static int put_serde(Client *self, PyObject *v, void *c)
{
    (void)c;
    return set_serde(self, v);
}
static PyObject *get_key_prefix(Client *self, void *c)
{
    (void)c;
    return Py_NewRef(self->key_prefix);
}
static int put_key_prefix(Client *self, PyObject *v, void *c)
{
    (void)c;
    if (!v) {
        PyErr_SetString(PyExc_AttributeError, "key_prefix cannot be deleted");
        return -1;
    }
    return set_key_prefix(self, v);
}
static PyObject *get_encoding(Client *self, void *c)
{
    (void)c;
    return Py_NewRef(self->encoding);
}
static int put_encoding(Client *self, PyObject *v, void *c)
{
    (void)c;
    if (!v) {
        PyErr_SetString(PyExc_AttributeError, "encoding cannot be deleted");
        return -1;
    }
    return set_encoding(self, v);
}
static PyObject *get_name(Client *self, void *c)
{
    (void)c;
    if (!self->name) Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(self->name),
                                            PyBytes_GET_SIZE(self->name));
}
static PyObject *get_closed(Client *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->h == NULL);
}

static PyGetSetDef Client_getset[] = {
    {"serde", (getter)get_serde, (setter)put_serde,
     "The serializer: an object with serialize(key, value) -> (bytes, flags) and\n"
     "deserialize(key, value, flags) -> object, or None for pymemcache's default (bytes are\n"
     "stored as they are, any other value as str(value) in `encoding`; reads return bytes).",
     NULL},
    {"key_prefix", (getter)get_key_prefix, (setter)put_key_prefix,
     "bytes put in front of every key (a namespace); counts toward the 250-byte limit.", NULL},
    {"encoding", (getter)get_encoding, (setter)put_encoding,
     "The codec for values that are not bytes and for cas strings (default 'ascii').", NULL},
    {"name", (getter)get_name, NULL, "The cache's name or path, as given to the constructor.",
     NULL},
    {"closed", (getter)get_closed, NULL,
     "True after close() until the next command reopens the cache.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef Client_members[] = {
    {"allow_unicode_keys", T_BOOL, offsetof(Client, allow_unicode_keys), 0,
     "True: str keys are encoded as UTF-8; False (default): str keys must be ASCII."},
    {"default_noreply", T_BOOL, offsetof(Client, default_noreply), 0,
     "The noreply used when a store, delete, touch or flush_all passes None (default True)."},
    {"ignore_exc", T_BOOL, offsetof(Client, ignore_exc), 0,
     "True: errors while reading (a failing deserialize) count as misses."},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(Client, weakrefs), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

#define FAST (METH_FASTCALL | METH_KEYWORDS)
static PyMethodDef Client_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Client_get, FAST,
     "get(key, default=None)\n--\n\n"
     "The value of key, or default when the cache does not hold it.\n\n"
     "key: str (ASCII, or UTF-8 with allow_unicode_keys) or bytes; key_prefix is put in\n"
     "front.  Returns serde.deserialize(key, value, flags), or the stored bytes without a\n"
     "serde.  Raises MemcacheIllegalInputError for a key pymemcache refuses (too long,\n"
     "whitespace, NUL, non-ASCII str) or an empty one, TypeError for a key of another type."},
    {"gets", (PyCFunction)(void (*)(void))Client_gets, FAST,
     "gets(key, default=None, cas_default=None)\n--\n\n"
     "(value, cas) of key, or (default, cas_default) when it is missing.  cas is bytes of\n"
     "decimal digits, as pymemcache returns it; pass it to cas().  Raises as get()."},
    {"gat", (PyCFunction)(void (*)(void))Client_gat, FAST,
     "gat(key, expire=0, default=None)\n--\n\n"
     "memcached's get-and-touch: the value of key (or default), and set its expiry to\n"
     "expire seconds from now (0: never; over 30 days: an absolute Unix time).  Raises as\n"
     "get()."},
    {"gats", (PyCFunction)(void (*)(void))Client_gats, FAST,
     "gats(key, expire=0, default=None, cas_default=None)\n--\n\n"
     "As gat(), returning (value, cas) or (default, cas_default)."},
    {"get_many", (PyCFunction)Client_get_many, METH_O,
     "get_many(keys)\n--\n\n"
     "A dict of the keys found among keys (a list or tuple), mapped to their values; missing\n"
     "keys are left out.  The dict's keys are the objects passed in.  Every key is checked\n"
     "before any is read: one illegal key raises MemcacheIllegalInputError.  The copies run\n"
     "with the GIL held."},
    {"get_multi", (PyCFunction)Client_get_many, METH_O,
     "get_multi(keys)\n--\n\nAn alias of get_many(), as in pymemcache."},
    {"gets_many", (PyCFunction)Client_gets_many, METH_O,
     "gets_many(keys)\n--\n\n"
     "As get_many(), with (value, cas) tuples as the dict's values."},
    {"set", (PyCFunction)(void (*)(void))Client_set, FAST,
     "set(key, value, expire=0, noreply=None, flags=None)\n--\n\n"
     "Store value under key.  expire: seconds (0 never expires; over 30 days is an absolute\n"
     "Unix time; negative: expired at once).  flags: int (32 bits), overriding the serde's.\n"
     "noreply: None means default_noreply.  There is no network here, so the command is\n"
     "always carried out before the call returns; noreply only keeps pymemcache's return\n"
     "value (True whatever a server would have answered).  A failure of the cache itself\n"
     "(removed, damaged) raises ShmcError, noreply or not.  Returns True.\n"
     "Raises MemcacheServerError(b'object too large for cache') for a value over the\n"
     "cache's item_size_max (the old value is removed, as memcached does),\n"
     "MemcacheServerError(b'out of memory storing object') when nothing can be evicted,\n"
     "MemcacheIllegalInputError for an illegal key or a str value the encoding cannot hold,\n"
     "MemcacheClientError for flags or expire memcached cannot parse.  Values over 64 KiB are\n"
     "copied without the GIL."},
    {"set_many", (PyCFunction)(void (*)(void))Client_set_many, FAST,
     "set_many(values, expire=0, noreply=None, flags=None)\n--\n\n"
     "Store every (key, value) of the dict values, in order.  Returns the list of keys that\n"
     "were not stored ([] with noreply).  Every key and value is checked first (an illegal\n"
     "one raises before anything is stored).  A value over the size limit raises\n"
     "MemcacheServerError there: the values before it are stored, those after it are not."},
    {"set_multi", (PyCFunction)(void (*)(void))Client_set_many, FAST,
     "set_multi(values, expire=0, noreply=None, flags=None)\n--\n\n"
     "An alias of set_many(), as in pymemcache."},
    {"add", (PyCFunction)(void (*)(void))Client_add, FAST,
     "add(key, value, expire=0, noreply=None, flags=None)\n--\n\n"
     "Store value only if key is absent.  Returns True when stored, False when the key was\n"
     "present (always True with noreply).  Arguments and exceptions as set()."},
    {"replace", (PyCFunction)(void (*)(void))Client_replace, FAST,
     "replace(key, value, expire=0, noreply=None, flags=None)\n--\n\n"
     "Store value only if key is present.  Returns True when stored, else False (always True\n"
     "with noreply).  Arguments and exceptions as set()."},
    {"append", (PyCFunction)(void (*)(void))Client_append, FAST,
     "append(key, value, expire=0, noreply=None, flags=None)\n--\n\n"
     "Append value's bytes to a present value; its flags and expiry stay (expire and flags\n"
     "are ignored, as in memcached).  Returns True when stored, else False (always True with\n"
     "noreply)."},
    {"prepend", (PyCFunction)(void (*)(void))Client_prepend, FAST,
     "prepend(key, value, expire=0, noreply=None, flags=None)\n--\n\n"
     "As append(), in front of the present value."},
    {"cas", (PyCFunction)(void (*)(void))Client_cas, FAST,
     "cas(key, value, cas, expire=0, noreply=False, flags=None)\n--\n\n"
     "Store value only if the item still has the cas value read by gets() (int, str or bytes\n"
     "of digits).  Returns True when stored, False when the item changed since, None when\n"
     "the key is missing (True with noreply).  Raises MemcacheIllegalInputError for a cas\n"
     "that is not digits, else as set()."},
    {"meta_get", (PyCFunction)(void (*)(void))Client_meta_get, FAST,
     "meta_get(key, touch=None, vivify=None, recache=None, peek=False, default=None)\n--\n\n"
     "memcached's mg: (value, meta) of key, or (default, None) when it is missing.  meta is a\n"
     "dict: cas, flags, size, ttl (seconds left; -1 never), last_access (seconds), fetched\n"
     "(read before this call), stale (invalidated), win ('won': this caller must store a\n"
     "fresh value; 'taken': another caller is doing so; None), created.  touch: a new\n"
     "expire.  vivify: on a miss create an empty item with this expire and win it (its value\n"
     "is b''; created is True).  recache: win when the item expires within this many\n"
     "seconds.  A stale item's first fetcher wins.  peek: change nothing (not fetched, no\n"
     "win).  Exactly one caller, in any process, wins an item until a store replaces it or\n"
     "30 s pass (a winner that died)."},
    {"meta_delete", (PyCFunction)(void (*)(void))Client_meta_delete, FAST,
     "meta_delete(key, cas=None, invalidate=False, expire=None)\n--\n\n"
     "memcached's md: delete key, only if its cas is cas when given; with invalidate, mark\n"
     "it stale instead (it is still served, flagged, and its next fetcher wins; expire sets\n"
     "its expiry too).  Returns True, False when key is missing, None when cas differs."},
    {"delete", (PyCFunction)(void (*)(void))Client_delete, FAST,
     "delete(key, noreply=None)\n--\n\n"
     "Remove key.  Returns True when it was deleted, False when it was missing (always True\n"
     "with noreply)."},
    {"delete_many", (PyCFunction)(void (*)(void))Client_delete_many, FAST,
     "delete_many(keys, noreply=None)\n--\n\n"
     "Remove every key in keys (all are checked first).  Returns True."},
    {"delete_multi", (PyCFunction)(void (*)(void))Client_delete_many, FAST,
     "delete_multi(keys, noreply=None)\n--\n\nAn alias of delete_many(), as in pymemcache."},
    {"incr", (PyCFunction)(void (*)(void))Client_incr, FAST,
     "incr(key, value, noreply=False)\n--\n\n"
     "Add value (an int, 0..2**64-1) to a decimal number stored under key, wrapping at 2**64.\n"
     "Returns the new value, None when key is missing (None with noreply).  Raises\n"
     "MemcacheClientError(b'cannot increment or decrement non-numeric value') when the value\n"
     "is not a number, MemcacheClientError(b'invalid numeric delta argument') for a\n"
     "negative or too large value, MemcacheIllegalInputError when value is not an int."},
    {"decr", (PyCFunction)(void (*)(void))Client_decr, FAST,
     "decr(key, value, noreply=False)\n--\n\n"
     "As incr(), subtracting; the result stops at 0."},
    {"touch", (PyCFunction)(void (*)(void))Client_touch, FAST,
     "touch(key, expire=0, noreply=None)\n--\n\n"
     "Set key's expiry to expire seconds (as set()).  Returns True when key exists, else\n"
     "False (always True with noreply)."},
    {"flush_all", (PyCFunction)(void (*)(void))Client_flush_all, FAST,
     "flush_all(delay=0, noreply=None)\n--\n\n"
     "Invalidate every item, now or delay seconds from now (a later flush_all replaces a\n"
     "pending one).  This empties the cache for every process that shares it.  Returns True."},
    {"close", (PyCFunction)Client_close, METH_NOARGS,
     "close()\n--\n\n"
     "Detach from the cache (its items stay in the file).  As pymemcache's close(), the next\n"
     "command opens the cache again."},
    {"_open", (PyCFunction)Client_open, METH_NOARGS, "Attach now if closed (internal)."},
    {"_raw_stats", (PyCFunction)Client_raw_stats, METH_NOARGS,
     "libshmc's counters as a dict of str to int (internal; see stats())."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ClientType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "shmc._shmc.Client",
    .tp_basicsize = sizeof(Client),
    .tp_dealloc = (destructor)Client_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The native memcached client over a shmc cache file (see shmc.Client).",
    .tp_traverse = (traverseproc)Client_traverse,
    .tp_clear = (inquiry)Client_clear,
    .tp_weaklistoffset = offsetof(Client, weakrefs),
    .tp_methods = Client_methods,
    .tp_members = Client_members,
    .tp_getset = Client_getset,
    .tp_init = (initproc)Client_init,
    .tp_new = Client_new,
};

/* ---- module functions ---- */

static PyObject *mod_check(PyObject *mod, PyObject *arg)
{
    (void)mod;
    PyObject *name;
    if (!PyUnicode_FSConverter(arg, &name)) return NULL;
    char *text = NULL;
    size_t ntext = 0, violations = 0;
    FILE *f = open_memstream(&text, &ntext);
    if (!f) {
        Py_DECREF(name);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    shmc_rc rc;
    const char *path = PyBytes_AS_STRING(name);
    Py_BEGIN_ALLOW_THREADS
    rc = shmc_check(path, f, &violations);
    fclose(f);
    Py_END_ALLOW_THREADS
    Py_DECREF(name);
    if (rc != SHMC_OK) {
        free(text);
        set_shmc_error(rc, "check");
        return NULL;
    }
    PyObject *r = Py_BuildValue("(ns#)", (Py_ssize_t)violations, text ? text : "",
                                (Py_ssize_t)ntext);
    free(text);
    return r;
}

static PyMethodDef module_methods[] = {
    {"check", mod_check, METH_O,
     "check(name) -> (violations, report)\n--\n\n"
     "Walk the cache file and verify every invariant (as `shmc check`): the number of\n"
     "violations and the checker's report.  Raises ShmcError for a file that is not a cache."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "shmc._shmc",
    "The native core of shmc: libshmc's memcached commands as a CPython type.", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__shmc(void)
{
    PyObject *exc = PyImport_ImportModule("shmc.exceptions");
    if (!exc) return NULL;
    exc_client = PyObject_GetAttrString(exc, "MemcacheClientError");
    exc_illegal = PyObject_GetAttrString(exc, "MemcacheIllegalInputError");
    exc_server = PyObject_GetAttrString(exc, "MemcacheServerError");
    exc_shmc = PyObject_GetAttrString(exc, "ShmcError");
    Py_DECREF(exc);
    if (!exc_client || !exc_illegal || !exc_server || !exc_shmc) return NULL;
    if (PyType_Ready(&ClientType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ClientType);
    if (PyModule_AddObject(m, "Client", (PyObject *)&ClientType) < 0 ||
        PyModule_AddStringConstant(m, "SHMC_VERSION", SHMC_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "KEY_MAX", SHMC_KEY_MAX) < 0 ||
        PyModule_AddIntConstant(m, "GIL_RELEASE_BYTES", GIL_RELEASE_BYTES) < 0 ||
        PyModule_AddIntConstant(m, "PROTECT_AUTO", SHMC_PROTECT_AUTO) < 0 ||
        PyModule_AddIntConstant(m, "PROTECT_NONE", SHMC_PROTECT_NONE) < 0 ||
        PyModule_AddIntConstant(m, "PROTECT_PKU", SHMC_PROTECT_PKU) < 0 ||
        PyModule_AddIntConstant(m, "PROTECT_SEALED", SHMC_PROTECT_SEALED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
