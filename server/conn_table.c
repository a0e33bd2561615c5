/* conn_table.c — the server's table of sockets for "stats conns" (conn_table.h). */
#include "conn_table.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static conn_entry *table;

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec;
}

void conn_table_join(conn_entry *e, int fd, bool listening)
{
    e->fd = fd;
    e->listening = listening;
    atomic_init(&e->last_cmd, now_s());
    atomic_init(&e->busy, false);
    pthread_mutex_lock(&table_lock);
    e->prev = NULL;
    e->next = table;
    if (table) table->prev = e;
    table = e;
    pthread_mutex_unlock(&table_lock);
}

void conn_table_leave(conn_entry *e)
{
    pthread_mutex_lock(&table_lock);
    if (e->prev) e->prev->next = e->next;
    else if (table == e) table = e->next;
    if (e->next) e->next->prev = e->prev;
    e->prev = e->next = NULL;
    pthread_mutex_unlock(&table_lock);
}

void conn_table_add_listener(int fd)
{
    conn_entry *e = calloc(1, sizeof *e);
    if (e) conn_table_join(e, fd, true); /* kept until the process exits */
}

void conn_table_touch(conn_entry *e)
{
    atomic_store_explicit(&e->last_cmd, now_s(), memory_order_relaxed);
}

/* memcached's address text: tcp:1.2.3.4:port, tcp6:[::1]:port, unix:path */
static void addr_text(const struct sockaddr_storage *sa, socklen_t len, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "";
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(buf, n, "tcp:%s:%u", host, ntohs(in->sin_port));
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(buf, n, "tcp6:[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (sa->ss_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path)) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        snprintf(buf, n, "unix:%.*s", (int)(len - offsetof(struct sockaddr_un, sun_path)),
                 un->sun_path);
    } else {
        snprintf(buf, n, "unknown");
    }
}

static void emit_line(proto_setting_fn emit, void *ctx, int fd, const char *what,
                      const char *value)
{
    char name[48];
    snprintf(name, sizeof name, "%d:%s", fd, what);
    emit(ctx, name, value);
}

static int by_fd(const void *a, const void *b)
{
    int x = (*(conn_entry *const *)a)->fd, y = (*(conn_entry *const *)b)->fd;
    return (x > y) - (x < y);
}

void conn_table_list(void *arg, proto_setting_fn emit, void *ctx)
{
    (void)arg;
    int64_t now = now_s();
    pthread_mutex_lock(&table_lock);
    /* by descriptor, as memcached lists them */
    size_t n = 0;
    for (conn_entry *e = table; e; e = e->next) n++;
    conn_entry **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) {
        pthread_mutex_unlock(&table_lock);
        return;
    }
    n = 0;
    for (conn_entry *e = table; e; e = e->next) sorted[n++] = e;
    qsort(sorted, n, sizeof *sorted, by_fd);
    for (size_t i = 0; i < n; i++) {
        conn_entry *e = sorted[i];
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        char text[160], local[160] = "";
        if (e->listening || getpeername(e->fd, (struct sockaddr *)&sa, &len) != 0) {
            len = sizeof sa;
            if (getsockname(e->fd, (struct sockaddr *)&sa, &len) != 0) continue;
        }
        addr_text(&sa, len, text, sizeof text);
        emit_line(emit, ctx, e->fd, "addr", text);
        if (!e->listening) {
            len = sizeof sa;
            if (getsockname(e->fd, (struct sockaddr *)&sa, &len) == 0)
                addr_text(&sa, len, local, sizeof local);
            emit_line(emit, ctx, e->fd, "listen_addr", local);
        }
        const char *state = e->listening ? "conn_listening"
                            : atomic_load_explicit(&e->busy, memory_order_relaxed)
                                ? "conn_parse_cmd" : "conn_new_cmd";
        emit_line(emit, ctx, e->fd, "state", state);
        int64_t since = now - atomic_load_explicit(&e->last_cmd, memory_order_relaxed);
        snprintf(text, sizeof text, "%lld", (long long)(since > 0 ? since : 0));
        emit_line(emit, ctx, e->fd, "secs_since_last_cmd", text);
    }
    pthread_mutex_unlock(&table_lock);
    free(sorted);
}
