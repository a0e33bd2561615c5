/* security_options.h — shmcd's network-security flags, as memcached spells them: -Z (TLS),
 * -o ssl_* (its settings) and -Y FILE (ASCII authentication).  Parsed here, apart from the
 * other flags, so options.c calls one function for all of them. */
#ifndef SHMCD_SECURITY_OPTIONS_H
#define SHMCD_SECURITY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#define SHMCD_MAX_EXTENDED 16 /* -o given at most this many times */

typedef struct shmcd_security_options {
    bool tls;                   /* -Z */
    const char *ssl_chain_cert; /* certificate chain, PEM */
    const char *ssl_key;        /* private key, if not in the chain file */
    const char *ssl_ca_cert;    /* CAs whose client certificates are accepted, PEM */
    const char *ssl_ciphers;    /* OpenSSL cipher list (TLS 1.2 and below), or NULL */
    unsigned ssl_verify_mode;   /* 0 none, 1 request, 2 require, 3 once (memcached's) */
    unsigned ssl_keyformat;     /* 1 PEM, 2 DER (OpenSSL's SSL_FILETYPE_*) */
    unsigned ssl_min_version;   /* 0 TLS 1.0, 1 TLS 1.1, 2 TLS 1.2 (default), 3 TLS 1.3 */
    unsigned ssl_wbuf_size;     /* kilobytes; reported, as memcached does */
    bool ssl_session_cache;     /* server-side session cache (resumption) */
    bool ssl_kernel_tls;        /* ask OpenSSL for kernel TLS offload */
    const char *auth_file;      /* -Y: user:password lines, or NULL */
    char *extended[SHMCD_MAX_EXTENDED]; /* copies of the -o arguments the values point into */
    size_t nextended;
} shmcd_security_options;

/* Defaults (memcached's). */
void shmcd_security_init(shmcd_security_options *o);
/* One of -Z, -Y FILE or -o LIST; false after printing why it is refused.  In -o, keys other
 * than ssl_* are accepted and ignored, as shmcd always did. */
bool shmcd_security_option(shmcd_security_options *o, int flag, const char *arg);
/* After every flag is read: the combination makes sense (e.g. -Z needs ssl_chain_cert). */
bool shmcd_security_check(const shmcd_security_options *o);
void shmcd_security_free(shmcd_security_options *o);

#endif
