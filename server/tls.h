/* tls.h — TLS on shmcd's TCP connections (-Z), with OpenSSL: one server context built from
 * the -o ssl_* settings, and per connection a session whose reads and writes stand in for
 * read(2) and send(2).  Non-blocking throughout: a handshake that stops half-way only waits
 * for its socket like any idle connection, so the worker keeps serving the others. */
#ifndef SHMCD_TLS_H
#define SHMCD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "security_options.h"

typedef struct tls_server tls_server; /* the shared context (thread-safe) */
typedef struct tls_conn tls_conn;     /* one connection's session (its worker's alone) */

/* Load certificates and settings; NULL after printing why. */
tls_server *tls_server_new(const shmcd_security_options *o);
void tls_server_free(tls_server *t);
/* Load the certificate, key and CA files again (SIGHUP: renewed certificates, as memcached's
 * refresh_certs): sessions started after it use them, running ones keep theirs.  false after
 * printing why; the old context then stays in use.  o must outlive t. */
bool tls_server_reload(tls_server *t);

/* Whether fd is a TCP socket (TLS applies to TCP listeners, not to the UNIX socket). */
bool tls_wanted(int fd);
tls_conn *tls_conn_new(tls_server *t, int fd);
void tls_conn_free(tls_conn *c); /* a best-effort close_notify, then free */

/* As read(2) / send(2) on the socket: bytes moved, 0 at the peer's end of stream, or -1 with
 * errno EAGAIN (wait for the socket: see tls_extra_events) or another error (the handshake
 * failed, a bad record, the peer reset: close the connection). */
ssize_t tls_read(tls_conn *c, void *buf, size_t len);
ssize_t tls_write(tls_conn *c, const void *buf, size_t len);

/* Decrypted input held inside the session (the socket may have nothing more to say). */
bool tls_pending(const tls_conn *c);
/* epoll events the session waits for beyond the connection's own: EPOLLOUT when a read
 * stopped on a write (a handshake message), EPOLLIN when a write stopped on a read. */
uint32_t tls_extra_events(const tls_conn *c);
/* Why the last call failed, for the log. */
const char *tls_error(const tls_conn *c);

#endif
