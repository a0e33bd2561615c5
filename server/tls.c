/* tls.c — OpenSSL behind shmcd's connections (tls.h).  The settings follow memcached's -Z
 * (its tls.c): ssl_verify_mode 0..3 map to OpenSSL's verify flags the same way, the CA file
 * both verifies client certificates and names the acceptable CAs to the client, and
 * ssl_min_version defaults to TLS 1.2. */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

struct tls_server {
    pthread_mutex_t lock; /* guards ctx: workers start sessions while SIGHUP swaps it */
    SSL_CTX *ctx;
    const shmcd_security_options *o;
};

struct tls_conn {
    SSL *ssl;
    bool read_wants_write, write_wants_read;
    char error[160];
};

static void print_ssl_errors(const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    fprintf(stderr, "shmcd: TLS: %s%s%s: %s\n", what, file ? " " : "", file ? file : "",
            e ? buf : "unknown error");
    ERR_clear_error();
}

static const int min_versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
static const char *const min_version_names[] = {"tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"};

/* memcached's ssl_verify_mode 0..3 as OpenSSL's flags */
static int verify_flags(unsigned mode)
{
    switch (mode) {
    case 1: return SSL_VERIFY_PEER;
    case 2: return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    case 3: return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE;
    default: return SSL_VERIFY_NONE;
    }
}

/* A context from the settings' files as they are now; NULL after printing why. */
static SSL_CTX *ctx_new(const shmcd_security_options *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        print_ssl_errors("cannot create a context", NULL);
        return NULL;
    }
    int filetype = o->ssl_keyformat == 2 ? SSL_FILETYPE_ASN1 : SSL_FILETYPE_PEM;
    const char *key = o->ssl_key ? o->ssl_key : o->ssl_chain_cert;
    if (!SSL_CTX_set_min_proto_version(ctx, min_versions[o->ssl_min_version])) {
        print_ssl_errors("cannot set the minimum version", min_version_names[o->ssl_min_version]);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, o->ssl_chain_cert) != 1) {
        print_ssl_errors("cannot load the certificate chain", o->ssl_chain_cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, filetype) != 1) {
        print_ssl_errors("cannot load the private key", key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        print_ssl_errors("the private key does not match the certificate", key);
        goto fail;
    }
    if (o->ssl_ciphers && SSL_CTX_set_cipher_list(ctx, o->ssl_ciphers) != 1) {
        print_ssl_errors("no usable cipher in", o->ssl_ciphers);
        goto fail;
    }
    if (o->ssl_ca_cert) {
        if (SSL_CTX_load_verify_locations(ctx, o->ssl_ca_cert, NULL) != 1) {
            print_ssl_errors("cannot load the CA certificates", o->ssl_ca_cert);
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ssl_ca_cert);
        if (!names) {
            print_ssl_errors("no CA names in", o->ssl_ca_cert);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, verify_flags(o->ssl_verify_mode), NULL);
    SSL_CTX_set_session_cache_mode(ctx, o->ssl_session_cache ? SSL_SESS_CACHE_SERVER
                                                             : SSL_SESS_CACHE_OFF);
    if (o->ssl_session_cache) {
        static const unsigned char sid_ctx[] = "shmcd";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    } else {
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_ENABLE_KTLS
    if (o->ssl_kernel_tls) SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
#endif
    /* a partial write may continue from a moved buffer (the reply buffer can grow) */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_RELEASE_BUFFERS);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

tls_server *tls_server_new(const shmcd_security_options *o)
{
    tls_server *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (!(t->ctx = ctx_new(o))) {
        free(t);
        return NULL;
    }
    t->o = o;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

bool tls_server_reload(tls_server *t)
{
    SSL_CTX *fresh = ctx_new(t->o);
    if (!fresh) return false;
    pthread_mutex_lock(&t->lock);
    SSL_CTX *old = t->ctx;
    t->ctx = fresh;
    pthread_mutex_unlock(&t->lock);
    SSL_CTX_free(old); /* sessions started from it hold their own reference */
    return true;
}

void tls_server_free(tls_server *t)
{
    if (!t) return;
    SSL_CTX_free(t->ctx);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

bool tls_wanted(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return false;
    return sa.ss_family == AF_INET || sa.ss_family == AF_INET6;
}

tls_conn *tls_conn_new(tls_server *t, int fd)
{
    tls_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_lock(&t->lock);
    c->ssl = SSL_new(t->ctx);
    pthread_mutex_unlock(&t->lock);
    if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
        SSL_free(c->ssl);
        free(c);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(c->ssl);
    return c;
}

void tls_conn_free(tls_conn *c)
{
    if (!c) return;
    if (SSL_is_init_finished(c->ssl)) SSL_shutdown(c->ssl); /* non-blocking: one attempt */
    SSL_free(c->ssl);
    ERR_clear_error();
    free(c);
}

/* Map a failed SSL_read/SSL_write to the read(2) conventions. */
static ssize_t failed(tls_conn *c, int ret, bool reading)
{
    int err = SSL_get_error(c->ssl, ret);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        if (!reading) c->write_wants_read = true;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        if (reading) c->read_wants_write = true;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify */
        return 0;
    case SSL_ERROR_SYSCALL:
        snprintf(c->error, sizeof c->error, "%s", errno ? strerror(errno) : "end of stream");
        ERR_clear_error();
        if (errno == 0) return reading ? 0 : (errno = EPIPE, -1);
        errno = errno == EAGAIN ? ECONNRESET : errno;
        return -1;
    default: {
        unsigned long e = ERR_get_error();
        ERR_error_string_n(e, c->error, sizeof c->error);
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
    }
}

ssize_t tls_read(tls_conn *c, void *buf, size_t len)
{
    c->read_wants_write = false;
    if (len > INT32_MAX) len = INT32_MAX;
    errno = 0;
    int n = SSL_read(c->ssl, buf, (int)len);
    return n > 0 ? n : failed(c, n, true);
}

ssize_t tls_write(tls_conn *c, const void *buf, size_t len)
{
    c->write_wants_read = false;
    if (len > INT32_MAX) len = INT32_MAX;
    errno = 0;
    int n = SSL_write(c->ssl, buf, (int)len);
    return n > 0 ? n : failed(c, n, false);
}

bool tls_pending(const tls_conn *c)
{
    return SSL_pending(c->ssl) > 0;
}

uint32_t tls_extra_events(const tls_conn *c)
{
    return (c->read_wants_write ? EPOLLOUT : 0) | (c->write_wants_read ? EPOLLIN : 0);
}

const char *tls_error(const tls_conn *c)
{
    return c->error[0] ? c->error : "closed";
}
