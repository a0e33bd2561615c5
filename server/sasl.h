/* sasl.h — memcached's SASL authentication for the binary protocol (-S), over Cyrus SASL
 * (Debian's libsasl2), set up as memcached 1.6 sets it up: the application name
 * "memcached", so its configuration is memcached.conf in $SASL_CONF_PATH (else in /etc/sasl
 * or /etc/sasl2), and, when $MEMCACHED_SASL_PWDB names a file of "user:password" lines,
 * passwords checked against that file instead of the SASL databases. */
#ifndef SHMCD_SASL_H
#define SHMCD_SASL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/binary.h"

/* Counted by every connection's exchanges: memcached's auth_cmds, auth_errors. */
typedef struct shmcd_sasl_counters {
    _Atomic uint64_t cmds, errors;
} shmcd_sasl_counters;

/* Start the SASL library once; false after saying why. */
bool shmcd_sasl_init(unsigned verbosity);
void shmcd_sasl_done(void);

/* The protocol's view of SASL (protocol/binary.h); each connection's context comes from
 * shmcd_sasl_conn_new and goes to shmcd_sasl_conn_free. */
extern const proto_sasl_ops shmcd_sasl_ops;
void *shmcd_sasl_conn_new(shmcd_sasl_counters *counters);
void shmcd_sasl_conn_free(void *conn);

#endif
