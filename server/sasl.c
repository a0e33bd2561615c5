/* sasl.c — SASL for the binary protocol over Cyrus SASL (sasl.h).  Each connection gets its
 * server context on its first SASL request, as memcached's init_sasl_conn does. */
#include "sasl.h"

#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PWDB_LINE_MAX 256 /* as memcached's MAX_ENTRY_LEN */

static const char *pwdb;
static unsigned log_level;

typedef struct sasl_session {
    sasl_conn_t *conn;
    shmcd_sasl_counters *counters;
} sasl_session;

/* MEMCACHED_SASL_PWDB: "user:password" lines (a ':' may end the password, as memcached's). */
static int pwdb_checkpass(sasl_conn_t *conn, void *context, const char *user, const char *pass,
                          unsigned passlen, struct propctx *propctx)
{
    (void)conn, (void)context, (void)propctx;
    size_t ulen = strlen(user);
    if (ulen + passlen > PWDB_LINE_MAX - 4) return SASL_NOAUTHZ;
    FILE *f = fopen(pwdb, "r");
    if (!f) {
        if (log_level) fprintf(stderr, "shmcd: cannot open the SASL password file %s\n", pwdb);
        return SASL_NOAUTHZ;
    }
    char line[PWDB_LINE_MAX];
    bool ok = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, user, ulen) != 0 || line[ulen] != ':') continue;
        const char *p = line + ulen + 1;
        char end = strlen(p) >= passlen ? p[passlen] : 1;
        ok = memcmp(p, pass, passlen) == 0 &&
             (end == ':' || end == '\n' || end == '\r' || end == '\0');
        break;
    }
    fclose(f);
    return ok ? SASL_OK : SASL_NOAUTHZ;
}

/* Where memcached.conf is: $SASL_CONF_PATH, else memcached's two places. */
static int conf_path(void *context, const char **path)
{
    (void)context;
    *path = getenv("SASL_CONF_PATH");
    if (*path) return SASL_OK;
    if (access("/etc/sasl/memcached.conf", F_OK) == 0) *path = "/etc/sasl";
    else *path = "/etc/sasl2";
    return SASL_OK;
}

static int sasl_log(void *context, int level, const char *message)
{
    (void)context;
    bool show = level <= SASL_LOG_ERR || (level <= SASL_LOG_WARN && log_level >= 1) ||
                log_level >= 2;
    if (level != SASL_LOG_NONE && show) fprintf(stderr, "SASL (severity %d): %s\n", level, message);
    return SASL_OK;
}

static sasl_callback_t callbacks[] = {
    {SASL_CB_SERVER_USERDB_CHECKPASS, (int (*)(void))(void (*)(void))pwdb_checkpass, NULL},
    {SASL_CB_LOG, (int (*)(void))(void (*)(void))sasl_log, NULL},
    {SASL_CB_GETCONFPATH, (int (*)(void))(void (*)(void))conf_path, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

bool shmcd_sasl_init(unsigned verbosity)
{
    log_level = verbosity;
    pwdb = getenv("MEMCACHED_SASL_PWDB");
    sasl_callback_t *cb = callbacks;
    if (!pwdb) cb++; /* no password file: the SASL databases alone */
    int rc = sasl_server_init(cb, "memcached");
    if (rc != SASL_OK) {
        fprintf(stderr, "shmcd: cannot initialise SASL: %s\n", sasl_errstring(rc, NULL, NULL));
        return false;
    }
    return true;
}

void shmcd_sasl_done(void)
{
    sasl_server_done();
}

void *shmcd_sasl_conn_new(shmcd_sasl_counters *counters)
{
    sasl_session *s = calloc(1, sizeof *s);
    if (s) s->counters = counters;
    return s;
}

void shmcd_sasl_conn_free(void *conn)
{
    sasl_session *s = conn;
    if (!s) return;
    if (s->conn) sasl_dispose(&s->conn);
    free(s);
}

static bool ready(sasl_session *s)
{
    if (!s) return false;
    if (!s->conn && sasl_server_new("memcached", NULL, NULL, NULL, NULL, NULL, 0, &s->conn) != SASL_OK) {
        s->conn = NULL;
        return false;
    }
    return true;
}

static proto_sasl_rc result(int rc)
{
    return rc == SASL_OK ? PROTO_SASL_OK : rc == SASL_CONTINUE ? PROTO_SASL_CONTINUE : PROTO_SASL_FAIL;
}

static proto_sasl_rc list_mechs(void *conn, const char **out, unsigned *nout)
{
    sasl_session *s = conn;
    if (!ready(s)) return PROTO_SASL_FAIL;
    return sasl_listmech(s->conn, NULL, "", " ", "", out, nout, NULL) == SASL_OK ? PROTO_SASL_OK
                                                                              : PROTO_SASL_FAIL;
}

static proto_sasl_rc start(void *conn, const char *mech, const char *data, unsigned n,
                           const char **out, unsigned *nout)
{
    sasl_session *s = conn;
    if (!ready(s)) return PROTO_SASL_FAIL;
    return result(sasl_server_start(s->conn, mech, data, n, out, nout));
}

static proto_sasl_rc step(void *conn, const char *data, unsigned n, const char **out,
                          unsigned *nout)
{
    sasl_session *s = conn;
    if (!ready(s)) return PROTO_SASL_FAIL;
    return result(sasl_server_step(s->conn, data, n, out, nout));
}

static void counted(void *conn, bool failed)
{
    sasl_session *s = conn;
    atomic_fetch_add(&s->counters->cmds, 1);
    if (failed) atomic_fetch_add(&s->counters->errors, 1);
}

const proto_sasl_ops shmcd_sasl_ops = {
    .list_mechs = list_mechs, .start = start, .step = step, .counted = counted,
};
