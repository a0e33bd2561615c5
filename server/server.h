/* server.h — the state one shmcd process shares between its threads: options, the
 * protocol environment (cache handle), the workers, and connection counters. */
#ifndef SHMCD_SERVER_H
#define SHMCD_SERVER_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "options.h"
#include "sasl.h"
#include "protocol/env.h"

struct worker;
struct tls_server;
struct auth_table;

typedef struct server {
    shmcd_options opt;
    proto_env env;
    struct worker *workers;
    unsigned nworkers;
    time_t started;
    _Atomic uint64_t curr_conns, total_conns, rejected_conns;
    _Atomic uint64_t malloc_fails; /* allocations that failed (stats malloc_fails) */
    _Atomic unsigned verbosity;
    /* connections' read buffers: bytes and buffers held (-o read_buf_mem_limit caps the
     * bytes), and connections closed for want of one (read_buf_oom) */
    _Atomic uint64_t rbuf_bytes, rbuf_count, read_buf_oom;
    struct tls_server *tls;  /* -Z: TLS on TCP connections, or NULL */
    struct auth_table *auth; /* -Y: connections must authenticate, or NULL */
    shmcd_sasl_counters sasl; /* -S: SASL exchanges (auth_cmds, auth_errors) */
} server_t;

/* Messages on stderr at or above a verbosity level (-v = 1). */
void server_log(server_t *srv, unsigned level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
